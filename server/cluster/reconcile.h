/*
 * Reconciling a pool's own table with the records etcd holds for it, at
 * start. The pool is the durable record of its space, etcd of the chunks'
 * states; etcd commits a seal first, so:
 *
 *   pool OPEN, etcd SEALED (same place)   sealed in the pool (the seal
 *                                          committed; chunkd died before
 *                                          recording it)
 *   pool OPEN, otherwise                   freed (its session is gone)
 *   pool SEALED, etcd SEALED               kept (a mismatch is reported)
 *   pool SEALED, etcd none                 freed: etcd does not know it
 *                                          (its free committed; chunkd
 *                                          died before freeing the space)
 *   etcd SEALED, pool none                 reported, never dropped
 *
 * Runs on the start-up loop (join.h).
 */
#ifndef CHUNKD_CLUSTER_RECONCILE_H
#define CHUNKD_CLUSTER_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/idmap.h"
#include "etcd/etcd.h"
#include "table/table.h"

struct reconcile;

struct reconcile_report {
	uint64_t kept;	     /* SEALED in both */
	uint64_t reclaimed;  /* SEALED here, unknown to etcd: freed */
	uint64_t missing;    /* SEALED in etcd, absent here: reported */
	uint64_t mismatched; /* SEALED in both, but different: reported */
};

/* Reads every record etcd holds for node. Returns 0 and sets *out, or a
 * negative errno with the reason in err. */
int reconcile_read(struct etcd *e, const char *prefix, uint32_t node,
		   struct reconcile **out, char *err, size_t err_len);

/* Records of a node etcd has none of (a pool it does not know). */
int reconcile_empty(struct reconcile **out);

/* A table_pmem_settle_fn (arg: the reconcile): true when etcd holds the
 * OPEN chunk open as SEALED at the same place. */
bool reconcile_settle(void *arg, const struct table_record *open,
		      struct table_record *sealed);

/*
 * Brings local (the pool's pmem table, opened with reconcile_settle) in
 * line with etcd as above, fills revisions (pool id -> mod_revision of its
 * record) for the chunks kept, logs what it did, and fills *rep. Returns 0
 * or -ENOMEM.
 */
int reconcile_apply(struct reconcile *r, struct table *local,
		    struct idmap *revisions, struct reconcile_report *rep);

/* After reconcile_apply: fills replicas (pool id -> R) with the first
 * copies of replicated chunks the pool kept. 0 or -ENOMEM. */
int reconcile_replicas(const struct reconcile *r, struct idmap *replicas);

void reconcile_free(struct reconcile **r);

#endif
