#include "etcd.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/list.h"
#include "common/log.h"
#include "etcd_json.h"

#define GRPC_NOT_FOUND 5

struct etcd {
	struct event_base *base;
	struct etcd_http *http;
	bool lost;		/* the last call found no etcd to answer it */
	struct list_link calls; /* waiting for their answers */
};

struct etcd_call {
	struct etcd *e;
	struct etcd_http_request *req;
	etcd_done_fn *done;
	void *arg;
	struct list_link link; /* on e->calls, for etcd_free */
};

int etcd_new(struct event_base *base, const char *endpoints,
	     unsigned timeout_ms, struct etcd **out, char *err, size_t err_len)
{
	struct etcd *e = calloc(1, sizeof(*e));
	int rc;

	if (!e) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	e->base = base;
	list_init(&e->calls);
	rc = etcd_http_new(base, endpoints, timeout_ms, &e->http, err, err_len);
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void etcd_free(struct etcd **e)
{
	if (!*e)
		return;
	while (!list_empty(&(*e)->calls)) {
		struct etcd_call *c =
			LIST_ITEM((*e)->calls.next, struct etcd_call, link);

		list_remove(&c->link);
		etcd_http_cancel(&c->req);
		free(c);
	}
	etcd_http_free(&(*e)->http);
	free(*e);
	*e = NULL;
}

const char *etcd_endpoints(const struct etcd *e)
{
	return etcd_http_endpoints(e->http);
}

struct event_base *etcd_base(const struct etcd *e)
{
	return e->base;
}

struct etcd_http *etcd_http_of(const struct etcd *e)
{
	return e->http;
}

bool etcd_reachable(const struct etcd *e)
{
	return !e->lost;
}

/* Logs a change of reachability, once. */
static void note_reachability(struct etcd *e, const struct etcd_result *r)
{
	bool lost = r->status == -ECONNREFUSED || r->status == -ETIMEDOUT ||
		    r->status == -EIO || r->status == -EAGAIN;

	if (lost && !e->lost)
		log_warn("%s; the cluster's table cannot change until etcd "
			 "answers again",
			 r->message);
	else if (!lost && e->lost)
		log_info("etcd answers again (%s)", etcd_endpoints(e));
	e->lost = lost;
}

/* An error answer: {"error": ..., "message": ..., "code": N}. */
static void decode_error(json_t *body, long http, struct etcd_result *r,
			 char *why, size_t why_len)
{
	json_t *code = json_object_get(body, "code");
	const char *msg = json_string_value(json_object_get(body, "message"));

	snprintf(why, why_len, "etcd answered HTTP %ld: %s", http,
		 msg ? msg : "(no message)");
	r->message = why;
	if (json_integer_value(code) == GRPC_NOT_FOUND)
		r->status = -ENOENT;
	else if (http >= 500)
		/* A member without quorum answers after its own timeout: 503
		 * "request timed out" to a read, 500 "context deadline
		 * exceeded" to a write. The cluster is as good as unreachable.
		 */
		r->status = -EAGAIN;
	else
		r->status = -EREMOTEIO;
}

static void decode(const struct etcd_http_answer *a, struct etcd_result *r,
		   char *why, size_t why_len)
{
	json_error_t jerr;

	memset(r, 0, sizeof(*r));
	if (a->status) {
		r->status = a->status;
		snprintf(why, why_len, "etcd at %s: %s", a->endpoint,
			 a->status == -ECONNREFUSED
				 ? "unreachable, or without a leader"
			 : a->status == -ETIMEDOUT ? "no answer in time"
			 : a->reason		   ? a->reason
						   : "failed");
		r->message = why;
		return;
	}
	r->body = json_loadb(a->body, a->len, 0, &jerr);
	if (!json_is_object(r->body)) {
		r->status = -EPROTO;
		snprintf(why, why_len, "etcd at %s sent no JSON object: %s",
			 a->endpoint, jerr.text);
		r->message = why;
		return;
	}
	if (a->code != 200) {
		decode_error(r->body, a->code, r, why, why_len);
		return;
	}
	r->revision = etcd_json_int(json_object_get(
		json_object_get(r->body, "header"), "revision"));
	/* proto3 JSON leaves false out: a txn whose compares failed has no
	 * "succeeded" at all. */
	r->succeeded = json_is_true(json_object_get(r->body, "succeeded"));
}

static void call_done(void *arg, const struct etcd_http_answer *a)
{
	struct etcd_call *c = arg;
	struct etcd_result r;
	char why[512];

	list_remove(&c->link);
	decode(a, &r, why, sizeof(why));
	note_reachability(c->e, &r);
	c->done(c->arg, &r);
	json_decref(r.body);
	free(c);
}

int etcd_call(struct etcd *e, const char *path, json_t *request,
	      etcd_done_fn *done, void *arg)
{
	struct etcd_call *c = malloc(sizeof(*c));
	char *text = json_dumps(request, JSON_COMPACT);

	json_decref(request);
	if (!c || !text)
		goto err_free;
	c->e = e;
	c->done = done;
	c->arg = arg;
	c->req = etcd_http_post(e->http, path, text, call_done, c);
	if (!c->req)
		goto err_free;
	list_push(&e->calls, &c->link);
	free(text);
	return 0;
err_free:
	free(text);
	free(c);
	return -ENOMEM;
}

struct waiter {
	bool finished;
	int status;
	json_t *body;
	int64_t revision;
	bool succeeded;
	char *err;
	size_t err_len;
};

static void wait_done(void *arg, const struct etcd_result *r)
{
	struct waiter *w = arg;

	w->finished = true;
	w->status = r->status;
	w->revision = r->revision;
	w->succeeded = r->succeeded;
	if (r->status == 0)
		w->body = json_incref(r->body);
	else
		snprintf(w->err, w->err_len, "%s", r->message);
}

int etcd_call_wait(struct etcd *e, const char *path, json_t *request,
		   json_t **body, int64_t *revision, bool *succeeded, char *err,
		   size_t err_len)
{
	struct waiter w = {.err = err, .err_len = err_len};
	int rc = etcd_call(e, path, request, wait_done, &w);

	if (rc) {
		snprintf(err, err_len, "out of memory");
		return rc;
	}
	while (!w.finished)
		event_base_loop(e->base, EVLOOP_ONCE);
	if (body)
		*body = w.body;
	else
		json_decref(w.body);
	if (revision)
		*revision = w.revision;
	if (succeeded)
		*succeeded = w.succeeded;
	return w.status;
}
