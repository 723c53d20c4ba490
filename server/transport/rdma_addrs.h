/*
 * Which local addresses an RDMA device serves: rdma_cm binds any local
 * address, but only one of an RDMA device's interfaces reaches clients
 * (a bind to 127.0.0.1 succeeds and then nothing connects).
 */
#ifndef CHUNKD_SERVER_RDMA_ADDRS_H
#define CHUNKD_SERVER_RDMA_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Whether addr is the IPv4 or IPv6 wildcard (every device). */
bool rdma_addrs_is_wildcard(const struct sockaddr *addr);

/* Writes the IPv4 addresses that an RDMA device serves, separated by ", ",
 * into buf (len bytes); "none" when there is none. */
void rdma_addrs_list(char *buf, size_t len);

#endif
