/*
 * The pool: the pmem region chunkd owns, mapped with libpmem.
 *
 * It may live on device-DAX (/dev/daxX.Y: real pmem) or in a file on tmpfs
 * or hugetlbfs (DRAM: for tests and hosts without pmem; the contents survive
 * a chunkd restart, not a reboot). Anything else is refused, because RDMA
 * cannot register it: ibv_reg_mr fails on files of a DAX file system (no
 * long-term pinning of fsdax pages) and, on recent kernels, on page-cache
 * files of disk file systems.
 *
 * An open pool holds an exclusive lock (flock) so a second chunkd cannot
 * open it. Threading: owned by one thread.
 */
#ifndef CHUNKD_SERVER_POOL_H
#define CHUNKD_SERVER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "persist.h"
#include "superblock.h"

enum pool_backing {
	POOL_DEVDAX, /* device-DAX: persistent memory */
	POOL_DRAM,   /* a tmpfs or hugetlbfs file: lost at reboot */
};

struct pool_opts {
	const char *path;
	uint64_t create_size; /* create the pool file of this size; 0: open */
	uint64_t granularity; /* for a new pool; 0: POOL_DEFAULT_GRANULARITY */
	uint64_t table_slots; /* for a new pool; 0: one per 16 KiB */
};

#define POOL_DEFAULT_GRANULARITY 4096u

struct pool {
	uint8_t *base;
	size_t mapped_len;
	enum pool_backing backing;
	bool created; /* formatted by this open */
	int repaired; /* superblock copies rewritten by this open */
	struct persister persist;
	struct pool_geometry geo;
	struct superblock_report superblock;
	int lock_fd;
};

/*
 * Opens the pool at opts->path, creating and formatting it when it is blank
 * (a new file of opts->create_size bytes, or a device-DAX node whose
 * superblocks are all zero). Returns 0 and sets *out, or a negative errno
 * with a one-line reason in err; a pool that fails to open is left as it
 * was (a file this call created is removed again).
 */
int pool_open(const struct pool_opts *opts, struct pool **out, char *err,
	      size_t err_len);

/* Unmaps and unlocks the pool and sets *pool to NULL. */
void pool_close(struct pool **pool);

/* Closes a pool for a chunkd that failed to start: if this open created it,
 * it is removed again (a file unlinked, device-DAX blanked), so a failed
 * start leaves nothing behind. A pool that existed before is only closed. */
void pool_discard(struct pool **pool, const char *path);

/* The chunk area's first byte. */
static inline uint8_t *pool_chunk_area(const struct pool *pool)
{
	return pool->base + pool->geo.chunk_area_offset;
}

const char *pool_backing_name(enum pool_backing backing);

/* What operators see of a pool. */
struct pool_info {
	const char *backing;  /* pool_backing_name() */
	uint64_t size;	      /* bytes mapped */
	uint64_t area_offset; /* where the chunk area starts */
	uint64_t granularity;
};

void pool_describe(const struct pool *pool, struct pool_info *out);

#endif
