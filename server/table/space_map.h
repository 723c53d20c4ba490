/*
 * The allocator of the chunk area: one bit per granule, rebuilt from the
 * table at open and never stored.
 *
 * Policy: next fit. A search starts where the previous allocation ended and
 * takes the first run of free granules long enough, wrapping around once.
 * Consecutive allocations are thus laid out in address order, frees leave
 * holes that are reused when the rover comes round again, and a request
 * fails with -ENOSPC only when no free run is long enough, even though more
 * granules than it needs may be free in smaller holes (external
 * fragmentation; chunks never move, so there is no compaction).
 * Internal fragmentation is below one granule per chunk.
 *
 * Cost: a search skips 64 used or 64 free granules per step, so a full scan
 * of a 1 GiB pool of 4 KiB granules reads 4,096 words.
 */
#ifndef CHUNKD_SERVER_SPACE_MAP_H
#define CHUNKD_SERVER_SPACE_MAP_H

#include <stdint.h>

struct space_map {
	uint64_t *words;   /* bit set = granule used */
	uint64_t granules; /* granules managed */
	uint64_t used;	   /* granules in use */
	uint64_t rover;	   /* where the next search starts */
};

/* All granules start free. Returns 0 or -ENOMEM. */
int space_map_init(struct space_map *map, uint64_t granules);
void space_map_fini(struct space_map *map);

/* Finds and takes count free granules in a row. Returns 0 and sets *first,
 * -EINVAL for count 0, or -ENOSPC (nothing changes). */
int space_map_alloc(struct space_map *map, uint64_t count, uint64_t *first);

/* Takes the given granules, as recovery does for each live chunk. Returns 0,
 * -EINVAL when the range leaves the map, or -EEXIST when any granule is taken
 * already (two chunks would overlap); nothing changes on failure. */
int space_map_reserve(struct space_map *map, uint64_t first, uint64_t count);

/* Gives back granules taken by alloc or reserve. */
void space_map_release(struct space_map *map, uint64_t first, uint64_t count);

#endif
