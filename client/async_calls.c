/* libchunkclient's asynchronous calls: a replicated chunk's go to
 * replicated_async.c, the rest start on the client's connection. */
#include "async.h"
#include "export.h"
#include "replicated_async.h"

/* Starts io with done(arg), on every copy when the chunk has several. */
static int start_locked(struct chunk_client *c, struct async_io *io,
			chunk_done_fn *done, void *arg)
{
	struct replica_set *set = replica_sets_find(&c->replicas, io->id);

	if (set && io->write)
		return replicated_async_write(c, set, io, done, arg);
	if (set)
		return replicated_async_read(c, set, io, done, arg);
	return async_start(c, io, done, arg);
}

/* Holds the client's lock (see client.h) around start_locked(). */
static int start(struct chunk_client *c, struct async_io io,
		 chunk_done_fn *done, void *arg)
{
	int rc;

	if (!c || !done)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = start_locked(c, &io, done, arg);
	client_unlock(c);
	return rc;
}

/* A write of buf (NULL: none) to [off, off + len) of chunk id, with the
 * persist of that range behind it when persist. */
static struct async_io write_io(unsigned long long id, unsigned long long off,
				const void *buf, size_t len, bool persist)
{
	return (struct async_io){.id = id,
				 .off = off,
				 .buf = (void *)buf,
				 .len = len,
				 .write = true,
				 .persist = persist};
}

CHUNK_EXPORT int chunk_write_async(struct chunk_client *c,
				   unsigned long long id,
				   unsigned long long off, const void *buf,
				   size_t len, chunk_done_fn *done, void *arg)
{
	if (!buf)
		return CHUNK_E_INVAL;
	return start(c, write_io(id, off, buf, len, false), done, arg);
}

CHUNK_EXPORT int chunk_persist_async(struct chunk_client *c,
				     unsigned long long id,
				     unsigned long long off,
				     unsigned long long len,
				     chunk_done_fn *done, void *arg)
{
	return start(c, write_io(id, off, NULL, len, true), done, arg);
}

CHUNK_EXPORT int chunk_write_persist_async(struct chunk_client *c,
					   unsigned long long id,
					   unsigned long long off,
					   const void *buf, size_t len,
					   chunk_done_fn *done, void *arg)
{
	if (!buf)
		return CHUNK_E_INVAL;
	return start(c, write_io(id, off, buf, len, true), done, arg);
}

CHUNK_EXPORT int chunk_read_async(struct chunk_client *c, unsigned long long id,
				  unsigned long long off, void *buf, size_t len,
				  chunk_done_fn *done, void *arg)
{
	if (!buf)
		return CHUNK_E_INVAL;
	return start(
		c,
		(struct async_io){.id = id, .off = off, .buf = buf, .len = len},
		done, arg);
}
