/* libchunkclient's replicated chunks (replicated.h). */
#include "replicated.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "copy_ops.h"
#include "persist_method.h"

/* ---- connections ---- */

int replicated_conn(struct chunk_client *c, struct replica_copy *copy)
{
	if (copy->conn)
		return CHUNK_OK;
	return client_connect_to(c, copy->host, copy->port, &copy->conn);
}

/* The owner's lock is recursive, so its own copy needs no care. */
void replicated_lock(struct chunk_client *c, struct replica_copy *copy)
{
	if (copy->conn != c)
		client_lock(copy->conn);
}

void replicated_unlock(struct chunk_client *c, struct replica_copy *copy)
{
	if (copy->conn != c)
		client_unlock(copy->conn);
}

static void fill_copy(struct replica_copy *copy, uint64_t id, const char *host,
		      uint16_t port, struct chunk_client *conn)
{
	memset(copy, 0, sizeof(*copy));
	copy->id = id;
	snprintf(copy->host, sizeof(copy->host), "%s", host);
	copy->port = port;
	copy->conn = conn;
}

/* ---- alloc ---- */

/* Frees copy at its server (one gone already counts as freed). */
static int free_copy(struct chunk_client *c, struct replica_copy *copy)
{
	int st = replicated_conn(c, copy);

	if (st == CHUNK_OK) {
		replicated_lock(c, copy);
		st = copy_free(copy->conn, copy->id);
		replicated_unlock(c, copy);
	}
	return st == CHUNK_E_NOENT ? CHUNK_OK : st;
}

/* Frees what an allocation that failed had made, the first copy last. */
static void undo_alloc(struct chunk_client *c, struct replica_set *set)
{
	for (unsigned i = set->count; i-- > 0;)
		free_copy(c, &set->copy[i]);
	replica_sets_forget(&c->replicas, set->chunk);
}

/* A further copy of set's chunk at the server where names. */
static int alloc_further(struct chunk_client *c, struct replica_set *set,
			 uint64_t size, const struct proto_copy *where)
{
	struct proto_msg req = {.hdr.type = PROTO_ALLOC_COPY};
	struct replica_copy *copy = &set->copy[set->count];
	uint64_t id;
	int st;

	fill_copy(copy, 0, where->addr, where->port, NULL);
	st = replicated_conn(c, copy);
	if (st)
		return st;
	req.u.alloc.size = size;
	req.u.alloc.of = set->chunk;
	replicated_lock(c, copy);
	st = copy_alloc(copy->conn, &req, &id);
	replicated_unlock(c, copy);
	if (st) {
		log_warn(
			"chunk %llu: chunkd at %s port %u refused its copy: %s",
			(unsigned long long)set->chunk, where->addr,
			where->port, chunk_strerror(st));
		return st;
	}
	copy->id = id;
	set->count++;
	return CHUNK_OK;
}

int replicated_alloc(struct chunk_client *c, uint64_t size, unsigned copies,
		     uint64_t *id)
{
	struct proto_msg req = {.hdr.type = PROTO_ALLOC};
	struct proto_copy_list where;
	struct replica_set *set;
	uint64_t chunk;
	int st;

	req.u.alloc.size = size;
	req.u.alloc.copies = copies;
	st = copy_alloc(c, &req, &chunk);
	if (st)
		return st;
	where = c->calls.reply.u.placed.where;
	set = replica_sets_add(&c->replicas, chunk);
	if (!set) {
		copy_free(c, chunk);
		return CHUNK_E_NOMEM;
	}
	set->writable = true;
	fill_copy(&set->copy[set->count++], chunk, c->host, c->port, c);
	if (c->calls.reply.hdr.type != PROTO_PLACED ||
	    where.count != copies - 1)
		st = CHUNK_E_PROTO;
	for (unsigned i = 0; st == CHUNK_OK && i < where.count; i++)
		st = alloc_further(c, set, size, &where.copy[i]);
	if (st) {
		undo_alloc(c, set);
		return st;
	}
	*id = chunk;
	return CHUNK_OK;
}

/* ---- write and persist ---- */

/* One copy's part of a write or persist in flight. */
struct copy_io {
	struct replica_copy *copy;
	struct remote_chunk *rc;
	struct client_wr held; /* the last WRITE, posted with the persist */
	bool has_held;
	int st;
};

/* Locks every copy still open and checks the range is inside it; returns
 * how many, each with its status in io. */
static unsigned begin_io(struct chunk_client *c, struct replica_set *set,
			 uint64_t off, uint64_t len, struct copy_io *io)
{
	unsigned n = 0;

	for (unsigned i = 0; i < set->count; i++) {
		struct replica_copy *copy = &set->copy[i];

		if (copy->sealed)
			continue;
		io[n] = (struct copy_io){.copy = copy};
		io[n].st = replicated_conn(c, copy);
		if (io[n].st == CHUNK_OK) {
			replicated_lock(c, copy);
			io[n].st = copy_writable_range(copy->conn, copy->id,
						       off, len, &io[n].rc);
		}
		n++;
	}
	return n;
}

/* Finishes each copy's call, unlocks it, and returns the first failure
 * (logged with its server). */
static int end_io(struct chunk_client *c, struct replica_set *set,
		  struct copy_io *io, unsigned n)
{
	int first = CHUNK_OK;

	for (unsigned i = 0; i < n; i++) {
		struct replica_copy *copy = io[i].copy;

		if (copy->conn)
			io[i].st = client_finish(copy->conn,
						 copy_forget_if_lost(copy->conn,
								     copy->id,
								     io[i].st));
		if (io[i].st && !first) {
			first = io[i].st;
			log_warn("chunk %llu: its copy %llu at %s port %u: %s",
				 (unsigned long long)set->chunk,
				 (unsigned long long)copy->id, copy->host,
				 copy->port, chunk_strerror(first));
		}
		if (copy->conn)
			replicated_unlock(c, copy);
	}
	return first;
}

/* Posts the persist of each copy (behind its last WRITE), then waits for
 * each: the copies work at once. */
static void persist_all(struct copy_io *io, unsigned n, uint64_t off,
			uint64_t len)
{
	for (unsigned i = 0; i < n; i++) {
		struct chunk_client *conn = io[i].copy->conn;

		if (io[i].st == CHUNK_OK)
			io[i].st = conn->persist->start(
				conn, io[i].rc, off, len,
				io[i].has_held ? &io[i].held : NULL);
	}
	for (unsigned i = 0; i < n; i++)
		if (io[i].st == CHUNK_OK)
			io[i].st = io[i].copy->conn->persist->finish(
				io[i].copy->conn);
}

/* Posts each copy's last WRITE signaled, then waits for each. */
static void complete_writes(struct copy_io *io, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (io[i].st || !io[i].has_held)
			continue;
		io[i].held.wr.send_flags |= IBV_SEND_SIGNALED;
		io[i].st = client_post_rdma_wr(io[i].copy->conn, &io[i].held);
	}
	for (unsigned i = 0; i < n; i++)
		if (io[i].st == CHUNK_OK)
			io[i].st = client_wait_sends(io[i].copy->conn);
}

int replicated_write(struct chunk_client *c, struct replica_set *set,
		     uint64_t off, const void *buf, size_t len, bool persist)
{
	struct copy_io io[PROTO_MAX_COPIES];
	unsigned n = begin_io(c, set, off, len, io);

	for (unsigned i = 0; i < n && len > 0; i++) {
		if (io[i].st)
			continue;
		io[i].st = copy_post_writes(io[i].copy->conn, io[i].rc, off,
					    buf, len, &io[i].held);
		io[i].has_held = io[i].st == CHUNK_OK;
	}
	if (persist && len > 0)
		persist_all(io, n, off, len);
	else
		complete_writes(io, n);
	return end_io(c, set, io, n);
}

int replicated_persist(struct chunk_client *c, struct replica_set *set,
		       uint64_t off, uint64_t len)
{
	struct copy_io io[PROTO_MAX_COPIES];
	unsigned n = begin_io(c, set, off, len, io);

	if (len > 0)
		persist_all(io, n, off, len);
	return end_io(c, set, io, n);
}

/* ---- seal ---- */

/* Seals further copy i at its server. */
static int seal_further(struct chunk_client *c, struct replica_set *set,
			unsigned i, uint64_t len, uint32_t crc)
{
	struct replica_copy *copy = &set->copy[i];
	int st = replicated_conn(c, copy);

	if (st == CHUNK_OK) {
		replicated_lock(c, copy);
		st = copy_seal(copy->conn, copy->id, len, crc, NULL, 0);
		replicated_unlock(c, copy);
	}
	if (st) {
		log_warn("chunk %llu: chunkd at %s port %u refused to seal its "
			 "copy %llu: %s; the chunk stays open",
			 (unsigned long long)set->chunk, copy->host, copy->port,
			 (unsigned long long)copy->id, chunk_strerror(st));
		return st;
	}
	copy->sealed = true;
	return CHUNK_OK;
}

int replicated_seal(struct chunk_client *c, struct replica_set *set,
		    uint64_t len, uint32_t crc)
{
	uint64_t others[PROTO_MAX_COPIES];
	int st = CHUNK_OK;

	for (unsigned i = 1; i < set->count && st == CHUNK_OK; i++) {
		others[i - 1] = set->copy[i].id;
		if (!set->copy[i].sealed)
			st = seal_further(c, set, i, len, crc);
	}
	if (st == CHUNK_OK)
		st = copy_seal(c, set->chunk, len, crc, others, set->count - 1);
	if (st == CHUNK_OK)
		set->writable = false;
	return st;
}

/* ---- open and read ---- */

/* Whether the error says this copy cannot serve now, so another may. */
static bool try_another(int st)
{
	return st != CHUNK_OK && st != CHUNK_E_INVAL && st != CHUNK_E_NOMEM;
}

/* Reads from copy (opening it at its server first if need be); with buf
 * NULL, only opens it. */
static int read_copy(struct chunk_client *c, struct replica_copy *copy,
		     uint64_t off, void *buf, size_t len,
		     struct chunk_info *info)
{
	struct remote_chunk *rc;
	int st = replicated_conn(c, copy);

	if (st)
		return st;
	replicated_lock(c, copy);
	rc = chunk_cache_find(&copy->conn->cache, copy->id);
	if (!rc || !rc->readable) {
		st = copy_open_here(copy->conn, copy->id, info);
		rc = chunk_cache_find(&copy->conn->cache, copy->id);
	} else if (info) { /* opened before: what it said then */
		info->length = rc->length;
		info->crc32c = rc->crc;
	}
	if (st == CHUNK_OK && buf &&
	    (off > rc->length || len > rc->length - off))
		st = CHUNK_E_INVAL;
	else if (st == CHUNK_OK && buf)
		st = client_finish(copy->conn, copy_post_reads(copy->conn, rc,
							       off, buf, len));
	replicated_unlock(c, copy);
	return st;
}

/* Tries the copies, those not seen failing first, until one serves. */
static int from_any_copy(struct chunk_client *c, struct replica_set *set,
			 uint64_t off, void *buf, size_t len,
			 struct chunk_info *info)
{
	int st = CHUNK_E_UNAVAILABLE;

	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < set->count; i++) {
			struct replica_copy *copy = &set->copy[i];

			if (copy->failed != (pass == 1))
				continue;
			st = read_copy(c, copy, off, buf, len, info);
			copy->failed = try_another(st);
			if (!copy->failed)
				return st;
			log_info("chunk %llu: its copy at %s port %u failed "
				 "(%s); trying another",
				 (unsigned long long)set->chunk, copy->host,
				 copy->port, chunk_strerror(st));
		}
	}
	return st;
}

/* The client's own server's copy first: no connection to make. */
static void own_first(struct chunk_client *c, struct replica_set *set)
{
	for (unsigned i = 1; i < set->count; i++) {
		struct replica_copy *copy = &set->copy[i];

		if (client_is_at(c, copy->host, copy->port)) {
			struct replica_copy first = set->copy[0];

			set->copy[0] = *copy;
			*copy = first;
			return;
		}
	}
}

int replicated_open(struct chunk_client *c, uint64_t chunk,
		    struct chunk_info *info)
{
	const struct proto_copy_list *list = &c->calls.reply.u.copies.list;
	struct replica_set *set;

	if (c->calls.reply.u.copies.chunk != chunk || list->count == 0)
		return CHUNK_E_PROTO;
	set = replica_sets_add(&c->replicas, chunk);
	if (!set)
		return CHUNK_E_NOMEM;
	for (unsigned i = 0; i < list->count; i++)
		fill_copy(&set->copy[set->count++], list->copy[i].id,
			  list->copy[i].addr, list->copy[i].port, NULL);
	own_first(c, set);
	return from_any_copy(c, set, 0, NULL, 0, info);
}

int replicated_open_all(struct chunk_client *c, struct replica_set *set)
{
	int st = CHUNK_E_UNAVAILABLE;

	for (unsigned i = 0; i < set->count; i++) {
		struct replica_copy *copy = &set->copy[i];
		int one = read_copy(c, copy, 0, NULL, 0, NULL);

		copy->failed = try_another(one);
		if (one == CHUNK_OK)
			st = CHUNK_OK;
	}
	return st;
}

int replicated_read(struct chunk_client *c, struct replica_set *set,
		    uint64_t off, void *buf, size_t len)
{
	if (set->writable)
		return CHUNK_E_STATE; /* not sealed yet */
	return from_any_copy(c, set, off, buf, len, NULL);
}

/* ---- free ---- */

int replicated_free(struct chunk_client *c, struct replica_set *set)
{
	int st = CHUNK_E_UNAVAILABLE;
	bool found = false;

	/* The first copy names the chunk: once it is freed, the chunk is. */
	for (unsigned i = 0; i < set->count; i++) {
		if (set->copy[i].id == set->chunk) {
			found = true;
			st = free_copy(c, &set->copy[i]);
		}
	}
	if (!found)
		log_warn("chunk %llu: its first copy's chunkd is not running; "
			 "it cannot be freed now",
			 (unsigned long long)set->chunk);
	if (st)
		return st;
	for (unsigned i = 0; i < set->count; i++) {
		struct replica_copy *copy = &set->copy[i];
		int one =
			copy->id == set->chunk ? CHUNK_OK : free_copy(c, copy);

		if (one)
			log_warn("chunk %llu: freeing its copy %llu at %s port "
				 "%u failed (%s); it is left as an orphan",
				 (unsigned long long)set->chunk,
				 (unsigned long long)copy->id, copy->host,
				 copy->port, chunk_strerror(one));
	}
	replica_sets_forget(&c->replicas, set->chunk);
	return CHUNK_OK;
}
