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

#include "admin_cluster.h"
#include "admin_reply.h"
#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "service/stats.h"

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
	struct admin_scrub scrub;
	char pool_path[4096];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct admin_pending pending; /* replies etcd gives later */
	struct admin_view view;	      /* what those read */
};

/* ---- replies ---- */

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
	return admin_ok(json_pack("{s:o}", "leases", list));
}

static json_t *cmd_lease(struct admin *a, json_t *req, const char *op)
{
	struct session_view v;
	uint64_t id;
	int rc = 0;

	if (!get_id(req, &id))
		return admin_error(EINVAL, "%s needs a lease id", op);
	if (!strcmp(op, "lease_revoke")) {
		rc = service_revoke_lease(a->svc, id);
		if (rc == 0)
			log_info("admin: revoked lease %llu",
				 (unsigned long long)id);
	} else if (!strcmp(op, "lease_renew")) {
		rc = service_renew_lease(a->svc, id);
	}
	if (rc || service_session_view(a->svc, id, &v))
		return admin_error(ENOENT, "no lease %llu",
				   (unsigned long long)id);
	return admin_ok(json_pack("{s:o}", "lease", lease_json(&v)));
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
		json_array_append_new(w->list, admin_record_json(r));
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
		return admin_error(
			EINVAL, "state must be open or sealed, not %s", state);
	}
	table_iterate(a->table, add_chunk, &w);
	return admin_ok(json_pack("{s:o}", "chunks", w.list));
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
		return admin_error(EIO, "out of memory");
	f->id = r->id;
	if (service_admin_free(a->svc, r->id, admin_free_done, f)) {
		free(f);
		return admin_error(ENOENT, "no chunk %llu",
				   (unsigned long long)r->id);
	}
	if (!f->done) {
		/* Only a networked table answers later: it logs the end. */
		f->abandoned = true;
		return admin_ok(json_pack("{s:o, s:b, s:b}", "chunk",
					  admin_record_json(r), "freed", 0,
					  "pending", 1));
	}
	reply = f->status
			? admin_error(EIO, "freeing chunk %llu: %s",
				      (unsigned long long)r->id,
				      strerror(-f->status))
			/* The record as it was, and that it is gone. */
			: admin_ok(json_pack("{s:o, s:b}", "chunk",
					     admin_record_json(r), "freed", 1));
	free(f);
	return reply;
}

static json_t *cmd_chunk(struct admin *a, json_t *req, bool free_it,
			 struct bufferevent *bev)
{
	struct table_record r;
	uint64_t id;

	if (!get_id(req, &id))
		return admin_error(EINVAL, "needs a chunk id");
	if (table_lookup(a->table, id, &r))
		return admin_error(ENOENT, "no chunk %llu",
				   (unsigned long long)id);
	if (!free_it)
		return admin_show_chunk(&a->view, &r, bev);
	return free_chunk(a, &r);
}

/* ---- status ---- */

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
	return admin_ok(json_pack(
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

static json_t *dispatch(struct admin *a, json_t *req, struct bufferevent *bev)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (!cmd)
		return admin_error(EINVAL, "a request needs a \"cmd\"");
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
		return admin_verify(&a->scrub, req);
	if (!strcmp(cmd, "verify_status"))
		return admin_verify_status(&a->scrub);
	if (!strcmp(cmd, "cluster"))
		return admin_cluster(&a->view, bev);
	if (!strcmp(cmd, "under_replicated"))
		return admin_under_replicated(&a->view, bev);
	return admin_error(EINVAL, "unknown command %s", cmd);
}

/* The reply to line, or NULL when it comes later (to bev). */
static char *handle_line(struct admin *a, const char *line,
			 struct bufferevent *bev)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *reply;
	char *text;

	a->pending.deferred = false;
	reply = json_is_object(req)
			? dispatch(a, req, bev)
			: admin_error(EINVAL, "not a JSON object: %s",
				      jerr.text);
	json_decref(req);
	if (a->pending.deferred && bev)
		return NULL; /* the table answers later, to bev */
	if (a->pending.deferred)
		reply = admin_error(EIO, "the reply comes later");
	text = admin_reply_text(reply);
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
	admin_pending_client_gone(&a->pending, bev);
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
			admin_send_line(bev, reply);
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

/* The socket's folder, made (mode 0755: the socket itself is 0600) when it
 * is missing: the default's /run/chunkd/ lives on a tmpfs that a reboot
 * empties, and systemd's RuntimeDirectory makes it only under systemd. */
static int make_parent(const char *path, char *err, size_t err_len)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	rc = -errno;
	snprintf(err, err_len, "admin socket %s: cannot make its folder: %s",
		 path, strerror(-rc));
	return rc;
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
	rc = make_parent(path, err, err_len);
	if (rc)
		return rc;
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
	admin_pending_init(&a->pending);
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
	a->scrub = target->scrub;
	a->view = (struct admin_view){.svc = a->svc,
				      .table = a->table,
				      .cluster = a->cluster,
				      .pending = &a->pending};
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
	admin_pending_stop(&a->pending);
	if (a->resume_timer)
		event_free(a->resume_timer);
	if (a->listener)
		evconnlistener_free(a->listener);
	unlink(a->path);
	free(a);
	*pa = NULL;
}
