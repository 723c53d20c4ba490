/*
 * A few threads for the blocking parts of requests (registering and
 * deregistering chunk memory, a seal's CRC and persist), so that the event
 * loop only decodes, answers persists and hands work out: no client waits
 * behind another's registration or large seal.
 *
 * A job is a struct work the caller embeds in its own object: run() is
 * called on a worker, then done() on the loop's thread, on a later turn
 * (never from within workers_submit). Jobs run in no set order and several
 * at once; a caller that needs an order submits the next job from the
 * previous one's done(). run() must touch nothing the loop changes while
 * the job is out: the loop owns everything else (SPDK's rule: one owner
 * per piece of state, messages between threads).
 *
 * Threading: every call from the loop's thread; run() on a worker.
 */
#ifndef CHUNKD_WORKERS_H
#define CHUNKD_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct workers;

struct work {
	void (*run)(struct work *w);  /* on a worker */
	void (*done)(struct work *w); /* on the loop, after run */
	/* The pool's: */
	struct work *next;
	int state;	    /* under the pool's lock */
	uint64_t queued_us; /* when submitted; under the pool's lock */
	bool out;	    /* the loop's: submitted, done() not yet run */
};

#define WORKERS_MAX 64

/* Starts threads (1 to WORKERS_MAX) whose finished jobs complete on base.
 * Returns 0 and sets *out, or a negative errno. */
int workers_new(struct event_base *base, unsigned threads,
		struct workers **out);

/* Stops the threads and sets *w to NULL. Jobs still out are dropped
 * without done(): take them back first (their owners do, as they go).
 * NULL is fine. */
void workers_free(struct workers **w);

/* Hands w out; w stays the caller's memory until its done() runs. */
void workers_submit(struct workers *pool, struct work *w);

/* Takes w back before its done(): removes it if no worker started it,
 * waits for it if one runs it now. done() is then never called. Returns
 * whether run() ran. For an owner that must stop waiting (a connection
 * that closes, a revoke that must finish now). */
bool workers_take_back(struct workers *pool, struct work *w);

/* Whether finished jobs wait for the loop: a thread that busy-polls
 * something else (a completion queue) checks this and returns to the loop
 * so their done() runs. Cheap: one relaxed atomic load. */
bool workers_ready(const struct workers *pool);

/*
 * Whether a job starves: it has run for WORKERS_STARVED_AFTER_US and had
 * less than 1/WORKERS_FAIR_SHARE of a CPU meanwhile, or it has waited as
 * long for a thread that sits idle (woken, with no CPU to take it). The
 * threads are SCHED_IDLE, so threads that busy-poll on every CPU (the
 * loop, and under emulation the clients and the device beside it) keep
 * them off for as long as the polling lasts: in the guest, a seal's client
 * once waited out its 10 s for them. The loop stops busy-polling while
 * this holds, and the job's thread is raised (below). (A job that sleeps,
 * say a deregistration the device holds up, counts too: the loop then
 * sleeps between requests as long, which costs latency, not correctness.)
 * Looks at the threads' CPU clocks and the queue at most once per
 * WORKERS_CHECK_US of now (the monotonic clock, in microseconds); between
 * looks it answers what it found. From the loop's thread.
 */
bool workers_starved(struct workers *pool, uint64_t now);

/*
 * The threads run SCHED_IDLE, and a job that starves there (as above, for
 * WORKERS_RAISE_AFTER_US) is raised to normal priority until it is over:
 * checked every WORKERS_STARVED_AFTER_US while jobs are out, by a timer on
 * the loop.
 * The loop never waits long on a starved thread either: when it has waited
 * as long for the pool's lock (patient_lock.h), it raises every thread,
 * and in workers_take_back(), the thread of the job it waits for.
 * That needs leave from the kernel (CAP_SYS_NICE, or RLIMIT_NICE 20);
 * without it workers_new() warns once and nothing is raised. How many
 * times a thread was raised, ever (tests, metrics):
 */
uint64_t workers_raises(const struct workers *pool);

#define WORKERS_STARVED_AFTER_US 20000u
#define WORKERS_RAISE_AFTER_US	 100000u
#define WORKERS_FAIR_SHARE	 8u
#define WORKERS_CHECK_US	 1000u

/* Whether w is out (submitted, its done() not yet run). */
bool workers_has(const struct work *w);

/* How many threads run jobs. */
unsigned workers_threads(const struct workers *pool);

#endif
