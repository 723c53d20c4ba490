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
#include "transport.h"

/* The RDMA transport's operations are rdma_transport (transport.h). */

#endif
