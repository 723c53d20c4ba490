#include "patient_lock.h"

#include <errno.h>
#include <time.h>

/* Now plus us on the monotonic clock: a wall clock set back would
 * stretch the wait. */
static struct timespec monotonic_after(uint64_t us)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(us / 1000000u);
	t.tv_nsec += (long)(us % 1000000u) * 1000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

void patient_lock(pthread_mutex_t *m, uint64_t wait_us,
		  patient_stalled_fn *stalled, void *arg)
{
	struct timespec until;

	if (pthread_mutex_trylock(m) == 0)
		return;
	for (;;) {
		int rc;

		until = monotonic_after(wait_us);
		rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &until);
		if (rc == 0)
			return;
		if (rc != ETIMEDOUT) { /* not expected: wait plainly */
			pthread_mutex_lock(m);
			return;
		}
		stalled(arg);
	}
}

void patient_wait(pthread_cond_t *c, pthread_mutex_t *m, uint64_t wait_us,
		  patient_stalled_fn *stalled, void *arg)
{
	struct timespec until = monotonic_after(wait_us);

	if (pthread_cond_clockwait(c, m, CLOCK_MONOTONIC, &until) == ETIMEDOUT)
		stalled(arg);
}
