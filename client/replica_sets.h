/*
 * The replicated chunks a client knows, in cluster mode: for each, its
 * copies (their ids, their servers, the connection to each once made) and
 * whether this client allocated it and may still write it. Nothing here
 * talks to a server; replicated.c does.
 *
 * Threading: under the owning client's lock.
 */
#ifndef CHUNKD_CLIENT_REPLICA_SETS_H
#define CHUNKD_CLIENT_REPLICA_SETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/idmap.h"
#include "proto/msg.h"

struct chunk_client;

struct replica_copy {
	uint64_t id;	/* the copy's own chunk id at its server */
	char host[256]; /* as chunk_client_connect() took it */
	uint16_t port;
	struct chunk_client *conn; /* the owner or a peer; NULL until made */
	bool sealed;		   /* a further copy sealed at its server */
	bool failed;		   /* its last read failed: tried last */
};

struct replica_set {
	uint64_t chunk; /* the chunk's id: its first copy's */
	unsigned count;
	bool writable; /* allocated by this client, not sealed yet */
	struct replica_copy copy[PROTO_MAX_COPIES];
};

struct replica_sets {
	struct replica_set *sets;
	size_t count, cap;
	struct idmap index; /* chunk id -> position in sets */
	bool ready;
};

/* The set of chunk, or NULL. Valid until the next add or forget. */
struct replica_set *replica_sets_find(struct replica_sets *r, uint64_t chunk);

/* The set for chunk, emptied if it was known; NULL when out of memory. */
struct replica_set *replica_sets_add(struct replica_sets *r, uint64_t chunk);

void replica_sets_forget(struct replica_sets *r, uint64_t chunk);
void replica_sets_fini(struct replica_sets *r);

#endif
