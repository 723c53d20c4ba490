/*
 * The metrics endpoint (server/metrics.h): the exposition of a service
 * that handled a known run of requests (over a pool in memory and a fake
 * transport), what Prometheus's promtool says of it, and the HTTP
 * endpoint itself on loopback: GET /metrics, and refusals of anything
 * else.
 */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/mem_pool.h"
#include "common/crc32c.h"
#include "exposition.h"
#include "metrics.h"
#include "service/service.h"
#include "table/table_pmem.h"

static struct mem_pool mp;
static struct table *table;
static struct service svc;
static struct session sess;
static struct proto_msg last_reply;
static uint64_t fake_now_us;

/* Every reading of the clock is 100 us after the one before. */
static uint64_t ticking_clock(void)
{
	return fake_now_us += 100;
}

static int keep_reply(void *ctx, const struct proto_msg *reply)
{
	(void)ctx;
	last_reply = *reply;
	return 0;
}

static int grant_any(void *ctx, uint64_t chunk, uint8_t *addr, uint64_t len,
		     uint32_t *rkey, session_grant_fn *done, void *arg)
{
	(void)done;
	(void)arg;
	(void)ctx;
	(void)chunk;
	(void)addr;
	(void)len;
	*rkey = 7;
	return 0;
}

static void revoke_any(void *ctx, uint64_t chunk)
{
	(void)ctx;
	(void)chunk;
}

static int revoke_any_async(void *ctx, uint64_t chunk, session_revoked_fn *done,
			    void *arg)
{
	(void)done;
	(void)arg;
	revoke_any(ctx, chunk);
	return 0;
}

static const struct session_ops keeping_ops = {
	.send_reply = keep_reply,
	.grant_write = grant_any,
	.revoke_write = revoke_any,
	.revoke_write_async = revoke_any_async,
	.grant_read = grant_any,
	.revoke_read = revoke_any,
	.revoke_read_async = revoke_any_async,
};

static void setup(void)
{
	struct table_pmem_report rep;

	cr_assert_eq(mem_pool_create(&mp, 1u << 20, 4096, 64), 0);
	cr_assert_eq(
		table_pmem_open(mp.image, &mp.geo, &mp.persist, &table, &rep),
		0);
	service_init(&svc, table, mp.image + mp.geo.chunk_area_offset,
		     &mp.persist, 4096, false, 10000);
	svc.clock_us = ticking_clock;
	service_session_start(&svc, &sess, &keeping_ops, NULL);
}

static void teardown(void)
{
	service_session_end(&svc, &sess);
	table_close(&table);
	mem_pool_destroy(&mp);
}

TestSuite(metrics, .init = setup, .fini = teardown);

/* Hands req to the service; returns its reply. */
static struct proto_msg call(struct proto_msg req)
{
	uint8_t frame[PROTO_MAX_FRAME];
	int len;

	req.hdr.request_id = 1;
	len = proto_encode(&req, frame, sizeof(frame));
	cr_assert_gt(len, 0);
	memset(&last_reply, 0, sizeof(last_reply));
	service_handle(&svc, &sess, frame, (size_t)len);
	return last_reply;
}

static struct proto_msg request(unsigned type)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = (uint8_t)type;
	return m;
}

/* HELLO, two ALLOCs of 8 KiB, a PERSIST of each, one SEAL, a PERSIST of a
 * chunk that does not exist, and a frame that does not decode. */
static void run_requests(void)
{
	struct proto_msg m = request(PROTO_HELLO), r;
	uint64_t chunk[2];
	uint8_t junk[8] = {0};

	cr_assert_eq(call(m).hdr.type, PROTO_WELCOME);
	for (int i = 0; i < 2; i++) {
		m = request(PROTO_ALLOC);
		m.u.alloc.size = 8192;
		m.u.alloc.epoch = 1;
		r = call(m);
		cr_assert_eq(r.hdr.type, PROTO_GRANT);
		chunk[i] = r.u.grant.chunk;
		m = request(PROTO_PERSIST);
		m.u.persist.chunk = chunk[i];
		m.u.persist.length = 8192;
		m.u.persist.epoch = 1;
		cr_assert_eq(call(m).hdr.type, PROTO_PERSISTED);
	}
	m = request(PROTO_SEAL);
	m.u.seal.chunk = chunk[0];
	m.u.seal.length = 5000;
	m.u.seal.crc = crc32c(0, mp.image + mp.geo.chunk_area_offset, 0);
	m.u.seal.epoch = 1;
	cr_assert_eq(call(m).hdr.type, PROTO_ERROR, "a wrong CRC is refused");
	m.u.seal.crc = crc32c(0, (uint8_t[5000]){0}, 5000);
	cr_assert_eq(call(m).hdr.type, PROTO_SEALED);
	m = request(PROTO_PERSIST);
	m.u.persist.chunk = 999;
	m.u.persist.length = 1;
	m.u.persist.epoch = 1;
	cr_assert_eq(call(m).hdr.type, PROTO_ERROR);
	service_handle(&svc, &sess, junk, sizeof(junk));
}

static char *render(void)
{
	struct evbuffer *b = evbuffer_new();
	struct metrics_target t = {.svc = &svc};
	size_t n;
	char *text;

	metrics_render(&t, b);
	n = evbuffer_get_length(b);
	text = malloc(n + 1);
	cr_assert_not_null(text);
	evbuffer_remove(b, text, n);
	text[n] = '\0';
	evbuffer_free(b);
	return text;
}

static void expect_line(const char *text, const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%s\n", line);
	cr_assert_not_null(strstr(text, want), "no line \"%s\" in:\n%s", line,
			   text);
}

Test(metrics, the_exposition_counts_a_known_run_of_requests)
{
	char *text;

	run_requests();
	text = render();
	expect_line(text, "chunkd_requests_total{type=\"HELLO\"} 1");
	expect_line(text, "chunkd_requests_total{type=\"ALLOC\"} 2");
	expect_line(text, "chunkd_requests_total{type=\"PERSIST\"} 3");
	expect_line(text, "chunkd_requests_total{type=\"SEAL\"} 2");
	expect_line(text, "chunkd_requests_total{type=\"FREE\"} 0");
	expect_line(text, "chunkd_request_errors_total{type=\"SEAL\"} 1");
	expect_line(text, "chunkd_request_errors_total{type=\"PERSIST\"} 1");
	expect_line(text, "chunkd_request_errors_total{type=\"ALLOC\"} 0");
	expect_line(text, "chunkd_malformed_frames_total 1");
	expect_line(text, "chunkd_granted_bytes_total 16384");
	expect_line(text, "chunkd_sealed_bytes_total 5000");
	expect_line(text,
		    "chunkd_persist_requests_total{method=\"persist-rpc\"} 3");
	expect_line(text,
		    "chunkd_sessions_offered_total{method=\"persist-rpc\"} 1");
	expect_line(text,
		    "chunkd_sessions_offered_total{method=\"native-flush\"} 0");
	expect_line(text, "chunkd_chunks{state=\"open\"} 1");
	expect_line(text, "chunkd_chunks{state=\"sealed\"} 1");
	expect_line(text, "chunkd_pool_used_bytes 16384");
	expect_line(text, "chunkd_sessions 1");
	expect_line(text,
		    "chunkd_request_duration_seconds_count{op=\"alloc\"} 2");
	expect_line(text,
		    "chunkd_request_duration_seconds_count{op=\"persist\"} 3");
	expect_line(text,
		    "chunkd_request_duration_seconds_count{op=\"seal\"} 2");
	/* Each reading of the clock is 100 us on: no request took less. */
	expect_line(text, "chunkd_request_duration_seconds_bucket{op=\"seal\","
			  "le=\"0.00005\"} 0");
	expect_line(text, "chunkd_request_duration_seconds_bucket{op=\"seal\","
			  "le=\"+Inf\"} 2");
	cr_assert_null(strstr(text, "chunkd_etcd"), "not in cluster mode");
	free(text);
}

Test(metrics, histograms_are_cumulative_in_seconds)
{
	struct histogram h = {0};
	struct evbuffer *b = evbuffer_new();
	char text[4096];
	size_t n;

	histogram_observe(&h, 5);
	histogram_observe(&h, 30);
	histogram_observe(&h, 2000000);
	histogram_observe(&h, 60000000);
	exposition_histogram(b, "x_seconds", "op=\"a\"", &h);
	n = evbuffer_remove(b, text + 1, sizeof(text) - 2);
	text[0] = '\n';
	text[n + 1] = '\0';
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"0.00001\"} 1");
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"0.000025\"} 1");
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"0.00005\"} 2");
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"1\"} 2");
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"2.5\"} 3");
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"10\"} 3");
	expect_line(text, "x_seconds_bucket{op=\"a\",le=\"+Inf\"} 4");
	expect_line(text, "x_seconds_sum{op=\"a\"} 62.000035");
	expect_line(text, "x_seconds_count{op=\"a\"} 4");
	evbuffer_free(b);
}

/* promtool (Debian's prometheus package) is the reference checker of
 * the format and of Prometheus's naming conventions. */
Test(metrics, promtool_accepts_the_exposition)
{
	char path[] = "/tmp/chunkd-metrics-XXXXXX";
	char cmd[256];
	char *text;
	int fd, rc;

	run_requests();
	text = render();
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	rc = system(cmd);
	unlink(path);
	free(text);
	cr_assert_eq(rc, 0,
		     "promtool check metrics: exit %d (is prometheus "
		     "installed? deploy/install-deps.sh)",
		     rc);
}

/* Sends request to 127.0.0.1:port and runs base until the server closes
 * the connection; returns what came back. */
static char *http_exchange(struct event_base *base, uint16_t port,
			   const char *request)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	cr_assert(buf && fd >= 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(write(fd, request, strlen(request)),
		     (ssize_t)strlen(request));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int turns = 0; turns < 100000; turns++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = read(fd, buf + len, cap - 1 - len);
		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else
			usleep(100);
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The status code of an HTTP reply ("HTTP/1.1 200 OK" -> 200). */
static int status_of(const char *reply)
{
	const char *space = strchr(reply, ' ');

	cr_assert(strncmp(reply, "HTTP/1.", 7) == 0 && space, "%s", reply);
	return atoi(space + 1);
}

Test(metrics, the_endpoint_serves_get_metrics_and_refuses_the_rest)
{
	struct event_base *base = event_base_new();
	struct metrics_target t = {.svc = &svc};
	struct metrics *m = NULL;
	char err[256], *reply;
	uint16_t port;

	cr_assert_eq(metrics_start(base, "nonsense", &t, &m, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "HOST:PORT"), "%s", err);
	cr_assert_eq(
		metrics_start(base, "127.0.0.1:0", &t, &m, err, sizeof(err)), 0,
		"%s", err);
	port = metrics_port(m);
	cr_assert_neq(port, 0);
	run_requests();
	reply = http_exchange(base, port, "GET /metrics HTTP/1.0\r\n\r\n");
	cr_assert_eq(status_of(reply), 200, "%s", reply);
	cr_assert_not_null(strstr(reply, "text/plain; version=0.0.4"));
	cr_assert_not_null(strstr(reply, "\nchunkd_sealed_bytes_total 5000\n"));
	free(reply);
	reply = http_exchange(base, port, "GET /other HTTP/1.0\r\n\r\n");
	cr_assert_eq(status_of(reply), 404, "%s", reply);
	free(reply);
	/* Request targets without a plain path: refused, chunkd unharmed. */
	reply = http_exchange(base, port, "GET * HTTP/1.0\r\n\r\n");
	cr_assert_neq(status_of(reply), 200, "%s", reply);
	free(reply);
	reply = http_exchange(base, port, "GET http://x HTTP/1.0\r\n\r\n");
	cr_assert_neq(status_of(reply), 200, "%s", reply);
	free(reply);
	reply = http_exchange(base, port, "junk\r\n\r\n");
	free(reply);
	reply = http_exchange(base, port,
			      "POST /metrics HTTP/1.0\r\nContent-Length: "
			      "0\r\n\r\n");
	cr_assert_eq(status_of(reply), 405, "%s", reply);
	free(reply);
	metrics_stop(&m);
	cr_assert_null(m);
	event_base_free(base);
}
