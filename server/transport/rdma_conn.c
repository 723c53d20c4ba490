#include "rdma_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "proto/auth.h"
#include "rdma_caps.h"

#define RECV_DEPTH RDMA_CONN_CREDITS
#define SEND_DEPTH (2 * RDMA_CONN_CREDITS)
#define CQ_DEPTH   (RECV_DEPTH + SEND_DEPTH)
#define WR_RECV	   1ull
#define WR_SEND	   2ull

struct rdma_conn {
	struct rdma_conn_env *env;
	struct rdma_cm_id *id;
	enum rdma_conn_state state;
	struct ibv_pd *pd;
	struct ibv_comp_channel *channel;
	struct ibv_cq *cq;
	struct event *cq_event;
	struct event *resume; /* serves the CQ again after a yield */
	struct event *hello_timer;
	uint8_t *bufs; /* RECV_DEPTH receive, then SEND_DEPTH send buffers */
	struct ibv_mr *bufs_mr;
	uint32_t send_free[SEND_DEPTH];
	unsigned send_free_count;
	struct session session;
	bool session_started;
	struct rdma_caps *caps;
	bool qp_destroyed; /* capabilities are moot: see unreachable() */
	char peer[64];
	struct rdma_conn *next;
};

static uint8_t *recv_buf(struct rdma_conn *c, unsigned i)
{
	return c->bufs + (size_t)i * PROTO_MAX_FRAME;
}

static uint8_t *send_buf(struct rdma_conn *c, unsigned i)
{
	return c->bufs + (size_t)(RECV_DEPTH + i) * PROTO_MAX_FRAME;
}

enum rdma_conn_state rdma_conn_state(const struct rdma_conn *c)
{
	return c->state;
}

struct rdma_cm_id *rdma_conn_id(const struct rdma_conn *c)
{
	return c->id;
}

const char *rdma_conn_peer(const struct rdma_conn *c)
{
	return c->peer;
}

uint64_t rdma_conn_session(const struct rdma_conn *c)
{
	return c->session.id;
}

struct rdma_conn *rdma_conn_next(const struct rdma_conn *c)
{
	return c->next;
}

void rdma_conn_set_next(struct rdma_conn *c, struct rdma_conn *next)
{
	c->next = next;
}

/* ---- capabilities: chunk MRs in this connection's PD (rdma_caps.h) ---- */

static int caps_grant_write(void *ctx, uint64_t chunk, uint8_t *addr,
			    uint64_t len, uint32_t *rkey,
			    session_grant_fn *done, void *arg)
{
	struct rdma_conn *c = ctx;
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		     IBV_ACCESS_REMOTE_READ;

#ifdef CHUNKD_NATIVE_FLUSH
	if (c->session.flush_offered)
		access |= IBV_ACCESS_FLUSH_PERSISTENT; /* native-flush */
#endif
	return rdma_caps_grant(c->caps, chunk, true, addr, len, access, rkey,
			       done, arg);
}

/* A connection whose QP is destroyed has no capability left to revoke:
 * its PD is its own, and no rkey of it reaches memory without a QP. */
static bool unreachable(const struct rdma_conn *c)
{
	return c->qp_destroyed;
}

/* Revokes c's write or read access to chunk, now or (done non-NULL) on a
 * worker, as the session ops promise; 0 when it is over at once. */
static int revoke_cap(struct rdma_conn *c, uint64_t chunk, bool write,
		      session_revoked_fn *done, void *arg)
{
	if (unreachable(c))
		return 0;
	if (!done) {
		rdma_caps_revoke(c->caps, chunk, write);
		return 0;
	}
	return rdma_caps_revoke_async(c->caps, chunk, write, done, arg);
}

static void caps_revoke_write(void *ctx, uint64_t chunk)
{
	revoke_cap(ctx, chunk, true, NULL, NULL);
}

static int caps_revoke_write_async(void *ctx, uint64_t chunk,
				   session_revoked_fn *done, void *arg)
{
	return revoke_cap(ctx, chunk, true, done, arg);
}

static int caps_grant_read(void *ctx, uint64_t chunk, uint8_t *addr,
			   uint64_t len, uint32_t *rkey, session_grant_fn *done,
			   void *arg)
{
	struct rdma_conn *c = ctx;

	return rdma_caps_grant(c->caps, chunk, false, addr, len,
			       IBV_ACCESS_REMOTE_READ, rkey, done, arg);
}

static void caps_revoke_read(void *ctx, uint64_t chunk)
{
	revoke_cap(ctx, chunk, false, NULL, NULL);
}

static int caps_revoke_read_async(void *ctx, uint64_t chunk,
				  session_revoked_fn *done, void *arg)
{
	return revoke_cap(ctx, chunk, false, done, arg);
}

static int ops_send_reply(void *ctx, const struct proto_msg *reply);

static const struct session_ops conn_ops = {
	.send_reply = ops_send_reply,
	.grant_write = caps_grant_write,
	.revoke_write = caps_revoke_write,
	.revoke_write_async = caps_revoke_write_async,
	.grant_read = caps_grant_read,
	.revoke_read = caps_revoke_read,
	.revoke_read_async = caps_revoke_read_async,
};

/* ---- teardown ---- */

/* Frees everything a connection holds; copes with half-built ones. The QP
 * goes first: then no rkey of the connection's PD reaches memory, so its
 * session ends without revoking anything, and its MRs and PD are let go
 * on a worker (rdma_caps_retire), after the buffers' MR, here. */
void rdma_conn_destroy(struct rdma_conn *c)
{
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	c->qp_destroyed = true;
	if (c->session_started)
		service_session_end(c->env->svc, &c->session);
	if (c->hello_timer)
		event_free(c->hello_timer);
	if (c->cq_event)
		event_free(c->cq_event);
	if (c->resume)
		event_free(c->resume);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->channel)
		ibv_destroy_comp_channel(c->channel);
	if (c->bufs_mr)
		ibv_dereg_mr(c->bufs_mr);
	free(c->bufs);
	if (c->caps) /* it takes the PD */
		rdma_caps_retire(&c->caps, &c->env->retired);
	else if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	free(c);
}

/* ---- the data path ---- */

static int post_recv(struct rdma_conn *c, unsigned i)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)recv_buf(c, i),
		.length = PROTO_MAX_FRAME,
		.lkey = c->bufs_mr->lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = WR_RECV << 32 | i, .sg_list = &sge, .num_sge = 1};
	struct ibv_recv_wr *bad;

	return ibv_post_recv(c->id->qp, &wr, &bad) ? -errno : 0;
}

static int send_reply(struct rdma_conn *c, const struct proto_msg *reply)
{
	struct ibv_send_wr wr = {0}, *bad;
	struct ibv_sge sge;
	unsigned i;
	int len;

	if (c->send_free_count == 0) {
		log_error(
			"%s: more requests outstanding than the %u credits; closing",
			c->peer, RDMA_CONN_CREDITS);
		return -ENOBUFS;
	}
	i = c->send_free[--c->send_free_count];
	len = proto_encode(reply, send_buf(c, i), PROTO_MAX_FRAME);
	if (len < 0)
		return len;
	sge = (struct ibv_sge){.addr = (uintptr_t)send_buf(c, i),
			       .length = (uint32_t)len,
			       .lkey = c->bufs_mr->lkey};
	wr.wr_id = WR_SEND << 32 | i;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	return ibv_post_send(c->id->qp, &wr, &bad) ? -errno : 0;
}

/* Handles one completion; returns nonzero when the connection is broken. */
static int on_completion(struct rdma_conn *c, const struct ibv_wc *wc)
{
	unsigned kind = (unsigned)(wc->wr_id >> 32), i = (uint32_t)wc->wr_id;

	if (wc->status != IBV_WC_SUCCESS) {
		if (wc->status != IBV_WC_WR_FLUSH_ERR)
			log_warn("%s: %s completion failed: %s", c->peer,
				 kind == WR_RECV ? "receive" : "send",
				 ibv_wc_status_str(wc->status));
		return -EIO;
	}
	if (kind == WR_SEND) {
		c->send_free[c->send_free_count++] = i;
		return 0;
	}
	/* The service decodes the frame before it returns (its answer may
	 * come later, through ops_send_reply), so the buffer goes back at
	 * once. */
	service_handle(c->env->svc, &c->session, recv_buf(c, i), wc->byte_len);
	if (c->state == RDMA_CONN_CLOSING)
		return -EIO;
	return post_recv(c, i);
}

/* Polls until the CQ is empty; returns completions seen, or -1 if broken. */
static int drain_cq(struct rdma_conn *c)
{
	struct ibv_wc wc[16];
	int n, seen = 0;

	while ((n = ibv_poll_cq(c->cq, 16, wc)) > 0) {
		for (int k = 0; k < n; k++)
			if (on_completion(c, &wc[k]))
				return -1;
		seen += n;
	}
	return n < 0 ? -1 : seen;
}

static void conn_fail(struct rdma_conn *c)
{
	if (c->state == RDMA_CONN_CLOSING)
		return;
	/* The DISCONNECTED event that follows frees the connection. */
	event_del(c->cq_event);
	c->state = RDMA_CONN_CLOSING;
	rdma_disconnect(c->id);
}

/* One poll of every other connection's CQ: completions seen. A connection
 * whose CQ fails is closed; the others go on. */
static int drain_others(struct rdma_conn *c)
{
	int seen = 0, n;

	for (struct rdma_conn *o = *c->env->conns; o; o = o->next) {
		if (o == c || o->state == RDMA_CONN_CLOSING)
			continue;
		n = drain_cq(o);
		if (n < 0)
			conn_fail(o);
		else
			seen += n;
	}
	return seen;
}

#define SPELL_MAX_US 1000 /* a busy spell gives the loop a turn this often */

/* Completions were seen at now: an idle stretch before them that a spell
 * of poll_us would not have bridged teaches env->spin how long the next
 * may be. */
static void note_completions(struct rdma_conn_env *env, uint64_t now)
{
	uint64_t idle = now - env->last_completion_us;

	if (env->last_completion_us && idle > env->spin.floor_us)
		spin_budget_learn(&env->spin, idle);
	env->last_completion_us = now;
}

/* Keeps polling every connection for the spin budget after the last
 * completion on any: a request that follows closely, on this connection
 * or another, is served without the wake-up of a completion channel, and
 * no connection waits out the spell of another (each keeps its own
 * notification armed, so nothing is missed). Returns 0 when the spell ran
 * out idle or a worker's job starves (workers_starved(): the loop sleeps
 * until its next event, and its CPU goes to the job), 1 when it yields to the
 * loop (workers finished jobs whose answers wait there, or the spell lasted
 * SPELL_MAX_US: timers and other events are due), -1 when c's CQ failed. */
static int spin_cq(struct rdma_conn *c)
{
	struct rdma_conn_env *env = c->env;
	uint64_t now = clock_mono_us(), yield_at = now + SPELL_MAX_US;
	uint64_t deadline = now + spin_budget_us(&env->spin);
	unsigned polls = 0;
	int n;

	env->last_completion_us = now; /* the spell follows completions */
	for (;;) {
		n = drain_cq(c);
		if (n < 0)
			return -1;
		n += drain_others(c);
		if (++polls % CLOCK_POLLS_PER_READ && n == 0)
			continue;
		now = clock_mono_us();
		if (n > 0) {
			note_completions(env, now);
			deadline = now + spin_budget_us(&env->spin);
		}
		if (workers_ready(env->workers) || now >= yield_at)
			return 1;
		/* A starved job gets the CPU the polling would take. */
		if (now >= deadline || workers_starved(env->workers, now))
			return 0;
	}
}

/* The service's answer, now or after the table completed: a reply that
 * cannot be sent breaks the connection. */
static int ops_send_reply(void *ctx, const struct proto_msg *reply)
{
	struct rdma_conn *c = ctx;
	int rc;

	if (c->state == RDMA_CONN_CLOSING)
		return -ENOTCONN;
	rc = send_reply(c, reply);
	if (rc) {
		log_warn("%s: cannot send a reply: %s", c->peer, strerror(-rc));
		conn_fail(c);
	}
	return rc;
}

/* Serves c's CQ (and, while spinning, every other's) until it is armed
 * and empty, or the spell yields: then the loop takes its turn and a timer
 * brings c back, since what its CQ holds now raises no event. */
static void serve_cq(struct rdma_conn *c)
{
	static const struct timeval at_once = {0, 0};
	int n, spun;

	do {
		if (drain_cq(c) < 0 || (spun = spin_cq(c)) < 0 ||
		    ibv_req_notify_cq(c->cq, 0)) {
			conn_fail(c);
			return;
		}
		if (spun > 0) {
			evtimer_add(c->resume, &at_once);
			return;
		}
		/* A completion may have slipped in before the re-arm. */
		n = drain_cq(c);
		if (n < 0) {
			conn_fail(c);
			return;
		}
	} while (n > 0);
}

static void on_cq_ready(evutil_socket_t fd, short what, void *arg)
{
	struct rdma_conn *c = arg;
	struct ibv_cq *cq;
	void *ctx;

	(void)fd;
	(void)what;
	if (ibv_get_cq_event(c->channel, &cq, &ctx) == 0)
		ibv_ack_cq_events(cq, 1);
	note_completions(c->env, clock_mono_us());
	serve_cq(c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct rdma_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state != RDMA_CONN_CLOSING)
		serve_cq(c);
}

/* ---- set-up ---- */

static int make_queues(struct rdma_conn *c)
{
	struct ibv_qp_init_attr attr = {0};
	size_t len = (size_t)(RECV_DEPTH + SEND_DEPTH) * PROTO_MAX_FRAME;

	c->pd = ibv_alloc_pd(c->id->verbs);
	c->caps = c->pd ? rdma_caps_new(c->pd, c->env->workers, c->peer) : NULL;
	if (c->pd && !c->caps)
		return -ENOMEM;
	c->channel = c->pd ? ibv_create_comp_channel(c->id->verbs) : NULL;
	c->cq = c->channel ? ibv_create_cq(c->id->verbs, CQ_DEPTH, c,
					   c->channel, 0)
			   : NULL;
	if (!c->cq)
		return -errno;
	attr.send_cq = attr.recv_cq = c->cq;
	attr.qp_type = IBV_QPT_RC;
	attr.cap.max_send_wr = SEND_DEPTH;
	attr.cap.max_recv_wr = RECV_DEPTH;
	attr.cap.max_send_sge = attr.cap.max_recv_sge = 1;
	if (rdma_create_qp(c->id, c->pd, &attr))
		return -errno;
	c->bufs = calloc(1, len);
	c->bufs_mr = c->bufs ? ibv_reg_mr(c->pd, c->bufs, len,
					  IBV_ACCESS_LOCAL_WRITE)
			     : NULL;
	if (!c->bufs_mr)
		return c->bufs ? -errno : -ENOMEM;
	for (unsigned i = 0; i < SEND_DEPTH; i++)
		c->send_free[c->send_free_count++] = i;
	for (unsigned i = 0; i < RECV_DEPTH; i++)
		if (post_recv(c, i))
			return -errno;
	return 0;
}

static int watch_cq(struct rdma_conn *c)
{
	int flags = fcntl(c->channel->fd, F_GETFL);

	if (flags < 0 || fcntl(c->channel->fd, F_SETFL, flags | O_NONBLOCK))
		return -errno;
	c->cq_event = event_new(c->env->base, c->channel->fd,
				EV_READ | EV_PERSIST, on_cq_ready, c);
	c->resume = evtimer_new(c->env->base, on_resume, c);
	if (!c->cq_event || !c->resume || event_add(c->cq_event, NULL))
		return -ENOMEM;
	return ibv_req_notify_cq(c->cq, 0) ? -errno : 0;
}

static void on_hello_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rdma_conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->session.greeted)
		c->env->on_hello_timeout(c->env, c);
}

static int start_hello_timer(struct rdma_conn *c)
{
	uint32_t ms = c->env->hello_timeout_ms;
	struct timeval after = {.tv_sec = ms / 1000,
				.tv_usec = (ms % 1000) * 1000};

	c->hello_timer = evtimer_new(c->env->base, on_hello_deadline, c);
	return c->hello_timer && evtimer_add(c->hello_timer, &after) == 0
		       ? 0
		       : -ENOMEM;
}

void rdma_conn_describe_peer(struct rdma_cm_id *id, char *buf, size_t len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[48] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host,
			  sizeof(host));
	snprintf(buf, len, "%s:%u", host, be16toh(rdma_get_dst_port(id)));
}

static int accept_request(struct rdma_conn *c,
			  const struct rdma_conn_param *req)
{
	struct rdma_conn_param accept = {0};

	/* Let the client READ from us (read-after-write, chunk reads) with as
	 * many READs in flight as it asks for and the device allows. */
	accept.responder_resources = req->initiator_depth;
	accept.initiator_depth = req->responder_resources;
	accept.rnr_retry_count = 7;
	/* The nonce the client's HELLO must answer (proto/auth.h). */
	auth_new_nonce(c->session.nonce);
	accept.private_data = c->session.nonce;
	accept.private_data_len = PROTO_NONCE_LEN;
	return rdma_accept(c->id, &accept) ? -errno : 0;
}

/* Whether the connection's device executes RDMA FLUSH to the persistence
 * domain (IBTA 1.5: rdma-core 45 and, for soft-RoCE, kernel 6.2 or newer),
 * and its queue pair now accepts FLUSH. After rdma_accept the queue pair
 * is ready to send, and its access flags may change there. */
static bool accept_flush(struct rdma_conn *c)
{
#ifdef CHUNKD_NATIVE_FLUSH
	struct ibv_device_attr_ex dev;
	struct ibv_qp_attr attr = {.qp_access_flags =
					   IBV_ACCESS_REMOTE_WRITE |
					   IBV_ACCESS_REMOTE_READ |
					   IBV_ACCESS_FLUSH_PERSISTENT};

	if (ibv_query_device_ex(c->id->verbs, NULL, &dev) ||
	    !(dev.device_cap_flags_ex & IB_UVERBS_DEVICE_FLUSH_PERSISTENT))
		return false;
	if (ibv_modify_qp(c->id->qp, &attr, IBV_QP_ACCESS_FLAGS)) {
		log_warn("%s: the queue pair refuses FLUSH (%s): no "
			 "native-flush for it",
			 c->peer, strerror(errno));
		return false;
	}
	return true;
#else
	(void)c;
	return false;
#endif
}

int rdma_conn_accept(struct rdma_conn_env *env, struct rdma_cm_id *id,
		     const struct rdma_conn_param *req, struct rdma_conn **out)
{
	struct rdma_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->env = env;
	c->id = id;
	c->state = RDMA_CONN_ACCEPTING;
	rdma_conn_describe_peer(id, c->peer, sizeof(c->peer));
	rc = make_queues(c);
	rc = rc ? rc : watch_cq(c);
	rc = rc ? rc : start_hello_timer(c);
	rc = rc ? rc : accept_request(c, req);
	if (rc) {
		c->id = NULL; /* the caller's, to reject */
		if (id->qp)
			rdma_destroy_qp(id);
		rdma_conn_destroy(c);
		return rc;
	}
	id->context = c;
	service_session_start(env->svc, &c->session, &conn_ops, c);
	c->session.peer = c->peer;
	c->session.can_flush = accept_flush(c);
	c->session_started = true;
	*out = c;
	return 0;
}

void rdma_conn_established(struct rdma_conn *c)
{
	if (c->state == RDMA_CONN_ACCEPTING)
		c->state = RDMA_CONN_ESTABLISHED;
}
