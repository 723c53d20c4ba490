/*
 * A chunkd's registration in etcd (PREFIX/members/NAME, under its lease),
 * as JSON: {"name", "address", "port", "pool", "boot", "node", "pool_size",
 * "free", "open", "sealed", "lease"}. boot is new at every start, so a
 * restart shows even when nothing else changed.
 */
#ifndef CHUNKD_CLUSTER_MEMBER_H
#define CHUNKD_CLUSTER_MEMBER_H

#include <stdint.h>

#include "cluster_keys.h"

struct member {
	char name[CLUSTER_NAME_MAX];
	char address[64]; /* where clients reach it over RDMA */
	uint16_t port;
	char pool[CLUSTER_UUID_HEX];
	char boot[CLUSTER_UUID_HEX];
	uint32_t node;
	uint64_t pool_size;  /* the chunk area */
	uint64_t free_bytes; /* as of its last report */
	uint64_t open_chunks, sealed_chunks;
	int64_t lease;
};

/* The JSON text (malloc'd: free it), or NULL when memory ran out. */
char *member_encode(const struct member *m);

/* Parses text; -EPROTO when it is not a registration. */
int member_decode(const char *text, struct member *m);

#endif
