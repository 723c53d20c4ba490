/*
 * chunkbench: what the chunk abstraction costs, measured through
 * libchunkclient against a running chunkd. It reports; it never fails on a
 * number. Figures under emulation mean something only as ratios to
 * perftest in the same boot (deploy/bench.sh will put them side by side).
 *
 *   latency    write+persist per size, with each persistence method chunkd
 *              offers; read of a sealed chunk per size (p50, p99, p99.9)
 *   stream     bandwidth of 1 MiB writes into one large chunk, with up to
 *              --depth of them in flight (asynchronous API)
 *   lifecycle  alloc+seal+free operations per second
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunkclient.h"

struct bench_opts {
	const char *host;
	unsigned port;
	unsigned iters;
	unsigned depth;
	bool json;
};

static const size_t sizes[] = {64, 4096, 65536, 1 << 20};
#define NSIZES	     (sizeof(sizes) / sizeof(sizes[0]))
#define STREAM_WRITE (1u << 20)
#define STREAM_TOTAL (64u << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct dist {
	double p50, p99, p999;
};

static struct dist distribution(double *v, unsigned n)
{
	struct dist d;

	qsort(v, n, sizeof(*v), cmp_double);
	d.p50 = v[(unsigned)(0.50 * (n - 1))];
	d.p99 = v[(unsigned)(0.99 * (n - 1))];
	d.p999 = v[(unsigned)(0.999 * (n - 1))];
	return d;
}

static int check(int rc, const char *what)
{
	if (rc != CHUNK_OK)
		fprintf(stderr, "chunkbench: %s: %s\n", what,
			chunk_strerror(rc));
	return rc;
}

static struct chunk_client *connect_with(const struct bench_opts *o,
					 unsigned methods)
{
	struct chunk_client_opts co;
	struct chunk_client *c = NULL;

	chunk_client_opts_init(&co);
	co.persist_methods = methods;
	co.bounce_size = 4u << 20;
	if (check(chunk_client_connect(o->host, (uint16_t)o->port, &co, &c),
		  "connect"))
		return NULL;
	return c;
}

/* write+persist latency of len bytes into one chunk, from registered
 * memory (no copy): the cost of the abstraction, not of memcpy. */
static int latency_write(struct chunk_client *c, const struct bench_opts *o,
			 uint8_t *buf, size_t len, struct dist *out)
{
	double *t = calloc(o->iters, sizeof(double));
	unsigned long long id;
	int rc = check(chunk_alloc(c, len, &id), "alloc");

	for (unsigned i = 0; rc == CHUNK_OK && i < o->iters; i++) {
		double t0 = now_us();

		rc = check(chunk_write_persist(c, id, 0, buf, len),
			   "write+persist");
		t[i] = now_us() - t0;
	}
	if (rc == CHUNK_OK) {
		*out = distribution(t, o->iters);
		chunk_free(c, id);
	}
	free(t);
	return rc;
}

static int latency_read(struct chunk_client *c, const struct bench_opts *o,
			uint8_t *buf, size_t len, struct dist *out)
{
	double *t = calloc(o->iters, sizeof(double));
	unsigned long long id;
	int rc = check(chunk_alloc(c, len, &id), "alloc");

	rc = rc ? rc : check(chunk_write_persist(c, id, 0, buf, len), "write");
	rc = rc ? rc
		: check(chunk_seal(c, id, len, chunk_crc32c(0, buf, len)),
			"seal");
	rc = rc ? rc : check(chunk_open(c, id, NULL), "open");
	for (unsigned i = 0; rc == CHUNK_OK && i < o->iters; i++) {
		double t0 = now_us();

		rc = check(chunk_read(c, id, 0, buf, len), "read");
		t[i] = now_us() - t0;
	}
	if (rc == CHUNK_OK) {
		*out = distribution(t, o->iters);
		chunk_free(c, id);
	}
	free(t);
	return rc;
}

static void count_done(void *arg, int status)
{
	int *pending = arg;

	if (status != CHUNK_OK)
		fprintf(stderr, "chunkbench: stream write: %s\n",
			chunk_strerror(status));
	(*pending)--;
}

/* MB/s of STREAM_TOTAL bytes in 1 MiB writes, depth in flight. */
static int stream(struct chunk_client *c, const struct bench_opts *o,
		  uint8_t *buf, double *mb_s)
{
	unsigned long long id;
	int pending = 0, rc = check(chunk_alloc(c, STREAM_TOTAL, &id), "alloc");
	size_t off = 0;
	double t0 = now_us();

	while (rc == CHUNK_OK && (off < STREAM_TOTAL || pending > 0)) {
		if (off < STREAM_TOTAL && pending < (int)o->depth) {
			rc = chunk_write_async(c, id, off, buf, STREAM_WRITE,
					       count_done, &pending);
			if (rc == CHUNK_OK) {
				pending++;
				off += STREAM_WRITE;
			} else if (rc == CHUNK_E_AGAIN) {
				rc = CHUNK_OK;
			}
			continue;
		}
		if (chunk_client_poll(c, -1) < 0)
			rc = CHUNK_E_TIMEOUT;
	}
	rc = rc ? rc : check(chunk_persist(c, id, 0, STREAM_TOTAL), "persist");
	*mb_s = STREAM_TOTAL / (now_us() - t0);
	chunk_free(c, id);
	return rc;
}

/* alloc+seal+free of empty 4 KiB chunks per second. */
static int lifecycle(struct chunk_client *c, const struct bench_opts *o,
		     double *ops_s)
{
	double t0 = now_us();
	int rc = CHUNK_OK;

	for (unsigned i = 0; rc == CHUNK_OK && i < o->iters; i++) {
		unsigned long long id;

		rc = check(chunk_alloc(c, 4096, &id), "alloc");
		rc = rc ? rc : check(chunk_seal(c, id, 0, 0), "seal");
		rc = rc ? rc : check(chunk_free(c, id), "free");
	}
	*ops_s = o->iters / ((now_us() - t0) / 1e6);
	return rc;
}

static json_t *dist_json(const struct dist *d)
{
	return json_pack("{s:f, s:f, s:f}", "p50_us", d->p50, "p99_us", d->p99,
			 "p999_us", d->p999);
}

static const char *method_name(unsigned m)
{
	return m == CHUNK_PERSIST_READ_AFTER_WRITE ? "read-after-write"
						   : "persist-rpc";
}

/* Latency for each method chunkd offers: one connection per method. */
static int bench_latency(const struct bench_opts *o, uint8_t *buf,
			 json_t *report)
{
	const unsigned methods[] = {CHUNK_PERSIST_RPC,
				    CHUNK_PERSIST_READ_AFTER_WRITE};
	json_t *lat = json_object();

	json_object_set_new(report, "write_persist", lat);
	for (size_t m = 0; m < 2; m++) {
		struct chunk_client *c = connect_with(o, methods[m]);
		struct chunk_mem *mem = NULL;
		json_t *per_size = json_object();
		int rc;

		if (!c)
			return -1;
		if (chunk_client_persist_method(c) != methods[m]) {
			chunk_client_disconnect(&c);
			json_decref(per_size);
			continue; /* not offered by this chunkd */
		}
		rc = check(chunk_mem_reg(c, buf, 1 << 20, &mem), "mem_reg");
		for (size_t s = 0; rc == CHUNK_OK && s < NSIZES; s++) {
			struct dist d;
			char key[16];

			rc = latency_write(c, o, buf, sizes[s], &d);
			snprintf(key, sizeof(key), "%zu", sizes[s]);
			if (rc == CHUNK_OK)
				json_object_set_new(per_size, key,
						    dist_json(&d));
		}
		json_object_set_new(lat, method_name(methods[m]), per_size);
		chunk_mem_dereg(&mem);
		chunk_client_disconnect(&c);
		if (rc)
			return rc;
	}
	return 0;
}

static int bench_rest(const struct bench_opts *o, uint8_t *buf, json_t *report)
{
	struct chunk_client *c = connect_with(o, CHUNK_PERSIST_RPC);
	struct chunk_mem *mem = NULL;
	json_t *reads = json_object();
	double mb_s = 0, ops_s = 0;
	int rc;

	if (!c)
		return -1;
	json_object_set_new(report, "read", reads);
	rc = check(chunk_mem_reg(c, buf, 4u << 20, &mem), "mem_reg");
	for (size_t s = 0; rc == CHUNK_OK && s < NSIZES; s++) {
		struct dist d;
		char key[16];

		rc = latency_read(c, o, buf, sizes[s], &d);
		snprintf(key, sizeof(key), "%zu", sizes[s]);
		if (rc == CHUNK_OK)
			json_object_set_new(reads, key, dist_json(&d));
	}
	rc = rc ? rc : stream(c, o, buf, &mb_s);
	rc = rc ? rc : lifecycle(c, o, &ops_s);
	json_object_set_new(report, "stream_write_mb_s", json_real(mb_s));
	json_object_set_new(report, "stream_depth", json_integer(o->depth));
	json_object_set_new(report, "alloc_seal_free_per_s", json_real(ops_s));
	chunk_mem_dereg(&mem);
	chunk_client_disconnect(&c);
	return rc;
}

static void print_table(json_t *report)
{
	const char *method, *size;
	json_t *per_size, *d;

	printf("%-18s %-8s %10s %10s %10s\n", "write+persist", "bytes",
	       "p50 us", "p99 us", "p99.9 us");
	json_object_foreach(json_object_get(report, "write_persist"), method,
			    per_size) json_object_foreach(per_size, size, d)
		printf("%-18s %-8s %10.1f %10.1f %10.1f\n", method, size,
		       json_real_value(json_object_get(d, "p50_us")),
		       json_real_value(json_object_get(d, "p99_us")),
		       json_real_value(json_object_get(d, "p999_us")));
	json_object_foreach(json_object_get(report, "read"), size, d)
		printf("%-18s %-8s %10.1f %10.1f %10.1f\n", "read (sealed)",
		       size, json_real_value(json_object_get(d, "p50_us")),
		       json_real_value(json_object_get(d, "p99_us")),
		       json_real_value(json_object_get(d, "p999_us")));
	printf("stream write, 1 MiB writes, %lld in flight: %.1f MB/s\n",
	       (long long)json_integer_value(
		       json_object_get(report, "stream_depth")),
	       json_real_value(json_object_get(report, "stream_write_mb_s")));
	printf("alloc+seal+free: %.0f per s\n",
	       json_real_value(
		       json_object_get(report, "alloc_seal_free_per_s")));
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkbench [--port PORT] [--iters N] [--depth N] [--json] HOST\n"
		"\n"
		"Measures chunkd at HOST through libchunkclient: write+persist latency\n"
		"per size (64 B, 4 KiB, 64 KiB, 1 MiB) for each persistence method\n"
		"offered, read latency of sealed chunks, streaming write bandwidth with\n"
		"--depth (default 8) writes in flight, and alloc+seal+free per second.\n"
		"p50, p99 and p99.9 over --iters (default 1000) operations. A benchmark:\n"
		"exit status 0 unless an operation fails.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"iters", required_argument, NULL, 'n'},
		{"depth", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench_opts o = {.port = 7470, .iters = 1000, .depth = 8};
	json_t *report = json_object();
	uint8_t *buf = malloc(4u << 20);
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "p:n:d:jh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'p':
			o.port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o.iters = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o.depth = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || o.iters < 10 || o.depth == 0 ||
	    o.depth > CHUNK_MAX_ASYNC || !buf) {
		usage(stderr);
		return 2;
	}
	o.host = argv[optind];
	for (size_t i = 0; i < (4u << 20); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	rc = bench_latency(&o, buf, report);
	rc = rc ? rc : bench_rest(&o, buf, report);
	if (rc == 0 && o.json) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (rc == 0) {
		print_table(report);
	}
	json_decref(report);
	free(buf);
	return rc ? 1 : 0;
}
