#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "proto/auth.h"
#include "proto/wire.h"
#include "answer.h"
#include "copies.h"
#include "frees.h"
#include "seal.h"

void service_init(struct service *s, struct table *table, uint8_t *area,
		  const struct persister *data, uint32_t granularity,
		  bool direct_write_to_pmem, uint32_t lease_ttl_ms)
{
	memset(s, 0, sizeof(*s));
	s->table = table;
	s->area = area;
	s->data = data;
	s->granularity = granularity;
	s->lease_ttl_ms = lease_ttl_ms;
	s->clock_us = clock_mono_us;
	s->persist_methods = PROTO_PERSIST_RPC;
	if (direct_write_to_pmem)
		s->persist_methods |= PROTO_PERSIST_READ_AFTER_WRITE;
	/* Session ids differ across restarts too: the table keeps them. */
	s->next_session = (uint64_t)time(NULL) << 20;
	s->sessions.next = s->sessions.prev = &s->sessions;
}

void service_session_start(struct service *s, struct session *sess,
			   const struct session_ops *ops, void *ops_ctx)
{
	sess->id = ++s->next_session;
	sess->epoch = 1;
	sess->greeted = false;
	sess->auth_refused = false;
	sess->lease_deadline_us = s->clock_us() + s->lease_ttl_ms * 1000ull;
	sess->ops = ops;
	sess->ops_ctx = ops_ctx;
	sess->held = NULL;
	sess->next = &s->sessions;
	sess->prev = s->sessions.prev;
	s->sessions.prev->next = sess;
	s->sessions.prev = sess;
}

struct open_ids {
	uint64_t session;
	uint64_t *ids;
	size_t count, cap;
};

static bool collect_open(const struct table_record *rec, void *arg)
{
	struct open_ids *o = arg;

	if (rec->state != TABLE_CHUNK_OPEN || rec->session != o->session)
		return true;
	if (o->count == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		uint64_t *grown = realloc(o->ids, cap * sizeof(*grown));

		if (!grown)
			return false;
		o->ids = grown;
		o->cap = cap;
	}
	o->ids[o->count++] = rec->id;
	return true;
}

/* Chunk and session ids travel to table completions as the callback's
 * argument itself, so nothing is allocated for them. */
_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "ids fit a pointer");

static void reclaim_done(void *arg, const struct table_result *res)
{
	unsigned long long session = (uintptr_t)arg;

	if (res->status)
		log_error(
			"session %llu: reclaiming its open chunks failed: %s; "
			"recovery frees them at the next start",
			session, strerror(-res->status));
	else if (res->count)
		log_info("session %llu: reclaimed %llu open chunks", session,
			 (unsigned long long)res->count);
}

/* A reclaim waiting for write access to the session's OPEN chunks to go. */
struct reclaim {
	struct service *svc;
	uint64_t session;
	uint32_t epoch;
	unsigned revokes; /* still under way, plus one while they are asked */
};

static void reclaim_now(struct service *s, uint64_t session, uint32_t epoch)
{
	table_reclaim(s->table, session, epoch, reclaim_done,
		      (void *)(uintptr_t)session);
}

static void open_revoked(void *arg)
{
	struct reclaim *r = arg;

	if (--r->revokes)
		return;
	reclaim_now(r->svc, r->session, r->epoch);
	free(r);
}

/* Revokes write access to the session's OPEN chunks of epoch or earlier,
 * then has the table reclaim them: nothing may land in a reclaimed chunk.
 * With now, the revokes are over when this returns (an operator's revoke
 * promises so); otherwise they deregister on workers, so an expired lease
 * keeps the loop free, and a connection that closes finishes them. */
static void reclaim_open(struct service *s, struct session *sess,
			 uint32_t epoch, bool now)
{
	struct open_ids open = {.session = sess->id};
	struct reclaim *r = now ? NULL : malloc(sizeof(*r));

	table_iterate(s->table, collect_open, &open);
	if (!r) { /* at once, or out of memory */
		for (size_t i = 0; i < open.count; i++)
			sess->ops->revoke_write(sess->ops_ctx, open.ids[i]);
		free(open.ids);
		reclaim_now(s, sess->id, epoch);
		return;
	}
	*r = (struct reclaim){s, sess->id, epoch, 1};
	for (size_t i = 0; i < open.count; i++)
		if (sess->ops->revoke_write_async(sess->ops_ctx, open.ids[i],
						  open_revoked,
						  r) == -EINPROGRESS)
			r->revokes++;
	free(open.ids);
	open_revoked(r); /* the asking is over */
}

void service_session_end(struct service *s, struct session *sess)
{
	request_orphan_all(sess);
	reclaim_open(s, sess, sess->epoch, false);
	sess->prev->next = sess->next;
	sess->next->prev = sess->prev;
	sess->next = sess->prev = sess;
}

static void lose_lease(struct service *s, struct session *sess, const char *why,
		       bool now)
{
	uint32_t lost = sess->epoch;

	sess->epoch++;
	sess->lease_deadline_us = 0;
	log_info("session %llu: lease %s; its open chunks are reclaimed; "
		 "epoch now %u",
		 (unsigned long long)sess->id, why, sess->epoch);
	reclaim_open(s, sess, lost, now);
}

unsigned service_expire_leases(struct service *s)
{
	uint64_t now = s->clock_us();
	unsigned n = 0;

	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		if (o->lease_deadline_us && o->lease_deadline_us < now) {
			lose_lease(s, o, "expired", false);
			s->counters.leases_expired++;
			n++;
		}
	}
	return n;
}

struct session *service_find_session(struct service *s, uint64_t id)
{
	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

int service_renew_lease(struct service *s, uint64_t id)
{
	struct session *sess = service_find_session(s, id);

	if (!sess)
		return -ENOENT;
	if (sess->lease_deadline_us) /* a lost lease needs its client */
		sess->lease_deadline_us =
			s->clock_us() + s->lease_ttl_ms * 1000ull;
	return 0;
}

int service_admin_free(struct service *s, uint64_t id, table_done_fn *done,
		       void *arg)
{
	struct table_record rec;

	if (frees_lookup(s, id, &rec))
		return -ENOENT;
	frees_start(s, &rec, done, arg);
	return 0;
}

int service_revoke_lease(struct service *s, uint64_t id)
{
	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		if (o->id == id) {
			lose_lease(s, o, "revoked", true);
			s->counters.leases_revoked++;
			return 0;
		}
	}
	return -ENOENT;
}

static void do_renew(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	if (answer_check_epoch(s, sess, req->u.renew.epoch, r))
		return;
	r->hdr.type = PROTO_RENEWED;
	r->u.renew.epoch = sess->epoch;
	r->u.renew.lease_ttl_ms = s->lease_ttl_ms;
}

/* Whether HELLO proves the client's secret (or none is required). */
static bool authenticated(struct service *s, struct session *sess,
			  const struct proto_msg *req, struct proto_msg *r)
{
	const char *name = req->u.hello.name;
	const char *secret = s->secrets ? secrets_find(s->secrets, name) : NULL;

	if (!s->secrets)
		return true;
	if (!sess->auth_refused && secret &&
	    req->u.hello.mac_len == PROTO_MAC_LEN &&
	    auth_check(secret, strlen(secret), sess->nonce, name,
		       req->u.hello.mac))
		return true;
	sess->auth_refused = true;
	s->counters.auth_refused++;
	log_warn("session %llu (%s): authentication refused for client '%s'",
		 (unsigned long long)sess->id, sess->peer ? sess->peer : "?",
		 name);
	answer_fail(r, PROTO_ST_AUTH, "authentication failed for client '%s'",
		    name);
	return false;
}

static void do_hello(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	if (sess->greeted) {
		answer_fail(r, PROTO_ST_STATE, "HELLO was already said");
		return;
	}
	if (!sess->lease_deadline_us) {
		/* The lease ran out before HELLO: the session is dead. */
		answer_fail(
			r, PROTO_ST_STALE,
			"the session's lease expired before HELLO; reconnect");
		return;
	}
	if (!authenticated(s, sess, req, r))
		return;
	sess->greeted = true;
	r->hdr.type = PROTO_WELCOME;
	r->u.welcome.session = sess->id;
	r->u.welcome.epoch = sess->epoch;
	r->u.welcome.persist_methods = s->persist_methods;
	/* A FLUSH makes bytes durable only where the pool is pmem (on tmpfs
	 * the registration would fail, by design). */
	if (sess->can_flush && s->data->mode == PERSIST_PMEM)
		r->u.welcome.persist_methods |= PROTO_PERSIST_NATIVE_FLUSH;
	sess->flush_offered =
		r->u.welcome.persist_methods & PROTO_PERSIST_NATIVE_FLUSH;
	r->u.welcome.max_frame = PROTO_MAX_FRAME;
	r->u.welcome.granularity = s->granularity;
	r->u.welcome.lease_ttl_ms = s->lease_ttl_ms;
}

/* Frees a chunk granted to nobody after all (its request was orphaned or
 * its lease lost while the table worked). */
static void undo_done(void *arg, const struct table_result *res)
{
	if (res->status)
		log_error("chunk %llu: freeing an unclaimed grant failed: %s; "
			  "recovery frees it at the next start, or the "
			  "cluster's table once etcd answers",
			  (unsigned long long)(uintptr_t)arg,
			  strerror(-res->status));
}

static void undo_alloc(struct service *s, uint64_t chunk)
{
	table_free(s->table, chunk, undo_done, (void *)(uintptr_t)chunk);
}

static void refuse_alloc(struct service *s, struct proto_msg *r, int status,
			 uint64_t size)
{
	struct table_stats st;

	if (status == -EFBIG) {
		table_stats(s->table, &st);
		answer_fail(
			r, PROTO_ST_NOSPC,
			"%llu bytes is more than the whole pool (%llu bytes)",
			(unsigned long long)size,
			(unsigned long long)st.area_bytes);
	} else if (status == -ENOSPC) {
		answer_fail(r, PROTO_ST_NOSPC, "no room for %llu bytes",
			    (unsigned long long)size);
	} else if (status == -EINVAL) {
		answer_fail(
			r, PROTO_ST_INVALID,
			"cannot allocate %llu bytes (copies: 1 to %u; a further "
			"copy goes to another chunkd than its chunk's)",
			(unsigned long long)size, PROTO_MAX_COPIES);
	} else if (status == -EHOSTUNREACH) {
		answer_fail(
			r, PROTO_ST_UNAVAILABLE,
			"the cluster's table cannot be reached (etcd); nothing "
			"was allocated: try again");
	} else if (status == -EHOSTDOWN) {
		answer_fail(
			r, PROTO_ST_FEW_SERVERS,
			"fewer live chunkd servers with room for %llu bytes than "
			"the copies asked",
			(unsigned long long)size);
	} else if (status == -EOPNOTSUPP) {
		answer_fail(
			r, PROTO_ST_INVALID,
			"replicated chunks need cluster mode (--etcd-endpoints)");
	} else {
		answer_fail(r, PROTO_ST_INTERNAL, "the table failed: %s",
			    strerror(-status));
	}
}

/* The new chunk's write access is granted (or not): the answer. */
static void alloc_granted(void *arg, int rc, uint32_t rkey)
{
	struct request *q = arg;
	struct service *s = q->svc;
	const struct table_record *rec = &q->found.rec;
	struct proto_msg *r = &q->reply;

	if (rc == -ECANCELED && q->sess && q->epoch != q->sess->epoch) {
		answer_stale(q->sess, q->epoch,
			     r); /* reclaimed with the lease */
	} else if (rc == -ECANCELED) {
		/* Revoked by whoever took the chunk (a free, the session's
		 * end): it is theirs to free. */
		answer_fail(r, PROTO_ST_NOENT,
			    "chunk %llu was freed before it was granted",
			    (unsigned long long)rec->id);
	} else if (rc || !q->sess) {
		undo_alloc(s, rec->id);
		answer_fail(r, PROTO_ST_INTERNAL,
			    "cannot grant write access: %s", strerror(-rc));
	} else {
		r->hdr.type = PROTO_GRANT;
		r->u.grant.chunk = rec->id;
		r->u.grant.addr = (uintptr_t)(s->area + rec->offset);
		r->u.grant.length = rec->length;
		r->u.grant.rkey = rkey;
		r->u.grant.epoch = rec->epoch;
		if (q->found.copies.count)
			copies_placed(&q->found.copies, r);
	}
	answer_held(s, q);
}

/* Grants write access to the new chunk; the answer waits for it. */
static void grant_new_chunk(struct request *q, const struct table_result *res)
{
	q->found = *res;
	answer_after_grant(q, &res->rec, true, res->rec.length, alloc_granted);
}

static void alloc_done(void *arg, const struct table_result *res)
{
	struct request *q = arg;
	struct service *s = q->svc;

	if (res->status) {
		refuse_alloc(s, &q->reply, res->status, q->msg.u.alloc.size);
	} else if (!q->sess) {
		undo_alloc(s, res->rec.id); /* its session is gone */
	} else if (q->epoch != q->sess->epoch) {
		/* The lease was lost while the table worked: its reclaim
		 * could not see this chunk yet. */
		undo_alloc(s, res->rec.id);
		answer_stale(q->sess, q->epoch, &q->reply);
	} else {
		grant_new_chunk(q, res);
		return;
	}
	answer_held(s, q);
}

/* Holds the request while the table allocates. */
static void do_alloc(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	struct request *q;

	struct table_alloc_args a = {.size = req->u.alloc.size,
				     .copies = req->u.alloc.copies,
				     .copy_of = req->u.alloc.of};

	if (answer_check_epoch(s, sess, req->u.alloc.epoch, r) ||
	    !(q = answer_hold(s, sess, req, r)))
		return;
	a.session = sess->id;
	a.epoch = sess->epoch;
	request_wait_for_table(q);
	if (a.copies > 1 || a.copy_of)
		table_alloc_replica(s->table, &a, alloc_done, q);
	else
		table_alloc(s->table, a.size, a.session, a.epoch, alloc_done,
			    q);
}

static void do_persist(struct service *s, struct session *sess,
		       const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.persist.chunk, off = req->u.persist.offset;
	uint64_t len = req->u.persist.length;
	struct table_record rec;

	if (answer_check_epoch(s, sess, req->u.persist.epoch, r) ||
	    answer_find_own_open(s, sess, chunk, &rec, r))
		return;
	if (off > rec.length || len > rec.length - off) {
		answer_fail(r, PROTO_ST_INVALID,
			    "range %llu+%llu is outside chunk %llu",
			    (unsigned long long)off, (unsigned long long)len,
			    (unsigned long long)chunk);
		return;
	}
	persist_range(s->data, s->area + rec.offset + off, len);
	r->hdr.type = PROTO_PERSISTED;
}

static void free_done(void *arg, const struct table_result *res)
{
	struct request *q = arg;

	if (res->status == 0)
		q->reply.hdr.type = PROTO_FREED;
	else if (res->status == -ENOENT)
		answer_fail(&q->reply, PROTO_ST_NOENT, "no chunk %llu",
			    (unsigned long long)q->msg.u.free.chunk);
	else if (res->status == -EHOSTUNREACH)
		answer_fail(&q->reply, PROTO_ST_UNAVAILABLE,
			    "chunk %llu: the cluster's table (etcd) did not "
			    "answer; the free completes once it does",
			    (unsigned long long)q->msg.u.free.chunk);
	else
		answer_fail(&q->reply, PROTO_ST_INTERNAL,
			    "freeing chunk %llu: %s",
			    (unsigned long long)q->msg.u.free.chunk,
			    strerror(-res->status));
	answer_held(q->svc, q);
}

static void do_free(struct service *s, struct session *sess,
		    const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.free.chunk;
	struct table_record rec;
	struct request *q;

	if (answer_check_epoch(s, sess, req->u.free.epoch, r))
		return;
	if (frees_lookup(s, chunk, &rec)) {
		answer_fail(r, PROTO_ST_NOENT, "no chunk %llu",
			    (unsigned long long)chunk);
		return;
	}
	if (rec.state == TABLE_CHUNK_OPEN && rec.session != sess->id) {
		answer_fail(r, PROTO_ST_PERM, "chunk %llu is another session's",
			    (unsigned long long)chunk);
		return;
	}
	q = answer_hold(s, sess, req, r);
	if (!q)
		return;
	request_wait_for_table(q);
	frees_start(s, &rec, free_done, q);
}

static void dispatch(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	if (req->hdr.type != PROTO_HELLO && !sess->greeted) {
		answer_fail(r, PROTO_ST_STATE, "say HELLO first");
		return;
	}
	switch (req->hdr.type) {
	case PROTO_HELLO:
		do_hello(s, sess, req, r);
		break;
	case PROTO_ALLOC:
	case PROTO_ALLOC_COPY:
		do_alloc(s, sess, req, r);
		break;
	case PROTO_PERSIST:
		do_persist(s, sess, req, r);
		break;
	case PROTO_SEAL:
	case PROTO_SEAL_COPIES:
		seal_start(s, sess, req, r);
		break;
	case PROTO_OPEN:
	case PROTO_OPEN_COPY:
		copies_open(s, sess, req, r);
		break;
	case PROTO_FREE:
		do_free(s, sess, req, r);
		break;
	case PROTO_RENEW:
		do_renew(s, sess, req, r);
		break;
	case PROTO_REPLACE_COPY:
		copies_replace(s, sess, req, r);
		break;
	default:
		answer_fail(r, PROTO_ST_MALFORMED, "%s is not a request",
			    proto_type_name(req->hdr.type));
	}
}

/* Answers now unless a handler held the request (it left *r untouched:
 * type 0, which no message has); answer_held() answers those. */
static void answer_now(struct service *s, struct session *sess,
		       const struct proto_msg *req, const struct proto_msg *r)
{
	if (r->hdr.type != 0) {
		answer_send(s, sess, r);
		answer_count(s, req, r, s->request_start_us);
	}
}

void service_handle(struct service *s, struct session *sess,
		    const uint8_t *frame, size_t len)
{
	struct proto_msg req, reply;
	int rc = proto_decode(frame, len, &req);

	memset(&reply, 0, sizeof(reply));
	s->request_start_us = s->clock_us();
	s->counters.requests++;
	if (!rc && req.hdr.type < SERVICE_REQUEST_TYPES)
		s->counters.requests_by_type[req.hdr.type]++;
	if (rc) {
		s->counters.malformed++;
		/* Echo the request id when at least the header is whole. */
		if (len >= PROTO_HEADER_LEN)
			reply.hdr.request_id = wire_get_u64(frame + 8);
		answer_fail(&reply, PROTO_ST_MALFORMED,
			    "malformed frame of %zu bytes: %s", len,
			    strerror(-rc));
		log_debug("session %llu: %s", (unsigned long long)sess->id,
			  reply.u.error.text);
	} else {
		reply.hdr.request_id = req.hdr.request_id;
		dispatch(s, sess, &req, &reply);
	}
	answer_now(s, sess, rc ? NULL : &req, &reply);
}
