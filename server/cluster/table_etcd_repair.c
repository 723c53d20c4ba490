/*
 * A repair's commit in the etcd table (table_replace_copy): a sealed
 * further copy, made on a running server by whoever repairs, takes the
 * place of a copy whose server is gone. One read of the chunk's placed
 * key and of both records, the checks, then one transaction that puts the
 * new placement and deletes the lost copy's record only if the placed
 * key and the new copy's record are as read: a racing repair, or a
 * returning server, finds the revision moved and changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_record.h"
#include "etcd/etcd_json.h"
#include "membership.h"
#include "table_etcd_internal.h"

static void read_answered(struct op *op, const struct etcd_result *r);
static void commit_answered(struct op *op, const struct etcd_result *r);

void table_etcd_replace_copy(struct table *tt, uint64_t chunk, uint64_t lost,
			     uint64_t copy, table_done_fn *done, void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct table_record none = {0};
	char placed[CLUSTER_KEY_MAX], rec[CLUSTER_KEY_MAX],
		copy_rec[CLUSTER_KEY_MAX];
	struct op *op;

	if (!chunk || !lost || !copy || lost == copy) {
		table_etcd_refuse(done, arg, -EINVAL);
		return;
	}
	op = table_etcd_op_new(t, read_answered, &none, done, arg);
	if (!op) {
		table_etcd_refuse(done, arg, -ENOMEM);
		return;
	}
	op->chunk = chunk;
	op->lost = lost;
	op->copy = copy;
	cluster_key_placed(placed, sizeof(placed), t->prefix, chunk);
	table_etcd_id_key(t, chunk, rec);
	table_etcd_id_key(t, copy, copy_rec);
	table_etcd_send_txn(
		op, etcd_json_txn(NULL,
				  etcd_json_list(etcd_json_get(placed),
						 etcd_json_get(rec),
						 etcd_json_get(copy_rec), NULL),
				  NULL));
}

/* The one record response i of answer holds; -ENOENT if none. */
static int record_at(const json_t *answer, size_t i, struct chunk_record *cr,
		     int64_t *rev)
{
	json_t *kvs = etcd_json_txn_range(answer, i);
	struct etcd_kv kv;

	if (json_array_size(kvs) != 1)
		return -ENOENT;
	if (etcd_json_kv(json_array_get(kvs, 0), &kv) ||
	    chunk_record_decode(kv.value, cr))
		return -EPROTO;
	*rev = kv.mod_revision;
	return 0;
}

/* The placement as read into placed; -ENOENT when there is none. */
static int placed_at(struct op *op, const json_t *answer, uint64_t *placed,
		     unsigned *count)
{
	json_t *kvs = etcd_json_txn_range(answer, 0);
	struct etcd_kv kv;

	if (json_array_size(kvs) != 1)
		return -ENOENT;
	if (etcd_json_kv(json_array_get(kvs, 0), &kv) ||
	    chunk_placed_decode(kv.value, placed, count))
		return -EPROTO;
	op->placed_rev = kv.mod_revision;
	return 0;
}

static bool node_runs(const struct etcd_table *t, uint64_t id)
{
	struct member m;

	return membership_find_node(t->members, cluster_id_node(id), &m) == 0;
}

/* Where lost is in placed, as the rules allow; a negative errno if not. */
static int lost_slot(const struct op *op, const uint64_t *placed,
		     unsigned count)
{
	int slot = -EINVAL;

	for (unsigned i = 0; i < count; i++) {
		if (placed[i] == op->copy)
			return -EINVAL; /* done already */
		if (placed[i] == op->lost)
			slot = (int)i;
	}
	if (slot >= 0 && node_runs(op->t, op->lost))
		return -EBUSY;
	return slot;
}

/* Whether the new copy is a sealed copy of the chunk, alike, on a running
 * server that holds none of the chunk's other copies. */
static bool copy_fits(const struct op *op, const struct chunk_record *chunk,
		      const struct chunk_record *copy, const uint64_t *placed,
		      unsigned count, unsigned slot)
{
	if (copy->rec.state != TABLE_CHUNK_SEALED ||
	    copy->copy_of != op->chunk ||
	    copy->rec.sealed_len != chunk->rec.sealed_len ||
	    copy->rec.crc != chunk->rec.crc || !node_runs(op->t, op->copy))
		return false;
	for (unsigned i = 0; i < count; i++)
		if (i != slot &&
		    cluster_id_node(placed[i]) == cluster_id_node(op->copy))
			return false;
	return true;
}

static void send_commit(struct op *op, const uint64_t *placed, unsigned count)
{
	char placed_key[CLUSTER_KEY_MAX], copy_key[CLUSTER_KEY_MAX],
		lost_key[CLUSTER_KEY_MAX];
	char *where = chunk_placed_encode(placed, count);
	json_t *ops;

	op->answer = commit_answered;
	cluster_key_placed(placed_key, sizeof(placed_key), op->t->prefix,
			   op->chunk);
	table_etcd_id_key(op->t, op->copy, copy_key);
	table_etcd_id_key(op->t, op->lost, lost_key);
	ops = etcd_json_list(etcd_json_put(placed_key, where ? where : "", 0),
			     NULL);
	/* The first copy's record names the chunk: it stays. */
	if (ops && op->lost != op->chunk)
		json_array_append_new(ops, etcd_json_delete(lost_key));
	table_etcd_send_txn(
		op,
		where && ops
			? etcd_json_txn(
				  etcd_json_list(
					  etcd_json_cmp_mod(placed_key,
							    op->placed_rev),
					  etcd_json_cmp_mod(copy_key,
							    op->other_revs[0]),
					  NULL),
				  ops, NULL)
			: NULL);
	if (!where)
		json_decref(ops);
	free(where);
}

static void read_answered(struct op *op, const struct etcd_result *r)
{
	uint64_t placed[TABLE_MAX_COPIES];
	struct chunk_record chunk, copy;
	unsigned count = 0;
	int64_t rev;
	int rc = r->status ? -EHOSTUNREACH : 0, slot = 0;

	if (rc == 0)
		rc = placed_at(op, r->body, placed, &count);
	if (rc == 0) {
		slot = lost_slot(op, placed, count);
		rc = slot < 0 ? slot : 0;
	}
	if (rc == 0)
		rc = record_at(r->body, 1, &chunk, &rev);
	if (rc == 0 && record_at(r->body, 2, &copy, &op->other_revs[0]))
		rc = -ENODATA;
	if (rc == 0 &&
	    !copy_fits(op, &chunk, &copy, placed, count, (unsigned)slot))
		rc = -ENODATA;
	if (rc) {
		table_etcd_op_finish(op, rc, NULL);
		return;
	}
	placed[slot] = op->copy;
	send_commit(op, placed, count);
}

static void commit_answered(struct op *op, const struct etcd_result *r)
{
	/* A lost answer is not retried: whether it applied is the caller's
	 * to find out (the copy is placed, or it is an orphan). */
	if (r->status)
		table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
	else
		table_etcd_op_finish(op, r->succeeded ? 0 : -ESTALE, NULL);
}
