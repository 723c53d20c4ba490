/* libchunkclient's chunk operations: the public calls. A replicated
 * chunk's go to replicated.c; the rest to copy_ops.c through the client's
 * connection, or through a peer for a chunk another chunkd holds. */
#include <string.h>

#include "client.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "copy_ops.h"
#include "export.h"
#include "persist_method.h"
#include "replicated.h"

CHUNK_EXPORT unsigned chunk_crc32c(unsigned crc, const void *buf, size_t len)
{
	return crc32c(crc, buf, len);
}

static int alloc_locked(struct chunk_client *c, unsigned long long size,
			unsigned copies, unsigned long long *chunk_id)
{
	struct proto_msg req = {.hdr.type = PROTO_ALLOC};
	uint64_t id;
	int st;

	if (!chunk_id || size == 0 || copies == 0 || copies > PROTO_MAX_COPIES)
		return CHUNK_E_INVAL;
	if (copies > 1)
		st = replicated_alloc(c, size, copies, &id);
	else {
		req.u.alloc.size = size;
		st = copy_alloc(c, &req, &id);
	}
	if (st == CHUNK_OK)
		*chunk_id = id;
	return st;
}

/* Makes [off, off + len) durable with the session's method, posting
 * held (the last write, if any) in the same doorbell. */
static int persist_written(struct chunk_client *c, struct remote_chunk *rc,
			   uint64_t off, uint64_t len, struct client_wr *held)
{
	return len == 0 ? CHUNK_OK
			: persist_method_persist(c, rc, off, len, held);
}

static int write_locked(struct chunk_client *c, unsigned long long id,
			unsigned long long off, const void *buf, size_t len)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);
	struct remote_chunk *rc;
	int st;

	if (set)
		return replicated_write(c, set, off, buf, len, false);
	st = copy_writable_range(c, id, off, len, &rc);
	if (st || len == 0)
		return st;
	return client_finish(c, copy_post_writes(c, rc, off, buf, len, NULL));
}

static int persist_locked(struct chunk_client *c, unsigned long long id,
			  unsigned long long off, unsigned long long len)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);
	struct remote_chunk *rc;
	int st;

	if (set)
		return replicated_persist(c, set, off, len);
	st = copy_writable_range(c, id, off, len, &rc);
	if (st)
		return st;
	st = persist_written(c, rc, off, len, NULL);
	return client_finish(c, copy_forget_if_lost(c, id, st));
}

static int write_persist_locked(struct chunk_client *c, unsigned long long id,
				unsigned long long off, const void *buf,
				size_t len)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);
	struct client_wr last_write;
	struct remote_chunk *rc;
	int st;

	if (set)
		return replicated_write(c, set, off, buf, len, true);
	st = copy_writable_range(c, id, off, len, &rc);
	if (st || len == 0)
		return st;
	st = copy_post_writes(c, rc, off, buf, len, &last_write);
	if (st == CHUNK_OK)
		st = persist_written(c, rc, off, len, &last_write);
	return client_finish(c, copy_forget_if_lost(c, id, st));
}

static int seal_locked(struct chunk_client *c, unsigned long long id,
		       unsigned long long len, unsigned crc)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);

	if (set && set->writable)
		return replicated_seal(c, set, len, crc);
	return copy_seal(c, id, len, crc, NULL, 0);
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
	int st;

	if (peers_route(&c->peers, id))
		return chunk_open(peers_route(&c->peers, id), id, info);
	req.u.open.chunk = id;
	st = client_call(c, &req);
	if (st)
		return client_finish(c, st);
	if (c->calls.reply.hdr.type == PROTO_ELSEWHERE)
		return open_elsewhere(c, id, info);
	if (c->calls.reply.hdr.type == PROTO_COPIES)
		return c->is_peer ? CHUNK_E_PROTO
				  : replicated_open(c, id, info);
	return copy_keep_opened(c, id, info);
}

/* A chunk this client has not opened yet: open it, wherever it lives. */
static int open_to_read(struct chunk_client *c, unsigned long long id)
{
	return peers_route(&c->peers, id) ? CHUNK_OK : open_locked(c, id, NULL);
}

static int read_locked(struct chunk_client *c, unsigned long long id,
		       unsigned long long off, void *buf, size_t len)
{
	struct remote_chunk *rc = chunk_cache_find(&c->cache, id);
	struct replica_set *set = replica_sets_find(&c->replicas, id);
	int st;

	if (!set && (!rc || !rc->readable)) {
		st = open_to_read(c, id);
		if (st)
			return st;
		set = replica_sets_find(&c->replicas, id);
	}
	if (set)
		return replicated_read(c, set, off, buf, len);
	if (peers_route(&c->peers, id)) /* it lives on another chunkd */
		return chunk_read(peers_route(&c->peers, id), id, off, buf,
				  len);
	rc = chunk_cache_find(&c->cache, id);
	if (off > rc->length || len > rc->length - off)
		return CHUNK_E_INVAL;
	return client_finish(c, copy_post_reads(c, rc, off, buf, len));
}

static int free_locked(struct chunk_client *c, unsigned long long id)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);
	struct chunk_client *peer = peers_route(&c->peers, id);
	int st;

	if (set)
		return replicated_free(c, set);
	if (peer) { /* a sealed chunk opened on another chunkd */
		st = chunk_free(peer, id);
		if (st == CHUNK_OK || st == CHUNK_E_NOENT)
			peers_route_drop(&c->peers, id);
		return st;
	}
	return copy_free(c, id);
}

/* The public entry points: each holds the client's lock (see client.h). */

CHUNK_EXPORT int chunk_alloc(struct chunk_client *c, unsigned long long size,
			     unsigned long long *chunk_id)
{
	return chunk_alloc_replicated(c, size, 1, chunk_id);
}

CHUNK_EXPORT int chunk_alloc_replicated(struct chunk_client *c,
					unsigned long long size,
					unsigned copies,
					unsigned long long *chunk_id)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = alloc_locked(c, size, copies, chunk_id);
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
