/*
 * libchunkclient: the client library of chunkd, a networked persistent-memory
 * chunk server. This is the library's only public header.
 *
 * Conventions:
 * - A function that acts returns CHUNK_OK (0) or a negative enum chunk_status.
 * - The library never prints; install a log callback to see its messages.
 * - Threading: see chunk_client below; chunk_strerror, chunk_version and
 *   chunk_crc32c may be called from any thread; chunk_log_set_function()
 *   should be called once, before the application starts other threads.
 */
#ifndef CHUNKCLIENT_H
#define CHUNKCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. New codes are added at the end; values never change. */
enum chunk_status {
	CHUNK_OK = 0,
	CHUNK_E_INVAL = -1,	/* an argument is invalid */
	CHUNK_E_NOMEM = -2,	/* out of memory */
	CHUNK_E_NODEV = -3,	/* no usable RDMA device or route */
	CHUNK_E_CONNECT = -4,	/* cannot connect, or the connection is lost */
	CHUNK_E_PROTO = -5,	/* malformed or unsupported message */
	CHUNK_E_NOENT = -6,	/* no such chunk */
	CHUNK_E_NOSPC = -7,	/* the pool is full */
	CHUNK_E_ACCESS = -8,	/* a remote access was refused */
	CHUNK_E_STATE = -9,	/* the chunk is not in a state that allows it */
	CHUNK_E_CRC = -10,	/* the contents do not match the CRC32C given */
	CHUNK_E_AUTH = -11,	/* authentication failed */
	CHUNK_E_STALE = -12,	/* the lease or its epoch is no longer valid */
	CHUNK_E_TIMEOUT = -13,	/* the server did not answer in time */
	CHUNK_E_INTERNAL = -14, /* a bug or an unexpected system error */
	CHUNK_E_AGAIN = -15,	/* too many operations in flight: poll first */
	CHUNK_E_BUSY = -16,	/* the server is at its connection limit */
	CHUNK_E_UNAVAILABLE = -17, /* cluster mode: the cluster's table cannot
				    * change now (etcd unreachable or without
				    * quorum); nothing changed: try later */
	CHUNK_E_FEW_SERVERS = -18, /* cluster mode: fewer live servers with
				    * room than the copies asked */
};

/* A one-line English description of a status; never NULL, also for codes
 * this version does not know. */
const char *chunk_strerror(int status);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *chunk_version(void);

enum chunk_log_level {
	CHUNK_LOG_ERROR,
	CHUNK_LOG_WARN,
	CHUNK_LOG_INFO,
	CHUNK_LOG_DEBUG,
};

/* A log callback. msg is one line without a newline, valid only during the
 * call. Called from whichever library thread logs. */
typedef void chunk_log_fn(enum chunk_log_level level, const char *msg,
			  void *arg);

/*
 * Sends the library's messages at threshold or more severe to fn, with arg.
 * fn == NULL (the default) drops them all.
 */
void chunk_log_set_function(chunk_log_fn *fn, void *arg,
			    enum chunk_log_level threshold);

/* ---- connections ---- */

/* A connection to one chunkd: a session holding granted chunks. Opaque. */
struct chunk_client;

/* Persistence methods (chunk_client_persist_methods). */
#define CHUNK_PERSIST_RPC	       0x1u /* a PERSIST round trip */
#define CHUNK_PERSIST_READ_AFTER_WRITE 0x2u /* a small READ after WRITEs */
#define CHUNK_PERSIST_NATIVE_FLUSH                                             \
	0x4u /* an RDMA FLUSH after WRITEs                                     \
	      * (IBTA 1.5; rdma-core >= 45) */

/* Connection options. Fill with chunk_client_opts_init(), then change
 * fields; new fields are only ever added at the end. */
struct chunk_client_opts {
	size_t size;		  /* sizeof(struct chunk_client_opts) */
	unsigned timeout_ms;	  /* per operation; default 10000 */
	size_t bounce_size;	  /* copy buffer for unregistered memory;
				   * default 1 MiB */
	unsigned poll_us;	  /* busy-poll this long before sleeping;
				   * default 50 */
	unsigned persist_methods; /* allowed CHUNK_PERSIST_* (default all);
				   * the cheapest offered and allowed wins */
	unsigned renew_lease;	  /* 1 (default): a background thread renews
				   * the session's lease; 0: only requests do */
	const char *auth_name;	  /* this client's name (at most 64 bytes);
				   * default "" */
	const void *auth_secret;  /* the shared secret chunkd knows for that
				   * name; NULL: do not authenticate */
	size_t auth_secret_len;
	unsigned max_in_flight; /* asynchronous operations in flight at
				 * once, 1 to CHUNK_MAX_IN_FLIGHT; default
				 * (and 0) CHUNK_MAX_ASYNC */
};

void chunk_client_opts_init(struct chunk_client_opts *opts);

/*
 * Connects to chunkd at host (an address of an RDMA device) and port, and
 * starts a session. opts may be NULL for defaults. Returns CHUNK_OK and sets
 * *client, or CHUNK_E_NODEV (no RDMA, no route), CHUNK_E_CONNECT (refused,
 * timed out), CHUNK_E_BUSY (chunkd serves as many clients as it may; try
 * again later), CHUNK_E_AUTH (chunkd refused the name or secret: nothing is
 * granted before authentication), CHUNK_E_PROTO, CHUNK_E_NOMEM; *client is
 * then not set. chunkd's reason for a refusal goes to the log callback.
 */
int chunk_client_connect(const char *host, uint16_t port,
			 const struct chunk_client_opts *opts,
			 struct chunk_client **client);

/* Ends the session (the server reclaims its unsealed chunks), frees the
 * client and sets *client to NULL. NULL is fine. Registered memory is
 * deregistered; its chunk_mem handles stay the application's to
 * chunk_mem_dereg(). */
void chunk_client_disconnect(struct chunk_client **client);

/* The session id the server gave this connection (it changes when the
 * library reconnects after a remote access error). */
unsigned long long chunk_client_session(const struct chunk_client *client);

/* The persistence method the library uses (one CHUNK_PERSIST_* bit). */
unsigned chunk_client_persist_method(const struct chunk_client *client);

/*
 * Threading: a chunk_client is used by one thread at a time; different
 * clients may be used by different threads at once. (Internally a lock
 * serializes the application's calls with the lease renewer.)
 *
 * Leases: a session's OPEN chunks stay granted while its lease lives. The
 * library renews it from a background thread every third of its TTL. If it
 * lapses anyway (or an operator revokes it), the server reclaims the OPEN
 * chunks and the library goes on under a new lease. The first call on each
 * lost chunk returns CHUNK_E_STALE (so does a request sent under the old
 * lease); the library then forgets the chunk (CHUNK_E_NOENT after that).
 * Sealed chunks are not affected.
 *
 * Connection loss: the library checks ranges and seals before it writes, so
 * a remote access error means the server withdrew write access first (a
 * revocation the library has not heard of yet). It puts the queue pair into
 * the error state; the call that hit it returns CHUNK_E_ACCESS, and the
 * library reconnects with a new session before it returns. The chunks the
 * old session had not sealed are lost as above (CHUNK_E_STALE, once).
 * Sealed chunks stay readable.
 */

/* ---- chunks ---- */

/* Allocates an OPEN chunk of at least size bytes, writable by this session
 * only. Sets *chunk_id on CHUNK_OK; else CHUNK_E_NOSPC (no room now, or
 * size is larger than the whole pool: the log callback says which),
 * CHUNK_E_INVAL (size 0), CHUNK_E_UNAVAILABLE (cluster mode: etcd cannot
 * be reached; nothing was allocated). */
int chunk_alloc(struct chunk_client *client, unsigned long long size,
		unsigned long long *chunk_id);

#define CHUNK_MAX_COPIES 4

/*
 * The same for a chunk of `copies` copies (1 to CHUNK_MAX_COPIES; 1 is
 * chunk_alloc()), each on a chunkd of its own: cluster mode. The chunkd
 * this client is connected to holds the first copy and chooses the
 * servers of the others (the live ones with the most free bytes); the
 * library connects to each and allocates its copy there. Then:
 *
 *   - chunk_write(), chunk_persist() and chunk_write_persist() write and
 *     persist every copy (all posted before any is waited for) and succeed
 *     only when every copy has the bytes (durable, for the persists);
 *   - chunk_seal() has each server check the CRC32C of its own copy; the
 *     chunk is SEALED only when every copy passed. A copy that fails is
 *     named in the log and the chunk stays OPEN; copies that passed stay
 *     sealed, and later writes go only to those still open;
 *   - chunk_read() reads one copy (the connected server's first) and moves
 *     to another within the call when a copy's server fails;
 *   - chunk_free() frees every copy, the first first (where the chunk's
 *     record lives): CHUNK_E_UNAVAILABLE while that copy's chunkd is not
 *     running.
 *
 * The asynchronous calls take replicated chunks too: a write or persist
 * is posted to every copy before the call returns and calls back once
 * every copy completed (with the first copy's failure, if any); a read
 * reads one copy and, if that fails, another before calling back (the
 * first asynchronous read of a chunk opens every copy, synchronously).
 * Each counts as one operation in flight, though it takes a slot on each
 * copy's connection (two on the client's own). Fails as chunk_alloc(),
 * and with CHUNK_E_FEW_SERVERS
 * (fewer live servers with room than copies), CHUNK_E_INVAL (copies out of
 * range, or replication asked outside cluster mode), or the error of a
 * server that refused its copy (then nothing stays allocated).
 */
int chunk_alloc_replicated(struct chunk_client *client, unsigned long long size,
			   unsigned copies, unsigned long long *chunk_id);

/*
 * Repairs a sealed replicated chunk (cluster mode; what chunkctl repair
 * does): makes a new copy of it at the chunkd at host:port from any live
 * copy, has that chunkd check the copy's CRC32C at its seal, and commits
 * it in the place of copy `lost`, whose server is not running, in one
 * revision-compared etcd transaction (so a racing repair, or the lost
 * server coming back, changes nothing twice). host:port must run and hold
 * no copy of the chunk. Sets *copy (the new copy's id) on CHUNK_OK; else
 * CHUNK_E_STATE (not a sealed replicated chunk, lost's server runs, or
 * the copies changed meanwhile: look again), CHUNK_E_INVAL (lost is not a
 * copy of it, or host:port holds one), CHUNK_E_CRC, or a
 * transport error; the new copy is then freed, except after
 * CHUNK_E_UNAVAILABLE or CHUNK_E_TIMEOUT at the commit (it may be placed).
 */
int chunk_repair_copy(struct chunk_client *client, unsigned long long chunk,
		      unsigned long long lost, const char *host, uint16_t port,
		      unsigned long long *copy);

/* The bytes granted to an OPEN chunk of this session: what chunk_alloc()
 * asked for, rounded up to the server's granularity. All of them may be
 * written. Asks nothing of the server; errors as chunk_write(). */
int chunk_granted_length(struct chunk_client *client,
			 unsigned long long chunk_id,
			 unsigned long long *length);

/*
 * Writes len bytes from buf at offset of an OPEN chunk of this session,
 * with one-sided RDMA WRITEs; returns when buf may be reused. The bytes are
 * not durable until persisted. buf may be any memory (copied through the
 * bounce buffer) or lie in a region given to chunk_mem_reg() (no copy).
 * CHUNK_E_INVAL if the range leaves the chunk (checked here; the server's
 * rkey bounds it too). Here and in the persist and seal calls:
 * CHUNK_E_NOENT if the library knows no such chunk of this session,
 * CHUNK_E_STATE once it is sealed (or only opened for reading),
 * CHUNK_E_STALE if the lease that held it was lost.
 */
int chunk_write(struct chunk_client *client, unsigned long long chunk_id,
		unsigned long long offset, const void *buf, size_t len);

/* Makes bytes [offset, offset + len) of a chunk durable. */
int chunk_persist(struct chunk_client *client, unsigned long long chunk_id,
		  unsigned long long offset, unsigned long long len);

/* chunk_write() then chunk_persist() of the same range, in one round trip:
 * the WRITEs go unsignaled with the persist request right behind them. */
int chunk_write_persist(struct chunk_client *client,
			unsigned long long chunk_id, unsigned long long offset,
			const void *buf, size_t len);

/*
 * Seals a chunk: its first len bytes become its immutable content. The
 * server revokes write access, then checks crc32c (chunk_crc32c() of those
 * bytes). CHUNK_E_CRC if they differ: the chunk stays OPEN and writable.
 * CHUNK_E_STATE if it is sealed already. In cluster mode,
 * CHUNK_E_UNAVAILABLE if etcd could not record the seal (the chunk stays
 * OPEN: seal it again; a repeat with the same len and crc32c succeeds if
 * the first reached etcd after all) and CHUNK_E_STALE if the chunk's record is
 * gone (chunkd's etcd lease ended while etcd was out of its reach).
 */
int chunk_seal(struct chunk_client *client, unsigned long long chunk_id,
	       unsigned long long len, unsigned crc32c);

/* CRC32C (Castagnoli), continued from crc (0 to start). */
unsigned chunk_crc32c(unsigned crc, const void *buf, size_t len);

struct chunk_info {
	unsigned long long length; /* sealed bytes */
	unsigned crc32c;	   /* of those bytes */
};

/*
 * Opens a SEALED chunk for reading (any session may). CHUNK_E_STATE if it
 * is not sealed yet, CHUNK_E_NOENT if there is none. info may be NULL.
 *
 * In cluster mode a chunk may live in another chunkd's pool: the server
 * answers where, and the library opens it there through a connection of
 * its own to that chunkd (made with this client's options, kept until
 * chunk_client_disconnect()); chunk_read() and chunk_free() of the chunk
 * go there too. CHUNK_E_UNAVAILABLE if that chunkd is not running now.
 * chunk_read_async() reads only chunks of the chunkd this client
 * connected to, and replicated chunks (CHUNK_E_NOENT for one of a single
 * copy elsewhere: use chunk_read()).
 */
int chunk_open(struct chunk_client *client, unsigned long long chunk_id,
	       struct chunk_info *info);

/* Reads len bytes at offset of an opened chunk into buf with one-sided
 * RDMA READs (opening it first if needed). CHUNK_E_INVAL past its end. */
int chunk_read(struct chunk_client *client, unsigned long long chunk_id,
	       unsigned long long offset, void *buf, size_t len);

/* Frees an OPEN chunk of this session, or any SEALED chunk. CHUNK_E_STALE
 * for an OPEN chunk the lease lost (the server has reclaimed it). In
 * cluster mode CHUNK_E_UNAVAILABLE if etcd did not confirm the free: the
 * chunk is gone all the same, and chunkd completes the free once etcd
 * answers (a chunkd restarted before then keeps a SEALED chunk). */
int chunk_free(struct chunk_client *client, unsigned long long chunk_id);

/* ---- asynchronous operations ----
 *
 * Several operations in flight on one client. Each takes a callback, called
 * once with the operation's status from chunk_client_poll() (or from inside
 * any other call on the same client, which also processes completions).
 * Buffers must lie in memory given to chunk_mem_reg(): there is no copy,
 * and buf must stay untouched until the callback. A callback may start new
 * asynchronous operations but must not call the synchronous ones. At most
 * opts.max_in_flight operations are in flight (default CHUNK_MAX_ASYNC); more
 * get CHUNK_E_AGAIN, as do persist requests past the server's 16 receive
 * credits. If the connection is lost, every operation in flight completes
 * with the error. An operation still in flight past opts.timeout_ms (a
 * server that died without a word) makes the library abort that
 * connection and connect again: every operation in flight on it completes
 * with CHUNK_E_TIMEOUT (or, on a replicated chunk's read, moves to another
 * copy), and nothing lands in its buffer afterwards.
 */

#define CHUNK_MAX_ASYNC	    32	 /* the default of opts.max_in_flight */
#define CHUNK_MAX_IN_FLIGHT 1024 /* its largest value */

typedef void chunk_done_fn(void *arg, int status);

int chunk_write_async(struct chunk_client *client, unsigned long long chunk_id,
		      unsigned long long offset, const void *buf, size_t len,
		      chunk_done_fn *done, void *arg);

/* Makes a range durable: a PERSIST request or a small READ, by method. */
int chunk_persist_async(struct chunk_client *client,
			unsigned long long chunk_id, unsigned long long offset,
			unsigned long long len, chunk_done_fn *done, void *arg);

/* WRITEs unsignaled with the persist right behind: one round trip. */
int chunk_write_persist_async(struct chunk_client *client,
			      unsigned long long chunk_id,
			      unsigned long long offset, const void *buf,
			      size_t len, chunk_done_fn *done, void *arg);

/* Reads from a chunk already opened with chunk_open(). */
int chunk_read_async(struct chunk_client *client, unsigned long long chunk_id,
		     unsigned long long offset, void *buf, size_t len,
		     chunk_done_fn *done, void *arg);

/*
 * Processes completions and calls their callbacks. Waits up to timeout_ms
 * (0: not at all, -1: the client's timeout) for at least one when none is
 * ready and operations are in flight. Returns how many operations
 * completed, or a negative CHUNK_E_* (CHUNK_E_TIMEOUT: none in time).
 */
int chunk_client_poll(struct chunk_client *client, int timeout_ms);

/*
 * A file descriptor for the application's own event loop: it becomes
 * readable when completions may be waiting, whatever other calls came
 * between an operation's start and its completion; then call
 * chunk_client_poll(client, 0). It stays the same for the client's life,
 * reconnects included, and wakes for the completions of the connections
 * the client made to other servers (a replicated chunk's copies) too.
 */
int chunk_client_fd(const struct chunk_client *client);

/* Operations in flight. */
unsigned chunk_client_in_flight(const struct chunk_client *client);

/* ---- registered memory, for writes and reads without a copy ---- */

struct chunk_mem;

/* Registers [addr, addr + len) with the client's device. Returns CHUNK_OK
 * and sets *mem, or CHUNK_E_NOMEM / CHUNK_E_INVAL. */
int chunk_mem_reg(struct chunk_client *client, void *addr, size_t len,
		  struct chunk_mem **mem);

/* Deregisters and sets *mem to NULL; the memory stays the caller's. The
 * handle outlives its client: chunk_client_disconnect() deregisters the
 * client's memory, and chunk_mem_dereg() is still called on each handle
 * afterwards (it then only frees the handle). NULL is fine. */
void chunk_mem_dereg(struct chunk_mem **mem);

#ifdef __cplusplus
}
#endif

#endif
