/*
 * chunkd's file descriptors: each RDMA connection holds one (its
 * completion channel), so the descriptor limit bounds the connections.
 * chunkd raises its soft limit to the hard one at start, keeps a reserve
 * for everything else (the pool, the event loop, rdma_cm, the admin socket
 * and its clients, in cluster mode etcd's connections (at most 8), logs),
 * and by default allows as many connections as the rest can hold.
 */
#ifndef CHUNKD_SERVER_FD_LIMIT_H
#define CHUNKD_SERVER_FD_LIMIT_H

#include <stdint.h>

/* Descriptors kept for all but RDMA connections; the admin socket's
 * clients (ADMIN_MAX_CLIENTS) fit in it. */
#define FD_LIMIT_RESERVE 64u

/* Descriptors one RDMA connection holds (its completion channel). */
#define FD_LIMIT_PER_CONNECTION 1u

/* The default connection limit never goes above this: each connection
 * also pins about 200 KiB of message buffers. */
#define FD_LIMIT_MAX_CONNECTIONS 4096u

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft
 * limit now in force (unchanged if raising failed). */
uint64_t fd_limit_raise(void);

/* The connections that fit in limit descriptors after the reserve, at
 * most FD_LIMIT_MAX_CONNECTIONS and at least 1. */
uint32_t fd_limit_connections(uint64_t limit);

#endif
