/* libchunkclient's asynchronous operations: several in flight at once,
 * each on one connection, or a group of them on a replicated chunk's. */
#include <poll.h>
#include <string.h>

#include "async.h"
#include "common/clock.h"
#include "common/log.h"
#include "export.h"
#include "mem.h"
#include "persist_method.h"

/* A wait that spans peers sleeps this long at most between lease ticks. */
#define WAKE_SLICE_MS 100

/* Takes a free op slot for a callback; returns its index or -1. */
static int op_start(struct chunk_client *c, chunk_done_fn *done, void *arg)
{
	for (unsigned i = 0; i < c->opts.max_in_flight; i++) {
		if (!c->async.ops[i].used) {
			c->async.ops[i] = (struct async_op){
				.used = true,
				.done = done,
				.arg = arg,
				.started_us = clock_mono_us()};
			c->async.in_flight++;
			return (int)i;
		}
	}
	return -1;
}

/* Releases op i (before calling back, so the callback may start another). */
static void op_call_back(struct chunk_client *c, unsigned i, int status)
{
	struct async_op op = c->async.ops[i];

	c->async.ops[i] = (struct async_op){0};
	c->async.in_flight--;
	if (op.part)
		c->async.parts--;
	else
		c->async.completed++; /* what the application sees */
	op.done(op.arg, status);
}

/* Op i completed. Callbacks run only on the application's thread, inside
 * its calls: on the renewer's thread the op waits, finished, for the
 * application's next poll. */
static void op_finish(struct chunk_client *c, unsigned i, int status)
{
	if (!c->in_renewer) {
		op_call_back(c, i, status);
		return;
	}
	c->async.ops[i].finished = true;
	c->async.ops[i].status = status;
	c->async.ops[i].request_id = 0; /* no reply may complete it again */
	c->async.finished++;
}

void async_run_finished(struct chunk_client *c)
{
	for (unsigned i = 0; i < c->opts.max_in_flight && c->async.finished;
	     i++) {
		if (c->async.ops[i].used && c->async.ops[i].finished) {
			c->async.finished--;
			op_call_back(c, i, c->async.ops[i].status);
		}
	}
}

/* Undoes op_start() when nothing was posted. */
static void op_cancel(struct chunk_client *c, unsigned i)
{
	c->async.ops[i] = (struct async_op){0};
	c->async.in_flight--;
}

bool async_take_reply(struct chunk_client *c, const struct proto_msg *reply)
{
	for (unsigned i = 0; i < c->opts.max_in_flight; i++) {
		if (c->async.ops[i].used && c->async.ops[i].request_id &&
		    c->async.ops[i].request_id == reply->hdr.request_id) {
			op_finish(c, i,
				  reply->hdr.type == PROTO_ERROR
					  ? client_refused(c, reply)
					  : CHUNK_OK);
			return true;
		}
	}
	return false;
}

void async_rdma_done(struct chunk_client *c, unsigned op, int status)
{
	if (op < c->opts.max_in_flight && c->async.ops[op].used &&
	    !c->async.ops[op].finished && !c->async.ops[op].request_id)
		op_finish(c, op, status);
}

void async_fail_all(struct chunk_client *c, int status)
{
	/* A group ends when its parts do, each on its own connection. */
	for (unsigned i = 0; i < c->opts.max_in_flight; i++)
		if (c->async.ops[i].used && !c->async.ops[i].finished &&
		    !c->async.ops[i].is_group)
			op_finish(c, i, status);
}

/* The remote chunk and the registration of [buf, buf + len). */
static int prepare(struct chunk_client *c, uint64_t id, uint64_t off,
		   const void *buf, size_t len, bool write,
		   struct remote_chunk **rc, struct ibv_mr **mr)
{
	if (write) {
		int st = chunk_cache_writable(&c->cache, id, rc);

		if (st)
			return st;
	} else {
		*rc = chunk_cache_find(&c->cache, id);
		if (!*rc || !(*rc)->readable)
			return CHUNK_E_NOENT;
	}
	if (off > (*rc)->length || len > (*rc)->length - off || len == 0 ||
	    len > (1u << 30))
		return CHUNK_E_INVAL;
	*mr = buf ? client_mem_find(c, buf, len) : NULL;
	if (buf && !*mr)
		return CHUNK_E_INVAL; /* async needs registered memory */
	return CHUNK_OK;
}

/* Posts op i's work requests: the RDMA WR, the persist, or both. */
static int post_op(struct chunk_client *c, unsigned i,
		   const struct async_io *io, struct remote_chunk *rc,
		   struct ibv_mr *mr)
{
	struct client_wr rdma, *held = NULL;
	int st = CHUNK_OK;

	if (!c->cq_armed) /* its completion must wake chunk_client_fd() */
		client_arm_cq(c);
	if (io->buf)
		client_wr_rdma(&rdma,
			       io->write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ,
			       io->buf, mr->lkey, io->len, rc->addr + io->off,
			       rc->rkey, !io->persist, WR_ASYNC << 32 | i);
	if (io->buf && io->persist)
		held = &rdma; /* posted with the persist */
	else if (io->buf)
		st = client_post_rdma_wr(c, &rdma);
	if (st == CHUNK_OK && io->persist)
		st = c->persist->post(c, rc, io->off, io->len, i, held);
	return st;
}

int async_check(struct chunk_client *c, const struct async_io *io)
{
	struct remote_chunk *rc;
	struct ibv_mr *mr;

	return prepare(c, io->id, io->off, io->buf, io->len, io->write, &rc,
		       &mr);
}

bool async_room(const struct chunk_client *c, unsigned slots, bool persist)
{
	unsigned free_slots = c->opts.max_in_flight - c->async.in_flight;

	return free_slots >= slots && (!persist || c->persist->can_post(c));
}

/* Starts io on c as an op of its own slot, which calls done(arg). */
static int start_op(struct chunk_client *c, const struct async_io *io,
		    bool part, chunk_done_fn *done, void *arg)
{
	struct remote_chunk *rc;
	struct ibv_mr *mr;
	int i, st = prepare(c, io->id, io->off, io->buf, io->len, io->write,
			    &rc, &mr);

	if (st)
		return st;
	/* Refuse before posting anything: a persist request needs a send
	 * slot (the server's credits), and every op needs an op slot. */
	if (!async_room(c, 1, io->persist))
		return CHUNK_E_AGAIN;
	i = op_start(c, done, arg);
	c->async.ops[i].part = part;
	if (part)
		c->async.parts++;
	st = post_op(c, (unsigned)i, io, rc, mr);
	if (st) { /* the connection failed */
		if (part)
			c->async.parts--;
		op_cancel(c, (unsigned)i);
	}
	return st;
}

int async_start(struct chunk_client *c, const struct async_io *io,
		chunk_done_fn *done, void *arg)
{
	if (!done || (!io->buf && !io->persist))
		return CHUNK_E_INVAL;
	return start_op(c, io, false, done, arg);
}

/* ---- groups: one op of the owner's, made of parts on connections ---- */

/* Drops one of group op's references; the last completes it. */
static void group_drop(struct async_op *op)
{
	struct async_group *g = &op->group;

	if (--g->parts == 0)
		op_finish(g->owner, (unsigned)(op - g->owner->async.ops),
			  g->status);
}

/* A part completed: a read may move to another copy. */
static void part_done(void *arg, int status)
{
	struct async_op *op = arg;
	struct async_group *g = &op->group;

	if (status && !(g->again && g->again(op, status)) && !g->status)
		g->status = status;
	group_drop(op);
}

struct async_op *async_group_open(struct chunk_client *c, chunk_done_fn *done,
				  void *arg)
{
	int i = done ? op_start(c, done, arg) : -1;
	struct async_op *op;

	if (i < 0)
		return NULL;
	op = &c->async.ops[i];
	op->is_group = true;
	op->group = (struct async_group){.owner = c, .parts = 1};
	return op;
}

int async_group_part(struct async_op *op, struct chunk_client *conn,
		     const struct async_io *io)
{
	int st = start_op(conn, io, true, part_done, op);

	if (st == CHUNK_OK)
		op->group.parts++;
	return st;
}

int async_group_close(struct async_op *op, int status)
{
	struct chunk_client *c = op->group.owner;

	if (status && op->group.parts == 1) { /* no part started */
		op_cancel(c, (unsigned)(op - c->async.ops));
		return status;
	}
	if (status && !op->group.status)
		op->group.status = status; /* the callback will say it */
	group_drop(op);
	return CHUNK_OK;
}

/* ---- completions ---- */

/* Whether an op of c has been in flight longer than the client's
 * timeout (a group waits on its parts, which expire themselves). */
static bool any_expired(const struct chunk_client *c)
{
	uint64_t now = clock_mono_us();
	uint64_t limit = (uint64_t)c->opts.timeout_ms * 1000u;

	for (unsigned i = 0; i < c->opts.max_in_flight; i++) {
		const struct async_op *op = &c->async.ops[i];

		if (op->used && !op->finished && !op->is_group &&
		    now - op->started_us > limit)
			return true;
	}
	return false;
}

/* Processes what c's completion queue holds. An op past the timeout means
 * the server is as good as gone (a READ to a dead server's queue pair may
 * retry for ever under soft-RoCE): the queue pair is aborted and made
 * again, which fails every op in flight there with CHUNK_E_TIMEOUT. */
static void process(struct chunk_client *c)
{
	client_consume_cq_events(c);
	while (client_poll_cq(c) > 0)
		;
	if (c->async.in_flight && !c->wc_error && any_expired(c)) {
		log_warn("%s port %u: an operation is in flight past %u ms; "
			 "connecting again",
			 c->host, c->port, c->opts.timeout_ms);
		client_abort(c, CHUNK_E_TIMEOUT);
	}
}

/* The same for each peer, whose completions may finish the owner's
 * groups; a peer whose queue pair failed connects again, failing what was
 * in flight there. */
static void process_peers(struct chunk_client *c)
{
	for (unsigned i = 0; i < c->peers.count; i++) {
		struct chunk_client *p = c->peers.list[i].client;

		client_lock(p);
		process(p);
		if (p->wc_error)
			client_finish(p, p->wc_error);
		client_unlock(p);
	}
}

/* Arms c's channel and its peers', so chunk_client_fd() wakes at the next
 * completion of any; processes what came before the arming. */
static void arm_all(struct chunk_client *c)
{
	client_arm_channel(c);
	for (unsigned i = 0; i < c->peers.count; i++) {
		struct chunk_client *p = c->peers.list[i].client;

		client_lock(p);
		client_arm_channel(p);
		client_unlock(p);
	}
}

static bool progressed(const struct chunk_client *c, uint64_t before)
{
	return c->async.completed != before || !c->async.in_flight ||
	       c->wc_error;
}

/* Waits up to timeout_ms for an op to complete on c or any peer, on
 * chunk_client_fd() itself. */
static int wait_with_peers(struct chunk_client *c, int timeout_ms,
			   uint64_t before)
{
	uint64_t ms =
		timeout_ms < 0 ? c->opts.timeout_ms : (unsigned)timeout_ms;
	uint64_t deadline = clock_mono_us() + ms * 1000u;

	for (;;) {
		struct pollfd pfd = {.fd = c->wake_fd, .events = POLLIN};
		uint64_t now;

		arm_all(c);
		if (progressed(c, before))
			return CHUNK_OK;
		now = clock_mono_us();
		if (now >= deadline)
			return CHUNK_E_TIMEOUT;
		ms = (deadline - now) / 1000u + 1;
		poll(&pfd, 1, (int)(ms < WAKE_SLICE_MS ? ms : WAKE_SLICE_MS));
		c->upper->tick(c); /* the lease, in a long wait */
		process(c);
		process_peers(c);
		if (progressed(c, before))
			return CHUNK_OK;
	}
}

static int client_poll_locked(struct chunk_client *c, int timeout_ms)
{
	uint64_t before;
	int st = CHUNK_OK;

	if (!c)
		return CHUNK_E_INVAL;
	before = c->async.completed;
	process(c);
	process_peers(c);
	if (!progressed(c, before) && timeout_ms)
		st = c->peers.count ? wait_with_peers(c, timeout_ms, before)
				    : client_wait_async(c, timeout_ms);
	/* Arm the channels so chunk_client_fd() wakes the application. */
	arm_all(c);
	if (c->wc_error)
		st = client_finish(c, c->wc_error);
	if (st && st != CHUNK_E_TIMEOUT)
		return st;
	if (c->async.completed == before && st == CHUNK_E_TIMEOUT)
		return st;
	return (int)(c->async.completed - before);
}

CHUNK_EXPORT int chunk_client_fd(const struct chunk_client *c)
{
	return c->wake_fd;
}

CHUNK_EXPORT unsigned chunk_client_in_flight(const struct chunk_client *c)
{
	return c->async.in_flight - c->async.parts;
}

CHUNK_EXPORT int chunk_client_poll(struct chunk_client *c, int timeout_ms)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = client_poll_locked(c, timeout_ms);
	client_unlock(c);
	return rc;
}
