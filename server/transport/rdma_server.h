/*
 * chunkd's RDMA transport: listens with librdmacm and serves each client
 * connection (rdma_conn.h) as one session of the chunk service.
 *
 * Connections are bounded: at most max_connections at once (more are
 * rejected with a reason the client library reports), a connection that
 * has not said HELLO within hello_timeout_ms is closed, and a handshake
 * the client abandons (REJECTED, CONNECT_ERROR, UNREACHABLE) frees what
 * was set up for it. Each is counted in the service's counters.
 *
 * Threading: everything runs on the event-loop thread of base.
 */
#ifndef CHUNKD_SERVER_RDMA_SERVER_H
#define CHUNKD_SERVER_RDMA_SERVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "rdma_conn.h"
#include "service/service.h"

struct rdma_server_opts {
	const char *listen; /* address of an RDMA device, or 0.0.0.0 */
	uint16_t port;
	uint32_t poll_us;	   /* busy-poll spell after a completion */
	uint32_t max_connections;  /* at once; more are rejected */
	uint32_t hello_timeout_ms; /* a connection's time to say HELLO */
	uint32_t lease_ttl_ms;	   /* leases are checked 4 times a TTL */
};

struct rdma_server;

/*
 * Starts listening. Returns 0 and sets *out, or a negative errno with a
 * one-line reason in err (no RDMA device, address not local, port in use).
 * svc is read only once the event loop runs: chunkd listens before it opens
 * the pool, so that a start that fails creates nothing.
 */
int rdma_server_start(struct event_base *base, struct service *svc,
		      const struct rdma_server_opts *opts,
		      struct rdma_server **out, char *err, size_t err_len);

/* Closes every connection (ending their sessions) and the listener. */
void rdma_server_stop(struct rdma_server **srv);

/* The port it listens on (useful when opts->port was 0). */
uint16_t rdma_server_port(const struct rdma_server *srv);

/* The most connections it serves at once. */
uint32_t rdma_server_max_connections(const struct rdma_server *srv);

/* Whether the listener's device went away (chunkd then stops serving). */
bool rdma_server_lost_device(const struct rdma_server *srv);

#endif
