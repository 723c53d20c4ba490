/* libchunkclient's operations on one copy through one connection
 * (copy_ops.h). */
#include "copy_ops.h"

#include <string.h>

#include "mem.h"

#define MAX_RDMA_PIECE (1u << 30)

/* Keeps the grant in a GRANT or PLACED reply as a writable chunk. */
static int keep_grant(struct chunk_client *c, const struct proto_msg *r,
		      uint64_t *id)
{
	const struct proto_grant *g =
		r->hdr.type == PROTO_PLACED ? &r->u.placed.grant : &r->u.grant;
	struct remote_chunk *rc = chunk_cache_add(&c->cache, g->chunk);

	if (!rc)
		return CHUNK_E_NOMEM;
	rc->addr = g->addr;
	rc->length = g->length;
	rc->rkey = g->rkey;
	rc->writable = true;
	*id = g->chunk;
	return CHUNK_OK;
}

int copy_alloc(struct chunk_client *c, struct proto_msg *req, uint64_t *id)
{
	int st;

	req->u.alloc.epoch = c->sess.epoch;
	st = client_call(c, req);
	if (st == CHUNK_OK && c->calls.reply.hdr.type != PROTO_GRANT &&
	    c->calls.reply.hdr.type != PROTO_PLACED)
		st = CHUNK_E_PROTO;
	if (st)
		return client_finish(c, st);
	return keep_grant(c, &c->calls.reply, id);
}

int copy_writable_range(struct chunk_client *c, uint64_t id, uint64_t off,
			uint64_t len, struct remote_chunk **out)
{
	int st = chunk_cache_writable(&c->cache, id, out);

	if (st == CHUNK_OK &&
	    (off > (*out)->length || len > (*out)->length - off))
		return CHUNK_E_INVAL;
	return st;
}

int copy_forget_if_lost(struct chunk_client *c, uint64_t id, int st)
{
	if (st == CHUNK_E_STALE)
		chunk_cache_forget_lost(&c->cache, id);
	return st;
}

int copy_post_writes(struct chunk_client *c, struct remote_chunk *rc,
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

int copy_post_reads(struct chunk_client *c, struct remote_chunk *rc,
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

int copy_seal(struct chunk_client *c, uint64_t id, uint64_t len, uint32_t crc,
	      const uint64_t *others, unsigned count)
{
	struct proto_msg req = {.hdr.type =
					count ? PROTO_SEAL_COPIES : PROTO_SEAL};
	struct remote_chunk *rc;
	int st = copy_writable_range(c, id, 0, len, &rc);

	if (st)
		return st;
	req.u.seal.chunk = id;
	req.u.seal.length = len;
	req.u.seal.crc = crc;
	req.u.seal.epoch = c->sess.epoch;
	req.u.seal.count = count;
	for (unsigned i = 0; i < count && i < PROTO_MAX_COPIES; i++)
		req.u.seal.copies[i] = others[i];
	st = client_call(c, &req);
	if ((st == CHUNK_E_CRC || st == CHUNK_E_STATE || st == CHUNK_E_INVAL) &&
	    c->calls.reply.hdr.type == PROTO_ERROR &&
	    c->calls.reply.u.error.detail)
		rc->rkey = c->calls.reply.u.error.detail; /* still writable */
	else if (st == CHUNK_OK)
		rc->writable = false;
	return client_finish(c, copy_forget_if_lost(c, id, st));
}

int copy_keep_opened(struct chunk_client *c, uint64_t id,
		     struct chunk_info *info)
{
	const struct proto_msg *r = &c->calls.reply;
	struct remote_chunk *rc = chunk_cache_add(&c->cache, id);

	if (!rc)
		return CHUNK_E_NOMEM;
	rc->addr = r->u.opened.addr;
	rc->length = r->u.opened.length;
	rc->rkey = r->u.opened.rkey;
	rc->crc = r->u.opened.crc;
	rc->writable = false;
	rc->readable = true;
	if (info) {
		info->length = rc->length;
		info->crc32c = rc->crc;
	}
	return CHUNK_OK;
}

int copy_open_here(struct chunk_client *c, uint64_t id, struct chunk_info *info)
{
	struct proto_msg req = {.hdr.type = PROTO_OPEN_COPY};
	int st;

	req.u.open.chunk = id;
	st = client_call(c, &req);
	if (st == CHUNK_OK && c->calls.reply.hdr.type != PROTO_OPENED)
		st = CHUNK_E_PROTO;
	return st ? client_finish(c, st) : copy_keep_opened(c, id, info);
}

int copy_free(struct chunk_client *c, uint64_t id)
{
	struct proto_msg req = {.hdr.type = PROTO_FREE};
	int st;

	if (chunk_cache_forget_lost(&c->cache, id))
		return CHUNK_E_STALE;
	req.u.free.chunk = id;
	req.u.free.epoch = c->sess.epoch;
	st = client_call(c, &req);
	if (st == CHUNK_OK || st == CHUNK_E_NOENT)
		chunk_cache_forget(&c->cache, id);
	return client_finish(c, st);
}
