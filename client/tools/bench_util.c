#include "bench_util.h"

#include <stdio.h>

#include "timing.h"

int bench_check(int rc, const char *what)
{
	if (rc != CHUNK_OK)
		fprintf(stderr, "chunkbench: %s: %s\n", what,
			chunk_strerror(rc));
	return rc;
}

struct figure bench_figure(double *t, unsigned n, double elapsed_us,
			   size_t op_len)
{
	struct figure f;

	f.p50 = timing_percentile(t, n, 0.50);
	f.p99 = timing_percentile(t, n, 0.99);
	f.p999 = timing_percentile(t, n, 0.999);
	f.ops_s = n / (elapsed_us / 1e6);
	f.mb_s = f.ops_s * (double)op_len / 1e6;
	return f;
}

json_t *bench_figure_json(const struct figure *f)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f}", "p50_us", f->p50,
			 "p99_us", f->p99, "p999_us", f->p999, "ops_s",
			 f->ops_s, "mb_s", f->mb_s);
}

struct chunk_client *bench_connect(const struct bench_opts *o, unsigned methods)
{
	struct chunk_client_opts co;
	struct chunk_client *c = NULL;

	chunk_client_opts_init(&co);
	co.persist_methods = methods;
	co.bounce_size = BUF_SIZE;
	if (o->depth > co.max_in_flight)
		co.max_in_flight = o->depth;
	if (o->poll_us >= 0)
		co.poll_us = (unsigned)o->poll_us;
	if (o->timeout_ms)
		co.timeout_ms = o->timeout_ms;
	if (bench_check(
		    chunk_client_connect(o->host, (uint16_t)o->port, &co, &c),
		    "connect"))
		return NULL;
	return c;
}

int bench_write_persist(struct chunk_client *c, unsigned long long id,
			uint8_t *buf, size_t len)
{
	return bench_check(chunk_write_persist(c, id, 0, buf, len),
			   "write+persist");
}

int bench_time_ops(struct chunk_client *c, unsigned long long id, uint8_t *buf,
		   size_t len, timed_op *op, double *t, unsigned n,
		   double *elapsed_us)
{
	double start = timing_now_us();
	int rc = CHUNK_OK;

	for (unsigned i = 0; rc == CHUNK_OK && i < n; i++) {
		double t0 = timing_now_us();

		rc = op(c, id, buf, len);
		t[i] = timing_now_us() - t0;
	}
	*elapsed_us = timing_now_us() - start;
	return rc;
}
