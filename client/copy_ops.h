/*
 * What libchunkclient does with one copy of a chunk through one
 * connection: its requests (alloc, seal, open, free) and the RDMA that
 * moves its bytes. chunk_ops.c uses them for a chunk of one copy, and
 * replicated.c for each copy of a replicated chunk.
 *
 * Threading: under the connection's lock.
 */
#ifndef CHUNKD_CLIENT_COPY_OPS_H
#define CHUNKD_CLIENT_COPY_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Sends req (ALLOC or ALLOC_COPY) and keeps the grant of a GRANT or PLACED
 * reply as a writable chunk; sets *id. The reply stays in c->calls.reply
 * (PLACED's list of servers). CHUNK_E_* as chunk_alloc(). */
int copy_alloc(struct chunk_client *c, struct proto_msg *req, uint64_t *id);

/* The writable chunk id of this session, if [off, off + len) is inside it
 * (CHUNK_E_INVAL if not); as chunk_cache_writable() otherwise. */
int copy_writable_range(struct chunk_client *c, uint64_t id, uint64_t off,
			uint64_t len, struct remote_chunk **out);

/* Posts WRITEs of buf to rc. All but the last piece through the bounce
 * buffer are waited for (the buffer is reused). With held, the last piece
 * is built unsignaled into *held and not posted: the persist that follows
 * on the same QP posts it in the same doorbell and completes it. */
int copy_post_writes(struct chunk_client *c, struct remote_chunk *rc,
		     uint64_t off, const uint8_t *buf, size_t len,
		     struct client_wr *held);

/* Reads [off, off + len) of rc into buf, waiting. */
int copy_post_reads(struct chunk_client *c, struct remote_chunk *rc,
		    uint64_t off, uint8_t *buf, size_t len);

/* A call that learnt of the lost lease itself reports it: the chunk it was
 * about is forgotten now, not at the next call. Returns st. */
int copy_forget_if_lost(struct chunk_client *c, uint64_t id, int st);

/* Seals the writable chunk id with SEAL, or with SEAL_COPIES naming the
 * count other copies. On a CRC refusal the chunk stays writable (with the
 * new rkey chunkd gave). CHUNK_E_* as chunk_seal(). */
int copy_seal(struct chunk_client *c, uint64_t id, uint64_t len, uint32_t crc,
	      const uint64_t *others, unsigned count);

/* Keeps the OPENED reply in c->calls.reply as readable chunk id, and
 * fills info (if not NULL). */
int copy_keep_opened(struct chunk_client *c, uint64_t id,
		     struct chunk_info *info);

/* Opens this server's copy id itself (OPEN_COPY) for reading. */
int copy_open_here(struct chunk_client *c, uint64_t id,
		   struct chunk_info *info);

/* Frees chunk id at this server (FREE). */
int copy_free(struct chunk_client *c, uint64_t id);

#endif
