#include "patient_lock.h"

#include <errno.h>
#include <time.h>

#include "common/clock.h"

/* The wall clock: pthread_mutex_timedlock and pthread_cond_timedwait take
 * it (ThreadSanitizer knows those, not the clocklock and clockwait that
 * take the monotonic clock); a clock set meanwhile only moves one wait's
 * end. */
void patient_lock(pthread_mutex_t *m, uint64_t wait_us,
		  patient_stalled_fn *stalled, void *arg)
{
	struct timespec until;

	if (pthread_mutex_trylock(m) == 0)
		return;
	for (;;) {
		int rc;

		until = clock_after_us(CLOCK_REALTIME, wait_us);
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
	struct timespec until = clock_after_us(CLOCK_REALTIME, wait_us);

	if (pthread_cond_timedwait(c, m, &until) == ETIMEDOUT)
		stalled(arg);
}
