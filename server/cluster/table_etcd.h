/*
 * The cluster's table backend: each chunk's record lives in etcd, where
 * every chunkd of the cluster (and chunkctl) can see it, and this pool's
 * own pmem table stays the durable record of its space.
 *
 * Every change is one etcd transaction that compares the record's
 * mod_revision with the one this chunkd last wrote (fencing by revision,
 * never by lease timing):
 *
 *   alloc    the pool reserves the space, then a create-if-absent put of
 *            an OPEN record under this chunkd's lease; a failure gives the
 *            space back (after making sure the record is gone).
 *   seal     put SEALED (no lease) if the OPEN record is unchanged; then
 *            the pool records the seal. etcd is the commit point: a seal
 *            whose record vanished (this chunkd's lease expired) is
 *            refused with -ESTALE.
 *   free     delete if unchanged, then the pool frees the space. When
 *            no answer comes (the delete may have committed), the chunk
 *            is doomed: hidden at once, its record deleted or found gone
 *            once etcd answers, then its space freed.
 *   reclaim  the same for each OPEN chunk of a session; a record found
 *            SEALED (a seal whose answer was lost) is sealed in the pool.
 *
 * Seals and frees are retried a few times when no answer comes; the
 * compare makes a retry harmless, and a seal finding its own SEALED
 * record (an earlier attempt's, or an earlier seal's the caller was told
 * had failed) succeeds. The space of a chunk is reused only after etcd
 * has confirmed its record gone, so no two live records of one pool ever
 * overlap. etcd unreachable or without a leader: changes fail with
 * -EHOSTUNREACH (a failed alloc or free is settled later as above; a
 * failed seal leaves the chunk OPEN: seal it again), lookups and reads
 * go on from the pool.
 *
 * Threading: the event-loop thread, as every table.
 */
#ifndef CHUNKD_CLUSTER_TABLE_ETCD_H
#define CHUNKD_CLUSTER_TABLE_ETCD_H

#include <stdint.h>

#include "cluster_keys.h"
#include "common/idmap.h"
#include "etcd/etcd.h"
#include "table/table.h"

struct membership;

struct table_etcd_opts {
	const char *prefix;	    /* keys' prefix, ending in '/' */
	const char *name;	    /* this chunkd's member name */
	const char *pool_hex;	    /* its pool's uuid */
	uint32_t node;		    /* its pool's number */
	struct membership *members; /* for the lease OPEN records go under */
	struct idmap *replicas;	    /* pool id -> R of the replicated chunks
				     * reconciliation kept (taken), or NULL */
};

/*
 * Wraps the pool's table local (a pmem table, taken: closing the etcd
 * table closes it) with records in etcd e (borrowed). revisions maps the
 * pool's ids of live chunks to their records' mod_revisions (taken), as
 * reconciliation found them. Returns 0 and sets *out, or -ENOMEM (then
 * nothing was taken).
 */
int table_etcd_new(struct table *local, struct etcd *e,
		   const struct table_etcd_opts *o, struct idmap *revisions,
		   struct table **out);

/* Changes still waiting for etcd (undos of failed allocs and reclaims
 * retried until etcd confirms): for tests and chunkctl. */
uint64_t table_etcd_backlog(struct table *t);

#endif
