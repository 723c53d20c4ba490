/*
 * chunkbench: what the chunk abstraction costs, measured through
 * libchunkclient against a running chunkd. It reports; it never fails on a
 * number. Figures under emulation mean something only as ratios to
 * perftest in the same boot (deploy/bench.sh puts them side by side).
 *
 *   latency    write+persist per size, with each persistence method chunkd
 *              offers; read of a sealed chunk per size
 *   stream     bandwidth of 1 MiB writes into one large chunk, then of
 *              1 MiB reads of it sealed, --depth in flight (async API)
 *   lifecycle  alloc+seal+free operations per second
 *   threads    --threads connections, one per thread, each doing 4 KiB
 *              write+persist and then 4 KiB sealed reads at once
 *
 * --mode interference and --mode alloc-rate run one study of the control
 * path instead (interference.h).
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "chunkclient.h"
#include "interference.h"
#include "timing.h"

static const size_t sizes[] = {64, 4096, 65536, 1 << 20};
#define NSIZES	      (sizeof(sizes) / sizeof(sizes[0]))
#define STREAM_OP     (1u << 20)
#define STREAM_TOTAL  (64u << 20)
#define THREAD_OP_LEN 4096u

/* The persist alone, of bytes already written: what the library adds to
 * its tail READ or its PERSIST round trip. */
static int op_persist(struct chunk_client *c, unsigned long long id,
		      uint8_t *buf, size_t len)
{
	(void)buf;
	return bench_check(chunk_persist(c, id, 0, len), "persist");
}

static int op_read(struct chunk_client *c, unsigned long long id, uint8_t *buf,
		   size_t len)
{
	return bench_check(chunk_read(c, id, 0, buf, len), "read");
}

/* A chunk of len bytes to time an operation on: left OPEN for writes;
 * written, sealed and opened for reads. */
static int prepare_chunk(struct chunk_client *c, unsigned copies, uint8_t *buf,
			 size_t len, bool sealed, unsigned long long *id)
{
	int rc = bench_check(chunk_alloc_replicated(c, len, copies, id),
			     "alloc");

	if (rc || !sealed)
		return rc;
	rc = bench_check(chunk_write_persist(c, *id, 0, buf, len),
			 "write+persist");
	rc = rc ? rc
		: bench_check(
			  chunk_seal(c, *id, len, chunk_crc32c(0, buf, len)),
			  "seal");
	return rc ? rc : bench_check(chunk_open(c, *id, NULL), "open");
}

/* One latency figure: op on len bytes, from registered memory (no copy):
 * the cost of the abstraction, not of memcpy. */
static int measure(struct chunk_client *c, const struct bench_opts *o,
		   uint8_t *buf, size_t len, timed_op *op, struct figure *out)
{
	double *t = calloc(o->iters, sizeof(double)), elapsed;
	unsigned long long id;
	int rc = t ? prepare_chunk(c, o->copies, buf, len, op == op_read, &id)
		   : -1;

	if (rc == CHUNK_OK) {
		rc = bench_time_ops(c, id, buf, len, op, t, o->iters, &elapsed);
		if (rc == CHUNK_OK)
			*out = bench_figure(t, o->iters, elapsed, len);
		chunk_free(c, id);
	}
	free(t);
	return rc;
}

/* Each size's figure for op, into a JSON object keyed by size. */
static int measure_sizes(struct chunk_client *c, const struct bench_opts *o,
			 uint8_t *buf, timed_op *op, json_t *per_size)
{
	for (size_t s = 0; s < NSIZES; s++) {
		struct figure f;
		char key[16];

		if (measure(c, o, buf, sizes[s], op, &f))
			return -1;
		snprintf(key, sizeof(key), "%zu", sizes[s]);
		json_object_set_new(per_size, key, bench_figure_json(&f));
	}
	return 0;
}

static const char *method_name(unsigned m)
{
	return m == CHUNK_PERSIST_NATIVE_FLUSH	     ? "native-flush"
	       : m == CHUNK_PERSIST_READ_AFTER_WRITE ? "read-after-write"
						     : "persist-rpc";
}

/* The persist of 64 bytes alone, into persist_only[method]. */
static int measure_persist_only(struct chunk_client *c,
				const struct bench_opts *o, uint8_t *buf,
				const char *method, json_t *persist_only)
{
	struct figure f;
	int rc = measure(c, o, buf, 64, op_persist, &f);

	if (rc == CHUNK_OK)
		json_object_set_new(persist_only, method,
				    bench_figure_json(&f));
	return rc;
}

/* write+persist for each method chunkd offers (one connection per method),
 * and the persist alone. */
static int bench_methods(const struct bench_opts *o, uint8_t *buf,
			 json_t *report)
{
	const unsigned methods[] = {CHUNK_PERSIST_RPC,
				    CHUNK_PERSIST_READ_AFTER_WRITE,
				    CHUNK_PERSIST_NATIVE_FLUSH};
	json_t *by_method = json_object(), *persist_only = json_object();

	json_object_set_new(report, "write_persist", by_method);
	json_object_set_new(report, "persist_only_64", persist_only);
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		struct chunk_client *c = bench_connect(o, methods[m]);
		struct chunk_mem *mem = NULL;
		json_t *per_size;
		int rc;

		if (!c)
			return -1;
		if (chunk_client_persist_method(c) != methods[m]) {
			chunk_client_disconnect(&c);
			continue; /* not offered by this chunkd */
		}
		per_size = json_object();
		json_object_set_new(by_method, method_name(methods[m]),
				    per_size);
		rc = bench_check(chunk_mem_reg(c, buf, BUF_SIZE, &mem),
				 "mem_reg");
		rc = rc ? rc
			: measure_sizes(c, o, buf, bench_write_persist,
					per_size);
		rc = rc ? rc
			: measure_persist_only(c, o, buf,
					       method_name(methods[m]),
					       persist_only);
		chunk_mem_dereg(&mem);
		chunk_client_disconnect(&c);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- streams: many 1 MiB operations in flight ---- */

struct stream {
	int pending;
	int status; /* the first failure */
};

typedef int stream_op(struct chunk_client *c, unsigned long long id,
		      unsigned long long off, uint8_t *buf, struct stream *s);

static void stream_done(void *arg, int status)
{
	struct stream *s = arg;

	if (status != CHUNK_OK && s->status == CHUNK_OK)
		s->status = status;
	s->pending--;
}

static int stream_write(struct chunk_client *c, unsigned long long id,
			unsigned long long off, uint8_t *buf, struct stream *s)
{
	return chunk_write_async(c, id, off, buf, STREAM_OP, stream_done, s);
}

static int stream_read(struct chunk_client *c, unsigned long long id,
		       unsigned long long off, uint8_t *buf, struct stream *s)
{
	return chunk_read_async(c, id, off, buf, STREAM_OP, stream_done, s);
}

/* Moves STREAM_TOTAL bytes with op, depth operations in flight; *mb_s. */
static int stream_run(struct chunk_client *c, unsigned long long id,
		      uint8_t *buf, unsigned depth, stream_op *op, double *mb_s)
{
	struct stream s = {0, CHUNK_OK};
	unsigned long long off = 0;
	double start = timing_now_us();
	int rc = CHUNK_OK;

	while (rc == CHUNK_OK && s.status == CHUNK_OK &&
	       (off < STREAM_TOTAL || s.pending > 0)) {
		if (off < STREAM_TOTAL && s.pending < (int)depth) {
			rc = op(c, id, off, buf, &s);
			if (rc == CHUNK_OK) {
				s.pending++;
				off += STREAM_OP;
				continue;
			}
			if (rc != CHUNK_E_AGAIN)
				break;
		}
		rc = chunk_client_poll(c, -1) < 0 ? CHUNK_E_TIMEOUT : CHUNK_OK;
	}
	*mb_s = STREAM_TOTAL / (timing_now_us() - start);
	/* The callbacks point at s: wait for them before it goes away. */
	while (s.pending > 0 && chunk_client_poll(c, -1) >= 0)
		;
	return bench_check(rc ? rc : s.status, "stream");
}

static unsigned stream_crc(const uint8_t *buf)
{
	unsigned crc = 0;

	for (unsigned i = 0; i < STREAM_TOTAL / STREAM_OP; i++)
		crc = chunk_crc32c(crc, buf, STREAM_OP);
	return crc;
}

/* Writes a large chunk (and persists it: a write is done when durable),
 * then seals it and reads it back. */
static int bench_streams(struct chunk_client *c, const struct bench_opts *o,
			 uint8_t *buf, json_t *report)
{
	double write_mb_s = 0, read_mb_s = 0, start = timing_now_us();
	unsigned long long id;
	int rc = bench_check(chunk_alloc(c, STREAM_TOTAL, &id), "alloc");

	if (rc)
		return rc;
	rc = stream_run(c, id, buf, o->depth, stream_write, &write_mb_s);
	rc = rc ? rc
		: bench_check(chunk_persist(c, id, 0, STREAM_TOTAL), "persist");
	write_mb_s = STREAM_TOTAL / (timing_now_us() - start);
	rc = rc ? rc
		: bench_check(chunk_seal(c, id, STREAM_TOTAL, stream_crc(buf)),
			      "seal");
	rc = rc ? rc : bench_check(chunk_open(c, id, NULL), "open");
	rc = rc ? rc
		: stream_run(c, id, buf, o->depth, stream_read, &read_mb_s);
	chunk_free(c, id);
	json_object_set_new(report, "stream",
			    json_pack("{s:i, s:i, s:f, s:f}", "op_bytes",
				      STREAM_OP, "depth", o->depth,
				      "write_mb_s", write_mb_s, "read_mb_s",
				      read_mb_s));
	return rc;
}

/* alloc+seal+free of empty 4 KiB chunks per second. */
static int bench_lifecycle(struct chunk_client *c, const struct bench_opts *o,
			   json_t *report)
{
	double start = timing_now_us();
	int rc = CHUNK_OK;

	for (unsigned i = 0; rc == CHUNK_OK && i < o->iters; i++) {
		unsigned long long id;

		rc = bench_check(chunk_alloc(c, 4096, &id), "alloc");
		rc = rc ? rc : bench_check(chunk_seal(c, id, 0, 0), "seal");
		rc = rc ? rc : bench_check(chunk_free(c, id), "free");
	}
	json_object_set_new(
		report, "alloc_seal_free_per_s",
		json_real(o->iters / ((timing_now_us() - start) / 1e6)));
	return rc;
}

/* Sealed reads per size, streams and the life cycle, on one connection. */
static int bench_one_connection(const struct bench_opts *o, uint8_t *buf,
				json_t *report)
{
	struct chunk_client *c = bench_connect(o, CHUNK_PERSIST_RPC);
	struct chunk_mem *mem = NULL;
	json_t *reads = json_object();
	int rc;

	json_object_set_new(report, "read", reads);
	if (!c)
		return -1;
	rc = bench_check(chunk_mem_reg(c, buf, BUF_SIZE, &mem), "mem_reg");
	rc = rc ? rc : measure_sizes(c, o, buf, op_read, reads);
	rc = rc ? rc : bench_streams(c, o, buf, report);
	rc = rc ? rc : bench_lifecycle(c, o, report);
	chunk_mem_dereg(&mem);
	chunk_client_disconnect(&c);
	return rc;
}

/* ---- several connections at once, one per thread ---- */

struct worker {
	const struct bench_opts *o;
	pthread_barrier_t *phase; /* all start each phase together */
	double *write_t, *read_t; /* o->iters samples each */
	double write_us, read_us; /* each phase's length */
	int rc;
};

struct worker_conn {
	struct chunk_client *c;
	struct chunk_mem *mem;
	uint8_t buf[THREAD_OP_LEN];
	unsigned long long write_id, read_id;
	unsigned chunks; /* how many of the two ids are set */
};

static int worker_setup(struct worker_conn *wc, const struct bench_opts *o)
{
	int rc;

	memset(wc->buf, 0x5a, sizeof(wc->buf));
	wc->c = bench_connect(o, CHUNK_PERSIST_RPC);
	if (!wc->c)
		return -1;
	rc = bench_check(
		chunk_mem_reg(wc->c, wc->buf, sizeof(wc->buf), &wc->mem),
		"mem_reg");
	rc = rc ? rc
		: prepare_chunk(wc->c, 1, wc->buf, THREAD_OP_LEN, false,
				&wc->write_id);
	wc->chunks += rc == CHUNK_OK;
	rc = rc ? rc
		: prepare_chunk(wc->c, 1, wc->buf, THREAD_OP_LEN, true,
				&wc->read_id);
	wc->chunks += rc == CHUNK_OK;
	return rc;
}

static void worker_teardown(struct worker_conn *wc)
{
	if (wc->chunks > 0)
		chunk_free(wc->c, wc->write_id);
	if (wc->chunks > 1)
		chunk_free(wc->c, wc->read_id);
	chunk_mem_dereg(&wc->mem);
	chunk_client_disconnect(&wc->c);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct worker_conn *wc = calloc(1, sizeof(*wc));
	unsigned n = w->o->iters;

	w->rc = wc ? worker_setup(wc, w->o) : -1;
	pthread_barrier_wait(w->phase);
	if (w->rc == CHUNK_OK)
		w->rc = bench_time_ops(wc->c, wc->write_id, wc->buf,
				       THREAD_OP_LEN, bench_write_persist,
				       w->write_t, n, &w->write_us);
	pthread_barrier_wait(w->phase);
	if (w->rc == CHUNK_OK)
		w->rc = bench_time_ops(wc->c, wc->read_id, wc->buf,
				       THREAD_OP_LEN, op_read, w->read_t, n,
				       &w->read_us);
	if (wc)
		worker_teardown(wc);
	free(wc);
	return NULL;
}

/* All workers' samples as one figure; the rate over the longest worker. */
static json_t *merged_figure(struct worker *w, unsigned threads, bool reads)
{
	unsigned n = w[0].o->iters;
	double *all = malloc(sizeof(double) * n * threads), longest = 0;
	struct figure f;

	if (!all)
		return json_null();
	for (unsigned i = 0; i < threads; i++) {
		double us = reads ? w[i].read_us : w[i].write_us;

		memcpy(all + (size_t)i * n, reads ? w[i].read_t : w[i].write_t,
		       sizeof(double) * n);
		longest = us > longest ? us : longest;
	}
	f = bench_figure(all, n * threads, longest, THREAD_OP_LEN);
	free(all);
	return bench_figure_json(&f);
}

static int bench_threads(const struct bench_opts *o, json_t *report)
{
	struct worker *w = calloc(o->threads, sizeof(*w));
	double *samples =
		calloc((size_t)o->threads * 2 * o->iters, sizeof(double));
	pthread_t *tid = calloc(o->threads, sizeof(*tid));
	pthread_barrier_t phase;
	int rc = (w && samples && tid) ? 0 : -1;

	pthread_barrier_init(&phase, NULL, o->threads);
	for (unsigned i = 0; rc == 0 && i < o->threads; i++) {
		w[i] = (struct worker){.o = o, .phase = &phase};
		w[i].write_t = samples + (size_t)i * 2 * o->iters;
		w[i].read_t = w[i].write_t + o->iters;
		if (pthread_create(&tid[i], NULL, worker_run, &w[i])) {
			/* The others would wait at the barrier for ever. */
			fprintf(stderr, "chunkbench: cannot start a thread\n");
			exit(1);
		}
	}
	for (unsigned i = 0; rc == 0 && i < o->threads; i++)
		pthread_join(tid[i], NULL);
	for (unsigned i = 0; rc == 0 && i < o->threads; i++)
		rc = w[i].rc;
	if (rc == 0)
		json_object_set_new(
			report, "threads",
			json_pack("{s:i, s:i, s:o, s:o}", "connections",
				  o->threads, "op_bytes", THREAD_OP_LEN,
				  "write_persist",
				  merged_figure(w, o->threads, false), "read",
				  merged_figure(w, o->threads, true)));
	pthread_barrier_destroy(&phase);
	free(tid);
	free(samples);
	free(w);
	return rc;
}

/* ---- report ---- */

static void print_row(const char *what, const char *bytes, json_t *f)
{
	printf("%-22s %-8s %9.1f %9.1f %9.1f %10.0f %9.1f\n", what, bytes,
	       json_real_value(json_object_get(f, "p50_us")),
	       json_real_value(json_object_get(f, "p99_us")),
	       json_real_value(json_object_get(f, "p999_us")),
	       json_real_value(json_object_get(f, "ops_s")),
	       json_real_value(json_object_get(f, "mb_s")));
}

static void print_table(json_t *report)
{
	json_t *per_size, *f, *stream = json_object_get(report, "stream");
	json_t *threads = json_object_get(report, "threads");
	const char *method, *size;
	char what[64];

	printf("%-22s %-8s %9s %9s %9s %10s %9s\n", "operation", "bytes",
	       "p50 us", "p99 us", "p99.9 us", "ops/s", "MB/s");
	json_object_foreach(json_object_get(report, "write_persist"), method,
			    per_size) json_object_foreach(per_size, size, f)
	{
		snprintf(what, sizeof(what), "w+p %s", method);
		print_row(what, size, f);
	}
	json_object_foreach(json_object_get(report, "persist_only_64"), method,
			    f)
	{
		snprintf(what, sizeof(what), "persist %s", method);
		print_row(what, "64", f);
	}
	json_object_foreach(json_object_get(report, "read"), size, f)
		print_row("read (sealed)", size, f);
	snprintf(what, sizeof(what), "%lld conns",
		 json_integer_value(json_object_get(threads, "connections")));
	print_row("w+p persist-rpc, all", what,
		  json_object_get(threads, "write_persist"));
	print_row("read (sealed), all", what, json_object_get(threads, "read"));
	printf("stream of 1 MiB ops, %lld in flight: write %.1f MB/s, read %.1f MB/s\n",
	       json_integer_value(json_object_get(stream, "depth")),
	       json_real_value(json_object_get(stream, "write_mb_s")),
	       json_real_value(json_object_get(stream, "read_mb_s")));
	printf("alloc+seal+free: %.0f per s\n",
	       json_real_value(
		       json_object_get(report, "alloc_seal_free_per_s")));
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkbench [OPTIONS] HOST\n"
		"\n"
		"Measures chunkd at HOST through libchunkclient, from registered memory:\n"
		"  write+persist of 64 B, 4 KiB, 64 KiB and 1 MiB for each persistence\n"
		"    method chunkd offers, the persist of 64 B alone, and reads of\n"
		"    sealed chunks of those sizes;\n"
		"  a stream of 1 MiB writes into a 64 MiB chunk, persisted, then of\n"
		"    1 MiB reads of it sealed, --depth operations in flight;\n"
		"  alloc+seal+free per second;\n"
		"  --threads connections at once, one per thread: 4 KiB write+persist\n"
		"    (persist-rpc), then 4 KiB sealed reads.\n"
		"Reports p50, p99, p99.9, ops/s and MB/s. A benchmark: exit status 0\n"
		"unless an operation fails.\n"
		"\n"
		"  -p, --port PORT     chunkd's port (7470)\n"
		"  -n, --iters N       operations per latency figure (1000, at least 10)\n"
		"  -d, --depth N       operations in flight in the streams (8, at most %d)\n"
		"  -t, --threads N     connections in the threaded run (2)\n"
		"  -P, --poll-us US    busy-poll this long before sleeping on the\n"
		"                      completion channel (library default: 50)\n"
		"  -c, --copies R      cluster mode: time chunks of R copies (1 to 4;\n"
		"                      more than 1: only write+persist is measured)\n"
		"      --populate N    only make N sealed 1 MiB chunks of --copies\n"
		"                      copies, keep them, and print their number\n"
		"  -m, --mode MODE     all (the above, the default); interference: 64 B\n"
		"                      write+persist alone, then while other\n"
		"                      connections alloc, write, seal and free 4 KiB\n"
		"                      and 64 MiB chunks; alloc-rate: alloc+seal+free\n"
		"                      of 4 KiB per second with 1, 2 and 4 connections\n"
		"  -j, --json          print the figures as JSON\n",
		STREAM_TOTAL / STREAM_OP);
}

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool parse_mode(const char *s, enum bench_mode *mode)
{
	if (!strcmp(s, "all"))
		*mode = BENCH_ALL;
	else if (!strcmp(s, "interference"))
		*mode = BENCH_INTERFERENCE;
	else if (!strcmp(s, "alloc-rate"))
		*mode = BENCH_ALLOC_RATE;
	else
		return false;
	return true;
}

/* 0 with *o filled, 1 after --help, 2 on a bad argument. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"iters", required_argument, NULL, 'n'},
		{"depth", required_argument, NULL, 'd'},
		{"threads", required_argument, NULL, 't'},
		{"poll-us", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'},
		{"copies", required_argument, NULL, 'c'},
		{"populate", required_argument, NULL, 'F'},
		{"mode", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned poll_us;
	bool ok = true;
	int opt;

	opterr = 0; /* one line of our own instead */
	while (ok && (opt = getopt_long(argc, argv, "p:n:d:t:P:c:m:jh",
					longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			ok = parse_uint(optarg, 1, 65535, &o->port);
			break;
		case 'n':
			ok = parse_uint(optarg, 10, 10000000, &o->iters);
			break;
		case 'd':
			ok = parse_uint(optarg, 1, STREAM_TOTAL / STREAM_OP,
					&o->depth);
			break;
		case 't':
			ok = parse_uint(optarg, 1, 64, &o->threads);
			break;
		case 'P':
			ok = parse_uint(optarg, 0, 10000000, &poll_us);
			o->poll_us = (int)poll_us;
			break;
		case 'j':
			o->json = true;
			break;
		case 'c':
			ok = parse_uint(optarg, 1, CHUNK_MAX_COPIES,
					&o->copies);
			break;
		case 'F':
			ok = parse_uint(optarg, 1, 100000, &o->populate);
			break;
		case 'm':
			ok = parse_mode(optarg, &o->mode);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			ok = false;
		}
	}
	if (!ok) {
		fprintf(stderr,
			"chunkbench: bad option or value: '%s' (see --help)\n",
			argv[optind - 1]);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "chunkbench: one HOST expected (see --help)\n");
		return 2;
	}
	o->host = argv[optind];
	return 0;
}

/* --populate: n sealed 1 MiB chunks of o->copies copies, kept. */
static int populate(const struct bench_opts *o, uint8_t *buf)
{
	struct chunk_client *c = bench_connect(
		o, CHUNK_PERSIST_RPC | CHUNK_PERSIST_READ_AFTER_WRITE);
	unsigned long long id;
	unsigned made = 0;
	int rc = c ? CHUNK_OK : -1;

	while (rc == CHUNK_OK && made < o->populate) {
		rc = prepare_chunk(c, o->copies, buf, STREAM_OP, true, &id);
		made += rc == CHUNK_OK;
	}
	printf("%u\n", made);
	chunk_client_disconnect(&c);
	return rc;
}

/* --copies R > 1: write+persist of chunks of R copies, alone. */
static void print_replicated(const struct bench_opts *o, json_t *report)
{
	const char *method, *size;
	json_t *per_size, *f;

	json_object_foreach(json_object_get(report, "write_persist"), method,
			    per_size)
	{
		json_object_foreach(per_size, size, f)
			printf("write+persist %s %s B, %u copies: p50 %.1f us, "
			       "p99 %.1f us\n",
			       method, size, o->copies,
			       json_real_value(json_object_get(f, "p50_us")),
			       json_real_value(json_object_get(f, "p99_us")));
	}
}

/* --mode interference or alloc-rate, reported. */
static int run_study(const struct bench_opts *o, uint8_t *buf, json_t *report)
{
	int rc = o->mode == BENCH_INTERFERENCE
			 ? bench_interference(o, buf, report)
			 : bench_alloc_rate(o, report);

	if (rc == 0 && o->json) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (rc == 0) {
		bench_print_control(report);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.port = 7470,
			       .iters = 1000,
			       .depth = 8,
			       .threads = 2,
			       .poll_us = -1,
			       .copies = 1};
	json_t *report = json_object();
	uint8_t *buf = malloc(BUF_SIZE);
	int rc = parse_args(argc, argv, &o);

	if (rc || !buf || !report) {
		free(buf);
		json_decref(report);
		return rc == 1 ? 0 : 2;
	}
	for (size_t i = 0; i < BUF_SIZE; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	if (o.populate) {
		rc = populate(&o, buf);
		free(buf);
		json_decref(report);
		return rc ? 1 : 0;
	}
	if (o.mode != BENCH_ALL) {
		rc = run_study(&o, buf, report);
		free(buf);
		json_decref(report);
		return rc ? 1 : 0;
	}
	rc = bench_methods(&o, buf, report);
	if (o.copies == 1) {
		rc = rc ? rc : bench_one_connection(&o, buf, report);
		rc = rc ? rc : bench_threads(&o, report);
	}
	json_object_set_new(report, "copies", json_integer(o.copies));
	if (rc == 0 && o.copies > 1 && !o.json) {
		print_replicated(&o, report);
	} else if (rc == 0 && o.json) {
		json_object_set_new(report, "poll_us", json_integer(o.poll_us));
		json_dumpf(report, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (rc == 0) {
		print_table(report);
	}
	json_decref(report);
	free(buf);
	return rc ? 1 : 0;
}
