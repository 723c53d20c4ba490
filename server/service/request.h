/*
 * A request the service holds while the table makes its change durable
 * (ALLOC, SEAL, FREE): the table may complete on a later turn of the event
 * loop (table.h), and the request's session may end before it does. Other
 * requests (HELLO, PERSIST, OPEN, RENEW) and refusals are answered at once
 * and never become one of these.
 *
 * Threading: the event-loop thread, as the service.
 */
#ifndef CHUNKD_SERVER_REQUEST_H
#define CHUNKD_SERVER_REQUEST_H

#include <stdint.h>

#include "proto/msg.h"

struct service;
struct session;

/* Where a held request is in its life (SPDK's nvmf request states are the
 * model: one enum, each state said once). */
enum request_state {
	/* Made for a decoded request whose checks passed; the table change
	 * is about to start. */
	REQUEST_STARTING,
	/* Waiting for the table's completion. The session may still end. */
	REQUEST_TABLE_PENDING,
	/* Its session ended while the table worked: no reply is sent, and
	 * the completion undoes what nobody will hear of (a granted alloc
	 * is freed again). */
	REQUEST_ORPHANED,
	/* The table answered and the reply went to the transport (unless
	 * orphaned); the request is freed right after. */
	REQUEST_DONE,
};

struct request {
	enum request_state state;
	struct service *svc;
	struct session *sess; /* NULL once orphaned */
	uint32_t epoch;	      /* the session's lease epoch at the start */
	uint64_t start_us;    /* when its frame came (service.h) */
	struct proto_msg msg; /* the request as decoded */
	struct proto_msg reply;
	struct request *next, *prev; /* the session's held requests */
};

/* Holds msg for sess (linked into its list, state STARTING). NULL when out
 * of memory. */
struct request *request_new(struct session *sess, const struct proto_msg *msg);

/* The table change starts now. Call it just before the table call: a
 * backend that completes at once finishes (and frees) r within that call,
 * so r is not touched after it. */
void request_wait_for_table(struct request *r);

/* The request is answered (the service sent r->reply, unless orphaned):
 * unlinks and frees r. */
void request_free(struct request *r);

/* The session is ending: every request it holds is orphaned and unlinked;
 * each is freed when the table completes it. */
void request_orphan_all(struct session *sess);

#endif
