/* libchunkclient's connection: queue pair, buffers, posting, completions,
 * waits, set-up and teardown (client.h). Requests and the session are
 * request.c's and session.c's. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/clock.h"
#include "proto/reject.h"

#define RESOLVE_TIMEOUT_MS 5000
/* The renewer's pause between polls while the application has operations
 * in flight (it must not sleep on their completion channel). */
#define RENEWER_NAP_US 50

void client_lock(struct chunk_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->upper->tick(c);
}

void client_lease_renewed(struct chunk_client *c)
{
	__atomic_store_n(&c->sess.lease_renewed_us, clock_mono_us(),
			 __ATOMIC_RELAXED);
}

void client_unlock(struct chunk_client *c)
{
	pthread_mutex_unlock(&c->lock);
}

static uint8_t *recv_slot(struct chunk_client *c, unsigned i)
{
	return c->msgs + (size_t)i * PROTO_MAX_FRAME;
}

uint8_t *client_send_slot(struct chunk_client *c, unsigned i)
{
	return c->msgs + (size_t)(CLIENT_CREDITS + i) * PROTO_MAX_FRAME;
}

/* ---- completions ---- */

static int post_recv(struct chunk_client *c, unsigned i)
{
	struct ibv_sge sge = {.addr = (uintptr_t)recv_slot(c, i),
			      .length = PROTO_MAX_FRAME,
			      .lkey = c->msgs_mr->lkey};
	struct ibv_recv_wr wr = {.wr_id = WR_RECV << 32 | i,
				 .sg_list = &sge,
				 .num_sge = 1},
			   *bad;

	return ibv_post_recv(c->id->qp, &wr, &bad) ? CHUNK_E_CONNECT : 0;
}

static void record_failure(struct chunk_client *c, const struct ibv_wc *wc)
{
	if (c->wc_error)
		return;
	log_error("session %llu: %s", (unsigned long long)c->sess.id,
		  ibv_wc_status_str(wc->status));
	c->wc_error = wc->status == IBV_WC_REM_ACCESS_ERR ? CHUNK_E_ACCESS
							  : CHUNK_E_CONNECT;
}

static void on_recv(struct chunk_client *c, unsigned slot, uint32_t len)
{
	struct proto_msg msg;

	if (proto_decode(recv_slot(c, slot), len, &msg)) {
		log_error("session %llu: malformed reply of %u bytes",
			  (unsigned long long)c->sess.id, len);
		c->wc_error = CHUNK_E_PROTO;
	} else if (!c->upper->take_reply(c, &msg)) {
		c->calls.reply = msg;
		c->calls.reply_ready = true;
	}
	if (post_recv(c, slot) && !c->wc_error)
		c->wc_error = CHUNK_E_CONNECT;
}

static void on_wc(struct chunk_client *c, const struct ibv_wc *wc)
{
	unsigned kind = (unsigned)(wc->wr_id >> 32), slot = (uint32_t)wc->wr_id;
	bool ok = wc->status == IBV_WC_SUCCESS;

	if (!ok)
		record_failure(c, wc);
	switch (kind) {
	case WR_RECV:
		if (ok)
			on_recv(c, slot, wc->byte_len);
		break;
	case WR_ASYNC:
		c->upper->rdma_done(c, slot, ok ? CHUNK_OK : c->wc_error);
		break;
	case WR_SEND:
		c->calls.busy_send_slots &= ~(1u << slot);
		/* fall through */
	default:
		if (c->sends_in_flight)
			c->sends_in_flight--;
	}
}

int client_poll_cq(struct chunk_client *c)
{
	struct ibv_wc wc[16];
	int n;

	if (c->async.finished && !c->in_renewer)
		c->upper->run_finished(c);
	n = ibv_poll_cq(c->cq, 16, wc);

	for (int i = 0; i < n; i++)
		on_wc(c, &wc[i]);
	return n;
}

/* Sleeps on the completion channel for at most ms. */
static int sleep_on_cq(struct chunk_client *c, int ms)
{
	struct pollfd pfd = {.fd = c->channel->fd, .events = POLLIN};
	struct ibv_cq *cq;
	void *ctx;

	if (ibv_req_notify_cq(c->cq, 0))
		return CHUNK_E_CONNECT;
	c->cq_armed = true;
	if (client_poll_cq(c) > 0) /* arrived before the re-arm */
		return 0;
	if (poll(&pfd, 1, ms) == 0)
		return CHUNK_E_TIMEOUT;
	if (ibv_get_cq_event(c->channel, &cq, &ctx) == 0) {
		ibv_ack_cq_events(cq, 1);
		c->cq_armed = false;
	}
	return 0;
}

/* How long one sleep on the channel may last, of left_ms: a sixth of the
 * lease at most. The renewer thread cannot renew while this call holds the
 * client's lock; it marks a renewal due (a third of the lease after the
 * last), and tick() posts it once the sleep ends. A wait longer than the
 * lease (timeout_ms above it, and a seal of a large chunk that a busy
 * server takes long over) must not let the lease, and the chunks it holds
 * open, lapse meanwhile. */
static int sleep_slice_ms(const struct chunk_client *c, uint64_t left_ms)
{
	uint32_t ttl = __atomic_load_n(&c->sess.lease_ttl_ms, __ATOMIC_RELAXED);
	uint64_t slice = ttl ? (ttl / 6 ? ttl / 6 : 1) : left_ms; /* 0: none */

	return (int)(left_ms < slice ? left_ms : slice) + 1;
}

/* Waits until done(c) holds, an error completion, or timeout_ms. */
static int wait_loop(struct chunk_client *c,
		     bool (*done)(struct chunk_client *), unsigned timeout_ms)
{
	uint64_t start = clock_mono_us(), spin_until = start + c->opts.poll_us;
	uint64_t deadline = start + (uint64_t)timeout_ms * 1000u;
	unsigned empty_polls = 0;

	while (!done(c)) {
		uint64_t now;
		int rc;

		if (c->wc_error)
			return c->wc_error;
		if (client_poll_cq(c) > 0)
			continue;
		if (++empty_polls % CLOCK_POLLS_PER_READ != 0)
			continue;
		c->upper->tick(c); /* a long wait of a busy client */
		now = clock_mono_us();
		if (now >= deadline)
			return CHUNK_E_TIMEOUT;
		if (now < spin_until)
			continue;
		if (c->in_renewer && c->async.in_flight) {
			/* The channel's events are the application's, which
			 * may sleep on chunk_client_fd() for its ops. */
			usleep(RENEWER_NAP_US);
			continue;
		}
		rc = sleep_on_cq(c,
				 sleep_slice_ms(c, (deadline - now) / 1000u));
		if (rc == CHUNK_E_TIMEOUT && clock_mono_us() < deadline)
			rc = 0;
		if (rc)
			return rc;
	}
	return c->wc_error;
}

/*
 * The same, leaving the completion channel armed while asynchronous
 * operations are in flight: a sleep in the loop may have taken the event
 * their completion was to raise, and the application may be waiting on
 * chunk_client_fd() for it. Arming then polls, so completions that came
 * first are processed (their callbacks run here, as documented).
 */
static int wait_for_ms(struct chunk_client *c,
		       bool (*done)(struct chunk_client *), unsigned timeout_ms)
{
	int rc = wait_loop(c, done, timeout_ms);

	if (!c->cq_armed && c->async.in_flight)
		client_arm_channel(c);
	return rc;
}

static int wait_for(struct chunk_client *c, bool (*done)(struct chunk_client *))
{
	return wait_for_ms(c, done, c->opts.timeout_ms);
}

int client_wait_until(struct chunk_client *c,
		      bool (*done)(struct chunk_client *))
{
	return wait_for(c, done);
}

void client_arm_cq(struct chunk_client *c)
{
	if (!c->wc_error && c->cq && ibv_req_notify_cq(c->cq, 0) == 0)
		c->cq_armed = true;
}

void client_abort(struct chunk_client *c, int status)
{
	struct ibv_qp_attr attr = {.qp_state = IBV_QPS_ERR};

	if (c->id && c->id->qp)
		ibv_modify_qp(c->id->qp, &attr, IBV_QP_STATE);
	if (!c->wc_error)
		c->wc_error = status;
}

/* Adds fd to the epoll set wake_fd, readable while fd is. */
static int wake_add(int wake_fd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(wake_fd, EPOLL_CTL_ADD, fd, &ev);
}

int client_wake_for(struct chunk_client *c, struct chunk_client *peer)
{
	return wake_add(c->wake_fd, peer->channel->fd) ? CHUNK_E_INTERNAL
						       : CHUNK_OK;
}

void client_arm_channel(struct chunk_client *c)
{
	client_arm_cq(c);
	if (c->cq_armed)
		while (client_poll_cq(c) > 0)
			;
}

static bool async_progress(struct chunk_client *c)
{
	return c->async.completed != c->async.wait_mark ||
	       c->async.in_flight == 0;
}

int client_wait_async(struct chunk_client *c, int timeout_ms)
{
	c->async.wait_mark = c->async.completed;
	return wait_for_ms(c, async_progress,
			   timeout_ms < 0 ? c->opts.timeout_ms
					  : (unsigned)timeout_ms);
}

void client_consume_cq_events(struct chunk_client *c)
{
	struct ibv_cq *cq;
	void *ctx;

	/* The channel's fd is non-blocking: this stops at EAGAIN. */
	while (ibv_get_cq_event(c->channel, &cq, &ctx) == 0) {
		ibv_ack_cq_events(cq, 1);
		c->cq_armed = false;
	}
}

static bool sends_done(struct chunk_client *c)
{
	return c->sends_in_flight == 0;
}

int client_wait_sends(struct chunk_client *c)
{
	return wait_for(c, sends_done);
}

void client_wr_rdma(struct client_wr *w, enum ibv_wr_opcode op, void *local,
		    uint32_t lkey, size_t len, uint64_t remote, uint32_t rkey,
		    bool signaled, uint64_t wr_id)
{
	memset(w, 0, sizeof(*w));
	w->sge.addr = (uintptr_t)local;
	w->sge.length = (uint32_t)len;
	w->sge.lkey = lkey;
	w->wr.wr_id = wr_id;
	w->wr.sg_list = &w->sge;
	w->wr.num_sge = 1;
	w->wr.opcode = op;
	w->wr.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
	w->wr.wr.rdma.remote_addr = remote;
	w->wr.wr.rdma.rkey = rkey;
}

/* Counts the signaled WRs waited for synchronously (async ones complete
 * their op instead). */
static void count_signaled(struct chunk_client *c, unsigned flags, uint64_t id)
{
	if ((flags & IBV_SEND_SIGNALED) && id >> 32 != WR_ASYNC)
		c->sends_in_flight++;
}

/*
 * Posts w, behind before when there is one: a single ibv_post_send, so a
 * single doorbell (on soft-RoCE a system call) for a write and the persist
 * that follows it.
 */
int client_post_after(struct chunk_client *c, struct client_wr *before,
		      struct client_wr *w)
{
	struct ibv_send_wr *first = &w->wr, *bad = NULL;
	int err;

	if (before) {
		before->wr.next = &w->wr;
		first = &before->wr;
	}
	err = ibv_post_send(c->id->qp, first, &bad);
	if (err && !bad)
		bad = first;
	for (struct ibv_send_wr *wr = first; wr && wr != bad; wr = wr->next)
		count_signaled(c, wr->send_flags, wr->wr_id);
	if (err) {
		log_error("ibv_post_send: %s", strerror(err));
		return CHUNK_E_CONNECT;
	}
	return CHUNK_OK;
}

int client_post_rdma_wr(struct chunk_client *c, struct client_wr *w)
{
	return client_post_after(c, NULL, w);
}

int client_post_rdma_id(struct chunk_client *c, enum ibv_wr_opcode op,
			void *local, uint32_t lkey, size_t len, uint64_t remote,
			uint32_t rkey, bool signaled, uint64_t wr_id)
{
	struct client_wr w;

	client_wr_rdma(&w, op, local, lkey, len, remote, rkey, signaled, wr_id);
	return client_post_after(c, NULL, &w);
}

int client_post_rdma(struct chunk_client *c, enum ibv_wr_opcode op, void *local,
		     uint32_t lkey, size_t len, uint64_t remote, uint32_t rkey,
		     bool signaled)
{
	return client_post_rdma_id(c, op, local, lkey, len, remote, rkey,
				   signaled, WR_RDMA << 32);
}

int client_post_tail_read(struct chunk_client *c, const struct remote_chunk *rc,
			  uint64_t off, uint64_t len, uint64_t wr_id,
			  struct client_wr *before)
{
	/* The READ returns only once the WRITEs ahead of it are placed, and
	 * the platform places them in the persistence domain. */
	uint8_t *scratch =
		c->msgs + 2 * (size_t)CLIENT_CREDITS * PROTO_MAX_FRAME;
	uint64_t tail = len < 8 ? len : 8;
	struct client_wr w;

	client_wr_rdma(&w, IBV_WR_RDMA_READ, scratch, c->msgs_mr->lkey, tail,
		       rc->addr + off + len - tail, rc->rkey, true, wr_id);
	return client_post_after(c, before, &w);
}

int client_post_flush(struct chunk_client *c, const struct remote_chunk *rc,
		      uint64_t off, uint64_t len, uint64_t wr_id,
		      struct client_wr *before)
{
#ifdef CHUNKD_NATIVE_FLUSH
	struct ibv_qp_ex *q = c->qpx;
	int err;

	if (!q)
		return CHUNK_E_INTERNAL;
	/* One batch, one doorbell: the last WRITE, then the FLUSH, which the
	 * responder executes once the WRITEs ahead of it are placed. */
	ibv_wr_start(q);
	if (before) {
		q->wr_id = before->wr.wr_id;
		q->wr_flags = before->wr.send_flags;
		ibv_wr_rdma_write(q, before->wr.wr.rdma.rkey,
				  before->wr.wr.rdma.remote_addr);
		ibv_wr_set_sge(q, before->sge.lkey, before->sge.addr,
			       before->sge.length);
	}
	q->wr_id = wr_id;
	q->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_flush(q, rc->rkey, rc->addr + off, len, IBV_FLUSH_PERSISTENT,
		     IBV_FLUSH_RANGE);
	err = ibv_wr_complete(q);
	if (err) {
		log_error("posting a FLUSH: %s", strerror(err));
		return CHUNK_E_CONNECT;
	}
	if (before)
		count_signaled(c, before->wr.send_flags, before->wr.wr_id);
	count_signaled(c, IBV_SEND_SIGNALED, wr_id);
	return CHUNK_OK;
#else
	(void)c, (void)rc, (void)off, (void)len, (void)wr_id, (void)before;
	return CHUNK_E_INTERNAL;
#endif
}

/* ---- connection set-up ---- */

/* Waits for the next CM event on the client's channel; it must be want. */
static int expect_cm_event(struct chunk_client *c, enum rdma_cm_event_type want)
{
	struct pollfd pfd = {.fd = c->cm->fd, .events = POLLIN};
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;
	char text[PROTO_REJECT_TEXT_MAX + 1];
	unsigned reason = 0;
	int status;

	if (poll(&pfd, 1, (int)c->opts.timeout_ms) <= 0)
		return CHUNK_E_TIMEOUT;
	if (rdma_get_cm_event(c->cm, &ev))
		return CHUNK_E_CONNECT;
	got = ev->event;
	status = ev->status;
	if (got == RDMA_CM_EVENT_ESTABLISHED &&
	    ev->param.conn.private_data_len >= PROTO_NONCE_LEN)
		memcpy(c->sess.nonce, ev->param.conn.private_data,
		       PROTO_NONCE_LEN);
	if (got == RDMA_CM_EVENT_REJECTED)
		reason = proto_reject_decode(ev->param.conn.private_data,
					     ev->param.conn.private_data_len,
					     text, sizeof(text));
	rdma_ack_cm_event(ev);
	if (got == want)
		return CHUNK_OK;
	if (reason) {
		log_error("%s port %u refused the connection: %s", c->host,
			  c->port, text);
		return reason == PROTO_REJECT_BUSY ? CHUNK_E_BUSY
						   : CHUNK_E_CONNECT;
	}
	log_error("connecting to %s port %u: %s (status %d)", c->host, c->port,
		  rdma_event_str(got), status);
	return got == RDMA_CM_EVENT_ADDR_ERROR ||
			       got == RDMA_CM_EVENT_ROUTE_ERROR
		       ? CHUNK_E_NODEV
		       : CHUNK_E_CONNECT;
}

static int resolve(struct chunk_client *c)
{
	struct rdma_addrinfo hints = {.ai_port_space = RDMA_PS_TCP}, *res;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", c->port);
	if (rdma_create_id(c->cm, &c->id, c, RDMA_PS_TCP))
		return CHUNK_E_NODEV;
	if (rdma_getaddrinfo(c->host, port, &hints, &res)) {
		log_error("cannot resolve %s: %s", c->host, strerror(errno));
		return CHUNK_E_NODEV;
	}
	rc = rdma_resolve_addr(c->id, NULL, res->ai_dst_addr,
			       RESOLVE_TIMEOUT_MS);
	rdma_freeaddrinfo(res);
	if (rc)
		return CHUNK_E_NODEV;
	rc = expect_cm_event(c, RDMA_CM_EVENT_ADDR_RESOLVED);
	if (rc == CHUNK_OK && rdma_resolve_route(c->id, RESOLVE_TIMEOUT_MS))
		rc = CHUNK_E_NODEV;
	return rc ? rc : expect_cm_event(c, RDMA_CM_EVENT_ROUTE_RESOLVED);
}

/* The queue pair: one that can FLUSH where rdma-core and the device have
 * it (native-flush), else a plain one. */
static int create_qp(struct chunk_client *c, struct ibv_qp_init_attr *attr)
{
#ifdef CHUNKD_NATIVE_FLUSH
	struct ibv_qp_init_attr_ex ex = {
		.send_cq = attr->send_cq,
		.recv_cq = attr->recv_cq,
		.cap = attr->cap,
		.qp_type = attr->qp_type,
		.comp_mask =
			IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		.pd = c->pd,
		.send_ops_flags = IBV_QP_EX_WITH_RDMA_WRITE |
				  IBV_QP_EX_WITH_RDMA_READ |
				  IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_FLUSH,
	};

	if (rdma_create_qp_ex(c->id, &ex) == 0) {
		c->qpx = ibv_qp_to_qp_ex(c->id->qp);
		return 0;
	}
#endif
	c->qpx = NULL;
	return rdma_create_qp(c->id, c->pd, attr);
}

/* The PD and the buffers outlive reconnects; they are made once. */
static int make_memory(struct chunk_client *c)
{
	size_t msgs_len = 2 * (size_t)CLIENT_CREDITS * PROTO_MAX_FRAME +
			  CLIENT_SCRATCH_LEN;
	int access = IBV_ACCESS_LOCAL_WRITE;
	struct chunk_client *owner = c->pd_owner;

	c->pd_shared = owner && owner->pd && owner->pd->context == c->id->verbs;
	c->pd = c->pd_shared ? owner->pd : ibv_alloc_pd(c->id->verbs);
	c->msgs = calloc(1, msgs_len);
	c->bounce = calloc(1, c->opts.bounce_size);
	if (!c->pd || !c->msgs || !c->bounce)
		return CHUNK_E_NOMEM;
	c->msgs_mr = ibv_reg_mr(c->pd, c->msgs, msgs_len, access);
	c->bounce_mr =
		ibv_reg_mr(c->pd, c->bounce, c->opts.bounce_size, access);
	return c->msgs_mr && c->bounce_mr ? CHUNK_OK : CHUNK_E_NOMEM;
}

static int make_queues(struct chunk_client *c)
{
	struct ibv_qp_init_attr attr = {0};

	if (c->pd->context != c->id->verbs) {
		log_error("%s now routes through another RDMA device", c->host);
		return CHUNK_E_NODEV;
	}
	/* The channel, and so chunk_client_fd(), outlives reconnects. */
	if (!c->channel) {
		int flags;

		c->channel = ibv_create_comp_channel(c->id->verbs);
		if (!c->channel)
			return CHUNK_E_NOMEM;
		flags = fcntl(c->channel->fd, F_GETFL);
		if (flags < 0 ||
		    fcntl(c->channel->fd, F_SETFL, flags | O_NONBLOCK))
			return CHUNK_E_INTERNAL;
		c->wake_fd = epoll_create1(EPOLL_CLOEXEC);
		if (c->wake_fd < 0 || wake_add(c->wake_fd, c->channel->fd))
			return CHUNK_E_INTERNAL;
	}
	/* An async write+persist takes two send entries; so may a request. */
	c->cq = ibv_create_cq(c->id->verbs,
			      4 * CLIENT_CREDITS + 2 * c->opts.max_in_flight +
				      64,
			      c, c->channel, 0);
	if (!c->cq)
		return CHUNK_E_NOMEM;
	attr.send_cq = attr.recv_cq = c->cq;
	attr.qp_type = IBV_QPT_RC;
	attr.cap.max_send_wr = 2 * CLIENT_CREDITS + 2 * c->opts.max_in_flight;
	attr.cap.max_recv_wr = CLIENT_CREDITS;
	attr.cap.max_send_sge = attr.cap.max_recv_sge = 1;
	if (create_qp(c, &attr))
		return CHUNK_E_NOMEM;
	for (unsigned i = 0; i < CLIENT_CREDITS; i++)
		if (post_recv(c, i))
			return CHUNK_E_CONNECT;
	return CHUNK_OK;
}

static int establish(struct chunk_client *c)
{
	struct ibv_device_attr dev;
	struct rdma_conn_param param = {0};
	int depth = 16;

	if (ibv_query_device(c->id->verbs, &dev) == 0 &&
	    dev.max_qp_init_rd_atom < depth)
		depth = dev.max_qp_init_rd_atom;
	param.initiator_depth = (uint8_t)depth;
	param.responder_resources = (uint8_t)depth;
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	if (rdma_connect(c->id, &param))
		return CHUNK_E_CONNECT;
	return expect_cm_event(c, RDMA_CM_EVENT_ESTABLISHED);
}

/* Undoes what client_conn_open() built, except the PD and its memory. */
void client_conn_close(struct chunk_client *c)
{
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->id)
		rdma_destroy_id(c->id);
	c->id = NULL;
	c->cq = NULL;
	c->sends_in_flight = 0;
	c->calls.busy_send_slots = 0;
	c->wc_error = 0;
	c->calls.reply_ready = false;
	c->cq_armed = false;
}

void client_disconnect_cm(struct chunk_client *c)
{
	if (c->id && rdma_disconnect(c->id) == 0)
		expect_cm_event(c, RDMA_CM_EVENT_DISCONNECTED);
}

int client_conn_open(struct chunk_client *c)
{
	int rc = resolve(c);

	if (rc == CHUNK_OK && !c->pd)
		rc = make_memory(c);
	rc = rc ? rc : make_queues(c);
	return rc ? rc : establish(c);
}

int client_conn_start(struct chunk_client *c)
{
	c->cm = rdma_create_event_channel();
	if (!c->cm) {
		log_error(
			"no RDMA connection manager (/dev/infiniband/rdma_cm): %s",
			strerror(errno));
		return CHUNK_E_NODEV;
	}
	return client_conn_open(c);
}

void client_conn_release(struct chunk_client *c)
{
	client_conn_close(c);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	if (c->channel)
		ibv_destroy_comp_channel(c->channel);
	if (c->msgs_mr)
		ibv_dereg_mr(c->msgs_mr);
	if (c->bounce_mr)
		ibv_dereg_mr(c->bounce_mr);
	if (c->pd && !c->pd_shared)
		ibv_dealloc_pd(c->pd);
	if (c->cm)
		rdma_destroy_event_channel(c->cm);
	free(c->msgs);
	free(c->bounce);
}
