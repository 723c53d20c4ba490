/*
 * libchunkclient's asynchronous calls on replicated chunks: one group op
 * of the client's (async.h) made of parts on the copies' connections.
 *
 *   write   a part on every copy still open, all posted before the call
 *   persist returns; the callback comes once every part completed, with
 *           the first failure (the others' are in the log).
 *   read    one part, on a copy that is open at its server (the first
 *           asynchronous read of a chunk opens every copy, synchronously,
 *           once); if that part fails, another open copy is read in its
 *           place before the callback.
 *
 * Room is checked on every connection before any part starts: a call that
 * returns CHUNK_E_AGAIN started nothing.
 *
 * Threading: under the owning client's lock; each peer's is taken after
 * it, around that peer's part.
 */
#ifndef CHUNKD_CLIENT_REPLICATED_ASYNC_H
#define CHUNKD_CLIENT_REPLICATED_ASYNC_H

#include "async.h"
#include "replica_sets.h"

int replicated_async_write(struct chunk_client *c, struct replica_set *set,
			   const struct async_io *io, chunk_done_fn *done,
			   void *arg);

int replicated_async_read(struct chunk_client *c, struct replica_set *set,
			  const struct async_io *io, chunk_done_fn *done,
			  void *arg);

#endif
