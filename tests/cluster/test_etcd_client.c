/*
 * chunkd's etcd client (server/etcd/) against a real 3-member etcd (the
 * ctest fixture's, CHUNKD_TEST_ETCD): endpoints tried in turn, failed
 * transactions told from successful ones, etcd's errors decoded (a fake
 * member stands in for one without quorum), watches
 * that see puts and deletes, and bad endpoint lists refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "etcd/etcd.h"
#include "etcd/etcd_json.h"
#include "etcd/etcd_watch.h"

static struct event_base *base;
static struct etcd *e;
static char first[64], key[128], err[512];

static const char *endpoints(void)
{
	const char *ep = getenv("CHUNKD_TEST_ETCD");

	cr_assert(ep && *ep, "CHUNKD_TEST_ETCD is not set: this test needs the "
			     "etcd cluster ctest's fixture starts");
	return ep;
}

static void setup(void)
{
	const char *comma;

	base = event_base_new();
	cr_assert(base);
	comma = strchr(endpoints(), ',');
	cr_assert(comma);
	snprintf(first, sizeof(first), "%.*s", (int)(comma - endpoints()),
		 endpoints());
	snprintf(key, sizeof(key), "/etcd-client-%d/k", (int)getpid());
}

static void teardown(void)
{
	etcd_free(&e);
	event_base_free(base);
}

TestSuite(etcd_client, .init = setup, .fini = teardown, .timeout = 60);

static void open_etcd(const char *eps, unsigned timeout_ms)
{
	cr_assert_eq(etcd_new(base, eps, timeout_ms, &e, err, sizeof(err)), 0,
		     "%s", err);
}

static json_t *create_txn(void)
{
	return etcd_json_txn(etcd_json_list(etcd_json_cmp_absent(key), NULL),
			     etcd_json_list(etcd_json_put(key, "v", 0), NULL),
			     etcd_json_list(etcd_json_get(key), NULL));
}

Test(etcd_client, a_dead_endpoint_is_passed_over)
{
	char eps[128];
	json_t *body = NULL;

	snprintf(eps, sizeof(eps), "http://127.0.0.1:1,%s", first);
	open_etcd(eps, 3000);
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/txn", create_txn(), &body, NULL,
				    NULL, err, sizeof(err)),
		     0, "%s", err);
	json_decref(body);
	cr_assert(etcd_reachable(e));
}

Test(etcd_client, a_failed_transaction_is_told_from_a_successful_one)
{
	bool won = false;
	int64_t rev = 0;
	json_t *body = NULL, *kvs;
	struct etcd_kv kv;

	open_etcd(endpoints(), 3000);
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/txn", create_txn(), NULL, &rev,
				    &won, err, sizeof(err)),
		     0, "%s", err);
	cr_assert(won, "the first create-if-absent succeeds");
	cr_assert_gt(rev, 0);
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/txn", create_txn(), &body, NULL,
				    &won, err, sizeof(err)),
		     0, "%s", err);
	cr_assert(!won, "HTTP 200 without \"succeeded\" is a failure");
	kvs = etcd_json_txn_range(body, 0);
	cr_assert_eq(json_array_size(kvs), 1, "the failure branch read it");
	cr_assert_eq(etcd_json_kv(json_array_get(kvs, 0), &kv), 0);
	cr_assert_str_eq(kv.key, key);
	cr_assert_str_eq(kv.value, "v");
	cr_assert_eq(kv.mod_revision, rev);
	json_decref(body);
}

Test(etcd_client, etcds_errors_are_decoded)
{
	open_etcd(endpoints(), 3000);
	cr_assert_eq(etcd_call_wait(e, "/v3/lease/revoke",
				    json_pack("{s:s}", "ID", "12345"), NULL,
				    NULL, NULL, err, sizeof(err)),
		     -ENOENT);
	cr_assert(strstr(err, "HTTP 404"), "%s", err);
	cr_assert(etcd_reachable(e), "an error answer is an answer");
}

/* A fake member that answers one request with HTTP 500 "context deadline
 * exceeded", as a member without quorum answers a write; returns its
 * port. The child exits after answering. */
static int fake_member_without_quorum(void)
{
	static const char body[] = "{\"error\":\"context deadline exceeded\","
				   "\"message\":\"context deadline "
				   "exceeded\",\"code\":2}";
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c;
	char req[4096], answer[512];

	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	if (fork() == 0) {
		c = accept(l, NULL, NULL);
		if (c < 0 || read(c, req, sizeof(req)) <= 0)
			_exit(1);
		snprintf(answer, sizeof(answer),
			 "HTTP/1.1 500 Internal Server Error\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 strlen(body), body);
		_exit(write(c, answer, strlen(answer)) > 0 ? 0 : 1);
	}
	close(l);
	return ntohs(a.sin_port);
}

/* A member without quorum answers, late, with an HTTP 5xx: the call
 * fails and etcd counts as lost, so its loss is not logged twice. */
Test(etcd_client, a_member_without_quorum_counts_as_lost)
{
	char eps[64];

	snprintf(eps, sizeof(eps), "http://127.0.0.1:%d",
		 fake_member_without_quorum());
	open_etcd(eps, 3000);
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/range", etcd_json_range_key(key),
				    NULL, NULL, NULL, err, sizeof(err)),
		     -EAGAIN, "%s", err);
	cr_assert(strstr(err, "HTTP 500"), "%s", err);
	cr_assert(!etcd_reachable(e));
	wait(NULL);
}

Test(etcd_client, no_endpoint_answering_fails_within_the_deadline)
{
	open_etcd("http://127.0.0.1:1,http://127.0.0.1:2", 500);
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/range", etcd_json_range_key(key),
				    NULL, NULL, NULL, err, sizeof(err)),
		     -ECONNREFUSED);
	cr_assert(strstr(err, "unreachable"), "%s", err);
	cr_assert(!etcd_reachable(e));
}

Test(etcd_client, bad_endpoint_lists_are_refused_with_a_reason)
{
	cr_assert_eq(etcd_new(base, "ftp://x:1", 1000, &e, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "ftp://x:1"), "%s", err);
	cr_assert_eq(etcd_new(base, " , ", 1000, &e, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "no etcd endpoint"), "%s", err);
	cr_assert_null(e);
}

struct seen {
	int puts, deletes, ended;
	char last[ETCD_VALUE_MAX];
};

static void on_event(void *arg, const struct etcd_kv *kv, bool deleted)
{
	struct seen *s = arg;

	if (deleted)
		s->deletes++;
	else
		s->puts++;
	snprintf(s->last, sizeof(s->last), "%s", kv->value);
}

static void on_end(void *arg, const char *why)
{
	(void)why;
	((struct seen *)arg)->ended++;
}

static void loop_until(const int *counter, int want)
{
	uint64_t deadline = clock_mono_us() + 10 * 1000000ull;

	while (*counter < want && clock_mono_us() < deadline)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_geq(*counter, want);
}

Test(etcd_client, a_watch_sees_puts_and_deletes_under_its_prefix)
{
	struct seen s = {0};
	struct etcd_watch *w;
	char prefix[128];
	int64_t rev = 0;

	open_etcd(endpoints(), 3000);
	snprintf(prefix, sizeof(prefix), "/etcd-client-%d/", (int)getpid());
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/range", etcd_json_range_key(key),
				    NULL, &rev, NULL, err, sizeof(err)),
		     0, "%s", err);
	w = etcd_watch_prefix(e, prefix, rev + 1, on_event, on_end, &s);
	cr_assert(w);
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/txn", create_txn(), NULL, NULL,
				    NULL, err, sizeof(err)),
		     0, "%s", err);
	loop_until(&s.puts, 1);
	cr_assert_str_eq(s.last, "v");
	cr_assert_eq(etcd_call_wait(e, "/v3/kv/deleterange",
				    etcd_json_range_key(key), NULL, NULL, NULL,
				    err, sizeof(err)),
		     0, "%s", err);
	loop_until(&s.deletes, 1);
	cr_assert_eq(s.ended, 0);
	etcd_watch_cancel(&w);
	cr_assert_null(w);
}
