/* libchunkclient's requests: send slots, synchronous calls and their
 * replies, and what an ERROR reply means (client.h). */
#include <string.h>

#include "client.h"
#include "common/log.h"
#include "proto/wire.h"

static bool reply_done(struct chunk_client *c)
{
	return !(c->calls.busy_send_slots & 1u) && c->calls.reply_ready &&
	       c->calls.reply.hdr.request_id == c->calls.sync_request;
}

int client_status_from_proto(unsigned status)
{
	switch (status) {
	case PROTO_ST_INVALID:
		return CHUNK_E_INVAL;
	case PROTO_ST_NOENT:
		return CHUNK_E_NOENT;
	case PROTO_ST_NOSPC:
		return CHUNK_E_NOSPC;
	case PROTO_ST_STATE:
		return CHUNK_E_STATE;
	case PROTO_ST_PERM:
		return CHUNK_E_ACCESS;
	case PROTO_ST_CRC:
		return CHUNK_E_CRC;
	case PROTO_ST_MALFORMED:
		return CHUNK_E_PROTO;
	case PROTO_ST_STALE:
		return CHUNK_E_STALE;
	case PROTO_ST_AUTH:
		return CHUNK_E_AUTH;
	case PROTO_ST_UNAVAILABLE:
		return CHUNK_E_UNAVAILABLE;
	case PROTO_ST_FEW_SERVERS:
		return CHUNK_E_FEW_SERVERS;
	default:
		return CHUNK_E_INTERNAL;
	}
}

int client_refused(struct chunk_client *c, const struct proto_msg *error)
{
	/* The code alone cannot say "larger than the pool" from "full": the
	 * application learns the server's reason through the log. */
	if (error->u.error.status == PROTO_ST_STALE)
		client_adopt_epoch(c, error->u.error.detail);
	else
		log_warn("session %llu: chunkd refused request %llu: %s",
			 (unsigned long long)c->sess.id,
			 (unsigned long long)error->hdr.request_id,
			 error->u.error.text);
	return client_status_from_proto(error->u.error.status);
}

void client_adopt_epoch(struct chunk_client *c, uint32_t epoch)
{
	log_warn(
		"session %llu: lease lost (epoch %u, now %u); its unsealed chunks are gone",
		(unsigned long long)c->sess.id, c->sess.epoch, epoch);
	c->sess.epoch = epoch;
	chunk_cache_lose_open(&c->cache, false);
}

/* SENDs len bytes of send slot i, signaled, behind before if not NULL. */
static int post_frame(struct chunk_client *c, unsigned i, int len,
		      struct client_wr *before)
{
	struct client_wr w = {0};
	int rc;

	w.sge.addr = (uintptr_t)client_send_slot(c, i);
	w.sge.length = (uint32_t)len;
	w.sge.lkey = c->msgs_mr->lkey;
	w.wr.wr_id = WR_SEND << 32 | i;
	w.wr.sg_list = &w.sge;
	w.wr.num_sge = 1;
	w.wr.opcode = IBV_WR_SEND;
	w.wr.send_flags = IBV_SEND_SIGNALED;
	rc = client_post_after(c, before, &w);
	if (rc == CHUNK_OK)
		c->calls.busy_send_slots |= 1u << i;
	return rc;
}

/* Waits for the reply to the last request (sent from slot 0). */
static int wait_reply(struct chunk_client *c)
{
	int rc = client_wait_until(c, reply_done);

	if (rc)
		return rc;
	return c->calls.reply.hdr.type == PROTO_ERROR
		       ? client_refused(c, &c->calls.reply)
		       : CHUNK_OK;
}

static bool slot0_free(struct chunk_client *c)
{
	return !(c->calls.busy_send_slots & 1u);
}

void client_persist_request(const struct chunk_client *c,
			    const struct remote_chunk *rc, uint64_t off,
			    uint64_t len, struct proto_msg *req)
{
	memset(req, 0, sizeof(*req));
	req->hdr.type = PROTO_PERSIST;
	req->u.persist.chunk = rc->id;
	req->u.persist.offset = off;
	req->u.persist.length = len;
	req->u.persist.epoch = c->sess.epoch;
}

/* Whether chunkd renews the lease when it serves this request: HELLO
 * starts it, and every request that carries the epoch renews it. */
static bool renews_lease(unsigned type)
{
	return type == PROTO_HELLO || type == PROTO_ALLOC ||
	       type == PROTO_ALLOC_COPY || type == PROTO_PERSIST ||
	       type == PROTO_SEAL || type == PROTO_SEAL_COPIES ||
	       type == PROTO_FREE || type == PROTO_RENEW ||
	       type == PROTO_REPLACE_COPY;
}

int client_call_start(struct chunk_client *c, struct proto_msg *req,
		      struct client_wr *before)
{
	int len, rc = client_wait_until(c, slot0_free);

	if (rc)
		return rc;
	req->hdr.request_id = c->calls.sync_request = ++c->calls.next_request;
	len = proto_encode(req, client_send_slot(c, 0), PROTO_MAX_FRAME);
	if (len < 0)
		return CHUNK_E_INVAL;
	c->calls.reply_ready = false;
	c->calls.sync_renews = renews_lease(req->hdr.type);
	return post_frame(c, 0, len, before);
}

int client_call_finish(struct chunk_client *c)
{
	int rc = wait_reply(c);

	if (rc == CHUNK_OK && c->calls.sync_renews)
		client_lease_renewed(c);
	return rc;
}

int client_call_after(struct chunk_client *c, struct proto_msg *req,
		      struct client_wr *before)
{
	int rc = client_call_start(c, req, before);

	return rc ? rc : client_call_finish(c);
}

int client_call(struct chunk_client *c, struct proto_msg *req)
{
	return client_call_after(c, req, NULL);
}

bool client_request_slot_free(const struct chunk_client *c)
{
	/* Slot 0 is the synchronous calls'; the rest are for async ones. */
	for (unsigned i = 1; i < CLIENT_CREDITS; i++)
		if (!(c->calls.busy_send_slots >> i & 1))
			return true;
	return false;
}

int client_post_request(struct chunk_client *c, struct proto_msg *req,
			uint64_t *request_id, struct client_wr *before)
{
	unsigned i;
	int len;

	for (i = 1; i < CLIENT_CREDITS && (c->calls.busy_send_slots >> i & 1);
	     i++)
		;
	if (i == CLIENT_CREDITS)
		return CHUNK_E_AGAIN;
	req->hdr.request_id = ++c->calls.next_request;
	len = proto_encode(req, client_send_slot(c, i), PROTO_MAX_FRAME);
	if (len < 0)
		return CHUNK_E_INVAL;
	*request_id = req->hdr.request_id;
	return post_frame(c, i, len, before);
}

int client_send_raw(struct chunk_client *c, const void *frame, size_t len)
{
	int rc = client_wait_until(c, slot0_free);

	if (rc)
		return rc;
	if (len > PROTO_MAX_FRAME)
		return CHUNK_E_INVAL;
	/* The server echoes the request id it can read; 0 when it cannot. */
	c->calls.sync_request =
		len >= PROTO_HEADER_LEN
			? wire_get_u64((const uint8_t *)frame + 8)
			: 0;
	memcpy(client_send_slot(c, 0), frame, len);
	c->calls.reply_ready = false;
	rc = post_frame(c, 0, (int)len, NULL);
	return rc ? rc : wait_reply(c);
}
