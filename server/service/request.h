/*
 * A request the service holds while something slower than a reply works
 * for it: the table making a change durable (ALLOC, SEAL, FREE, and OPEN
 * of a replicated chunk), the transport making or taking back a
 * capability (memory registration runs on workers), or a worker checking
 * a seal's content. Each may complete on a later turn of the event loop,
 * and the request's session may end before it does. Other requests
 * (HELLO, PERSIST, RENEW) and refusals are answered at once and never
 * become one of these.
 *
 * Threading: the event-loop thread, as the service; while a worker runs
 * its job (work), the worker reads msg and rec and writes crc_got only.
 */
#ifndef CHUNKD_SERVER_REQUEST_H
#define CHUNKD_SERVER_REQUEST_H

#include <stdint.h>

#include "proto/msg.h"
#include "table/table.h"
#include "workers/workers.h"

struct service;
struct session;

/* Where a held request is in its life (SPDK's nvmf request states are the
 * model: one enum, each state said once). */
enum request_state {
	/* Made for a decoded request whose checks passed; its first step is
	 * about to start. */
	REQUEST_STARTING,
	/* Waiting for the table's completion. The session may still end. */
	REQUEST_TABLE_PENDING,
	/* Waiting for the transport to take write access away (SEAL). */
	REQUEST_REVOKING,
	/* A worker computes the content's CRC32C and persists it (SEAL). */
	REQUEST_CHECKING,
	/* Waiting for the transport to grant a capability (ALLOC's write,
	 * OPEN's read, a refused SEAL's write again). */
	REQUEST_GRANTING,
	/* Its session ended while it waited: no reply is sent; its steps
	 * go on to the end (a seal stands), and undo what nobody will hear
	 * of (a granted alloc is freed again). */
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
	struct table_result found;   /* the chunk, as the table gave or
				      * showed it, between steps */
	struct work work;	     /* CHECKING's job */
	uint32_t crc_got;	     /* the content's CRC32C, from the job */
	struct request *next, *prev; /* the session's held requests */
};

/* Holds msg for sess (linked into its list, state STARTING). NULL when out
 * of memory. */
struct request *request_new(struct session *sess, const struct proto_msg *msg);

/* The table change starts now. Call it just before the table call: a
 * backend that completes at once finishes (and frees) r within that call,
 * so r is not touched after it. */
void request_wait_for_table(struct request *r);

/* r waits in state for the transport or a worker; the same rule. */
void request_wait_for(struct request *r, enum request_state state);

/* The request is answered (the service sent r->reply, unless orphaned):
 * unlinks and frees r. */
void request_free(struct request *r);

/* The session is ending: every request it holds is orphaned and unlinked;
 * each is freed when what it waits for completes it. */
void request_orphan_all(struct session *sess);

#endif
