/* libchunkclient's asynchronous operations: several in flight at once. */
#include <poll.h>
#include <string.h>

#include "async.h"
#include "export.h"
#include "mem.h"
#include "persist_method.h"

/* Takes a free op slot for a callback; returns its index or -1. */
static int op_start(struct chunk_client *c, chunk_done_fn *done, void *arg)
{
	for (unsigned i = 0; i < c->opts.max_in_flight; i++) {
		if (!c->async.ops[i].used) {
			c->async.ops[i] = (struct async_op){
				.used = true, .done = done, .arg = arg};
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

	c->async.ops[i].used = false;
	c->async.ops[i].finished = false;
	c->async.in_flight--;
	c->async.completed++;
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
	c->async.ops[i].used = false;
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
	for (unsigned i = 0; i < c->opts.max_in_flight; i++)
		if (c->async.ops[i].used && !c->async.ops[i].finished)
			op_finish(c, i, status);
}

/* The remote chunk and the registration of [buf, buf + len). */
static int prepare(struct chunk_client *c, uint64_t id, uint64_t off,
		   const void *buf, size_t len, bool write,
		   struct remote_chunk **rc, struct ibv_mr **mr)
{
	if (!c)
		return CHUNK_E_INVAL;
	if (replica_sets_find(&c->replicas, id))
		return CHUNK_E_INVAL; /* not yet for replicated chunks */
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

static int start(struct chunk_client *c, unsigned long long id,
		 unsigned long long off, void *buf, size_t len, bool write,
		 bool persist, chunk_done_fn *done, void *arg)
{
	struct client_wr rdma, *held = NULL;
	struct remote_chunk *rc;
	struct ibv_mr *mr;
	int i, st = done ? prepare(c, id, off, buf, len, write, &rc, &mr)
			 : CHUNK_E_INVAL;

	if (st)
		return st;
	/* Refuse before posting anything: a persist request needs a send
	 * slot (the server's credits), and every op needs an op slot. */
	if (persist && !c->persist->can_post(c))
		return CHUNK_E_AGAIN;
	i = op_start(c, done, arg);
	if (i < 0)
		return CHUNK_E_AGAIN;
	if (!c->cq_armed) /* its completion must wake chunk_client_fd() */
		client_arm_cq(c);
	if (buf)
		client_wr_rdma(&rdma,
			       write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ,
			       buf, mr->lkey, len, rc->addr + off, rc->rkey,
			       !persist, WR_ASYNC << 32 | (unsigned)i);
	if (buf && persist)
		held = &rdma; /* posted with the persist */
	else if (buf)
		st = client_post_rdma_wr(c, &rdma);
	if (st == CHUNK_OK && persist)
		st = c->persist->post(c, rc, off, len, (unsigned)i, held);
	if (st)
		op_cancel(c, (unsigned)i); /* the connection failed */
	return st;
}

static int write_async_locked(struct chunk_client *c, unsigned long long id,
			      unsigned long long off, const void *buf,
			      size_t len, chunk_done_fn *done, void *arg)
{
	if (!buf)
		return CHUNK_E_INVAL;
	return start(c, id, off, (void *)buf, len, true, false, done, arg);
}

static int persist_async_locked(struct chunk_client *c, unsigned long long id,
				unsigned long long off, unsigned long long len,
				chunk_done_fn *done, void *arg)
{
	return start(c, id, off, NULL, len, true, true, done, arg);
}

static int write_persist_async_locked(struct chunk_client *c,
				      unsigned long long id,
				      unsigned long long off, const void *buf,
				      size_t len, chunk_done_fn *done,
				      void *arg)
{
	if (!buf)
		return CHUNK_E_INVAL;
	return start(c, id, off, (void *)buf, len, true, true, done, arg);
}

static int read_async_locked(struct chunk_client *c, unsigned long long id,
			     unsigned long long off, void *buf, size_t len,
			     chunk_done_fn *done, void *arg)
{
	if (!buf)
		return CHUNK_E_INVAL;
	return start(c, id, off, buf, len, false, false, done, arg);
}

static int client_poll_locked(struct chunk_client *c, int timeout_ms)
{
	uint64_t before;
	int st = CHUNK_OK;

	if (!c)
		return CHUNK_E_INVAL;
	before = c->async.completed;
	client_consume_cq_events(c);
	while (client_poll_cq(c) > 0)
		;
	if (c->async.completed == before && c->async.in_flight && timeout_ms &&
	    !c->wc_error)
		st = client_wait_async(c, timeout_ms);
	/* Arm the channel so chunk_client_fd() wakes the application. */
	client_arm_channel(c);
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
	return c->channel->fd;
}

CHUNK_EXPORT unsigned chunk_client_in_flight(const struct chunk_client *c)
{
	return c->async.in_flight;
}

/* The public entry points: each holds the client's lock (see client.h). */

CHUNK_EXPORT int chunk_write_async(struct chunk_client *c,
				   unsigned long long id,
				   unsigned long long off, const void *buf,
				   size_t len, chunk_done_fn *done, void *arg)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = write_async_locked(c, id, off, buf, len, done, arg);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_persist_async(struct chunk_client *c,
				     unsigned long long id,
				     unsigned long long off,
				     unsigned long long len,
				     chunk_done_fn *done, void *arg)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = persist_async_locked(c, id, off, len, done, arg);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_write_persist_async(struct chunk_client *c,
					   unsigned long long id,
					   unsigned long long off,
					   const void *buf, size_t len,
					   chunk_done_fn *done, void *arg)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = write_persist_async_locked(c, id, off, buf, len, done, arg);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_read_async(struct chunk_client *c, unsigned long long id,
				  unsigned long long off, void *buf, size_t len,
				  chunk_done_fn *done, void *arg)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = read_async_locked(c, id, off, buf, len, done, arg);
	client_unlock(c);
	return rc;
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
