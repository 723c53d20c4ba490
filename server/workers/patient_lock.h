/*
 * How the loop takes a lock that SCHED_IDLE threads also take. They hold
 * it for a few instructions, but the kernel may take their CPU inside
 * them, and while other threads want every CPU give it back only after
 * seconds: the loop, and every persist behind it, would wait as long. So
 * the loop waits at most wait_us at a time, and each time calls
 * stalled(arg), which raises the threads that may hold the lock (or that
 * the loop waits for), then waits on.
 *
 * Threading: any thread; stalled() runs on the caller's.
 */
#ifndef CHUNKD_WORKERS_PATIENT_LOCK_H
#define CHUNKD_WORKERS_PATIENT_LOCK_H

#include <pthread.h>
#include <stdint.h>

typedef void patient_stalled_fn(void *arg);

/* Locks m; stalled() runs without m held. */
void patient_lock(pthread_mutex_t *m, uint64_t wait_us,
		  patient_stalled_fn *stalled, void *arg);

/* pthread_cond_wait(c, m), which may return spuriously as it may; but
 * stalled() runs, with m held, each wait_us that passes without a wake. */
void patient_wait(pthread_cond_t *c, pthread_mutex_t *m, uint64_t wait_us,
		  patient_stalled_fn *stalled, void *arg);

#endif
