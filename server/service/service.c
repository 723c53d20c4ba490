#include "service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "proto/auth.h"
#include "proto/wire.h"

static void fail(struct proto_msg *reply, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Turns *reply into an ERROR with a one-line reason. */
static void fail(struct proto_msg *reply, unsigned status, const char *fmt, ...)
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
			   const struct session_caps *caps, void *caps_ctx)
{
	sess->id = ++s->next_session;
	sess->epoch = 1;
	sess->greeted = false;
	sess->auth_refused = false;
	sess->lease_deadline_us = s->clock_us() + s->lease_ttl_ms * 1000ull;
	sess->caps = caps;
	sess->caps_ctx = caps_ctx;
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

/* Revokes write access to the session's OPEN chunks, then reclaims them;
 * returns how many. */
static uint64_t reclaim_open(struct service *s, struct session *sess)
{
	struct open_ids open = {.session = sess->id};
	uint64_t reclaimed = 0;

	table_iterate(s->table, collect_open, &open);
	/* Write access goes first: nothing may land in a reclaimed chunk. */
	for (size_t i = 0; i < open.count; i++)
		sess->caps->revoke_write(sess->caps_ctx, open.ids[i]);
	free(open.ids);
	table_reclaim(s->table, sess->id, &reclaimed);
	return reclaimed;
}

void service_session_end(struct service *s, struct session *sess)
{
	uint64_t reclaimed = reclaim_open(s, sess);

	if (reclaimed)
		log_info("session %llu ended: reclaimed %llu open chunks",
			 (unsigned long long)sess->id,
			 (unsigned long long)reclaimed);
	sess->prev->next = sess->next;
	sess->next->prev = sess->prev;
	sess->next = sess->prev = sess;
}

static void lose_lease(struct service *s, struct session *sess, const char *why)
{
	uint64_t reclaimed = reclaim_open(s, sess);

	sess->epoch++;
	sess->lease_deadline_us = 0;
	log_info(
		"session %llu: lease %s; reclaimed %llu open chunks; epoch now %u",
		(unsigned long long)sess->id, why,
		(unsigned long long)reclaimed, sess->epoch);
}

unsigned service_expire_leases(struct service *s)
{
	uint64_t now = s->clock_us();
	unsigned n = 0;

	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		if (o->lease_deadline_us && o->lease_deadline_us < now) {
			lose_lease(s, o, "expired");
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

void service_renew_lease(struct service *s, struct session *sess)
{
	if (sess->lease_deadline_us) /* a lost lease needs its client */
		sess->lease_deadline_us =
			s->clock_us() + s->lease_ttl_ms * 1000ull;
}

/* Revokes every grant of a chunk: the owner's write, everyone's read. */
static void revoke_all_grants(struct service *s, const struct table_record *rec)
{
	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		if (rec->state == TABLE_CHUNK_OPEN && o->id == rec->session)
			o->caps->revoke_write(o->caps_ctx, rec->id);
		o->caps->revoke_read(o->caps_ctx, rec->id);
	}
}

int service_admin_free(struct service *s, uint64_t id)
{
	struct table_record rec;

	if (table_lookup(s->table, id, &rec))
		return -ENOENT;
	revoke_all_grants(s, &rec);
	return table_free(s->table, id);
}

int service_revoke_lease(struct service *s, uint64_t id)
{
	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		if (o->id == id) {
			lose_lease(s, o, "revoked");
			s->counters.leases_revoked++;
			return 0;
		}
	}
	return -ENOENT;
}

/* Refuses a request under an epoch that is not the lease's (STALE, with
 * the current epoch as detail); renews the lease otherwise. */
static int check_epoch(struct service *s, struct session *sess, uint32_t epoch,
		       struct proto_msg *r)
{
	if (epoch != sess->epoch) {
		fail(r, PROTO_ST_STALE,
		     "epoch %u is stale; the lease is at epoch %u", epoch,
		     sess->epoch);
		r->u.error.detail = sess->epoch;
		return -1;
	}
	sess->lease_deadline_us = s->clock_us() + s->lease_ttl_ms * 1000ull;
	return 0;
}

static void do_renew(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	if (check_epoch(s, sess, req->u.renew.epoch, r))
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
	fail(r, PROTO_ST_AUTH, "authentication failed for client '%s'", name);
	return false;
}

static void do_hello(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	if (sess->greeted) {
		fail(r, PROTO_ST_STATE, "HELLO was already said");
		return;
	}
	if (!sess->lease_deadline_us) {
		/* The lease ran out before HELLO: the session is dead. */
		fail(r, PROTO_ST_STALE,
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
	r->u.welcome.max_frame = PROTO_MAX_FRAME;
	r->u.welcome.granularity = s->granularity;
	r->u.welcome.lease_ttl_ms = s->lease_ttl_ms;
}

static void do_alloc(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t size = req->u.alloc.size;
	struct table_record rec;
	uint8_t *addr;
	uint32_t rkey;
	int rc;

	if (check_epoch(s, sess, req->u.alloc.epoch, r))
		return;
	rc = table_alloc(s->table, size, sess->id, sess->epoch, &rec);

	if (rc == -EFBIG) {
		struct table_stats st;

		table_stats(s->table, &st);
		fail(r, PROTO_ST_NOSPC,
		     "%llu bytes is more than the whole pool (%llu bytes)",
		     (unsigned long long)size,
		     (unsigned long long)st.area_bytes);
		return;
	}
	if (rc == -ENOSPC || rc == -EINVAL) {
		fail(r, rc == -ENOSPC ? PROTO_ST_NOSPC : PROTO_ST_INVALID,
		     rc == -ENOSPC ? "no room for %llu bytes"
				   : "cannot allocate %llu bytes",
		     (unsigned long long)size);
		return;
	}
	addr = s->area + rec.offset;
	rc = rc ? rc
		: sess->caps->grant_write(sess->caps_ctx, rec.id, addr,
					  rec.length, &rkey);
	if (rc) {
		table_free(s->table, rec.id);
		fail(r, PROTO_ST_INTERNAL, "cannot grant write access: %s",
		     strerror(-rc));
		return;
	}
	r->hdr.type = PROTO_GRANT;
	r->u.grant.chunk = rec.id;
	r->u.grant.addr = (uintptr_t)addr;
	r->u.grant.length = rec.length;
	r->u.grant.rkey = rkey;
	r->u.grant.epoch = rec.epoch;
}

/* Finds an OPEN chunk of this session, or fills an ERROR and fails. */
static int find_own_open(struct service *s, struct session *sess,
			 uint64_t chunk, struct table_record *rec,
			 struct proto_msg *r)
{
	if (table_lookup(s->table, chunk, rec)) {
		fail(r, PROTO_ST_NOENT, "no chunk %llu",
		     (unsigned long long)chunk);
		return -1;
	}
	if (rec->state != TABLE_CHUNK_OPEN) {
		fail(r, PROTO_ST_STATE, "chunk %llu is sealed",
		     (unsigned long long)chunk);
		return -1;
	}
	if (rec->session != sess->id) {
		fail(r, PROTO_ST_PERM, "chunk %llu is another session's",
		     (unsigned long long)chunk);
		return -1;
	}
	return 0;
}

static void do_persist(struct service *s, struct session *sess,
		       const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.persist.chunk, off = req->u.persist.offset;
	uint64_t len = req->u.persist.length;
	struct table_record rec;

	if (check_epoch(s, sess, req->u.persist.epoch, r) ||
	    find_own_open(s, sess, chunk, &rec, r))
		return;
	if (off > rec.length || len > rec.length - off) {
		fail(r, PROTO_ST_INVALID,
		     "range %llu+%llu is outside chunk %llu",
		     (unsigned long long)off, (unsigned long long)len,
		     (unsigned long long)chunk);
		return;
	}
	persist_range(s->data, s->area + rec.offset + off, len);
	r->hdr.type = PROTO_PERSISTED;
}

static void do_seal(struct service *s, struct session *sess,
		    const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.seal.chunk, len = req->u.seal.length;
	uint32_t want = req->u.seal.crc, got, rkey;
	struct table_record rec;
	uint8_t *addr;

	if (check_epoch(s, sess, req->u.seal.epoch, r) ||
	    find_own_open(s, sess, chunk, &rec, r))
		return;
	if (len > rec.length) {
		fail(r, PROTO_ST_INVALID, "seal length %llu exceeds chunk %llu",
		     (unsigned long long)len, (unsigned long long)chunk);
		return;
	}
	addr = s->area + rec.offset;
	sess->caps->revoke_write(sess->caps_ctx, chunk);
	got = crc32c(0, addr, len);
	if (got != want) {
		int rc = sess->caps->grant_write(sess->caps_ctx, chunk, addr,
						 rec.length, &rkey);

		fail(r, PROTO_ST_CRC,
		     "chunk %llu: content CRC32C 0x%08x, not 0x%08x; still open",
		     (unsigned long long)chunk, got, want);
		r->u.error.detail = rc ? 0 : rkey;
		return;
	}
	/* Sealed content must be durable even if the client never persisted. */
	persist_range(s->data, addr, len);
	table_seal(s->table, chunk, len, got, NULL);
	r->hdr.type = PROTO_SEALED;
}

static void do_open(struct service *s, struct session *sess,
		    const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.open.chunk;
	struct table_record rec;
	uint32_t rkey;
	int rc;

	if (table_lookup(s->table, chunk, &rec)) {
		fail(r, PROTO_ST_NOENT, "no chunk %llu",
		     (unsigned long long)chunk);
		return;
	}
	if (rec.state != TABLE_CHUNK_SEALED) {
		fail(r, PROTO_ST_STATE, "chunk %llu is not sealed yet",
		     (unsigned long long)chunk);
		return;
	}
	rc = sess->caps->grant_read(sess->caps_ctx, chunk, s->area + rec.offset,
				    rec.sealed_len, &rkey);
	if (rc) {
		fail(r, PROTO_ST_INTERNAL, "cannot grant read access: %s",
		     strerror(-rc));
		return;
	}
	r->hdr.type = PROTO_OPENED;
	r->u.opened.chunk = chunk;
	r->u.opened.addr = (uintptr_t)(s->area + rec.offset);
	r->u.opened.length = rec.sealed_len;
	r->u.opened.rkey = rkey;
	r->u.opened.crc = rec.crc;
}

static void do_free(struct service *s, struct session *sess,
		    const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.free.chunk;
	struct table_record rec;

	if (check_epoch(s, sess, req->u.free.epoch, r))
		return;
	if (table_lookup(s->table, chunk, &rec)) {
		fail(r, PROTO_ST_NOENT, "no chunk %llu",
		     (unsigned long long)chunk);
		return;
	}
	if (rec.state == TABLE_CHUNK_OPEN && rec.session != sess->id) {
		fail(r, PROTO_ST_PERM, "chunk %llu is another session's",
		     (unsigned long long)chunk);
		return;
	}
	revoke_all_grants(s, &rec);
	table_free(s->table, chunk);
	r->hdr.type = PROTO_FREED;
}

static void dispatch(struct service *s, struct session *sess,
		     const struct proto_msg *req, struct proto_msg *r)
{
	if (req->hdr.type != PROTO_HELLO && !sess->greeted) {
		fail(r, PROTO_ST_STATE, "say HELLO first");
		return;
	}
	switch (req->hdr.type) {
	case PROTO_HELLO:
		do_hello(s, sess, req, r);
		break;
	case PROTO_ALLOC:
		do_alloc(s, sess, req, r);
		break;
	case PROTO_PERSIST:
		do_persist(s, sess, req, r);
		break;
	case PROTO_SEAL:
		do_seal(s, sess, req, r);
		break;
	case PROTO_OPEN:
		do_open(s, sess, req, r);
		break;
	case PROTO_FREE:
		do_free(s, sess, req, r);
		break;
	case PROTO_RENEW:
		do_renew(s, sess, req, r);
		break;
	default:
		fail(r, PROTO_ST_MALFORMED, "%s is not a request",
		     proto_type_name(req->hdr.type));
	}
}

void service_handle(struct service *s, struct session *sess,
		    const uint8_t *frame, size_t len, struct proto_msg *reply)
{
	struct proto_msg req;
	int rc = proto_decode(frame, len, &req);

	memset(reply, 0, sizeof(*reply));
	s->counters.requests++;
	if (rc) {
		s->counters.malformed++;
		/* Echo the request id when at least the header is whole. */
		if (len >= PROTO_HEADER_LEN)
			reply->hdr.request_id = wire_get_u64(frame + 8);
		fail(reply, PROTO_ST_MALFORMED,
		     "malformed frame of %zu bytes: %s", len, strerror(-rc));
		log_debug("session %llu: %s", (unsigned long long)sess->id,
			  reply->u.error.text);
	} else {
		reply->hdr.request_id = req.hdr.request_id;
		dispatch(s, sess, &req, reply);
	}
	if (reply->hdr.type == PROTO_ERROR)
		s->counters.errors++;
}
