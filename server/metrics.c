#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cluster/cluster.h"
#include "exposition.h"
#include "scrubber.h"
#include "service/stats.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A scrape is a bodiless GET: anything larger is not one. */
#define MAX_REQUEST_BODY     1024
#define MAX_REQUEST_HEADERS  8192
#define CONNECTION_TIMEOUT_S 10

struct metrics {
	struct evhttp *http;
	struct metrics_target target;
	uint16_t port;
};

/* The request types a client sends, in wire order. */
static const unsigned request_types[] = {
	PROTO_HELLO,	 PROTO_ALLOC,	     PROTO_PERSIST,
	PROTO_SEAL,	 PROTO_OPEN,	     PROTO_FREE,
	PROTO_RENEW,	 PROTO_ALLOC_COPY,   PROTO_SEAL_COPIES,
	PROTO_OPEN_COPY, PROTO_REPLACE_COPY,
};
#define REQUEST_TYPE_COUNT (sizeof(request_types) / sizeof(request_types[0]))

static void by_request_type(struct evbuffer *out, const char *name,
			    const uint64_t *counts)
{
	char labels[64];

	for (size_t i = 0; i < REQUEST_TYPE_COUNT; i++) {
		snprintf(labels, sizeof(labels), "type=\"%s\"",
			 proto_type_name(request_types[i]));
		exposition_sample(out, name, labels, counts[request_types[i]]);
	}
}

static void render_requests(struct evbuffer *out,
			    const struct service_counters *c)
{
	exposition_family(out, "chunkd_requests_total", "counter",
			  "Requests received, by type.");
	by_request_type(out, "chunkd_requests_total", c->requests_by_type);
	exposition_family(out, "chunkd_request_errors_total", "counter",
			  "Requests answered with an ERROR, by type.");
	by_request_type(out, "chunkd_request_errors_total", c->errors_by_type);
	exposition_single(out, "chunkd_malformed_frames_total", "counter",
			  "Frames that did not decode (answered MALFORMED).",
			  c->malformed);
	exposition_single(out, "chunkd_granted_bytes_total", "counter",
			  "Bytes of the chunks granted to writers.",
			  c->granted_bytes);
	exposition_single(out, "chunkd_sealed_bytes_total", "counter",
			  "Bytes of the seals accepted.", c->sealed_bytes);
}

/* persist-rpc is the one method the server sees: the others are
 * one-sided (a READ or FLUSH its CPU never handles). */
static void render_persistence(struct evbuffer *out,
			       const struct service_counters *c)
{
	char labels[64];

	exposition_family(
		out, "chunkd_persist_requests_total", "counter",
		"PERSIST requests by method; read-after-write and native-flush "
		"are one-sided and never reach chunkd's CPU.");
	exposition_sample(out, "chunkd_persist_requests_total",
			  "method=\"persist-rpc\"",
			  c->requests_by_type[PROTO_PERSIST]);
	exposition_family(out, "chunkd_sessions_offered_total", "counter",
			  "Sessions whose WELCOME offered each persistence "
			  "method (clients use the cheapest offered).");
	for (unsigned i = 0; i < sizeof(c->offered) / sizeof(c->offered[0]);
	     i++) {
		snprintf(labels, sizeof(labels), "method=\"%s\"",
			 proto_persist_name(1u << i));
		exposition_sample(out, "chunkd_sessions_offered_total", labels,
				  c->offered[i]);
	}
}

static void render_space(struct evbuffer *out, const struct service_stats *st)
{
	exposition_single(out, "chunkd_pool_size_bytes", "gauge",
			  "The pool's chunk area.", st->table.area_bytes);
	exposition_single(out, "chunkd_pool_used_bytes", "gauge",
			  "Bytes held by open and sealed chunks.",
			  st->table.used_bytes);
	exposition_single(out, "chunkd_pool_free_bytes", "gauge",
			  "Bytes free for new chunks.", st->table.free_bytes);
	exposition_family(out, "chunkd_chunks", "gauge", "Chunks by state.");
	exposition_sample(out, "chunkd_chunks", "state=\"open\"",
			  st->table.open_chunks);
	exposition_sample(out, "chunkd_chunks", "state=\"sealed\"",
			  st->table.sealed_chunks);
	exposition_single(out, "chunkd_chunk_records", "gauge",
			  "The most chunks the table holds at once.",
			  st->table.record_capacity);
}

static void render_sessions(struct evbuffer *out,
			    const struct service_stats *st)
{
	const struct service_counters *c = &st->counters;

	exposition_single(out, "chunkd_sessions", "gauge",
			  "Sessions connected.", st->sessions);
	exposition_single(out, "chunkd_leases_expired_total", "counter",
			  "Leases that ran out (their open chunks reclaimed).",
			  c->leases_expired);
	exposition_single(out, "chunkd_leases_revoked_total", "counter",
			  "Leases an operator revoked.", c->leases_revoked);
	exposition_single(out, "chunkd_auth_refusals_total", "counter",
			  "HELLOs refused for a wrong name or secret.",
			  c->auth_refused);
	exposition_single(out, "chunkd_handshakes_failed_total", "counter",
			  "Connections the client abandoned in the handshake.",
			  c->handshakes_failed);
	exposition_single(out, "chunkd_hello_timeouts_total", "counter",
			  "Connections closed for want of a HELLO in time.",
			  c->hello_timeouts);
	exposition_single(out, "chunkd_connections_refused_total", "counter",
			  "Connections refused over the connection limit.",
			  c->connections_refused);
	exposition_single(out, "chunkd_copies_replaced_total", "counter",
			  "Lost copies this chunkd's repairs replaced.",
			  c->copies_replaced);
	exposition_single(
		out, "chunkd_worker_raises_total", "counter",
		"Worker threads raised from SCHED_IDLE to normal priority: "
		"a job starved, or the loop waited for their lock.",
		st->worker_raises);
}

static void render_latency(struct evbuffer *out,
			   const struct service_counters *c)
{
	static const char *const ops[SERVICE_TIMED_COUNT] = {
		[SERVICE_TIMED_ALLOC] = "op=\"alloc\"",
		[SERVICE_TIMED_PERSIST] = "op=\"persist\"",
		[SERVICE_TIMED_SEAL] = "op=\"seal\"",
	};

	exposition_family(out, "chunkd_request_duration_seconds", "histogram",
			  "Time in the server from a request's arrival to its "
			  "reply: alloc (table and registration), persist "
			  "(persist-rpc), seal (revoke, CRC check, table).");
	for (unsigned i = 0; i < SERVICE_TIMED_COUNT; i++)
		exposition_histogram(out, "chunkd_request_duration_seconds",
				     ops[i], &c->latency[i]);
}

static void render_cluster(struct evbuffer *out, struct cluster *c)
{
	struct etcd_http_stats st;

	cluster_etcd_stats(c, &st);
	exposition_single(out, "chunkd_etcd_requests_total", "counter",
			  "Round trips to etcd (requests, all attempts each).",
			  st.requests);
	exposition_single(out, "chunkd_etcd_failures_total", "counter",
			  "etcd requests that got no answer or not a 2xx.",
			  st.failures);
	exposition_family(out, "chunkd_etcd_request_duration_seconds",
			  "histogram", "Time of each etcd request.");
	exposition_histogram(out, "chunkd_etcd_request_duration_seconds", NULL,
			     &st.latency);
	exposition_single(out, "chunkd_etcd_reachable", "gauge",
			  "1 when etcd answered this chunkd's last call.",
			  cluster_etcd_reachable(c));
}

static void render_scrub(struct evbuffer *out, const struct scrubber *s)
{
	struct scrub_status st;

	scrubber_status(s, &st);
	exposition_single(out, "chunkd_scrub_running", "gauge",
			  "1 while the background scrub runs.", st.running);
	exposition_single(out, "chunkd_scrub_runs_total", "counter",
			  "Scrubs started.", st.run);
	exposition_single(out, "chunkd_scrub_checked_chunks_total", "counter",
			  "Sealed chunks the scrubs checked.",
			  st.all_chunks_checked);
	exposition_single(out, "chunkd_scrub_checked_bytes_total", "counter",
			  "Bytes the scrubs read.", st.all_bytes_checked);
	exposition_single(out, "chunkd_scrub_mismatches_total", "counter",
			  "Sealed chunks whose content failed its CRC32C "
			  "(chunkd's log names each).",
			  st.all_mismatches);
	exposition_single(out, "chunkd_scrub_bytes", "gauge",
			  "Bytes of the current (or last) scrub.",
			  st.bytes_total);
	exposition_single(out, "chunkd_scrub_done_bytes", "gauge",
			  "Bytes of the current (or last) scrub read so far.",
			  st.bytes_checked);
}

void metrics_render(const struct metrics_target *t, struct evbuffer *out)
{
	struct service_stats st;

	service_stats(t->svc, &st);
	exposition_family(out, "chunkd_build_info", "gauge",
			  "chunkd's version, as a label; always 1.");
	exposition_sample(out, "chunkd_build_info",
			  "version=\"" CHUNKD_VERSION "\"", 1);
	render_requests(out, &st.counters);
	render_persistence(out, &st.counters);
	render_space(out, &st);
	render_sessions(out, &st);
	render_latency(out, &st.counters);
	if (t->scrubber)
		render_scrub(out, t->scrubber);
	if (t->cluster)
		render_cluster(out, t->cluster);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *body;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (!path || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is here");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, HTTP_BADMETHOD, "GET /metrics");
		return;
	}
	body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	metrics_render(&m->target, body);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", CONTENT_TYPE);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* Splits "HOST:PORT" (the last colon: HOST may be [v6]). */
static int split_listen(const char *listen, char *host, size_t host_len,
			uint16_t *port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	unsigned long p;
	size_t n;

	if (!colon || colon == listen)
		return -EINVAL;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p > 65535)
		return -EINVAL;
	n = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		n -= 2;
	}
	if (n == 0 || n >= host_len)
		return -EINVAL;
	memcpy(host, listen, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static uint16_t bound_port(struct evhttp_bound_socket *sock)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = (int)evhttp_bound_socket_get_fd(sock);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static struct evhttp *new_http(struct event_base *base, struct metrics *m)
{
	struct evhttp *http = evhttp_new(base);

	if (!http)
		return NULL;
	evhttp_set_max_body_size(http, MAX_REQUEST_BODY);
	evhttp_set_max_headers_size(http, MAX_REQUEST_HEADERS);
	evhttp_set_timeout(http, CONNECTION_TIMEOUT_S);
	evhttp_set_gencb(http, on_request, m);
	return http;
}

int metrics_start(struct event_base *base, const char *listen,
		  const struct metrics_target *target, struct metrics **out,
		  char *err, size_t err_len)
{
	struct evhttp_bound_socket *sock;
	struct metrics *m;
	char host[256];
	uint16_t port;

	if (split_listen(listen, host, sizeof(host), &port)) {
		snprintf(err, err_len,
			 "[metrics] listen = %s: HOST:PORT, such as "
			 "127.0.0.1:9470",
			 listen);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->http = new_http(base, m))) {
		free(m);
		snprintf(err, err_len, "metrics: out of memory");
		return -ENOMEM;
	}
	m->target = *target;
	sock = evhttp_bind_socket_with_handle(m->http, host, port);
	if (!sock) {
		snprintf(err, err_len, "metrics: cannot listen on %s: %s",
			 listen, strerror(errno));
		metrics_stop(&m);
		return -EADDRNOTAVAIL;
	}
	m->port = bound_port(sock);
	*out = m;
	return 0;
}

uint16_t metrics_port(const struct metrics *m)
{
	return m->port;
}

void metrics_stop(struct metrics **mp)
{
	struct metrics *m = *mp;

	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
	*mp = NULL;
}
