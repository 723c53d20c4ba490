/*
 * libchunkclient's asynchronous operations (async.c): what the layer that
 * routes the connection's completions (connect.c) calls. Not installed.
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

#endif
