/*
 * libchunkclient's repair of a replicated chunk (chunk_repair_copy in
 * chunkclient.h): a new copy is made at a running server from a live one,
 * its CRC32C checked there at the seal, and committed in the lost copy's
 * place with REPLACE_COPY, which any chunkd of the cluster makes in one
 * revision-compared etcd transaction.
 */
#include <stdlib.h>

#include "common/log.h"
#include "copy_ops.h"
#include "export.h"
#include "persist_method.h"
#include "replicated.h"

#define REPAIR_PIECE (4u << 20)

/* Opens chunk's copies (OPEN answers COPIES for a sealed replicated
 * chunk) and fills info. */
static int open_copies(struct chunk_client *c, uint64_t chunk,
		       struct chunk_info *info)
{
	struct proto_msg req = {.hdr.type = PROTO_OPEN};
	int st;

	req.u.open.chunk = chunk;
	st = client_call(c, &req);
	if (st)
		return client_finish(c, st);
	if (c->calls.reply.hdr.type != PROTO_COPIES) {
		log_warn("chunk %llu is not a sealed replicated chunk that "
			 "chunkd at %s port %u knows",
			 (unsigned long long)chunk, c->host, c->port);
		return CHUNK_E_STATE;
	}
	return replicated_open(c, chunk, info);
}

/* Copies len bytes of the chunk, read from any live copy, into rc at
 * conn, in pieces through buf, and makes them durable there. buf is not
 * registered: the transfers go through the connections' bounce buffers,
 * registered once, where registering buf for each chunk repaired would
 * pin and unpin its pages every time. */
static int transfer(struct chunk_client *c, struct replica_set *set,
		    struct chunk_client *conn, struct remote_chunk *rc,
		    uint8_t *buf, uint64_t len)
{
	int st = CHUNK_OK;

	for (uint64_t off = 0; off < len && st == CHUNK_OK;) {
		size_t n = len - off < REPAIR_PIECE ? (size_t)(len - off)
						    : REPAIR_PIECE;

		st = replicated_read(c, set, off, buf, n);
		if (st == CHUNK_OK)
			st = client_finish(
				conn,
				copy_post_writes(conn, rc, off, buf, n, NULL));
		off += n;
	}
	if (st == CHUNK_OK && len > 0)
		st = client_finish(
			conn, persist_method_persist(conn, rc, 0, len, NULL));
	return st;
}

/* REPLACE_COPY at conn: copy takes lost's place among chunk's copies. */
static int commit(struct chunk_client *conn, uint64_t chunk, uint64_t lost,
		  uint64_t copy)
{
	struct proto_msg req = {.hdr.type = PROTO_REPLACE_COPY};

	req.u.replace.chunk = chunk;
	req.u.replace.lost = lost;
	req.u.replace.copy = copy;
	req.u.replace.epoch = conn->sess.epoch;
	return client_finish(conn, client_call(conn, &req));
}

/* Makes, checks and commits the new copy at conn; sets *copy. */
static int make_copy(struct chunk_client *c, struct replica_set *set,
		     const struct chunk_info *info, struct chunk_client *conn,
		     uint64_t lost, uint8_t *buf, uint64_t *copy)
{
	struct proto_msg req = {.hdr.type = PROTO_ALLOC_COPY};
	struct remote_chunk *rc;
	int st;

	req.u.alloc.size = info->length ? info->length : 1;
	req.u.alloc.of = set->chunk;
	st = copy_alloc(conn, &req, copy);
	if (st)
		return st;
	rc = chunk_cache_find(&conn->cache, *copy);
	st = transfer(c, set, conn, rc, buf, info->length);
	if (st == CHUNK_OK) /* the server checks the CRC32C on arrival */
		st = copy_seal(conn, *copy, info->length, info->crc32c, NULL,
			       0);
	if (st == CHUNK_OK)
		st = commit(conn, set->chunk, lost, *copy);
	/* An unanswered commit may have placed the copy: it stays. */
	if (st && st != CHUNK_E_UNAVAILABLE && st != CHUNK_E_TIMEOUT)
		copy_free(conn, *copy);
	return st;
}

static int repair_locked(struct chunk_client *c, uint64_t chunk, uint64_t lost,
			 const char *host, uint16_t port, uint64_t *copy)
{
	struct chunk_info info;
	struct chunk_client *conn;
	uint8_t *buf;
	int st = open_copies(c, chunk, &info);

	if (st == CHUNK_OK)
		st = client_connect_to(c, host, port, &conn);
	if (st)
		return st;
	buf = malloc(REPAIR_PIECE);
	if (!buf)
		return CHUNK_E_NOMEM;
	if (conn != c)
		client_lock(conn);
	st = make_copy(c, replica_sets_find(&c->replicas, chunk), &info, conn,
		       lost, buf, copy);
	if (conn != c)
		client_unlock(conn);
	free(buf);
	/* The copies changed: the next call on the chunk looks again. */
	replica_sets_forget(&c->replicas, chunk);
	return st;
}

CHUNK_EXPORT int chunk_repair_copy(struct chunk_client *c,
				   unsigned long long chunk,
				   unsigned long long lost, const char *host,
				   uint16_t port, unsigned long long *copy)
{
	uint64_t id = 0;
	int st;

	if (!c || !host || !copy || !chunk || !lost)
		return CHUNK_E_INVAL;
	client_lock(c);
	st = repair_locked(c, chunk, lost, host, port, &id);
	client_unlock(c);
	if (st == CHUNK_OK)
		*copy = id;
	return st;
}
