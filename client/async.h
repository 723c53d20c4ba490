/*
 * libchunkclient's asynchronous operations (async.c): what the layer that
 * routes the connection's completions (connect.c) calls, and what the
 * public calls (async_calls.c, replicated_async.c) start ops with. Not
 * installed.
 */
#ifndef CHUNKD_CLIENT_ASYNC_H
#define CHUNKD_CLIENT_ASYNC_H

#include <stdbool.h>

#include "client.h"

/* Called by the completion handler: whether an async op took this reply
 * (and completed), and the completion of an async op's RDMA WR. */
bool async_take_reply(struct chunk_client *c, const struct proto_msg *reply);
void async_rdma_done(struct chunk_client *c, unsigned op, int status);

/* Completes every op in flight with status (the connection is lost). */
void async_fail_all(struct chunk_client *c, int status);

/* Runs the callbacks of ops that completed while the renewer thread held
 * the client (it never runs them itself). */
void async_run_finished(struct chunk_client *c);

/* What one op does on one connection: an RDMA WRITE or READ of buf (NULL:
 * none) at [off, off + len) of chunk id, and with persist, the persist of
 * that range behind it. */
struct async_io {
	uint64_t id, off;
	void *buf;
	size_t len;
	bool write, persist;
};

/* Whether io could start on c: CHUNK_OK or why not (chunk unknown or not
 * writable, range, memory not registered). Starts nothing. */
int async_check(struct chunk_client *c, const struct async_io *io);

/* Whether c has slots op slots free, and with persist a request slot. */
bool async_room(const struct chunk_client *c, unsigned slots, bool persist);

/* Starts io on c; done(arg, status) is called once it completes. CHUNK_OK,
 * CHUNK_E_AGAIN (no room), or why it could not start. */
int async_start(struct chunk_client *c, const struct async_io *io,
		chunk_done_fn *done, void *arg);

/* A group op on c, calling done(arg, status) once every part completed
 * (status: the first part's failure). NULL when no slot is free. */
struct async_op *async_group_open(struct chunk_client *c, chunk_done_fn *done,
				  void *arg);

/* Starts io on conn (the owner or one of its peers, under its lock) as a
 * part of op. */
int async_group_part(struct async_op *op, struct chunk_client *conn,
		     const struct async_io *io);

/* Ends the starting of op's parts, status the last start's. When no part
 * started, the op is undone and status returned; else CHUNK_OK, and the
 * callback reports status with the parts'. */
int async_group_close(struct async_op *op, int status);

#endif
