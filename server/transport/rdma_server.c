#include "rdma_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <rdma/rdma_cma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "proto/reject.h"
#include "rdma_addrs.h"
#include "rdma_caps.h"

#define LISTEN_BACKLOG	64
#define LOG_INTERVAL_US (10 * 1000000ull)

struct rdma_server {
	struct transport transport; /* first: what main holds */
	struct rdma_conn_env env;   /* the connections point here */
	struct transport_opts opts;
	struct rdma_event_channel *cm_channel;
	struct rdma_cm_id *listen_id;
	struct event *cm_event;
	struct rdma_conn *conns;
	uint32_t conn_count;
	bool lost_device;
	/* Floods are told once per LOG_INTERVAL_US each. */
	struct ratelimit handshake_log, refuse_log, hello_log;
};

static struct rdma_server *server_of(struct rdma_conn_env *env)
{
	return (struct rdma_server *)((char *)env -
				      offsetof(struct rdma_server, env));
}

static struct rdma_server *to_rdma(struct transport *t)
{
	return (struct rdma_server *)t; /* transport is its first member */
}

static const struct rdma_server *to_rdma_const(const struct transport *t)
{
	return (const struct rdma_server *)t;
}

static struct service_counters *counters(struct rdma_server *srv)
{
	return &srv->env.svc->counters;
}

/* ---- the list of connections ---- */

static void conn_link(struct rdma_server *srv, struct rdma_conn *c)
{
	rdma_conn_set_next(c, srv->conns);
	srv->conns = c;
	srv->conn_count++;
}

static void conn_unlink(struct rdma_server *srv, struct rdma_conn *c)
{
	struct rdma_conn *o = srv->conns;

	if (o == c) {
		srv->conns = rdma_conn_next(c);
	} else {
		while (o && rdma_conn_next(o) != c)
			o = rdma_conn_next(o);
		if (!o)
			return;
		rdma_conn_set_next(o, rdma_conn_next(c));
	}
	srv->conn_count--;
}

static void conn_free(struct rdma_server *srv, struct rdma_conn *c)
{
	conn_unlink(srv, c);
	rdma_conn_destroy(c);
}

/* Disconnects (the client sees DISCONNECTED) and frees at once: no event
 * of this id is delivered after rdma_destroy_id. */
static void conn_close(struct rdma_server *srv, struct rdma_conn *c)
{
	rdma_disconnect(rdma_conn_id(c));
	conn_free(srv, c);
}

/* Tells one of a flood of events, at most once per interval. */
static void log_flood(struct ratelimit *r, const char *what, const char *peer)
{
	uint64_t held;
	char more[80];

	if (ratelimit_allow(r, clock_mono_us(), &held))
		log_info("%s: %s%s", peer, what,
			 ratelimit_suffix(held, more, sizeof(more)));
}

static void on_hello_timeout(struct rdma_conn_env *env, struct rdma_conn *c)
{
	struct rdma_server *srv = server_of(env);

	if (rdma_conn_state(c) == RDMA_CONN_ACCEPTING) {
		/* rdma_cm never said how the handshake ended (the client's
		 * reject was lost, or never sent): an abandoned one all the
		 * same. */
		counters(srv)->handshakes_failed++;
		log_flood(&srv->handshake_log,
			  "closed: the handshake never completed",
			  rdma_conn_peer(c));
	} else {
		counters(srv)->hello_timeouts++;
		log_flood(&srv->hello_log, "closed: no HELLO in time",
			  rdma_conn_peer(c));
	}
	conn_close(srv, c);
}

/* ---- connection requests ---- */

static void reject(struct rdma_cm_id *id, unsigned reason, const char *text)
{
	uint8_t data[PROTO_REJECT_MAX];
	size_t len = proto_reject_encode(reason, text, data);

	rdma_reject(id, data, (uint8_t)len);
	rdma_destroy_id(id);
}

static void on_connect_request(struct rdma_server *srv, struct rdma_cm_id *id,
			       const struct rdma_conn_param *req)
{
	struct rdma_conn *c;
	char peer[64], text[PROTO_REJECT_TEXT_MAX + 1];
	int rc;

	rdma_conn_describe_peer(id, peer, sizeof(peer));
	if (srv->conn_count >= srv->opts.max_connections) {
		counters(srv)->connections_refused++;
		snprintf(text, sizeof(text),
			 "chunkd is at its limit of %u connections",
			 srv->opts.max_connections);
		log_flood(&srv->refuse_log, text, peer);
		reject(id, PROTO_REJECT_BUSY, text);
		return;
	}
	rc = rdma_conn_accept(&srv->env, id, req, &c);
	if (rc == -EINVAL) {
		/* rdma_accept refuses a request its client has withdrawn. */
		counters(srv)->handshakes_failed++;
		log_flood(&srv->handshake_log, "withdrew its request", peer);
		rdma_destroy_id(id);
		return;
	}
	if (rc) {
		counters(srv)->connections_refused++;
		snprintf(text, sizeof(text), "chunkd cannot set up: %s",
			 strerror(-rc));
		log_flood(&srv->refuse_log, text, peer);
		reject(id, PROTO_REJECT_INTERNAL, text);
		return;
	}
	conn_link(srv, c);
	log_info("%s: connected, session %llu", peer,
		 (unsigned long long)rdma_conn_session(c));
}

/* ---- rdma_cm events, each handled deliberately ---- */

/* The listener's device went away: nothing can be served any more. */
static void on_listener_removed(struct rdma_server *srv)
{
	log_error("the RDMA device of %s went away; stopping",
		  srv->opts.listen);
	srv->lost_device = true;
	event_base_loopbreak(srv->env.base);
}

static void on_conn_event(struct rdma_server *srv, struct rdma_conn *c,
			  const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		rdma_conn_established(c);
		break;
	case RDMA_CM_EVENT_REJECTED:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
		/* The client abandoned the handshake (it died, or gave up
		 * waiting): nothing will come of this connection. */
		counters(srv)->handshakes_failed++;
		log_flood(&srv->handshake_log, rdma_event_str(ev->event),
			  rdma_conn_peer(c));
		conn_free(srv, c);
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		log_info("%s: disconnected, session %llu", rdma_conn_peer(c),
			 (unsigned long long)rdma_conn_session(c));
		conn_free(srv, c);
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		log_warn("%s: the RDMA device went away", rdma_conn_peer(c));
		conn_free(srv, c);
		break;
	default:
		/* TIMEWAIT_EXIT comes after the id is destroyed, so never;
		 * the rest belong to an active side or to multicast. */
		log_debug("%s: ignored rdma_cm event %s", rdma_conn_peer(c),
			  rdma_event_str(ev->event));
	}
}

static void on_listener_event(struct rdma_server *srv,
			      const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		on_listener_removed(srv);
		break;
	case RDMA_CM_EVENT_ADDR_CHANGE:
		log_warn("the address of %s moved to another device",
			 srv->opts.listen);
		break;
	default:
		log_debug("ignored rdma_cm event %s on the listener",
			  rdma_event_str(ev->event));
	}
}

static void on_cm_event(evutil_socket_t fd, short what, void *arg)
{
	struct rdma_server *srv = arg;
	struct rdma_cm_event *ev;

	(void)fd;
	(void)what;
	while (rdma_get_cm_event(srv->cm_channel, &ev) == 0) {
		struct rdma_cm_event copy = *ev;
		struct rdma_conn_param param = ev->param.conn;

		/* Ack first: destroying an id waits for its events' acks. */
		rdma_ack_cm_event(ev);
		if (copy.event == RDMA_CM_EVENT_CONNECT_REQUEST)
			on_connect_request(srv, copy.id, &param);
		else if (copy.id == srv->listen_id)
			on_listener_event(srv, &copy);
		else if (copy.id->context)
			on_conn_event(srv, copy.id->context, &copy);
		else
			log_debug("rdma_cm event %s for an id with no "
				  "connection",
				  rdma_event_str(copy.event));
		if (srv->lost_device)
			return;
	}
}

/* ---- leases ---- */

/* ---- listener ---- */

static int fail(char *err, size_t len, int rc, const char *what,
		const struct transport_opts *o)
{
	snprintf(err, len, "cannot listen on %s port %u: %s: %s", o->listen,
		 o->port, what, strerror(-rc));
	return rc;
}

/* A local address no RDMA device serves: clients could never connect. */
static int not_a_device_address(char *err, size_t len,
				const struct transport_opts *o)
{
	char served[256];

	rdma_addrs_list(served, sizeof(served));
	snprintf(err, len,
		 "cannot listen on %s: no RDMA device has that address "
		 "(RDMA devices have: %s; or listen on 0.0.0.0)",
		 o->listen, served);
	return -EADDRNOTAVAIL;
}

static int listen_on(struct rdma_server *srv, char *err, size_t len)
{
	const struct transport_opts *o = &srv->opts;
	struct rdma_addrinfo hints = {.ai_flags = RAI_PASSIVE,
				      .ai_port_space = RDMA_PS_TCP};
	struct rdma_addrinfo *res;
	char port[8];
	bool wildcard;
	int rc;

	snprintf(port, sizeof(port), "%u", o->port);
	if (rdma_getaddrinfo(o->listen, port, &hints, &res))
		return fail(err, len, -errno, "rdma_getaddrinfo", o);
	rc = rdma_create_id(srv->cm_channel, &srv->listen_id, srv, RDMA_PS_TCP);
	if (rc == 0)
		rc = rdma_bind_addr(srv->listen_id, res->ai_src_addr);
	wildcard = rdma_addrs_is_wildcard(res->ai_src_addr);
	rdma_freeaddrinfo(res);
	if (rc)
		return fail(
			err, len, -errno,
			"rdma_bind_addr (is it an RDMA device's address, and the port free?)",
			o);
	if (!wildcard && !srv->listen_id->verbs)
		return not_a_device_address(err, len, o);
	if (rdma_listen(srv->listen_id, LISTEN_BACKLOG))
		return fail(err, len, -errno, "rdma_listen", o);
	return 0;
}

static void init_server(struct rdma_server *srv, struct event_base *base,
			struct service *svc, const struct transport_opts *opts)
{
	srv->transport.ops = &rdma_transport;
	srv->env.base = base;
	srv->env.svc = svc;
	srv->env.workers = opts->workers;
	srv->env.conns = &srv->conns;
	spin_budget_init(&srv->env.spin, opts->poll_us);
	srv->env.hello_timeout_ms = opts->hello_timeout_ms;
	srv->env.on_hello_timeout = on_hello_timeout;
	srv->opts = *opts;
	srv->handshake_log.interval_us = LOG_INTERVAL_US;
	srv->refuse_log.interval_us = LOG_INTERVAL_US;
	srv->hello_log.interval_us = LOG_INTERVAL_US;
}

static void rdma_stop(struct transport **t);

/* Frees a started or half-started server. */
static void free_server(struct rdma_server *srv)
{
	while (srv->conns)
		conn_free(srv, srv->conns);
	rdma_caps_finish_retired(&srv->env.retired);
	if (srv->cm_event)
		event_free(srv->cm_event);
	if (srv->listen_id)
		rdma_destroy_id(srv->listen_id);
	if (srv->cm_channel)
		rdma_destroy_event_channel(srv->cm_channel);
	free(srv);
}

static int rdma_start(struct event_base *base, struct service *svc,
		      const struct transport_opts *opts, struct transport **out,
		      char *err, size_t err_len)
{
	struct rdma_server *srv = calloc(1, sizeof(*srv));
	int rc, flags;

	if (!srv)
		return -ENOMEM;
	init_server(srv, base, svc, opts);
	srv->cm_channel = rdma_create_event_channel();
	if (!srv->cm_channel) {
		rc = fail(
			err, err_len, -errno,
			"no RDMA connection manager (/dev/infiniband/rdma_cm); "
			"set up soft-RoCE (deploy/softroce.sh) or use deploy/vm/run",
			opts);
		free_server(srv);
		return rc;
	}
	rc = listen_on(srv, err, err_len);
	flags = fcntl(srv->cm_channel->fd, F_GETFL);
	if (rc == 0 && (flags < 0 || fcntl(srv->cm_channel->fd, F_SETFL,
					   flags | O_NONBLOCK)))
		rc = fail(err, err_len, -errno, "fcntl", opts);
	srv->cm_event = rc ? NULL
			   : event_new(base, srv->cm_channel->fd,
				       EV_READ | EV_PERSIST, on_cm_event, srv);
	if (rc == 0 && (!srv->cm_event || event_add(srv->cm_event, NULL)))
		rc = fail(err, err_len, -ENOMEM, "event_new", opts);
	if (rc) {
		free_server(srv);
		return rc;
	}
	*out = &srv->transport;
	return 0;
}

static uint16_t rdma_port(const struct transport *t)
{
	return be16toh(rdma_get_src_port(to_rdma_const(t)->listen_id));
}

static uint32_t rdma_max_connections(const struct transport *t)
{
	return to_rdma_const(t)->opts.max_connections;
}

static bool rdma_failed(const struct transport *t)
{
	return to_rdma_const(t)->lost_device;
}

static void rdma_stop(struct transport **t)
{
	if (!*t)
		return;
	free_server(to_rdma(*t));
	*t = NULL;
}

const struct transport_ops rdma_transport = {
	.name = "rdma",
	.start = rdma_start,
	.stop = rdma_stop,
	.port = rdma_port,
	.max_connections = rdma_max_connections,
	.failed = rdma_failed,
};
