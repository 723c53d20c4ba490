#include "table_slot.h"

#include <string.h>

#include "common/crc32c.h"
#include "proto/wire.h"
#include "pool/superblock.h"

_Static_assert(8 + 2 * SLOT_VERSION_LEN == TABLE_SLOT_SIZE,
	       "two versions and a commit word fill a slot");

enum { DISK_OPEN = 1, DISK_SEALED = 2, DISK_FREED = 3 };

void slot_encode_version(const struct table_record *rec,
			 uint8_t out[SLOT_VERSION_LEN])
{
	uint8_t state = rec->state == TABLE_CHUNK_OPEN	   ? DISK_OPEN
			: rec->state == TABLE_CHUNK_SEALED ? DISK_SEALED
							   : DISK_FREED;

	memset(out, 0, SLOT_VERSION_LEN);
	wire_put_u64(out + 0, rec->id);
	wire_put_u64(out + 8, rec->offset);
	wire_put_u64(out + 16, rec->length);
	wire_put_u64(out + 24, rec->sealed_len);
	wire_put_u64(out + 32, rec->session);
	wire_put_u32(out + 40, rec->epoch);
	wire_put_u32(out + 44, rec->crc);
	wire_put_u32(out + 48, rec->created_s);
	wire_put_u32(out + 52, rec->sealed_s);
	wire_put_u8(out + 56, state);
}

static uint32_t version_crc(uint32_t slot_index, const uint8_t *version)
{
	uint8_t index_le[4];

	wire_put_u32(index_le, slot_index);
	return crc32c(crc32c(0, index_le, 4), version, SLOT_VERSION_LEN);
}

uint64_t slot_commit_word(uint32_t slot_index, int which,
			  const uint8_t version[SLOT_VERSION_LEN])
{
	return (uint64_t)SLOT_COMMIT_MAGIC << 48 | (uint64_t)(which & 1) << 32 |
	       version_crc(slot_index, version);
}

static void decode_fields(const uint8_t *v, struct table_record *rec)
{
	rec->id = wire_get_u64(v + 0);
	rec->offset = wire_get_u64(v + 8);
	rec->length = wire_get_u64(v + 16);
	rec->sealed_len = wire_get_u64(v + 24);
	rec->session = wire_get_u64(v + 32);
	rec->epoch = wire_get_u32(v + 40);
	rec->crc = wire_get_u32(v + 44);
	rec->created_s = wire_get_u32(v + 48);
	rec->sealed_s = wire_get_u32(v + 52);
}

/* Whether a live record's placement fits the chunk area. */
static bool placement_is_sane(const struct table_record *rec,
			      uint64_t area_size, uint64_t granularity)
{
	return rec->length > 0 && rec->offset % granularity == 0 &&
	       rec->length % granularity == 0 && rec->offset < area_size &&
	       rec->length <= area_size - rec->offset &&
	       rec->sealed_len <= rec->length;
}

enum slot_decode slot_decode(const uint8_t *slot, uint32_t slot_index,
			     uint64_t area_size, uint64_t granularity,
			     struct table_record *rec, int *which)
{
	uint64_t commit = wire_get_u64(slot);
	const uint8_t *v;
	uint8_t state;

	if (commit == 0)
		return SLOT_UNUSED;
	if (commit >> 48 != SLOT_COMMIT_MAGIC || (commit >> 33 & 0x7fff) != 0)
		return SLOT_CORRUPT;
	*which = (int)(commit >> 32 & 1);
	v = slot + slot_version_offset(*which);
	if ((uint32_t)commit != version_crc(slot_index, v) || v[57] || v[58] ||
	    v[59])
		return SLOT_CORRUPT;
	decode_fields(v, rec);
	state = v[56];
	if (rec->id == 0)
		return SLOT_CORRUPT;
	if (state == DISK_FREED) {
		rec->state = TABLE_CHUNK_FREE;
		return SLOT_FREED;
	}
	if (state != DISK_OPEN && state != DISK_SEALED)
		return SLOT_CORRUPT;
	rec->state = state == DISK_OPEN ? TABLE_CHUNK_OPEN : TABLE_CHUNK_SEALED;
	if (!placement_is_sane(rec, area_size, granularity))
		return SLOT_CORRUPT;
	return SLOT_LIVE;
}
