#include <criterion/criterion.h>
#include <stdint.h>

#include "common/spin_budget.h"

static void learn_many(struct spin_budget *b, uint64_t waited_us, int times)
{
	for (int i = 0; i < times; i++)
		spin_budget_learn(b, waited_us);
}

Test(spin_budget, spins_the_floor_before_it_has_learnt)
{
	struct spin_budget b;

	spin_budget_init(&b, 50);
	cr_assert_eq(spin_budget_us(&b), 50);
}

Test(spin_budget, quick_answers_keep_the_floor)
{
	struct spin_budget b;

	spin_budget_init(&b, 50);
	learn_many(&b, 20, 40);
	cr_assert_eq(spin_budget_us(&b), 50);
}

Test(spin_budget, answers_a_little_slower_than_the_floor_are_spun_for)
{
	struct spin_budget b;

	spin_budget_init(&b, 50);
	learn_many(&b, 150, 40);
	cr_assert_eq(b.typical_us, 150);
	cr_assert_eq(spin_budget_us(&b), 300, "twice the typical wait");
}

Test(spin_budget, the_spin_never_passes_the_cap)
{
	struct spin_budget b;

	spin_budget_init(&b, 50);
	learn_many(&b, 350, 60);
	cr_assert_eq(spin_budget_us(&b), 400, "8 x the floor");
}

Test(spin_budget, long_waits_spin_only_the_floor)
{
	struct spin_budget b;

	spin_budget_init(&b, 50);
	learn_many(&b, 150, 40);
	learn_many(&b, 2000, 40); /* allocations behind registrations */
	cr_assert_eq(spin_budget_us(&b), 50);
}

Test(spin_budget, one_very_long_wait_is_soon_forgotten)
{
	struct spin_budget b;

	spin_budget_init(&b, 50);
	learn_many(&b, 100, 40);
	spin_budget_learn(&b, 10ull * 1000 * 1000); /* a 10 s stall */
	cr_assert_leq(b.typical_us, 400, "counted as 1.6 ms, not 10 s");
	learn_many(&b, 100, 40);
	cr_assert_eq(spin_budget_us(&b), 200);
}

Test(spin_budget, a_floor_of_zero_never_spins)
{
	struct spin_budget b;

	spin_budget_init(&b, 0);
	learn_many(&b, 30, 10);
	cr_assert_eq(spin_budget_us(&b), 0);
}

Test(spin_budget, a_huge_floor_does_not_overflow)
{
	struct spin_budget b;

	spin_budget_init(&b, UINT32_MAX);
	learn_many(&b, UINT64_MAX, 3);
	cr_assert_eq(spin_budget_us(&b), UINT32_MAX);
}
