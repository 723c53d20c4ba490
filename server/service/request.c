#include "request.h"

#include <stdlib.h>

#include "service.h"

struct request *request_new(struct session *sess, const struct proto_msg *msg)
{
	struct request *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->state = REQUEST_STARTING;
	r->sess = sess;
	r->epoch = sess->epoch;
	r->msg = *msg;
	r->reply.hdr.request_id = msg->hdr.request_id;
	r->next = sess->held;
	if (sess->held)
		sess->held->prev = r;
	sess->held = r;
	return r;
}

void request_wait_for(struct request *r, enum request_state state)
{
	if (r->state != REQUEST_ORPHANED) /* it stays so to the end */
		r->state = state;
}

void request_wait_for_table(struct request *r)
{
	request_wait_for(r, REQUEST_TABLE_PENDING);
}

static void unlink_request(struct request *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (r->sess && r->sess->held == r)
		r->sess->held = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

void request_free(struct request *r)
{
	unlink_request(r);
	free(r);
}

void request_orphan_all(struct session *sess)
{
	while (sess->held) {
		struct request *r = sess->held;

		sess->held = r->next;
		r->next = r->prev = NULL;
		r->sess = NULL;
		r->state = REQUEST_ORPHANED;
	}
}
