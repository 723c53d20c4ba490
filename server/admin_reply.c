/* The admin socket's replies (admin_reply.h). */
#include "admin_reply.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *admin_error(int err, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* The text may quote the request's bytes, which need not be UTF-8:
	 * jansson would refuse it, and the client would get no answer. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", text, "code",
			 err == ENOENT	 ? "ENOENT"
			 : err == EINVAL ? "EINVAL"
					 : "EIO");
}

json_t *admin_ok(json_t *data)
{
	json_object_set_new(data, "ok", json_true());
	return data;
}

json_t *admin_record_json(const struct table_record *r)
{
	char crc[11];

	snprintf(crc, sizeof(crc), "0x%08x", r->crc);
	return json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:i, s:s, s:I, s:I}",
			 "id", (json_int_t)r->id, "state",
			 table_chunk_state_name(r->state), "offset",
			 (json_int_t)r->offset, "length", (json_int_t)r->length,
			 "sealed_length", (json_int_t)r->sealed_len, "session",
			 (json_int_t)r->session, "epoch", (int)r->epoch,
			 "crc32c", crc, "created", (json_int_t)r->created_s,
			 "sealed", (json_int_t)r->sealed_s);
}

char *admin_reply_text(json_t *reply)
{
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

	/* Every line gets an answer, even when memory ran out. */
	return text ? text
		    : strdup("{\"ok\":false,\"error\":\"chunkd could not "
			     "build the reply\",\"code\":\"EIO\"}");
}

void admin_send_line(struct bufferevent *bev, const char *text)
{
	bufferevent_write(bev, text, strlen(text));
	bufferevent_write(bev, "\n", 1);
}

struct admin_later *admin_later_new(struct admin_pending *p,
				    struct bufferevent *bev, json_t *partial,
				    const void *ctx)
{
	struct admin_later *l = calloc(1, sizeof(*l));

	if (!l) {
		json_decref(partial);
		return NULL;
	}
	l->pending = p;
	l->ctx = ctx;
	l->bev = bev;
	l->partial = partial;
	return l;
}

void admin_later_answer(struct admin_later *l, json_t *reply)
{
	char *text;

	json_decref(l->partial);
	l->partial = NULL;
	if (!l->waiting) {
		l->reply = reply;
		return;
	}
	if (l->pending && l->bev) {
		text = admin_reply_text(reply);
		admin_send_line(l->bev, text);
		free(text);
	}
	json_decref(reply);
	if (l->pending)
		list_remove(&l->link);
	free(l);
}

json_t *admin_later_started(struct admin_later *l)
{
	json_t *reply = l->reply;

	if (reply) {
		free(l);
		return reply;
	}
	l->waiting = true;
	list_push(&l->pending->later, &l->link);
	l->pending->deferred = true;
	return NULL;
}

void admin_pending_init(struct admin_pending *p)
{
	list_init(&p->later);
	p->deferred = false;
}

void admin_pending_client_gone(struct admin_pending *p, struct bufferevent *bev)
{
	for (struct list_link *k = p->later.next; k != &p->later; k = k->next) {
		struct admin_later *l = LIST_ITEM(k, struct admin_later, link);

		if (l->bev == bev)
			l->bev = NULL; /* its answer goes nowhere */
	}
}

void admin_pending_stop(struct admin_pending *p)
{
	while (!list_empty(&p->later)) { /* their completions free them */
		struct admin_later *l =
			LIST_ITEM(p->later.next, struct admin_later, link);

		list_remove(&l->link);
		l->pending = NULL;
	}
}
