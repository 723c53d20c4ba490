#include "placed_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_record.h"
#include "cluster_keys.h"
#include "etcd/etcd_json.h"
#include "membership.h"

struct scan {
	const struct membership *members;
	size_t prefix_len; /* of PREFIX/placed/ */
	placed_scan_fn *done;
	void *arg;
};

bool placed_under_replicated(const struct placed_chunk *p)
{
	for (unsigned i = 0; i < p->count; i++)
		if (!p->running[i])
			return true;
	return false;
}

/* One placed key and its value; false if either is not ours. */
static bool decode(const struct scan *s, const struct etcd_kv *kv,
		   struct placed_chunk *p)
{
	unsigned node;
	unsigned long long local;
	struct member m;

	if (strlen(kv->key) <= s->prefix_len ||
	    sscanf(kv->key + s->prefix_len, "%6x/%10llx", &node, &local) != 2 ||
	    chunk_placed_decode(kv->value, p->copies, &p->count))
		return false;
	p->chunk = cluster_chunk_id(node, local);
	for (unsigned i = 0; i < p->count; i++)
		p->running[i] = membership_find_node(
					s->members,
					cluster_id_node(p->copies[i]), &m) == 0;
	return true;
}

static void answered(void *arg, const struct etcd_result *r)
{
	struct scan *s = arg;
	json_t *kvs = r->status ? NULL : etcd_json_kvs(r->body), *item;
	struct placed_chunk *list = NULL;
	size_t i, n = 0;
	struct etcd_kv kv;

	if (!r->status && json_array_size(kvs)) {
		list = calloc(json_array_size(kvs), sizeof(*list));
		if (!list) {
			s->done(s->arg, -ENOMEM, NULL, 0);
			free(s);
			return;
		}
	}
	json_array_foreach(kvs, i, item)
	{
		if (etcd_json_kv(item, &kv) == 0 && decode(s, &kv, &list[n]))
			n++;
	}
	s->done(s->arg, r->status ? -EHOSTUNREACH : 0, list, n);
	free(list);
	free(s);
}

int placed_scan(struct etcd *e, const struct membership *m, const char *prefix,
		placed_scan_fn *done, void *arg)
{
	struct scan *s = calloc(1, sizeof(*s));
	char key[CLUSTER_KEY_MAX];

	if (!s)
		return -ENOMEM;
	cluster_key_all_placed(key, sizeof(key), prefix);
	s->members = m;
	s->prefix_len = strlen(key);
	s->done = done;
	s->arg = arg;
	if (etcd_call(e, "/v3/kv/range", etcd_json_range_prefix(key), answered,
		      s)) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}
