/*
 * One client connection of chunkd's RDMA transport (rdma_server.c owns the
 * listener and the list of connections).
 *
 * Per connection: its own protection domain, so an rkey granted to one
 * client works through no other client's QP (docs/design.md,
 * "Capabilities"); a completion channel watched by the event loop; RECV
 * buffers for requests and SEND buffers for replies; a session of the
 * chunk service; its capabilities (rdma_caps.h): write access to an OPEN
 * chunk is an MR of exactly its bytes in the owner's PD, deregistered at
 * seal, free or session end; read access to a SEALED chunk is a read-only
 * MR of its sealed bytes in the reader's PD. Workers register and
 * deregister them.
 *
 * Threading: everything runs on the event-loop thread.
 */
#ifndef CHUNKD_SERVER_RDMA_CONN_H
#define CHUNKD_SERVER_RDMA_CONN_H

#include <event2/event.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/spin_budget.h"
#include "service/service.h"
#include "workers/workers.h"

/* Requests a client may have outstanding; the server posts this many RECVs
 * per connection. */
#define RDMA_CONN_CREDITS 16u

/* Where a connection is in its life. */
enum rdma_conn_state {
	/* Accepted; rdma_cm has not reported ESTABLISHED yet. A handshake
	 * the client abandons ends here with REJECTED or CONNECT_ERROR. */
	RDMA_CONN_ACCEPTING,
	/* Serving requests; HELLO is due before the deadline. */
	RDMA_CONN_ESTABLISHED,
	/* Disconnecting after a failure: DISCONNECTED frees it. */
	RDMA_CONN_CLOSING,
};

struct rdma_conn;
struct rdma_caps;

/* What every connection of one listener shares. */
struct rdma_conn_env {
	struct event_base *base;
	struct service *svc;
	struct workers *workers;	/* register and deregister chunk MRs */
	struct rdma_conn *const *conns; /* the owner's list: a busy-poll spell
					 * covers every connection */
	/* Closed connections' capabilities whose MRs and PD workers still
	 * let go of (rdma_caps_retire); finished at once at a stop. */
	struct rdma_caps *retired;
	/* How long a busy-poll spell lasts after a completion: the
	 * configured poll_us, longer while the idle stretches between
	 * completions are a little longer than that (spin_budget.h). */
	struct spin_budget spin;
	uint64_t last_completion_us; /* when a spell or wake-up last saw one */
	uint32_t hello_timeout_ms;   /* HELLO's deadline after accepting */
	/* Called when a connection's HELLO deadline passes unanswered (or
	 * its handshake never completed): the owner closes it (the
	 * connection cannot free itself). */
	void (*on_hello_timeout)(struct rdma_conn_env *env,
				 struct rdma_conn *c);
};

/*
 * Sets up a connection for id's connect request (PD, queues, buffers,
 * completion channel) and accepts it, answering req's READ depths and
 * sending the session's nonce. Returns 0 and sets *out, or a negative
 * errno; then id is the caller's to reject and destroy.
 */
int rdma_conn_accept(struct rdma_conn_env *env, struct rdma_cm_id *id,
		     const struct rdma_conn_param *req, struct rdma_conn **out);

/* rdma_cm reported ESTABLISHED. */
void rdma_conn_established(struct rdma_conn *c);

/* Ends the session and frees everything, the rdma_cm id included. */
void rdma_conn_destroy(struct rdma_conn *c);

enum rdma_conn_state rdma_conn_state(const struct rdma_conn *c);
struct rdma_cm_id *rdma_conn_id(const struct rdma_conn *c);
const char *rdma_conn_peer(const struct rdma_conn *c);
uint64_t rdma_conn_session(const struct rdma_conn *c);

/* The list of connections, threaded through them (the owner's). */
struct rdma_conn *rdma_conn_next(const struct rdma_conn *c);
void rdma_conn_set_next(struct rdma_conn *c, struct rdma_conn *next);

/* Fills buf with the client's address and port. */
void rdma_conn_describe_peer(struct rdma_cm_id *id, char *buf, size_t len);

#endif
