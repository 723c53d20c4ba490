/*
 * Cluster mode with real chunkd servers over RDMA and a real 3-member etcd
 * (deploy/etcd-cluster.sh, run inside the guest like everything here):
 * two chunkd servers share one table. Killing one with SIGKILL takes its
 * registration and its OPEN chunks' records out of etcd within the lease's
 * TTL and leaves its SEALED records; a chunkd killed during a stream of
 * allocs and seals restarts, reconciles, and agrees with etcd. etcd is
 * read with etcdctl, as an operator would. The cases share the etcd ctest
 * starts for them, each under keys of its own, but for the one that kills
 * etcd's members: it starts its own.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/etcd_proc.h"
#include "../common/ctl_json.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"

#define PORT_A	  7530
#define PORT_B	  7531
#define TTL_S	  5
#define ETCD_PORT 28790

static struct chunkd_proc a, b;
static char pool_a[64], pool_b[64], etcd_dir[96], prefix[64];
static char endpoints[256];
static struct cmd_result res;

static void start_member(struct chunkd_proc *p, const char *pool,
			 const char *name, uint16_t port)
{
	const char *extra[] = {"--etcd-endpoints",
			       endpoints,
			       "--cluster-name",
			       name,
			       "--cluster-prefix",
			       prefix,
			       NULL};

	chunkd_start(p, CHUNKD_BINARY, pool, "32M", port, extra);
}

static void start_members(void)
{
	snprintf(prefix, sizeof(prefix), "/rdma-%d/", (int)getpid());
	chunkd_fresh_pool("cluster-a", pool_a, sizeof(pool_a));
	chunkd_fresh_pool("cluster-b", pool_b, sizeof(pool_b));
	start_member(&a, pool_a, "a", PORT_A);
	start_member(&b, pool_b, "b", PORT_B);
}

/* On the etcd ctest keeps for every case (its keys under prefix). */
static void setup(void)
{
	etcd_proc_shared(endpoints, sizeof(endpoints));
	start_members();
}

/* On an etcd of the case's own, for a case that kills its members. */
static void setup_own_etcd(void)
{
	etcd_proc_start(CHUNKD_SOURCE_DIR "/deploy/etcd-cluster.sh", "rdma",
			ETCD_PORT, etcd_dir, sizeof(etcd_dir), endpoints,
			sizeof(endpoints));
	start_members();
}

static void teardown(void)
{
	chunkd_finish(&a, pool_a);
	chunkd_finish(&b, pool_b);
	if (etcd_dir[0])
		etcd_proc_stop(CHUNKD_SOURCE_DIR "/deploy/etcd-cluster.sh",
			       etcd_dir);
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 300);
TestSuite(cluster_etcd_faults, .init = setup_own_etcd, .fini = teardown,
	  .timeout = 300);

/* The value etcd holds at PREFIX + rest ("" if none), with etcdctl. */
static const char *etcd_get(const char *rest)
{
	char key[256];
	char *argv[] = {
		"/usr/bin/etcdctl",   "--endpoints", endpoints, "get", key,
		"--print-value-only", NULL};

	snprintf(key, sizeof(key), "%s%s", prefix, rest);
	cr_assert_eq(run_cmd(argv, &res), 0);
	cr_assert_eq(res.status, 0, "etcdctl: %s", res.err);
	return res.out;
}

static const char *chunk_record(unsigned long long id)
{
	char rest[64];

	snprintf(rest, sizeof(rest), "chunks/%06llx/%010llx", id >> 40,
		 id & ((1ull << 40) - 1));
	return etcd_get(rest);
}

/* Members chunkctl cluster on p lists. */
static int members_seen(const struct chunkd_proc *p, const char *name)
{
	json_t *r = ctl_json_ok(CHUNKCTL_BINARY, p, "cluster", NULL, NULL);
	json_t *m;
	size_t i;
	int found = 0;

	json_array_foreach(json_object_get(r, "members"), i, m) found |=
		!strcmp(json_string_value(json_object_get(m, "name")), name);
	json_decref(r);
	return found;
}

static bool wait_until(bool (*cond)(void *), void *arg, unsigned seconds)
{
	for (unsigned i = 0; i < seconds * 10; i++) {
		if (cond(arg))
			return true;
		usleep(100000);
	}
	return cond(arg);
}

static bool sees_a(void *arg)
{
	(void)arg;
	return members_seen(&b, "a");
}

static bool a_gone(void *arg)
{
	(void)arg;
	return !members_seen(&b, "a") && !*etcd_get("members/a");
}

static bool record_gone(void *arg)
{
	return !*chunk_record(*(unsigned long long *)arg);
}

static unsigned long long write_sealed(struct chunk_client *c, const char *text)
{
	unsigned long long id;
	size_t len = strlen(text);

	cr_assert_eq(chunk_alloc(c, 4096, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, text, len), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, len, chunk_crc32c(0, text, len)),
		     CHUNK_OK);
	return id;
}

Test(cluster, a_killed_member_takes_its_open_records_and_keeps_the_sealed)
{
	struct chunk_client *c = NULL;
	unsigned long long open_id, sealed_id;
	char back[32] = "";

	cr_assert(wait_until(sees_a, NULL, 5), "b never saw a join");
	cr_assert_eq(chunk_client_connect(a.addr, PORT_A, NULL, &c), CHUNK_OK);
	cr_assert_eq(chunk_alloc(c, 4096, &open_id), CHUNK_OK);
	sealed_id = write_sealed(c, "kept by etcd");
	cr_assert(strstr(chunk_record(open_id), "\"open\""), "%s", res.out);
	cr_assert(strstr(chunk_record(sealed_id), "\"sealed\""), "%s", res.out);
	chunkd_kill(&a);
	cr_assert(wait_until(a_gone, NULL, TTL_S + 3),
		  "a's registration outlived its lease");
	cr_assert(wait_until(record_gone, &open_id, 2),
		  "the OPEN record outlived a's lease");
	cr_assert(strstr(chunk_record(sealed_id), "\"sealed\""),
		  "the SEALED record went with a: %s", res.out);
	chunk_client_disconnect(&c);

	start_member(&a, pool_a, "a", PORT_A);
	cr_assert(wait_until(sees_a, NULL, 5), "b never saw a come back");
	cr_assert_eq(chunk_client_connect(a.addr, PORT_A, NULL, &c), CHUNK_OK);
	cr_assert_eq(chunk_read(c, sealed_id, 0, back, 12), CHUNK_OK);
	cr_assert_str_eq(back, "kept by etcd");
	cr_assert_eq(chunk_open(c, open_id, NULL), CHUNK_E_NOENT);
	chunk_client_disconnect(&c);
}

/* A client that allocs, writes and seals until its server dies, and says
 * which seals were acknowledged, one id per line. */
static void stream(const char *acked_path)
{
	struct chunk_client *c = NULL;
	FILE *f = fopen(acked_path, "w");

	if (!f || chunk_client_connect(a.addr, PORT_A, NULL, &c) != CHUNK_OK)
		_exit(2);
	for (int i = 0; i < 100000; i++) {
		unsigned long long id;
		char text[32];
		int len = snprintf(text, sizeof(text), "chunk %d", i);

		if (chunk_alloc(c, 4096, &id) ||
		    chunk_write_persist(c, id, 0, text, (size_t)len) ||
		    chunk_seal(c, id, (unsigned long long)len,
			       chunk_crc32c(0, text, (size_t)len)))
			break;
		fprintf(f, "%llu\n", id);
		fflush(f);
	}
	fclose(f);
	_exit(0);
}

static int count_lines_of(const char *path)
{
	char buf[1 << 16];

	return count_lines((slurp(path, buf, sizeof(buf)), buf));
}

/* p's node number, from its own view of the cluster. */
static unsigned long long node_of(const struct chunkd_proc *p)
{
	json_t *r = ctl_json_ok(CHUNKCTL_BINARY, p, "cluster", NULL, NULL);
	const char *self = json_string_value(json_object_get(r, "self"));
	unsigned long long node = 0;
	json_t *m;
	size_t i;

	json_array_foreach(
		json_object_get(r, "members"), i,
		m) if (!strcmp(json_string_value(json_object_get(m, "name")),
			       self)) node =
		(unsigned long long)json_num(m, "node");
	json_decref(r);
	cr_assert_gt(node, 0, "p does not list itself");
	return node;
}

/* chunkctl chunks on p and etcd's records of p's pool are the same
 * chunks, all SEALED; returns how many. */
static size_t agrees_with_etcd(const struct chunkd_proc *p)
{
	json_t *chunks = ctl_json_ok(CHUNKCTL_BINARY, p, "chunks", NULL, NULL);
	json_t *list = json_object_get(chunks, "chunks"), *ch;
	char key[128];
	char *argv[] = {
		"/usr/bin/etcdctl", "--endpoints", endpoints, "get", key,
		"--prefix",	    "--keys-only", NULL};
	size_t i, n = json_array_size(list);

	json_array_foreach(list, i, ch)
	{
		unsigned long long id = (unsigned long long)json_num(ch, "id");

		cr_assert_str_eq(
			json_string_value(json_object_get(ch, "state")),
			"sealed", "chunk %llu", id);
		cr_assert(strstr(chunk_record(id), "\"sealed\""),
			  "chunk %llu is sealed in the pool only", id);
	}
	json_decref(chunks);
	snprintf(key, sizeof(key), "%schunks/%06llx/", prefix, node_of(p));
	cr_assert_eq(run_cmd(argv, &res), 0);
	/* --keys-only prints each key and an empty line. */
	cr_assert_eq((size_t)(count_lines(res.out) / 2), n,
		     "etcd holds records of %s the pool lacks: %s", p->pool,
		     res.out);
	return n;
}

Test(cluster, a_member_killed_mid_stream_restarts_and_agrees_with_etcd)
{
	char acked[96];
	struct chunk_client *cb = NULL;
	pid_t child;
	FILE *f;
	unsigned long long id;

	snprintf(acked, sizeof(acked), "/dev/shm/chunkd-cluster-acked-%d",
		 (int)getpid());
	child = fork();
	cr_assert_neq(child, -1);
	if (child == 0)
		stream(acked);
	for (int tries = 0; tries < 300 && count_lines_of(acked) < 20; tries++)
		usleep(50000);
	cr_assert_geq(count_lines_of(acked), 20, "the stream did not run");
	chunkd_kill(&a);
	cr_assert_eq(wait_cmd(child), 0, "the client failed to run");
	start_member(&a, pool_a, "a", PORT_A);
	/* b holds a chunk too (made after the fork: a child of a process that
	 * has used verbs cannot use them). */
	cr_assert_eq(chunk_client_connect(b.addr, PORT_B, NULL, &cb), CHUNK_OK);
	write_sealed(cb, "on b");
	chunk_client_disconnect(&cb);

	/* Every acknowledged seal is in etcd; every server agrees with it. */
	f = fopen(acked, "r");
	cr_assert(f);
	while (fscanf(f, "%llu", &id) == 1)
		cr_assert(strstr(chunk_record(id), "\"sealed\""),
			  "acknowledged seal of %llu lost in etcd", id);
	fclose(f);
	cr_assert_geq(agrees_with_etcd(&a), (size_t)count_lines_of(acked));
	cr_assert_eq(agrees_with_etcd(&b), 1, "b's one chunk");
	unlink(acked);
}

/* A client of b reaches a chunk a holds: b answers where it lives, and the
 * library connects to a on its own. */
Test(cluster, a_client_of_one_member_reads_a_chunk_another_holds)
{
	struct chunk_client *ca = NULL, *cb = NULL;
	struct chunk_info info;
	unsigned long long id;
	char back[32] = "";

	cr_assert(wait_until(sees_a, NULL, 5), "b never saw a join");
	cr_assert_eq(chunk_client_connect(a.addr, PORT_A, NULL, &ca), CHUNK_OK);
	id = write_sealed(ca, "held by a");
	cr_assert_eq(chunk_client_connect(b.addr, PORT_B, NULL, &cb), CHUNK_OK);
	cr_assert_eq(chunk_open(cb, id, &info), CHUNK_OK);
	cr_assert_eq(info.length, 9);
	cr_assert_eq(info.crc32c, chunk_crc32c(0, "held by a", 9));
	cr_assert_eq(chunk_read(cb, id, 0, back, 9), CHUNK_OK);
	cr_assert_str_eq(back, "held by a");
	cr_assert_eq(chunk_open(cb, id + 1, NULL), CHUNK_E_NOENT,
		     "a's answer for a chunk it does not hold");
	cr_assert_eq(chunk_free(cb, id), CHUNK_OK, "freed through a");
	cr_assert(!*chunk_record(id), "the record outlived the free");
	chunk_client_disconnect(&cb);
	chunk_client_disconnect(&ca);
}

/* How many times chunkd p's log says what. */
static int log_count(const struct chunkd_proc *p, const char *what)
{
	static char log[1 << 20];
	const char *at = log;
	int n = 0;

	slurp(p->log_path, log, sizeof(log));
	while ((at = strstr(at, what))) {
		n++;
		at += strlen(what);
	}
	return n;
}

static void etcd_member(const char *verb, const char *name)
{
	char *argv[] = {CHUNKD_SOURCE_DIR "/deploy/etcd-cluster.sh",
			(char *)verb, etcd_dir, (char *)name, NULL};

	cr_assert_eq(run_cmd(argv, &res), 0);
	cr_assert_eq(res.status, 0, "etcd-cluster.sh %s %s: %s", verb, name,
		     res.err);
}

/* etcd gone altogether: sealed chunks stay readable, an alloc is refused
 * with CHUNK_E_UNAVAILABLE (not a hang: CHUNK_E_TIMEOUT would say so), and
 * once etcd is back chunkd serves allocs again by itself. */
Test(cluster_etcd_faults,
     without_etcd_reads_go_on_and_allocs_wait_for_its_return)
{
	static const char *const members[] = {"m1", "m2", "m3"};
	struct chunk_client *c = NULL;
	unsigned long long id, fresh;
	char back[32] = "";
	int st = CHUNK_E_UNAVAILABLE, losses, returns;

	cr_assert_eq(chunk_client_connect(a.addr, PORT_A, NULL, &c), CHUNK_OK);
	id = write_sealed(c, "no etcd needed");
	for (int i = 0; i < 3; i++)
		etcd_member("kill", members[i]);
	cr_assert_eq(chunk_read(c, id, 0, back, 14), CHUNK_OK);
	cr_assert_str_eq(back, "no etcd needed");
	cr_assert_eq(chunk_alloc(c, 4096, &fresh), CHUNK_E_UNAVAILABLE);
	for (int i = 0; i < 3; i++)
		etcd_member("revive", members[i]);
	for (int tries = 0; tries < 40 && st == CHUNK_E_UNAVAILABLE; tries++) {
		st = chunk_alloc(c, 4096, &fresh);
		if (st == CHUNK_E_UNAVAILABLE)
			usleep(500000);
	}
	cr_assert_eq(st, CHUNK_OK, "allocs still fail once etcd is back: %s",
		     chunk_strerror(st));
	chunk_client_disconnect(&c);
	/* Logged when reachability changes, not per failed call: while
	 * etcd's members come back one by one an election may make it
	 * unreachable again (the loss was logged twice once, in a guest
	 * under load); a flood would be a line per call. */
	losses = log_count(&a, "cannot change until etcd answers");
	returns = log_count(&a, "etcd answers again");
	cr_assert(losses >= 1 && losses <= 3,
		  "the loss of etcd is logged %d times (and its return %d)",
		  losses, returns);
	cr_assert_geq(returns, 1);
}
