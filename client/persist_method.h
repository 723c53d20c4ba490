/*
 * The ways a client makes written bytes durable, as objects: one is chosen
 * at connect, from what chunkd offers and the application allows, and
 * nothing else branches on which (librpma's rpma_flush is the model):
 * native-flush (an RDMA FLUSH, IBTA 1.5), read-after-write, persist-rpc.
 *
 * Threading: under the client's lock.
 */
#ifndef CHUNKD_CLIENT_PERSIST_METHOD_H
#define CHUNKD_CLIENT_PERSIST_METHOD_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

struct persist_method {
	unsigned flag;	  /* CHUNK_PERSIST_* */
	const char *name; /* as chunkd's log and chunkctl say it */
	/* Makes [off, off + len) of rc durable in two halves, so several
	 * copies work at once: start posts (held, the last write or NULL, in
	 * the same doorbell), finish waits until the range is durable. */
	int (*start)(struct chunk_client *c, const struct remote_chunk *rc,
		     uint64_t off, uint64_t len, struct client_wr *held);
	int (*finish)(struct chunk_client *c);
	/* Whether an asynchronous persist can be posted now. */
	bool (*can_post)(const struct chunk_client *c);
	/* Posts the same so that async op `op` completes when it is durable
	 * (through async_take_reply or async_rdma_done). */
	int (*post)(struct chunk_client *c, const struct remote_chunk *rc,
		    uint64_t off, uint64_t len, unsigned op,
		    struct client_wr *held);
};

/* Makes [off, off + len) of rc durable with c's method, posting held (the
 * last write, or NULL) in the same doorbell; returns when it is. */
int persist_method_persist(struct chunk_client *c,
			   const struct remote_chunk *rc, uint64_t off,
			   uint64_t len, struct client_wr *held);

/* The cheapest method in offered & allowed (CHUNK_PERSIST_* bits), or NULL
 * when they share none; native-flush only where the client's queue pair
 * can FLUSH (can_flush). */
const struct persist_method *
persist_method_choose(unsigned offered, unsigned allowed, bool can_flush);

#endif
