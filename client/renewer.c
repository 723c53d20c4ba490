/* libchunkclient's lease renewer: see renewer.h. */
#include "renewer.h"

#include <time.h>

#include "client.h"
#include "common/clock.h"
#include "common/log.h"

int renewer_init(struct renewer *r)
{
	pthread_condattr_t ca;
	int rc = pthread_mutex_init(&r->lock, NULL);

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = rc ? rc : pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	return rc ? CHUNK_E_NOMEM : CHUNK_OK;
}

bool renewer_due(const struct chunk_client *c)
{
	return __atomic_load_n(&c->renewer.due, __ATOMIC_RELAXED);
}

static void set_due(struct chunk_client *c, bool due)
{
	__atomic_store_n(&c->renewer.due, due, __ATOMIC_RELAXED);
}

void renewer_post(struct chunk_client *c)
{
	struct proto_msg req = {.hdr.type = PROTO_RENEW};
	struct renewer *r = &c->renewer;

	if (!renewer_due(c) || r->in_flight || !c->id || c->wc_error ||
	    !client_request_slot_free(c))
		return;
	req.u.renew.epoch = c->sess.epoch;
	if (client_post_request(c, &req, &r->in_flight, NULL) != CHUNK_OK) {
		r->in_flight = 0; /* the application's own call will see why */
		return;
	}
	set_due(c, false);
}

bool renewer_take_reply(struct chunk_client *c, const struct proto_msg *reply)
{
	struct renewer *r = &c->renewer;

	if (!r->in_flight || reply->hdr.request_id != r->in_flight)
		return false;
	r->in_flight = 0;
	if (reply->hdr.type == PROTO_RENEWED) {
		__atomic_store_n(&c->sess.lease_ttl_ms,
				 reply->u.renew.lease_ttl_ms, __ATOMIC_RELAXED);
		client_lease_renewed(c);
		set_due(c, false);
	} else if (reply->hdr.type == PROTO_ERROR &&
		   reply->u.error.status == PROTO_ST_STALE) {
		client_adopt_epoch(c, reply->u.error.detail);
	} else {
		log_warn("session %llu: renewing the lease: %s",
			 (unsigned long long)c->sess.id,
			 reply->hdr.type == PROTO_ERROR
				 ? reply->u.error.text
				 : proto_type_name(reply->hdr.type));
	}
	return true;
}

void renewer_forget(struct chunk_client *c)
{
	c->renewer.in_flight = 0;
}

/* ---- the thread ---- */

/* The renewal period: a third of the lease's TTL, at least 50 ms. */
static uint64_t renew_period_ms(const struct chunk_client *c)
{
	uint32_t ttl = __atomic_load_n(&c->sess.lease_ttl_ms, __ATOMIC_RELAXED);

	return ttl / 3 < 50 ? 50 : ttl / 3;
}

/* Whether no request has renewed the lease for ms: a busy client's own
 * requests keep it, and the renewer leaves it alone. */
static bool lease_quiet_for(const struct chunk_client *c, uint64_t ms)
{
	uint64_t last =
		__atomic_load_n(&c->sess.lease_renewed_us, __ATOMIC_RELAXED);

	return clock_mono_us() - last >= ms * 1000u;
}

static bool renewal_answered(struct chunk_client *c)
{
	return c->renewer.in_flight == 0;
}

/*
 * Under the client's lock, which the application does not hold: posts the
 * renewal and waits for its answer. Completions of the application's
 * asynchronous operations that come meanwhile are taken, but their
 * callbacks wait for the application's next call (in_renewer), and the
 * wait leaves the completion channel alone while any is in flight, so the
 * application's chunk_client_fd() still wakes it for them.
 */
static void renew_while_idle(struct chunk_client *c)
{
	int rc;

	renewer_post(c);
	if (!c->renewer.in_flight)
		return;
	c->in_renewer = true;
	rc = client_finish(c, client_wait_until(c, renewal_answered));
	c->in_renewer = false;
	if (rc)
		log_warn("session %llu: renewing the lease: %s",
			 (unsigned long long)c->sess.id, chunk_strerror(rc));
	if (!c->async.in_flight)
		client_arm_channel(c); /* the application's fd as before */
}

/*
 * Checks four times per renewal period whether the lease has been quiet
 * for a period; then marks a renewal due, and posts it itself only if the
 * client's lock is free. It never waits for that lock: the application may
 * hold it in a tight loop, and an unfair mutex would not hand it over
 * before the lease expired. The application's next call posts it instead.
 */
static void *renew_loop(void *arg)
{
	struct chunk_client *c = arg;
	struct renewer *r = &c->renewer;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		uint64_t period = renew_period_ms(c);
		struct timespec when =
			clock_after_us(CLOCK_MONOTONIC, period / 4 * 1000u);

		pthread_cond_timedwait(&r->wake, &r->lock, &when);
		if (r->stopping || !lease_quiet_for(c, period))
			continue;
		set_due(c, true);
		pthread_mutex_unlock(&r->lock);
		if (pthread_mutex_trylock(&c->lock) == 0) {
			if (c->id)
				renew_while_idle(c);
			pthread_mutex_unlock(&c->lock);
		}
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int renewer_start(struct chunk_client *c)
{
	struct renewer *r = &c->renewer;

	if (pthread_create(&r->thread, NULL, renew_loop, c))
		return CHUNK_E_NOMEM;
	r->running = true;
	return CHUNK_OK;
}

void renewer_stop(struct chunk_client *c)
{
	struct renewer *r = &c->renewer;

	if (!r->running)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	r->running = false;
}

void renewer_fini(struct chunk_client *c)
{
	renewer_stop(c);
	pthread_cond_destroy(&c->renewer.wake);
	pthread_mutex_destroy(&c->renewer.lock);
}
