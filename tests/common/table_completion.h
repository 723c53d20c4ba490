/* A table change's completion, kept for a test to look at: the tests of
 * the table interface (unit and cluster) share it. */
#ifndef CHUNKD_TESTS_TABLE_COMPLETION_H
#define CHUNKD_TESTS_TABLE_COMPLETION_H

#include <event2/event.h>
#include <stdint.h>

#include "common/clock.h"
#include "table/table.h"

struct completion {
	int calls;
	struct table_result res;
};

/* A table_done_fn: counts the call and keeps what it reported. */
static inline void remember(void *arg, const struct table_result *res)
{
	struct completion *c = arg;

	c->calls++;
	c->res = *res;
}

/* Runs base until c completes or timeout_us pass; returns how many times
 * it completed (a change must complete exactly once). */
static inline int run_until_completed(struct event_base *base,
				      struct completion *c, uint64_t timeout_us)
{
	uint64_t deadline = clock_mono_us() + timeout_us;

	while (!c->calls && clock_mono_us() < deadline)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	return c->calls;
}

#endif
