/*
 * The chunks a client knows: for each, where it lives on the server, its
 * rkey, and what this session may do with it. Nothing here talks to the
 * server; the operations (chunk_ops.c, async.c) consult and update it.
 *
 * Threading: under the client's lock, as everything of a client.
 */
#ifndef CHUNKD_CLIENT_CHUNK_CACHE_H
#define CHUNKD_CLIENT_CHUNK_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/idmap.h"

/* What the client knows of a chunk it may access. */
struct remote_chunk {
	uint64_t id;
	uint64_t addr;	 /* in the server's address space */
	uint64_t length; /* writable bytes, or sealed bytes when readable */
	uint32_t rkey;
	bool writable; /* an OPEN chunk of this session */
	bool readable; /* an opened SEALED chunk */
	bool lost;     /* was OPEN, but the lease or session that held it ended:
			* the next call on it says CHUNK_E_STALE */
	uint32_t crc;
};

struct chunk_cache {
	struct remote_chunk *chunks;
	size_t count, cap;
	struct idmap index; /* id -> position in chunks */
};

/* 0 or CHUNK_E_NOMEM. */
int chunk_cache_init(struct chunk_cache *cache);
void chunk_cache_fini(struct chunk_cache *cache);

/* The chunk id names, or NULL. The pointer is valid until the next add or
 * forget. */
struct remote_chunk *chunk_cache_find(struct chunk_cache *cache, uint64_t id);

/* The entry for id, made (zeroed but for the id) if new; NULL when out of
 * memory. */
struct remote_chunk *chunk_cache_add(struct chunk_cache *cache, uint64_t id);

void chunk_cache_forget(struct chunk_cache *cache, uint64_t id);

/* If id names a lost chunk, forgets it and returns true (the caller then
 * reports CHUNK_E_STALE, once). */
bool chunk_cache_forget_lost(struct chunk_cache *cache, uint64_t id);

/* The OPEN chunk of this session that id names, for a write, persist or
 * seal: CHUNK_E_NOENT if unknown, CHUNK_E_STATE if sealed or only opened
 * for reading, CHUNK_E_STALE (once; it is then forgotten) if lost. */
int chunk_cache_writable(struct chunk_cache *cache, uint64_t id,
			 struct remote_chunk **out);

/* The lease or the session ended: the chunks it could write become lost;
 * with forget_others (a new session), every other chunk is forgotten too
 * (its rkey died with the old session). */
void chunk_cache_lose_open(struct chunk_cache *cache, bool forget_others);

#endif
