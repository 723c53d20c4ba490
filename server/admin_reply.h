/*
 * The admin socket's replies: JSON errors and successes, a chunk's record,
 * and replies that come later (when etcd answers, in cluster mode): such a
 * reply goes to the connection that asked if it is still open, and its
 * completion frees it even after the admin stopped.
 *
 * Threading: the event-loop thread only, as the admin.
 */
#ifndef CHUNKD_SERVER_ADMIN_REPLY_H
#define CHUNKD_SERVER_ADMIN_REPLY_H

#include <event2/bufferevent.h>
#include <jansson.h>
#include <stdbool.h>

#include "common/list.h"
#include "table/table.h"

/* The replies an admin waits for, and whether the request being handled
 * is one of them. */
struct admin_pending {
	struct list_link later;
	bool deferred;
};

/* One reply that waits. */
struct admin_later {
	struct admin_pending *pending; /* NULL once the admin stopped */
	struct bufferevent *bev;       /* NULL once the client left (or none) */
	json_t *partial;	       /* the reply's data so far */
	json_t *reply;		       /* an answer that came at once */
	bool waiting;	       /* the dispatch returned: answer by bev */
	const void *ctx;       /* what the completion needs */
	struct list_link link; /* on pending->later */
};

/* {"ok": false, "error": one line, "code": an errno name}. */
json_t *admin_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* data with "ok": true. */
json_t *admin_ok(json_t *data);

json_t *admin_record_json(const struct table_record *r);

/* reply as one line of text (malloc'd), or a fixed error line when it
 * cannot be built: every request gets an answer. */
char *admin_reply_text(json_t *reply);

void admin_send_line(struct bufferevent *bev, const char *text);

void admin_pending_init(struct admin_pending *p);

/* A reply to come for bev, with partial (taken) as its data so far; NULL
 * when out of memory. */
struct admin_later *admin_later_new(struct admin_pending *p,
				    struct bufferevent *bev, json_t *partial,
				    const void *ctx);

/* The answer to l's request (taken): to the dispatch if it is still
 * running (an answer at once), else to the client; frees l then. */
void admin_later_answer(struct admin_later *l, json_t *reply);

/* After l's call started: its answer if it came at once, else NULL with
 * the request deferred. */
json_t *admin_later_started(struct admin_later *l);

/* bev's connection closed: its replies go nowhere. */
void admin_pending_client_gone(struct admin_pending *p,
			       struct bufferevent *bev);

/* The admin stops: the replies still waiting are its completions' to free. */
void admin_pending_stop(struct admin_pending *p);

#endif
