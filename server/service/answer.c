/* The checks and replies every request handler shares (answer.h). */
#include "answer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/log.h"
#include "frees.h"

/* Turns *reply into an ERROR with a one-line reason. */
void answer_fail(struct proto_msg *reply, unsigned status, const char *fmt, ...)
{
	va_list ap;
	int n;

	reply->hdr.type = PROTO_ERROR;
	reply->u.error.status = status;
	reply->u.error.detail = 0;
	va_start(ap, fmt);
	n = vsnprintf(reply->u.error.text, sizeof(reply->u.error.text), fmt,
		      ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	reply->u.error.text_len = (uint16_t)((size_t)n < PROTO_ERROR_TEXT_MAX
						     ? (size_t)n
						     : PROTO_ERROR_TEXT_MAX);
}

/* Refuses a request made under epoch, which is not the lease's: STALE,
 * with the current epoch as detail. */
void answer_stale(const struct session *sess, uint32_t epoch,
		  struct proto_msg *r)
{
	answer_fail(r, PROTO_ST_STALE,
		    "epoch %u is stale; the lease is at epoch %u", epoch,
		    sess->epoch);
	r->u.error.detail = sess->epoch;
}

/* Refuses a request under an epoch that is not the lease's; renews the
 * lease otherwise. */
int answer_check_epoch(struct service *s, struct session *sess, uint32_t epoch,
		       struct proto_msg *r)
{
	if (epoch != sess->epoch) {
		answer_stale(sess, epoch, r);
		return -1;
	}
	sess->lease_deadline_us = s->clock_us() + s->lease_ttl_ms * 1000ull;
	return 0;
}

/* Counts and sends reply to sess. A reply that cannot be sent breaks the
 * connection, which the transport closes itself. */
void answer_send(struct service *s, struct session *sess,
		 const struct proto_msg *reply)
{
	if (reply->hdr.type == PROTO_ERROR)
		s->counters.errors++;
	if (sess->ops->send_reply(sess->ops_ctx, reply))
		log_debug(
			"session %llu: the reply to request %llu was not sent",
			(unsigned long long)sess->id,
			(unsigned long long)reply->hdr.request_id);
}

/* The histogram that times requests of this type, or NULL. */
static struct histogram *timed(struct service *s, unsigned type)
{
	switch (type) {
	case PROTO_ALLOC:
	case PROTO_ALLOC_COPY:
		return &s->counters.latency[SERVICE_TIMED_ALLOC];
	case PROTO_PERSIST:
		return &s->counters.latency[SERVICE_TIMED_PERSIST];
	case PROTO_SEAL:
	case PROTO_SEAL_COPIES:
		return &s->counters.latency[SERVICE_TIMED_SEAL];
	default:
		return NULL;
	}
}

static void count_offered(struct service_counters *c, uint32_t methods)
{
	for (unsigned i = 0; i < sizeof(c->offered) / sizeof(c->offered[0]);
	     i++)
		if (methods & (1u << i))
			c->offered[i]++;
}

void answer_count(struct service *s, const struct proto_msg *req,
		  const struct proto_msg *reply, uint64_t start_us)
{
	struct service_counters *c = &s->counters;
	struct histogram *h;
	uint64_t now;

	if (!req || req->hdr.type >= SERVICE_REQUEST_TYPES)
		return;
	if (reply->hdr.type == PROTO_ERROR)
		c->errors_by_type[req->hdr.type]++;
	else if (reply->hdr.type == PROTO_GRANT)
		c->granted_bytes += reply->u.grant.length;
	else if (reply->hdr.type == PROTO_PLACED)
		c->granted_bytes += reply->u.placed.grant.length;
	else if (reply->hdr.type == PROTO_SEALED)
		c->sealed_bytes += req->u.seal.length;
	else if (reply->hdr.type == PROTO_WELCOME)
		count_offered(c, reply->u.welcome.persist_methods);
	h = timed(s, req->hdr.type);
	if (h) {
		now = s->clock_us();
		histogram_observe(h, now > start_us ? now - start_us : 0);
	}
}

/* Answers a held request (unless its session is gone) and frees it. */
void answer_held(struct service *s, struct request *q)
{
	if (q->sess) {
		answer_send(s, q->sess, &q->reply);
		answer_count(s, &q->msg, &q->reply, q->start_us);
	}
	request_free(q);
}

/* Holds req for a table change; NULL (with *r an ERROR) when out of
 * memory. */
struct request *answer_hold(struct service *s, struct session *sess,
			    const struct proto_msg *req, struct proto_msg *r)
{
	struct request *q = request_new(sess, req);

	if (!q) {
		answer_fail(r, PROTO_ST_INTERNAL, "out of memory");
	} else {
		q->svc = s;
		q->start_us = s->request_start_us;
	}
	return q;
}

/* Finds an OPEN chunk of this session, or fills an ERROR and fails. */
int answer_find_own_open(struct service *s, struct session *sess,
			 uint64_t chunk, struct table_record *rec,
			 struct proto_msg *r)
{
	if (frees_lookup(s, chunk, rec)) {
		answer_fail(r, PROTO_ST_NOENT, "no chunk %llu",
			    (unsigned long long)chunk);
		return -1;
	}
	if (rec->state != TABLE_CHUNK_OPEN) {
		answer_fail(r, PROTO_ST_STATE, "chunk %llu is sealed",
			    (unsigned long long)chunk);
		return -1;
	}
	if (rec->session != sess->id) {
		answer_fail(r, PROTO_ST_PERM, "chunk %llu is another session's",
			    (unsigned long long)chunk);
		return -1;
	}
	return 0;
}

void answer_after_grant(struct request *q, const struct table_record *rec,
			bool write, uint64_t len, session_grant_fn *done)
{
	const struct session_ops *ops = q->sess->ops;
	void *ctx = q->sess->ops_ctx;
	uint8_t *addr = q->svc->area + rec->offset;
	uint32_t rkey = 0;
	int rc;

	request_wait_for(q, REQUEST_GRANTING);
	if (frees_under_way(q->svc, rec->id)) { /* it would not be revoked */
		done(q, -ECANCELED, 0);
		return;
	}
	if (write)
		rc = ops->grant_write(ctx, rec->id, addr, len, &rkey, done, q);
	else
		rc = ops->grant_read(ctx, rec->id, addr, len, &rkey, done, q);
	if (rc != -EINPROGRESS)
		done(q, rc, rkey);
}
