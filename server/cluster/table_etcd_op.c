/*
 * The etcd table's ops in flight, and the changes both of its files make:
 * an allocation's record, and a seal etcd committed (table_etcd_internal.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_record.h"
#include "common/log.h"
#include "doomed.h"
#include "etcd/etcd_json.h"
#include "membership.h"
#include "table/table_pmem.h"
#include "table_etcd_internal.h"

struct etcd_table *table_etcd_of(struct table *t)
{
	return (struct etcd_table *)t;
}

void table_etcd_key(const struct etcd_table *t, uint64_t local, char *out,
		    size_t len)
{
	cluster_key_chunk(out, len, t->prefix,
			  cluster_chunk_id(t->node, local));
}

void table_etcd_id_key(const struct etcd_table *t, uint64_t id,
		       char key[CLUSTER_KEY_MAX])
{
	cluster_key_chunk(key, CLUSTER_KEY_MAX, t->prefix, id);
}

void table_etcd_refuse(table_done_fn *done, void *arg, int status)
{
	struct table_result res = {.status = status};

	done(arg, &res);
}

int table_etcd_sealable(struct etcd_table *t, uint64_t id, uint64_t sealed_len,
			uint32_t crc, struct table_record *rec,
			unsigned *copies)
{
	uint64_t r = 1;
	int rc = table_lookup(&t->table, id, rec);

	if (rc)
		return rc;
	if (rec->state != TABLE_CHUNK_OPEN)
		return -EALREADY;
	if (sealed_len > rec->length)
		return -EINVAL;
	idmap_get(&t->replicas, cluster_id_local(id), &r);
	*copies = (unsigned)r;
	rec->id = cluster_id_local(id);
	rec->sealed_len = sealed_len;
	rec->crc = crc;
	return 0;
}

char *table_etcd_encode(const struct etcd_table *t,
			const struct table_record *r)
{
	struct chunk_record cr = {.rec = *r};
	uint64_t v;

	cr.rec.id = cluster_chunk_id(t->node, r->id);
	if (idmap_get(&t->replicas, r->id, &v))
		cr.copies = (uint32_t)v;
	if (idmap_get(&t->copy_of, r->id, &v))
		cr.copy_of = v;
	snprintf(cr.server, sizeof(cr.server), "%s", t->name);
	snprintf(cr.pool, sizeof(cr.pool), "%s", t->pool);
	return chunk_record_encode(&cr);
}

/* ---- ops in flight ---- */

struct op *table_etcd_op_new(struct etcd_table *t, op_answer_fn *answer,
			     const struct table_record *rec,
			     table_done_fn *done, void *arg)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->t = t;
	op->answer = answer;
	op->rec = *rec;
	op->done = done;
	op->arg = arg;
	list_push(&t->ops, &op->link);
	return op;
}

void table_etcd_op_free(struct op *op)
{
	list_remove(&op->link);
	free(op);
}

static void answered(void *arg, const struct etcd_result *r)
{
	struct op *op = arg;

	op->answer(op, r);
}

/* Sends txn for op; on failure to start, answers op as unreachable. */
void table_etcd_send_txn(struct op *op, json_t *txn)
{
	struct etcd_result failed = {.status = -ENOMEM,
				     .message = "out of memory"};

	op->attempts++;
	if (!txn || etcd_call(op->t->etcd, "/v3/kv/txn", txn, answered, op))
		answered(op, &failed);
}

/* Reports res to op's caller with the cluster's id, and frees op. */
void table_etcd_op_finish(struct op *op, int status,
			  const struct table_record *rec)
{
	struct table_result res = {.status = status};

	res.copies = op->copies;
	res.bad_copy = op->bad_copy;
	if (rec) {
		res.rec = *rec;
		res.rec.id = cluster_chunk_id(op->t->node, rec->id);
	}
	if (op->done)
		op->done(op->arg, &res);
	table_etcd_op_free(op);
}

int64_t table_etcd_revision(struct etcd_table *t, uint64_t local)
{
	uint64_t rev = 0;

	idmap_get(&t->revisions, local, &rev);
	return (int64_t)rev;
}

/* ---- alloc ---- */

/* Records what the allocation says of copies, for encode; 0 or -ENOMEM. */
static int remember_replication(struct etcd_table *t, uint64_t local,
				const struct alloc_replication *rep)
{
	if (rep->copies > 1 && idmap_put(&t->replicas, local, rep->copies))
		return -ENOMEM;
	if (rep->copy_of && idmap_put(&t->copy_of, local, rep->copy_of))
		return -ENOMEM;
	return 0;
}

void table_etcd_forget_replication(struct etcd_table *t, uint64_t local)
{
	idmap_remove(&t->replicas, local);
	idmap_remove(&t->copy_of, local);
}

static void alloc_answered(struct op *op, const struct etcd_result *r)
{
	struct etcd_table *t = op->t;

	if (r->status == 0 && r->succeeded) {
		idmap_put(&t->revisions, op->rec.id, (uint64_t)r->revision);
		table_etcd_op_finish(op, 0, &op->rec);
		return;
	}
	if (r->status == 0) {
		/* Our id is taken: a record this pool never wrote. Give the
		 * space back without touching that record. */
		log_error("chunk %llu: etcd already holds a record of this id",
			  (unsigned long long)cluster_chunk_id(t->node,
							       op->rec.id));
		table_etcd_forget_replication(t, op->rec.id);
		table_pmem_free(t->local, op->rec.id);
		table_etcd_op_finish(op, -EEXIST, NULL);
		return;
	}
	/* The record may or may not exist: free the space once it surely
	 * does not. */
	table_etcd_forget_replication(t, op->rec.id);
	doomed_add(t->doomed, &op->rec, NULL, NULL);
	table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
}

/* Gives the space of a chunk etcd never recorded back, and says why. */
static void alloc_undone(struct etcd_table *t, struct table_result *res,
			 int status, table_done_fn *done, void *arg)
{
	table_etcd_forget_replication(t, res->rec.id);
	table_pmem_free(t->local, res->rec.id);
	res->status = status;
	done(arg, res);
}

void table_etcd_alloc_common(struct etcd_table *t,
			     const struct table_alloc_args *a,
			     const struct alloc_replication *rep,
			     table_done_fn *done, void *arg)
{
	struct table_result res = {0};
	int64_t lease = membership_lease(t->members);
	char key[CLUSTER_KEY_MAX], *value = NULL;
	struct op *op = NULL;

	res.status = lease ? table_pmem_alloc(t->local, a->size, a->session,
					      a->epoch, &res.rec)
			   : -EHOSTUNREACH;
	if (res.status) {
		done(arg, &res);
		return;
	}
	if (remember_replication(t, res.rec.id, rep) == 0 &&
	    (op = table_etcd_op_new(t, alloc_answered, &res.rec, done, arg)))
		value = table_etcd_encode(t, &res.rec);
	if (!value) {
		if (op)
			table_etcd_op_free(op);
		alloc_undone(t, &res, -ENOMEM, done, arg);
		return;
	}
	if (rep->where)
		op->copies = *rep->where;
	table_etcd_key(t, res.rec.id, key, sizeof(key));
	table_etcd_send_txn(
		op,
		etcd_json_txn(
			etcd_json_list(etcd_json_cmp_absent(key), NULL),
			etcd_json_list(etcd_json_put(key, value, lease), NULL),
			NULL));
	free(value);
}

void table_etcd_seal_committed(struct op *op, int64_t rev)
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
		table_etcd_op_finish(op, rc, NULL);
		return;
	}
	idmap_put(&t->revisions, op->rec.id, (uint64_t)rev);
	table_etcd_op_finish(op, 0, &rec);
}
