/*
 * libchunkclient's replicated chunks (cluster mode): a chunk of R copies
 * on R chunkd servers, each copy reached through a connection of the
 * client's own (client_connect_peer; the client's first connection where
 * a copy lives there). chunk_ops.c sends a call here when the chunk has a
 * replica set.
 *
 *   alloc   ALLOC with R copies at the client's chunkd, which places them
 *           (PLACED); then ALLOC_COPY at each other server.
 *   write   the WRITEs to every copy are posted before any is waited for,
 *   persist and so are the persists: the call takes about as long as the
 *           slowest copy, not the sum. Success only when every copy is
 *           durable. A copy that fails fails the call, and names its
 *           server in the log.
 *   seal    each further copy at its server (that chunkd checks the CRC of
 *           its copy), then SEAL_COPIES at the first copy's server, which
 *           commits SEALED once every copy passed. A refused copy leaves
 *           the chunk OPEN; copies that passed stay sealed, and later
 *           writes go only to those still open.
 *   read    from one live copy, the client's own server's first; on an
 *           error the call moves on to the next copy.
 *   free    the chunk at its first copy's server, then every further copy
 *           at its own (a copy a failure leaves behind is logged: it is an
 *           orphan, whose record says which chunk it copied).
 *
 * Threading: under the owning client's lock; each peer's lock is taken
 * after it, around what is done through that peer.
 */
#ifndef CHUNKD_CLIENT_REPLICATED_H
#define CHUNKD_CLIENT_REPLICATED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "replica_sets.h"

/* The connection to copy's server, made now if need be: the client's own
 * when the copy lives there, else one of its peers. */
int replicated_conn(struct chunk_client *c, struct replica_copy *copy);

/* Takes and gives back the lock of copy's connection (a peer's lock is
 * taken after the owner's). */
void replicated_lock(struct chunk_client *c, struct replica_copy *copy);
void replicated_unlock(struct chunk_client *c, struct replica_copy *copy);

/* Allocates a chunk of copies (2 to PROTO_MAX_COPIES) copies; sets *id. */
int replicated_alloc(struct chunk_client *c, uint64_t size, unsigned copies,
		     uint64_t *id);

/* Writes buf to [off, off + len) of every copy still open; with persist,
 * returns once every copy has it durable. */
int replicated_write(struct chunk_client *c, struct replica_set *set,
		     uint64_t off, const void *buf, size_t len, bool persist);

/* Makes [off, off + len) durable on every copy still open. */
int replicated_persist(struct chunk_client *c, struct replica_set *set,
		       uint64_t off, uint64_t len);

int replicated_seal(struct chunk_client *c, struct replica_set *set,
		    uint64_t len, uint32_t crc);

/* After OPEN answered COPIES (in c->calls.reply): keeps the chunk's
 * copies and opens one; fills info. */
int replicated_open(struct chunk_client *c, uint64_t chunk,
		    struct chunk_info *info);

int replicated_read(struct chunk_client *c, struct replica_set *set,
		    uint64_t off, void *buf, size_t len);

/* Opens every copy not open yet at its server (a copy that fails is marked
 * failed); CHUNK_OK when at least one is open. */
int replicated_open_all(struct chunk_client *c, struct replica_set *set);

/* Frees every copy, then forgets the set. */
int replicated_free(struct chunk_client *c, struct replica_set *set);

#endif
