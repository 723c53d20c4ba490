/*
 * What chunkd asks of a transport, as a table of operations, so that a
 * second transport (TCP, for hosts without RDMA) fills the same table and
 * main and the service need not change (SPDK's spdk_nvmf_transport_ops and
 * libevent's eventop are the models).
 *
 * Two tables split the work:
 *   - transport_ops (here): start listening, stop, and what main reports;
 *   - session_ops (service/service.h): per connection, what the service
 *     asks of it: send a reply, grant and revoke capabilities.
 * A transport starts a service session for each connection, hands it every
 * received frame (service_handle), and fills session_ops for it.
 *
 * Threading: everything runs on the event-loop thread of base.
 */
#ifndef CHUNKD_SERVER_TRANSPORT_H
#define CHUNKD_SERVER_TRANSPORT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/service.h"
#include "workers/workers.h"

struct transport_opts {
	const char *listen; /* an address the transport serves, or 0.0.0.0 */
	uint16_t port;
	uint32_t poll_us;	   /* busy-poll spell after a completion */
	uint32_t max_connections;  /* at once; more are refused */
	uint32_t hello_timeout_ms; /* a connection's time to say HELLO */
	struct workers *workers;   /* the blocking work of capabilities */
};

struct transport_ops;

/* One started transport. Implementations embed it as their first member. */
struct transport {
	const struct transport_ops *ops;
};

struct transport_ops {
	const char *name;
	/* Starts listening for svc's clients. Returns 0 and sets *out, or a
	 * negative errno with a one-line reason in err. svc is read only once
	 * the event loop runs (chunkd listens before it opens the pool). */
	int (*start)(struct event_base *base, struct service *svc,
		     const struct transport_opts *opts, struct transport **out,
		     char *err, size_t err_len);
	/* Closes every connection (ending their sessions) and the listener;
	 * sets *t to NULL. NULL is fine. */
	void (*stop)(struct transport **t);
	/* The port it listens on (useful when opts->port was 0). */
	uint16_t (*port)(const struct transport *t);
	/* The most connections it serves at once. */
	uint32_t (*max_connections)(const struct transport *t);
	/* Whether it stopped serving because its device went away. */
	bool (*failed)(const struct transport *t);
};

/* The RDMA transport (librdmacm and libibverbs; rdma_server.h). */
extern const struct transport_ops rdma_transport;

#endif
