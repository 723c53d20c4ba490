/*
 * Replicated chunks in the etcd table. A chunk of R copies is R chunks of
 * R pools, each with its own record: the first copy's id names the chunk,
 * and its record says "copies": R; each further copy's record says
 * "copy_of". The client allocates and seals the further copies itself, on
 * their servers (any chunkd's table does that: these are ordinary chunks
 * but for copy_of), then seals the first copy with their ids. That seal
 * reads the copies' records, checks them, and commits SEALED with the
 * list of copies in one transaction that compares every record's
 * revision: the chunk is SEALED only when all its copies are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk_record.h"
#include "common/log.h"
#include "etcd/etcd_json.h"
#include "membership.h"
#include "placement.h"
#include "table_etcd_internal.h"

#define MAX_MEMBERS 256
/* etcd round trips a replicated seal may take in all: retries after a
 * lost answer, and fresh looks after a copy's record changed. */
#define SEAL_ALL_ATTEMPTS (2 * CHANGE_ATTEMPTS)

/* ---- alloc ---- */

struct member_list {
	struct member *m;
	size_t count;
	const char *self;
	uint64_t self_free; /* the pool's own figure, fresher than its
			     * registration's */
};

static bool collect_member(const struct member *m, void *arg)
{
	struct member_list *l = arg;

	if (l->count == MAX_MEMBERS)
		return false;
	l->m[l->count] = *m;
	if (!strcmp(m->name, l->self))
		l->m[l->count].free_bytes = l->self_free;
	l->count++;
	return true;
}

/* Chooses the servers of the further copies of a chunk of a->copies
 * copies into *where; 0, -EHOSTDOWN (too few live servers with room),
 * -ENOSPC (none here), -ENOMEM. */
static int place_others(struct etcd_table *t, const struct table_alloc_args *a,
			struct table_copies *where)
{
	const struct member *chosen[PLACEMENT_MAX_COPIES];
	struct member_list l = {.self = t->name};
	struct table_stats st;
	unsigned with_room;
	int rc;

	table_stats(t->local, &st);
	l.self_free = st.free_bytes;
	l.m = calloc(MAX_MEMBERS, sizeof(*l.m));
	if (!l.m)
		return -ENOMEM;
	membership_visit(t->members, collect_member, &l);
	rc = placement_choose(l.m, l.count, t->name, a->copies, a->size, chosen,
			      &with_room);
	if (rc == 0 && strcmp(chosen[0]->name, t->name))
		rc = -ENOSPC; /* the first copy is this pool's */
	else if (rc == -ENOSPC)
		rc = -EHOSTDOWN;
	for (unsigned i = 1; rc == 0 && i < a->copies; i++) {
		struct table_copy *c = &where->copy[where->count++];

		c->id = 0;
		snprintf(c->loc.address, sizeof(c->loc.address), "%s",
			 chosen[i]->address);
		c->loc.port = chosen[i]->port;
	}
	free(l.m);
	return rc;
}

void table_etcd_alloc_replica(struct table *tt,
			      const struct table_alloc_args *a,
			      table_done_fn *done, void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct table_copies where = {0};
	struct alloc_replication rep = {.copy_of = a->copy_of};
	int rc;

	if (a->copy_of) {
		uint32_t node = cluster_id_node(a->copy_of);

		rc = node == 0 || node == t->node ? -EINVAL : 0;
	} else if (a->copies < 2 || a->copies > TABLE_MAX_COPIES) {
		rc = -EINVAL;
	} else {
		rc = place_others(t, a, &where);
		rep.copies = a->copies;
		rep.where = &where;
	}
	if (rc) {
		table_etcd_refuse(done, arg, rc);
		return;
	}
	table_etcd_alloc_common(t, a, &rep, done, arg);
}

/* ---- seal ---- */

static void send_verify(struct op *op);
static void verify_answered(struct op *op, const struct etcd_result *r);
static void seal_all_answered(struct op *op, const struct etcd_result *r);

/* Whether the other copies are count distinct chunks of other pools. */
static bool others_distinct(const struct etcd_table *t, const uint64_t *others,
			    unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (cluster_id_node(others[i]) == 0 ||
		    cluster_id_node(others[i]) == t->node)
			return false;
		for (unsigned j = 0; j < i; j++)
			if (cluster_id_node(others[j]) ==
			    cluster_id_node(others[i]))
				return false;
	}
	return true;
}

void table_etcd_seal_replicated(struct table *tt, uint64_t id,
				uint64_t sealed_len, uint32_t crc,
				const uint64_t *others, unsigned count,
				table_done_fn *done, void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct table_record rec;
	unsigned copies;
	struct op *op;
	int rc = table_etcd_sealable(t, id, sealed_len, crc, &rec, &copies);

	if (rc == 0 && (copies < 2 || count + 1 != copies ||
			!others_distinct(t, others, count)))
		rc = -EINVAL;
	op = rc ? NULL : table_etcd_op_new(t, verify_answered, &rec, done, arg);
	if (!op) {
		table_etcd_refuse(done, arg, rc ? rc : -ENOMEM);
		return;
	}
	op->count = count;
	memcpy(op->others, others, count * sizeof(others[0]));
	send_verify(op);
}

/* Reads every other copy's record in one transaction. */
static void send_verify(struct op *op)
{
	json_t *gets = json_array();
	char key[CLUSTER_KEY_MAX];

	op->answer = verify_answered;
	for (unsigned i = 0; gets && i < op->count; i++) {
		table_etcd_id_key(op->t, op->others[i], key);
		if (json_array_append_new(gets, etcd_json_get(key))) {
			json_decref(gets);
			gets = NULL;
		}
	}
	table_etcd_send_txn(op, gets ? etcd_json_txn(NULL, gets, NULL) : NULL);
}

/* Whether copy i's record, read back in answer, is a sealed copy of op's
 * chunk with its length and CRC; keeps its revision. */
static bool copy_sealed(struct op *op, const json_t *answer, unsigned i)
{
	json_t *kvs = etcd_json_txn_range(answer, i);
	struct chunk_record cr;
	struct etcd_kv kv;

	if (!kvs || json_array_size(kvs) != 1 ||
	    etcd_json_kv(json_array_get(kvs, 0), &kv) ||
	    chunk_record_decode(kv.value, &cr))
		return false;
	op->other_revs[i] = kv.mod_revision;
	return cr.rec.state == TABLE_CHUNK_SEALED &&
	       cr.copy_of == cluster_chunk_id(op->t->node, op->rec.id) &&
	       cr.rec.sealed_len == op->rec.sealed_len &&
	       cr.rec.crc == op->rec.crc;
}

static void send_seal_all(struct op *op);

static void verify_answered(struct op *op, const struct etcd_result *r)
{
	if (r->status) {
		table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
		return;
	}
	for (unsigned i = 0; i < op->count; i++) {
		if (!copy_sealed(op, r->body, i)) {
			op->bad_copy = op->others[i];
			table_etcd_op_finish(op, -ENODATA, NULL);
			return;
		}
	}
	send_seal_all(op);
}

/* Puts SEALED, and where every copy is, if no record changed since it was
 * read; reads this copy's record back when one did. */
static void send_seal_all(struct op *op)
{
	struct etcd_table *t = op->t;
	struct table_record sealed = op->rec;
	uint64_t placed[TABLE_MAX_COPIES];
	char key[CLUSTER_KEY_MAX], placed_key[CLUSTER_KEY_MAX];
	char *value, *where;
	json_t *cmps;

	op->answer = seal_all_answered;
	sealed.state = TABLE_CHUNK_SEALED;
	sealed.sealed_s = (uint32_t)time(NULL);
	placed[0] = cluster_chunk_id(t->node, op->rec.id);
	memcpy(placed + 1, op->others, op->count * sizeof(placed[0]));
	value = table_etcd_encode(t, &sealed);
	where = chunk_placed_encode(placed, op->count + 1);
	table_etcd_key(t, op->rec.id, key, sizeof(key));
	cluster_key_placed(placed_key, sizeof(placed_key), t->prefix,
			   placed[0]);
	cmps = etcd_json_list(
		etcd_json_cmp_mod(key, table_etcd_revision(t, op->rec.id)),
		NULL);
	for (unsigned i = 0; cmps && i < op->count; i++) {
		char other[CLUSTER_KEY_MAX];

		table_etcd_id_key(t, op->others[i], other);
		json_array_append_new(
			cmps, etcd_json_cmp_mod(other, op->other_revs[i]));
	}
	if (!value || !where)
		json_decref(cmps);
	table_etcd_send_txn(
		op,
		value && where && cmps
			? etcd_json_txn(
				  cmps,
				  etcd_json_list(
					  etcd_json_put(key, value, 0),
					  etcd_json_put(placed_key, where, 0),
					  NULL),
				  etcd_json_list(etcd_json_get(key), NULL))
			: NULL);
	free(value);
	free(where);
}

static void seal_all_answered(struct op *op, const struct etcd_result *r)
{
	struct chunk_record cr;
	int64_t rev = 0;
	int found;

	if (r->status) {
		if (op->attempts < SEAL_ALL_ATTEMPTS)
			send_seal_all(op); /* the compares make it harmless */
		else
			table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
		return;
	}
	if (r->succeeded) {
		table_etcd_seal_committed(op, r->revision);
		return;
	}
	found = chunk_record_found(r->body, &cr, &rev);
	if (found == 0 && cr.rec.state == TABLE_CHUNK_SEALED &&
	    cr.rec.crc == op->rec.crc && op->attempts > 1) {
		table_etcd_seal_committed(op, rev); /* our earlier attempt */
		return;
	}
	if (found == 0 && rev == table_etcd_revision(op->t, op->rec.id) &&
	    op->attempts < SEAL_ALL_ATTEMPTS) {
		send_verify(op); /* a copy's record changed: look again */
		return;
	}
	table_etcd_op_finish(op, found == 0 ? -ENODATA : -ESTALE, NULL);
}

/* ---- the copies readers may use ---- */

/* Where copy id lives, if its server runs; false otherwise. */
static bool locate_copy(struct etcd_table *t, uint64_t id, struct table_copy *c)
{
	const struct member *self = membership_self(t->members);
	struct member m;

	if (cluster_id_node(id) == t->node) {
		m = *self;
	} else if (membership_find_node(t->members, cluster_id_node(id), &m)) {
		return false;
	}
	c->id = id;
	snprintf(c->loc.address, sizeof(c->loc.address), "%s", m.address);
	c->loc.port = m.port;
	return true;
}

static void copies_answered(struct op *op, const struct etcd_result *r)
{
	json_t *kvs = r->status ? NULL : etcd_json_txn_range(r->body, 0);
	uint64_t placed[TABLE_MAX_COPIES];
	unsigned count = 0;
	struct etcd_kv kv;

	if (r->status) {
		table_etcd_op_finish(op, -EHOSTUNREACH, NULL);
		return;
	}
	if (json_array_size(kvs) == 1 &&
	    (etcd_json_kv(json_array_get(kvs, 0), &kv) ||
	     chunk_placed_decode(kv.value, placed, &count))) {
		table_etcd_op_finish(op, -EPROTO, NULL);
		return;
	} /* no key: not replicated, or not sealed yet */
	for (unsigned i = 0; i < count; i++)
		if (locate_copy(op->t, placed[i],
				&op->copies.copy[op->copies.count]))
			op->copies.count++;
	table_etcd_op_finish(op, 0, NULL);
}

void table_etcd_copies(struct table *tt, uint64_t id, table_done_fn *done,
		       void *arg)
{
	struct etcd_table *t = table_etcd_of(tt);
	struct table_record none = {0};
	char key[CLUSTER_KEY_MAX];
	uint64_t copies;
	struct op *op;

	if (cluster_id_node(id) == t->node &&
	    !idmap_get(&t->replicas, cluster_id_local(id), &copies)) {
		table_etcd_refuse(done, arg, 0); /* one copy, here */
		return;
	}
	op = table_etcd_op_new(t, copies_answered, &none, done, arg);
	if (!op) {
		table_etcd_refuse(done, arg, -ENOMEM);
		return;
	}
	op->chunk = id;
	cluster_key_placed(key, sizeof(key), t->prefix, id);
	/* A txn whose only op is the range, as the other answers are. */
	table_etcd_send_txn(
		op,
		etcd_json_txn(NULL, etcd_json_list(etcd_json_get(key), NULL),
			      NULL));
}
