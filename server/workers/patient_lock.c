#include "patient_lock.h"

#include <errno.h>
#include <time.h>

/* Now plus us on the wall clock, which pthread_mutex_timedlock and
 * pthread_cond_timedwait take (ThreadSanitizer knows those, not the
 * clocklock and clockwait that take the monotonic clock); a clock set
 * meanwhile only moves one wait's end. */
static struct timespec wall_clock_after(uint64_t us)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
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

		until = wall_clock_after(wait_us);
		rc = pthread_mutex_timedlock(m, &until);
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
	struct timespec until = wall_clock_after(wait_us);

	if (pthread_cond_timedwait(c, m, &until) == ETIMEDOUT)
		stalled(arg);
}
