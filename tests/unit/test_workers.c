/*
 * The worker pool: jobs run on other threads and complete on the loop's,
 * and a job can be taken back whether it waits, runs or has finished.
 */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/clock.h"
#include "workers/workers.h"

struct job {
	struct work work;
	pthread_t ran_on; /* run()'s thread */
	int ran_policy;	  /* its scheduling policy */
	int done_calls;
	bool done_on_loop;
};

static struct event_base *base;
static struct workers *pool;
static pthread_t loop_thread;
static atomic_int gate = 1; /* 0: blocking jobs wait */

static void record_run(struct work *w)
{
	((struct job *)w)->ran_on = pthread_self();
	((struct job *)w)->ran_policy = sched_getscheduler(0);
}

static void blocking_run(struct work *w)
{
	record_run(w);
	while (!atomic_load(&gate))
		usleep(1000);
}

static void record_done(struct work *w)
{
	struct job *j = (struct job *)w;

	j->done_calls++;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
}

static void setup(void)
{
	base = event_base_new();
	cr_assert(base);
	cr_assert_eq(workers_new(base, 2, &pool), 0);
	loop_thread = pthread_self();
	atomic_store(&gate, 1);
}

static void teardown(void)
{
	atomic_store(&gate, 1);
	workers_free(&pool);
	cr_assert_null(pool);
	event_base_free(base);
}

TestSuite(workers, .init = setup, .fini = teardown, .timeout = 30);

/* Runs the loop until every job's done() ran, for up to 10 s. */
static void run_until_done(struct job *jobs, int n)
{
	uint64_t end = clock_mono_us() + 10000000;
	bool all;

	do {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		all = true;
		for (int i = 0; i < n; i++)
			all &= jobs[i].done_calls > 0;
	} while (!all && clock_mono_us() < end);
	cr_assert(all, "a job never completed");
}

Test(workers, jobs_run_on_workers_and_complete_on_the_loop)
{
	struct job jobs[50] = {0};

	for (int i = 0; i < 50; i++) {
		jobs[i].work =
			(struct work){.run = record_run, .done = record_done};
		workers_submit(pool, &jobs[i].work);
		cr_assert(workers_has(&jobs[i].work));
	}
	for (int i = 0; i < 50; i++)
		cr_assert_eq(jobs[i].done_calls, 0, "never within submit");
	run_until_done(jobs, 50);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(jobs[i].done_calls, 1);
		cr_assert(jobs[i].done_on_loop);
		cr_assert_not(pthread_equal(jobs[i].ran_on, loop_thread));
		cr_assert_eq(jobs[i].ran_policy, SCHED_IDLE,
			     "bulk work only on a CPU nothing else wants");
		cr_assert_not(workers_has(&jobs[i].work));
	}
	cr_assert_eq(workers_threads(pool), 2);
}

Test(workers, a_waiting_job_taken_back_never_runs)
{
	struct job busy[2] = {0}, waiting = {0};

	atomic_store(&gate, 0);
	for (int i = 0; i < 2; i++) { /* both threads held */
		busy[i].work =
			(struct work){.run = blocking_run, .done = record_done};
		workers_submit(pool, &busy[i].work);
	}
	waiting.work = (struct work){.run = record_run, .done = record_done};
	workers_submit(pool, &waiting.work);
	usleep(20000);
	cr_assert_not(workers_take_back(pool, &waiting.work), "it never ran");
	cr_assert_not(workers_has(&waiting.work));
	atomic_store(&gate, 1);
	run_until_done(busy, 2);
	cr_assert_eq(waiting.done_calls, 0);
	cr_assert(pthread_equal(waiting.ran_on, (pthread_t)0));
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	usleep(50000);
	atomic_store(&gate, 1);
	return NULL;
}

Test(workers, a_running_job_taken_back_is_waited_for)
{
	struct job j = {0};
	pthread_t opener;

	atomic_store(&gate, 0);
	j.work = (struct work){.run = blocking_run, .done = record_done};
	workers_submit(pool, &j.work);
	while (pthread_equal(j.ran_on, (pthread_t)0))
		usleep(1000); /* it runs now */
	pthread_create(&opener, NULL, open_gate_later, NULL);
	cr_assert(workers_take_back(pool, &j.work), "it ran");
	cr_assert(atomic_load(&gate), "take_back returned after run()");
	pthread_join(opener, NULL);
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_eq(j.done_calls, 0, "done() never runs once taken back");
}

Test(workers, a_finished_job_taken_back_gets_no_done)
{
	struct job j = {0};

	j.work = (struct work){.run = record_run, .done = record_done};
	workers_submit(pool, &j.work);
	usleep(50000); /* finished, not yet delivered: the loop did not run */
	cr_assert(workers_take_back(pool, &j.work));
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_eq(j.done_calls, 0);
}

/* ---- starvation ---- */

static atomic_bool hogs_stop;

static void *hog(void *arg)
{
	(void)arg;
	while (!atomic_load(&hogs_stop))
		;
	return NULL;
}

/* Burns 30 ms of its thread's CPU time. */
static void burn_run(struct work *w)
{
	uint64_t start = clock_cpu_ns(CLOCK_THREAD_CPUTIME_ID);

	record_run(w);
	while (clock_cpu_ns(CLOCK_THREAD_CPUTIME_ID) - start < 30000000u)
		;
}

Test(workers, nothing_starves_with_no_job_out_or_a_young_one)
{
	struct job busy[2] = {0};

	cr_assert_not(workers_starved(pool, clock_mono_us()));
	atomic_store(&gate, 0);
	for (int i = 0; i < 2; i++) {
		busy[i].work =
			(struct work){.run = blocking_run, .done = record_done};
		workers_submit(pool, &busy[i].work);
	}
	/* Well inside WORKERS_STARVED_AFTER_US of the submits. */
	cr_assert_not(workers_starved(pool, clock_mono_us()));
	atomic_store(&gate, 1);
	run_until_done(busy, 2);
}

/* What chunkd's loop does when it busy-polls on every CPU: a job on a
 * SCHED_IDLE worker gets no CPU, and workers_starved() must say so, or
 * the polling never stops for it. */
Test(workers, a_job_kept_off_every_cpu_is_seen_starved)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t hogs[64];
	struct job j = {0};
	uint64_t end;
	bool seen = false;

	cr_assert(cpus >= 1 && cpus <= 64);
	atomic_store(&hogs_stop, false);
	for (long i = 0; i < cpus; i++)
		cr_assert_eq(pthread_create(&hogs[i], NULL, hog, NULL), 0);
	j.work = (struct work){.run = burn_run, .done = record_done};
	workers_submit(pool, &j.work);
	end = clock_mono_us() + 10000000u;
	while (!seen && clock_mono_us() < end) {
		usleep(2000);
		seen = workers_starved(pool, clock_mono_us());
	}
	atomic_store(&hogs_stop, true);
	for (long i = 0; i < cpus; i++)
		pthread_join(hogs[i], NULL);
	cr_assert(seen, "a job on no CPU for 10 s was never seen starved");
	run_until_done(&j, 1);
	/* Once it had its CPU and finished, nothing starves. */
	cr_assert_not(
		workers_starved(pool, clock_mono_us() + WORKERS_CHECK_US));
}

Test(workers, refuses_no_threads_or_too_many)
{
	struct workers *w = NULL;

	cr_assert_eq(workers_new(base, 0, &w), -EINVAL);
	cr_assert_eq(workers_new(base, WORKERS_MAX + 1, &w), -EINVAL);
	cr_assert_null(w);
}
