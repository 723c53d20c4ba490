#include "timing.h"

#include <stdlib.h>
#include <time.h>

double timing_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double timing_percentile(double *v, unsigned n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(unsigned)(p * (n - 1) + 0.5)];
}
