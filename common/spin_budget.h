/*
 * How long a wait busy-polls before it sleeps on a completion channel.
 * Sleeping costs a wake-up (tens of microseconds in a VM, a few on
 * hardware); spinning costs a CPU. A fixed spin of floor_us loses the
 * wake-up only on answers quicker than that; this one also learns how long
 * recent waits took and, while they are short (at most cap_us), spins
 * twice their typical length, so a steady stream of answers a little
 * slower than floor_us (a 4 KiB write+persist) is caught without a sleep.
 * Waits longer than cap_us (an allocation behind a registration) only
 * spin floor_us: their wake-up is small beside them, and the CPU is better
 * left to whoever must answer them.
 */
#ifndef CHUNKD_COMMON_SPIN_BUDGET_H
#define CHUNKD_COMMON_SPIN_BUDGET_H

#include <stdint.h>

#define SPIN_BUDGET_CAP_FACTOR 8u /* cap_us is this many floor_us */
#define SPIN_BUDGET_WEIGHT     8u /* a wait moves typical_us by 1/8 */

struct spin_budget {
	uint32_t floor_us;   /* always spin this long (0: never spin) */
	uint32_t cap_us;     /* never longer */
	uint32_t typical_us; /* moving average of waits; 0 before the first */
};

static inline void spin_budget_init(struct spin_budget *b, uint32_t floor_us)
{
	uint64_t cap = (uint64_t)floor_us * SPIN_BUDGET_CAP_FACTOR;

	b->floor_us = floor_us;
	b->cap_us = cap > UINT32_MAX / 4 ? UINT32_MAX / 4 : (uint32_t)cap;
	b->typical_us = 0;
}

/* How long the next wait spins, in microseconds. */
static inline uint32_t spin_budget_us(const struct spin_budget *b)
{
	uint64_t learnt = 2 * (uint64_t)b->typical_us;

	if (b->typical_us > b->cap_us)
		learnt = 0; /* long waits: the floor alone */
	else if (learnt > b->cap_us)
		learnt = b->cap_us;
	return learnt > b->floor_us ? (uint32_t)learnt : b->floor_us;
}

/* A wait ended after waited_us (its spin and any sleep together). */
static inline void spin_budget_learn(struct spin_budget *b, uint64_t waited_us)
{
	/* Clamped, so one wait of seconds does not take minutes to forget. */
	uint32_t w = waited_us > 4u * b->cap_us ? 4u * b->cap_us
						: (uint32_t)waited_us;

	if (b->typical_us == 0)
		b->typical_us = w ? w : 1;
	else
		b->typical_us = (uint32_t)(((uint64_t)b->typical_us *
						    (SPIN_BUDGET_WEIGHT - 1) +
					    w) /
					   SPIN_BUDGET_WEIGHT);
}

#endif
