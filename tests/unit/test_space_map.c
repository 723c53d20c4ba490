#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "common/idmap.h"
#include "table/space_map.h"

Test(space_map, next_fit_lays_out_in_address_order)
{
	struct space_map m;
	uint64_t a, b, c;

	cr_assert_eq(space_map_init(&m, 200), 0);
	cr_assert_eq(space_map_alloc(&m, 10, &a), 0);
	cr_assert_eq(space_map_alloc(&m, 70, &b), 0);
	cr_assert_eq(space_map_alloc(&m, 5, &c), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(b, 10);
	cr_assert_eq(c, 80);
	space_map_release(&m, a, 10);
	/* The rover goes on from 85 before it reuses the hole at 0. */
	cr_assert_eq(space_map_alloc(&m, 10, &a), 0);
	cr_assert_eq(a, 85);
	cr_assert_eq(m.used, 85);
	space_map_fini(&m);
}

Test(space_map, wraps_around_and_fails_only_without_a_long_enough_run)
{
	struct space_map m;
	uint64_t first;

	cr_assert_eq(space_map_init(&m, 130), 0);
	cr_assert_eq(space_map_reserve(&m, 0, 130), 0);
	space_map_release(&m, 3, 4);   /* hole of 4 at 3 */
	space_map_release(&m, 100, 6); /* hole of 6 at 100 */
	m.rover = 120;
	cr_assert_eq(space_map_alloc(&m, 7, &first), -ENOSPC,
		     "10 granules are free, but no 7 in a row");
	cr_assert_eq(space_map_alloc(&m, 5, &first), 0);
	cr_assert_eq(first, 100);
	cr_assert_eq(space_map_alloc(&m, 4, &first), 0);
	cr_assert_eq(first, 3);
	cr_assert_eq(m.used, 130 - 1);
	space_map_fini(&m);
}

Test(space_map, reserve_detects_overlap_and_bounds)
{
	struct space_map m;

	cr_assert_eq(space_map_init(&m, 100), 0);
	cr_assert_eq(space_map_reserve(&m, 10, 20), 0);
	cr_assert_eq(space_map_reserve(&m, 29, 2), -EEXIST);
	cr_assert_eq(space_map_reserve(&m, 0, 11), -EEXIST);
	cr_assert_eq(space_map_reserve(&m, 90, 11), -EINVAL);
	cr_assert_eq(space_map_reserve(&m, 30, 70), 0);
	cr_assert_eq(m.used, 90);
	space_map_fini(&m);
}

Test(space_map, runs_across_word_boundaries)
{
	struct space_map m;
	uint64_t first;

	cr_assert_eq(space_map_init(&m, 1000), 0);
	cr_assert_eq(space_map_reserve(&m, 0, 60), 0);
	cr_assert_eq(space_map_reserve(&m, 200, 1), 0);
	cr_assert_eq(space_map_alloc(&m, 140, &first), 0);
	cr_assert_eq(first, 60);
	cr_assert_eq(space_map_alloc(&m, 799, &first), 0);
	cr_assert_eq(first, 201);
	cr_assert_eq(space_map_alloc(&m, 1, &first), -ENOSPC);
	space_map_fini(&m);
}

Test(idmap, agrees_with_a_plain_array_under_churn)
{
	enum { IDS = 5000 };
	static uint32_t ref[IDS + 1]; /* 0: absent, else value + 1 */
	struct idmap map;
	unsigned seed = 42;

	cr_assert_eq(idmap_init(&map, 16), 0);
	for (int step = 0; step < 200000; step++) {
		uint64_t id = (uint64_t)(rand_r(&seed) % IDS) + 1;
		uint64_t v;

		if (rand_r(&seed) % 3) {
			cr_assert_eq(idmap_put(&map, id, (uint32_t)step), 0);
			ref[id] = (uint32_t)step + 1;
		} else {
			cr_assert_eq(idmap_remove(&map, id), ref[id] != 0);
			ref[id] = 0;
		}
		id = (uint64_t)(rand_r(&seed) % IDS) + 1;
		cr_assert_eq(idmap_get(&map, id, &v), ref[id] != 0);
		if (ref[id])
			cr_assert_eq(v + 1, ref[id]);
	}
	cr_assert_eq(idmap_put(&map, 0, 1), -EINVAL);
	idmap_fini(&map);
}
