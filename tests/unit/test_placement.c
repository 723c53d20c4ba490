#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/placement.h"

static struct member members[5];

static void add(int i, const char *name, uint64_t free_bytes)
{
	memset(&members[i], 0, sizeof(members[i]));
	snprintf(members[i].name, sizeof(members[i].name), "%s", name);
	members[i].free_bytes = free_bytes;
}

static void setup(void)
{
	add(0, "a", 100);
	add(1, "b", 500);
	add(2, "c", 300);
	add(3, "d", 500);
	add(4, "e", 10);
}

TestSuite(placement, .init = setup);

Test(placement, the_asked_member_first_then_the_most_free_bytes)
{
	const struct member *out[3];
	unsigned room;

	cr_assert_eq(placement_choose(members, 5, "c", 3, 50, out, &room), 0);
	cr_assert_str_eq(out[0]->name, "c");
	cr_assert_str_eq(out[1]->name, "b",
			 "500 free; the name breaks the tie");
	cr_assert_str_eq(out[2]->name, "d");
	cr_assert_eq(room, 4);
}

Test(placement, copies_go_to_distinct_members)
{
	const struct member *out[4];
	unsigned room;

	cr_assert_eq(placement_choose(members, 5, "b", 4, 50, out, &room), 0);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			cr_assert_neq(out[i], out[j], "copies %d and %d", i, j);
}

Test(placement, members_without_room_are_skipped_never_fewer_copies)
{
	const struct member *out[4];
	unsigned room;

	cr_assert_eq(placement_choose(members, 5, "e", 2, 200, out, &room), 0);
	cr_assert_str_eq(out[0]->name, "b", "e has no room for 200 bytes");
	cr_assert_str_eq(out[1]->name, "d");
	cr_assert_eq(placement_choose(members, 5, "a", 4, 200, out, &room),
		     -ENOSPC);
	cr_assert_eq(room, 3, "b, c and d have room");
}

Test(placement, r_out_of_range_is_refused)
{
	const struct member *out[PLACEMENT_MAX_COPIES + 1];
	unsigned room;

	cr_assert_eq(placement_choose(members, 5, "a", 0, 1, out, &room),
		     -EINVAL);
	cr_assert_eq(placement_choose(members, 5, "a", PLACEMENT_MAX_COPIES + 1,
				      1, out, &room),
		     -EINVAL);
	cr_assert_eq(placement_choose(members, 5, "nobody", 1, 1, out, &room),
		     0, "an unknown self is only not preferred");
	cr_assert_str_eq(out[0]->name, "b");
}
