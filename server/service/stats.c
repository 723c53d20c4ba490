#include "stats.h"

#include <errno.h>

#include "workers/workers.h"

void service_stats(struct service *s, struct service_stats *out)
{
	out->counters = s->counters;
	out->sessions = 0;
	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next)
		out->sessions++;
	out->persist_methods = s->persist_methods;
	table_stats(s->table, &out->table);
	out->worker_raises = workers_raises(s->workers);
}

struct held {
	uint64_t session, chunks, bytes;
};

static bool count_held(const struct table_record *r, void *arg)
{
	struct held *h = arg;

	if (r->state == TABLE_CHUNK_OPEN && r->session == h->session) {
		h->chunks++;
		h->bytes += r->length;
	}
	return true;
}

static void view(struct service *s, const struct session *o,
		 struct session_view *v)
{
	struct held h = {.session = o->id};
	uint64_t now = s->clock_us();

	table_iterate(s->table, count_held, &h);
	*v = (struct session_view){
		.id = o->id,
		.peer = o->peer ? o->peer : "",
		.epoch = o->epoch,
		.open_chunks = h.chunks,
		.open_bytes = h.bytes,
		.expires_in_ms = o->lease_deadline_us > now
					 ? (o->lease_deadline_us - now) / 1000
					 : 0,
		.live = o->lease_deadline_us != 0,
	};
}

void service_sessions(struct service *s, session_visit_fn *visit, void *arg)
{
	struct session_view v;

	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		view(s, o, &v);
		if (!visit(&v, arg))
			return;
	}
}

int service_session_view(struct service *s, uint64_t id,
			 struct session_view *out)
{
	struct session *o = service_find_session(s, id);

	if (!o)
		return -ENOENT;
	view(s, o, out);
	return 0;
}
