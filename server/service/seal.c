#include "seal.h"

#include <errno.h>
#include <string.h>

#include "answer.h"
#include "common/crc32c.h"
#include "frees.h"

/* ---- GRANTING: write access back after a refusal ---- */

static void regranted(void *arg, int rc, uint32_t rkey)
{
	struct request *q = arg;

	q->reply.u.error.detail = rc ? 0 : rkey; /* 0: could not */
	answer_held(q->svc, q);
}

/* Answers q's ERROR (already in its reply) once the session may write
 * rec again, with the new rkey in the detail. */
static void regrant_write(struct request *q, const struct table_record *rec)
{
	if (q->sess)
		answer_after_grant(q, rec, true, rec->length, regranted);
	else
		answer_held(q->svc, q);
}

/* A seal the table refused before any change: the chunk is still OPEN
 * and its session may write it again. */
static void regrant_after_refusal(struct request *q)
{
	struct table_record rec;

	if (q->sess && frees_lookup(q->svc, q->msg.u.seal.chunk, &rec) == 0 &&
	    rec.state == TABLE_CHUNK_OPEN)
		regrant_write(q, &rec);
	else
		answer_held(q->svc, q);
}

/* ---- TABLE_PENDING ---- */

/* The reply to a seal the table answered with res. */
static void seal_reply(struct request *q, const struct table_result *res)
{
	uint64_t chunk = q->msg.u.seal.chunk;

	if (res->status == 0)
		q->reply.hdr.type = PROTO_SEALED; /* orphaned: it stands */
	else if (res->status == -ENOENT)
		answer_fail(&q->reply, PROTO_ST_NOENT,
			    "chunk %llu was freed meanwhile",
			    (unsigned long long)chunk);
	else if (res->status == -EALREADY)
		answer_fail(&q->reply, PROTO_ST_STATE, "chunk %llu is sealed",
			    (unsigned long long)chunk);
	else if (res->status == -ESTALE) {
		answer_fail(
			&q->reply, PROTO_ST_STALE,
			"chunk %llu: its record in the cluster's table is gone "
			"(this chunkd's etcd lease ended); it cannot be sealed",
			(unsigned long long)chunk);
		q->reply.u.error.detail = q->sess ? q->sess->epoch : 0;
	} else if (res->status == -EHOSTUNREACH)
		answer_fail(&q->reply, PROTO_ST_UNAVAILABLE,
			    "chunk %llu: the cluster's table cannot be reached "
			    "(etcd); not sealed yet: seal it again",
			    (unsigned long long)chunk);
	else if (res->status == -ENODATA)
		answer_fail(
			&q->reply, PROTO_ST_STATE,
			"chunk %llu: its copy %llu is not sealed with this length "
			"and CRC32C; the chunk stays open",
			(unsigned long long)chunk,
			(unsigned long long)res->bad_copy);
	else if (res->status == -EINVAL && q->msg.hdr.type == PROTO_SEAL)
		answer_fail(
			&q->reply, PROTO_ST_INVALID,
			"chunk %llu has further copies: seal it with SEAL_COPIES",
			(unsigned long long)chunk);
	else if (res->status == -EINVAL || res->status == -EOPNOTSUPP)
		answer_fail(
			&q->reply, PROTO_ST_INVALID,
			"chunk %llu: the copies named are not its other copies, "
			"each on a chunkd of its own (or this is not cluster "
			"mode)",
			(unsigned long long)chunk);
	else
		/* Write access is gone: the chunk stays OPEN until its
		 * session ends, and the client cannot write it again. */
		answer_fail(&q->reply, PROTO_ST_INTERNAL,
			    "chunk %llu: recording the seal failed: %s",
			    (unsigned long long)chunk, strerror(-res->status));
}

static void seal_done(void *arg, const struct table_result *res)
{
	struct request *q = arg;

	seal_reply(q, res);
	if (res->status == -ENODATA || res->status == -EINVAL)
		regrant_after_refusal(q);
	else
		answer_held(q->svc, q);
}

/* ---- CHECKING: on a worker, then back on the loop ---- */

static struct request *request_of_work(struct work *w)
{
	return (struct request *)((char *)w - offsetof(struct request, work));
}

/* Reads the content: write access is gone, so nothing changes it now. */
static void check_content(struct work *w)
{
	struct request *q = request_of_work(w);
	uint8_t *addr = q->svc->area + q->found.rec.offset;
	uint64_t len = q->msg.u.seal.length;

	q->crc_got = crc32c(0, addr, len);
	if (q->crc_got == q->msg.u.seal.crc)
		persist_range(q->svc->data, addr, len);
}

static void content_checked(struct work *w)
{
	struct request *q = request_of_work(w);
	struct service *s = q->svc;
	const struct proto_msg *m = &q->msg;

	if (q->crc_got != m->u.seal.crc) {
		answer_fail(&q->reply, PROTO_ST_CRC,
			    "chunk %llu: content CRC32C 0x%08x, not 0x%08x; "
			    "still open",
			    (unsigned long long)m->u.seal.chunk, q->crc_got,
			    m->u.seal.crc);
		regrant_write(q, &q->found.rec);
		return;
	}
	request_wait_for_table(q);
	if (m->hdr.type == PROTO_SEAL_COPIES)
		table_seal_replicated(s->table, m->u.seal.chunk,
				      m->u.seal.length, m->u.seal.crc,
				      m->u.seal.copies, m->u.seal.count,
				      seal_done, q);
	else
		table_seal(s->table, m->u.seal.chunk, m->u.seal.length,
			   m->u.seal.crc, seal_done, q);
}

/* ---- REVOKING ---- */

static void write_revoked(void *arg)
{
	struct request *q = arg;

	request_wait_for(q, REQUEST_CHECKING);
	q->work.run = check_content;
	q->work.done = content_checked;
	if (q->svc->workers && q->msg.u.seal.length > SEAL_INLINE_BYTES) {
		workers_submit(q->svc->workers, &q->work);
		return;
	}
	check_content(&q->work);
	content_checked(&q->work);
}

void seal_start(struct service *s, struct session *sess,
		const struct proto_msg *req, struct proto_msg *r)
{
	uint64_t chunk = req->u.seal.chunk, len = req->u.seal.length;
	struct table_record rec;
	struct request *q;

	if (answer_check_epoch(s, sess, req->u.seal.epoch, r) ||
	    answer_find_own_open(s, sess, chunk, &rec, r))
		return;
	if (len > rec.length) {
		answer_fail(r, PROTO_ST_INVALID,
			    "seal length %llu exceeds chunk %llu",
			    (unsigned long long)len, (unsigned long long)chunk);
		return;
	}
	q = answer_hold(s, sess, req, r);
	if (!q)
		return;
	q->found.rec = rec;
	request_wait_for(q, REQUEST_REVOKING);
	if (sess->ops->revoke_write_async(sess->ops_ctx, chunk, write_revoked,
					  q) != -EINPROGRESS)
		write_revoked(q);
}
