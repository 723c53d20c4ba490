#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "patient_lock.h"

/* Where a job is, under the pool's lock. */
enum work_state {
	WORK_QUEUED = 1, /* waiting for a thread */
	WORK_RUNNING,	 /* a thread runs it */
	WORK_FINISHED,	 /* run() returned; done() is due on the loop */
};

/* A FIFO of jobs, linked through work.next. */
struct work_queue {
	struct work *head, *tail;
};

/* One thread, and what the loop reads of it to tell a starved job. */
struct worker {
	struct workers *pool;
	pthread_t tid;
	clockid_t cpu_clock; /* its CPU time, readable from the loop */
	bool has_cpu_clock;  /* else its jobs are never judged starved */
	_Atomic uint64_t job_since_us; /* when its job began; 0: none */
	_Atomic uint64_t cpu_since_ns; /* its CPU time then */
	atomic_bool raised;	       /* at normal priority for now */
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t queued;	 /* a job came, or stop */
	pthread_cond_t finished; /* a job finished (for take_back) */
	struct work_queue todo, finished_jobs;
	bool stop;
	atomic_bool ready; /* finished jobs wait for the loop */
	int wake_fd;	   /* an eventfd: the same, for the loop's poll */
	struct event *wake;
	struct worker threads[WORKERS_MAX];
	unsigned thread_count;
	unsigned busy; /* threads with a job; under the lock */
	/* The loop's: workers_starved()'s last look and its answer. */
	uint64_t checked_us;
	bool starved;
	/* The loop's: the watch over starved jobs (raise_starved). */
	struct event *watch;
	bool watching;
	bool can_raise; /* the kernel lets a thread leave SCHED_IDLE */
	_Atomic uint64_t raises;
};

static void queue_push(struct work_queue *q, struct work *w)
{
	w->next = NULL;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
}

static struct work *queue_pop(struct work_queue *q)
{
	struct work *w = q->head;

	if (w) {
		q->head = w->next;
		if (!q->head)
			q->tail = NULL;
	}
	return w;
}

static void queue_remove(struct work_queue *q, struct work *w)
{
	struct work *prev = NULL;

	for (struct work *o = q->head; o; prev = o, o = o->next) {
		if (o != w)
			continue;
		if (prev)
			prev->next = w->next;
		else
			q->head = w->next;
		if (q->tail == w)
			q->tail = prev;
		return;
	}
}

/* ---- the threads ---- */

/* Bulk work (pinning pages, reading a sealed chunk) runs only on a CPU
 * nothing else wants (SCHED_IDLE): the loop answers persists, which must
 * not wait behind it, and under emulation the device's own packet work
 * runs on the same CPUs. At nice 10 instead, a persist under a load of
 * allocations and seals took 4 to 6 times as long as alone at p50; at
 * normal priority, even with a seal's CRC32C paced in bites, 7 to 8 times;
 * at SCHED_IDLE about as long (docs/design.md, "Workers' priority"). A job
 * that starves there is raised to normal priority (raise_starved). */
static int set_policy(pthread_t tid, int policy)
{
	struct sched_param param = {0};

	return pthread_setschedparam(tid, policy, &param);
}

static void lower_priority(void)
{
	int rc = set_policy(pthread_self(), SCHED_IDLE);

	if (rc)
		log_warn("workers: cannot lower their priority: %s",
			 strerror(rc));
}

/* Back to SCHED_IDLE once the job it was raised for is over, or when it
 * finds no job. Not while holding the lock: at SCHED_IDLE it may lose its
 * CPU at once, the lock with it. The loop sets the policy first and the
 * flag after: a raise that crosses this leaves the flag set, and the
 * thread goes back at its next chance. */
static void lower_if_raised(struct worker *t)
{
	if (atomic_exchange(&t->raised, false))
		lower_priority();
}

/* The loop may read these while the job runs: CPU time first, so a
 * reader that sees the start sees the CPU time that goes with it. */
static void note_job_start(struct worker *t)
{
	atomic_store(&t->cpu_since_ns, clock_cpu_ns(CLOCK_THREAD_CPUTIME_ID));
	atomic_store(&t->job_since_us, clock_mono_us());
}

static void *work_loop(void *arg)
{
	struct worker *t = arg;
	struct workers *p = t->pool;
	const uint64_t one = 1;
	struct work *w;

	lower_priority();
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !p->todo.head) {
			if (!atomic_load(&t->raised)) {
				pthread_cond_wait(&p->queued, &p->lock);
				continue;
			}
			pthread_mutex_unlock(&p->lock);
			lower_if_raised(t);
			pthread_mutex_lock(&p->lock); /* then look again */
		}
		if (p->stop)
			break;
		w = queue_pop(&p->todo);
		w->state = WORK_RUNNING;
		p->busy++;
		/* Under the lock: the loop sees the job queued or begun, never
		 * between (a thread kept off its CPU there hid it). */
		note_job_start(t);
		pthread_mutex_unlock(&p->lock);
		w->run(w);
		lower_if_raised(t);
		pthread_mutex_lock(&p->lock);
		atomic_store(&t->job_since_us, 0);
		w->state = WORK_FINISHED;
		p->busy--;
		/* One wake-up per batch: the loop drains them all. */
		if (!p->finished_jobs.head) {
			atomic_store_explicit(&p->ready, true,
					      memory_order_relaxed);
			if (write(p->wake_fd, &one, sizeof(one)) != sizeof(one))
				log_error("workers: cannot wake the loop");
		}
		queue_push(&p->finished_jobs, w);
		pthread_cond_broadcast(&p->finished);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- starvation ---- */

/* Whether t's job has run for after_us, with too little CPU. */
static bool job_starved(struct worker *t, uint64_t now, uint64_t after_us)
{
	uint64_t since = atomic_load(&t->job_since_us);
	uint64_t cpu_since = atomic_load(&t->cpu_since_ns), cpu_now, used_us;

	if (!t->has_cpu_clock || !since || now < since + after_us)
		return false;
	cpu_now = clock_cpu_ns(t->cpu_clock);
	used_us = cpu_now > cpu_since ? (cpu_now - cpu_since) / 1000u : 0;
	return used_us * WORKERS_FAIR_SHARE < now - since;
}

/* Whether the oldest waiting job has waited after_us while a thread had
 * no job: that thread, woken for it (or not yet started), found no CPU to
 * take it. (Behind threads that all have jobs, a job merely queues.) */
static bool queue_starved_locked(struct workers *p, uint64_t now,
				 uint64_t after_us)
{
	return p->todo.head && p->busy < p->thread_count &&
	       now >= p->todo.head->queued_us + after_us;
}

/* From the loop. A raise that fails leaves the thread as it was. */
static void raise_thread(struct workers *p, struct worker *t)
{
	int rc;

	if (!p->can_raise || atomic_load(&t->raised))
		return;
	rc = set_policy(t->tid, SCHED_OTHER);
	if (rc) {
		log_debug("workers: cannot raise a starved job: %s",
			  strerror(rc));
		return;
	}
	atomic_store(&t->raised, true);
	atomic_fetch_add(&p->raises, 1);
	log_debug("workers: raised a thread with a starved job");
}

/*
 * What busy-polling threads of chunkd's own leave to SCHED_IDLE, the guard
 * in workers_starved() gives back; what other processes take (or, under
 * emulation, the kernel's packet work for other clients) it cannot: there
 * a seal once waited out its client's timeout. So every
 * WORKERS_STARVED_AFTER_US while jobs are out, the loop raises the thread
 * of each job starved for WORKERS_RAISE_AFTER_US to normal priority, where
 * the kernel shares the CPU fairly, and, while a job waits as long in the
 * queue with no thread getting to it, every thread without a job. A thread
 * goes back to SCHED_IDLE when its job is over, or when it finds no job to
 * take. (Later than the guard: where the loop's own polling starved the
 * job, the guard is remedy enough, and a raised worker competes with the
 * persists: at 20 ms, the 64-byte persist's p50 under the interference
 * load rose from about 1.0x alone to 1.2x and 1.7x.)
 */
static void raise_starved(struct workers *p, uint64_t now)
{
	bool queue = queue_starved_locked(p, now, WORKERS_RAISE_AFTER_US);

	for (unsigned i = 0; i < p->thread_count; i++) {
		struct worker *t = &p->threads[i];
		bool has_job = atomic_load(&t->job_since_us) != 0;

		if ((has_job && job_starved(t, now, WORKERS_RAISE_AFTER_US)) ||
		    (queue && !has_job))
			raise_thread(p, t);
	}
}

/* The loop waited WORKERS_STARVED_AFTER_US for the pool's lock: a thread
 * holds it and has lost its CPU. Which one is not known without the lock:
 * all are raised. */
static void raise_all(void *arg)
{
	struct workers *p = arg;

	for (unsigned i = 0; i < p->thread_count; i++)
		raise_thread(p, &p->threads[i]);
}

/* The loop waited as long for a job to finish (take_back). With the lock
 * held. */
static void raise_starved_now(void *arg)
{
	struct workers *p = arg;

	raise_starved(p, clock_mono_us());
}

/* Every lock of the pool's on the loop's side. */
static void loop_lock(struct workers *p)
{
	patient_lock(&p->lock, WORKERS_STARVED_AFTER_US, raise_all, p);
}

static bool queue_starved(struct workers *p, uint64_t now)
{
	bool starved;

	loop_lock(p);
	starved = queue_starved_locked(p, now, WORKERS_STARVED_AFTER_US);
	pthread_mutex_unlock(&p->lock);
	return starved;
}

bool workers_starved(struct workers *p, uint64_t now)
{
	if (!p)
		return false;
	if (now < p->checked_us + WORKERS_CHECK_US)
		return p->starved;
	p->checked_us = now;
	p->starved = queue_starved(p, now);
	for (unsigned i = 0; !p->starved && i < p->thread_count; i++)
		p->starved = job_starved(&p->threads[i], now,
					 WORKERS_STARVED_AFTER_US);
	return p->starved;
}

static void arm_watch(struct workers *p)
{
	const struct timeval every = {
		.tv_usec = WORKERS_STARVED_AFTER_US,
	};

	p->watching = evtimer_add(p->watch, &every) == 0;
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct workers *p = arg;
	bool out;

	(void)fd;
	(void)what;
	loop_lock(p);
	out = p->todo.head || p->busy;
	if (out)
		raise_starved(p, clock_mono_us());
	pthread_mutex_unlock(&p->lock);
	p->watching = false;
	if (out)
		arm_watch(p);
}

static void watch_for_starving(struct workers *p)
{
	if (p->can_raise && !p->watching)
		arm_watch(p);
}

uint64_t workers_raises(const struct workers *p)
{
	return p ? atomic_load(&p->raises) : 0;
}

/* ---- the loop's side ---- */

/* Runs each finished job's done(), one at a time, so a done() may take
 * back a job that finished after it. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct workers *p = arg;
	uint64_t count;
	struct work *w;

	(void)what;
	atomic_store_explicit(&p->ready, false, memory_order_relaxed);
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_error("workers: reading the wake-up: %s", strerror(errno));
	for (;;) {
		loop_lock(p);
		w = queue_pop(&p->finished_jobs);
		if (w)
			w->state = 0;
		pthread_mutex_unlock(&p->lock);
		if (!w)
			return;
		w->out = false;
		w->done(w);
	}
}

void workers_submit(struct workers *p, struct work *w)
{
	w->out = true;
	loop_lock(p);
	w->state = WORK_QUEUED;
	w->queued_us = clock_mono_us();
	queue_push(&p->todo, w);
	pthread_cond_signal(&p->queued);
	pthread_mutex_unlock(&p->lock);
	watch_for_starving(p);
}

bool workers_take_back(struct workers *p, struct work *w)
{
	bool ran = true;

	if (!w->out)
		return false;
	loop_lock(p);
	while (w->state == WORK_RUNNING)
		patient_wait(&p->finished, &p->lock, WORKERS_STARVED_AFTER_US,
			     raise_starved_now, p);
	if (w->state == WORK_QUEUED) {
		queue_remove(&p->todo, w);
		ran = false;
	} else {
		queue_remove(&p->finished_jobs, w);
	}
	w->state = 0;
	pthread_mutex_unlock(&p->lock);
	w->out = false;
	return ran;
}

bool workers_ready(const struct workers *p)
{
	return p && atomic_load_explicit(&p->ready, memory_order_relaxed);
}

bool workers_has(const struct work *w)
{
	return w->out;
}

unsigned workers_threads(const struct workers *p)
{
	return p->thread_count;
}

/* ---- set-up ---- */

static void *try_leaving_idle(void *arg)
{
	int *rc = arg;

	*rc = set_policy(pthread_self(), SCHED_IDLE);
	if (!*rc)
		*rc = set_policy(pthread_self(), SCHED_OTHER);
	return NULL;
}

/* Whether a thread may go back from SCHED_IDLE to normal priority: the
 * kernel asks for CAP_SYS_NICE or an RLIMIT_NICE of 20 (nice 0). Tried on
 * a thread of its own. */
static bool may_raise(void)
{
	pthread_t probe;
	int rc = EAGAIN;

	if (pthread_create(&probe, NULL, try_leaving_idle, &rc) != 0)
		return false;
	pthread_join(probe, NULL);
	if (rc)
		log_warn("workers: a starved job cannot be raised from "
			 "SCHED_IDLE (%s): other processes' CPU load can hold "
			 "seals and allocations back; allow nice 0 "
			 "(RLIMIT_NICE 20, systemd LimitNICE=+0) or "
			 "CAP_SYS_NICE",
			 strerror(rc));
	return rc == 0;
}

static int start_threads(struct workers *p, unsigned threads)
{
	while (p->thread_count < threads) {
		struct worker *t = &p->threads[p->thread_count];
		int rc;

		t->pool = p;
		rc = pthread_create(&t->tid, NULL, work_loop, t);
		if (rc)
			return -rc;
		pthread_setname_np(t->tid, "chunkd-worker");
		p->thread_count++;
		t->has_cpu_clock =
			pthread_getcpuclockid(t->tid, &t->cpu_clock) == 0;
	}
	return 0;
}

int workers_new(struct event_base *base, unsigned threads, struct workers **out)
{
	struct workers *p = calloc(1, sizeof(*p));
	int rc;

	if (threads < 1 || threads > WORKERS_MAX) {
		free(p);
		return -EINVAL;
	}
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->queued, NULL);
	pthread_cond_init(&p->finished, NULL);
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->wake_fd < 0) {
		rc = -errno;
		workers_free(&p);
		return rc;
	}
	p->wake = event_new(base, p->wake_fd, EV_READ | EV_PERSIST, on_wake, p);
	p->watch = evtimer_new(base, on_watch, p);
	rc = p->wake && p->watch && event_add(p->wake, NULL) == 0 ? 0 : -ENOMEM;
	p->can_raise = rc == 0 && may_raise();
	rc = rc ? rc : start_threads(p, threads);
	if (rc) {
		workers_free(&p);
		return rc;
	}
	*out = p;
	return 0;
}

void workers_free(struct workers **wp)
{
	struct workers *p = *wp;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->queued);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->thread_count; i++)
		pthread_join(p->threads[i].tid, NULL);
	if (p->wake)
		event_free(p->wake);
	if (p->watch)
		event_free(p->watch);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	pthread_cond_destroy(&p->finished);
	pthread_cond_destroy(&p->queued);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*wp = NULL;
}
