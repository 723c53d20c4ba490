/*
 * The crash harness: runs seeded sequences of alloc, seal, free and reclaim
 * on a table whose every metadata store the crash recorder watches, and at
 * every fence runs recovery on each image a power cut could leave. Each
 * recovered table must satisfy:
 *   - recovery succeeds: every record is valid;
 *   - no OPEN chunk survives, no two chunks overlap, and free plus used
 *     space is the chunk area;
 *   - the sealed chunks are exactly those before the operation under way or
 *     exactly those after it (each operation is atomic), and a sealed record
 *     never changes;
 *   - no id handed out before can be handed out again;
 *   - recovering the recovered image again changes nothing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/mem_pool.h"
#include "crash_recorder.h"
#include "table/table_pmem.h"

#define GRAN		 64u
#define SLOTS		 16u
#define POOL_SIZE	 (SUPERBLOCK_AREA_SIZE + SLOTS * TABLE_SLOT_SIZE + 48 * GRAN)
#define MAX_CHUNKS	 4096
#define OPS_PER_SEQUENCE 120

/* What the sealed set must be after recovery: one of two candidates. */
struct expectation {
	struct table_record before[SLOTS];
	size_t before_count;
	struct table_record after[SLOTS];
	size_t after_count;
	uint64_t sealing_id; /* its sealed_s is not known in advance */
	uint64_t max_acked_id;
};

struct harness {
	struct mem_pool mp;
	struct crash_recorder recorder;
	struct persister persist;
	struct table *table;
	struct table_record live[SLOTS]; /* model: live chunks */
	size_t live_count;
	struct expectation expect;
	unsigned seed;
};

struct sealed_set {
	struct table_record rec[SLOTS];
	size_t count;
	uint64_t open_seen;
};

static bool collect_sealed(const struct table_record *rec, void *arg)
{
	struct sealed_set *set = arg;

	if (rec->state != TABLE_CHUNK_SEALED) {
		set->open_seen++;
		return true;
	}
	cr_assert_lt(set->count, SLOTS);
	set->rec[set->count++] = *rec;
	return true;
}

static int by_offset(const void *a, const void *b)
{
	const struct table_record *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static const struct table_record *find_id(const struct table_record *recs,
					  size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (recs[i].id == id)
			return &recs[i];
	return NULL;
}

static bool same_record(const struct table_record *a,
			const struct table_record *b, bool ignore_seal_time)
{
	return a->id == b->id && a->offset == b->offset &&
	       a->length == b->length && a->sealed_len == b->sealed_len &&
	       a->session == b->session && a->epoch == b->epoch &&
	       a->crc == b->crc && a->created_s == b->created_s &&
	       a->state == b->state &&
	       (ignore_seal_time ? b->sealed_s != 0
				 : a->sealed_s == b->sealed_s);
}

static bool set_matches(const struct sealed_set *got,
			const struct table_record *want, size_t want_count,
			uint64_t sealing_id)
{
	if (got->count != want_count)
		return false;
	for (size_t i = 0; i < want_count; i++) {
		const struct table_record *g =
			find_id(got->rec, got->count, want[i].id);

		if (!g || !same_record(&want[i], g, want[i].id == sealing_id))
			return false;
	}
	return true;
}

static void check_space(struct table *t, struct sealed_set *set)
{
	struct table_stats st;
	uint64_t used = 0;

	table_stats(t, &st);
	cr_assert_eq(st.used_bytes + st.free_bytes, st.area_bytes);
	qsort(set->rec, set->count, sizeof(set->rec[0]), by_offset);
	for (size_t i = 0; i < set->count; i++) {
		used += set->rec[i].length;
		if (i > 0)
			cr_assert_leq(set->rec[i - 1].offset +
					      set->rec[i - 1].length,
				      set->rec[i].offset, "chunks overlap");
	}
	cr_assert_eq(st.used_bytes, used, "used space is not the chunks' sum");
}

/* Recovers image and returns its sealed set; checks what needs no model. */
static void recover(uint8_t *image, size_t len, struct sealed_set *set,
		    uint64_t max_acked_id)
{
	struct persister plain = {.mode = PERSIST_NONE};
	struct pool_geometry geo;
	struct superblock_report sb;
	struct table_pmem_report rep;
	struct table *t;
	struct table_stats st;

	cr_assert_eq(superblock_read(image, len, &geo, &sb), 0);
	cr_assert_eq(table_pmem_open(image, &geo, &plain, &t, &rep), 0,
		     "recovery failed: slot %lld: %s", (long long)rep.bad_slot,
		     rep.bad_reason);
	memset(set, 0, sizeof(*set));
	table_iterate(t, collect_sealed, set);
	cr_assert_eq(set->open_seen, 0, "an OPEN chunk survived recovery");
	check_space(t, set);
	table_stats(t, &st);
	cr_assert_gt(st.next_id, max_acked_id,
		     "an acknowledged id would be reused");
	table_close(&t);
}

static void check_image(uint8_t *image, size_t len, void *arg)
{
	struct harness *h = arg;
	const struct expectation *e = &h->expect;
	struct sealed_set first, again;

	recover(image, len, &first, e->max_acked_id);
	cr_assert(
		set_matches(&first, e->before, e->before_count, 0) ||
			set_matches(&first, e->after, e->after_count,
				    e->sealing_id),
		"seed %u: recovered %zu sealed chunks, neither the %zu before nor the %zu after the operation",
		h->seed, first.count, e->before_count, e->after_count);
	recover(image, len, &again, e->max_acked_id);
	cr_assert_eq(again.count, first.count, "a second recovery differs");
}

/* The sealed chunks of the model, optionally with one change applied. */
static size_t model_sealed(const struct harness *h, struct table_record *out,
			   const struct table_record *changed,
			   uint64_t removed_id)
{
	size_t n = 0;

	for (size_t i = 0; i < h->live_count; i++) {
		const struct table_record *r = &h->live[i];

		if (changed && r->id == changed->id)
			r = changed;
		if (r->state == TABLE_CHUNK_SEALED && r->id != removed_id)
			out[n++] = *r;
	}
	return n;
}

static void expect_change(struct harness *h, const struct table_record *changed,
			  uint64_t removed_id)
{
	struct expectation *e = &h->expect;

	e->before_count = model_sealed(h, e->before, NULL, 0);
	e->after_count = model_sealed(h, e->after, changed, removed_id);
	e->sealing_id = changed ? changed->id : 0;
}

static void model_remove(struct harness *h, size_t i)
{
	h->live[i] = h->live[--h->live_count];
}

static void op_alloc(struct harness *h)
{
	struct table_record rec;
	uint64_t size = (uint64_t)(rand_r(&h->seed) % (6 * GRAN)) + 1;
	int rc;

	expect_change(h, NULL, 0);
	rc = table_pmem_alloc(h->table, size, (uint64_t)(rand_r(&h->seed) % 3) + 1,
			 7, &rec);
	if (rc == -ENOSPC)
		return;
	cr_assert_eq(rc, 0);
	cr_assert_gt(rec.id, h->expect.max_acked_id);
	h->expect.max_acked_id = rec.id;
	h->live[h->live_count++] = rec;
}

static void op_seal(struct harness *h, size_t i)
{
	struct table_record want = h->live[i], got;

	if (want.state != TABLE_CHUNK_OPEN)
		return;
	want.state = TABLE_CHUNK_SEALED;
	want.sealed_len = (uint64_t)rand_r(&h->seed) % (want.length + 1);
	want.crc = (uint32_t)rand_r(&h->seed);
	expect_change(h, &want, 0);
	cr_assert_eq(
		table_pmem_seal(h->table, want.id, want.sealed_len, want.crc, &got),
		0);
	h->live[i] = got;
}

static void op_free(struct harness *h, size_t i)
{
	expect_change(h, NULL, h->live[i].id);
	cr_assert_eq(table_pmem_free(h->table, h->live[i].id), 0);
	model_remove(h, i);
}

static void op_reclaim(struct harness *h)
{
	uint64_t session = (uint64_t)(rand_r(&h->seed) % 3) + 1, count;
	uint64_t expected = 0;

	expect_change(h, NULL, 0);
	for (size_t i = h->live_count; i-- > 0;) {
		if (h->live[i].state == TABLE_CHUNK_OPEN &&
		    h->live[i].session == session) {
			model_remove(h, i);
			expected++;
		}
	}
	cr_assert_eq(table_pmem_reclaim(h->table, session, UINT32_MAX, &count), 0);
	cr_assert_eq(count, expected);
}

static void run_one_op(struct harness *h)
{
	unsigned pick = (unsigned)rand_r(&h->seed) % 100;
	size_t i = h->live_count ? (size_t)rand_r(&h->seed) % h->live_count : 0;

	if (pick < 40 || h->live_count == 0)
		op_alloc(h);
	else if (pick < 70)
		op_seal(h, i);
	else if (pick < 90)
		op_free(h, i);
	else
		op_reclaim(h);
}

/* Runs one seeded sequence; returns the crash images it checked. */
static uint64_t run_sequence(unsigned seed)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct table_pmem_report rep;
	uint64_t images;

	cr_assert_not_null(h);
	h->seed = seed;
	cr_assert_eq(mem_pool_create(&h->mp, POOL_SIZE, GRAN, SLOTS), 0);
	cr_assert_eq(crash_recorder_init(&h->recorder, h->mp.image, POOL_SIZE,
					 check_image, h, seed),
		     0);
	h->persist = crash_recorder_persister(&h->recorder);
	cr_assert_eq(table_pmem_open(h->mp.image, &h->mp.geo, &h->persist,
				     &h->table, &rep),
		     0);
	for (int op = 0; op < OPS_PER_SEQUENCE; op++)
		run_one_op(h);
	/* The final state too, with nothing pending. */
	expect_change(h, NULL, 0);
	check_image(h->mp.image, POOL_SIZE, h);
	images = h->recorder.images + 1;
	table_close(&h->table);
	crash_recorder_fini(&h->recorder);
	mem_pool_destroy(&h->mp);
	free(h);
	return images;
}

static void run_seeds(unsigned first, unsigned count)
{
	uint64_t images = 0;

	for (unsigned seed = first; seed < first + count; seed++)
		images += run_sequence(seed);
	cr_log_info(
		"crash images checked: %llu (seeds %u-%u, %d operations each)",
		(unsigned long long)images, first, first + count - 1,
		OPS_PER_SEQUENCE);
	cr_assert_gt(images, 0);
}

Test(crash, sequences_seeds_1_to_6, .timeout = 600)
{
	run_seeds(1, 6);
}

Test(crash, sequences_seeds_7_to_12, .timeout = 600)
{
	run_seeds(7, 6);
}

Test(crash, sequences_seeds_13_to_18, .timeout = 600)
{
	run_seeds(13, 6);
}

Test(crash, sequences_seeds_19_to_24, .timeout = 600)
{
	run_seeds(19, 6);
}
