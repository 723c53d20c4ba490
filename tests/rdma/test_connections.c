/*
 * What bounds chunkd's connections, against a real chunkd: handshakes a
 * client abandons are freed, a connection that never says HELLO is closed
 * at the deadline, the connection limit refuses the next client with a
 * clear error, and an admin socket out of descriptors backs off instead of
 * spinning. Each time chunkctl keeps answering and, afterwards, sessions
 * and descriptors are back where they started.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/ctl_json.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"

#define PORT 7530

static struct chunkd_proc server;
static char pool[64];

static void start(const char *const *extra)
{
	chunkd_fresh_pool("conns", pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, "32M", PORT, extra);
}

static void teardown(void)
{
	chunkd_finish(&server, pool);
}

TestSuite(connections, .fini = teardown, .timeout = 600);

/* ---- what chunkd holds ---- */

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	cr_assert_not_null(d, "cannot read %s", path);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static json_t *status(void)
{
	return ctl_json_ok(CHUNKCTL_BINARY, &server, "status", NULL, NULL);
}

static long long sessions(void)
{
	json_t *s = status();
	long long n = json_num(s, "sessions");

	json_decref(s);
	return n;
}

static long long counter(const char *name)
{
	json_t *s = status();
	long long n = json_num(json_object_get(s, "counters"), name);

	json_decref(s);
	return n;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits (at most a generous minute) until chunkd holds want sessions and
 * want_fds descriptors (-1: any), then checks both. */
static void expect_back_to(long long want, int want_fds)
{
	double give_up = now_s() + 60;

	while (now_s() < give_up &&
	       (sessions() != want ||
		(want_fds >= 0 && count_fds(server.pid) != want_fds)))
		usleep(200000);
	cr_assert_eq(sessions(), want, "sessions");
	if (want_fds >= 0)
		cr_assert_eq(count_fds(server.pid), want_fds, "descriptors");
}

/* ---- raw rdma_cm handshakes, as a client that goes away would do ---- */

struct raw {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
};

/* Waits for the next event on r's channel; returns its type. */
static enum rdma_cm_event_type next_event(struct raw *r, int timeout_ms)
{
	struct pollfd pfd = {.fd = r->ch->fd, .events = POLLIN};
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type type;

	cr_assert_eq(poll(&pfd, 1, timeout_ms), 1, "no rdma_cm event");
	cr_assert_eq(rdma_get_cm_event(r->ch, &ev), 0);
	type = ev->event;
	rdma_ack_cm_event(ev);
	return type;
}

/* Resolves chunkd's address and sends a connect request; no QP: nothing
 * is sent on it, and the handshake stops where the caller says. */
static void raw_connect(struct raw *r)
{
	struct rdma_addrinfo hints = {.ai_port_space = RDMA_PS_TCP}, *res;
	/* The QP number the request names (there is no QP): a new one each
	 * time, or the CM takes it for a stale connection and rejects it. */
	static uint32_t qpn;
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1,
					.retry_count = 7};
	char port[8];

	if (!qpn) /* above rxe's own QP numbers; apart per test process */
		qpn = 0x400000u + (uint32_t)(getpid() % 1024) * 4096u;
	param.qp_num = qpn++;

	snprintf(port, sizeof(port), "%u", PORT);
	r->ch = rdma_create_event_channel();
	cr_assert_not_null(r->ch);
	cr_assert_eq(rdma_create_id(r->ch, &r->id, NULL, RDMA_PS_TCP), 0);
	cr_assert_eq(rdma_getaddrinfo(server.addr, port, &hints, &res), 0);
	cr_assert_eq(rdma_resolve_addr(r->id, NULL, res->ai_dst_addr, 5000), 0);
	rdma_freeaddrinfo(res);
	cr_assert_eq(next_event(r, 5000), RDMA_CM_EVENT_ADDR_RESOLVED);
	cr_assert_eq(rdma_resolve_route(r->id, 5000), 0);
	cr_assert_eq(next_event(r, 5000), RDMA_CM_EVENT_ROUTE_RESOLVED);
	cr_assert_eq(rdma_connect(r->id, &param), 0);
}

static void raw_close(struct raw *r)
{
	rdma_destroy_id(r->id);
	rdma_destroy_event_channel(r->ch);
}

/* Connects and goes away: right after the request (odd i), or after
 * chunkd accepted, without the final handshake message (even i). */
static void abandon_handshake(int i)
{
	struct raw r;

	raw_connect(&r);
	if (i % 2 == 0) {
		enum rdma_cm_event_type ev = next_event(&r, 10000);

		cr_assert_eq(ev, RDMA_CM_EVENT_CONNECT_RESPONSE,
			     "handshake %d was not accepted: %s", i,
			     rdma_event_str(ev));
	}
	raw_close(&r);
}

/* Connects all the way, and then says nothing. */
static void open_silent(struct raw *r)
{
	enum rdma_cm_event_type ev;

	raw_connect(r);
	ev = next_event(r, 10000);
	cr_assert_eq(ev, RDMA_CM_EVENT_CONNECT_RESPONSE, "%s",
		     rdma_event_str(ev));
	cr_assert_eq(rdma_establish(r->id), 0);
}

/* A client's life in a few calls: it was served. */
static void expect_served(void)
{
	struct chunk_client *c = NULL;
	uint8_t data[4096], back[4096];
	unsigned long long id;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3 + 1);
	cr_assert_eq(chunk_client_connect(server.addr, PORT, NULL, &c),
		     CHUNK_OK);
	cr_assert_eq(chunk_alloc(c, sizeof(data), &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, sizeof(data)),
		     CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, sizeof(data),
				chunk_crc32c(0, data, sizeof(data))),
		     CHUNK_OK);
	cr_assert_eq(chunk_read(c, id, 0, back, sizeof(back)), CHUNK_OK);
	cr_assert_arr_eq(back, data, sizeof(back));
	cr_assert_eq(chunk_free(c, id), CHUNK_OK);
	chunk_client_disconnect(&c);
}

Test(connections, abandoned_handshakes_are_freed)
{
	int fds;

	start(NULL);
	fds = count_fds(server.pid);
	for (int i = 0; i < 1100; i++)
		abandon_handshake(i);
	expect_back_to(0, fds);
	cr_assert_geq(counter("handshakes_failed"), 550,
		      "every accepted handshake that was abandoned is counted");
	expect_served();
	expect_back_to(0, fds);
}

Test(connections, silent_connections_are_closed_at_the_hello_deadline)
{
	static const char *const extra[] = {"--hello-timeout-ms", "3000", NULL};
	static struct raw silent[200];
	int fds, disconnected = 0;

	start(extra);
	fds = count_fds(server.pid);
	for (int i = 0; i < 200; i++)
		open_silent(&silent[i]);
	expect_back_to(0, fds);
	cr_assert_eq(counter("hello_timeouts"), 200);
	for (int i = 0; i < 200; i++) {
		disconnected += next_event(&silent[i], 10000) ==
				RDMA_CM_EVENT_DISCONNECTED;
		raw_close(&silent[i]);
	}
	cr_assert_eq(disconnected, 200, "each client was told");
	expect_served();
}

static char last_log[512];

static void keep_log(enum chunk_log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

Test(connections, the_limit_refuses_with_a_clear_error_and_chunkctl_answers)
{
	static const char *const extra[] = {"--max-connections", "3", NULL};
	struct chunk_client *c[4] = {0};

	start(extra);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(
			chunk_client_connect(server.addr, PORT, NULL, &c[i]),
			CHUNK_OK);
	chunk_log_set_function(keep_log, NULL, CHUNK_LOG_ERROR);
	cr_assert_eq(chunk_client_connect(server.addr, PORT, NULL, &c[3]),
		     CHUNK_E_BUSY);
	chunk_log_set_function(NULL, NULL, CHUNK_LOG_ERROR);
	cr_assert(strstr(last_log, "limit of 3 connections"), "%s", last_log);
	cr_assert_eq(sessions(), 3, "chunkctl answers at the limit");
	cr_assert_eq(counter("connections_refused"), 1);
	chunk_client_disconnect(&c[0]);
	expect_back_to(2, -1);
	expect_served();
	chunk_client_disconnect(&c[1]);
	chunk_client_disconnect(&c[2]);
}

/* Lines of chunkd's log that hold what. */
static int log_lines_with(const char *what)
{
	static char log[1 << 20];
	int n = 0;

	slurp(server.log_path, log, sizeof(log));
	for (const char *p = log; (p = strstr(p, what)); p++)
		n++;
	return n;
}

Test(connections, out_of_descriptors_the_admin_socket_backs_off)
{
	static const char *const extra[] = {"--max-connections", "500",
					    "--hello-timeout-ms", "600000",
					    NULL};
	static struct raw held[100];
	struct rlimit saved, low = {.rlim_cur = 80, .rlim_max = 80};
	int n = 0, status;
	double pressed_s;
	json_t *j;

	/* chunkd inherits 80 descriptors and a limit set past them. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	start(extra);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0, "needs root");
	/* Connections take chunkd's descriptors until one is refused. */
	for (; n < 100; n++) {
		raw_connect(&held[n]);
		if (next_event(&held[n], 10000) !=
		    RDMA_CM_EVENT_CONNECT_RESPONSE)
			break;
		cr_assert_eq(rdma_establish(held[n].id), 0);
	}
	cr_assert_lt(n, 100, "chunkd ran out of descriptors");
	raw_close(&held[n]);
	pressed_s = now_s();
	for (int i = 0; i < 3; i++) {
		char *argv[] = {CHUNKCTL_BINARY,
				"--socket",
				server.admin_socket,
				"--timeout",
				"2",
				"status",
				NULL};
		struct cmd_result r;

		cr_assert_eq(run_cmd(argv, &r), 0);
		cr_assert_eq(r.status, 3, "no descriptor to answer with");
		cr_assert(strstr(r.err, "did not answer"), "%s", r.err);
	}
	cr_assert(chunkd_alive(&server));
	cr_assert_leq(log_lines_with("admin: accept: Too many open files"),
		      (int)((now_s() - pressed_s) / 10) + 1,
		      "one message per 10 s, not one per try");
	for (int i = 0; i < n; i++)
		raw_close(&held[i]);
	j = ctl_json(CHUNKCTL_BINARY, &server, &status, "status", NULL, NULL);
	cr_assert_eq(status, 0,
		     "chunkctl answers once descriptors are free (exit %d, "
		     "chunkd %s)",
		     status, chunkd_alive(&server) ? "alive" : "dead");
	json_decref(j);
	expect_back_to(0, -1);
	expect_served();
}
