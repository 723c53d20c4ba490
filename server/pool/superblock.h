/*
 * The pool's superblock: what the pool is and where its parts lie. Two
 * copies (A at offset 0, B at 4 KiB), each checksummed, so one damaged copy
 * loses nothing. Written whole at creation; recovery rewrites a damaged copy
 * from the good one.
 *
 * Pool layout:
 *   0        superblock A (4 KiB)
 *   4 KiB    superblock B (4 KiB)
 *   8 KiB    table: table_slots slots of TABLE_SLOT_SIZE bytes
 *   ...      chunk area, aligned to the granularity, to the end of the pool
 *
 * Superblock copy, little-endian, CRC32C over bytes 0..123 at 124:
 *   0 magic "CHUNKDPL"  8 format version  12 reserved  16 uuid (16 bytes)
 *  32 pool size  40 granularity  48 table offset  56 table slots
 *  64 chunk area offset  72 chunk area size  80 created (ns since 1970)
 *  88 generation (the higher valid copy wins)  96..123 zero
 */
#ifndef CHUNKD_SERVER_SUPERBLOCK_H
#define CHUNKD_SERVER_SUPERBLOCK_H

#include <stdint.h>

#include "persist.h"

#define SUPERBLOCK_FORMAT_VERSION 1u
#define SUPERBLOCK_COPY_SIZE	  4096u
#define SUPERBLOCK_AREA_SIZE	  (2 * SUPERBLOCK_COPY_SIZE)
#define TABLE_SLOT_SIZE		  128u
#define GRANULARITY_MIN		  64u

struct pool_geometry {
	uint8_t uuid[16];
	uint32_t format_version;
	uint64_t pool_size;
	uint64_t granularity; /* allocation unit of the chunk area, 2^n bytes */
	uint64_t table_offset;
	uint64_t table_slots;
	uint64_t chunk_area_offset;
	uint64_t chunk_area_size;
	uint64_t created_ns;
	uint64_t generation;
};

/* What superblock_read found, for logs and tests. */
enum superblock_copy_state {
	SB_COPY_GOOD,
	SB_COPY_BLANK,	 /* all zero: never written */
	SB_COPY_CORRUPT, /* bad magic, checksum or geometry */
	SB_COPY_TOO_NEW, /* valid, but a newer format than ours */
	SB_COPY_LONGER,	 /* valid, but records a pool longer than the map */
};

struct superblock_report {
	enum superblock_copy_state copy[2];
	int used_copy;		/* 0 or 1, or -1 when none was used */
	uint64_t recorded_size; /* pool size a LONGER copy records */
};

/*
 * Lays out a pool of pool_size bytes: fills *geo (new uuid, time) for
 * table_slots slots (0: one per 16 KiB of pool, at least 64) and chunks in
 * units of granularity (a power of two, at least GRANULARITY_MIN).
 * Returns 0, -EINVAL for a bad granularity, or -ENOSPC when the pool cannot
 * hold the metadata and at least one granule.
 */
int superblock_plan(uint64_t pool_size, uint64_t granularity,
		    uint64_t table_slots, struct pool_geometry *geo);

/* The smallest pool superblock_plan() lays out with these arguments (a
 * power-of-two granularity of at least GRANULARITY_MIN). */
uint64_t superblock_min_pool_size(uint64_t granularity, uint64_t table_slots);

/* Formats a new pool: zeroes and persists the table region, then writes
 * and persists both superblock copies, A first. A power cut part way leaves
 * a pool that superblock_read() reports blank or damaged, never valid with
 * a table of leftovers. */
void superblock_format(const struct persister *p, uint8_t *base,
		       const struct pool_geometry *geo);

/*
 * Reads both copies of a pool mapped at base, mapped_len bytes long. Returns
 * 0 and fills *geo from the valid copy with the higher generation, or:
 *   -ENODATA          both copies blank (a pool never formatted)
 *   -EPROTONOSUPPORT  a valid copy of a newer format
 *   -EBADMSG          no valid copy
 * Fills *report in every case. Never writes.
 */
int superblock_read(const uint8_t *base, uint64_t mapped_len,
		    struct pool_geometry *geo,
		    struct superblock_report *report);

/* Rewrites copies that are not good from geo; returns how many it wrote. */
int superblock_repair(const struct persister *p, uint8_t *base,
		      const struct pool_geometry *geo,
		      const struct superblock_report *report);

const char *superblock_copy_state_name(enum superblock_copy_state state);

#endif
