/*
 * A transport that does nothing, for tests that drive the service or the
 * admin socket without RDMA: every grant succeeds with rkey 1, revokes and
 * replies are dropped.
 */
#ifndef CHUNKD_TESTS_NULL_SESSION_H
#define CHUNKD_TESTS_NULL_SESSION_H

#include <stdint.h>

#include "service/service.h"

static inline int null_grant(void *ctx, uint64_t chunk, uint8_t *addr,
			     uint64_t len, uint32_t *rkey)
{
	(void)ctx;
	(void)chunk;
	(void)addr;
	(void)len;
	*rkey = 1;
	return 0;
}

static inline void null_revoke(void *ctx, uint64_t chunk)
{
	(void)ctx;
	(void)chunk;
}

static inline int null_send(void *ctx, const struct proto_msg *reply)
{
	(void)ctx;
	(void)reply;
	return 0;
}

static const struct session_ops null_session_ops = {
	.send_reply = null_send,
	.grant_write = null_grant,
	.revoke_write = null_revoke,
	.grant_read = null_grant,
	.revoke_read = null_revoke,
};

#endif
