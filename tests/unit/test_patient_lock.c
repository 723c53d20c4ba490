/*
 * The loop's patient lock and wait: they call stalled() for each wait_us
 * spent waiting, and only then.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/clock.h"
#include "workers/patient_lock.h"

#define WAIT_US 5000u

TestSuite(patient_lock, .timeout = 30);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static atomic_int stalls;
static atomic_bool holding;

static void count_stall(void *arg)
{
	(void)arg;
	atomic_fetch_add(&stalls, 1);
}

/* Waits (up to 10 s) until at least n stalls were counted. */
static void wait_for_stalls(int n)
{
	uint64_t end = clock_mono_us() + 10000000u;

	while (atomic_load(&stalls) < n && clock_mono_us() < end)
		usleep(1000);
}

/* Holds the lock until two stalls were counted. */
static void *hold_until_two_stalls(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	atomic_store(&holding, true);
	wait_for_stalls(2);
	pthread_mutex_unlock(&lock);
	return NULL;
}

Test(patient_lock, a_free_lock_is_taken_with_no_stall)
{
	atomic_store(&stalls, 0);
	patient_lock(&lock, WAIT_US, count_stall, NULL);
	pthread_mutex_unlock(&lock);
	cr_assert_eq(atomic_load(&stalls), 0);
}

Test(patient_lock, a_lock_held_on_calls_stalled_each_wait_then_is_taken)
{
	pthread_t holder;

	atomic_store(&stalls, 0);
	atomic_store(&holding, false);
	cr_assert_eq(pthread_create(&holder, NULL, hold_until_two_stalls, NULL),
		     0);
	while (!atomic_load(&holding))
		usleep(100);
	patient_lock(&lock, WAIT_US, count_stall, NULL);
	pthread_mutex_unlock(&lock);
	pthread_join(holder, NULL);
	cr_assert_geq(atomic_load(&stalls), 2,
		      "the holder let go only after two stalls: %d seen",
		      atomic_load(&stalls));
}

/* Signals the condition once two stalls were counted. */
static void *signal_after_two_stalls(void *arg)
{
	(void)arg;
	wait_for_stalls(2);
	pthread_mutex_lock(&lock);
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void count_stall_holding_the_lock(void *arg)
{
	/* stalled() runs with the mutex held: trylock fails. */
	atomic_store((atomic_bool *)arg, pthread_mutex_trylock(&lock) != 0);
	atomic_fetch_add(&stalls, 1);
}

Test(patient_lock, a_long_wait_calls_stalled_with_the_mutex_held)
{
	atomic_bool held_in_stall = false;
	pthread_t signaller;

	atomic_store(&stalls, 0);
	cr_assert_eq(
		pthread_create(&signaller, NULL, signal_after_two_stalls, NULL),
		0);
	pthread_mutex_lock(&lock);
	while (atomic_load(&stalls) < 2)
		patient_wait(&cond, &lock, WAIT_US,
			     count_stall_holding_the_lock, &held_in_stall);
	pthread_mutex_unlock(&lock);
	pthread_join(signaller, NULL);
	cr_assert(atomic_load(&held_in_stall));
}
