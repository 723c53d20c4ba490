#include "table_etcd.h"
#include "table_etcd_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk_record.h"
#include "doomed.h"
#include "common/list.h"
#include "common/log.h"
#include "etcd/etcd_json.h"
#include "membership.h"
#include "table/record_list.h"
#include "table/table_pmem.h"

static void etcd_alloc(struct table *tt, uint64_t size, uint64_t session,
		       uint32_t epoch, table_done_fn *done, void *arg)
{
	struct table_alloc_args a = {
		.size = size, .session = session, .epoch = epoch};
	struct alloc_replication none = {0};

	table_etcd_alloc_common(table_etcd_of(tt), &a, &none, done, arg);
}

/* ---- seal ---- */

static void send_seal(struct op *op);

static void seal_answered(struct op *op, const struct etcd_result *r)
{
	struct chunk_record cr;
	int64_t rev = 0;

	if (r->status && op->attempts < CHANGE_ATTEMPTS) {
		send_seal(op);
		return;
	} /* compares make a retry harmless */
	if (r->status) {
		table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
		return;
	}
	if (r->succeeded) {
		table_etcd_seal_committed(op, r->revision);
		return;
	}
	if (chunk_record_found(r->body, &cr, &rev) == 0 &&
	    cr.rec.state == TABLE_CHUNK_SEALED &&
	    cr.rec.sealed_len == op->rec.sealed_len &&
	    cr.rec.crc == op->rec.crc) {
		table_etcd_seal_committed(op, rev);
		return;
	} /* an earlier attempt of this seal, or of one the caller was told
	   * failed (only this chunkd writes this pool's keys, and the pool
	   * still holds the chunk OPEN): the same seal, committed */
	/* The OPEN record is gone (this chunkd's lease expired) or is not
	 * the one we wrote: the seal is fenced off. */
	table_etcd_op_finish(op, -ESTALE, NULL);
}

static void send_seal(struct op *op)
{
	struct table_record sealed = op->rec;
	char key[CLUSTER_KEY_MAX], *value;

	sealed.state = TABLE_CHUNK_SEALED;
	sealed.sealed_s = (uint32_t)time(NULL);
	value = table_etcd_encode(op->t, &sealed);
	table_etcd_key(op->t, op->rec.id, key, sizeof(key));
	table_etcd_send_txn(
		op, value ? etcd_json_txn(
				    etcd_json_list(
					    etcd_json_cmp_mod(
						    key,
						    table_etcd_revision(
							    op->t, op->rec.id)),
					    NULL),
				    etcd_json_list(etcd_json_put(key, value, 0),
						   NULL),
				    etcd_json_list(etcd_json_get(key), NULL))
			  : NULL);
	free(value);
}

static void etcd_seal(struct table *tt, uint64_t id, uint64_t sealed_len,
		      uint32_t crc, table_done_fn *done, void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct table_record rec;
	unsigned copies;
	struct op *op;
	int rc = table_etcd_sealable(t, id, sealed_len, crc, &rec, &copies);

	if (rc == 0 && copies > 1)
		rc = -EINVAL; /* a chunk of copies: SEAL_COPIES */
	op = rc ? NULL : table_etcd_op_new(t, seal_answered, &rec, done, arg);
	if (!op) {
		table_etcd_refuse(done, arg, rc ? rc : -ENOMEM);
		return;
	}
	send_seal(op);
}

/* ---- free ---- */

static void send_free(struct op *op);

/* The free's outcome is unknown: the chunk is doomed, so its record goes
 * (or is found gone) once etcd answers, and only then its space. */
static void free_unsettled(struct op *op)
{
	struct etcd_table *t = op->t;

	table_etcd_forget_replication(t, op->rec.id);
	doomed_add(t->doomed, &op->rec, NULL, NULL);
	table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
}

static void free_answered(struct op *op, const struct etcd_result *r)
{
	struct etcd_table *t = op->t;
	struct chunk_record cr;
	int64_t rev;

	if (r->status && op->attempts < CHANGE_ATTEMPTS) {
		send_free(op);
		return;
	} /* compares make a retry harmless */
	if (r->status) {
		free_unsettled(op);
		return;
	}
	if (!r->succeeded &&
	    chunk_record_found(r->body, &cr, &rev) != -ENOENT) {
		table_etcd_op_finish(op, -ESTALE, NULL);
		return;
	} /* changed by another */
	idmap_remove(&t->revisions, op->rec.id);
	table_etcd_forget_replication(t, op->rec.id);
	table_pmem_free(t->local, op->rec.id);
	table_etcd_op_finish(op, 0, &op->rec);
}

/* What a free deletes: the record, and where a replicated chunk's copies
 * are (a further copy's record stays a copy's: the client frees it). */
static json_t *deletes(const struct etcd_table *t, uint64_t local,
		       const char *key)
{
	char placed[CLUSTER_KEY_MAX];
	uint64_t copies;

	if (!idmap_get(&t->replicas, local, &copies))
		return etcd_json_list(etcd_json_delete(key), NULL);
	cluster_key_placed(placed, sizeof(placed), t->prefix,
			   cluster_chunk_id(t->node, local));
	return etcd_json_list(etcd_json_delete(key), etcd_json_delete(placed),
			      NULL);
}

/* Deletes the record if it is the one this chunkd last wrote; reads it
 * back when it is not (a retry after a delete that committed finds none). */
static void send_free(struct op *op)
{
	struct etcd_table *t = op->t;
	char key[CLUSTER_KEY_MAX];

	table_etcd_key(t, op->rec.id, key, sizeof(key));
	table_etcd_send_txn(
		op, etcd_json_txn(
			    etcd_json_list(etcd_json_cmp_mod(
						   key, table_etcd_revision(
								t, op->rec.id)),
					   NULL),
			    deletes(t, op->rec.id, key),
			    etcd_json_list(etcd_json_get(key), NULL)));
}

static void etcd_free_chunk(struct table *tt, uint64_t id, table_done_fn *done,
			    void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct table_result res = {0};
	struct op *op;

	res.status = table_lookup(tt, id, &res.rec);
	if (res.status) {
		done(arg, &res);
		return;
	}
	res.rec.id = cluster_id_local(id);
	op = table_etcd_op_new(t, free_answered, &res.rec, done, arg);
	if (!op) {
		res.status = -ENOMEM;
		done(arg, &res);
		return;
	}
	send_free(op);
}

/* ---- reclaim ---- */

struct reclaim_walk {
	struct etcd_table *t;
	uint64_t session;
	uint32_t epoch;
	struct record_list found;
};

static bool collect_session(const struct table_record *rec, void *arg)
{
	struct reclaim_walk *w = arg;

	if (rec->state != TABLE_CHUNK_OPEN || rec->session != w->session ||
	    rec->epoch > w->epoch || doomed_has(w->t->doomed, rec->id))
		return true;
	return record_list_push(&w->found, rec) == 0;
}

static void reclaim_tried(void *arg, bool freed)
{
	struct reclaim_batch *b = arg;
	struct table_result res = {0};

	b->freed += freed;
	if (--b->waiting)
		return;
	res.count = b->freed;
	b->done(b->arg, &res);
	free(b);
}

static void etcd_reclaim(struct table *tt, uint64_t session, uint32_t epoch,
			 table_done_fn *done, void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct reclaim_walk w = {.t = t, .session = session, .epoch = epoch};
	struct reclaim_batch *b = calloc(1, sizeof(*b));
	struct table_result res = {0};

	table_iterate(t->local, collect_session, &w);
	if (!b || w.found.count == 0) {
		res.status = w.found.count ? -ENOMEM : 0;
		free(b);
		record_list_free(&w.found);
		done(arg, &res);
		return;
	}
	b->done = done;
	b->arg = arg;
	b->waiting = 1; /* until every settle has started */
	b->waiting += w.found.count;
	for (size_t i = 0; i < w.found.count; i++) {
		table_etcd_forget_replication(t, w.found.recs[i].id);
		doomed_add(t->doomed, &w.found.recs[i], reclaim_tried, b);
	}
	record_list_free(&w.found);
	reclaim_tried(b, false); /* every settle has started */
}

/* ---- what the pool knows ---- */

static int etcd_lookup(struct table *tt, uint64_t id, struct table_record *rec)
{
	struct etcd_table *t = table_etcd_of(tt);
	int rc;

	if (cluster_id_node(id) != t->node ||
	    doomed_has(t->doomed, cluster_id_local(id)))
		return -ENOENT;
	rc = table_lookup(t->local, cluster_id_local(id), rec);
	if (rc == 0)
		rec->id = id;
	return rc;
}

struct visit_wrap {
	struct etcd_table *t;
	table_visit_fn *visit;
	void *arg;
};

static bool visit_cluster_id(const struct table_record *rec, void *arg)
{
	struct visit_wrap *w = arg;
	struct table_record r = *rec;

	if (doomed_has(w->t->doomed, rec->id))
		return true;
	r.id = cluster_chunk_id(w->t->node, rec->id);
	return w->visit(&r, w->arg);
}

static void etcd_iterate(struct table *tt, table_visit_fn *visit, void *arg)
{
	struct visit_wrap w = {table_etcd_of(tt), visit, arg};

	table_iterate(table_etcd_of(tt)->local, visit_cluster_id, &w);
}

static void etcd_stats(struct table *tt, struct table_stats *st)
{
	struct etcd_table *t = table_etcd_of(tt);

	table_stats(t->local, st);
	st->next_id = cluster_chunk_id(t->node, st->next_id);
}

/* A chunk of another pool: its node's member, if it runs. */
static int etcd_locate(struct table *tt, uint64_t id,
		       struct table_location *loc)
{
	struct etcd_table *t = table_etcd_of(tt);
	uint32_t node = cluster_id_node(id);
	struct member m;

	if (node == 0 || node == t->node)
		return -ENOENT;
	if (membership_find_node(t->members, node, &m))
		return -EHOSTDOWN;
	snprintf(loc->address, sizeof(loc->address), "%s", m.address);
	loc->port = m.port;
	return 0;
}

uint64_t table_etcd_backlog(struct table *tt)
{
	return doomed_count(table_etcd_of(tt)->doomed);
}

static void etcd_close(struct table *tt)
{
	struct etcd_table *t = table_etcd_of(tt);

	/* Their calls were dropped with the etcd. */
	while (!list_empty(&t->ops))
		table_etcd_op_free(LIST_ITEM(t->ops.next, struct op, link));
	doomed_free(&t->doomed);
	idmap_fini(&t->revisions);
	idmap_fini(&t->replicas);
	idmap_fini(&t->copy_of);
	table_close(&t->local);
	free(t);
}

static const struct table_ops etcd_table_ops = {
	.alloc = etcd_alloc,
	.seal = etcd_seal,
	.free = etcd_free_chunk,
	.reclaim = etcd_reclaim,
	.lookup = etcd_lookup,
	.iterate = etcd_iterate,
	.stats = etcd_stats,
	.close = etcd_close,
	.locate = etcd_locate,
	.alloc_replica = table_etcd_alloc_replica,
	.seal_replicated = table_etcd_seal_replicated,
	.copies = table_etcd_copies,
	.replace_copy = table_etcd_replace_copy,
};

int table_etcd_new(struct table *local, struct etcd *e,
		   const struct table_etcd_opts *o, struct idmap *revisions,
		   struct table **out)
{
	struct etcd_table *t = calloc(1, sizeof(*t));
	struct doomed_opts d = {.etcd = e,
				.local = local,
				.prefix = o->prefix,
				.node = o->node};

	if (!t)
		return -ENOMEM;
	list_init(&t->ops);
	d.revisions = &t->revisions;
	if (idmap_init(&t->copy_of, 64) ||
	    (!o->replicas && idmap_init(&t->replicas, 64)) ||
	    doomed_new(&d, &t->doomed)) {
		idmap_fini(&t->copy_of);
		if (!o->replicas)
			idmap_fini(&t->replicas);
		free(t);
		return -ENOMEM;
	}
	if (o->replicas) {
		t->replicas = *o->replicas;
		memset(o->replicas, 0, sizeof(*o->replicas));
	}
	t->table.ops = &etcd_table_ops;
	t->local = local;
	t->etcd = e;
	t->members = o->members;
	t->node = o->node;
	snprintf(t->prefix, sizeof(t->prefix), "%s", o->prefix);
	snprintf(t->name, sizeof(t->name), "%s", o->name);
	snprintf(t->pool, sizeof(t->pool), "%s", o->pool_hex);
	t->revisions = *revisions;
	memset(revisions, 0, sizeof(*revisions));
	*out = &t->table;
	return 0;
}
