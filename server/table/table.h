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

/* Where a chunk this table does not hold lives (cluster mode). */
struct table_location {
	char address[64]; /* the chunkd that holds it, for clients */
	uint16_t port;
};

#define TABLE_MAX_COPIES 4 /* of one replicated chunk */

/* One copy of a replicated chunk (cluster mode). */
struct table_copy {
	uint64_t id; /* the copy's chunk id in its server's pool; 0 for one
		      * not made yet */
	struct table_location loc;
};

struct table_copies {
	unsigned count;
	struct table_copy copy[TABLE_MAX_COPIES];
};

/* A replicated allocation: the first copy of a chunk of `copies` copies,
 * or (copy_of set) a further copy of chunk copy_of. */
struct table_alloc_args {
	uint64_t size, session;
	uint32_t epoch;
	unsigned copies; /* 2 to TABLE_MAX_COPIES for a first copy */
	uint64_t copy_of;
};

/* Return false to stop an iteration early. */
typedef bool table_visit_fn(const struct table_record *rec, void *arg);

/* What a change reports when it is done. */
struct table_result {
	int status; /* 0: durable; else a negative errno, and nothing changed */
	struct table_record rec; /* alloc and seal: the chunk's record now */
	uint64_t count;		 /* reclaim: the OPEN chunks freed */
	/* alloc of a first copy: the servers for the others (ids 0);
	 * copies: the chunk's live copies */
	struct table_copies copies;
	uint64_t bad_copy; /* a refused replicated seal: the copy at fault */
};

/*
 * Called exactly once per change, on the event-loop thread: before the call
 * that started it returns (the pmem backend) or from a later turn of the
 * loop (a networked backend). res is valid during the call only.
 */
typedef void table_done_fn(void *arg, const struct table_result *res);

struct table;

struct table_ops {
	void (*alloc)(struct table *t, uint64_t size, uint64_t session,
		      uint32_t epoch, table_done_fn *done, void *arg);
	void (*seal)(struct table *t, uint64_t id, uint64_t sealed_len,
		     uint32_t crc, table_done_fn *done, void *arg);
	void (*free)(struct table *t, uint64_t id, table_done_fn *done,
		     void *arg);
	void (*reclaim)(struct table *t, uint64_t session, uint32_t epoch,
			table_done_fn *done, void *arg);
	int (*lookup)(struct table *t, uint64_t id, struct table_record *rec);
	void (*iterate)(struct table *t, table_visit_fn *visit, void *arg);
	void (*stats)(struct table *t, struct table_stats *stats);
	void (*close)(struct table *t);
	/* May be NULL: a table that holds every chunk there is. */
	int (*locate)(struct table *t, uint64_t id, struct table_location *loc);
	/* May be NULL: a table that cannot replicate (all three). */
	void (*alloc_replica)(struct table *t, const struct table_alloc_args *a,
			      table_done_fn *done, void *arg);
	void (*seal_replicated)(struct table *t, uint64_t id,
				uint64_t sealed_len, uint32_t crc,
				const uint64_t *others, unsigned count,
				table_done_fn *done, void *arg);
	void (*copies)(struct table *t, uint64_t id, table_done_fn *done,
		       void *arg);
	void (*replace_copy)(struct table *t, uint64_t chunk, uint64_t lost,
			     uint64_t copy, table_done_fn *done, void *arg);
};

/* Backends embed this as their first member. */
struct table {
	const struct table_ops *ops;
};

/*
 * The changes complete through done (see table_done_fn); a caller must not
 * assume which turn of the loop that is. While a change is pending, lookup
 * and iterate show the table as it was before it.
 */

/* Grants a new OPEN chunk of at least size bytes to session under epoch;
 * res->rec describes it. Fails with -EINVAL (size 0), -EFBIG (larger than
 * the whole area), -ENOSPC (no room or no free record). */
void table_alloc(struct table *t, uint64_t size, uint64_t session,
		 uint32_t epoch, table_done_fn *done, void *arg);

/* Records an OPEN chunk as SEALED with sealed_len bytes of content whose
 * CRC32C is crc (the caller has checked it); res->rec holds the sealed
 * record. Fails with -ENOENT (no such chunk), -EALREADY (already sealed),
 * -EINVAL (sealed_len > length). */
void table_seal(struct table *t, uint64_t id, uint64_t sealed_len, uint32_t crc,
		table_done_fn *done, void *arg);

/* Frees an OPEN or SEALED chunk. -ENOENT if there is none. */
void table_free(struct table *t, uint64_t id, table_done_fn *done, void *arg);

/* Frees every OPEN chunk that session allocated under epoch or an earlier
 * one (a dead or revoked session: chunks of a later epoch stay); res->count
 * says how many. Each free is durable on its own. */
void table_reclaim(struct table *t, uint64_t session, uint32_t epoch,
		   table_done_fn *done, void *arg);

/* Copies the record of a live chunk. -ENOENT if there is none. */
int table_lookup(struct table *t, uint64_t id, struct table_record *rec);

/* Calls visit for each OPEN and SEALED chunk, in no set order. The table
 * must not change during the walk. */
void table_iterate(struct table *t, table_visit_fn *visit, void *arg);

void table_stats(struct table *t, struct table_stats *stats);

/* For an id lookup does not find: where the chunk would live if another
 * server of the cluster holds it. 0 and *loc filled; -ENOENT when no other
 * server could (the single-server table, or an id of this pool);
 * -EHOSTDOWN when the server it would live on is not running now. Answers
 * from what the table knows, without a round trip. */
int table_locate(struct table *t, uint64_t id, struct table_location *loc);

/*
 * Replication (cluster mode; a table that cannot replicate fails these
 * with -EOPNOTSUPP).
 *
 * table_alloc_replica: with a->copies, allocates the first copy as
 * table_alloc does and chooses the servers for the others (res->copies,
 * ids 0), failing with -EHOSTDOWN when fewer live servers have room; with
 * a->copy_of, allocates a further copy of that chunk (-EINVAL if the chunk
 * is this pool's own: copies live on distinct servers).
 */
void table_alloc_replica(struct table *t, const struct table_alloc_args *a,
			 table_done_fn *done, void *arg);

/* Seals the first copy id as table_seal does, once the `count` other copies
 * (their ids) are sealed with the same length and CRC, each on a server of
 * its own, as many as the chunk was allocated with; the chunk becomes
 * SEALED in one change. -ENODATA with res->bad_copy when a copy is not so
 * (the chunk stays OPEN). */
void table_seal_replicated(struct table *t, uint64_t id, uint64_t sealed_len,
			   uint32_t crc, const uint64_t *others, unsigned count,
			   table_done_fn *done, void *arg);

/* Where the copies of chunk id live (res->copies, only those on running
 * servers), for readers; count 0 when the chunk is not replicated or not
 * sealed yet. -ENOENT when there is no such chunk; -EHOSTUNREACH. A table
 * that cannot replicate answers count 0. */
void table_copies(struct table *t, uint64_t id, table_done_fn *done, void *arg);

/* A repair's commit: the sealed further copy `copy` takes the place of
 * copy `lost` among chunk's copies, if lost's server is not running, copy
 * is a sealed copy of chunk with its length and CRC on a running server
 * that holds no other copy, and nothing changed since they were read (one
 * transaction comparing revisions). lost's record goes, unless lost is
 * the chunk's first copy (its record names the chunk). -ENOENT (not a
 * sealed replicated chunk), -EINVAL (lost is not a copy of it, or copy
 * already is), -EBUSY (lost's server runs), -ENODATA (copy is not as
 * above), -ESTALE (something changed: look again), -EHOSTUNREACH. */
void table_replace_copy(struct table *t, uint64_t chunk, uint64_t lost,
			uint64_t copy, table_done_fn *done, void *arg);

/* Whether the table can replicate (and so table_copies may take a round
 * trip). */
bool table_replicates(const struct table *t);

/* Releases the table's memory (what is durable stays) and sets *t to NULL. */
void table_close(struct table **t);

const char *table_chunk_state_name(enum table_chunk_state state);

#endif
