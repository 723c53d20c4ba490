/* libchunkclient's asynchronous calls on replicated chunks
 * (replicated_async.h). */
#include "replicated_async.h"

#include "common/log.h"
#include "replicated.h"

/* io aimed at copy: the same range of the copy's own chunk id. */
static struct async_io at_copy(const struct async_io *io,
			       const struct replica_copy *copy)
{
	struct async_io one = *io;

	one.id = copy->id;
	return one;
}

/* The copies still open, each connected, into open; returns how many, or
 * a negative CHUNK_E_* when a copy cannot be reached. */
static int open_copies(struct chunk_client *c, struct replica_set *set,
		       struct replica_copy **open)
{
	int n = 0;

	for (unsigned i = 0; i < set->count; i++) {
		struct replica_copy *copy = &set->copy[i];
		int st;

		if (copy->sealed)
			continue;
		st = replicated_conn(c, copy);
		if (st)
			return st;
		open[n++] = copy;
	}
	return n;
}

/* Whether io can start on every copy, the owner's group slot included:
 * CHUNK_OK, CHUNK_E_AGAIN, or why a copy cannot take it. */
static int check_copies(struct chunk_client *c, struct replica_copy **open,
			int n, const struct async_io *io)
{
	bool owner_holds = false;
	int st = CHUNK_OK;

	for (int i = 0; i < n && st == CHUNK_OK; i++) {
		struct async_io one = at_copy(io, open[i]);

		owner_holds |= open[i]->conn == c;
		replicated_lock(c, open[i]);
		st = async_check(open[i]->conn, &one);
		if (st == CHUNK_OK && open[i]->conn != c &&
		    !async_room(open[i]->conn, 1, io->persist))
			st = CHUNK_E_AGAIN;
		replicated_unlock(c, open[i]);
	}
	if (st == CHUNK_OK &&
	    !async_room(c, owner_holds ? 2 : 1, owner_holds && io->persist))
		st = CHUNK_E_AGAIN;
	return st;
}

int replicated_async_write(struct chunk_client *c, struct replica_set *set,
			   const struct async_io *io, chunk_done_fn *done,
			   void *arg)
{
	struct replica_copy *open[PROTO_MAX_COPIES];
	int n = open_copies(c, set, open), st;
	struct async_op *op;

	if (n <= 0)
		return n < 0 ? n : CHUNK_E_STATE;
	st = check_copies(c, open, n, io);
	if (st)
		return st;
	op = async_group_open(c, done, arg);
	if (!op)
		return CHUNK_E_AGAIN;
	for (int i = 0; i < n && st == CHUNK_OK; i++) {
		struct async_io one = at_copy(io, open[i]);

		replicated_lock(c, open[i]);
		st = async_group_part(op, open[i]->conn, &one);
		replicated_unlock(c, open[i]);
		if (st)
			log_warn("chunk %llu: its copy %llu at %s port %u: %s",
				 (unsigned long long)set->chunk,
				 (unsigned long long)open[i]->id, open[i]->host,
				 open[i]->port, chunk_strerror(st));
	}
	return async_group_close(op, st);
}

/* ---- read ---- */

/* Starts op's read on the next open copy not read yet, those not seen
 * failing first; CHUNK_E_UNAVAILABLE when none is left. */
static int read_next(struct async_op *op)
{
	struct async_group *g = &op->group;
	struct chunk_client *c = g->owner;
	struct replica_set *set = replica_sets_find(&c->replicas, g->chunk);
	int st = CHUNK_E_UNAVAILABLE;

	for (unsigned pass = 0; set && pass < 2; pass++) {
		for (unsigned i = 0; i < set->count; i++) {
			struct replica_copy *copy = &set->copy[i];
			struct async_io one = {.id = copy->id,
					       .off = g->off,
					       .buf = g->buf,
					       .len = g->len};

			if ((g->tried & 1u << i) || !copy->conn ||
			    copy->failed != (pass == 1))
				continue;
			g->tried |= 1u << i;
			replicated_lock(c, copy);
			st = async_group_part(op, copy->conn, &one);
			replicated_unlock(c, copy);
			if (st == CHUNK_OK || st == CHUNK_E_INVAL)
				return st; /* a bad range is bad on every copy
					    */
			copy->failed = true;
		}
	}
	return st;
}

/* A copy's read failed: mark it, and read another in its place. */
static bool read_again(struct async_op *op, int status)
{
	struct async_group *g = &op->group;
	struct replica_set *set =
		replica_sets_find(&g->owner->replicas, g->chunk);

	for (unsigned i = 0; set && i < set->count; i++)
		if (g->tried & 1u << i)
			set->copy[i].failed = true;
	log_info("chunk %llu: a copy's read failed (%s); trying another",
		 (unsigned long long)g->chunk, chunk_strerror(status));
	return read_next(op) == CHUNK_OK;
}

int replicated_async_read(struct chunk_client *c, struct replica_set *set,
			  const struct async_io *io, chunk_done_fn *done,
			  void *arg)
{
	struct async_op *op;
	int st;

	if (set->writable)
		return CHUNK_E_STATE; /* not sealed yet */
	st = replicated_open_all(c, set);
	if (st)
		return st;
	if (!async_room(c, 2, false))
		return CHUNK_E_AGAIN;
	op = async_group_open(c, done, arg);
	if (!op)
		return CHUNK_E_AGAIN;
	op->group.again = read_again;
	op->group.chunk = set->chunk;
	op->group.off = io->off;
	op->group.buf = io->buf;
	op->group.len = io->len;
	return async_group_close(op, read_next(op));
}
