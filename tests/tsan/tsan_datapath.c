/*
 * The data path under ThreadSanitizer: libchunkclient's renewer thread
 * shares each client with the application's thread, and several clients
 * run in several threads at once. A plain program, not a Criterion test:
 * Criterion's runner cannot start under TSan (its issue 274).
 *
 *   tsan_datapath HOST PORT
 *
 * chunkd at HOST:PORT must offer read-after-write and have a lease of
 * 1000 ms (run_tsan.sh starts it so). Each scenario prints one line;
 * the last line is "N passed, M failed". Exit status 0 only if all
 * passed; a data race makes TSan end the process (halt_on_error=1).
 */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunkclient.h"

#define TTL_S	   1.0
#define BUSY_S	   (3.5 * TTL_S) /* long enough for three renewals */
#define CHUNK	   (1u << 20)
#define PIECE	   (256u << 10)
#define THREADS	   4
#define PER_THREAD 40

static const char *host;
static uint16_t port;
static uint8_t *data; /* CHUNK bytes of a known pattern */

/* ---- checks ---- */

static __thread char failure[256];

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	return false;
}

/* Whether a call succeeded; records why not. */
static bool ok(int rc, const char *what)
{
	return rc == CHUNK_OK || fail("%s: %s", what, chunk_strerror(rc));
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct chunk_client *connect_client(unsigned poll_us)
{
	struct chunk_client_opts o;
	struct chunk_client *c = NULL;

	chunk_client_opts_init(&o);
	o.poll_us = poll_us;
	return chunk_client_connect(host, port, &o, &c) == CHUNK_OK ? c : NULL;
}

/* Seals the first len bytes of chunk id as data holds them, then reads
 * them back through c. */
static bool seal_and_check(struct chunk_client *c, unsigned long long id,
			   size_t len)
{
	uint8_t *back = malloc(len);
	bool same;

	if (!back)
		return fail("out of memory");
	if (!ok(chunk_seal(c, id, len, chunk_crc32c(0, data, len)), "seal"))
		return false;
	if (!ok(chunk_read(c, id, 0, back, len), "read"))
		return false;
	same = memcmp(back, data, len) == 0;
	free(back);
	return same ? true : fail("read back other bytes");
}

/* Registers data and allocates a chunk of its size. (On failure the
 * registration goes with the client.) */
static bool registered_chunk(struct chunk_client *c, struct chunk_mem **mem,
			     unsigned long long *id)
{
	return ok(chunk_mem_reg(c, data, CHUNK, mem), "mem_reg") &&
	       ok(chunk_alloc(c, CHUNK, id), "alloc");
}

/* ---- scenarios ---- */

/* One-sided write+persists in a tight loop: the application holds the
 * client's lock nearly all the time while the renewer wants to renew. */
static bool busy_sync(struct chunk_client *c)
{
	struct chunk_mem *mem = NULL;
	unsigned long long id, n = 0;
	double end = now_s() + BUSY_S;

	if (!registered_chunk(c, &mem, &id))
		return false;
	while (now_s() < end) {
		size_t off = (size_t)(n++ % (CHUNK / PIECE)) * PIECE;

		if (!ok(chunk_write_persist(c, id, off, data + off, PIECE),
			"write+persist"))
			return false;
	}
	chunk_mem_dereg(&mem);
	return seal_and_check(c, id, CHUNK);
}

struct pending {
	unsigned in_flight, failed;
};

static void on_done(void *arg, int status)
{
	struct pending *p = arg;

	p->in_flight--;
	p->failed += status != CHUNK_OK;
}

/* The same with asynchronous operations and chunk_client_poll(). */
static bool busy_async(struct chunk_client *c)
{
	struct chunk_mem *mem = NULL;
	struct pending p = {0};
	unsigned long long id, n = 0;
	double end = now_s() + BUSY_S;

	if (!registered_chunk(c, &mem, &id))
		return false;
	while (now_s() < end || p.in_flight) {
		while (now_s() < end && p.in_flight < 4) {
			size_t off = (size_t)(n++ % (CHUNK / PIECE)) * PIECE;

			if (!ok(chunk_write_persist_async(c, id, off,
							  data + off, PIECE,
							  on_done, &p),
				"write+persist async"))
				return false;
			p.in_flight++;
		}
		if (chunk_client_poll(c, -1) < 0)
			return fail("poll failed");
	}
	chunk_mem_dereg(&mem);
	if (p.failed)
		return fail("%u async writes failed", p.failed);
	return seal_and_check(c, id, CHUNK);
}

/* Idle for three TTLs: the renewer renews on its own thread, taking the
 * client's lock and the completion queue. */
static bool idle(struct chunk_client *c)
{
	unsigned long long id;

	if (!ok(chunk_alloc(c, 4096, &id), "alloc"))
		return false;
	usleep((useconds_t)(3 * TTL_S * 1e6));
	if (!ok(chunk_write_persist(c, id, 0, data, 4096), "write+persist"))
		return false;
	return seal_and_check(c, id, 4096);
}

/* The application's own event loop on chunk_client_fd(), with idle gaps
 * in which the renewer polls the same completion queue. */
static bool own_loop(struct chunk_client *c)
{
	struct chunk_mem *mem = NULL;
	struct pending p = {0};
	struct pollfd pfd = {.fd = chunk_client_fd(c), .events = POLLIN};
	unsigned long long id;

	if (!registered_chunk(c, &mem, &id))
		return false;
	for (unsigned round = 0; round < 8; round++) {
		size_t off = (size_t)(round % (CHUNK / PIECE)) * PIECE;

		if (!ok(chunk_write_persist_async(c, id, off, data + off, PIECE,
						  on_done, &p),
			"write+persist async"))
			return false;
		p.in_flight++;
		while (p.in_flight) {
			if (poll(&pfd, 1, 10000) != 1)
				return fail("the fd never woke (round %u)",
					    round);
			if (chunk_client_poll(c, 0) < 0)
				return fail("poll failed");
		}
		usleep((useconds_t)(TTL_S * 0.5e6)); /* the renewer's turn */
	}
	chunk_mem_dereg(&mem);
	return p.failed ? fail("%u writes failed", p.failed)
			: seal_and_check(c, id, CHUNK);
}

/* ---- several clients in several threads ---- */

struct worker {
	pthread_t thread;
	bool ok;
	char why[256];
};

static bool store_many(void)
{
	struct chunk_client *c = connect_client(50);

	if (!c)
		return fail("connect");
	for (unsigned i = 0; i < PER_THREAD; i++) {
		size_t len = 1 + (size_t)rand() % 65536;
		unsigned long long id;

		if (!ok(chunk_alloc(c, len, &id), "alloc"))
			return false;
		if (!ok(chunk_write_persist(c, id, 0, data, len),
			"write+persist"))
			return false;
		if (!seal_and_check(c, id, len))
			return false;
		if (!ok(chunk_free(c, id), "free"))
			return false;
	}
	chunk_client_disconnect(&c);
	return true;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	w->ok = store_many();
	snprintf(w->why, sizeof(w->why), "%s", failure);
	return NULL;
}

static bool threads(struct chunk_client *unused)
{
	struct worker w[THREADS];
	bool ok = true;

	(void)unused;
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&w[i].thread, NULL, work, &w[i]))
			return fail("pthread_create");
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		if (!w[i].ok && ok)
			ok = fail("thread %d: %s", i, w[i].why);
	}
	return ok;
}

/* ---- the run ---- */

static void count_log(enum chunk_log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	__atomic_add_fetch((unsigned long *)arg, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		bool (*run)(struct chunk_client *c);
		unsigned poll_us;
	} scenarios[] = {
		{"a busy client of one-sided writes keeps its lease", busy_sync,
		 1000},
		{"a busy client of async writes keeps its lease", busy_async,
		 1000},
		{"an idle client is renewed by the renewer", idle, 50},
		{"the application's own loop on chunk_client_fd", own_loop, 50},
		{"four clients in four threads", threads, 50},
	};
	static unsigned long log_lines;
	int passed = 0, failed = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: tsan_datapath HOST PORT\n");
		return 2;
	}
	host = argv[1];
	port = (uint16_t)atoi(argv[2]);
	data = malloc(CHUNK);
	for (size_t i = 0; data && i < CHUNK; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	/* Log lines come from the renewer's thread and the application's. */
	chunk_log_set_function(count_log, &log_lines, CHUNK_LOG_DEBUG);
	for (size_t i = 0; data && i < sizeof(scenarios) / sizeof(*scenarios);
	     i++) {
		struct chunk_client *c =
			scenarios[i].run == threads
				? NULL
				: connect_client(scenarios[i].poll_us);
		bool ok = (c || scenarios[i].run == threads) &&
			  scenarios[i].run(c);

		if (!c && scenarios[i].run != threads)
			fail("connect");
		printf("tsan: %s: %s%s%s\n", scenarios[i].name,
		       ok ? "ok" : "FAILED", ok ? "" : ": ", ok ? "" : failure);
		ok ? passed++ : failed++;
		chunk_client_disconnect(&c);
	}
	printf("%d passed, %d failed\n", passed, failed);
	free(data);
	return failed || !data ? 1 : 0;
}
