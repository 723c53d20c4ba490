/*
 * chunkd's RDMA transport: listens with librdmacm and serves each client
 * connection as one session of the chunk service.
 *
 * Per connection: its own protection domain, so an rkey granted to one
 * client works through no other client's QP (DESIGN.md, "Capabilities"); a
 * completion channel watched by the event loop; RECV buffers for requests
 * and SEND buffers for replies. Write access to an OPEN chunk is an MR of
 * exactly its bytes in the owner's PD, deregistered at seal, free or
 * session end; read access to a SEALED chunk is a read-only MR of its sealed
 * bytes in the reader's PD.
 *
 * Threading: everything runs on the event-loop thread of base.
 */
#ifndef CHUNKD_SERVER_RDMA_SERVER_H
#define CHUNKD_SERVER_RDMA_SERVER_H

#include <event2/event.h>
#include <stdint.h>

#include "service.h"

/* Requests a client may have outstanding; the server posts this many RECVs
 * per connection. */
#define RDMA_SERVER_CREDITS 16u

struct rdma_server_opts {
	const char *listen; /* address of an RDMA device, or 0.0.0.0 */
	uint16_t port;
	uint32_t poll_us; /* busy-poll spell after a completion, 0: none */
};

struct rdma_server;

/*
 * Starts listening. Returns 0 and sets *out, or a negative errno with a
 * one-line reason in err (no RDMA device, address not local, port in use).
 */
int rdma_server_start(struct event_base *base, struct service *svc,
		      const struct rdma_server_opts *opts,
		      struct rdma_server **out, char *err, size_t err_len);

/* Closes every connection (ending their sessions) and the listener. */
void rdma_server_stop(struct rdma_server **srv);

/* The port it listens on (useful when opts->port was 0). */
uint16_t rdma_server_port(const struct rdma_server *srv);

#endif
