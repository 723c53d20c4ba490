/*
 * A latency histogram with fixed bounds, cheap enough to update on every
 * request: one comparison walk over a short table and three additions, no
 * allocation. The bounds suit Prometheus's histogram type (cumulative
 * buckets "le" a bound, in seconds), from 10 us to 10 s.
 *
 * Threading: none of its own; its owner's.
 */
#ifndef CHUNKD_COMMON_HISTOGRAM_H
#define CHUNKD_COMMON_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_BOUNDS 18

/* Each bucket's upper bound, in microseconds, ascending; a last bucket
 * (+Inf) takes what is above the highest. */
extern const uint64_t histogram_bounds_us[HISTOGRAM_BOUNDS];

struct histogram {
	uint64_t count;
	uint64_t sum_us;
	uint64_t buckets[HISTOGRAM_BOUNDS + 1]; /* not cumulative; the last
						 * is +Inf's own */
};

/* Counts one observation of us microseconds. */
void histogram_observe(struct histogram *h, uint64_t us);

#endif
