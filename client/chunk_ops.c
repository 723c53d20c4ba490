/* libchunkclient's chunk operations. */
#include <string.h>

#include "client.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "export.h"
#include "mem.h"
#include "persist_method.h"

#define MAX_RDMA_PIECE (1u << 30)

CHUNK_EXPORT unsigned chunk_crc32c(unsigned crc, const void *buf, size_t len)
{
	return crc32c(crc, buf, len);
}

static int alloc_locked(struct chunk_client *c, unsigned long long size,
			unsigned long long *chunk_id)
{
	struct proto_msg req = {.hdr.type = PROTO_ALLOC};
	struct remote_chunk *rc;
	int st;

	if (!c || !chunk_id || size == 0)
		return CHUNK_E_INVAL;
	req.u.alloc.size = size;
	req.u.alloc.epoch = c->sess.epoch;
	st = client_call(c, &req);
	if (st)
		return client_finish(c, st);
	rc = chunk_cache_add(&c->cache, c->calls.reply.u.grant.chunk);
	if (!rc)
		return CHUNK_E_NOMEM;
	rc->addr = c->calls.reply.u.grant.addr;
	rc->length = c->calls.reply.u.grant.length;
	rc->rkey = c->calls.reply.u.grant.rkey;
	rc->writable = true;
	*chunk_id = rc->id;
	return CHUNK_OK;
}

static int writable_range(struct chunk_client *c, uint64_t id, uint64_t off,
			  uint64_t len, struct remote_chunk **out)
{
	int st = chunk_cache_writable(&c->cache, id, out);

	if (st == CHUNK_OK &&
	    (off > (*out)->length || len > (*out)->length - off))
		return CHUNK_E_INVAL;
	return st;
}

/* A call that learnt of the lost lease itself reports it: the chunk it was
 * about is forgotten now, not at the next call. */
static int forget_if_lost(struct chunk_client *c, uint64_t id, int st)
{
	if (st == CHUNK_E_STALE)
		chunk_cache_forget_lost(&c->cache, id);
	return st;
}

/*
 * Posts WRITEs of buf to the chunk. All but the last piece through the
 * bounce buffer are waited for (the buffer is reused). With held, the last
 * piece is built unsignaled into *held and not posted: the persist that
 * follows on the same QP posts it in the same doorbell and completes it.
 */
static int post_writes(struct chunk_client *c, struct remote_chunk *rc,
		       uint64_t off, const uint8_t *buf, size_t len,
		       struct client_wr *held)
{
	struct ibv_mr *mr = client_mem_find(c, buf, len);
	size_t piece_max = mr ? MAX_RDMA_PIECE : c->opts.bounce_size;
	int st = CHUNK_OK;

	while (len > 0 && st == CHUNK_OK) {
		size_t piece = len < piece_max ? len : piece_max;
		bool last = piece == len;
		void *src = (void *)buf;
		uint32_t lkey = mr ? mr->lkey : c->bounce_mr->lkey;

		if (!mr) {
			memcpy(c->bounce, buf, piece);
			src = c->bounce;
		}
		if (last && held) {
			client_wr_rdma(held, IBV_WR_RDMA_WRITE, src, lkey,
				       piece, rc->addr + off, rc->rkey, false,
				       WR_RDMA << 32);
			break;
		}
		st = client_post_rdma(c, IBV_WR_RDMA_WRITE, src, lkey, piece,
				      rc->addr + off, rc->rkey, true);
		if (st == CHUNK_OK)
			st = client_wait_sends(c);
		buf += piece;
		off += piece;
		len -= piece;
	}
	return st;
}

/* Makes [off, off + len) durable with the session's method, posting
 * held (the last write, if any) in the same doorbell. */
static int persist_written(struct chunk_client *c, struct remote_chunk *rc,
			   uint64_t off, uint64_t len, struct client_wr *held)
{
	return len == 0 ? CHUNK_OK : c->persist->persist(c, rc, off, len, held);
}

static int write_locked(struct chunk_client *c, unsigned long long id,
			unsigned long long off, const void *buf, size_t len)
{
	struct remote_chunk *rc;
	int st = c ? writable_range(c, id, off, len, &rc) : CHUNK_E_INVAL;

	if (st || len == 0)
		return st;
	return client_finish(c, post_writes(c, rc, off, buf, len, NULL));
}

static int persist_locked(struct chunk_client *c, unsigned long long id,
			  unsigned long long off, unsigned long long len)
{
	struct remote_chunk *rc;
	int st = c ? writable_range(c, id, off, len, &rc) : CHUNK_E_INVAL;

	if (st)
		return st;
	st = persist_written(c, rc, off, len, NULL);
	return client_finish(c, forget_if_lost(c, id, st));
}

static int write_persist_locked(struct chunk_client *c, unsigned long long id,
				unsigned long long off, const void *buf,
				size_t len)
{
	struct client_wr last_write;
	struct remote_chunk *rc;
	int st = c ? writable_range(c, id, off, len, &rc) : CHUNK_E_INVAL;

	if (st || len == 0)
		return st;
	st = post_writes(c, rc, off, buf, len, &last_write);
	if (st == CHUNK_OK)
		st = persist_written(c, rc, off, len, &last_write);
	return client_finish(c, forget_if_lost(c, id, st));
}

static int seal_locked(struct chunk_client *c, unsigned long long id,
		       unsigned long long len, unsigned crc)
{
	struct proto_msg req = {.hdr.type = PROTO_SEAL};
	struct remote_chunk *rc;
	int st = c ? writable_range(c, id, 0, len, &rc) : CHUNK_E_INVAL;

	if (st)
		return st;
	req.u.seal.chunk = id;
	req.u.seal.length = len;
	req.u.seal.crc = crc;
	req.u.seal.epoch = c->sess.epoch;
	st = client_call(c, &req);
	if (st == CHUNK_E_CRC && c->calls.reply.u.error.detail)
		rc->rkey = c->calls.reply.u.error.detail; /* still writable */
	else if (st == CHUNK_OK)
		rc->writable = false;
	return client_finish(c, forget_if_lost(c, id, st));
}

/* chunkd answered that another chunkd holds the chunk: open it there, on
 * a connection of c's own, and send its reads there from now on. */
static int open_elsewhere(struct chunk_client *c, unsigned long long id,
			  struct chunk_info *info)
{
	const struct proto_msg *r = &c->calls.reply;
	char host[PROTO_ADDR_MAX + 1];
	uint16_t port = r->u.elsewhere.port;
	struct chunk_client *peer;
	int st;

	if (c->is_peer || r->u.elsewhere.chunk != id) {
		log_warn("chunk %llu: chunkd at %s sent it elsewhere again; "
			 "giving up",
			 id, c->host);
		return CHUNK_E_NOENT;
	}
	memcpy(host, r->u.elsewhere.addr, r->u.elsewhere.addr_len + 1);
	st = client_connect_peer(c, host, port, &peer);
	if (st == CHUNK_OK)
		st = chunk_open(peer, id, info);
	if (st == CHUNK_OK)
		st = peers_route_add(&c->peers, id, peer);
	return st;
}

static int open_locked(struct chunk_client *c, unsigned long long id,
		       struct chunk_info *info)
{
	struct proto_msg req = {.hdr.type = PROTO_OPEN};
	struct remote_chunk *rc;
	int st;

	if (!c)
		return CHUNK_E_INVAL;
	if (peers_route(&c->peers, id))
		return chunk_open(peers_route(&c->peers, id), id, info);
	req.u.open.chunk = id;
	st = client_call(c, &req);
	if (st)
		return client_finish(c, st);
	if (c->calls.reply.hdr.type == PROTO_ELSEWHERE)
		return open_elsewhere(c, id, info);
	rc = chunk_cache_add(&c->cache, id);
	if (!rc)
		return CHUNK_E_NOMEM;
	rc->addr = c->calls.reply.u.opened.addr;
	rc->length = c->calls.reply.u.opened.length;
	rc->rkey = c->calls.reply.u.opened.rkey;
	rc->crc = c->calls.reply.u.opened.crc;
	rc->writable = false;
	rc->readable = true;
	if (info) {
		info->length = rc->length;
		info->crc32c = rc->crc;
	}
	return CHUNK_OK;
}

static int post_reads(struct chunk_client *c, struct remote_chunk *rc,
		      uint64_t off, uint8_t *buf, size_t len)
{
	struct ibv_mr *mr = client_mem_find(c, buf, len);
	size_t piece_max = mr ? MAX_RDMA_PIECE : c->opts.bounce_size;
	int st = CHUNK_OK;

	while (len > 0 && st == CHUNK_OK) {
		size_t piece = len < piece_max ? len : piece_max;
		void *dst = mr ? (void *)buf : c->bounce;

		st = client_post_rdma(c, IBV_WR_RDMA_READ, dst,
				      mr ? mr->lkey : c->bounce_mr->lkey, piece,
				      rc->addr + off, rc->rkey, true);
		st = st ? st : client_wait_sends(c);
		if (st == CHUNK_OK && !mr)
			memcpy(buf, c->bounce, piece);
		buf += piece;
		off += piece;
		len -= piece;
	}
	return st;
}

static int read_locked(struct chunk_client *c, unsigned long long id,
		       unsigned long long off, void *buf, size_t len)
{
	struct remote_chunk *rc = c ? chunk_cache_find(&c->cache, id) : NULL;
	struct chunk_client *peer;
	int st;

	if (!c)
		return CHUNK_E_INVAL;
	if (!rc || !rc->readable) {
		peer = peers_route(&c->peers, id);
		if (!peer) {
			st = open_locked(c, id, NULL);
			if (st)
				return st;
			peer = peers_route(&c->peers, id);
		}
		if (peer) /* it lives on another chunkd */
			return chunk_read(peer, id, off, buf, len);
		rc = chunk_cache_find(&c->cache, id);
	}
	if (off > rc->length || len > rc->length - off)
		return CHUNK_E_INVAL;
	return client_finish(c, post_reads(c, rc, off, buf, len));
}

static int free_locked(struct chunk_client *c, unsigned long long id)
{
	struct proto_msg req = {.hdr.type = PROTO_FREE};
	struct chunk_client *peer;
	int st;

	if (!c)
		return CHUNK_E_INVAL;
	peer = peers_route(&c->peers, id);
	if (peer) { /* a sealed chunk opened on another chunkd */
		st = chunk_free(peer, id);
		if (st == CHUNK_OK || st == CHUNK_E_NOENT)
			peers_route_drop(&c->peers, id);
		return st;
	}
	if (chunk_cache_forget_lost(&c->cache, id))
		return CHUNK_E_STALE;
	req.u.free.chunk = id;
	req.u.free.epoch = c->sess.epoch;
	st = client_call(c, &req);
	if (st == CHUNK_OK || st == CHUNK_E_NOENT)
		chunk_cache_forget(&c->cache, id);
	return client_finish(c, st);
}

/* The public entry points: each holds the client's lock (see client.h). */

CHUNK_EXPORT int chunk_alloc(struct chunk_client *c, unsigned long long size,
			     unsigned long long *chunk_id)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = alloc_locked(c, size, chunk_id);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_write(struct chunk_client *c, unsigned long long id,
			     unsigned long long off, const void *buf,
			     size_t len)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = write_locked(c, id, off, buf, len);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_persist(struct chunk_client *c, unsigned long long id,
			       unsigned long long off, unsigned long long len)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = persist_locked(c, id, off, len);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_write_persist(struct chunk_client *c,
				     unsigned long long id,
				     unsigned long long off, const void *buf,
				     size_t len)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = write_persist_locked(c, id, off, buf, len);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_seal(struct chunk_client *c, unsigned long long id,
			    unsigned long long len, unsigned crc)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = seal_locked(c, id, len, crc);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_open(struct chunk_client *c, unsigned long long id,
			    struct chunk_info *info)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = open_locked(c, id, info);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_read(struct chunk_client *c, unsigned long long id,
			    unsigned long long off, void *buf, size_t len)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = read_locked(c, id, off, buf, len);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_free(struct chunk_client *c, unsigned long long id)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = free_locked(c, id);
	client_unlock(c);
	return rc;
}

CHUNK_EXPORT int chunk_granted_length(struct chunk_client *c,
				      unsigned long long id,
				      unsigned long long *length)
{
	struct remote_chunk *rc;
	int st;

	if (!c || !length)
		return CHUNK_E_INVAL;
	client_lock(c);
	st = chunk_cache_writable(&c->cache, id, &rc);
	if (st == CHUNK_OK)
		*length = rc->length;
	client_unlock(c);
	return st;
}
