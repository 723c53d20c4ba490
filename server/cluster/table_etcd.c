#include "table_etcd.h"

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

#define SEAL_ATTEMPTS 3

struct etcd_table {
	struct table table;
	struct table *local; /* the pool's table: ids are the pool's own */
	struct etcd *etcd;
	struct membership *members;
	struct doomed *doomed; /* chunks whose fate waits for etcd */
	char prefix[128];
	char name[CLUSTER_NAME_MAX];
	char pool[CLUSTER_UUID_HEX];
	uint32_t node;
	struct idmap revisions; /* pool id -> its record's mod_revision */
	struct list_link ops;	/* waiting for etcd */
};

/* What an op does when its answer comes. */
enum op_kind {
	OP_ALLOC, /* create the OPEN record */
	OP_SEAL,  /* OPEN -> SEALED */
	OP_FREE,  /* delete, then free the space */
};

/* A reclaim: its chunks are doomed, and it completes once each has been
 * tried. */
struct reclaim_batch {
	table_done_fn *done;
	void *arg;
	uint64_t waiting; /* first attempts not over yet */
	uint64_t freed;
};

struct op {
	struct etcd_table *t;
	enum op_kind kind;
	struct table_record rec; /* rec.id: the pool's id */
	table_done_fn *done;
	void *arg;
	unsigned attempts;
	struct list_link link; /* on t->ops */
};

static struct etcd_table *to_etcd(struct table *t)
{
	return (struct etcd_table *)t;
}

static void chunk_key(const struct etcd_table *t, uint64_t local, char *out,
		      size_t len)
{
	cluster_key_chunk(out, len, t->prefix,
			  cluster_chunk_id(t->node, local));
}

/* The record as etcd keeps it; NULL when memory ran out. */
static char *encode(const struct etcd_table *t, const struct table_record *r)
{
	struct chunk_record cr = {.rec = *r};

	cr.rec.id = cluster_chunk_id(t->node, r->id);
	snprintf(cr.server, sizeof(cr.server), "%s", t->name);
	snprintf(cr.pool, sizeof(cr.pool), "%s", t->pool);
	return chunk_record_encode(&cr);
}

/* ---- ops in flight ---- */

static struct op *op_new(struct etcd_table *t, enum op_kind kind,
			 const struct table_record *rec, table_done_fn *done,
			 void *arg)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->t = t;
	op->kind = kind;
	op->rec = *rec;
	op->done = done;
	op->arg = arg;
	list_push(&t->ops, &op->link);
	return op;
}

static void op_free(struct op *op)
{
	list_remove(&op->link);
	free(op);
}

static void answered(void *arg, const struct etcd_result *r);

/* Sends txn for op; on failure to start, answers op as unreachable. */
static void send_txn(struct op *op, json_t *txn)
{
	struct etcd_result failed = {.status = -ENOMEM,
				     .message = "out of memory"};

	op->attempts++;
	if (!txn || etcd_call(op->t->etcd, "/v3/kv/txn", txn, answered, op))
		answered(op, &failed);
}

/* Reports res to op's caller with the cluster's id, and frees op. */
static void op_finish(struct op *op, int status, const struct table_record *rec)
{
	struct table_result res = {.status = status};

	if (rec) {
		res.rec = *rec;
		res.rec.id = cluster_chunk_id(op->t->node, rec->id);
	}
	if (op->done)
		op->done(op->arg, &res);
	op_free(op);
}

static int64_t revision_of(struct etcd_table *t, uint64_t local)
{
	uint64_t rev = 0;

	idmap_get(&t->revisions, local, &rev);
	return (int64_t)rev;
}

/* ---- alloc ---- */

static void alloc_answered(struct op *op, const struct etcd_result *r)
{
	struct etcd_table *t = op->t;

	if (r->status == 0 && r->succeeded) {
		idmap_put(&t->revisions, op->rec.id, (uint64_t)r->revision);
		op_finish(op, 0, &op->rec);
		return;
	}
	if (r->status == 0) {
		/* Our id is taken: a record this pool never wrote. Give the
		 * space back without touching that record. */
		log_error("chunk %llu: etcd already holds a record of this id",
			  (unsigned long long)cluster_chunk_id(t->node,
							       op->rec.id));
		table_pmem_free(t->local, op->rec.id);
		op_finish(op, -EEXIST, NULL);
		return;
	}
	/* The record may or may not exist: free the space once it surely
	 * does not. */
	doomed_add(t->doomed, &op->rec, NULL, NULL);
	op_finish(op, -EHOSTUNREACH, NULL);
}

static void etcd_alloc(struct table *tt, uint64_t size, uint64_t session,
		       uint32_t epoch, table_done_fn *done, void *arg)
{
	struct etcd_table *t = to_etcd(tt);
	struct table_result res = {0};
	int64_t lease = membership_lease(t->members);
	char key[CLUSTER_KEY_MAX], *value;
	struct op *op;

	if (!lease) {
		res.status = -EHOSTUNREACH;
		done(arg, &res);
		return;
	}
	res.status = table_pmem_alloc(t->local, size, session, epoch, &res.rec);
	if (res.status) {
		done(arg, &res);
		return;
	}
	op = op_new(t, OP_ALLOC, &res.rec, done, arg);
	value = encode(t, &res.rec);
	if (!op || !value) {
		free(value);
		if (op)
			op_free(op);
		table_pmem_free(t->local, res.rec.id);
		res.status = -ENOMEM;
		done(arg, &res);
		return;
	}
	chunk_key(t, res.rec.id, key, sizeof(key));
	send_txn(op,
		 etcd_json_txn(
			 etcd_json_list(etcd_json_cmp_absent(key), NULL),
			 etcd_json_list(etcd_json_put(key, value, lease), NULL),
			 NULL));
	free(value);
}

/* ---- seal ---- */

static void send_seal(struct op *op);

static void seal_committed(struct op *op, int64_t rev)
{
	struct etcd_table *t = op->t;
	struct table_record rec;
	int rc = table_pmem_seal(t->local, op->rec.id, op->rec.sealed_len,
				 op->rec.crc, &rec);

	if (rc == -EALREADY) /* a reclaim's settle sealed it meanwhile */
		rc = table_lookup(t->local, op->rec.id, &rec);
	if (rc) {
		log_error("chunk %llu: sealed in etcd but not in the pool: %s",
			  (unsigned long long)cluster_chunk_id(t->node,
							       op->rec.id),
			  strerror(-rc));
		op_finish(op, rc, NULL);
		return;
	}
	idmap_put(&t->revisions, op->rec.id, (uint64_t)rev);
	op_finish(op, 0, &rec);
}

static void seal_answered(struct op *op, const struct etcd_result *r)
{
	struct chunk_record cr;
	int64_t rev = 0;

	if (r->status && op->attempts < SEAL_ATTEMPTS) {
		send_seal(op);
		return;
	} /* compares make a retry harmless */
	if (r->status) {
		op_finish(op, -EHOSTUNREACH, NULL);
		return;
	}
	if (r->succeeded) {
		seal_committed(op, r->revision);
		return;
	}
	if (chunk_record_found(r->body, &cr, &rev) == 0 &&
	    cr.rec.state == TABLE_CHUNK_SEALED &&
	    cr.rec.sealed_len == op->rec.sealed_len &&
	    cr.rec.crc == op->rec.crc && op->attempts > 1) {
		seal_committed(op, rev);
		return;
	} /* our earlier attempt */
	/* The OPEN record is gone (this chunkd's lease expired) or is not
	 * the one we wrote: the seal is fenced off. */
	op_finish(op, -ESTALE, NULL);
}

static void send_seal(struct op *op)
{
	struct table_record sealed = op->rec;
	char key[CLUSTER_KEY_MAX], *value;

	sealed.state = TABLE_CHUNK_SEALED;
	sealed.sealed_s = (uint32_t)time(NULL);
	value = encode(op->t, &sealed);
	chunk_key(op->t, op->rec.id, key, sizeof(key));
	send_txn(op,
		 value ? etcd_json_txn(
				 etcd_json_list(
					 etcd_json_cmp_mod(
						 key, revision_of(op->t,
								  op->rec.id)),
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
	struct etcd_table *t = to_etcd(tt);
	struct table_result res = {0};
	struct op *op;

	res.status = table_lookup(tt, id, &res.rec);
	if (res.status == 0 && res.rec.state != TABLE_CHUNK_OPEN)
		res.status = -EALREADY;
	else if (res.status == 0 && sealed_len > res.rec.length)
		res.status = -EINVAL;
	if (res.status) {
		done(arg, &res);
		return;
	}
	res.rec.id = cluster_id_local(id);
	res.rec.sealed_len = sealed_len;
	res.rec.crc = crc;
	op = op_new(t, OP_SEAL, &res.rec, done, arg);
	if (!op) {
		res.status = -ENOMEM;
		done(arg, &res);
		return;
	}
	send_seal(op);
}

/* ---- free ---- */

static void free_answered(struct op *op, const struct etcd_result *r)
{
	struct etcd_table *t = op->t;
	struct chunk_record cr;
	int64_t rev;

	if (r->status) {
		op_finish(op, -EHOSTUNREACH, NULL);
		return;
	}
	if (!r->succeeded &&
	    chunk_record_found(r->body, &cr, &rev) != -ENOENT) {
		op_finish(op, -ESTALE, NULL);
		return;
	} /* changed by another */
	idmap_remove(&t->revisions, op->rec.id);
	table_pmem_free(t->local, op->rec.id);
	op_finish(op, 0, &op->rec);
}

static void etcd_free_chunk(struct table *tt, uint64_t id, table_done_fn *done,
			    void *arg)
{
	struct etcd_table *t = to_etcd(tt);
	struct table_result res = {0};
	char key[CLUSTER_KEY_MAX];
	struct op *op;

	res.status = table_lookup(tt, id, &res.rec);
	if (res.status) {
		done(arg, &res);
		return;
	}
	res.rec.id = cluster_id_local(id);
	op = op_new(t, OP_FREE, &res.rec, done, arg);
	if (!op) {
		res.status = -ENOMEM;
		done(arg, &res);
		return;
	}
	chunk_key(t, res.rec.id, key, sizeof(key));
	send_txn(op,
		 etcd_json_txn(etcd_json_list(
				       etcd_json_cmp_mod(
					       key, revision_of(t, res.rec.id)),
				       NULL),
			       etcd_json_list(etcd_json_delete(key), NULL),
			       etcd_json_list(etcd_json_get(key), NULL)));
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
	struct etcd_table *t = to_etcd(tt);
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
	for (size_t i = 0; i < w.found.count; i++)
		doomed_add(t->doomed, &w.found.recs[i], reclaim_tried, b);
	record_list_free(&w.found);
	reclaim_tried(b, false); /* every settle has started */
}

/* ---- answers ---- */

static void answered(void *arg, const struct etcd_result *r)
{
	struct op *op = arg;

	switch (op->kind) {
	case OP_ALLOC:
		alloc_answered(op, r);
		break;
	case OP_SEAL:
		seal_answered(op, r);
		break;
	case OP_FREE:
		free_answered(op, r);
		break;
	}
}

/* ---- what the pool knows ---- */

static int etcd_lookup(struct table *tt, uint64_t id, struct table_record *rec)
{
	struct etcd_table *t = to_etcd(tt);
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
	struct visit_wrap w = {to_etcd(tt), visit, arg};

	table_iterate(to_etcd(tt)->local, visit_cluster_id, &w);
}

static void etcd_stats(struct table *tt, struct table_stats *st)
{
	struct etcd_table *t = to_etcd(tt);

	table_stats(t->local, st);
	st->next_id = cluster_chunk_id(t->node, st->next_id);
}

/* A chunk of another pool: its node's member, if it runs. */
static int etcd_locate(struct table *tt, uint64_t id,
		       struct table_location *loc)
{
	struct etcd_table *t = to_etcd(tt);
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
	return doomed_count(to_etcd(tt)->doomed);
}

static void etcd_close(struct table *tt)
{
	struct etcd_table *t = to_etcd(tt);

	/* Their calls were dropped with the etcd. */
	while (!list_empty(&t->ops))
		op_free(LIST_ITEM(t->ops.next, struct op, link));
	doomed_free(&t->doomed);
	idmap_fini(&t->revisions);
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
	if (doomed_new(&d, &t->doomed)) {
		free(t);
		return -ENOMEM;
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
