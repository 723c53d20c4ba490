/*
 * The admin socket's protocol (README, "The admin protocol") through
 * admin_handle_line, over a real DRAM pool, its table and a service with a
 * fake transport; admin_stop with a client still connected; and the
 * background scrub (verify, verify_status) finding a damaged chunk.
 */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/null_session.h"
#include "admin.h"
#include "common/crc32c.h"
#include "scrubber.h"
#include "pool/pool.h"
#include "service/service.h"
#include "table/table_pmem.h"

static struct pool *pool;
static struct table *table;
static struct service svc;
static struct session sess;
static struct admin *admin;
static struct scrubber *scrubber;
static uint32_t scrub_mb_s = 0;
static struct event_base *base;
static char pool_path[64], sock_path[64];

static void setup(void)
{
	struct pool_opts po = {.path = pool_path, .create_size = 4u << 20};
	struct table_pmem_report rep;
	char err[512];

	snprintf(pool_path, sizeof(pool_path), "/dev/shm/chunkd-admin-%d.pool",
		 (int)getpid());
	snprintf(sock_path, sizeof(sock_path), "/tmp/chunkd-admin-%d.sock",
		 (int)getpid());
	unlink(pool_path);
	base = event_base_new();
	cr_assert_not_null(base);
	cr_assert_eq(pool_open(&po, &pool, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(table_pmem_open(pool->base, &pool->geo, &pool->persist,
				     &table, &rep),
		     0);
	service_init(&svc, table, pool_chunk_area(pool), &pool->persist, 4096,
		     false, 10000);
	service_session_start(&svc, &sess, &null_session_ops, NULL);
	sess.greeted = true;
	cr_assert_eq(
		scrubber_new(base, table, pool_chunk_area(pool), &scrubber), 0);
	cr_assert_eq(
		admin_start(base, sock_path,
			    &(struct admin_target){&svc,
						   table,
						   pool,
						   pool_path,
						   NULL,
						   {scrubber, &scrub_mb_s}},
			    &admin, err, sizeof(err)),
		0, "%s", err);
}

static void teardown(void)
{
	admin_stop(&admin);
	scrubber_free(&scrubber);
	service_session_end(&svc, &sess);
	table_close(&table);
	pool_close(&pool);
	event_base_free(base);
	unlink(pool_path);
}

TestSuite(admin, .init = setup, .fini = teardown);

/* The reply to line, parsed; fails unless it is one JSON object. */
static json_t *ask(const char *line)
{
	char *reply = admin_handle_line(admin, line);
	json_t *j;

	cr_assert_not_null(reply);
	cr_assert_null(strchr(reply, '\n'), "one line: %s", reply);
	j = json_loads(reply, 0, NULL);
	cr_assert_not_null(j, "not JSON: %s", reply);
	free(reply);
	return j;
}

static void expect_error(const char *line, const char *code)
{
	json_t *j = ask(line);

	cr_assert(json_is_false(json_object_get(j, "ok")), "%s", line);
	cr_assert_str_eq(json_string_value(json_object_get(j, "code")), code,
			 "%s", line);
	cr_assert_not_null(json_string_value(json_object_get(j, "error")));
	json_decref(j);
}

Test(admin, malformed_or_unknown_requests_get_an_error_line)
{
	expect_error("not json", "EINVAL");
	expect_error("[1,2]", "EINVAL");
	expect_error("{\"cmd\":\"frobnicate\"}", "EINVAL");
	expect_error("{\"cmd\":\"chunks\",\"state\":\"weird\"}", "EINVAL");
	expect_error("{\"cmd\":\"chunk_show\"}", "EINVAL");
	expect_error("{\"cmd\":\"chunk_show\",\"id\":999}", "ENOENT");
	expect_error("{\"cmd\":\"lease_revoke\",\"id\":12345}", "ENOENT");
}

Test(admin, status_chunks_and_chunk_free_describe_the_table)
{
	struct table_record rec;
	char line[128];
	json_t *j;

	cr_assert_eq(table_pmem_alloc(table, 5000, sess.id, sess.epoch, &rec),
		     0);
	j = ask("{\"cmd\":\"status\"}");
	cr_assert(json_is_true(json_object_get(j, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(
			     json_object_get(j, "chunks"), "open")),
		     1);
	cr_assert_eq(json_integer_value(json_object_get(j, "sessions")), 1);
	json_decref(j);
	j = ask("{\"cmd\":\"chunks\",\"state\":\"open\"}");
	cr_assert_eq(json_array_size(json_object_get(j, "chunks")), 1);
	json_decref(j);
	snprintf(line, sizeof(line), "{\"cmd\":\"chunk_free\",\"id\":%llu}",
		 (unsigned long long)rec.id);
	j = ask(line);
	cr_assert(json_is_true(json_object_get(j, "freed")));
	json_decref(j);
	cr_assert_neq(table_lookup(table, rec.id, &rec), 0, "freed");
}

Test(admin, stopping_closes_connected_clients)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct timeval timeout = {.tv_sec = 5};
	char buf[8];

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	/* Let the loop accept it. */
	for (int i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	admin_stop(&admin);
	cr_assert_null(admin);
	/* libevent closes a freed bufferevent's socket from the loop. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout,
				sizeof(timeout)),
		     0);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0,
		     "the client sees its connection closed");
	cr_assert_neq(access(sock_path, F_OK), 0, "the socket file is gone");
	close(fd);
}

Test(admin, cluster_outside_cluster_mode_is_refused_with_a_reason)
{
	const char *lines[] = {"{\"cmd\":\"cluster\"}",
			       "{\"cmd\":\"under_replicated\"}"};

	for (size_t i = 0; i < 2; i++) {
		char *reply = admin_handle_line(admin, lines[i]);

		cr_assert(strstr(reply, "\"ok\":false"), "%s", reply);
		cr_assert(strstr(reply, "not in a cluster"), "%s", reply);
		free(reply);
	}
}

Test(admin, chunk_show_of_a_chunk_of_one_copy_lists_no_copies)
{
	struct table_record rec;
	char line[96];
	json_t *r;

	cr_assert_eq(table_pmem_alloc(table, 4096, 1, 1, &rec), 0);
	snprintf(line, sizeof(line), "{\"cmd\":\"chunk_show\",\"id\":%llu}",
		 (unsigned long long)rec.id);
	r = ask(line);
	cr_assert(json_is_true(json_object_get(r, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(
			     json_object_get(r, "chunk"), "id")),
		     (json_int_t)rec.id);
	cr_assert_null(json_object_get(json_object_get(r, "chunk"), "copies"),
		       "a chunk of one copy lists none");
	json_decref(r);
}

/* A sealed chunk of len bytes of value fill; returns its id. */
static uint64_t sealed_chunk(uint64_t len, int fill)
{
	struct table_record rec;
	uint8_t *at;

	cr_assert_eq(table_pmem_alloc(table, len, sess.id, sess.epoch, &rec),
		     0);
	at = pool_chunk_area(pool) + rec.offset;
	memset(at, fill, len);
	cr_assert_eq(
		table_pmem_seal(table, rec.id, len, crc32c(0, at, len), NULL),
		0);
	return rec.id;
}

/* Runs the loop until the scrub is over; returns its last status. */
static json_t *scrub_to_the_end(void)
{
	json_t *st = NULL;

	for (int i = 0; i < 500; i++) {
		json_decref(st);
		st = ask("{\"cmd\":\"verify_status\"}");
		if (json_is_false(json_object_get(st, "running")))
			return st;
		event_base_loop(base, EVLOOP_ONCE);
	}
	cr_assert_fail("the scrub did not end");
	return NULL;
}

Test(admin, the_background_scrub_names_a_damaged_chunk_and_skips_freed_ones)
{
	uint64_t good = sealed_chunk(1 << 20, 1), bad = sealed_chunk(8192, 2);
	struct table_record rec;
	json_t *st;

	cr_assert_eq(table_lookup(table, bad, &rec), 0);
	pool_chunk_area(pool)[rec.offset + 100] ^= 0x40; /* the damage */
	st = ask("{\"cmd\":\"verify\",\"rate_mb_s\":-1}");
	cr_assert(json_is_false(json_object_get(st, "ok")), "a bad rate");
	json_decref(st);
	st = ask("{\"cmd\":\"verify\"}");
	cr_assert(json_is_true(json_object_get(st, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(st, "run")), 1);
	cr_assert_eq(json_integer_value(json_object_get(st, "chunks")), 2);
	json_decref(st);
	st = scrub_to_the_end();
	cr_assert_eq(json_integer_value(json_object_get(st, "checked")), 2);
	cr_assert_eq(json_integer_value(json_object_get(st, "bytes")),
		     (1 << 20) + 8192);
	cr_assert_eq(json_integer_value(json_object_get(st, "mismatches")), 1);
	cr_assert_eq(json_integer_value(json_array_get(
			     json_object_get(st, "mismatched"), 0)),
		     (json_int_t)bad);
	json_decref(st);

	/* A damaged chunk freed while a scrub runs is no mismatch: the loop
	 * confirms each suspect against the table first. At 1 MB/s the
	 * worker takes a second over the good chunk's MiB; the free comes
	 * at once, before the loop can hear of any suspect. */
	st = ask("{\"cmd\":\"verify\",\"rate_mb_s\":1}");
	cr_assert(json_is_true(json_object_get(st, "running")));
	json_decref(st);
	cr_assert_eq(table_pmem_free(table, bad), 0);
	st = scrub_to_the_end();
	cr_assert_eq(json_integer_value(json_object_get(st, "run")), 2);
	cr_assert_eq(json_integer_value(json_object_get(st, "checked")), 2,
		     "the worker read both");
	cr_assert_eq(json_integer_value(json_object_get(st, "mismatches")), 0);
	cr_assert_eq(json_integer_value(json_object_get(
			     json_object_get(st, "all"), "mismatches")),
		     1);
	json_decref(st);
	cr_assert_eq(table_lookup(table, good, &rec), 0);
}
