/*
 * What chunkbench's parts share: its options, a figure (percentiles and
 * rates) and its JSON, connecting with them, and timing a loop of calls.
 * Part of the measuring programs only; not of libchunkclient.
 */
#ifndef CHUNKD_CLIENT_BENCH_UTIL_H
#define CHUNKD_CLIENT_BENCH_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunkclient.h"

#define BUF_SIZE (4u << 20) /* each connection's registered buffer */

/* What chunkbench measures: everything (the default), or one study. */
enum bench_mode {
	BENCH_ALL,
	BENCH_INTERFERENCE, /* interference.h */
	BENCH_ALLOC_RATE,   /* interference.h */
};

struct bench_opts {
	const char *host;
	unsigned port;
	unsigned iters;
	unsigned depth;
	unsigned threads;
	int poll_us;	     /* < 0: the library's default */
	unsigned timeout_ms; /* per operation; 0: the library's default */
	bool json;
	unsigned copies;   /* of each chunk timed (cluster mode when > 1) */
	unsigned populate; /* only make this many sealed 1 MiB chunks */
	enum bench_mode mode;
};

/* One figure: latency percentiles, and the rate of the loop measured. */
struct figure {
	double p50, p99, p999; /* microseconds */
	double ops_s, mb_s;
};

typedef int timed_op(struct chunk_client *c, unsigned long long id,
		     uint8_t *buf, size_t len);

/* Says what failed on stderr; returns rc. */
int bench_check(int rc, const char *what);

/* The figure of n samples t (sorted in place) over elapsed_us, for
 * operations of op_len bytes. */
struct figure bench_figure(double *t, unsigned n, double elapsed_us,
			   size_t op_len);

json_t *bench_figure_json(const struct figure *f);

/* A connection with o's settings, offering methods; NULL (said) if not. */
struct chunk_client *bench_connect(const struct bench_opts *o,
				   unsigned methods);

/* write+persist of len bytes at the chunk's start. */
int bench_write_persist(struct chunk_client *c, unsigned long long id,
			uint8_t *buf, size_t len);

/* Times n calls of op: t[i] gets each one's, *elapsed_us the loop's. */
int bench_time_ops(struct chunk_client *c, unsigned long long id, uint8_t *buf,
		   size_t len, timed_op *op, double *t, unsigned n,
		   double *elapsed_us);

#endif
