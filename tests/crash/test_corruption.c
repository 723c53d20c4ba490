/*
 * Damage to the table that no power cut can cause (media errors, stray
 * writes) must be detected, every time, and refused with the slot named:
 * the current version torn (its first k words from another version), random
 * words written over it, and every single bit flipped in the commit word and
 * the current version. A refused pool is never written.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "../common/mem_pool.h"
#include "proto/wire.h"
#include "table/table_pmem.h"
#include "table/table_slot.h"

#define GRAN	  64u
#define SLOTS	  16u
#define POOL_SIZE (SUPERBLOCK_AREA_SIZE + SLOTS * TABLE_SLOT_SIZE + 64 * GRAN)

static struct mem_pool mp;
static uint8_t pristine[POOL_SIZE];
static uint8_t before_open[POOL_SIZE];
static uint64_t detected;

/* A table with sealed, open and freed records, each slot written twice or
 * more so both versions hold real records. */
static void populate(void)
{
	struct table *t;
	struct table_pmem_report rep;
	struct table_record r[SLOTS];

	cr_assert_eq(mem_pool_create(&mp, POOL_SIZE, GRAN, SLOTS), 0);
	cr_assert_eq(table_pmem_open(mp.image, &mp.geo, &mp.persist, &t, &rep),
		     0);
	for (unsigned i = 0; i < SLOTS; i++)
		cr_assert_eq(
			table_pmem_alloc(t, GRAN * (1 + i % 3), i % 4, 1, &r[i]), 0);
	for (unsigned i = 0; i < SLOTS; i++) {
		if (i % 3 == 0)
			cr_assert_eq(
				table_pmem_seal(t, r[i].id, i, 0x1000u + i, NULL),
				0);
		else if (i % 3 == 1)
			cr_assert_eq(table_pmem_free(t, r[i].id), 0);
	}
	table_close(&t);
	memcpy(pristine, mp.image, POOL_SIZE);
}

static uint8_t *slot_at(unsigned idx)
{
	return mp.image + mp.geo.table_offset + (size_t)idx * TABLE_SLOT_SIZE;
}

static int current_version(unsigned idx)
{
	return (int)(wire_get_u64(slot_at(idx)) >> 32 & 1);
}

/* Opens the damaged image; it must be refused naming idx, unwritten. */
static void expect_refused(unsigned idx, const char *what, int k)
{
	struct table *t = NULL;
	struct table_pmem_report rep;
	int rc;

	memcpy(before_open, mp.image, POOL_SIZE);
	rc = table_pmem_open(mp.image, &mp.geo, &mp.persist, &t, &rep);
	cr_assert_eq(rc, -EBADMSG, "slot %u, %s %d: damage accepted", idx, what,
		     k);
	cr_assert_eq(rep.bad_slot, idx, "slot %u, %s %d: blamed slot %lld", idx,
		     what, k, (long long)rep.bad_slot);
	cr_assert_arr_eq(mp.image, before_open, POOL_SIZE,
			 "a refused pool was written");
	detected++;
	memcpy(mp.image, pristine, POOL_SIZE);
}

static void torn_versions(unsigned idx)
{
	int cur = current_version(idx);
	uint8_t *v = slot_at(idx) + slot_version_offset(cur);
	const uint8_t *other = slot_at(idx) + slot_version_offset(1 - cur);

	for (int k = 1; k < 8; k++) {
		memcpy(v, other, (size_t)k * 8);
		if (memcmp(mp.image, pristine, POOL_SIZE) == 0)
			continue; /* both versions agree on these words */
		expect_refused(idx, "torn after word", k);
	}
}

static void random_words(unsigned idx)
{
	unsigned seed = idx + 1;

	for (int k = 0; k < 200; k++) {
		uint8_t *slot = slot_at(idx);
		int cur = current_version(idx);
		/* a word of the commit word or of the current version */
		unsigned word = (unsigned)rand_r(&seed) % 8;
		uint8_t *at = word == 0 ? slot
					: slot + slot_version_offset(cur) +
						  (word - 1) * 8;
		uint64_t junk =
			(uint64_t)rand_r(&seed) << 33 ^ (uint64_t)rand_r(&seed);

		if (word == 7)
			junk &= 0xffffffffu; /* 4 bytes remain of the version */
		memcpy(at, &junk, word == 7 ? 4 : 8);
		if (memcmp(mp.image, pristine, POOL_SIZE) == 0)
			continue; /* the junk equalled what was there */
		expect_refused(idx, "random word", k);
	}
}

static void bit_flips(unsigned idx)
{
	int cur = current_version(idx);
	unsigned version = slot_version_offset(cur);

	for (unsigned bit = 0; bit < 64 + SLOT_VERSION_LEN * 8; bit++) {
		unsigned byte = bit < 64 ? bit / 8 : version + (bit - 64) / 8;

		slot_at(idx)[byte] ^= (uint8_t)(1u << (bit % 8));
		expect_refused(idx, "bit", (int)bit);
	}
}

Test(corruption, every_damaged_record_is_refused_and_named, .timeout = 600)
{
	populate();
	for (unsigned idx = 0; idx < SLOTS; idx++) {
		torn_versions(idx);
		random_words(idx);
		bit_flips(idx);
	}
	/* expect_refused() fails the test on the first damage accepted. */
	cr_log_info("damaged records: %llu, every one detected",
		    (unsigned long long)detected);
	mem_pool_destroy(&mp);
}
