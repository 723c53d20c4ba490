/*
 * libchunkclient's internals: the connection (client.c), chunk operations
 * (chunk_ops.c) and registered memory (mem.c) share this. Not installed.
 */
#ifndef CHUNKD_CLIENT_CLIENT_H
#define CHUNKD_CLIENT_CLIENT_H

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>

#include "chunkclient.h"
#include "common/idmap.h"
#include "proto/msg.h"

#define CLIENT_CREDITS 16u /* the server's RECV credits */
#define CLIENT_SCRATCH_LEN                                                     \
	64u /* after the messages: read-after-write target                     \
	     */

/* What the client knows of a chunk it may access. */
struct remote_chunk {
	uint64_t id;
	uint64_t addr;	 /* in the server's address space */
	uint64_t length; /* writable bytes, or sealed bytes when readable */
	uint32_t rkey;
	bool writable; /* an OPEN chunk of this session */
	bool readable; /* an opened SEALED chunk */
	uint32_t crc;
};

struct chunk_mem {
	struct chunk_client *client;
	struct ibv_mr *mr;
	struct chunk_mem *next;
};

struct chunk_client {
	struct chunk_client_opts opts;
	char host[256];
	uint16_t port;
	struct rdma_event_channel *cm;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *channel;
	struct ibv_cq *cq;
	uint8_t *
		msgs; /* CLIENT_CREDITS receive, CLIENT_CREDITS send, scratch */
	struct ibv_mr *msgs_mr;
	uint8_t *bounce;
	struct ibv_mr *bounce_mr;
	uint64_t session;
	uint32_t epoch;
	unsigned persist_method;
	uint64_t next_request;
	struct proto_msg reply; /* the last reply received */
	bool reply_ready;
	unsigned sends_in_flight; /* signaled WRs not yet completed */
	int wc_error;		  /* first failed completion, as CHUNK_E_* */
	struct remote_chunk *chunks;
	size_t chunk_count, chunk_cap;
	struct idmap chunk_index; /* id -> index in chunks */
	struct chunk_mem *mems;
};

/* Sends req and waits for its reply into c->reply. Returns CHUNK_OK, or
 * the ERROR's status as CHUNK_E_*, or a transport error. */
int client_call(struct chunk_client *c, struct proto_msg *req);

/* Sends len raw bytes as one message and waits for the reply (tests use
 * it to send malformed frames). Returns as client_call(). */
int client_send_raw(struct chunk_client *c, const void *frame, size_t len);

/* Posts one RDMA WRITE or READ; signaled ones are waited for with
 * client_wait_sends(). */
int client_post_rdma(struct chunk_client *c, enum ibv_wr_opcode op, void *local,
		     uint32_t lkey, size_t len, uint64_t remote, uint32_t rkey,
		     bool signaled);

/* Waits until every signaled WR has completed. */
int client_wait_sends(struct chunk_client *c);

/* Tears the connection down and connects again (a new session). */
int client_reconnect(struct chunk_client *c);

/* After an operation: a failed completion means the queue pair is in the
 * error state, so reconnect; returns that failure, else rc. */
int client_finish(struct chunk_client *c, int rc);

/* The chunk record for id, or NULL. */
struct remote_chunk *client_chunk(struct chunk_client *c, uint64_t id);
struct remote_chunk *client_chunk_add(struct chunk_client *c, uint64_t id);
void client_chunk_forget(struct chunk_client *c, uint64_t id);

/* The registration covering [addr, addr + len), or NULL. */
struct ibv_mr *client_mem_find(struct chunk_client *c, const void *addr,
			       size_t len);

/* proto_status -> CHUNK_E_* */
int client_status_from_proto(unsigned status);

#endif
