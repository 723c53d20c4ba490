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
			     uint64_t len, uint32_t *rkey,
			     session_grant_fn *done, void *arg)
{
	(void)ctx;
	(void)chunk;
	(void)addr;
	(void)len;
	(void)done;
	(void)arg;
	*rkey = 1;
	return 0;
}

static inline void null_revoke(void *ctx, uint64_t chunk)
{
	(void)ctx;
	(void)chunk;
}

static inline int null_revoke_async(void *ctx, uint64_t chunk,
				    session_revoked_fn *done, void *arg)
{
	(void)ctx;
	(void)chunk;
	(void)done;
	(void)arg;
	return 0;
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
	.revoke_write_async = null_revoke_async,
	.grant_read = null_grant,
	.revoke_read = null_revoke,
	.revoke_read_async = null_revoke_async,
};

#endif
