#include "etcd_watch.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct etcd_watch {
	struct etcd_http_request *stream;
	etcd_event_fn *event;
	etcd_watch_end_fn *end;
	void *arg;
	bool ended;
};

static void pass_event(struct etcd_watch *w, const json_t *ev)
{
	struct etcd_kv kv;
	const char *type = json_string_value(json_object_get(ev, "type"));

	if (etcd_json_kv(json_object_get(ev, "kv"), &kv) == 0)
		w->event(w->arg, &kv, type && !strcmp(type, "DELETE"));
}

/* Ends the watch from within a line: the stream stays open until
 * cancelled, but nothing more is passed on. */
static void end_in_line(struct etcd_watch *w, const char *why)
{
	w->ended = true;
	w->end(w->arg, why);
}

static void on_line(void *arg, const char *line, size_t len)
{
	struct etcd_watch *w = arg;
	json_t *o = json_loadb(line, len, 0, NULL);
	json_t *result = json_object_get(o, "result");
	json_t *events = json_object_get(result, "events");
	size_t i;
	json_t *ev;

	if (w->ended) {
		json_decref(o);
		return;
	}
	if (!result)
		end_in_line(w, "etcd ended the watch with an error");
	else if (json_is_true(json_object_get(result, "canceled")) ||
		 etcd_json_int(json_object_get(result, "compact_revision")))
		end_in_line(w, "etcd cancelled the watch (compacted)");
	else
		json_array_foreach(events, i, ev) pass_event(w, ev);
	json_decref(o);
}

static void on_end(void *arg, const struct etcd_http_answer *a)
{
	struct etcd_watch *w = arg;
	char why[256];

	w->stream = NULL; /* etcd_http frees it after this call */
	if (w->ended)
		return;
	w->ended = true;
	snprintf(why, sizeof(why), "the watch at %s ended: %s", a->endpoint,
		 a->status ? (a->reason ? a->reason : "transfer failed")
			   : "the stream closed");
	w->end(w->arg, why);
}

struct etcd_watch *etcd_watch_prefix(struct etcd *e, const char *prefix,
				     int64_t start_revision,
				     etcd_event_fn *event,
				     etcd_watch_end_fn *end, void *arg)
{
	struct etcd_watch *w = calloc(1, sizeof(*w));
	json_t *range = etcd_json_range_prefix(prefix);
	char *text = NULL;

	if (w && range &&
	    json_object_set_new(range, "start_revision",
				json_integer(start_revision)) == 0) {
		json_t *req = json_pack("{s:o}", "create_request", range);

		range = NULL;
		text = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
	}
	json_decref(range);
	if (text) {
		w->event = event;
		w->end = end;
		w->arg = arg;
		w->stream = etcd_http_stream(etcd_http_of(e), "/v3/watch", text,
					     on_line, on_end, w);
	}
	free(text);
	if (!w || !w->stream) {
		free(w);
		return NULL;
	}
	return w;
}

void etcd_watch_cancel(struct etcd_watch **w)
{
	if (!*w)
		return;
	etcd_http_cancel(&(*w)->stream);
	free(*w);
	*w = NULL;
}
