/*
 * The chunk service: what chunkd does with each request, independent of the
 * transport. A transport (transport/) owns the connections; for each one it
 * starts a session here and passes every received frame to
 * service_handle(). The service answers each request exactly once through
 * the session's send_reply: at once, or, when the table must make a change
 * durable (ALLOC, SEAL, FREE), when the table completes (request.h).
 * Capabilities (rkeys) are the transport's too: the service asks for them
 * through the same session ops.
 *
 * Rules it enforces: a session says HELLO first; only the owning session
 * persists, seals or frees an OPEN chunk; only SEALED chunks are opened for
 * reading; a seal revokes write access before it reads the content, and a
 * refused seal (CRC mismatch) grants it again; when a session ends, its
 * OPEN chunks lose write access and are reclaimed. Any session may free a
 * SEALED chunk; every read grant of it is revoked first.
 *
 * Leases: each session holds a lease of lease_ttl_ms, renewed by every
 * request under the current epoch and by RENEW. When it expires
 * (service_expire_leases) or is revoked (service_revoke_lease), the
 * session's write access is revoked, its OPEN chunks are reclaimed, and its
 * epoch moves on: requests under the old epoch get STALE, with the new
 * epoch, until the client adopts it. SEALED chunks outlive the lease.
 *
 * Threading: one thread (the event loop) owns the service and its sessions.
 */
#ifndef CHUNKD_SERVER_SERVICE_H
#define CHUNKD_SERVER_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/histogram.h"
#include "pool/persist.h"
#include "proto/msg.h"
#include "request.h"
#include "secrets.h"
#include "table/table.h"

/* A grant's outcome, on the loop: rc 0 and the rkey, or a negative errno
 * (-ECANCELED: revoked before it was made). */
typedef void session_grant_fn(void *arg, int rc, uint32_t rkey);

/* An asynchronous revoke is over: no access through the old rkey lands. */
typedef void session_revoked_fn(void *arg);

/* What a transport does for one session: answer it, and grant and revoke
 * its capabilities. Making a capability may block (memory registration
 * pins pages), so grants may complete later, through a callback that is
 * never called from within the grant. */
struct session_ops {
	/* Sends reply to the session's client. Returns 0, or a negative
	 * errno after which the transport closes the connection itself. */
	int (*send_reply)(void *ctx, const struct proto_msg *reply);
	/* Lets the session write and read back exactly len bytes at addr:
	 * 0 with *rkey set (granted at once), -EINPROGRESS and done on a
	 * later turn of the loop, or another negative errno. */
	int (*grant_write)(void *ctx, uint64_t chunk, uint8_t *addr,
			   uint64_t len, uint32_t *rkey, session_grant_fn *done,
			   void *arg);
	/* Takes write access away; no write through the old rkey lands after
	 * this returns. A no-op when there is none. */
	void (*revoke_write)(void *ctx, uint64_t chunk);
	/* The same without blocking: 0 when it is over at once (or there was
	 * none), else -EINPROGRESS and done on a later turn, after which no
	 * write through the old rkey lands. */
	int (*revoke_write_async)(void *ctx, uint64_t chunk,
				  session_revoked_fn *done, void *arg);
	/* Lets the session read exactly len bytes at addr, as grant_write. A
	 * second grant of the same chunk gives the same rkey. */
	int (*grant_read)(void *ctx, uint64_t chunk, uint8_t *addr,
			  uint64_t len, uint32_t *rkey, session_grant_fn *done,
			  void *arg);
	void (*revoke_read)(void *ctx, uint64_t chunk);
	/* The same without blocking, as revoke_write_async. */
	int (*revoke_read_async)(void *ctx, uint64_t chunk,
				 session_revoked_fn *done, void *arg);
};

struct session {
	uint64_t id;
	uint32_t epoch;
	bool greeted;		    /* HELLO seen */
	uint64_t lease_deadline_us; /* monotonic; 0 while the lease is lost */
	const struct session_ops *ops;
	void *ops_ctx;
	struct request *held; /* requests waiting for the table */
	const char *peer;     /* the client's address, for operators */
	uint8_t nonce[PROTO_NONCE_LEN]; /* sent at connect, for HELLO's HMAC */
	bool auth_refused;		/* a failed HELLO: no second try */
	bool can_flush;	    /* the transport: the connection takes RDMA FLUSH
			     * to the persistence domain */
	bool flush_offered; /* WELCOME offered native-flush: write grants
			     * must allow FLUSH */
	struct session *next, *prev; /* the service's list */
};

/* Request types are counted by their wire number, which is below this. */
#define SERVICE_REQUEST_TYPES 32

/* How long the requests operators watch take in the server: from the
 * frame's arrival to the reply's hand-over to the transport. */
enum service_timed {
	SERVICE_TIMED_ALLOC, /* ALLOC and ALLOC_COPY */
	SERVICE_TIMED_PERSIST,
	SERVICE_TIMED_SEAL, /* SEAL and SEAL_COPIES, the CRC check included */
	SERVICE_TIMED_COUNT,
};

struct service_counters {
	uint64_t requests;
	uint64_t errors;    /* ERROR replies */
	uint64_t malformed; /* frames that did not decode */
	uint64_t requests_by_type[SERVICE_REQUEST_TYPES];
	uint64_t errors_by_type[SERVICE_REQUEST_TYPES]; /* ERROR replies */
	uint64_t granted_bytes; /* chunk lengths of GRANTs */
	uint64_t sealed_bytes;	/* lengths of accepted seals */
	uint64_t offered[3];	/* WELCOMEs offering each
				 * PROTO_PERSIST_* bit, in bit order */
	struct histogram latency[SERVICE_TIMED_COUNT];
	uint64_t leases_expired;
	uint64_t leases_revoked;
	uint64_t auth_refused;	  /* failed authentications */
	uint64_t copies_replaced; /* repairs this chunkd committed */
	/* The transport's: */
	uint64_t handshakes_failed;   /* connections the client abandoned */
	uint64_t hello_timeouts;      /* closed without HELLO in time */
	uint64_t connections_refused; /* over the connection limit */
};

struct free_wait;

struct service {
	struct table *table;
	uint8_t *area; /* the chunk area, where chunk offsets point */
	const struct persister *data; /* persists chunk content */
	struct workers *workers;      /* a seal's check runs there; NULL:
				       * on the loop (tests, tools) */
	uint32_t persist_methods;     /* PROTO_PERSIST_* offered */
	uint32_t granularity;
	uint32_t lease_ttl_ms;
	uint64_t (*clock_us)(void);    /* monotonic; tests may replace it */
	const struct secrets *secrets; /* NULL: no authentication */
	uint64_t next_session;
	struct session sessions; /* list head */
	struct free_wait *frees; /* frees under way (frees.h) */
	struct service_counters counters;
	uint64_t request_start_us; /* when the frame being handled came */
};

/*
 * Sets up a service over table and the chunk area at area, persisting
 * content with data. direct_write_to_pmem adds the read-after-write
 * persistence method (only where the platform makes it true).
 */
void service_init(struct service *s, struct table *table, uint8_t *area,
		  const struct persister *data, uint32_t granularity,
		  bool direct_write_to_pmem, uint32_t lease_ttl_ms);

/* Takes the leases of every session whose deadline has passed; returns
 * how many. The transport calls it from a timer. Write access goes on
 * workers; the OPEN chunks are reclaimed once it is gone. */
unsigned service_expire_leases(struct service *s);

/* Revokes the lease of session id now (an operator's order). Returns 0, or
 * -ENOENT when no such session is connected. When it returns, no write
 * through the session's old rkeys lands. */
int service_revoke_lease(struct service *s, uint64_t id);

/* The connected session with this id, or NULL. */
struct session *service_find_session(struct service *s, uint64_t id);

/* Extends session id's lease by one TTL from now (an operator's order); a
 * lost lease stays lost. Returns 0 or -ENOENT. */
int service_renew_lease(struct service *s, uint64_t id);

/* Frees chunk id whatever its state or owner (an operator's order): every
 * grant of it is revoked first, then the table frees it and calls done
 * (table.h). -ENOENT at once, without calling done, if there is none. */
int service_admin_free(struct service *s, uint64_t id, table_done_fn *done,
		       void *arg);

/* Starts a session the transport serves through ops: sets every field the
 * service owns (id, epoch, lease, flags). The transport owns peer and nonce
 * and sets them itself. */
void service_session_start(struct service *s, struct session *sess,
			   const struct session_ops *ops, void *ops_ctx);

/* Ends a session: revokes write access to its OPEN chunks, then has the
 * table reclaim them; requests it still holds are orphaned (no reply). The
 * transport may free sess when this returns. Its read grants are the
 * transport's to drop. */
void service_session_end(struct service *s, struct session *sess);

/*
 * Handles one received frame of len bytes (which may be reused when this
 * returns) and answers it exactly once through sess->ops->send_reply: the
 * reply to the request, or an ERROR (a frame that does not decode gets
 * PROTO_ST_MALFORMED, with request id 0 when even the header is bad).
 */
void service_handle(struct service *s, struct session *sess,
		    const uint8_t *frame, size_t len);

#endif
