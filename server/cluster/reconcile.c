#include "reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_record.h"
#include "common/log.h"
#include "etcd/etcd_json.h"
#include "table/record_list.h"
#include "table/table_pmem.h"

/* One record etcd holds, by the pool's id. */
struct held {
	uint64_t local;
	struct chunk_record cr;
	int64_t revision;
	bool matched; /* the pool has a live chunk of this id */
};

struct reconcile {
	struct held *held; /* sorted by local */
	size_t count;
	uint32_t node;
};

static int by_local(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	return x->local < y->local ? -1 : x->local > y->local;
}

static struct held *find(struct reconcile *r, uint64_t local)
{
	struct held key = {.local = local};

	return bsearch(&key, r->held, r->count, sizeof(key), by_local);
}

static int take_records(struct reconcile *r, json_t *kvs)
{
	size_t i;
	json_t *item;
	struct etcd_kv kv;

	r->held = calloc(json_array_size(kvs) + 1, sizeof(*r->held));
	if (!r->held)
		return -ENOMEM;
	json_array_foreach(kvs, i, item)
	{
		struct held *h = &r->held[r->count];

		if (etcd_json_kv(item, &kv) ||
		    chunk_record_decode(kv.value, &h->cr)) {
			log_warn("cluster: etcd holds an unreadable record "
				 "for this pool; leaving it alone");
			continue;
		}
		h->local = cluster_id_local(h->cr.rec.id);
		h->revision = kv.mod_revision;
		r->count++;
	}
	qsort(r->held, r->count, sizeof(*r->held), by_local);
	return 0;
}

int reconcile_read(struct etcd *e, const char *prefix, uint32_t node,
		   struct reconcile **out, char *err, size_t err_len)
{
	char key[CLUSTER_KEY_MAX];
	struct reconcile *r = calloc(1, sizeof(*r));
	json_t *body = NULL;
	int rc;

	if (!r) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	r->node = node;
	cluster_key_node_chunks(key, sizeof(key), prefix, node);
	rc = etcd_call_wait(e, "/v3/kv/range", etcd_json_range_prefix(key),
			    &body, NULL, NULL, err, err_len);
	if (rc == 0)
		rc = take_records(r, etcd_json_kvs(body));
	json_decref(body);
	if (rc) {
		reconcile_free(&r);
		return rc;
	}
	*out = r;
	return 0;
}

int reconcile_empty(struct reconcile **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

bool reconcile_settle(void *arg, const struct table_record *open,
		      struct table_record *sealed)
{
	struct held *h = find(arg, open->id);

	if (!h || h->cr.rec.state != TABLE_CHUNK_SEALED ||
	    h->cr.rec.offset != open->offset ||
	    h->cr.rec.length != open->length)
		return false;
	sealed->sealed_len = h->cr.rec.sealed_len;
	sealed->crc = h->cr.rec.crc;
	sealed->sealed_s = h->cr.rec.sealed_s;
	return true;
}

static bool collect(const struct table_record *rec, void *arg)
{
	return record_list_push(arg, rec) == 0;
}

static bool same_seal(const struct table_record *a,
		      const struct table_record *b)
{
	return a->offset == b->offset && a->length == b->length &&
	       a->sealed_len == b->sealed_len && a->crc == b->crc;
}

/* One live chunk of the pool against etcd's record of it. */
static void reconcile_one(struct reconcile *r, struct table *local,
			  const struct table_record *rec,
			  struct idmap *revisions, struct reconcile_report *rep)
{
	struct held *h = find(r, rec->id);
	uint64_t id = cluster_chunk_id(r->node, rec->id);

	if (h && h->cr.rec.state == TABLE_CHUNK_SEALED) {
		h->matched = true;
		idmap_put(revisions, rec->id, (uint64_t)h->revision);
		if (same_seal(rec, &h->cr.rec)) {
			rep->kept++;
			return;
		}
		rep->mismatched++;
		log_warn("cluster: chunk %llu: the pool and etcd disagree on "
			 "its place, length or CRC; kept, for an operator",
			 (unsigned long long)id);
		return;
	}
	/* etcd has no SEALED record: its free committed, or its seal never
	 * did (OPEN chunks were settled or freed by recovery). */
	table_pmem_free(local, rec->id);
	rep->reclaimed++;
	log_info("cluster: chunk %llu: etcd does not know it; its space is "
		 "reclaimed",
		 (unsigned long long)id);
}

int reconcile_apply(struct reconcile *r, struct table *local,
		    struct idmap *revisions, struct reconcile_report *rep)
{
	struct record_list live = {0};
	struct table_stats st;

	memset(rep, 0, sizeof(*rep));
	table_stats(local, &st);
	table_iterate(local, collect, &live);
	if (live.count != st.open_chunks + st.sealed_chunks) {
		record_list_free(&live);
		return -ENOMEM;
	}
	for (size_t i = 0; i < live.count; i++)
		reconcile_one(r, local, &live.recs[i], revisions, rep);
	record_list_free(&live);
	for (size_t i = 0; i < r->count; i++) {
		struct held *h = &r->held[i];

		if (h->matched || h->cr.rec.state != TABLE_CHUNK_SEALED)
			continue;
		rep->missing++;
		log_warn("cluster: chunk %llu: etcd holds it SEALED here, but "
			 "the pool has no such chunk; its record is left for "
			 "an operator",
			 (unsigned long long)h->cr.rec.id);
	}
	return 0;
}

int reconcile_replicas(const struct reconcile *r, struct idmap *replicas)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct held *h = &r->held[i];

		if (h->matched && h->cr.copies > 1 &&
		    idmap_put(replicas, h->local, h->cr.copies))
			return -ENOMEM;
	}
	return 0;
}

void reconcile_free(struct reconcile **r)
{
	if (!*r)
		return;
	free((*r)->held);
	free(*r);
	*r = NULL;
}
