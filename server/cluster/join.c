#include "join.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "etcd/etcd_json.h"

#define CLAIM_ATTEMPTS 64

/* Reads one key; 0 with *kv filled, -ENOENT, or another error. */
static int read_key(struct etcd *e, const char *key, struct etcd_kv *kv,
		    char *err, size_t err_len)
{
	json_t *body = NULL;
	json_t *kvs;
	int rc = etcd_call_wait(e, "/v3/kv/range", etcd_json_range_key(key),
				&body, NULL, NULL, err, err_len);

	if (rc)
		return rc;
	kvs = etcd_json_kvs(body);
	if (!kvs || json_array_size(kvs) == 0)
		rc = -ENOENT;
	else if (etcd_json_kv(json_array_get(kvs, 0), kv))
		rc = -EPROTO;
	json_decref(body);
	return rc;
}

static int node_of(const struct etcd_kv *kv, uint32_t *node)
{
	json_t *o = json_loads(kv->value, 0, NULL);
	json_int_t n = json_integer_value(json_object_get(o, "node"));

	json_decref(o);
	if (n <= 0 || n > CLUSTER_MAX_NODE)
		return -EPROTO;
	*node = (uint32_t)n;
	return 0;
}

/* The highest node number taken so far (0: none). */
static int highest_node(struct etcd *e, const char *prefix, uint32_t *high,
			char *err, size_t err_len)
{
	char key[CLUSTER_KEY_MAX];
	json_t *body = NULL, *req, *item;
	size_t i;
	struct etcd_kv kv;
	int rc;

	snprintf(key, sizeof(key), "%snodes/", prefix);
	req = etcd_json_range_prefix(key);
	if (req)
		json_object_set_new(req, "keys_only", json_true());
	rc = etcd_call_wait(e, "/v3/kv/range", req, &body, NULL, NULL, err,
			    err_len);
	if (rc)
		return rc;
	*high = 0;
	json_array_foreach(etcd_json_kvs(body), i, item)
	{
		unsigned long n;

		if (etcd_json_kv(item, &kv) == 0 &&
		    sscanf(kv.key + strlen(key), "%lx", &n) == 1 && n > *high)
			*high = (uint32_t)n;
	}
	json_decref(body);
	return 0;
}

/* One try at claiming candidate for the pool. */
static int try_claim(struct etcd *e, const char *prefix, const char *pool_hex,
		     const char *name, uint32_t candidate, bool *won, char *err,
		     size_t err_len)
{
	char pool_key[CLUSTER_KEY_MAX], node_key[CLUSTER_KEY_MAX];
	char pool_val[256], node_val[128];
	json_t *txn;

	cluster_key_pool(pool_key, sizeof(pool_key), prefix, pool_hex);
	cluster_key_node(node_key, sizeof(node_key), prefix, candidate);
	snprintf(pool_val, sizeof(pool_val), "{\"node\":%u,\"name\":\"%s\"}",
		 candidate, name);
	snprintf(node_val, sizeof(node_val), "{\"pool\":\"%s\"}", pool_hex);
	txn = etcd_json_txn(
		etcd_json_list(etcd_json_cmp_absent(pool_key),
			       etcd_json_cmp_absent(node_key), NULL),
		etcd_json_list(etcd_json_put(pool_key, pool_val, 0),
			       etcd_json_put(node_key, node_val, 0), NULL),
		NULL);
	return etcd_call_wait(e, "/v3/kv/txn", txn, NULL, NULL, won, err,
			      err_len);
}

int join_read_node(struct etcd *e, const char *prefix, const char *pool_hex,
		   uint32_t *node, char *err, size_t err_len)
{
	char pool_key[CLUSTER_KEY_MAX];
	struct etcd_kv kv;
	int rc;

	cluster_key_pool(pool_key, sizeof(pool_key), prefix, pool_hex);
	rc = read_key(e, pool_key, &kv, err, err_len);
	if (rc == 0 && node_of(&kv, node)) {
		snprintf(err, err_len, "etcd's %s is not a node record",
			 pool_key);
		rc = -EPROTO;
	}
	return rc;
}

int join_claim_node(struct etcd *e, const char *prefix, const char *pool_hex,
		    const char *name, uint32_t *node, char *err, size_t err_len)
{
	uint32_t candidate;
	bool won = false;
	int rc;

	for (int i = 0; i < CLAIM_ATTEMPTS; i++) {
		rc = join_read_node(e, prefix, pool_hex, node, err, err_len);
		if (rc != -ENOENT)
			return rc;
		rc = highest_node(e, prefix, &candidate, err, err_len);
		if (rc)
			return rc;
		if (++candidate > CLUSTER_MAX_NODE) {
			snprintf(err, err_len,
				 "the cluster has no node "
				 "number left for a new pool");
			return -ENOSPC;
		}
		rc = try_claim(e, prefix, pool_hex, name, candidate, &won, err,
			       err_len);
		if (rc)
			return rc;
		if (won) {
			*node = candidate;
			return 0;
		}
	}
	snprintf(err, err_len, "could not claim a node number in %d tries",
		 CLAIM_ATTEMPTS);
	return -EAGAIN;
}

/* Clears the way for self's registration: refuses a live other chunkd of
 * the name, revokes an earlier run's lease. */
static int clear_name(struct etcd *e, const char *key,
		      const struct member *self, char *err, size_t err_len)
{
	struct etcd_kv kv;
	struct member old;
	int rc = read_key(e, key, &kv, err, err_len);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (member_decode(kv.value, &old) == 0 &&
	    strcmp(old.pool, self->pool) != 0) {
		snprintf(err, err_len,
			 "the name %s is taken by the live chunkd at %s port "
			 "%u (pool %s); give this one another [cluster] name",
			 self->name, old.address, old.port, old.pool);
		return -EEXIST;
	}
	log_info("cluster: revoking the lease of this pool's previous run");
	rc = etcd_call_wait(
		e, "/v3/lease/revoke",
		json_pack("{s:o}", "ID", etcd_json_int_string(kv.lease)), NULL,
		NULL, NULL, err, err_len);
	return rc == -ENOENT ? 0 : rc;
}

int join_register(struct etcd *e, const char *prefix, struct member *self,
		  unsigned ttl_s, char *err, size_t err_len)
{
	char key[CLUSTER_KEY_MAX], *value;
	json_t *body = NULL;
	bool won = false;
	int rc;

	cluster_key_member(key, sizeof(key), prefix, self->name);
	rc = clear_name(e, key, self, err, err_len);
	if (rc)
		return rc;
	rc = etcd_call_wait(
		e, "/v3/lease/grant",
		json_pack("{s:o}", "TTL", etcd_json_int_string(ttl_s)), &body,
		NULL, NULL, err, err_len);
	if (rc)
		return rc;
	self->lease = etcd_json_int(json_object_get(body, "ID"));
	json_decref(body);
	value = member_encode(self);
	rc = etcd_call_wait(
		e, "/v3/kv/txn",
		etcd_json_txn(
			etcd_json_list(etcd_json_cmp_absent(key), NULL),
			etcd_json_list(etcd_json_put(key, value ? value : "",
						     self->lease),
				       NULL),
			NULL),
		NULL, NULL, &won, err, err_len);
	free(value);
	if (rc == 0 && !won) {
		snprintf(err, err_len,
			 "another chunkd registered as %s meanwhile",
			 self->name);
		rc = -EEXIST;
	}
	return rc;
}

void join_leave(struct etcd *e, const struct member *self)
{
	char err[512];
	int rc = etcd_call_wait(
		e, "/v3/lease/revoke",
		json_pack("{s:o}", "ID", etcd_json_int_string(self->lease)),
		NULL, NULL, NULL, err, sizeof(err));

	if (rc && rc != -ENOENT)
		log_warn("cluster: leaving: %s; the registration goes when its "
			 "lease expires",
			 err);
}
