#include "persist_method.h"

/* ---- persist-rpc: a PERSIST request; chunkd flushes the range ---- */

static int rpc_start(struct chunk_client *c, const struct remote_chunk *rc,
		     uint64_t off, uint64_t len, struct client_wr *held)
{
	struct proto_msg req;

	client_persist_request(c, rc, off, len, &req);
	return client_call_start(c, &req, held);
}

static bool rpc_can_post(const struct chunk_client *c)
{
	return client_request_slot_free(c); /* the server's credits */
}

static int rpc_post(struct chunk_client *c, const struct remote_chunk *rc,
		    uint64_t off, uint64_t len, unsigned op,
		    struct client_wr *held)
{
	struct proto_msg req;

	client_persist_request(c, rc, off, len, &req);
	return client_post_request(c, &req, &c->async.ops[op].request_id, held);
}

/* ---- read-after-write: a small READ behind the WRITEs on the same QP,
 * where the platform places RDMA writes in the persistence domain ---- */

static int raw_start(struct chunk_client *c, const struct remote_chunk *rc,
		     uint64_t off, uint64_t len, struct client_wr *held)
{
	return client_post_tail_read(c, rc, off, len, WR_RDMA << 32, held);
}

static bool raw_can_post(const struct chunk_client *c)
{
	(void)c;
	return true;
}

static int raw_post(struct chunk_client *c, const struct remote_chunk *rc,
		    uint64_t off, uint64_t len, unsigned op,
		    struct client_wr *held)
{
	return client_post_tail_read(c, rc, off, len, WR_ASYNC << 32 | op,
				     held);
}

/* ---- native-flush: an RDMA FLUSH(PERSISTENT) of the range behind the
 * WRITEs, executed by the responder's device (IBTA 1.5) ---- */

static int flush_start(struct chunk_client *c, const struct remote_chunk *rc,
		       uint64_t off, uint64_t len, struct client_wr *held)
{
	return client_post_flush(c, rc, off, len, WR_RDMA << 32, held);
}

static bool flush_can_post(const struct chunk_client *c)
{
	return c->qpx != NULL;
}

static int flush_post(struct chunk_client *c, const struct remote_chunk *rc,
		      uint64_t off, uint64_t len, unsigned op,
		      struct client_wr *held)
{
	return client_post_flush(c, rc, off, len, WR_ASYNC << 32 | op, held);
}

/* Cheapest first: native-flush and read-after-write need no server CPU,
 * and native-flush no promise about the platform either. */
static const struct persist_method methods[] = {
	{CHUNK_PERSIST_NATIVE_FLUSH, "native-flush", flush_start,
	 client_wait_sends, flush_can_post, flush_post},
	{CHUNK_PERSIST_READ_AFTER_WRITE, "read-after-write", raw_start,
	 client_wait_sends, raw_can_post, raw_post},
	{CHUNK_PERSIST_RPC, "persist-rpc", rpc_start, client_call_finish,
	 rpc_can_post, rpc_post},
};

int persist_method_persist(struct chunk_client *c,
			   const struct remote_chunk *rc, uint64_t off,
			   uint64_t len, struct client_wr *held)
{
	int st = c->persist->start(c, rc, off, len, held);

	return st ? st : c->persist->finish(c);
}

const struct persist_method *
persist_method_choose(unsigned offered, unsigned allowed, bool can_flush)
{
	for (unsigned i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (offered & allowed & methods[i].flag &&
		    (methods[i].flag != CHUNK_PERSIST_NATIVE_FLUSH ||
		     can_flush))
			return &methods[i];
	return NULL;
}
