/*
 * chunkd's admin listener: a local unix socket, served by the event loop,
 * that chunkctl talks to. Only root and chunkd's own user may connect: the
 * socket is created mode 0600 and each peer's credentials are checked.
 *
 * Protocol: one JSON object per line each way. A request names a command
 * ("cmd") and its arguments; the reply has "ok": true and the data, or
 * "ok": false, "error" (one line) and "code" (an errno name).
 *
 *   {"cmd":"status"}                 pool, chunks, sessions, methods, counters
 *   {"cmd":"leases"}                 one entry per session
 *   {"cmd":"lease_show","id":N}      one session
 *   {"cmd":"lease_renew","id":N}     extends its lease by a TTL
 *   {"cmd":"lease_revoke","id":N}    revokes it now (see service.h)
 *   {"cmd":"chunks","state":"open"}  chunks, optionally of one state
 *   {"cmd":"chunk_show","id":N}      its record, and in cluster mode a
 *                                    replicated chunk's live "copies"
 *                                    (read from etcd, so that answer
 *                                    comes when etcd's does: a client
 *                                    that sends another request first
 *                                    may get the answers out of order;
 *                                    chunkctl asks one thing at a time)
 *   {"cmd":"chunk_free","id":N}      revokes every grant of it, then frees
 *   {"cmd":"verify"}                 starts the background scrub and
 *                                    answers its status (admin_scrub.h)
 *   {"cmd":"verify_status"}          the current or last scrub's status
 *   {"cmd":"cluster"}                members, etcd, and replication read
 *                                    from etcd (answered when etcd is)
 *   {"cmd":"under_replicated"}       the sealed replicated chunks with a
 *                                    copy on a server not running, each
 *                                    copy with where it runs
 *
 * Threading: the event-loop thread only.
 */
#ifndef CHUNKD_SERVER_ADMIN_H
#define CHUNKD_SERVER_ADMIN_H

#include <event2/event.h>
#include <stddef.h>

#include "admin_scrub.h"
#include "pool/pool.h"
#include "service/service.h"
#include "table/table.h"

/* Connections served at once; more get one refusing line. They fit in the
 * descriptor reserve (fd_limit.h), so RDMA clients cannot starve them. */
#define ADMIN_MAX_CLIENTS 16u

struct admin;

/* What the admin socket administers; each must outlive the admin. */
struct admin_target {
	struct service *svc;
	struct table *table; /* the service's */
	struct pool *pool;
	const char *pool_path;
	struct cluster *cluster; /* NULL: not in cluster mode */
	struct admin_scrub scrub;
};

/*
 * Listens on the unix socket at path (a stale one left by a dead chunkd is
 * replaced; one a live chunkd answers on is not). Returns 0 and sets *out,
 * or a negative errno with a one-line reason in err.
 */
int admin_start(struct event_base *base, const char *path,
		const struct admin_target *target, struct admin **out,
		char *err, size_t err_len);

/* Closes the listener and its connections, removes the socket file, and
 * sets *admin to NULL. */
void admin_stop(struct admin **admin);

/*
 * Handles one request line and returns the reply (one JSON object, no
 * newline), which the caller frees. Exposed for the unit tests, whose
 * table answers at once (an answer that would come later is an error
 * here).
 */
char *admin_handle_line(struct admin *admin, const char *line);

#endif
