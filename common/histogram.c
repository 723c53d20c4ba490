#include "histogram.h"

/* 1-2.5-5 steps: a decade of latency is three buckets, enough to tell
 * emulated RDMA (tens of us) from a registration (ms) from etcd (ms to s). */
const uint64_t histogram_bounds_us[HISTOGRAM_BOUNDS] = {
	10,    25,    50,    100,    250,    500,    1000,    2500,    5000,
	10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};

void histogram_observe(struct histogram *h, uint64_t us)
{
	unsigned i = 0;

	while (i < HISTOGRAM_BOUNDS && us > histogram_bounds_us[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum_us += us;
}
