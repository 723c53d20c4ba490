/*
 * The chunk service's rules, with a fake transport that records the
 * replies it was asked to send and the capabilities it was asked to grant
 * and revoke; and with a fake table that completes its changes only when
 * the test says (as a networked backend would), to check that requests
 * are held, answered once, and cleaned up when their session goes first.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/mem_pool.h"
#include "common/crc32c.h"
#include "proto/auth.h"
#include "service/secrets.h"
#include "service/service.h"
#include "table/table_pmem.h"

#define MAX_GRANTS  32
#define MAX_PENDING 8

/* A capability change the fake transport finishes only when the test says
 * (as the RDMA transport's workers do). */
struct fake_pending {
	bool revoke;	/* else a grant */
	bool cancelled; /* a grant revoked before it was made */
	int slot;	/* the grant's in grant[] */
	session_grant_fn *granted;
	session_revoked_fn *revoked;
	void *arg;
};

struct fake_caps {
	struct {
		uint64_t chunk;
		uint8_t *addr;
		uint64_t len;
		bool write, live;
	} grant[MAX_GRANTS];
	int count;
	int revoked_writes, revoked_reads;
	uint32_t next_rkey;
	int replies; /* sent so far */
	struct proto_msg last_reply;
	bool defer; /* grants and asynchronous revokes wait for
		     * finish_caps() */
	struct fake_pending pending[MAX_PENDING];
	int pending_count;
};

static void add_pending(struct fake_caps *f, struct fake_pending p)
{
	cr_assert_lt(f->pending_count, MAX_PENDING);
	f->pending[f->pending_count++] = p;
}

static int fake_send_reply(void *ctx, const struct proto_msg *reply)
{
	struct fake_caps *f = ctx;

	f->replies++;
	f->last_reply = *reply;
	return 0;
}

static int grant(struct fake_caps *f, uint64_t chunk, uint8_t *addr,
		 uint64_t len, bool write, uint32_t *rkey,
		 session_grant_fn *done, void *arg)
{
	cr_assert_lt(f->count, MAX_GRANTS);
	f->grant[f->count].chunk = chunk;
	f->grant[f->count].addr = addr;
	f->grant[f->count].len = len;
	f->grant[f->count].write = write;
	f->grant[f->count].live = !f->defer;
	f->count++;
	*rkey = ++f->next_rkey;
	if (!f->defer)
		return 0;
	add_pending(f, (struct fake_pending){.slot = f->count - 1,
					     .granted = done,
					     .arg = arg});
	return -EINPROGRESS;
}

/* Revokes now: a grant still being made is cancelled. */
static void drop_grant(struct fake_caps *f, uint64_t chunk, bool write)
{
	for (int i = 0; i < f->count; i++)
		if (f->grant[i].chunk == chunk && f->grant[i].write == write)
			f->grant[i].live = false;
	for (int i = 0; i < f->pending_count; i++) {
		struct fake_pending *p = &f->pending[i];

		if (!p->revoke && f->grant[p->slot].chunk == chunk &&
		    f->grant[p->slot].write == write)
			p->cancelled = true;
	}
}

/* Finishes every pending change, in order: grants become live (or hear
 * -ECANCELED), revokes take access away; then each caller hears. */
static void finish_caps(struct fake_caps *f)
{
	struct fake_pending now[MAX_PENDING];
	int n = f->pending_count;

	memcpy(now, f->pending, sizeof(now));
	f->pending_count = 0;
	for (int i = 0; i < n; i++) {
		struct fake_pending *p = &now[i];

		if (p->revoke) {
			p->revoked(p->arg);
		} else if (p->cancelled) {
			p->granted(p->arg, -ECANCELED, 0);
		} else {
			f->grant[p->slot].live = true;
			p->granted(p->arg, 0, (uint32_t)p->slot + 1000);
		}
	}
}

static int fake_grant_write(void *ctx, uint64_t chunk, uint8_t *addr,
			    uint64_t len, uint32_t *rkey,
			    session_grant_fn *done, void *arg)
{
	return grant(ctx, chunk, addr, len, true, rkey, done, arg);
}

static void fake_revoke_write(void *ctx, uint64_t chunk)
{
	((struct fake_caps *)ctx)->revoked_writes++;
	drop_grant(ctx, chunk, true);
}

/* Deferred, access goes at once here; the revoker hears at finish_caps()
 * (what matters to the service is when it hears). */
static int revoke_later(struct fake_caps *f, session_revoked_fn *done,
			void *arg)
{
	if (!f->defer)
		return 0;
	add_pending(f, (struct fake_pending){
			       .revoke = true, .revoked = done, .arg = arg});
	return -EINPROGRESS;
}

static int fake_revoke_write_async(void *ctx, uint64_t chunk,
				   session_revoked_fn *done, void *arg)
{
	fake_revoke_write(ctx, chunk);
	return revoke_later(ctx, done, arg);
}

static int fake_grant_read(void *ctx, uint64_t chunk, uint8_t *addr,
			   uint64_t len, uint32_t *rkey, session_grant_fn *done,
			   void *arg)
{
	return grant(ctx, chunk, addr, len, false, rkey, done, arg);
}

static void fake_revoke_read(void *ctx, uint64_t chunk)
{
	((struct fake_caps *)ctx)->revoked_reads++;
	drop_grant(ctx, chunk, false);
}

static int fake_revoke_read_async(void *ctx, uint64_t chunk,
				  session_revoked_fn *done, void *arg)
{
	fake_revoke_read(ctx, chunk);
	return revoke_later(ctx, done, arg);
}

static const struct session_ops fake_ops = {
	.send_reply = fake_send_reply,
	.grant_write = fake_grant_write,
	.revoke_write = fake_revoke_write,
	.revoke_write_async = fake_revoke_write_async,
	.grant_read = fake_grant_read,
	.revoke_read = fake_revoke_read,
	.revoke_read_async = fake_revoke_read_async,
};

/* Whether chunk has a live grant of this kind. */
static bool has_grant(const struct fake_caps *f, uint64_t chunk, bool write)
{
	for (int i = 0; i < f->count; i++)
		if (f->grant[i].chunk == chunk && f->grant[i].write == write &&
		    f->grant[i].live)
			return true;
	return false;
}

static uint64_t fake_now_us;

static uint64_t fake_clock(void)
{
	return fake_now_us;
}

static struct mem_pool mp;
static struct table *table;
static struct service svc;
static struct session a, b;
static struct fake_caps caps_a, caps_b;
static uint64_t next_request = 100;

static void setup(void)
{
	struct table_pmem_report rep;

	cr_assert_eq(mem_pool_create(&mp, 1u << 20, 4096, 64), 0);
	cr_assert_eq(
		table_pmem_open(mp.image, &mp.geo, &mp.persist, &table, &rep),
		0);
	service_init(&svc, table, mp.image + mp.geo.chunk_area_offset,
		     &mp.persist, 4096, false, 1000);
	fake_now_us = 1000000;
	svc.clock_us = fake_clock;
	memset(&caps_a, 0, sizeof(caps_a));
	memset(&caps_b, 0, sizeof(caps_b));
	service_session_start(&svc, &a, &fake_ops, &caps_a);
	service_session_start(&svc, &b, &fake_ops, &caps_b);
}

static void teardown(void)
{
	table_close(&table);
	mem_pool_destroy(&mp);
}

TestSuite(service, .init = setup, .fini = teardown);

static struct fake_caps *caps_of(struct session *sess)
{
	return sess->ops_ctx;
}

/* Hands frame to the service as session sess; returns how many replies
 * that made it send. */
static int handle(struct session *sess, const uint8_t *frame, size_t len)
{
	int before = caps_of(sess)->replies;

	service_handle(&svc, sess, frame, len);
	return caps_of(sess)->replies - before;
}

/* Sends req as session sess without waiting: returns how many replies
 * came back at once (0 while the table holds it). */
static int send_request(struct session *sess, struct proto_msg *req)
{
	uint8_t frame[PROTO_MAX_FRAME];
	int len;

	req->hdr.request_id = ++next_request;
	len = proto_encode(req, frame, sizeof(frame));
	cr_assert_gt(len, 0);
	return handle(sess, frame, (size_t)len);
}

/* Sends req as session sess; returns its one reply. */
static struct proto_msg call(struct session *sess, struct proto_msg req)
{
	struct proto_msg reply;

	cr_assert_eq(send_request(sess, &req), 1, "exactly one reply");
	reply = caps_of(sess)->last_reply;
	cr_assert_eq(reply.hdr.request_id, req.hdr.request_id);
	return reply;
}

static struct proto_msg msg(unsigned type)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = (uint8_t)type;
	/* Requests carry the lease epoch; a new session's is 1. */
	m.u.alloc.epoch = m.u.persist.epoch = m.u.seal.epoch = 1;
	m.u.free.epoch = 1;
	if (type == PROTO_RENEW)
		m.u.renew.epoch = 1;
	return m;
}

static void hello(struct session *sess)
{
	cr_assert_eq(call(sess, msg(PROTO_HELLO)).hdr.type, PROTO_WELCOME);
}

static struct proto_msg alloc_chunk(struct session *sess, uint64_t size)
{
	struct proto_msg m = msg(PROTO_ALLOC), r;

	m.u.alloc.size = size;
	r = call(sess, m);
	cr_assert_eq(r.hdr.type, PROTO_GRANT, "%s", r.u.error.text);
	return r;
}

static struct proto_msg seal(struct session *sess, uint64_t chunk, uint64_t len,
			     uint32_t crc)
{
	struct proto_msg m = msg(PROTO_SEAL);

	m.u.seal.chunk = chunk;
	m.u.seal.length = len;
	m.u.seal.crc = crc;
	return call(sess, m);
}

static struct proto_msg on_chunk(struct session *sess, unsigned type,
				 uint64_t chunk)
{
	struct proto_msg m = msg(type);

	if (type == PROTO_FREE)
		m.u.free.chunk = chunk;
	else
		m.u.open.chunk = chunk;
	return call(sess, m);
}

Test(service, nothing_before_hello_and_hello_once)
{
	struct proto_msg r = call(&a, msg(PROTO_ALLOC));

	cr_assert_eq(r.hdr.type, PROTO_ERROR);
	cr_assert_eq(r.u.error.status, PROTO_ST_STATE);
	r = call(&a, msg(PROTO_HELLO));
	cr_assert_eq(r.hdr.type, PROTO_WELCOME);
	cr_assert_eq(r.u.welcome.session, a.id);
	cr_assert_eq(r.u.welcome.persist_methods, PROTO_PERSIST_RPC,
		     "read-after-write only where declared true");
	cr_assert_eq(call(&a, msg(PROTO_HELLO)).u.error.status, PROTO_ST_STATE);
}

/* native-flush is offered only where the connection takes FLUSH (the
 * transport says) and the pool is pmem: a FLUSH makes bytes durable there
 * alone. */
Test(service, native_flush_only_where_the_device_and_the_pool_allow)
{
	static struct session third;
	static struct fake_caps caps_third;
	const struct persister pmem = {.mode = PERSIST_PMEM};
	struct proto_msg r;

	a.can_flush = true; /* but the pool is not pmem */
	r = call(&a, msg(PROTO_HELLO));
	cr_assert_eq(r.u.welcome.persist_methods, PROTO_PERSIST_RPC);
	cr_assert_not(a.flush_offered);
	svc.data = &pmem;
	b.can_flush = false;
	r = call(&b, msg(PROTO_HELLO));
	cr_assert_eq(r.u.welcome.persist_methods, PROTO_PERSIST_RPC,
		     "no FLUSH through this connection");
	service_session_start(&svc, &third, &fake_ops, &caps_third);
	third.can_flush = true;
	r = call(&third, msg(PROTO_HELLO));
	cr_assert_eq(r.u.welcome.persist_methods,
		     PROTO_PERSIST_RPC | PROTO_PERSIST_NATIVE_FLUSH);
	cr_assert(third.flush_offered, "its write grants must allow FLUSH");
	svc.data = &mp.persist;
}

Test(service, alloc_grants_write_to_exactly_the_chunk)
{
	struct proto_msg g;

	hello(&a);
	g = alloc_chunk(&a, 5000);
	cr_assert_eq(g.u.grant.length, 8192);
	cr_assert_eq(caps_a.count, 1);
	cr_assert(caps_a.grant[0].write);
	cr_assert_eq((uintptr_t)caps_a.grant[0].addr, g.u.grant.addr);
	cr_assert_eq(caps_a.grant[0].len, 8192);
	cr_assert_eq(g.u.grant.rkey, caps_a.next_rkey);
}

Test(service, an_alloc_larger_than_the_pool_says_so_and_grants_nothing)
{
	struct proto_msg m = msg(PROTO_ALLOC), r;

	hello(&a);
	m.u.alloc.size = 1ull << 40;
	r = call(&a, m);
	cr_assert_eq(r.hdr.type, PROTO_ERROR);
	cr_assert_eq(r.u.error.status, PROTO_ST_NOSPC, "not INVALID");
	cr_assert(strstr(r.u.error.text, "more than the whole pool"), "%s",
		  r.u.error.text);
	cr_assert_eq(caps_a.count, 0, "nothing granted");
	m.u.alloc.size = 0;
	cr_assert_eq(call(&a, m).u.error.status, PROTO_ST_INVALID);
}

Test(service, persist_checks_the_range)
{
	struct proto_msg g, m = msg(PROTO_PERSIST), r;

	hello(&a);
	g = alloc_chunk(&a, 4096);
	m.u.persist.chunk = g.u.grant.chunk;
	m.u.persist.offset = 4000;
	m.u.persist.length = 96;
	cr_assert_eq(call(&a, m).hdr.type, PROTO_PERSISTED);
	m.u.persist.length = 97;
	r = call(&a, m);
	cr_assert_eq(r.u.error.status, PROTO_ST_INVALID);
	m.u.persist.offset = UINT64_MAX;
	cr_assert_eq(call(&a, m).u.error.status, PROTO_ST_INVALID);
}

Test(service, seal_revokes_then_checks_the_crc)
{
	uint8_t *area = mp.image + mp.geo.chunk_area_offset;
	struct proto_msg g, r;
	uint64_t chunk;

	hello(&a);
	g = alloc_chunk(&a, 4096);
	chunk = g.u.grant.chunk;
	memset(area + (g.u.grant.addr - (uintptr_t)area), 'x', 300);
	r = seal(&a, chunk, 300, 0x12345678);
	cr_assert_eq(r.u.error.status, PROTO_ST_CRC, "%s", r.u.error.text);
	cr_assert_neq(r.u.error.detail, 0, "write access given back");
	cr_assert(has_grant(&caps_a, chunk, true), "the chunk stays writable");
	cr_assert_eq(caps_a.revoked_writes, 1, "revoked before the check");
	r = seal(&a, chunk, 300,
		 crc32c(0, area + (g.u.grant.addr - (uintptr_t)area), 300));
	cr_assert_eq(r.hdr.type, PROTO_SEALED, "%s", r.u.error.text);
	cr_assert_not(has_grant(&caps_a, chunk, true));
	cr_assert_eq(seal(&a, chunk, 300, 0).u.error.status, PROTO_ST_STATE);
}

Test(service, open_chunks_are_the_owners_alone)
{
	struct proto_msg g, m = msg(PROTO_PERSIST);
	uint64_t chunk;

	hello(&a);
	hello(&b);
	g = alloc_chunk(&a, 4096);
	chunk = g.u.grant.chunk;
	m.u.persist.chunk = chunk;
	cr_assert_eq(call(&b, m).u.error.status, PROTO_ST_PERM);
	cr_assert_eq(seal(&b, chunk, 0, 0).u.error.status, PROTO_ST_PERM);
	cr_assert_eq(on_chunk(&b, PROTO_FREE, chunk).u.error.status,
		     PROTO_ST_PERM);
	cr_assert_eq(on_chunk(&b, PROTO_OPEN, chunk).u.error.status,
		     PROTO_ST_STATE,
		     "an OPEN chunk cannot be opened for reading");
	cr_assert_eq(caps_b.count, 0, "b was granted nothing");
}

Test(service, sealed_chunks_open_for_anyone_and_free_revokes_every_read)
{
	struct proto_msg g, r;
	uint64_t chunk;

	hello(&a);
	hello(&b);
	g = alloc_chunk(&a, 4096);
	chunk = g.u.grant.chunk;
	cr_assert_eq(seal(&a, chunk, 0, 0).hdr.type, PROTO_SEALED);
	r = on_chunk(&b, PROTO_OPEN, chunk);
	cr_assert_eq(r.hdr.type, PROTO_OPENED);
	cr_assert_eq(r.u.opened.length, 0);
	cr_assert(has_grant(&caps_b, chunk, false));
	cr_assert_eq(on_chunk(&a, PROTO_OPEN, chunk).hdr.type, PROTO_OPENED);
	cr_assert_eq(on_chunk(&b, PROTO_FREE, chunk).hdr.type, PROTO_FREED);
	cr_assert_not(has_grant(&caps_a, chunk, false));
	cr_assert_not(has_grant(&caps_b, chunk, false));
	cr_assert_eq(on_chunk(&a, PROTO_OPEN, chunk).u.error.status,
		     PROTO_ST_NOENT);
}

Test(service, session_end_revokes_and_reclaims_open_chunks_only)
{
	struct proto_msg g1, g2;
	struct table_stats st;

	hello(&a);
	g1 = alloc_chunk(&a, 4096);
	g2 = alloc_chunk(&a, 4096);
	cr_assert_eq(seal(&a, g2.u.grant.chunk, 0, 0).hdr.type, PROTO_SEALED);
	service_session_end(&svc, &a);
	cr_assert_not(has_grant(&caps_a, g1.u.grant.chunk, true));
	table_stats(table, &st);
	cr_assert_eq(st.open_chunks, 0);
	cr_assert_eq(st.sealed_chunks, 1,
		     "sealed chunks outlive their session");
}

Test(service, malformed_frames_get_an_error_not_a_crash)
{
	uint8_t junk[64];
	struct proto_msg reply;

	memset(junk, 0xa5, sizeof(junk));
	cr_assert_eq(handle(&a, junk, sizeof(junk)), 1);
	reply = caps_a.last_reply;
	cr_assert_eq(reply.hdr.type, PROTO_ERROR);
	cr_assert_eq(reply.u.error.status, PROTO_ST_MALFORMED);
	cr_assert_eq(handle(&a, junk, 3), 1);
	reply = caps_a.last_reply;
	cr_assert_eq(reply.u.error.status, PROTO_ST_MALFORMED);
	cr_assert_eq(reply.hdr.request_id, 0);
	cr_assert_eq(svc.counters.malformed, 2);
	cr_assert_eq(call(&a, msg(PROTO_GRANT)).u.error.status, PROTO_ST_STATE,
		     "still says hello first");
	hello(&a);
	cr_assert_eq(call(&a, msg(PROTO_GRANT)).u.error.status,
		     PROTO_ST_MALFORMED, "a reply type is not a request");
}

Test(service, an_expired_lease_loses_open_chunks_keeps_sealed_and_moves_epoch)
{
	struct proto_msg g1, g2, r, m;

	hello(&a);
	hello(&b);
	g1 = alloc_chunk(&a, 4096);
	g2 = alloc_chunk(&a, 4096);
	cr_assert_eq(seal(&a, g2.u.grant.chunk, 0, 0).hdr.type, PROTO_SEALED);
	fake_now_us += 900000; /* within the 1 s lease: b renews, a does not */
	cr_assert_eq(call(&b, msg(PROTO_RENEW)).hdr.type, PROTO_RENEWED);
	fake_now_us += 200000;
	cr_assert_eq(service_expire_leases(&svc), 1, "only a's lease ran out");
	cr_assert_eq(svc.counters.leases_expired, 1);
	cr_assert_not(has_grant(&caps_a, g1.u.grant.chunk, true),
		      "write access revoked");
	cr_assert_eq(on_chunk(&b, PROTO_OPEN, g1.u.grant.chunk).u.error.status,
		     PROTO_ST_NOENT, "the open chunk was reclaimed");
	cr_assert_eq(on_chunk(&b, PROTO_OPEN, g2.u.grant.chunk).hdr.type,
		     PROTO_OPENED, "the sealed chunk outlives the lease");
	r = call(&a, msg(PROTO_ALLOC));
	cr_assert_eq(r.u.error.status, PROTO_ST_STALE, "epoch 1 is stale");
	cr_assert_eq(r.u.error.detail, 2, "the error names the new epoch");
	m = msg(PROTO_RENEW);
	m.u.renew.epoch = 2;
	r = call(&a, m);
	cr_assert_eq(r.hdr.type, PROTO_RENEWED);
	cr_assert_eq(r.u.renew.epoch, 2);
	cr_assert_eq(r.u.renew.lease_ttl_ms, 1000);
}

Test(service, a_hello_after_the_lease_ran_out_is_refused)
{
	struct proto_msg r;

	fake_now_us += 1100000; /* past the 1 s lease, and no word yet */
	cr_assert_eq(service_expire_leases(&svc), 2);
	r = call(&a, msg(PROTO_HELLO));
	cr_assert_eq(r.hdr.type, PROTO_ERROR, "a dead session is not welcomed");
	cr_assert_eq(r.u.error.status, PROTO_ST_STALE);
	cr_assert_not(a.greeted);
	cr_assert_eq(call(&a, msg(PROTO_ALLOC)).u.error.status, PROTO_ST_STATE,
		     "and nothing is granted to it");
}

Test(service, an_operator_revokes_a_lease_at_once)
{
	struct proto_msg g;

	hello(&a);
	g = alloc_chunk(&a, 4096);
	cr_assert_eq(service_revoke_lease(&svc, a.id), 0);
	cr_assert_not(has_grant(&caps_a, g.u.grant.chunk, true));
	cr_assert_eq(seal(&a, g.u.grant.chunk, 0, 0).u.error.status,
		     PROTO_ST_STALE);
	cr_assert_eq(service_revoke_lease(&svc, 424242), -ENOENT);
	cr_assert_eq(svc.counters.leases_revoked, 1);
}

/* A secrets file with a name of its own and a cluster secret. */
static struct secrets *load_secrets(void)
{
	char path[64], err[256];
	struct secrets *s = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/chunkd-secrets-%d", (int)getpid());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("# test secrets\nalice s3cret-a\n* cluster-key\n", f);
	fclose(f);
	chmod(path, 0600);
	cr_assert_eq(secrets_load(path, &s, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	return s;
}

static struct proto_msg hello_as(struct session *sess, const char *name,
				 const char *secret,
				 const uint8_t nonce[PROTO_NONCE_LEN])
{
	struct proto_msg m = msg(PROTO_HELLO);

	m.u.hello.name_len = (uint8_t)strlen(name);
	strcpy(m.u.hello.name, name);
	if (secret) {
		auth_answer(secret, strlen(secret), nonce, name, m.u.hello.mac);
		m.u.hello.mac_len = PROTO_MAC_LEN;
	}
	return call(sess, m);
}

Test(service, clients_prove_their_secret_before_anything_is_granted)
{
	struct secrets *sec = load_secrets();
	uint8_t other_nonce[PROTO_NONCE_LEN];
	struct session c = {0}, d = {0};
	struct fake_caps caps_c = {0}, caps_d = {0};

	cr_assert_eq(auth_init(), 0);
	svc.secrets = sec;
	auth_new_nonce(a.nonce);
	auth_new_nonce(b.nonce);
	auth_new_nonce(other_nonce);
	service_session_start(&svc, &c, &fake_ops, &caps_c);
	service_session_start(&svc, &d, &fake_ops, &caps_d);
	auth_new_nonce(c.nonce);
	auth_new_nonce(d.nonce);

	cr_assert_eq(hello_as(&a, "alice", "s3cret-a", a.nonce).hdr.type,
		     PROTO_WELCOME, "her own secret");
	cr_assert_eq(hello_as(&b, "bob", "cluster-key", b.nonce).hdr.type,
		     PROTO_WELCOME, "the cluster secret for other names");
	cr_assert_eq(hello_as(&c, "alice", "wrong", c.nonce).u.error.status,
		     PROTO_ST_AUTH, "a wrong secret");
	cr_assert_eq(hello_as(&c, "alice", "s3cret-a", c.nonce).u.error.status,
		     PROTO_ST_AUTH, "no second try on the same connection");
	cr_assert_eq(
		hello_as(&d, "alice", "s3cret-a", other_nonce).u.error.status,
		PROTO_ST_AUTH, "an answer to another nonce (a replay)");
	cr_assert_eq(call(&d, msg(PROTO_ALLOC)).u.error.status, PROTO_ST_STATE,
		     "nothing is granted without a HELLO that passed");
	cr_assert_eq(caps_c.count + caps_d.count, 0, "no rkey was granted");
	cr_assert_eq(svc.counters.auth_refused, 3);
	service_session_end(&svc, &c);
	service_session_end(&svc, &d);
	svc.secrets = NULL;
	secrets_free(&sec);
}

Test(service, a_secrets_file_readable_by_others_is_refused)
{
	char path[64], err[256];
	struct secrets *s = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/chunkd-secrets-open-%d",
		 (int)getpid());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("alice s3cret\n", f);
	fclose(f);
	chmod(path, 0644);
	cr_assert_eq(secrets_load(path, &s, err, sizeof(err)), -EPERM);
	cr_assert(strstr(err, "chmod 600"), "%s", err);
	unlink(path);
}

/* ---- a table that completes later, as a networked one does ---- */

enum deferred_kind { DEFER_ALLOC, DEFER_SEAL, DEFER_FREE, DEFER_RECLAIM };

struct deferred_op {
	enum deferred_kind kind;
	uint64_t a, b; /* size/session, id/sealed_len, ... as the kind says */
	uint32_t epoch, crc;
	table_done_fn *done;
	void *arg;
};

/* Wraps the pmem table: a change is queued, and applied (then completed)
 * only by run_deferred(); reads go to the pmem table at once. */
struct deferred_table {
	struct table table;
	struct table *inner;
	struct deferred_op ops[16];
	int count;
};

static struct deferred_table deferred;

static void queue_op(struct deferred_op op)
{
	cr_assert_lt(deferred.count, 16);
	deferred.ops[deferred.count++] = op;
}

static void d_alloc(struct table *t, uint64_t size, uint64_t session,
		    uint32_t epoch, table_done_fn *done, void *arg)
{
	(void)t;
	queue_op((struct deferred_op){DEFER_ALLOC, size, session, epoch, 0,
				      done, arg});
}

static void d_seal(struct table *t, uint64_t id, uint64_t len, uint32_t crc,
		   table_done_fn *done, void *arg)
{
	(void)t;
	queue_op((struct deferred_op){DEFER_SEAL, id, len, 0, crc, done, arg});
}

static void d_free(struct table *t, uint64_t id, table_done_fn *done, void *arg)
{
	(void)t;
	queue_op((struct deferred_op){DEFER_FREE, id, 0, 0, 0, done, arg});
}

static void d_reclaim(struct table *t, uint64_t session, uint32_t epoch,
		      table_done_fn *done, void *arg)
{
	(void)t;
	queue_op((struct deferred_op){DEFER_RECLAIM, session, 0, epoch, 0, done,
				      arg});
}

static int d_lookup(struct table *t, uint64_t id, struct table_record *rec)
{
	(void)t;
	return table_lookup(deferred.inner, id, rec);
}

static void d_iterate(struct table *t, table_visit_fn *visit, void *arg)
{
	(void)t;
	table_iterate(deferred.inner, visit, arg);
}

static void d_stats(struct table *t, struct table_stats *st)
{
	(void)t;
	table_stats(deferred.inner, st);
}

static void d_close(struct table *t)
{
	(void)t;
}

static const struct table_ops deferred_ops = {
	.alloc = d_alloc,
	.seal = d_seal,
	.free = d_free,
	.reclaim = d_reclaim,
	.lookup = d_lookup,
	.iterate = d_iterate,
	.stats = d_stats,
	.close = d_close,
};

/* Applies and completes every queued change, in order. */
static void run_deferred(void)
{
	for (int i = 0; i < deferred.count; i++) {
		struct deferred_op *op = &deferred.ops[i];
		struct table *in = deferred.inner;

		if (op->kind == DEFER_ALLOC)
			table_alloc(in, op->a, op->b, op->epoch, op->done,
				    op->arg);
		else if (op->kind == DEFER_SEAL)
			table_seal(in, op->a, op->b, op->crc, op->done,
				   op->arg);
		else if (op->kind == DEFER_FREE)
			table_free(in, op->a, op->done, op->arg);
		else
			table_reclaim(in, op->a, op->epoch, op->done, op->arg);
	}
	deferred.count = 0;
}

static void setup_deferred(void)
{
	setup();
	deferred = (struct deferred_table){.table.ops = &deferred_ops,
					   .inner = table};
	svc.table = &deferred.table;
	hello(&a);
	hello(&b);
}

TestSuite(held, .init = setup_deferred, .fini = teardown);

static uint64_t open_chunks(void)
{
	struct table_stats st;

	table_stats(table, &st);
	return st.open_chunks;
}

Test(held, an_alloc_is_answered_when_the_table_completes_not_before)
{
	struct proto_msg m = msg(PROTO_ALLOC);

	m.u.alloc.size = 4096;
	cr_assert_eq(send_request(&a, &m), 0, "no reply before the table");
	cr_assert_eq(caps_a.count, 0, "nothing granted before the table");
	run_deferred();
	cr_assert_eq(caps_a.replies, 2, "HELLO's, then the GRANT");
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_GRANT);
	cr_assert_eq(caps_a.last_reply.hdr.request_id, m.hdr.request_id);
	cr_assert(has_grant(&caps_a, caps_a.last_reply.u.grant.chunk, true));
}

/* Allocates a chunk through the deferred table; returns its GRANT. */
static struct proto_msg granted(struct session *sess, uint64_t size)
{
	struct proto_msg m = msg(PROTO_ALLOC);

	m.u.alloc.size = size;
	cr_assert_eq(send_request(sess, &m), 0);
	run_deferred();
	cr_assert_eq(caps_of(sess)->last_reply.hdr.type, PROTO_GRANT);
	return caps_of(sess)->last_reply;
}

Test(held, a_seal_is_answered_when_the_table_completes)
{
	struct proto_msg g = granted(&a, 4096), m = msg(PROTO_SEAL);
	uint64_t id = g.u.grant.chunk;
	struct table_record rec;
	int before = caps_a.replies;

	m.u.seal.chunk = id;
	m.u.seal.length = 0;
	m.u.seal.crc = crc32c(0, NULL, 0);
	cr_assert_eq(send_request(&a, &m), 0);
	cr_assert_not(has_grant(&caps_a, id, true),
		      "write access goes before the table is asked");
	cr_assert_eq(table_lookup(table, id, &rec), 0);
	cr_assert_eq(rec.state, TABLE_CHUNK_OPEN, "not sealed yet");
	run_deferred();
	cr_assert_eq(caps_a.replies, before + 1);
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_SEALED);
	cr_assert_eq(table_lookup(table, id, &rec), 0);
	cr_assert_eq(rec.state, TABLE_CHUNK_SEALED);
}

Test(held, a_free_is_answered_when_the_table_completes)
{
	uint64_t id = granted(&a, 4096).u.grant.chunk;
	struct proto_msg m = msg(PROTO_FREE);
	struct table_record rec;

	m.u.free.chunk = id;
	cr_assert_eq(send_request(&a, &m), 0);
	cr_assert_eq(table_lookup(table, id, &rec), 0, "still there");
	run_deferred();
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_FREED);
	cr_assert_eq(table_lookup(table, id, &rec), -ENOENT);
}

Test(held, a_session_end_reclaims_when_the_table_completes)
{
	granted(&a, 4096);
	granted(&a, 8192);
	cr_assert_eq(open_chunks(), 2);
	service_session_end(&svc, &a);
	cr_assert_eq(caps_a.revoked_writes, 2, "write access goes at once");
	cr_assert_eq(open_chunks(), 2, "the table has not answered");
	run_deferred();
	cr_assert_eq(open_chunks(), 0);
}

Test(held, an_alloc_whose_session_ends_first_is_freed_and_not_answered)
{
	struct proto_msg m = msg(PROTO_ALLOC);
	int before;

	m.u.alloc.size = 4096;
	cr_assert_eq(send_request(&a, &m), 0);
	before = caps_a.replies;
	service_session_end(&svc, &a);
	run_deferred(); /* the alloc lands, then the reclaim (before it) */
	run_deferred(); /* the alloc's undo */
	cr_assert_eq(caps_a.replies, before, "no reply to a gone session");
	cr_assert_eq(caps_a.count, 0, "nothing granted to it");
	cr_assert_eq(open_chunks(), 0, "the orphaned grant was freed");
}

Test(held, an_alloc_whose_lease_is_lost_first_is_freed_and_stale)
{
	struct proto_msg m = msg(PROTO_ALLOC);

	m.u.alloc.size = 4096;
	cr_assert_eq(send_request(&a, &m), 0);
	cr_assert_eq(service_revoke_lease(&svc, a.id), 0);
	run_deferred();
	run_deferred();
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_ERROR);
	cr_assert_eq(caps_a.last_reply.u.error.status, PROTO_ST_STALE);
	cr_assert_eq(caps_a.last_reply.u.error.detail, a.epoch);
	cr_assert_eq(caps_a.count, 0);
	cr_assert_eq(open_chunks(), 0);
}

/* ---- capabilities that take time (memory registration on workers) ---- */

static void setup_slow_caps(void)
{
	setup();
	hello(&a);
	hello(&b);
	caps_a.defer = caps_b.defer = true;
}

TestSuite(caps, .init = setup_slow_caps, .fini = teardown);

static uint8_t *chunk_bytes(const struct proto_msg *g)
{
	return (uint8_t *)(uintptr_t)g->u.grant.addr;
}

/* An ALLOC whose grant is made at once (defer off for it). */
static struct proto_msg alloc_now(struct session *sess, uint64_t size)
{
	struct proto_msg g;

	caps_of(sess)->defer = false;
	g = alloc_chunk(sess, size);
	caps_of(sess)->defer = true;
	return g;
}

Test(caps, an_alloc_is_answered_once_write_access_is_made)
{
	struct proto_msg m = msg(PROTO_ALLOC);

	m.u.alloc.size = 4096;
	cr_assert_eq(send_request(&a, &m), 0, "no GRANT before the MR");
	cr_assert_eq(open_chunks(), 1, "the table has it");
	finish_caps(&caps_a);
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_GRANT);
	cr_assert_eq(caps_a.last_reply.hdr.request_id, m.hdr.request_id);
	cr_assert_eq(caps_a.last_reply.u.grant.rkey, 1000, "the made rkey");
	cr_assert(has_grant(&caps_a, caps_a.last_reply.u.grant.chunk, true));
}

/* A write that lands before the revoke is over is part of what is sealed:
 * the CRC is read only once write access is gone. */
Test(caps, a_seal_reads_the_content_only_after_write_access_is_gone)
{
	struct proto_msg g = alloc_now(&a, 4096), m = msg(PROTO_SEAL);
	uint8_t late[300];

	memset(chunk_bytes(&g), 'a', 300);
	memset(late, 'b', sizeof(late));
	m.u.seal.chunk = g.u.grant.chunk;
	m.u.seal.length = 300;
	m.u.seal.crc = crc32c(0, late, sizeof(late));
	cr_assert_eq(send_request(&a, &m), 0, "held while revoking");
	memcpy(chunk_bytes(&g), late, sizeof(late)); /* lands meanwhile */
	finish_caps(&caps_a);
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_SEALED, "%s",
		     caps_a.last_reply.u.error.text);
	cr_assert_not(has_grant(&caps_a, g.u.grant.chunk, true));
}

Test(caps, a_refused_seal_answers_once_write_access_is_back)
{
	struct proto_msg g = alloc_now(&a, 4096), m = msg(PROTO_SEAL);
	int before;

	memset(chunk_bytes(&g), 'x', 100);
	m.u.seal.chunk = g.u.grant.chunk;
	m.u.seal.length = 100;
	m.u.seal.crc = 0x1234;
	cr_assert_eq(send_request(&a, &m), 0);
	before = caps_a.replies;
	finish_caps(&caps_a); /* the revoke; the grant back is asked */
	cr_assert_eq(caps_a.replies, before,
		     "no answer before write access is back");
	finish_caps(&caps_a);
	cr_assert_eq(caps_a.last_reply.u.error.status, PROTO_ST_CRC);
	cr_assert_eq(caps_a.last_reply.u.error.detail, 1001, "the new rkey: %u",
		     caps_a.last_reply.u.error.detail);
	cr_assert(has_grant(&caps_a, g.u.grant.chunk, true));
}

Test(caps, a_lease_lost_while_the_grant_is_made_answers_stale)
{
	struct proto_msg m = msg(PROTO_ALLOC);
	struct table_stats st;

	m.u.alloc.size = 4096;
	cr_assert_eq(send_request(&a, &m), 0);
	cr_assert_eq(service_revoke_lease(&svc, a.id), 0);
	cr_assert_eq(open_chunks(), 0, "reclaimed with the lease, at once");
	finish_caps(&caps_a);
	cr_assert_eq(caps_a.last_reply.u.error.status, PROTO_ST_STALE);
	cr_assert_eq(caps_a.last_reply.u.error.detail, a.epoch);
	cr_assert_not(has_grant(&caps_a, 1, true));
	table_stats(table, &st);
	cr_assert_eq(st.used_bytes, 0, "nothing left, nothing freed twice");
}

/* Lets a's lease run out (b renews), as the transport's timer finds it. */
static void expire_a(void)
{
	fake_now_us += 900000;
	cr_assert_eq(service_renew_lease(&svc, b.id), 0);
	fake_now_us += 200000;
	cr_assert_eq(service_expire_leases(&svc), 1);
}

Test(caps, an_expired_lease_reclaims_once_write_access_is_gone)
{
	struct proto_msg g = alloc_now(&a, 4096);
	struct table_stats st;

	expire_a();
	cr_assert_not(has_grant(&caps_a, g.u.grant.chunk, true));
	cr_assert_eq(open_chunks(), 1,
		     "kept while a write through the old rkey may land");
	finish_caps(&caps_a); /* the revoke is over */
	cr_assert_eq(open_chunks(), 0, "reclaimed once it cannot");
	table_stats(table, &st);
	cr_assert_eq(st.used_bytes, 0);
}

Test(caps, a_session_ending_while_its_expired_lease_is_revoked_reclaims_once)
{
	struct proto_msg g = alloc_now(&a, 4096);
	struct table_stats st;

	expire_a();
	service_session_end(&svc, &a);
	cr_assert_eq(open_chunks(), 1, "both reclaims wait for the revokes");
	finish_caps(&caps_a);
	cr_assert_eq(open_chunks(), 0);
	cr_assert_not(has_grant(&caps_a, g.u.grant.chunk, true));
	table_stats(table, &st);
	cr_assert_eq(st.used_bytes, 0, "nothing freed twice");
}

Test(caps, a_session_ending_while_its_grant_is_made_hears_nothing)
{
	struct proto_msg m = msg(PROTO_ALLOC);
	int before;

	m.u.alloc.size = 4096;
	cr_assert_eq(send_request(&a, &m), 0);
	before = caps_a.replies;
	service_session_end(&svc, &a);
	finish_caps(&caps_a);
	cr_assert_eq(caps_a.replies, before);
	cr_assert_eq(open_chunks(), 0);
}

Test(caps, an_open_is_answered_once_read_access_is_made)
{
	struct proto_msg g = alloc_now(&a, 4096), m = msg(PROTO_OPEN);

	caps_a.defer = false;
	cr_assert_eq(seal(&a, g.u.grant.chunk, 0, crc32c(0, NULL, 0)).hdr.type,
		     PROTO_SEALED);
	m.u.open.chunk = g.u.grant.chunk;
	cr_assert_eq(send_request(&b, &m), 0, "no OPENED before the MR");
	finish_caps(&caps_b);
	cr_assert_eq(caps_b.last_reply.hdr.type, PROTO_OPENED);
	cr_assert_eq(caps_b.last_reply.u.opened.rkey, 1000);
}

Test(caps, a_free_while_an_open_is_granted_cancels_it)
{
	struct proto_msg g = alloc_now(&a, 4096), m = msg(PROTO_OPEN);
	struct proto_msg f = msg(PROTO_FREE);

	caps_a.defer = false;
	cr_assert_eq(seal(&a, g.u.grant.chunk, 0, crc32c(0, NULL, 0)).hdr.type,
		     PROTO_SEALED);
	m.u.open.chunk = g.u.grant.chunk;
	cr_assert_eq(send_request(&b, &m), 0);
	f.u.free.chunk = g.u.grant.chunk;
	cr_assert_eq(send_request(&a, &f), 0, "held while b's is revoked");
	finish_caps(&caps_b);
	cr_assert_eq(caps_b.last_reply.u.error.status, PROTO_ST_NOENT);
	cr_assert_not(has_grant(&caps_b, g.u.grant.chunk, false));
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_FREED);
}

/* A free deregisters readers' MRs on workers: the table frees the space
 * only once every revoke is over, and meanwhile the chunk is gone to
 * everyone (nothing granted that the free would not revoke). */
Test(caps, a_free_frees_the_space_only_after_every_read_is_revoked)
{
	struct proto_msg g = alloc_now(&a, 4096), m = msg(PROTO_FREE);
	struct table_stats st;

	caps_a.defer = caps_b.defer = false;
	cr_assert_eq(seal(&a, g.u.grant.chunk, 0, crc32c(0, NULL, 0)).hdr.type,
		     PROTO_SEALED);
	cr_assert_eq(on_chunk(&b, PROTO_OPEN, g.u.grant.chunk).hdr.type,
		     PROTO_OPENED);
	cr_assert_eq(on_chunk(&a, PROTO_OPEN, g.u.grant.chunk).hdr.type,
		     PROTO_OPENED);
	caps_a.defer = caps_b.defer = true;
	m.u.free.chunk = g.u.grant.chunk;
	cr_assert_eq(send_request(&a, &m), 0, "held while b's is revoked");
	table_stats(table, &st);
	cr_assert_eq(st.used_bytes, 4096, "kept while a read may land");
	cr_assert_eq(on_chunk(&a, PROTO_OPEN, g.u.grant.chunk).u.error.status,
		     PROTO_ST_NOENT, "no new grant meanwhile");
	cr_assert_eq(on_chunk(&b, PROTO_FREE, g.u.grant.chunk).u.error.status,
		     PROTO_ST_NOENT, "one free");
	finish_caps(&caps_b);
	cr_assert_neq(caps_a.last_reply.hdr.type, PROTO_FREED,
		      "a's read is still being revoked");
	finish_caps(&caps_a);
	cr_assert_eq(caps_a.last_reply.hdr.type, PROTO_FREED);
	cr_assert_eq(caps_a.last_reply.hdr.request_id, m.hdr.request_id);
	table_stats(table, &st);
	cr_assert_eq(st.used_bytes, 0);
	cr_assert_not(has_grant(&caps_b, g.u.grant.chunk, false));
}

static void admin_freed(void *arg, const struct table_result *res)
{
	*(int *)arg = res->status == 0 ? 1 : -1;
}

Test(caps, an_operators_free_also_waits_for_the_revokes)
{
	struct proto_msg g = alloc_now(&a, 4096);
	struct table_stats st;
	int freed = 0;

	cr_assert_eq(
		service_admin_free(&svc, g.u.grant.chunk, admin_freed, &freed),
		0);
	cr_assert_eq(freed, 0, "not before a's write access is gone");
	cr_assert_not(has_grant(&caps_a, g.u.grant.chunk, true));
	cr_assert_eq(seal(&a, g.u.grant.chunk, 0, 0).u.error.status,
		     PROTO_ST_NOENT, "no seal of a chunk being freed");
	finish_caps(&caps_a);
	finish_caps(&caps_b); /* b never opened it: over at once in chunkd */
	cr_assert_eq(freed, 1);
	table_stats(table, &st);
	cr_assert_eq(st.used_bytes, 0);
}
