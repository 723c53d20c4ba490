#include "superblock.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "common/crc32c.h"
#include "common/clock.h"
#include "proto/wire.h"

#define SB_MAGIC		  "CHUNKDPL"
#define SB_CRC_OFFSET		  124u
#define SB_ENCODED_LEN		  128u
#define SB_DEFAULT_BYTES_PER_SLOT (16u * 1024)
#define SB_MIN_SLOTS		  64u

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

uint64_t superblock_min_pool_size(uint64_t granularity, uint64_t table_slots)
{
	uint64_t slots = table_slots ? table_slots : SB_MIN_SLOTS;

	return round_up(SUPERBLOCK_AREA_SIZE + slots * TABLE_SLOT_SIZE,
			granularity) +
	       granularity;
}

int superblock_plan(uint64_t pool_size, uint64_t granularity,
		    uint64_t table_slots, struct pool_geometry *geo)
{
	uint64_t table_end, area;

	if (granularity < GRANULARITY_MIN || (granularity & (granularity - 1)))
		return -EINVAL;
	if (table_slots == 0) {
		table_slots = pool_size / SB_DEFAULT_BYTES_PER_SLOT;
		if (table_slots < SB_MIN_SLOTS)
			table_slots = SB_MIN_SLOTS;
	}
	if (table_slots > UINT32_MAX) /* slots are indexed with 32 bits */
		return -EINVAL;
	table_end = SUPERBLOCK_AREA_SIZE + table_slots * TABLE_SLOT_SIZE;
	area = round_up(table_end, granularity);
	if (area >= pool_size || pool_size - area < granularity)
		return -ENOSPC;
	memset(geo, 0, sizeof(*geo));
	if (getrandom(geo->uuid, sizeof(geo->uuid), 0) != sizeof(geo->uuid))
		return -errno;
	geo->format_version = SUPERBLOCK_FORMAT_VERSION;
	geo->pool_size = pool_size;
	geo->granularity = granularity;
	geo->table_offset = SUPERBLOCK_AREA_SIZE;
	geo->table_slots = table_slots;
	geo->chunk_area_offset = area;
	geo->chunk_area_size = (pool_size - area) & ~(granularity - 1);
	geo->created_ns = clock_real_ns();
	geo->generation = 1;
	return 0;
}

static void encode(const struct pool_geometry *geo, uint8_t *buf)
{
	memset(buf, 0, SB_ENCODED_LEN);
	memcpy(buf, SB_MAGIC, 8);
	wire_put_u32(buf + 8, geo->format_version);
	memcpy(buf + 16, geo->uuid, 16);
	wire_put_u64(buf + 32, geo->pool_size);
	wire_put_u64(buf + 40, geo->granularity);
	wire_put_u64(buf + 48, geo->table_offset);
	wire_put_u64(buf + 56, geo->table_slots);
	wire_put_u64(buf + 64, geo->chunk_area_offset);
	wire_put_u64(buf + 72, geo->chunk_area_size);
	wire_put_u64(buf + 80, geo->created_ns);
	wire_put_u64(buf + 88, geo->generation);
	wire_put_u32(buf + SB_CRC_OFFSET, crc32c(0, buf, SB_CRC_OFFSET));
}

static void decode(const uint8_t *buf, struct pool_geometry *geo)
{
	geo->format_version = wire_get_u32(buf + 8);
	memcpy(geo->uuid, buf + 16, 16);
	geo->pool_size = wire_get_u64(buf + 32);
	geo->granularity = wire_get_u64(buf + 40);
	geo->table_offset = wire_get_u64(buf + 48);
	geo->table_slots = wire_get_u64(buf + 56);
	geo->chunk_area_offset = wire_get_u64(buf + 64);
	geo->chunk_area_size = wire_get_u64(buf + 72);
	geo->created_ns = wire_get_u64(buf + 80);
	geo->generation = wire_get_u64(buf + 88);
}

static void write_copy(const struct persister *p, uint8_t *base, int copy,
		       const struct pool_geometry *geo)
{
	uint8_t buf[SB_ENCODED_LEN];
	uint8_t *dst = base + (size_t)copy * SUPERBLOCK_COPY_SIZE;

	encode(geo, buf);
	persist_store(p, dst, buf, sizeof(buf));
	persist_range(p, dst, sizeof(buf));
}

void superblock_format(const struct persister *p, uint8_t *base,
		       const struct pool_geometry *geo)
{
	uint8_t *table = base + geo->table_offset;
	size_t len = (size_t)(geo->chunk_area_offset - geo->table_offset);

	persist_zero(p, table, len);
	persist_range(p, table, len);
	write_copy(p, base, 0, geo);
	write_copy(p, base, 1, geo);
}

/* Whether the parts of the pool the geometry names fit together (the
 * caller checks the pool's size against what is mapped). */
static bool geometry_is_sane(const struct pool_geometry *g)
{
	uint64_t table_end;

	if (g->granularity < GRANULARITY_MIN ||
	    (g->granularity & (g->granularity - 1)) ||
	    g->table_offset != SUPERBLOCK_AREA_SIZE || g->table_slots == 0 ||
	    g->table_slots > UINT32_MAX)
		return false;
	table_end = g->table_offset + g->table_slots * TABLE_SLOT_SIZE;
	return g->chunk_area_offset >= table_end &&
	       g->chunk_area_offset % g->granularity == 0 &&
	       g->chunk_area_offset < g->pool_size && g->chunk_area_size > 0 &&
	       g->chunk_area_size % g->granularity == 0 &&
	       g->chunk_area_size <= g->pool_size - g->chunk_area_offset;
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static enum superblock_copy_state read_copy(const uint8_t *buf, uint64_t mapped,
					    struct pool_geometry *geo)
{
	if (all_zero(buf, SB_ENCODED_LEN))
		return SB_COPY_BLANK;
	if (memcmp(buf, SB_MAGIC, 8) != 0 ||
	    wire_get_u32(buf + SB_CRC_OFFSET) != crc32c(0, buf, SB_CRC_OFFSET))
		return SB_COPY_CORRUPT;
	decode(buf, geo);
	if (geo->format_version > SUPERBLOCK_FORMAT_VERSION)
		return SB_COPY_TOO_NEW;
	if (geo->format_version == 0 || !all_zero(buf + 96, 28) ||
	    !geometry_is_sane(geo))
		return SB_COPY_CORRUPT;
	/* An intact copy of a longer pool: the file was cut short, or it
	 * is another pool's superblock. Either way, not this one's data. */
	return geo->pool_size > mapped ? SB_COPY_LONGER : SB_COPY_GOOD;
}

int superblock_read(const uint8_t *base, uint64_t mapped_len,
		    struct pool_geometry *geo, struct superblock_report *report)
{
	struct pool_geometry copies[2];
	enum superblock_copy_state *st = report->copy;

	report->used_copy = -1;
	if (mapped_len < SUPERBLOCK_AREA_SIZE) {
		st[0] = st[1] = SB_COPY_CORRUPT;
		return -EBADMSG;
	}
	for (int i = 0; i < 2; i++) {
		st[i] = read_copy(base + (size_t)i * SUPERBLOCK_COPY_SIZE,
				  mapped_len, &copies[i]);
		if (st[i] == SB_COPY_LONGER)
			report->recorded_size = copies[i].pool_size;
	}
	if (st[0] == SB_COPY_TOO_NEW || st[1] == SB_COPY_TOO_NEW)
		return -EPROTONOSUPPORT;
	if ((st[0] == SB_COPY_LONGER || st[1] == SB_COPY_LONGER) &&
	    st[0] != SB_COPY_GOOD && st[1] != SB_COPY_GOOD)
		return -EFBIG;
	if (st[0] == SB_COPY_BLANK && st[1] == SB_COPY_BLANK)
		return -ENODATA;
	if (st[0] == SB_COPY_GOOD &&
	    (st[1] != SB_COPY_GOOD ||
	     copies[0].generation >= copies[1].generation))
		report->used_copy = 0;
	else if (st[1] == SB_COPY_GOOD)
		report->used_copy = 1;
	else
		return -EBADMSG;
	*geo = copies[report->used_copy];
	return 0;
}

int superblock_repair(const struct persister *p, uint8_t *base,
		      const struct pool_geometry *geo,
		      const struct superblock_report *report)
{
	int written = 0;

	for (int i = 0; i < 2; i++) {
		if (report->copy[i] != SB_COPY_GOOD) {
			write_copy(p, base, i, geo);
			written++;
		}
	}
	return written;
}

const char *superblock_copy_state_name(enum superblock_copy_state state)
{
	switch (state) {
	case SB_COPY_GOOD:
		return "good";
	case SB_COPY_BLANK:
		return "blank";
	case SB_COPY_CORRUPT:
		return "corrupt";
	case SB_COPY_TOO_NEW:
		return "newer format";
	case SB_COPY_LONGER:
		return "records a longer pool";
	}
	return "unknown";
}
