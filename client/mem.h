/* libchunkclient's registered memory (mem.c). Not installed. */
#ifndef CHUNKD_CLIENT_MEM_H
#define CHUNKD_CLIENT_MEM_H

#include <stddef.h>

#include "client.h"

/* At disconnect: deregisters every chunk_mem of the client and detaches
 * the handles, which stay valid until the application's chunk_mem_dereg(). */
void client_mem_orphan_all(struct chunk_client *c);

/* The registration covering [addr, addr + len), or NULL. */
struct ibv_mr *client_mem_find(struct chunk_client *c, const void *addr,
			       size_t len);

#endif
