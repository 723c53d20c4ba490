/*
 * Frees under way: a chunk whose grants are being revoked on workers, or
 * whose free the table is making durable. A free revokes every session's
 * grant of the chunk (the owner's write, everyone's read) without blocking
 * the loop, and asks the table to free it only once every revoke is over,
 * so no access through an old rkey reaches space the table may hand out
 * again. Until the table has answered, the chunk counts as gone: no OPEN,
 * seal, persist or second free finds it, and no grant of it is made
 * (frees_under_way), so nothing is granted that the free would not revoke.
 *
 * Threading: the event loop's, as the service.
 */
#ifndef CHUNKD_SERVER_FREES_H
#define CHUNKD_SERVER_FREES_H

#include <stdbool.h>
#include <stdint.h>

#include "table/table.h"

struct service;
struct free_wait;

/* Revokes every grant of rec's chunk, then frees it in the table and calls
 * done(arg, result) (table.h); done may be called before this returns. */
void frees_start(struct service *s, const struct table_record *rec,
		 table_done_fn *done, void *arg);

/* Whether a free of chunk is under way. */
bool frees_under_way(const struct service *s, uint64_t chunk);

/* table_lookup() for the service: -ENOENT for a chunk a free is taking. */
int frees_lookup(const struct service *s, uint64_t chunk,
		 struct table_record *rec);

#endif
