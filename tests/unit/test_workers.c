/*
 * The worker pool: jobs run on other threads and complete on the loop's,
 * and a job can be taken back whether it waits, runs or has finished.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "workers/workers.h"

struct job {
	struct work work;
	pthread_t ran_on; /* run()'s thread */
	pid_t ran_tid;	  /* the same, as the kernel knows it */
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
	((struct job *)w)->ran_tid = (pid_t)syscall(SYS_gettid);
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

/* A thread held in hold_here() runs nothing else. That is what a
 * SCHED_IDLE worker meets while busy-polling threads take every CPU, made
 * certain: threads that merely spin leave the scheduler room to give it a
 * share or not, and one test that relied on them failed once in CI. */
static atomic_int held;
static atomic_bool let_go;

static void hold_here(int sig)
{
	const struct timespec ms = {.tv_nsec = 1000000};

	(void)sig;
	atomic_fetch_add(&held, 1);
	while (!atomic_load(&let_go))
		nanosleep(&ms, NULL);
	atomic_fetch_sub(&held, 1);
}

static bool is_worker(const char *tid)
{
	char path[300], name[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/comm", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	return strcmp(name, "chunkd-worker\n") == 0;
}

static void wait_held(int n)
{
	uint64_t end = clock_mono_us() + 10000000u;

	while (atomic_load(&held) != n && clock_mono_us() < end)
		usleep(1000);
	cr_assert_eq(atomic_load(&held), n, "workers held: %d of %d",
		     atomic_load(&held), n);
}

static pid_t worker_tids[2]; /* the pool's threads, by hold_workers() */

/* The kernel's state letter of thread tid ('R' running, 'S' asleep). */
static char thread_state(pid_t tid)
{
	char path[64], line[512], *close;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	close = strrchr(line, ')');
	return close && close[1] == ' ' ? close[2] : '?';
}

/* Waits (up to 10 s) until thread tid sleeps: not inside the pool's lock,
 * which none of its threads holds asleep. */
static void wait_asleep(pid_t tid)
{
	uint64_t end = clock_mono_us() + 10000000u;

	while (thread_state(tid) != 'S' && clock_mono_us() < end)
		usleep(1000);
	cr_assert_eq(thread_state(tid), 'S', "worker %d never slept", (int)tid);
}

/* Finds the pool's two threads by name, into worker_tids. */
static void find_workers(void)
{
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	cr_assert(tasks);
	while ((e = readdir(tasks))) {
		if (e->d_name[0] == '.' || !is_worker(e->d_name))
			continue;
		cr_assert_lt(n, 2, "more than the pool's two threads");
		worker_tids[n++] = atoi(e->d_name);
	}
	closedir(tasks);
	cr_assert_eq(n, 2, "the pool's two threads, by name");
}

/* Holds each of the pool's threads in hold_here() until let_workers_go.
 * Each but running (the thread of a job that runs, or 0) is held asleep,
 * so never with the pool's lock: a thread held there would hold it for
 * good, which no thread the kernel keeps off its CPU does. */
static void hold_workers(pid_t running)
{
	struct sigaction sa = {.sa_handler = hold_here};

	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	atomic_store(&let_go, false);
	find_workers();
	for (int i = 0; i < 2; i++) {
		if (worker_tids[i] != running)
			wait_asleep(worker_tids[i]);
		cr_assert_eq(
			syscall(SYS_tgkill, getpid(), worker_tids[i], SIGUSR1),
			0);
	}
	wait_held(2);
}

static void let_workers_go(void)
{
	atomic_store(&let_go, true);
	wait_held(0);
}

/* Polls workers_starved() as the loop does, for up to 10 s. */
static bool seen_starved(void)
{
	uint64_t end = clock_mono_us() + 10000000u;

	while (clock_mono_us() < end) {
		if (workers_starved(pool, clock_mono_us()))
			return true;
		usleep(2000);
	}
	return false;
}

static atomic_bool spinning, stop_spinning;

static void spin_run(struct work *w)
{
	record_run(w);
	atomic_store(&spinning, true);
	while (!atomic_load(&stop_spinning))
		;
}

/* Submits j as a job that spins until stop_spinning, and waits until it
 * runs. */
static void start_spinning_job(struct job *j)
{
	uint64_t end = clock_mono_us() + 10000000u;

	atomic_store(&spinning, false);
	atomic_store(&stop_spinning, false);
	j->work = (struct work){.run = spin_run, .done = record_done};
	workers_submit(pool, &j->work);
	while (!atomic_load(&spinning) && clock_mono_us() < end)
		usleep(1000);
	cr_assert(atomic_load(&spinning), "the job never started");
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

/* A job whose thread stops getting CPU while it runs. */
Test(workers, a_running_job_kept_off_its_cpu_is_seen_starved)
{
	struct job j = {0};
	bool seen;

	start_spinning_job(&j);
	hold_workers(j.ran_tid);
	seen = seen_starved();
	atomic_store(&stop_spinning, true);
	let_workers_go();
	cr_assert(seen, "a job held off its CPU for 10 s was never seen "
			"starved");
	run_until_done(&j, 1);
	/* Once it had its CPU and finished, nothing starves. */
	cr_assert_not(
		workers_starved(pool, clock_mono_us() + WORKERS_CHECK_US));
}

/* A job submitted while the threads are woken but get no CPU to take it:
 * no thread has begun it, so only its time in the queue tells. */
Test(workers, a_job_no_idle_thread_gets_to_take_is_seen_starved)
{
	struct job j = {0};
	bool seen;

	hold_workers(0);
	j.work = (struct work){.run = record_run, .done = record_done};
	workers_submit(pool, &j.work);
	seen = seen_starved();
	let_workers_go();
	cr_assert(seen, "a job left in the queue for 10 s was never seen "
			"starved");
	run_until_done(&j, 1);
	cr_assert_not(
		workers_starved(pool, clock_mono_us() + WORKERS_CHECK_US));
}

/* ---- raising a starved job ---- */

/* Runs the loop (its timers raise starved threads) until thread tid has
 * policy, for up to 10 s; returns whether it came to have it. */
static bool loop_until_policy(pid_t tid, int policy)
{
	uint64_t end = clock_mono_us() + 10000000u;

	while (clock_mono_us() < end) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (sched_getscheduler(tid) == policy)
			return true;
		usleep(1000);
	}
	return false;
}

static pid_t other_worker(pid_t tid)
{
	return worker_tids[0] == tid ? worker_tids[1] : worker_tids[0];
}

Test(workers, a_starved_job_runs_at_normal_priority_until_it_is_over)
{
	struct job j = {0};
	bool raised;
	int other_policy;

	start_spinning_job(&j);
	cr_assert_eq(sched_getscheduler(j.ran_tid), SCHED_IDLE);
	hold_workers(j.ran_tid);
	raised = loop_until_policy(j.ran_tid, SCHED_OTHER);
	other_policy = sched_getscheduler(other_worker(j.ran_tid));
	atomic_store(&stop_spinning, true);
	let_workers_go();
	cr_assert(raised, "a job held off its CPU for 10 s was never raised "
			  "(this test needs CAP_SYS_NICE or RLIMIT_NICE 20)");
	cr_assert_eq(other_policy, SCHED_IDLE,
		     "a thread with no job and nothing queued stays idle");
	cr_assert_eq(workers_raises(pool), 1);
	run_until_done(&j, 1);
	cr_assert_eq(sched_getscheduler(j.ran_tid), SCHED_IDLE,
		     "back to SCHED_IDLE once its job is over");
}

Test(workers, a_job_no_thread_gets_to_take_raises_the_threads_without_one)
{
	struct job j = {0};
	bool raised[2];

	hold_workers(0);
	j.work = (struct work){.run = record_run, .done = record_done};
	workers_submit(pool, &j.work);
	for (int i = 0; i < 2; i++)
		raised[i] = loop_until_policy(worker_tids[i], SCHED_OTHER);
	let_workers_go();
	for (int i = 0; i < 2; i++)
		cr_assert(raised[i], "thread %d never raised", i);
	run_until_done(&j, 1);
	cr_assert_eq(sched_getscheduler(j.ran_tid), SCHED_IDLE,
		     "back to SCHED_IDLE once its job is over");
}

/* Lets the held workers go once the thread tid is raised, or after 10 s;
 * says which. (Raising does not end the hold: the hold stands for a
 * thread the kernel would run again once raised.) */
static pid_t watched_tid;
static atomic_bool saw_raise;

static void *let_go_once_raised(void *arg)
{
	uint64_t end = clock_mono_us() + 10000000u;

	(void)arg;
	while (sched_getscheduler(watched_tid) != SCHED_OTHER &&
	       clock_mono_us() < end)
		usleep(1000);
	atomic_store(&saw_raise,
		     sched_getscheduler(watched_tid) == SCHED_OTHER);
	atomic_store(&stop_spinning, true);
	atomic_store(&let_go, true);
	return NULL;
}

/* The loop waits in take_back for a job whose thread has no CPU: it raises
 * that thread rather than wait as long as others keep the CPUs. */
Test(workers, a_take_back_that_waits_for_a_starved_job_raises_its_thread)
{
	struct job j = {0};
	pthread_t watcher;

	start_spinning_job(&j);
	hold_workers(j.ran_tid);
	watched_tid = j.ran_tid;
	atomic_store(&saw_raise, false);
	cr_assert_eq(pthread_create(&watcher, NULL, let_go_once_raised, NULL),
		     0);
	cr_assert(workers_take_back(pool, &j.work), "it ran");
	pthread_join(watcher, NULL);
	wait_held(0);
	cr_assert(atomic_load(&saw_raise),
		  "the loop waited 10 s for a held job and raised nothing");
	cr_assert_eq(j.done_calls, 0);
}

Test(workers, refuses_no_threads_or_too_many)
{
	struct workers *w = NULL;

	cr_assert_eq(workers_new(base, 0, &w), -EINVAL);
	cr_assert_eq(workers_new(base, WORKERS_MAX + 1, &w), -EINVAL);
	cr_assert_null(w);
}
