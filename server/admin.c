#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/list.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "service/stats.h"
#include "table/scrub.h"

#define ADMIN_MAX_LINE 4096
/* After accept() fails for want of descriptors, wait this long before
 * trying again (the socket stays readable: retrying at once spins). */
#define ACCEPT_BACKOFF_MS 100
#define LOG_INTERVAL_US	  (10 * 1000000ull)

struct admin {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *resume_timer; /* re-enables the listener after backoff */
	struct ratelimit accept_log;
	struct bufferevent *clients[ADMIN_MAX_CLIENTS];
	unsigned client_count;
	struct service *svc;
	struct table *table;
	struct pool *pool;
	struct cluster *cluster;
	char pool_path[4096];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct list_link later; /* replies the table gives later */
	bool deferred;		/* the request being handled answers later */
};

/*
 * A reply that waits for etcd (cluster mode: a chunk's copies, the
 * cluster's replication). It goes to the client that asked if that client
 * is still connected; the completion frees it, even after the admin
 * stopped (then a is NULL).
 */
struct admin_later {
	struct admin *a;	 /* NULL once the admin stopped */
	struct bufferevent *bev; /* NULL once the client left (or none) */
	json_t *partial;	 /* the reply's data so far */
	json_t *reply;		 /* an answer that came at once */
	bool waiting;		 /* the dispatch returned: answer by bev */
	struct list_link link;	 /* on a->later */
};

/* ---- replies ---- */

static json_t *error_reply(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static json_t *error_reply(int err, const char *fmt, ...)
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

static json_t *ok_reply(json_t *data)
{
	json_object_set_new(data, "ok", json_true());
	return data;
}

static json_t *record_to_json(const struct table_record *r)
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

/* ---- leases ---- */

static json_t *lease_json(const struct session_view *v)
{
	return json_pack("{s:I, s:s, s:i, s:I, s:I, s:I, s:s}", "id",
			 (json_int_t)v->id, "client", v->peer, "epoch",
			 (int)v->epoch, "chunks", (json_int_t)v->open_chunks,
			 "bytes", (json_int_t)v->open_bytes, "expires_in_ms",
			 (json_int_t)v->expires_in_ms, "state",
			 v->live ? "live" : "lost");
}

static bool add_lease(const struct session_view *v, void *arg)
{
	json_array_append_new(arg, lease_json(v));
	return true;
}

static bool get_id(json_t *req, uint64_t *id)
{
	json_t *v = json_object_get(req, "id");

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return false;
	*id = (uint64_t)json_integer_value(v);
	return true;
}

static json_t *cmd_leases(struct admin *a)
{
	json_t *list = json_array();

	service_sessions(a->svc, add_lease, list);
	return ok_reply(json_pack("{s:o}", "leases", list));
}

static json_t *cmd_lease(struct admin *a, json_t *req, const char *op)
{
	struct session_view v;
	uint64_t id;
	int rc = 0;

	if (!get_id(req, &id))
		return error_reply(EINVAL, "%s needs a lease id", op);
	if (!strcmp(op, "lease_revoke")) {
		rc = service_revoke_lease(a->svc, id);
		if (rc == 0)
			log_info("admin: revoked lease %llu",
				 (unsigned long long)id);
	} else if (!strcmp(op, "lease_renew")) {
		rc = service_renew_lease(a->svc, id);
	}
	if (rc || service_session_view(a->svc, id, &v))
		return error_reply(ENOENT, "no lease %llu",
				   (unsigned long long)id);
	return ok_reply(json_pack("{s:o}", "lease", lease_json(&v)));
}

/* ---- chunks ---- */

struct record_walk {
	json_t *list;
	int state; /* -1: all */
};

static bool add_chunk(const struct table_record *r, void *arg)
{
	struct record_walk *w = arg;

	if (w->state < 0 || (int)r->state == w->state)
		json_array_append_new(w->list, record_to_json(r));
	return true;
}

static json_t *cmd_chunks(struct admin *a, json_t *req)
{
	const char *state = json_string_value(json_object_get(req, "state"));
	struct record_walk w = {.list = json_array(), .state = -1};

	if (state && !strcmp(state, "open"))
		w.state = TABLE_CHUNK_OPEN;
	else if (state && !strcmp(state, "sealed"))
		w.state = TABLE_CHUNK_SEALED;
	else if (state) {
		json_decref(w.list);
		return error_reply(
			EINVAL, "state must be open or sealed, not %s", state);
	}
	table_iterate(a->table, add_chunk, &w);
	return ok_reply(json_pack("{s:o}", "chunks", w.list));
}

/* A free the table may finish after the reply: whoever comes second (the
 * reply or the completion) frees it. */
struct admin_free {
	uint64_t id;
	bool done, abandoned;
	int status;
};

static void admin_free_done(void *arg, const struct table_result *res)
{
	struct admin_free *f = arg;

	f->done = true;
	f->status = res->status;
	if (res->status)
		log_error("admin: freeing chunk %llu failed: %s",
			  (unsigned long long)f->id, strerror(-res->status));
	else
		log_info("admin: freed chunk %llu", (unsigned long long)f->id);
	if (f->abandoned)
		free(f);
}

static json_t *free_chunk(struct admin *a, const struct table_record *r)
{
	struct admin_free *f = calloc(1, sizeof(*f));
	json_t *reply;

	if (!f)
		return error_reply(EIO, "out of memory");
	f->id = r->id;
	if (service_admin_free(a->svc, r->id, admin_free_done, f)) {
		free(f);
		return error_reply(ENOENT, "no chunk %llu",
				   (unsigned long long)r->id);
	}
	if (!f->done) {
		/* Only a networked table answers later: it logs the end. */
		f->abandoned = true;
		return ok_reply(json_pack("{s:o, s:b, s:b}", "chunk",
					  record_to_json(r), "freed", 0,
					  "pending", 1));
	}
	reply = f->status ? error_reply(EIO, "freeing chunk %llu: %s",
					(unsigned long long)r->id,
					strerror(-f->status))
			  /* The record as it was, and that it is gone. */
			  : ok_reply(json_pack("{s:o, s:b}", "chunk",
					       record_to_json(r), "freed", 1));
	free(f);
	return reply;
}

static void send_line(struct bufferevent *bev, const char *text)
{
	bufferevent_write(bev, text, strlen(text));
	bufferevent_write(bev, "\n", 1);
}

static char *reply_text(json_t *reply);

static struct admin_later *later_new(struct admin *a, struct bufferevent *bev,
				     json_t *partial)
{
	struct admin_later *l = calloc(1, sizeof(*l));

	if (!l) {
		json_decref(partial);
		return NULL;
	}
	l->a = a;
	l->bev = bev;
	l->partial = partial;
	return l;
}

/* The answer to l's request: to the dispatch if it is still running (an
 * answer at once), else to the client; frees l then. */
static void later_answer(struct admin_later *l, json_t *reply)
{
	char *text;

	json_decref(l->partial);
	l->partial = NULL;
	if (!l->waiting) {
		l->reply = reply;
		return;
	}
	if (l->a && l->bev) {
		text = reply_text(reply);
		send_line(l->bev, text);
		free(text);
	}
	json_decref(reply);
	if (l->a)
		list_remove(&l->link);
	free(l);
}

/* After l's call started: its answer if it came at once, else NULL with
 * the request deferred. */
static json_t *later_started(struct admin *a, struct admin_later *l)
{
	json_t *reply = l->reply;

	if (reply) {
		free(l);
		return reply;
	}
	l->waiting = true;
	list_push(&a->later, &l->link);
	a->deferred = true;
	return NULL;
}

/* Adds the live copies to the chunk's record (a replicated chunk). */
static void show_copies_done(void *arg, const struct table_result *res)
{
	struct admin_later *l = arg;
	json_t *copies = json_array();

	for (unsigned i = 0; copies && i < res->copies.count; i++)
		json_array_append_new(
			copies,
			json_pack("{s:I, s:s, s:i}", "id",
				  (json_int_t)res->copies.copy[i].id, "address",
				  res->copies.copy[i].loc.address, "port",
				  (int)res->copies.copy[i].loc.port));
	if (res->status == 0 && copies && res->copies.count)
		json_object_set_new(l->partial, "copies", copies);
	else
		json_decref(copies);
	later_answer(
		l, res->status
			   ? error_reply(EIO, "reading the chunk's copies: %s",
					 strerror(-res->status))
			   : ok_reply(json_pack("{s:O}", "chunk", l->partial)));
}

/* chunk_show: the record, and where a replicated chunk's copies are. */
static json_t *show_chunk(struct admin *a, const struct table_record *r,
			  struct bufferevent *bev)
{
	struct admin_later *l = later_new(a, bev, record_to_json(r));

	if (!l)
		return error_reply(EIO, "out of memory");
	table_copies(a->table, r->id, show_copies_done, l);
	return later_started(a, l);
}

static json_t *cmd_chunk(struct admin *a, json_t *req, bool free_it,
			 struct bufferevent *bev)
{
	struct table_record r;
	uint64_t id;

	if (!get_id(req, &id))
		return error_reply(EINVAL, "needs a chunk id");
	if (table_lookup(a->table, id, &r))
		return error_reply(ENOENT, "no chunk %llu",
				   (unsigned long long)id);
	if (!free_it)
		return show_chunk(a, &r, bev);
	return free_chunk(a, &r);
}

/* ---- status and verify ---- */

static json_t *methods_json(uint32_t methods)
{
	json_t *list = json_array();

	for (uint32_t flag = 1; flag; flag <<= 1)
		if ((methods & flag) && proto_persist_name(flag))
			json_array_append_new(
				list, json_string(proto_persist_name(flag)));
	return list;
}

static json_t *counters_json(const struct service_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "copies_replaced", (json_int_t)c->copies_replaced,
			 "requests", (json_int_t)c->requests, "malformed",
			 (json_int_t)c->malformed, "leases_expired",
			 (json_int_t)c->leases_expired, "leases_revoked",
			 (json_int_t)c->leases_revoked, "handshakes_failed",
			 (json_int_t)c->handshakes_failed, "hello_timeouts",
			 (json_int_t)c->hello_timeouts, "connections_refused",
			 (json_int_t)c->connections_refused);
}

static json_t *cmd_status(struct admin *a)
{
	struct service_stats st;
	struct pool_info pi;

	service_stats(a->svc, &st);
	pool_describe(a->pool, &pi);
	return ok_reply(json_pack(
		"{s:{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:i, s:o, s:i, s:o}",
		"pool", "path", a->pool_path, "backing", pi.backing, "size",
		(json_int_t)pi.size, "area_offset", (json_int_t)pi.area_offset,
		"area", (json_int_t)st.table.area_bytes, "used",
		(json_int_t)st.table.used_bytes, "free",
		(json_int_t)st.table.free_bytes, "granularity",
		(json_int_t)pi.granularity, "chunks", "open",
		(json_int_t)st.table.open_chunks, "sealed",
		(json_int_t)st.table.sealed_chunks, "sessions",
		(int)st.sessions, "persistence",
		methods_json(st.persist_methods), "auth_refused",
		(int)st.counters.auth_refused, "counters",
		counters_json(&st.counters)));
}

static json_t *cmd_verify(struct admin *a)
{
	struct scrub_result r;

	scrub_sealed(a->table, pool_chunk_area(a->pool), &r);
	return ok_reply(json_pack(
		"{s:I, s:I, s:I}", "checked", (json_int_t)r.checked, "bytes",
		(json_int_t)r.bytes, "mismatches", (json_int_t)r.mismatches));
}

static bool add_member(const struct member *m, void *arg)
{
	json_array_append_new(
		arg,
		json_pack("{s:s, s:s, s:i, s:I, s:s, s:I, s:I, s:I, s:I, "
			  "s:b}",
			  "name", m->name, "address", m->address, "port",
			  (int)m->port, "node", (json_int_t)m->node, "pool",
			  m->pool, "pool_size", (json_int_t)m->pool_size,
			  "free", (json_int_t)m->free_bytes, "open",
			  (json_int_t)m->open_chunks, "sealed",
			  (json_int_t)m->sealed_chunks, "alive", 1));
	return true;
}

/* The cluster as this chunkd sees it: the live members (registered under
 * a lease etcd keeps), from its watch of them. */
/* The replication figures: replicated chunks, by copies, under-replicated
 * (a copy on a server not running), and repairs this chunkd committed. */
static json_t *replication_json(struct admin *a,
				const struct placed_chunk *list, size_t n)
{
	json_t *by = json_object();
	uint64_t under = 0;
	struct service_stats st;
	char key[8];

	for (size_t i = 0; i < n; i++) {
		json_t *v;

		snprintf(key, sizeof(key), "%u", list[i].count);
		v = json_object_get(by, key);
		json_object_set_new(
			by, key,
			json_integer(v ? json_integer_value(v) + 1 : 1));
		under += placed_under_replicated(&list[i]);
	}
	service_stats(a->svc, &st);
	return json_pack("{s:I, s:o, s:I, s:I}", "chunks", (json_int_t)n,
			 "by_copies", by, "under_replicated", (json_int_t)under,
			 "copies_replaced_here",
			 (json_int_t)st.counters.copies_replaced);
}

static void cluster_scanned(void *arg, int status,
			    const struct placed_chunk *list, size_t n)
{
	struct admin_later *l = arg;

	if (!l->a) { /* the admin stopped */
		later_answer(l, NULL);
		return;
	}
	json_object_set_new(l->partial, "replicated",
			    status ? json_null()
				   : replication_json(l->a, list, n));
	later_answer(l, ok_reply(json_incref(l->partial)));
}

/* The cluster as this chunkd sees it: the live members (registered under
 * a lease etcd keeps), from its watch of them, and replication read from
 * etcd. */
static json_t *cmd_cluster(struct admin *a, struct bufferevent *bev)
{
	json_t *members, *partial;
	struct admin_later *l;

	if (!a->cluster)
		return error_reply(ENOENT,
				   "this chunkd is not in a cluster (no "
				   "[cluster] endpoints)");
	members = json_array();
	if (members)
		cluster_members(a->cluster, add_member, members);
	partial = json_pack("{s:s, s:s, s:s, s:o}", "self",
			    cluster_self(a->cluster)->name, "endpoints",
			    cluster_endpoints(a->cluster), "etcd",
			    cluster_etcd_reachable(a->cluster) ? "reachable"
							       : "unreachable",
			    "members", members);
	l = partial ? later_new(a, bev, partial) : NULL;
	if (!l)
		return error_reply(EIO, "out of memory");
	if (cluster_scan_placed(a->cluster, cluster_scanned, l)) {
		json_object_set_new(partial, "replicated", json_null());
		later_answer(l, ok_reply(json_incref(partial)));
	}
	return later_started(a, l);
}

/* One under-replicated chunk: each copy, and where it is if it runs. */
static json_t *placed_json(struct admin *a, const struct placed_chunk *p)
{
	json_t *copies = json_array();
	struct member m;

	for (unsigned i = 0; copies && i < p->count; i++) {
		bool runs = p->running[i] &&
			    cluster_find_node(a->cluster,
					      cluster_id_node(p->copies[i]),
					      &m) == 0;

		json_array_append_new(copies,
				      json_pack("{s:I, s:b, s:s, s:i}", "id",
						(json_int_t)p->copies[i],
						"running", runs, "address",
						runs ? m.address : "", "port",
						runs ? (int)m.port : 0));
	}
	return json_pack("{s:I, s:o}", "id", (json_int_t)p->chunk, "copies",
			 copies);
}

static void under_scanned(void *arg, int status,
			  const struct placed_chunk *list, size_t n)
{
	struct admin_later *l = arg;
	json_t *chunks;

	if (!l->a || status) {
		later_answer(l, error_reply(EIO, "reading etcd: %s",
					    strerror(-status)));
		return;
	}
	chunks = json_array();
	for (size_t i = 0; chunks && i < n; i++)
		if (placed_under_replicated(&list[i]))
			json_array_append_new(chunks,
					      placed_json(l->a, &list[i]));
	later_answer(l, ok_reply(json_pack("{s:o}", "chunks", chunks)));
}

/* The sealed replicated chunks with a copy on a server not running. */
static json_t *cmd_under_replicated(struct admin *a, struct bufferevent *bev)
{
	struct admin_later *l;

	if (!a->cluster)
		return error_reply(ENOENT,
				   "this chunkd is not in a cluster (no "
				   "[cluster] endpoints)");
	l = later_new(a, bev, NULL);
	if (!l)
		return error_reply(EIO, "out of memory");
	if (cluster_scan_placed(a->cluster, under_scanned, l))
		later_answer(l, error_reply(EIO, "out of memory"));
	return later_started(a, l);
}

static json_t *dispatch(struct admin *a, json_t *req, struct bufferevent *bev)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (!cmd)
		return error_reply(EINVAL, "a request needs a \"cmd\"");
	if (!strcmp(cmd, "status"))
		return cmd_status(a);
	if (!strcmp(cmd, "leases"))
		return cmd_leases(a);
	if (!strcmp(cmd, "lease_show") || !strcmp(cmd, "lease_renew") ||
	    !strcmp(cmd, "lease_revoke"))
		return cmd_lease(a, req, cmd);
	if (!strcmp(cmd, "chunks"))
		return cmd_chunks(a, req);
	if (!strcmp(cmd, "chunk_show") || !strcmp(cmd, "chunk_free"))
		return cmd_chunk(a, req, !strcmp(cmd, "chunk_free"), bev);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(a);
	if (!strcmp(cmd, "cluster"))
		return cmd_cluster(a, bev);
	if (!strcmp(cmd, "under_replicated"))
		return cmd_under_replicated(a, bev);
	return error_reply(EINVAL, "unknown command %s", cmd);
}

static char *reply_text(json_t *reply)
{
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

	/* Every line gets an answer, even when memory ran out. */
	return text ? text
		    : strdup("{\"ok\":false,\"error\":\"chunkd could not "
			     "build the reply\",\"code\":\"EIO\"}");
}

/* The reply to line, or NULL when it comes later (to bev). */
static char *handle_line(struct admin *a, const char *line,
			 struct bufferevent *bev)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *reply;
	char *text;

	a->deferred = false;
	reply = json_is_object(req)
			? dispatch(a, req, bev)
			: error_reply(EINVAL, "not a JSON object: %s",
				      jerr.text);
	json_decref(req);
	if (a->deferred && bev)
		return NULL; /* the table answers later, to bev */
	if (a->deferred)
		reply = error_reply(EIO, "the reply comes later");
	text = reply_text(reply);
	json_decref(reply);
	return text;
}

char *admin_handle_line(struct admin *a, const char *line)
{
	return handle_line(a, line, NULL);
}

/* ---- the socket ---- */

static void close_client(struct admin *a, struct bufferevent *bev)
{
	for (struct list_link *k = a->later.next; k != &a->later; k = k->next) {
		struct admin_later *l = LIST_ITEM(k, struct admin_later, link);

		if (l->bev == bev)
			l->bev = NULL; /* its answer goes nowhere */
	}
	for (unsigned i = 0; i < a->client_count; i++) {
		if (a->clients[i] == bev) {
			a->clients[i] = a->clients[--a->client_count];
			break;
		}
	}
	bufferevent_free(bev);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;

	while ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF))) {
		char *reply = handle_line(arg, line, bev);

		free(line);
		if (reply) {
			send_line(bev, reply);
			free(reply);
		}
	}
	if (evbuffer_get_length(in) > ADMIN_MAX_LINE) {
		log_warn("admin: a request line longer than %d bytes; closing",
			 ADMIN_MAX_LINE);
		close_client(arg, bev);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		close_client(arg, bev);
}

/* Only root and chunkd's own user may administer it. */
static bool peer_allowed(evutil_socket_t fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

/* More clients than the descriptor reserve holds: one line, then close. */
static void refuse_client(evutil_socket_t fd)
{
	char line[160];
	int len =
		snprintf(line, sizeof(line),
			 "{\"ok\":false,\"error\":\"chunkd serves at most "
			 "%u admin connections at once\",\"code\":\"EBUSY\"}\n",
			 ADMIN_MAX_CLIENTS);

	if (write(fd, line, (size_t)len) < 0)
		log_debug("admin: refusing a client: %s", strerror(errno));
	evutil_closesocket(fd);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int socklen, void *arg)
{
	struct admin *a = arg;
	struct bufferevent *bev;

	(void)l;
	(void)sa;
	(void)socklen;
	if (!peer_allowed(fd)) {
		log_warn("admin: refused a connection from another user");
		evutil_closesocket(fd);
		return;
	}
	if (a->client_count == ADMIN_MAX_CLIENTS) {
		refuse_client(fd);
		return;
	}
	bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	a->clients[a->client_count++] = bev;
	bufferevent_setcb(bev, on_read, NULL, on_event, a);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(a->listener);
}

/*
 * accept() failed. Out of descriptors (or memory), the pending connection
 * stays queued and the socket readable, so trying again at once would
 * spin and log without end: pause the listener for a moment instead, and
 * say so once per interval.
 */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct admin *a = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval backoff = {.tv_sec = 0,
				  .tv_usec = ACCEPT_BACKOFF_MS * 1000};
	uint64_t held;
	char more[80];

	if (ratelimit_allow(&a->accept_log, clock_mono_us(), &held))
		log_warn("admin: accept: %s; pausing %d ms between tries%s",
			 strerror(err), ACCEPT_BACKOFF_MS,
			 ratelimit_suffix(held, more, sizeof(more)));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		evconnlistener_disable(l);
		evtimer_add(a->resume_timer, &backoff);
	}
}

/* Whether a chunkd answers on the socket file at path. */
static bool socket_is_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

static int listen_unix(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t old_mask;
	int fd, rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "admin socket path %s is too long",
			 path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (socket_is_live(&addr)) {
		snprintf(err, err_len,
			 "admin socket %s is in use by another chunkd", path);
		return -EADDRINUSE;
	}
	unlink(path); /* a stale socket of a chunkd that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old_mask = umask(0177); /* the socket file is created 0600 */
	rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (rc || listen(fd, 16)) {
		rc = -errno;
		snprintf(err, err_len, "cannot listen on admin socket %s: %s",
			 path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int admin_start(struct event_base *base, const char *path,
		const struct admin_target *target, struct admin **out,
		char *err, size_t err_len)
{
	struct admin *a = calloc(1, sizeof(*a));
	int fd;

	if (!a)
		return -ENOMEM;
	list_init(&a->later);
	fd = listen_unix(path, err, err_len);
	if (fd < 0) {
		free(a);
		return fd;
	}
	a->base = base;
	a->svc = target->svc;
	a->table = target->table;
	a->pool = target->pool;
	a->cluster = target->cluster;
	snprintf(a->pool_path, sizeof(a->pool_path), "%s", target->pool_path);
	snprintf(a->path, sizeof(a->path), "%s", path);
	a->accept_log.interval_us = LOG_INTERVAL_US;
	a->listener = evconnlistener_new(base, on_accept, a,
					 LEV_OPT_CLOSE_ON_FREE, -1, fd);
	a->resume_timer = evtimer_new(base, on_resume, a);
	if (!a->listener || !a->resume_timer) {
		if (!a->listener)
			close(fd);
		admin_stop(&a);
		snprintf(err, err_len, "cannot serve admin socket %s", path);
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(a->listener, on_accept_error);
	*out = a;
	return 0;
}

void admin_stop(struct admin **pa)
{
	struct admin *a = *pa;

	if (!a)
		return;
	while (a->client_count)
		close_client(a, a->clients[0]);
	while (!list_empty(&a->later)) { /* the table frees them */
		struct admin_later *l =
			LIST_ITEM(a->later.next, struct admin_later, link);

		list_remove(&l->link);
		l->a = NULL;
	}
	if (a->resume_timer)
		event_free(a->resume_timer);
	if (a->listener)
		evconnlistener_free(a->listener);
	unlink(a->path);
	free(a);
	*pa = NULL;
}
