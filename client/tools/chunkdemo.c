/*
 * chunkdemo: the data path end to end, with figures. One connection
 * allocates chunks, writes random data with one-sided RDMA WRITEs, persists
 * and seals them; a second connection opens each one, reads it back with
 * RDMA READs and verifies it. Prints latency per step (p50, p99) and
 * throughput. Exit status 1 if any byte differs.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkclient.h"
#include "timing.h"

struct demo_opts {
	const char *host;
	unsigned port;
	unsigned chunks;
	size_t size;
};

enum step { STEP_ALLOC, STEP_WRITE, STEP_SEAL, STEP_OPEN, STEP_READ, STEPS };

static const char *const step_names[STEPS] = {
	"alloc", "write+persist", "seal", "open", "read",
};

static void fill_random(unsigned char *buf, size_t len, unsigned *seed)
{
	for (size_t i = 0; i < len; i++) {
		*seed = *seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(*seed >> 16);
	}
}

static int check(int rc, const char *what)
{
	if (rc != CHUNK_OK)
		fprintf(stderr, "chunkdemo: %s: %s\n", what,
			chunk_strerror(rc));
	return rc;
}

/* Writes, persists and seals one chunk, timing each step. */
static int store_one(struct chunk_client *w, const unsigned char *data,
		     size_t len, unsigned long long *id, double *t)
{
	double t0 = timing_now_us();

	if (check(chunk_alloc(w, len, id), "alloc"))
		return -1;
	t[STEP_ALLOC] = timing_now_us() - t0;
	t0 = timing_now_us();
	if (check(chunk_write_persist(w, *id, 0, data, len), "write+persist"))
		return -1;
	t[STEP_WRITE] = timing_now_us() - t0;
	t0 = timing_now_us();
	if (check(chunk_seal(w, *id, len, chunk_crc32c(0, data, len)), "seal"))
		return -1;
	t[STEP_SEAL] = timing_now_us() - t0;
	return 0;
}

/* Opens and reads one chunk back; returns 1 if it differs. */
static int load_one(struct chunk_client *r, unsigned long long id,
		    const unsigned char *want, unsigned char *back, size_t len,
		    double *t)
{
	struct chunk_info info;
	double t0 = timing_now_us();

	if (check(chunk_open(r, id, &info), "open"))
		return -1;
	t[STEP_OPEN] = timing_now_us() - t0;
	t0 = timing_now_us();
	if (check(chunk_read(r, id, 0, back, len), "read"))
		return -1;
	t[STEP_READ] = timing_now_us() - t0;
	return info.length != len || memcmp(back, want, len) != 0 ||
	       info.crc32c != chunk_crc32c(0, back, len);
}

static void report(const struct demo_opts *o, double *lat[STEPS], unsigned bad,
		   unsigned persist_method)
{
	double write_total = 0, read_total = 0, mb = (double)o->size / 1e6;

	for (unsigned i = 0; i < o->chunks; i++) {
		write_total += lat[STEP_WRITE][i];
		read_total += lat[STEP_READ][i];
	}
	printf("chunkdemo: %u chunks of %zu bytes, %.1f MB; persistence: %s\n",
	       o->chunks, o->size, mb * o->chunks,
	       persist_method == CHUNK_PERSIST_READ_AFTER_WRITE
		       ? "read-after-write"
		       : "persist-rpc");
	printf("  %-14s %12s %12s\n", "step", "p50 us", "p99 us");
	for (int s = 0; s < STEPS; s++)
		printf("  %-14s %12.1f %12.1f\n", step_names[s],
		       timing_percentile(lat[s], o->chunks, 0.50),
		       timing_percentile(lat[s], o->chunks, 0.99));
	printf("  write+persist  %.1f MB/s; read %.1f MB/s\n",
	       mb * o->chunks / (write_total / 1e6),
	       mb * o->chunks / (read_total / 1e6));
	printf("  verified: %u of %u chunks read back intact by the second connection\n",
	       o->chunks - bad, o->chunks);
}

static int run(const struct demo_opts *o)
{
	struct chunk_client *w = NULL, *r = NULL;
	unsigned char *data = malloc(o->size), *back = malloc(o->size);
	double *lat[STEPS], t[STEPS];
	unsigned long long id;
	unsigned seed = 1, bad = 0;
	int rc = 1;

	bool have_memory = data && back;

	for (int s = 0; s < STEPS; s++) {
		lat[s] = calloc(o->chunks, sizeof(double));
		have_memory = have_memory && lat[s];
	}
	if (!have_memory ||
	    check(chunk_client_connect(o->host, (uint16_t)o->port, NULL, &w),
		  "connect (writer)") ||
	    check(chunk_client_connect(o->host, (uint16_t)o->port, NULL, &r),
		  "connect (reader)"))
		goto out;
	for (unsigned i = 0; i < o->chunks; i++) {
		int diff;

		fill_random(data, o->size, &seed);
		if (store_one(w, data, o->size, &id, t))
			goto out;
		diff = load_one(r, id, data, back, o->size, t);
		if (diff < 0)
			goto out;
		bad += (unsigned)diff;
		for (int s = 0; s < STEPS; s++)
			lat[s][i] = t[s];
		chunk_free(r, id);
	}
	report(o, lat, bad, chunk_client_persist_method(w));
	rc = bad ? 1 : 0;
out:
	chunk_client_disconnect(&w);
	chunk_client_disconnect(&r);
	for (int s = 0; s < STEPS; s++)
		free(lat[s]);
	free(data);
	free(back);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkdemo [--port PORT] [--chunks N] [--size BYTES] HOST\n"
		"\n"
		"Stores N chunks of random data in chunkd at HOST through one\n"
		"connection (alloc, write+persist, seal) and reads each back through\n"
		"a second one (open, read), verifying every byte. Prints p50 and p99\n"
		"latency per step and MB/s. Defaults: port 7470, 64 chunks of 65536\n"
		"bytes. Exit status 1 on any error or mismatch.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"chunks", required_argument, NULL, 'n'},
		{"size", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct demo_opts o = {.port = 7470, .chunks = 64, .size = 65536};
	int opt;

	while ((opt = getopt_long(argc, argv, "p:n:s:h", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'p':
			o.port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o.chunks = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.size = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || o.chunks == 0 || o.size == 0 || o.port == 0 ||
	    o.port > 65535) {
		usage(stderr);
		return 2;
	}
	o.host = argv[optind];
	return run(&o);
}
