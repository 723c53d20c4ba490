/*
 * A hash map from 64-bit ids to 64-bit values (table slots, revisions), for
 * lookups of chunks by id. Open addressing with linear probing; deletion shifts
 * entries back instead of leaving tombstones, so lookups stay short after
 * churn. Id 0 cannot be stored (it marks an empty bucket). Not thread-safe.
 */
#ifndef CHUNKD_COMMON_IDMAP_H
#define CHUNKD_COMMON_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idmap_bucket {
	uint64_t id;
	uint64_t value;
};

struct idmap {
	struct idmap_bucket *buckets;
	size_t mask;  /* bucket count - 1; the count is a power of two */
	size_t count; /* ids stored */
};

/* Sizes the map for expected ids without growing. Returns 0 or -ENOMEM. */
int idmap_init(struct idmap *map, size_t expected);
void idmap_fini(struct idmap *map);

/* Adds or replaces id. Returns 0, -EINVAL for id 0, or -ENOMEM (the map is
 * then unchanged). */
int idmap_put(struct idmap *map, uint64_t id, uint64_t value);

/* Sets *value and returns true when id is present. */
bool idmap_get(const struct idmap *map, uint64_t id, uint64_t *value);

/* Removes id; returns whether it was present. */
bool idmap_remove(struct idmap *map, uint64_t id);

#endif
