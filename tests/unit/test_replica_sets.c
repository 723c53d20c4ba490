/* The replicated chunks a client knows (client/replica_sets.c), alone. */
#include <criterion/criterion.h>

#include "replica_sets.h"

Test(replica_sets, sets_are_found_refilled_and_forgotten)
{
	struct replica_sets r = {0};
	struct replica_set *s;

	cr_assert_null(replica_sets_find(&r, 7), "none before the first add");
	for (uint64_t id = 1; id <= 100; id++) {
		s = replica_sets_add(&r, id);
		cr_assert_not_null(s);
		s->count = (unsigned)(id % PROTO_MAX_COPIES) + 1;
	}
	s = replica_sets_find(&r, 42);
	cr_assert_not_null(s);
	cr_assert_eq(s->chunk, 42);
	cr_assert_eq(s->count, 42 % PROTO_MAX_COPIES + 1);
	s = replica_sets_add(&r, 42);
	cr_assert_eq(s->count, 0, "adding a known chunk empties its set");
	replica_sets_forget(&r, 1); /* the last one moves into its place */
	cr_assert_null(replica_sets_find(&r, 1));
	s = replica_sets_find(&r, 100);
	cr_assert_not_null(s, "the moved set is still found");
	cr_assert_eq(s->chunk, 100);
	cr_assert_eq(s->count, 100 % PROTO_MAX_COPIES + 1);
	replica_sets_forget(&r, 12345); /* unknown: nothing happens */
	cr_assert_eq(r.count, 99);
	replica_sets_fini(&r);
	cr_assert_null(replica_sets_find(&r, 100));
}
