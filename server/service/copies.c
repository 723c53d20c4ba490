/*
 * What the service does to find chunks in a cluster and for replicated
 * chunks (copies.h): OPEN and OPEN_COPY, PLACED, REPLACE_COPY.
 */
#include "copies.h"

#include <errno.h>
#include <string.h>

#include "answer.h"
#include "frees.h"

/* Puts where loc is into a message's port and address fields; false when
 * the address does not fit a message. */
static bool put_location(const struct table_location *loc, uint16_t *port,
			 uint8_t *addr_len, char addr[PROTO_ADDR_MAX + 1])
{
	size_t len = strlen(loc->address);

	if (len > PROTO_ADDR_MAX)
		return false;
	*port = loc->port;
	*addr_len = (uint8_t)len;
	memcpy(addr, loc->address, len + 1);
	return true;
}

/* Fills l from copies, or makes r an ERROR when an address does not fit a
 * message. */
static void put_copy_list(const struct table_copies *copies,
			  struct proto_copy_list *l, struct proto_msg *r)
{
	l->count = 0;
	for (unsigned i = 0; i < copies->count && i < PROTO_MAX_COPIES; i++) {
		struct proto_copy *p = &l->copy[l->count++];

		p->id = copies->copy[i].id;
		if (!put_location(&copies->copy[i].loc, &p->port, &p->addr_len,
				  p->addr)) {
			answer_fail(r, PROTO_ST_INTERNAL,
				    "a server's address is too long");
			return;
		}
	}
}

void copies_placed(const struct table_copies *where, struct proto_msg *r)
{
	struct proto_grant g = r->u.grant;

	r->hdr.type = PROTO_PLACED;
	r->u.placed.grant = g;
	put_copy_list(where, &r->u.placed.where, r);
}

/* A chunk this server does not hold: where it lives (cluster mode), or
 * NOENT. */
static void open_elsewhere(struct service *s, uint64_t chunk,
			   struct proto_msg *r)
{
	struct table_location loc;
	int rc = table_locate(s->table, chunk, &loc);

	if (rc == -EHOSTDOWN) {
		answer_fail(
			r, PROTO_ST_UNAVAILABLE,
			"chunk %llu lives on a chunkd of the cluster that is not "
			"running now",
			(unsigned long long)chunk);
	} else if (rc || !put_location(&loc, &r->u.elsewhere.port,
				       &r->u.elsewhere.addr_len,
				       r->u.elsewhere.addr)) {
		answer_fail(r, PROTO_ST_NOENT, "no chunk %llu",
			    (unsigned long long)chunk);
	} else {
		r->hdr.type = PROTO_ELSEWHERE;
		r->u.elsewhere.chunk = chunk;
	}
}

/* This pool's chunk for OPEN: 0 and *rec when it is here and sealed;
 * else -1 with *r the answer (an ERROR, or ELSEWHERE when elsewhere). */
static int find_here(struct service *s, uint64_t chunk, bool elsewhere,
		     struct table_record *rec, struct proto_msg *r)
{
	if (frees_lookup(s, chunk, rec)) {
		if (elsewhere)
			open_elsewhere(s, chunk, r);
		else
			answer_fail(r, PROTO_ST_NOENT, "no chunk %llu here",
				    (unsigned long long)chunk);
		return -1;
	}
	if (rec->state != TABLE_CHUNK_SEALED) {
		answer_fail(r, PROTO_ST_STATE, "chunk %llu is not sealed yet",
			    (unsigned long long)chunk);
		return -1;
	}
	return 0;
}

static void read_granted(void *arg, int rc, uint32_t rkey)
{
	struct request *q = arg;
	const struct table_record *rec = &q->found.rec;
	struct proto_msg *r = &q->reply;

	if (rc == -ECANCELED) { /* freed meanwhile */
		answer_fail(r, PROTO_ST_NOENT, "no chunk %llu",
			    (unsigned long long)rec->id);
	} else if (rc) {
		answer_fail(r, PROTO_ST_INTERNAL,
			    "cannot grant read access: %s", strerror(-rc));
	} else {
		r->hdr.type = PROTO_OPENED;
		r->u.opened.chunk = rec->id;
		r->u.opened.addr = (uintptr_t)(q->svc->area + rec->offset);
		r->u.opened.length = rec->sealed_len;
		r->u.opened.rkey = rkey;
		r->u.opened.crc = rec->crc;
	}
	answer_held(q->svc, q);
}

/* Grants read access to rec, this pool's chunk; the answer waits for it. */
static void grant_read(struct request *q, const struct table_record *rec)
{
	q->found.rec = *rec;
	answer_after_grant(q, rec, false, rec->sealed_len, read_granted);
}

/* The table said where a chunk's copies are: COPIES for a replicated one,
 * else this pool's chunk or where it lives. */
static void copies_done(void *arg, const struct table_result *res)
{
	struct request *q = arg;
	uint64_t chunk = q->msg.u.open.chunk;
	struct table_record rec;

	if (res->status == 0 && res->copies.count) {
		q->reply.hdr.type = PROTO_COPIES;
		q->reply.u.copies.chunk = chunk;
		put_copy_list(&res->copies, &q->reply.u.copies.list, &q->reply);
	} else if (q->sess &&
		   find_here(q->svc, chunk, true, &rec, &q->reply) == 0) {
		grant_read(q, &rec);
		return;
	}
	answer_held(q->svc, q);
}

void copies_open(struct service *s, struct session *sess,
		 const struct proto_msg *req, struct proto_msg *r)
{
	struct table_record rec;
	struct request *q;

	if (req->hdr.type == PROTO_OPEN_COPY || !table_replicates(s->table)) {
		if (find_here(s, req->u.open.chunk, req->hdr.type == PROTO_OPEN,
			      &rec, r) == 0 &&
		    (q = answer_hold(s, sess, req, r)))
			grant_read(q, &rec);
		return;
	}
	q = answer_hold(s, sess, req, r);
	if (!q)
		return;
	request_wait_for_table(q);
	table_copies(s->table, req->u.open.chunk, copies_done, q);
}

static void replace_done(void *arg, const struct table_result *res)
{
	struct request *q = arg;
	unsigned long long chunk = q->msg.u.replace.chunk;

	if (res->status == 0) {
		q->reply.hdr.type = PROTO_REPLACED;
		q->svc->counters.copies_replaced++;
	} else if (res->status == -EBUSY)
		answer_fail(&q->reply, PROTO_ST_STATE,
			    "chunk %llu: its copy %llu is on a running chunkd",
			    chunk, (unsigned long long)q->msg.u.replace.lost);
	else if (res->status == -ESTALE) /* not STALE: no lease is lost */
		answer_fail(
			&q->reply, PROTO_ST_STATE,
			"chunk %llu: its copies changed meanwhile; look again",
			chunk);
	else if (res->status == -EHOSTUNREACH)
		answer_fail(&q->reply, PROTO_ST_UNAVAILABLE,
			    "chunk %llu: the cluster's table cannot be reached "
			    "(etcd); the new copy may or may not be placed",
			    chunk);
	else
		answer_fail(
			&q->reply,
			res->status == -ENOENT ? PROTO_ST_NOENT
					       : PROTO_ST_INVALID,
			"chunk %llu: copy %llu cannot take the place of %llu: %s",
			chunk, (unsigned long long)q->msg.u.replace.copy,
			(unsigned long long)q->msg.u.replace.lost,
			res->status == -ENODATA
				? "it is not a sealed copy of it "
				  "alike on a server of its own"
				: strerror(-res->status));
	answer_held(q->svc, q);
}

void copies_replace(struct service *s, struct session *sess,
		    const struct proto_msg *req, struct proto_msg *r)
{
	struct request *q;

	if (answer_check_epoch(s, sess, req->u.replace.epoch, r) ||
	    !(q = answer_hold(s, sess, req, r)))
		return;
	request_wait_for_table(q);
	table_replace_copy(s->table, req->u.replace.chunk, req->u.replace.lost,
			   req->u.replace.copy, replace_done, q);
}
