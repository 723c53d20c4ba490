/*
 * Where the copies of a replicated chunk go (issue 14's first part): R
 * distinct live members of the cluster. The policy:
 *
 *   1. the member the client allocates through holds the first copy (its
 *      pool's node is in the chunk's id, and the client is connected
 *      there already), if it has room;
 *   2. the other copies go to the other live members with the most free
 *      bytes, one copy each, the name breaking ties so every chunkd that
 *      sees the same membership chooses the same;
 *   3. a member without room for the chunk is skipped; fewer than R
 *      members with room is a refusal, never fewer copies.
 *
 * Free bytes are as each member last reported them (its registration, kept
 * current by its keepalive), so two allocations at once may both choose a
 * member that can take only one; that one then refuses its copy, and the
 * allocation fails rather than place fewer copies.
 */
#ifndef CHUNKD_CLUSTER_PLACEMENT_H
#define CHUNKD_CLUSTER_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "member.h"

#define PLACEMENT_MAX_COPIES 8

/*
 * Chooses r copies (1 to PLACEMENT_MAX_COPIES) of size bytes among the
 * count live members, self (a name) first when it has room. Fills out[0..r)
 * with pointers into members and returns 0; -EINVAL for r out of range;
 * -ENOSPC when fewer than r members have room (then *with_room says how
 * many do, for the error).
 */
int placement_choose(const struct member *members, size_t count,
		     const char *self, unsigned r, uint64_t size,
		     const struct member **out, unsigned *with_room);

#endif
