/*
 * The allocation table: which chunk lives where, in what state, under which
 * session. The rest of the server uses only this interface; a backend keeps
 * the records somewhere durable. The pmem backend (table_pmem.h) keeps them
 * in the pool itself; a replicated backend can implement the same ops.
 *
 * Threading: a table belongs to the event-loop thread; no call is
 * thread-safe.
 */
#ifndef CHUNKD_SERVER_TABLE_H
#define CHUNKD_SERVER_TABLE_H

#include <stdbool.h>
#include <stdint.h>

enum table_chunk_state {
	TABLE_CHUNK_FREE,   /* no chunk: the slot or space is available */
	TABLE_CHUNK_OPEN,   /* granted to a session, being written */
	TABLE_CHUNK_SEALED, /* immutable, readable by anyone */
};

struct table_record {
	uint64_t id;	     /* never reused within a pool; 0 is no chunk */
	uint64_t offset;     /* bytes from the start of the chunk area */
	uint64_t length;     /* bytes granted (a multiple of the granularity) */
	uint64_t sealed_len; /* bytes of content, once sealed */
	uint64_t session;    /* the session that allocated it */
	uint32_t epoch;	     /* the session's epoch at allocation */
	uint32_t crc;	     /* CRC32C of the sealed content */
	uint32_t created_s;  /* allocation time, seconds since 1970 */
	uint32_t sealed_s;   /* seal time, seconds since 1970; 0 if open */
	enum table_chunk_state state;
};

struct table_stats {
	uint64_t area_bytes; /* the whole chunk area */
	uint64_t used_bytes; /* granted to OPEN and SEALED chunks */
	uint64_t free_bytes; /* area_bytes - used_bytes */
	uint64_t open_chunks;
	uint64_t sealed_chunks;
	uint64_t record_capacity; /* most chunks the table can hold at once */
	uint64_t next_id;
};

/* Return false to stop an iteration early. */
typedef bool table_visit_fn(const struct table_record *rec, void *arg);

struct table;

struct table_ops {
	int (*alloc)(struct table *t, uint64_t size, uint64_t session,
		     uint32_t epoch, struct table_record *rec);
	int (*seal)(struct table *t, uint64_t id, uint64_t sealed_len,
		    uint32_t crc, struct table_record *rec);
	int (*free)(struct table *t, uint64_t id);
	int (*reclaim)(struct table *t, uint64_t session, uint64_t *count);
	int (*lookup)(struct table *t, uint64_t id, struct table_record *rec);
	void (*iterate)(struct table *t, table_visit_fn *visit, void *arg);
	void (*stats)(struct table *t, struct table_stats *stats);
	void (*close)(struct table *t);
};

/* Backends embed this as their first member. */
struct table {
	const struct table_ops *ops;
};

/*
 * Grants a new OPEN chunk of at least size bytes to session. Durable when it
 * returns 0; *rec then describes the chunk. Fails with -EINVAL (size 0),
 * -EFBIG (larger than the whole area), -ENOSPC (no room or no free record);
 * nothing changes then.
 */
int table_alloc(struct table *t, uint64_t size, uint64_t session,
		uint32_t epoch, struct table_record *rec);

/*
 * Records an OPEN chunk as SEALED with sealed_len bytes of content whose
 * CRC32C is crc (the caller has checked it). Durable when it returns 0; *rec
 * (may be NULL) then holds the sealed record. Fails with -ENOENT (no such
 * chunk), -EALREADY (already sealed), -EINVAL (sealed_len > length).
 */
int table_seal(struct table *t, uint64_t id, uint64_t sealed_len, uint32_t crc,
	       struct table_record *rec);

/* Frees an OPEN or SEALED chunk; durable on 0. -ENOENT if there is none. */
int table_free(struct table *t, uint64_t id);

/* Frees every OPEN chunk of session (a dead or revoked session) and sets
 * *count (may be NULL) to how many. Each free is durable on its own. */
int table_reclaim(struct table *t, uint64_t session, uint64_t *count);

/* Copies the record of a live chunk. -ENOENT if there is none. */
int table_lookup(struct table *t, uint64_t id, struct table_record *rec);

/* Calls visit for each OPEN and SEALED chunk, in no set order. The table
 * must not change during the walk. */
void table_iterate(struct table *t, table_visit_fn *visit, void *arg);

void table_stats(struct table *t, struct table_stats *stats);

/* Releases the table's memory (what is durable stays) and sets *t to NULL. */
void table_close(struct table **t);

const char *table_chunk_state_name(enum table_chunk_state state);

#endif
