/*
 * A pool image in plain memory, for tests of the superblock and the table:
 * the same code as on pmem, with persistence left to the test's hooks.
 */
#ifndef CHUNKD_TESTS_MEM_POOL_H
#define CHUNKD_TESTS_MEM_POOL_H

#include <stdint.h>
#include <stdlib.h>

#include "pool/persist.h"
#include "pool/superblock.h"

struct mem_pool {
	uint8_t *image;
	struct pool_geometry geo;
	struct persister persist;
};

/* Formats a pool of size bytes in memory; returns 0 or a negative errno. */
static inline int mem_pool_create(struct mem_pool *mp, uint64_t size,
				  uint64_t granularity, uint64_t slots)
{
	int rc;

	mp->image = calloc(1, size);
	if (!mp->image)
		return -12;
	mp->persist = (struct persister){.mode = PERSIST_NONE};
	rc = superblock_plan(size, granularity, slots, &mp->geo);
	if (rc == 0)
		superblock_format(&mp->persist, mp->image, &mp->geo);
	return rc;
}

static inline void mem_pool_destroy(struct mem_pool *mp)
{
	free(mp->image);
	mp->image = NULL;
}

#endif
