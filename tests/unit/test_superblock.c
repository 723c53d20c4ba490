#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "../common/mem_pool.h"
#include "proto/wire.h"
#include "pool/superblock.h"

#define POOL_SIZE (256u * 1024)

static struct mem_pool mp;

static void setup(void)
{
	cr_assert_eq(mem_pool_create(&mp, POOL_SIZE, 4096, 64), 0);
}

static void teardown(void)
{
	mem_pool_destroy(&mp);
}

TestSuite(superblock, .init = setup, .fini = teardown);

static bool same_geometry(const struct pool_geometry *a,
			  const struct pool_geometry *b)
{
	return memcmp(a->uuid, b->uuid, 16) == 0 &&
	       a->format_version == b->format_version &&
	       a->pool_size == b->pool_size &&
	       a->granularity == b->granularity &&
	       a->table_offset == b->table_offset &&
	       a->table_slots == b->table_slots &&
	       a->chunk_area_offset == b->chunk_area_offset &&
	       a->chunk_area_size == b->chunk_area_size &&
	       a->created_ns == b->created_ns && a->generation == b->generation;
}

static int read_back(struct pool_geometry *geo, struct superblock_report *r)
{
	return superblock_read(mp.image, POOL_SIZE, geo, r);
}

Test(superblock, plan_lays_out_table_then_aligned_chunk_area)
{
	cr_assert_eq(mp.geo.table_offset, SUPERBLOCK_AREA_SIZE);
	cr_assert_eq(mp.geo.chunk_area_offset % 4096, 0);
	cr_assert_geq(mp.geo.chunk_area_offset,
		      mp.geo.table_offset + 64 * TABLE_SLOT_SIZE);
	cr_assert_eq(mp.geo.chunk_area_offset + mp.geo.chunk_area_size,
		     POOL_SIZE);
}

Test(superblock, plan_refuses_tiny_pools_and_odd_granularity)
{
	struct pool_geometry g;

	cr_assert_eq(superblock_plan(16384, 4096, 0, &g), -ENOSPC);
	cr_assert_eq(superblock_plan(POOL_SIZE, 3000, 0, &g), -EINVAL);
	cr_assert_eq(superblock_plan(POOL_SIZE, 32, 0, &g), -EINVAL);
}

Test(superblock, reads_back_what_format_wrote)
{
	struct pool_geometry g;
	struct superblock_report r;

	cr_assert_eq(read_back(&g, &r), 0);
	cr_assert_eq(r.used_copy, 0);
	cr_assert(same_geometry(&g, &mp.geo));
}

Test(superblock, blank_pool_is_reported_blank)
{
	struct pool_geometry g;
	struct superblock_report r;

	memset(mp.image, 0, SUPERBLOCK_AREA_SIZE);
	cr_assert_eq(read_back(&g, &r), -ENODATA);
}

/* Damages copy `copy` in the way `how` names, one of several. */
static void damage(int copy, int how, int k)
{
	uint8_t *sb = mp.image + copy * SUPERBLOCK_COPY_SIZE;

	switch (how) {
	case 0: /* torn: only the first k words were written */
		memset(sb + 8 * k, 0, 128 - 8 * k);
		break;
	case 1: /* one bit flipped */
		sb[k / 8] ^= (uint8_t)(1u << (k % 8));
		break;
	default: /* a random word */
		wire_put_u64(sb + 8 * (k % 16),
			     0x9e3779b97f4a7c15ull * (uint64_t)(k + 1));
		break;
	}
}

Test(superblock, every_damage_to_one_copy_is_detected_and_the_other_used)
{
	struct pool_geometry g;
	struct superblock_report r;
	uint8_t good[SUPERBLOCK_AREA_SIZE];
	int cases = 0;

	memcpy(good, mp.image, sizeof(good));
	for (int copy = 0; copy < 2; copy++) {
		for (int how = 0; how < 3; how++) {
			int limit = how == 0 ? 16 : how == 1 ? 1024 : 64;

			for (int k = how == 0 ? 1 : 0; k < limit; k++) {
				memcpy(mp.image, good, sizeof(good));
				damage(copy, how, k);
				cr_assert_eq(read_back(&g, &r), 0);
				cr_assert_neq(r.copy[copy], SB_COPY_GOOD,
					      "copy %d damage %d/%d undetected",
					      copy, how, k);
				cr_assert_eq(r.used_copy, 1 - copy);
				cr_assert(same_geometry(&g, &mp.geo));
				cr_assert_eq(superblock_repair(&mp.persist,
							       mp.image, &g,
							       &r),
					     1);
				cr_assert_eq(
					memcmp(mp.image, good, sizeof(good)), 0,
					"repair restores the copy");
				cases++;
			}
		}
	}
	cr_log_info("%d damaged copies detected", cases);
}

Test(superblock, both_copies_damaged_is_an_error_not_a_guess)
{
	struct pool_geometry g;
	struct superblock_report r;

	damage(0, 1, 300);
	damage(1, 2, 3);
	cr_assert_eq(read_back(&g, &r), -EBADMSG);
	cr_assert_eq(r.used_copy, -1);
}

Test(superblock, newer_format_is_refused)
{
	struct pool_geometry g = mp.geo;
	struct superblock_report r;

	g.format_version = SUPERBLOCK_FORMAT_VERSION + 1;
	superblock_format(&mp.persist, mp.image, &g);
	cr_assert_eq(read_back(&g, &r), -EPROTONOSUPPORT);
}

Test(superblock, geometry_beyond_the_mapping_is_refused)
{
	struct pool_geometry g;
	struct superblock_report r;

	cr_assert_eq(superblock_read(mp.image, POOL_SIZE / 2, &g, &r), -EFBIG,
		     "intact copies of a longer pool");
	cr_assert_eq(r.copy[0], SB_COPY_LONGER);
	cr_assert_eq(r.copy[1], SB_COPY_LONGER);
	cr_assert_eq(r.recorded_size, POOL_SIZE);
}
