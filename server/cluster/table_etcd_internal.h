/*
 * The etcd table's insides, shared by its files, top to bottom:
 * table_etcd.c (the table's ops), table_etcd_replicas.c (replicated
 * chunks' alloc, seal and copy list), table_etcd_op.c (ops in flight, and
 * the alloc and committed seal both others make). Nothing else includes
 * this.
 */
#ifndef CHUNKD_CLUSTER_TABLE_ETCD_INTERNAL_H
#define CHUNKD_CLUSTER_TABLE_ETCD_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_keys.h"
#include "common/idmap.h"
#include "common/list.h"
#include "etcd/etcd.h"
#include "table/table.h"

/* Round trips a seal or free makes before it counts etcd as unreachable
 * (a compare on the revision makes a retry of either harmless). */
#define CHANGE_ATTEMPTS 3

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
	struct idmap replicas;	/* pool id -> R: first copies of chunks of
				 * R copies */
	struct idmap copy_of;	/* pool id -> the chunk it is a further copy
				 * of (OPEN ones: a sealed one's record says) */
	struct list_link ops;	/* waiting for etcd */
};

struct op;

/* What an op does when etcd answers it. */
typedef void op_answer_fn(struct op *op, const struct etcd_result *r);

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
	op_answer_fn *answer;
	struct table_record rec; /* rec.id: the pool's id */
	table_done_fn *done;
	void *arg;
	unsigned attempts;
	struct list_link link; /* on t->ops */
	/* Replicated chunks: the other copies (OP_VERIFY, OP_SEAL_ALL) and
	 * their records' revisions once read; the chunk asked for
	 * (OP_COPIES); what the caller is told of copies. */
	unsigned count;
	uint64_t others[TABLE_MAX_COPIES];
	int64_t other_revs[TABLE_MAX_COPIES];
	uint64_t chunk;
	uint64_t lost, copy; /* OP_REPLACE: the copy replaced, its successor */
	int64_t placed_rev;  /* the placed key's revision as read */
	struct table_copies copies;
	uint64_t bad_copy;
};

struct etcd_table *table_etcd_of(struct table *t);

/* The etcd key of this pool's chunk local. */
void table_etcd_key(const struct etcd_table *t, uint64_t local, char *out,
		    size_t len);

/* The etcd key of any chunk of the cluster, by its cluster id. */
void table_etcd_id_key(const struct etcd_table *t, uint64_t id,
		       char key[CLUSTER_KEY_MAX]);

/* Reports status (and nothing else) to a change's caller. */
void table_etcd_refuse(table_done_fn *done, void *arg, int status);

/* The checks every seal makes before a round trip: the OPEN chunk id (a
 * cluster id) of this pool into *rec, its id the pool's, with sealed_len
 * and crc set, and the copies it was allocated with into *copies (1 for
 * a chunk of one copy). 0, -ENOENT, -EALREADY (sealed), -EINVAL
 * (sealed_len over its length). */
int table_etcd_sealable(struct etcd_table *t, uint64_t id, uint64_t sealed_len,
			uint32_t crc, struct table_record *rec,
			unsigned *copies);

/* The record as etcd keeps it (with what the table knows of its copies);
 * NULL when memory ran out. */
char *table_etcd_encode(const struct etcd_table *t,
			const struct table_record *r);

/* etcd committed op's seal at revision rev: the pool records it, and op
 * finishes. */
void table_etcd_seal_committed(struct op *op, int64_t rev);

/* An op waiting for etcd (on t->ops); NULL when out of memory. */
struct op *table_etcd_op_new(struct etcd_table *t, op_answer_fn *answer,
			     const struct table_record *rec,
			     table_done_fn *done, void *arg);
void table_etcd_op_free(struct op *op);

/* Sends txn for op (taken); on failure to start, answers op as
 * unreachable. */
void table_etcd_send_txn(struct op *op, json_t *txn);

/* Reports to op's caller (rec with the cluster's id, op's copies and bad
 * copy), and frees op. */
void table_etcd_op_finish(struct op *op, int status,
			  const struct table_record *rec);

/* The mod_revision this chunkd last wrote for its chunk local. */
int64_t table_etcd_revision(struct etcd_table *t, uint64_t local);

/* Forgets what the table knew of chunk local's copies (it is gone). */
void table_etcd_forget_replication(struct etcd_table *t, uint64_t local);

/* The ops of table_etcd_replicas.c. */
void table_etcd_alloc_replica(struct table *t, const struct table_alloc_args *a,
			      table_done_fn *done, void *arg);
void table_etcd_seal_replicated(struct table *t, uint64_t id,
				uint64_t sealed_len, uint32_t crc,
				const uint64_t *others, unsigned count,
				table_done_fn *done, void *arg);
void table_etcd_copies(struct table *t, uint64_t id, table_done_fn *done,
		       void *arg);
void table_etcd_replace_copy(struct table *t, uint64_t chunk, uint64_t lost,
			     uint64_t copy, table_done_fn *done, void *arg);

/* What an allocation says of copies: none (all zero), the first of
 * `copies` (where: the others' servers, told to the caller), or a further
 * copy of copy_of. */
struct alloc_replication {
	unsigned copies;
	uint64_t copy_of;
	const struct table_copies *where;
};

/* The alloc every kind shares: the pool's space, then the OPEN record. */
void table_etcd_alloc_common(struct etcd_table *t,
			     const struct table_alloc_args *a,
			     const struct alloc_replication *rep,
			     table_done_fn *done, void *arg);

#endif
