/*
 * A kill loop: chunkd is SIGKILLed at random moments while a client
 * allocates, writes, persists, seals and frees, then restarted on the same
 * pool, and after each restart what chunkd holds is checked against what
 * it acknowledged: every acknowledged seal is SEALED with its length, CRC
 * and bytes; every acknowledged free is gone; no OPEN chunk survives its
 * dead session; no two chunks overlap; used space adds up. An operation
 * cut short by the kill may have happened or not, but only whole.
 *
 * On a tmpfs pool (persist-rpc) and on device-DAX with the cheapest method
 * the platform has: native-flush where rdma-core has RDMA FLUSH (Debian
 * 13), read-after-write elsewhere; the client must report that method. The
 * seed is printed; CHUNKD_KILL_SEED replays one. CHUNKD_KILL_CYCLES sets
 * the kills per pool (default 10; deploy/test.sh --sanitize runs 5: the
 * plain legs hunt for lost seals, the sanitizer leg for memory errors in
 * recovery, which each restart exercises alike).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/ctl_json.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"
#include "proto/msg.h" /* proto_persist_name: the wire's bits are the API's */

#define PORT	   7540
#define CYCLES	   10 /* kills per pool, unless CHUNKD_KILL_CYCLES */
#define MAX_CHUNKS 4096
#define MAX_LEN	   (48u << 10)
#define KEEP	   32 /* sealed chunks to hold at most; more get freed */

/* What the client knows of a chunk it allocated. */
enum fate {
	UNUSED,
	OPEN,	     /* allocated, not sealed: gone after a restart */
	SEALED,	     /* seal acknowledged */
	FREED,	     /* free acknowledged */
	SEAL_UNSURE, /* seal cut short: sealed whole, or gone */
	FREE_UNSURE, /* free cut short: still sealed, or gone */
};

struct model {
	unsigned long long id[MAX_CHUNKS];
	uint32_t len[MAX_CHUNKS];
	enum fate fate[MAX_CHUNKS];
	unsigned count;
	unsigned long long acked_seals, acked_frees;
	unsigned long long unsure_kept, unsure_gone; /* cut-short outcomes */
};

static struct chunkd_proc server;
static char pool[64];
static const char *pool_size; /* NULL on device-DAX */
static const char *const *extra_args;
static unsigned method; /* the persistence method the client must use */
static struct model model;
static unsigned seed, first_seed; /* rand_r's state, and where it began */

static void teardown(void)
{
	chunkd_finish(&server, pool_size ? pool : NULL); /* keep a device */
}

TestSuite(kill_loop, .fini = teardown, .timeout = 1200);

/* ---- contents ---- */

static void fill(uint8_t *buf, unsigned long long id, uint32_t len)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ull + 1;

	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

static uint32_t expected_crc(unsigned long long id, uint32_t len)
{
	static uint8_t buf[MAX_LEN];

	fill(buf, id, len);
	return chunk_crc32c(0, buf, len);
}

/* ---- the killer ---- */

struct killer {
	pthread_t thread;
	pid_t pid;
	unsigned delay_us;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_us);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* ---- the client's work until the kill cuts it short ---- */

static struct chunk_client *connect_client(void)
{
	struct chunk_client_opts o;
	struct chunk_client *c = NULL;

	chunk_client_opts_init(&o);
	o.timeout_ms = 1500; /* a dead chunkd is noticed soon */
	cr_assert_eq(chunk_client_connect(server.addr, server.port, &o, &c),
		     CHUNK_OK);
	cr_assert_eq(chunk_client_persist_method(c), method,
		     "the client persists by method %#x, not %#x",
		     chunk_client_persist_method(c), method);
	return c;
}

static unsigned sealed_count(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < model.count; i++)
		n += model.fate[i] == SEALED;
	return n;
}

/* Frees one of the sealed SEALED chunks, chosen at random; returns the
 * call's status. */
static int free_one(struct chunk_client *c, unsigned sealed)
{
	unsigned skip = (unsigned)rand_r(&seed) % sealed, i = 0;
	int rc;

	for (;; i++)
		if (model.fate[i] == SEALED && skip-- == 0)
			break;
	model.fate[i] = FREE_UNSURE;
	rc = chunk_free(c, model.id[i]);
	if (rc == CHUNK_OK) {
		model.fate[i] = FREED;
		model.acked_frees++;
	}
	return rc;
}

/* Allocates, writes, persists and seals one chunk; returns the first
 * failing call's status. */
static int store_one(struct chunk_client *c, uint8_t *buf)
{
	uint32_t len = 1 + (uint32_t)rand_r(&seed) % MAX_LEN;
	unsigned long long id;
	unsigned i;
	int rc = chunk_alloc(c, len, &id);

	if (rc)
		return rc;
	cr_assert_lt(model.count, MAX_CHUNKS);
	i = model.count++;
	model.id[i] = id;
	model.len[i] = len;
	model.fate[i] = OPEN;
	fill(buf, id, len);
	rc = chunk_write_persist(c, id, 0, buf, len);
	if (rc)
		return rc;
	model.fate[i] = SEAL_UNSURE;
	rc = chunk_seal(c, id, len, chunk_crc32c(0, buf, len));
	if (rc == CHUNK_OK) {
		model.fate[i] = SEALED;
		model.acked_seals++;
	}
	return rc;
}

/* Works until a call fails: chunkd was killed under it. */
static void work_until_killed(void)
{
	static uint8_t buf[MAX_LEN];
	struct chunk_client *c = connect_client();
	struct killer k = {.pid = server.pid,
			   .delay_us =
				   20000 + (unsigned)rand_r(&seed) % 400000};
	int rc;

	cr_assert_eq(pthread_create(&k.thread, NULL, kill_later, &k), 0);
	do {
		unsigned sealed = sealed_count();

		rc = sealed && (sealed > KEEP || rand_r(&seed) % 4 == 0)
			     ? free_one(c, sealed)
			     : store_one(c, buf);
	} while (rc == CHUNK_OK);
	pthread_join(k.thread, NULL);
	chunk_client_disconnect(&c);
	cr_assert_eq(wait_cmd(server.pid), 128 + SIGKILL, "killed, not exited");
	server.pid = 0;
}

/* ---- what chunkd holds after a restart ---- */

static json_t *find_chunk(json_t *chunks, unsigned long long id)
{
	size_t i;
	json_t *ch;

	json_array_foreach(chunks, i,
			   ch) if ((unsigned long long)json_num(ch, "id") ==
				   id) return ch;
	return NULL;
}

static unsigned crc_of(json_t *ch)
{
	const char *text = json_string_value(json_object_get(ch, "crc32c"));

	return text ? (unsigned)strtoul(text, NULL, 16) : 0;
}

static int by_offset(const void *a, const void *b)
{
	long long x = ((const long long *)a)[0], y = ((const long long *)b)[0];

	return (x > y) - (x < y);
}

/* No OPEN chunk, no overlap, and used space is the sum of the chunks. */
static void check_table(json_t *chunks, json_t *status)
{
	size_t n = json_array_size(chunks), i;
	long long(*spans)[2] = calloc(n + 1, sizeof(*spans)), used = 0;
	json_t *ch, *p = json_object_get(status, "pool");

	cr_assert_not_null(spans);
	json_array_foreach(chunks, i, ch)
	{
		cr_assert_str_eq(
			json_string_value(json_object_get(ch, "state")),
			"sealed", "chunk %lld of a dead session is %s",
			json_num(ch, "id"),
			json_string_value(json_object_get(ch, "state")));
		spans[i][0] = json_num(ch, "offset");
		spans[i][1] = json_num(ch, "length");
		used += spans[i][1];
	}
	qsort(spans, n, sizeof(*spans), by_offset);
	for (i = 1; i < n; i++)
		cr_assert_leq(spans[i - 1][0] + spans[i - 1][1], spans[i][0],
			      "chunks at %lld and %lld overlap",
			      spans[i - 1][0], spans[i][0]);
	cr_assert_eq(json_num(p, "used"), used, "used space adds up");
	cr_assert_eq(json_num(p, "used") + json_num(p, "free"),
		     json_num(p, "area"));
	free(spans);
}

/* A chunk that is there must be sealed whole, with the right bytes. */
static void check_sealed(struct chunk_client *c, unsigned i, json_t *ch)
{
	static uint8_t want[MAX_LEN], got[MAX_LEN];
	unsigned long long id = model.id[i];

	cr_assert_eq(json_num(ch, "sealed_length"), model.len[i],
		     "chunk %llu's length", id);
	cr_assert_eq(crc_of(ch), expected_crc(id, model.len[i]),
		     "chunk %llu's CRC", id);
	fill(want, id, model.len[i]);
	cr_assert_eq(chunk_read(c, id, 0, got, model.len[i]), CHUNK_OK);
	cr_assert_arr_eq(got, want, model.len[i], "chunk %llu's bytes", id);
}

/* Settles each chunk's fate against the table, reading back every chunk
 * that is there. */
static void check_model(json_t *chunks)
{
	struct chunk_client *c = connect_client();

	for (unsigned i = 0; i < model.count; i++) {
		json_t *ch = find_chunk(chunks, model.id[i]);
		enum fate f = model.fate[i];

		if (f == FREED || f == OPEN)
			cr_assert_null(ch, "chunk %llu (%s) is still there",
				       model.id[i],
				       f == FREED ? "freed" : "open");
		if (f == SEALED)
			cr_assert_not_null(ch,
					   "acknowledged seal of chunk %llu "
					   "was lost",
					   model.id[i]);
		if (ch)
			check_sealed(c, i, ch);
		if (f == SEAL_UNSURE || f == FREE_UNSURE)
			*(ch ? &model.unsure_kept : &model.unsure_gone) += 1;
		if (f != UNUSED && f != FREED)
			model.fate[i] = ch ? SEALED : FREED;
	}
	chunk_client_disconnect(&c);
}

static void restart_and_check(void)
{
	json_t *chunks, *status;

	chunkd_start(&server, CHUNKD_BINARY, pool, pool_size, PORT, extra_args);
	chunks = ctl_json_ok(CHUNKCTL_BINARY, &server, "chunks", NULL, NULL);
	status = ctl_json_ok(CHUNKCTL_BINARY, &server, "status", NULL, NULL);
	check_table(json_object_get(chunks, "chunks"), status);
	check_model(json_object_get(chunks, "chunks"));
	json_decref(chunks);
	json_decref(status);
}

/* CHUNKD_KILL_CYCLES, 1 to 1000, or CYCLES. */
static int cycles_wanted(void)
{
	const char *text = getenv("CHUNKD_KILL_CYCLES");
	int n = text ? atoi(text) : CYCLES;

	cr_assert(n >= 1 && n <= 1000, "CHUNKD_KILL_CYCLES=%s: 1 to 1000",
		  text);
	return n;
}

static void run_loop(void)
{
	const char *fixed = getenv("CHUNKD_KILL_SEED");
	int cycles = cycles_wanted();

	seed = fixed ? (unsigned)strtoul(fixed, NULL, 0)
		     : (unsigned)time(NULL) ^ (unsigned)getpid();
	first_seed = seed;
	fprintf(stderr, "kill loop: seed %u (CHUNKD_KILL_SEED replays it)\n",
		seed);
	memset(&model, 0, sizeof(model));
	chunkd_start(&server, CHUNKD_BINARY, pool, pool_size, PORT, extra_args);
	for (int cycle = 0; cycle < cycles; cycle++) {
		work_until_killed();
		restart_and_check();
	}
	/* On stderr, so that ctest -V and test.sh show it. */
	fprintf(stderr,
		"kill loop (%s, %s): %d kills; %llu seals and %llu frees "
		"acknowledged, all found so; of the operations cut short, %llu "
		"took effect whole and %llu not at all (seed %u)\n",
		pool_size ? "tmpfs" : "device-DAX", proto_persist_name(method),
		cycles, model.acked_seals, model.acked_frees, model.unsure_kept,
		model.unsure_gone, first_seed);
	cr_assert_geq(model.acked_seals, (unsigned long long)cycles,
		      "the loop did real work");
}

Test(kill_loop, on_a_tmpfs_pool)
{
	chunkd_fresh_pool("kill", pool, sizeof(pool));
	pool_size = "64M";
	extra_args = NULL;
	method = CHUNK_PERSIST_RPC;
	run_loop();
}

/* native-flush where built with RDMA FLUSH (the guest's device has it),
 * else read-after-write (offered by --direct-write-to-pmem). */
Test(kill_loop, on_device_dax_with_the_cheapest_method)
{
	static const char *const extra[] = {"--direct-write-to-pmem", NULL};

	chunkd_dax_pool(pool, sizeof(pool));
	pool_size = NULL;
	extra_args = extra;
#ifdef CHUNKD_NATIVE_FLUSH
	method = CHUNK_PERSIST_NATIVE_FLUSH;
#else
	method = CHUNK_PERSIST_READ_AFTER_WRITE;
#endif
	run_loop();
}
