/*
 * libchunkclient's asynchronous operations against a real chunkd: several
 * in flight, completion by polling and through the client's fd.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "chunkclient.h"

#define PORT   7490
#define PIECE  (64u * 1024)
#define PIECES 16u

static struct chunkd_proc server;
static char pool[64];
static struct chunk_client *c;
static uint8_t *buf, *back;
static struct chunk_mem *buf_mem, *back_mem;

struct tally {
	int done, failed, last_status;
};

static void count(void *arg, int status)
{
	struct tally *t = arg;

	t->done++;
	if (status != CHUNK_OK) {
		t->failed++;
		t->last_status = status;
	}
}

static void setup(void)
{
	chunkd_fresh_pool("async", pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, "64M", PORT, NULL);
	cr_assert_eq(chunk_client_connect(server.addr, PORT, NULL, &c),
		     CHUNK_OK);
	buf = malloc(PIECE * PIECES);
	back = calloc(1, PIECE * PIECES);
	cr_assert(buf && back);
	for (size_t i = 0; i < PIECE * PIECES; i++)
		buf[i] = (uint8_t)(i * 31 + i / 977);
	cr_assert_eq(chunk_mem_reg(c, buf, PIECE * PIECES, &buf_mem), CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(c, back, PIECE * PIECES, &back_mem),
		     CHUNK_OK);
}

static void teardown(void)
{
	chunk_mem_dereg(&buf_mem);
	chunk_mem_dereg(&back_mem);
	chunk_client_disconnect(&c);
	free(buf);
	free(back);
	chunkd_finish(&server, pool);
}

TestSuite(async, .init = setup, .fini = teardown, .timeout = 300);

static void poll_until(struct tally *t, int want)
{
	while (t->done < want) {
		int n = chunk_client_poll(c, -1);

		cr_assert_geq(n, 0, "poll: %s", chunk_strerror(n));
	}
}

Test(async, many_writes_in_flight_then_persist_then_read_back)
{
	struct tally t = {0};
	unsigned long long id;

	cr_assert_eq(chunk_alloc(c, PIECE * PIECES, &id), CHUNK_OK);
	for (unsigned i = 0; i < PIECES; i++)
		cr_assert_eq(chunk_write_async(c, id, i * PIECE,
					       buf + i * PIECE, PIECE, count,
					       &t),
			     CHUNK_OK);
	cr_assert_eq(chunk_client_in_flight(c), PIECES);
	poll_until(&t, PIECES);
	cr_assert_eq(chunk_persist_async(c, id, 0, PIECE * PIECES, count, &t),
		     CHUNK_OK);
	poll_until(&t, PIECES + 1);
	cr_assert_eq(t.failed, 0, "%s", chunk_strerror(t.last_status));
	cr_assert_eq(chunk_seal(c, id, PIECE * PIECES,
				chunk_crc32c(0, buf, PIECE * PIECES)),
		     CHUNK_OK, "the content is exactly what was written");
	cr_assert_eq(chunk_open(c, id, NULL), CHUNK_OK);
	for (unsigned i = 0; i < PIECES; i++)
		cr_assert_eq(chunk_read_async(c, id, i * PIECE,
					      back + i * PIECE, PIECE, count,
					      &t),
			     CHUNK_OK);
	poll_until(&t, 2 * PIECES + 1);
	cr_assert_eq(t.failed, 0);
	cr_assert_arr_eq(back, buf, PIECE * PIECES);
}

/* Waits on the client's fd, as an application's event loop would, and
 * lets the library process what woke it. */
static void wait_on_fd(struct pollfd *pfd)
{
	cr_assert_eq(poll(pfd, 1, 10000), 1, "the fd never woke");
	cr_assert_geq(chunk_client_poll(c, 0), 0);
}

Test(async, completions_wake_the_applications_own_poll_loop)
{
	struct tally t = {0};
	struct pollfd pfd = {.fd = chunk_client_fd(c), .events = POLLIN};
	unsigned long long id;
	unsigned next = 0, again = 0;

	cr_assert_eq(chunk_alloc(c, PIECE * PIECES, &id), CHUNK_OK);
	cr_assert_eq(chunk_client_poll(c, 0), 0, "arms the fd");
	/* Submit everything, waiting on the fd whenever the credits run out
	 * (persist requests are limited by the server's RECV credits). */
	while (next < PIECES) {
		int rc = chunk_write_persist_async(c, id, next * PIECE,
						   buf + next * PIECE, PIECE,
						   count, &t);

		if (rc == CHUNK_E_AGAIN) {
			again++;
			wait_on_fd(&pfd);
			continue;
		}
		cr_assert_eq(rc, CHUNK_OK, "%s", chunk_strerror(rc));
		next++;
	}
	for (int rounds = 0; t.done < (int)PIECES; rounds++) {
		cr_assert_lt(rounds, 1000);
		wait_on_fd(&pfd);
	}
	cr_assert_eq(t.failed, 0, "%s", chunk_strerror(t.last_status));
	cr_log_info("%u submissions waited for credits", again);
	cr_assert_eq(chunk_seal(c, id, PIECE * PIECES,
				chunk_crc32c(0, buf, PIECE * PIECES)),
		     CHUNK_OK);
}

Test(async, the_fd_wakes_for_an_operation_started_right_after_a_sync_call)
{
	struct tally t = {0};
	struct pollfd pfd = {.fd = chunk_client_fd(c), .events = POLLIN};
	unsigned long long id;

	/* Synchronous calls sleep on the completion channel and use up its
	 * arming; no chunk_client_poll() comes between them and the start. */
	cr_assert_eq(chunk_alloc(c, PIECE, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, buf, PIECE), CHUNK_OK);
	cr_assert_eq(chunk_write_persist_async(c, id, 0, buf, PIECE, count, &t),
		     CHUNK_OK);
	for (int rounds = 0; t.done < 1; rounds++) {
		cr_assert_lt(rounds, 1000);
		wait_on_fd(&pfd);
	}
	cr_assert_eq(t.failed, 0, "%s", chunk_strerror(t.last_status));
}

Test(async, limits_and_bad_buffers_are_refused_up_front)
{
	struct tally t = {0};
	unsigned long long id;
	uint8_t unregistered[64];
	int rc = CHUNK_OK, started = 0;

	cr_assert_eq(chunk_alloc(c, PIECE, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_async(c, id, 0, unregistered, 64, count, &t),
		     CHUNK_E_INVAL, "async needs registered memory");
	cr_assert_eq(chunk_write_async(c, id, PIECE - 1, buf, 2, count, &t),
		     CHUNK_E_INVAL, "past the chunk's end");
	while (rc == CHUNK_OK && started <= CHUNK_MAX_ASYNC) {
		rc = chunk_write_async(c, id, 0, buf, 64, count, &t);
		started += rc == CHUNK_OK;
	}
	cr_assert_eq(rc, CHUNK_E_AGAIN);
	cr_assert_eq(started, CHUNK_MAX_ASYNC);
	poll_until(&t, started);
	cr_assert_eq(chunk_write_async(c, id, 0, buf, 64, count, &t), CHUNK_OK,
		     "room again after polling");
	poll_until(&t, started + 1);
}

/* The handles outlive their client: deregistering them after the
 * disconnect frees them (ASan in the sanitizer leg checks the memory). */
Test(async, registered_memory_handles_outlive_their_client)
{
	struct chunk_client *other = NULL;
	static uint8_t a[8192], b[4096];
	struct chunk_mem *ma = NULL, *mb = NULL;

	cr_assert_eq(chunk_client_connect(server.addr, PORT, NULL, &other),
		     CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(other, a, sizeof(a), &ma), CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(other, b, sizeof(b), &mb), CHUNK_OK);
	chunk_client_disconnect(&other);
	cr_assert_null(other);
	chunk_mem_dereg(&mb);
	cr_assert_null(mb);
	chunk_mem_dereg(&ma);
	cr_assert_null(ma);
	chunk_mem_dereg(&ma); /* NULL is fine */
}

/* A deeper queue than the default, as a benchmark or an fio-style engine
 * asks for; and a depth past the largest is refused at connect. */
Test(async, the_number_in_flight_is_an_option)
{
	struct chunk_client_opts o;
	struct chunk_client *deep = NULL, *none = NULL;
	struct chunk_mem *mem;
	struct tally t = {0};
	unsigned long long id;
	int rc = CHUNK_OK, started = 0;

	chunk_client_opts_init(&o);
	cr_assert_eq(o.max_in_flight, CHUNK_MAX_ASYNC);
	o.max_in_flight = CHUNK_MAX_IN_FLIGHT + 1;
	cr_assert_eq(chunk_client_connect(server.addr, PORT, &o, &none),
		     CHUNK_E_INVAL);
	cr_assert_null(none);
	o.max_in_flight = 100;
	cr_assert_eq(chunk_client_connect(server.addr, PORT, &o, &deep),
		     CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(deep, buf, PIECE, &mem), CHUNK_OK);
	cr_assert_eq(chunk_alloc(deep, PIECE, &id), CHUNK_OK);
	while (rc == CHUNK_OK && started <= 100) {
		rc = chunk_write_async(deep, id, 0, buf, 64, count, &t);
		started += rc == CHUNK_OK;
	}
	cr_assert_eq(rc, CHUNK_E_AGAIN);
	cr_assert_eq(started, 100);
	while (t.done < started)
		cr_assert_geq(chunk_client_poll(deep, -1), 0);
	cr_assert_eq(t.failed, 0);
	chunk_mem_dereg(&mem);
	chunk_client_disconnect(&deep);
}
