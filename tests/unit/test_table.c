#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../common/mem_pool.h"
#include "../common/table_completion.h"
#include "table/table_pmem.h"
#include "common/crc32c.h"
#include "table/scrub.h"
#include "table/table_slot.h"

#define POOL_SIZE (1u << 20)
#define GRAN	  4096u
#define SLOTS	  64u

static struct mem_pool mp;
static struct table *t;
static struct table_pmem_report rep;

static void open_table(void)
{
	cr_assert_eq(table_pmem_open(mp.image, &mp.geo, &mp.persist, &t, &rep),
		     0, "recovery failed at slot %lld: %s",
		     (long long)rep.bad_slot, rep.bad_reason);
}

static void setup(void)
{
	cr_assert_eq(mem_pool_create(&mp, POOL_SIZE, GRAN, SLOTS), 0);
	open_table();
}

static void teardown(void)
{
	table_close(&t);
	mem_pool_destroy(&mp);
}

static void reopen(void)
{
	table_close(&t);
	open_table();
}

TestSuite(table, .init = setup, .fini = teardown);

Test(table, alloc_grants_aligned_disjoint_chunks_with_new_ids)
{
	struct table_record a, b;

	cr_assert_eq(table_pmem_alloc(t, 5000, 7, 1, &a), 0);
	cr_assert_eq(table_pmem_alloc(t, 1, 7, 1, &b), 0);
	cr_assert_eq(a.length, 2 * GRAN, "rounded up to whole granules");
	cr_assert_eq(b.length, GRAN);
	cr_assert_eq(a.offset % GRAN, 0);
	cr_assert(b.offset >= a.offset + a.length ||
		  a.offset >= b.offset + b.length);
	cr_assert_gt(b.id, a.id);
	cr_assert_eq(a.state, TABLE_CHUNK_OPEN);
	cr_assert_eq(a.session, 7);
}

Test(table, seal_records_length_and_crc)
{
	struct table_record a, got;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 3, &a), 0);
	cr_assert_eq(table_pmem_seal(t, a.id, 100, 0xabcdef01, NULL), 0);
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.state, TABLE_CHUNK_SEALED);
	cr_assert_eq(got.sealed_len, 100);
	cr_assert_eq(got.crc, 0xabcdef01);
	cr_assert_eq(got.epoch, 3);
}

Test(table, seal_refuses_unknown_sealed_and_overlong)
{
	struct table_record a;

	cr_assert_eq(table_pmem_seal(t, 999, 1, 0, NULL), -ENOENT);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_seal(t, a.id, GRAN + 1, 0, NULL), -EINVAL);
	cr_assert_eq(table_pmem_seal(t, a.id, GRAN, 0, NULL), 0);
	cr_assert_eq(table_pmem_seal(t, a.id, GRAN, 0, NULL), -EALREADY);
}

Test(table, free_makes_space_and_id_unknown)
{
	struct table_record a;
	struct table_stats st;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_free(t, a.id), 0);
	cr_assert_eq(table_lookup(t, a.id, &a), -ENOENT);
	cr_assert_eq(table_pmem_free(t, a.id), -ENOENT);
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, 0);
	cr_assert_eq(st.free_bytes, st.area_bytes);
}

Test(table, runs_out_of_space_and_of_records)
{
	struct table_record a;
	struct table_stats st;
	int n = 0;

	table_stats(t, &st);
	cr_assert_eq(table_pmem_alloc(t, st.area_bytes + 1, 1, 1, &a), -EFBIG);
	while (table_pmem_alloc(t, GRAN, 1, 1, &a) == 0)
		n++;
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), -ENOSPC);
	cr_assert_eq((uint64_t)n, st.area_bytes / GRAN < SLOTS
					  ? st.area_bytes / GRAN
					  : SLOTS);
}

Test(table, reclaim_frees_only_that_sessions_open_chunks)
{
	struct table_record a, b, c, got;
	uint64_t count = 0;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &b), 0);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 2, 1, &c), 0);
	cr_assert_eq(table_pmem_seal(t, b.id, 10, 1, NULL), 0);
	cr_assert_eq(table_pmem_reclaim(t, 1, UINT32_MAX, &count), 0);
	cr_assert_eq(count, 1);
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT);
	cr_assert_eq(table_lookup(t, b.id, &got), 0,
		     "sealed chunks outlive their session");
	cr_assert_eq(table_lookup(t, c.id, &got), 0);
}

Test(table, reclaim_spares_chunks_of_a_later_epoch)
{
	struct table_record old, later, got;
	uint64_t count = 0;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &old), 0);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 2, &later), 0);
	cr_assert_eq(table_pmem_reclaim(t, 1, 1, &count), 0);
	cr_assert_eq(count, 1);
	cr_assert_eq(table_lookup(t, old.id, &got), -ENOENT);
	cr_assert_eq(table_lookup(t, later.id, &got), 0,
		     "allocated under the new lease: kept");
}

/* The asynchronous interface over pmem completes before it returns, once,
 * with what the synchronous calls would have returned. */
Test(table, the_pmem_backend_completes_each_change_at_once)
{
	struct completion a = {0}, s = {0}, f = {0}, r = {0}, bad = {0};

	table_alloc(t, 5000, 1, 1, remember, &a);
	cr_assert_eq(a.calls, 1);
	cr_assert_eq(a.res.status, 0);
	cr_assert_eq(a.res.rec.length, 2 * GRAN);
	table_seal(t, a.res.rec.id, 100, 7, remember, &s);
	cr_assert_eq(s.calls, 1);
	cr_assert_eq(s.res.rec.state, TABLE_CHUNK_SEALED);
	table_seal(t, a.res.rec.id, 100, 7, remember, &bad);
	cr_assert_eq(bad.res.status, -EALREADY);
	table_free(t, a.res.rec.id, remember, &f);
	cr_assert_eq(f.calls, 1);
	cr_assert_eq(f.res.status, 0);
	table_alloc(t, GRAN, 3, 1, remember, &a);
	table_reclaim(t, 3, 1, remember, &r);
	cr_assert_eq(r.calls, 1);
	cr_assert_eq(r.res.count, 1);
}

Test(table, recovery_keeps_sealed_reclaims_open_and_never_reuses_ids)
{
	struct table_record a, b, c, got;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_alloc(t, 3 * GRAN, 1, 1, &b), 0);
	cr_assert_eq(table_pmem_seal(t, b.id, 3 * GRAN, 0x1234, NULL), 0);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &c), 0);
	cr_assert_eq(table_pmem_free(t, c.id), 0); /* the highest id is freed */
	reopen();
	cr_assert_eq(rep.sealed, 1);
	cr_assert_eq(rep.reclaimed, 1);
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT);
	cr_assert_eq(table_lookup(t, b.id, &got), 0);
	cr_assert_eq(got.crc, 0x1234);
	cr_assert_eq(got.offset, b.offset);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &got), 0);
	cr_assert_gt(got.id, c.id, "id %llu was handed out again",
		     (unsigned long long)got.id);
	reopen();
	cr_assert_eq(rep.reclaimed, 1);
	cr_assert_eq(rep.sealed, 1);
}

Test(table, damaged_record_is_refused_and_named)
{
	struct table_record a;
	uint8_t *slot;
	uint8_t before[POOL_SIZE / 16];

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_seal(t, a.id, 1, 0, NULL), 0);
	table_close(&t);
	/* Slot 0 holds chunk a; the seal made version 1 current. */
	slot = mp.image + mp.geo.table_offset;
	slot[slot_version_offset(1) + 12] ^= 0x04;
	memcpy(before, mp.image, sizeof(before));
	cr_assert_eq(table_pmem_open(mp.image, &mp.geo, &mp.persist, &t, &rep),
		     -EBADMSG);
	cr_assert_eq(rep.bad_slot, 0);
	cr_assert_not_null(rep.bad_reason);
	cr_assert_arr_eq(mp.image, before, sizeof(before),
			 "a refused pool must not be written");
}

Test(table, damage_to_the_old_version_is_harmless)
{
	struct table_record a, got;
	uint8_t *slot = mp.image + mp.geo.table_offset;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_seal(t, a.id, 1, 5, NULL), 0);
	table_close(&t);
	memset(slot + slot_version_offset(0), 0xff, SLOT_VERSION_LEN);
	open_table();
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.crc, 5);
}

Test(table, damaged_commit_word_is_refused)
{
	struct table_record a;
	uint8_t *slot = mp.image + mp.geo.table_offset;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_seal(t, a.id, 1, 5, NULL), 0);
	table_close(&t);
	slot[4] ^= 0x01; /* bit 32: the other version */
	cr_assert_eq(table_pmem_open(mp.image, &mp.geo, &mp.persist, &t, &rep),
		     -EBADMSG);
}

Test(table, scrub_finds_exactly_the_damaged_sealed_chunk)
{
	uint8_t *area = mp.image + mp.geo.chunk_area_offset;
	struct table_record a, b, open_one;
	struct scrub_result r;

	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &b), 0);
	cr_assert_eq(table_pmem_alloc(t, GRAN, 1, 1, &open_one), 0);
	memset(area + a.offset, 'a', 100);
	memset(area + b.offset, 'b', 200);
	cr_assert_eq(table_pmem_seal(t, a.id, 100,
				     crc32c(0, area + a.offset, 100), NULL),
		     0);
	cr_assert_eq(table_pmem_seal(t, b.id, 200,
				     crc32c(0, area + b.offset, 200), NULL),
		     0);
	scrub_sealed(t, area, &r);
	cr_assert_eq(r.checked, 2);
	cr_assert_eq(r.bytes, 300);
	cr_assert_eq(r.mismatches, 0);
	area[b.offset + 150] ^= 1;
	scrub_sealed(t, area, &r);
	cr_assert_eq(r.mismatches, 1);
}
