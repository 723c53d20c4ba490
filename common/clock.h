/* Time as the project measures it: monotonic for intervals, real time for
 * what is recorded. */
#ifndef CHUNKD_COMMON_CLOCK_H
#define CHUNKD_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds of the monotonic clock, for deadlines and spins. */
static inline uint64_t clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Empty polls of a completion queue between two looks at the clock in a
 * spin loop. Reading the clock can cost a system call and an emulated
 * device access (a guest on the HPET clocksource: 17% of a persist-rpc
 * loop's samples were read_hpet), while an empty poll costs a few loads.
 */
#define CLOCK_POLLS_PER_READ 32

/* Seconds of the monotonic clock, with fractions, for benchmarks. */
static inline double clock_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Nanoseconds since 1970, for what is stored. */
static inline uint64_t clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The time on clock us microseconds from now, as the timespec that
 * pthread's timed waits take. */
static inline struct timespec clock_after_us(clockid_t clock, uint64_t us)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += (time_t)(us / 1000000u);
	t.tv_nsec += (long)(us % 1000000u) * 1000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* Nanoseconds of CPU time on clock (CLOCK_THREAD_CPUTIME_ID, or a
 * thread's clock from pthread_getcpuclockid); 0 if it cannot be read. */
static inline uint64_t clock_cpu_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
