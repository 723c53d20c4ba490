/*
 * The chunks of a pool whose fate waits for etcd: an alloc whose answer
 * never came (its OPEN record may exist), a chunk of a session that ended
 * (its OPEN record is to go), a free whose answers never came (its record
 * may be gone already). A doomed chunk keeps its space until etcd
 * has confirmed its record gone; then the pool frees it. If etcd holds the
 * record SEALED (a seal of ours committed, and its answer was lost), the
 * pool seals it instead. Until settled it is retried every second, so no
 * two live records of one pool ever overlap, whatever etcd does.
 *
 * Threading: the event-loop thread (the etcd's).
 */
#ifndef CHUNKD_CLUSTER_DOOMED_H
#define CHUNKD_CLUSTER_DOOMED_H

#include <stdbool.h>
#include <stdint.h>

#include "common/idmap.h"
#include "etcd/etcd.h"
#include "table/table.h"

struct doomed;

struct doomed_opts {
	struct etcd *etcd;
	struct table *local;	 /* the pool's own table */
	struct idmap *revisions; /* pool id -> its record's mod_revision,
				  * shared with the cluster's table */
	const char *prefix;
	uint32_t node;
};

/* Called once per doomed_add, when the first attempt to settle the chunk
 * ends: freed says whether its space was freed then. */
typedef void doomed_tried_fn(void *arg, bool freed);

/* Returns 0 and sets *out, or -ENOMEM. */
int doomed_new(const struct doomed_opts *o, struct doomed **out);

/* Drops what waits for etcd (call after the etcd has dropped its calls)
 * and sets *d to NULL. The pool's space of chunks still doomed stays
 * taken; recovery at the next start frees it. */
void doomed_free(struct doomed **d);

/* Dooms the pool's chunk rec (rec->id: the pool's id) and starts settling
 * it; tried (may be NULL) hears how the first attempt went. */
void doomed_add(struct doomed *d, const struct table_record *rec,
		doomed_tried_fn *tried, void *arg);

/* Whether the pool's chunk id is doomed (hidden from lookups). */
bool doomed_has(const struct doomed *d, uint64_t id);

/* How many chunks are doomed. */
uint64_t doomed_count(const struct doomed *d);

#endif
