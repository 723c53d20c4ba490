#!/bin/sh
# The facts about etcd 3.4's JSON gateway that cluster mode rests on
# (docs/design.md, "Facts about etcd that cluster mode rests on"), checked against a real
# 3-member cluster on loopback (deploy/etcd-cluster.sh): a create-if-absent
# transaction succeeds once; the second answers HTTP 200 with no
# "succeeded" field; a key put under a lease goes with the lease; a put
# without a lease detaches the key from it. Fails, never skips, when etcd
# or curl is missing.
set -eu
repo=$1
for tool in etcd etcdctl curl base64; do
	command -v "$tool" >/dev/null || {
		echo "etcd gateway: $tool is missing; run deploy/install-deps.sh"
		exit 1
	}
done
dir=/dev/shm/chunkd-etcd-gw-$$
base=$((24000 + ($$ % 400) * 6))
endpoints=$("$repo/deploy/etcd-cluster.sh" start "$dir" "$base")
trap '"$repo/deploy/etcd-cluster.sh" stop "$dir"' EXIT
ep=${endpoints%%,*}

b64() { printf '%s' "$1" | base64 -w0; }
post() { curl -sS --max-time 5 -w '\n%{http_code}' -X POST "$ep$1" -d "$2"; }
fail() {
	echo "etcd gateway: $*"
	exit 1
}

key=$(b64 /chunkd-test/chunks/1)
txn='{"compare":[{"target":"CREATE","result":"EQUAL","key":"'$key'","create_revision":"0"}],
 "success":[{"request_put":{"key":"'$key'","value":"'$(b64 open)'"}}],
 "failure":[{"request_range":{"key":"'$key'"}}]}'
first=$(post /v3/kv/txn "$txn")
echo "$first" | tail -1 | grep -qx 200 || fail "first txn: $first"
echo "$first" | grep -q '"succeeded":true' || fail "first txn did not succeed: $first"
second=$(post /v3/kv/txn "$txn")
echo "$second" | tail -1 | grep -qx 200 || fail "second txn: HTTP $second"
if echo "$second" | grep -q '"succeeded"'; then
	fail "a failed txn carried \"succeeded\": $second"
fi

lease=$(post /v3/lease/grant '{"TTL":"30"}' | head -1 |
	sed -n 's/.*"ID":"\([0-9]*\)".*/\1/p')
[ -n "$lease" ] || fail "no lease granted"
leased=$(b64 /chunkd-test/leased)
post /v3/kv/put '{"key":"'$leased'","value":"'$(b64 x)'","lease":"'$lease'"}' >/dev/null
kept=$(b64 /chunkd-test/kept)
post /v3/kv/put '{"key":"'$kept'","value":"'$(b64 x)'","lease":"'$lease'"}' >/dev/null
post /v3/kv/put '{"key":"'$kept'","value":"'$(b64 sealed)'"}' >/dev/null
post /v3/lease/revoke '{"ID":"'$lease'"}' | tail -1 | grep -qx 200 ||
	fail "revoking the lease"
post /v3/kv/range '{"key":"'$leased'"}' | head -1 | grep -q '"kvs"' &&
	fail "a key put under a revoked lease is still there"
post /v3/kv/range '{"key":"'$kept'"}' | head -1 | grep -q '"kvs"' ||
	fail "a key put again without a lease went with the lease"
echo "etcd gateway: create-if-absent once, a failed txn has no \"succeeded\", leases take their keys, a put without a lease detaches"
