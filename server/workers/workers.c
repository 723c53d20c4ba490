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

#include "common/log.h"

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

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t queued;	 /* a job came, or stop */
	pthread_cond_t finished; /* a job finished (for take_back) */
	struct work_queue todo, finished_jobs;
	bool stop;
	atomic_bool ready; /* finished jobs wait for the loop */
	int wake_fd;	   /* an eventfd: the same, for the loop's poll */
	struct event *wake;
	pthread_t threads[WORKERS_MAX];
	unsigned thread_count;
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
 * SCHED_IDLE about as long (docs/design.md, "Threading"). The loop is one
 * thread, so on a host of two or more CPUs the workers still find one. */
static void lower_priority(void)
{
	struct sched_param param = {0};
	int rc = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);

	if (rc)
		log_warn("workers: cannot lower their priority: %s",
			 strerror(rc));
}

static void *work_loop(void *arg)
{
	struct workers *p = arg;
	const uint64_t one = 1;
	struct work *w;

	lower_priority();
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !p->todo.head)
			pthread_cond_wait(&p->queued, &p->lock);
		if (p->stop)
			break;
		w = queue_pop(&p->todo);
		w->state = WORK_RUNNING;
		pthread_mutex_unlock(&p->lock);
		w->run(w);
		pthread_mutex_lock(&p->lock);
		w->state = WORK_FINISHED;
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
		pthread_mutex_lock(&p->lock);
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
	pthread_mutex_lock(&p->lock);
	w->state = WORK_QUEUED;
	queue_push(&p->todo, w);
	pthread_cond_signal(&p->queued);
	pthread_mutex_unlock(&p->lock);
}

bool workers_take_back(struct workers *p, struct work *w)
{
	bool ran = true;

	if (!w->out)
		return false;
	pthread_mutex_lock(&p->lock);
	while (w->state == WORK_RUNNING)
		pthread_cond_wait(&p->finished, &p->lock);
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

static int start_threads(struct workers *p, unsigned threads)
{
	while (p->thread_count < threads) {
		int rc = pthread_create(&p->threads[p->thread_count], NULL,
					work_loop, p);

		if (rc)
			return -rc;
		pthread_setname_np(p->threads[p->thread_count],
				   "chunkd-worker");
		p->thread_count++;
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
	rc = p->wake && event_add(p->wake, NULL) == 0 ? 0 : -ENOMEM;
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
		pthread_join(p->threads[i], NULL);
	if (p->wake)
		event_free(p->wake);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	pthread_cond_destroy(&p->finished);
	pthread_cond_destroy(&p->queued);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*wp = NULL;
}
