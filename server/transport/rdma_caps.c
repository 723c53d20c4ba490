#include "rdma_caps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Where one capability is in its life. */
enum cap_state {
	/* A worker registers its MR; grants of it wait. */
	CAP_REGISTERING,
	/* Its MR is registered and its rkey handed out. */
	CAP_LIVE,
	/* Revoked without blocking: a worker deregisters its MR (or the MR
	 * is gone already and a no-op job carries the news to the loop); the
	 * revoke's caller waits. Grants no longer see it. */
	CAP_DROPPING,
	/* Revoked while registering: its MR is gone; its grants hear
	 * -ECANCELED when the no-op job comes back. */
	CAP_CANCELLED,
};

/* What a worker does for a capability. */
enum cap_job { JOB_REGISTER, JOB_DEREGISTER, JOB_NOTHING };

/* A grant waiting for the registration. */
struct grant_waiter {
	session_grant_fn *done;
	void *arg;
	struct grant_waiter *next;
};

struct cap {
	struct work work;
	struct rdma_caps *owner;
	uint64_t chunk;
	bool write;
	enum cap_state state;
	enum cap_job job;
	uint8_t *addr;
	uint64_t len;
	int access;
	struct ibv_mr *mr; /* set by the worker, or the loop once it is back */
	int reg_errno;
	struct grant_waiter *waiters;
	session_revoked_fn *revoked;
	void *revoked_arg;
	struct cap *next;
};

struct rdma_caps {
	/* Once retired: deregisters the caps' MRs and deallocates the PD. */
	struct work retire;
	struct ibv_pd *pd;
	struct workers *pool;
	char peer[64]; /* a copy: a retired set outlives its connection */
	struct cap *caps;
	unsigned count;
	struct rdma_caps **retired; /* the list it is on, once retired */
	struct rdma_caps *next_retired;
};

/* ---- on a worker, or on the loop when small ---- */

/* k's MR, if any, is gone (a failure is logged: nothing else can be done
 * about it). */
static void deregister(struct cap *k)
{
	if (k->mr && ibv_dereg_mr(k->mr))
		log_error("%s: ibv_dereg_mr of chunk %llu: %s", k->owner->peer,
			  (unsigned long long)k->chunk, strerror(errno));
	k->mr = NULL;
}

static void cap_run(struct work *w)
{
	struct cap *k = (struct cap *)w;

	if (k->job == JOB_REGISTER) {
		k->mr = ibv_reg_mr(k->owner->pd, k->addr, k->len, k->access);
		k->reg_errno = k->mr ? 0 : errno;
	} else if (k->job == JOB_DEREGISTER) {
		deregister(k);
	}
}

static void log_reg_failure(const struct cap *k)
{
	log_error("%s: ibv_reg_mr of chunk %llu (%llu bytes): %s",
		  k->owner->peer, (unsigned long long)k->chunk,
		  (unsigned long long)k->len, strerror(k->reg_errno));
}

/* ---- on the loop ---- */

static struct cap **find_cap(struct rdma_caps *c, uint64_t chunk, bool write)
{
	struct cap **p = &c->caps;

	for (; *p; p = &(*p)->next) {
		struct cap *k = *p;

		if (k->chunk == chunk && k->write == write &&
		    (k->state == CAP_REGISTERING || k->state == CAP_LIVE))
			break;
	}
	return p;
}

static void unlink_cap(struct rdma_caps *c, struct cap *k)
{
	struct cap **p = &c->caps;

	while (*p && *p != k)
		p = &(*p)->next;
	if (*p) {
		*p = k->next;
		c->count--;
	}
}

static void tell_waiters(struct cap *k, int rc, uint32_t rkey)
{
	while (k->waiters) {
		struct grant_waiter *g = k->waiters;

		k->waiters = g->next;
		g->done(g->arg, rc, rkey);
		free(g);
	}
}

/* The capability is over: out of the list, its waiters told. */
static void finish_cap(struct cap *k, int rc)
{
	session_revoked_fn *revoked = k->revoked;
	void *arg = k->revoked_arg;

	unlink_cap(k->owner, k);
	tell_waiters(k, rc, 0);
	free(k);
	if (revoked)
		revoked(arg);
}

static void registered(struct cap *k)
{
	if (k->mr) {
		k->state = CAP_LIVE;
		tell_waiters(k, 0, k->mr->rkey);
		return;
	}
	log_reg_failure(k);
	finish_cap(k, -k->reg_errno);
}

static void cap_done(struct work *w)
{
	struct cap *k = (struct cap *)w;

	if (k->state == CAP_REGISTERING)
		registered(k);
	else
		finish_cap(k, -ECANCELED); /* dropped or cancelled */
}

static void submit(struct cap *k, enum cap_job job)
{
	k->job = job;
	workers_submit(k->owner->pool, &k->work);
}

static int add_waiter(struct cap *k, session_grant_fn *done, void *arg)
{
	struct grant_waiter *g = malloc(sizeof(*g));

	if (!g)
		return -ENOMEM;
	*g = (struct grant_waiter){done, arg, k->waiters};
	k->waiters = g;
	return -EINPROGRESS;
}

static struct cap *new_cap(struct rdma_caps *c, uint64_t chunk, bool write,
			   uint8_t *addr, uint64_t len, int access)
{
	struct cap *k = malloc(sizeof(*k));

	if (!k)
		return NULL;
	*k = (struct cap){.owner = c,
			  .chunk = chunk,
			  .write = write,
			  .state = CAP_REGISTERING,
			  .addr = addr,
			  .len = len,
			  .access = access,
			  .next = c->caps};
	k->work.run = cap_run;
	k->work.done = cap_done;
	c->caps = k;
	c->count++;
	return k;
}

/* A small capability, made on the loop: 0 and *rkey, or -errno. */
static int register_now(struct cap *k, uint32_t *rkey)
{
	cap_run(&k->work);
	if (!k->mr) {
		int rc = -k->reg_errno;

		log_reg_failure(k);
		unlink_cap(k->owner, k);
		free(k);
		return rc;
	}
	k->state = CAP_LIVE;
	*rkey = k->mr->rkey;
	return 0;
}

int rdma_caps_grant(struct rdma_caps *c, uint64_t chunk, bool write,
		    uint8_t *addr, uint64_t len, int access, uint32_t *rkey,
		    session_grant_fn *done, void *arg)
{
	struct cap *k = *find_cap(c, chunk, write);
	int rc;

	if (k && k->state == CAP_LIVE) {
		*rkey = k->mr->rkey;
		return 0;
	}
	if (k) /* being registered: wait with the others */
		return add_waiter(k, done, arg);
	if (len == 0) { /* nothing to reach: no MR, no rkey */
		*rkey = 0;
		return 0;
	}
	k = new_cap(c, chunk, write, addr, len, access);
	if (!k)
		return -ENOMEM;
	if (len <= RDMA_CAPS_INLINE_BYTES)
		return register_now(k, rkey);
	rc = add_waiter(k, done, arg);
	if (rc != -EINPROGRESS) {
		unlink_cap(c, k);
		free(k);
		return rc;
	}
	submit(k, JOB_REGISTER);
	return rc;
}

/* Whatever a worker does for k, it is over or never happens; the MR is
 * deregistered. */
static void drop_now(struct cap *k)
{
	workers_take_back(k->owner->pool, &k->work);
	deregister(k);
}

void rdma_caps_revoke(struct rdma_caps *c, uint64_t chunk, bool write)
{
	struct cap *k;

	/* An asynchronous revoke of the same chunk may be under way: it
	 * must be over too when this returns. */
	while ((k = *find_cap(c, chunk, write)) != NULL) {
		drop_now(k);
		if (k->state == CAP_LIVE && !k->waiters) {
			unlink_cap(c, k);
			free(k);
			continue;
		}
		/* Its waiters hear on a later turn, never from in here. */
		k->state = CAP_CANCELLED;
		submit(k, JOB_NOTHING);
	}
	for (k = c->caps; k; k = k->next) {
		if (k->chunk != chunk || k->write != write ||
		    k->state != CAP_DROPPING || !workers_has(&k->work))
			continue;
		drop_now(k);
		submit(k, JOB_NOTHING); /* its revoker hears later */
	}
}

int rdma_caps_revoke_async(struct rdma_caps *c, uint64_t chunk, bool write,
			   session_revoked_fn *done, void *arg)
{
	struct cap *k = *find_cap(c, chunk, write);

	if (!k) {
		/* Another asynchronous revoke of it may be under way (a seal's,
		 * or an expired lease's): this one must not end before it,
		 * and a capability has one revoker, so it is finished now. */
		rdma_caps_revoke(c, chunk, write);
		return 0;
	}
	if (k->state == CAP_REGISTERING) {
		/* Never handed out: gone now, its grants told later. */
		drop_now(k);
		k->state = CAP_CANCELLED;
		submit(k, JOB_NOTHING);
		return 0;
	}
	k->state = CAP_DROPPING;
	k->revoked = done;
	k->revoked_arg = arg;
	submit(k, JOB_DEREGISTER);
	return -EINPROGRESS;
}

unsigned rdma_caps_count(const struct rdma_caps *c)
{
	return c->count;
}

struct rdma_caps *rdma_caps_new(struct ibv_pd *pd, struct workers *pool,
				const char *peer)
{
	struct rdma_caps *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pd = pd;
	c->pool = pool;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	return c;
}

void rdma_caps_free(struct rdma_caps **cp)
{
	struct rdma_caps *c = *cp;

	if (!c)
		return;
	while (c->caps) {
		struct cap *k = c->caps;

		drop_now(k);
		finish_cap(k, -ECANCELED);
	}
	free(c);
	*cp = NULL;
}

/* ---- retiring: the connection is gone ---- */

static void retire_run(struct work *w)
{
	struct rdma_caps *c = (struct rdma_caps *)w;

	for (struct cap *k = c->caps; k; k = k->next)
		deregister(k);
	if (ibv_dealloc_pd(c->pd))
		log_error("%s: ibv_dealloc_pd: %s", c->peer, strerror(errno));
}

static void unlink_retired(struct rdma_caps *c)
{
	struct rdma_caps **p = c->retired;

	while (*p && *p != c)
		p = &(*p)->next_retired;
	if (*p)
		*p = c->next_retired;
}

static void retire_done(struct work *w)
{
	struct rdma_caps *c = (struct rdma_caps *)w;

	unlink_retired(c);
	while (c->caps) {
		struct cap *k = c->caps;

		c->caps = k->next;
		free(k);
	}
	free(c);
}

/* Tells every capability's waiters and revoker that it is over, as
 * rdma_caps_free does, but keeps them and their MRs for the worker. No one
 * reaches c from a callback: its connection has let go of it. */
static void settle_caps(struct rdma_caps *c)
{
	for (struct cap *k = c->caps; k; k = k->next) {
		session_revoked_fn *revoked = k->revoked;

		workers_take_back(c->pool, &k->work);
		tell_waiters(k, -ECANCELED, 0);
		k->revoked = NULL;
		if (revoked)
			revoked(k->revoked_arg);
	}
}

void rdma_caps_retire(struct rdma_caps **cp, struct rdma_caps **retired)
{
	struct rdma_caps *c = *cp;

	if (!c)
		return;
	*cp = NULL;
	if (!c->caps) { /* nothing to let go of but the PD */
		retire_run(&c->retire);
		free(c);
		return;
	}
	settle_caps(c);
	c->retired = retired;
	c->next_retired = *retired;
	*retired = c;
	c->retire.run = retire_run;
	c->retire.done = retire_done;
	workers_submit(c->pool, &c->retire);
}

void rdma_caps_finish_retired(struct rdma_caps **retired)
{
	while (*retired) {
		struct rdma_caps *c = *retired;

		if (!workers_take_back(c->pool, &c->retire))
			retire_run(&c->retire);
		retire_done(&c->retire);
	}
}
