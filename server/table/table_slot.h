/*
 * One record slot of the pmem table (TABLE_SLOT_SIZE = 128 bytes):
 *
 *    0  commit word (u64)   which version is current, and its checksum
 *    8  version 0 (60 bytes)
 *   68  version 1 (60 bytes)
 *
 * An update writes the new record into the version that is not current and
 * persists it, then stores the commit word (8 bytes, atomic) naming it and
 * persists that. A power cut before the commit word is durable leaves the
 * old version current; after, the new one. The commit word also carries the
 * CRC32C of the current version (seeded with the slot's index), so damage to
 * either is detected.
 *
 * Commit word: bits 0-31 CRC32C, bit 32 current version, bits 33-47 zero,
 * bits 48-63 SLOT_COMMIT_MAGIC. Zero: the slot was never used.
 *
 * Version (little-endian): 0 id, 8 offset, 16 length, 24 sealed_len,
 * 32 session, 40 epoch (u32), 44 crc (u32), 48 created_s (u32),
 * 52 sealed_s (u32), 56 state (u8: 1 open, 2 sealed, 3 freed), 57..59 zero.
 * A freed record keeps its id, so recovery can find the highest id ever
 * handed out and never hand it out again.
 */
#ifndef CHUNKD_SERVER_TABLE_SLOT_H
#define CHUNKD_SERVER_TABLE_SLOT_H

#include <stdint.h>

#include "table.h"

#define SLOT_VERSION_LEN  60u
#define SLOT_COMMIT_MAGIC 0xc4d1u

enum slot_decode {
	SLOT_UNUSED,  /* never written: commit word zero */
	SLOT_LIVE,    /* an OPEN or SEALED record */
	SLOT_FREED,   /* a freed record; only its id matters */
	SLOT_CORRUPT, /* bad commit word, checksum or fields */
};

/* Encodes rec (state OPEN or SEALED; FREE encodes as freed). */
void slot_encode_version(const struct table_record *rec,
			 uint8_t out[SLOT_VERSION_LEN]);

/* The commit word naming version `which` whose bytes are `version`. */
uint64_t slot_commit_word(uint32_t slot_index, int which,
			  const uint8_t version[SLOT_VERSION_LEN]);

/*
 * Decodes slot slot_index at `slot` (TABLE_SLOT_SIZE bytes) and checks it
 * against a chunk area of area_size bytes in units of granularity. Fills
 * *rec for SLOT_LIVE and SLOT_FREED (id only matters there), and *which.
 */
enum slot_decode slot_decode(const uint8_t *slot, uint32_t slot_index,
			     uint64_t area_size, uint64_t granularity,
			     struct table_record *rec, int *which);

/* Byte offset of version `which` within a slot. */
static inline unsigned slot_version_offset(int which)
{
	return 8u + (unsigned)which * SLOT_VERSION_LEN;
}

#endif
