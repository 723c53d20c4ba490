/*
 * clusterbench: what cluster mode's table costs against the raw cost of
 * one etcd transaction, measured in the same run against the same etcd.
 *
 *   raw      a create-if-absent txn of a new key (what an alloc's record
 *            write is), over the same gateway and client code
 *   alloc    table_alloc through the cluster's table (the pool's own
 *            table, then the OPEN record's txn)
 *   seal     table_seal (the revision-compared txn, then the pool)
 *   cycle    alloc + seal + free
 *
 * One operation at a time (latency), on one member whose pool is a file
 * in /dev/shm; p50 and p99 of each round, medians over rounds. It reports; it
 * never fails on a number.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "pool/pool.h"
#include "common/clock.h"
#include "etcd/etcd_json.h"

#define GRAN	4096u
#define MAX_OPS 100000u

struct bench {
	const char *endpoints;
	unsigned ops, rounds;
	bool json;
	struct event_base *base;
	struct etcd *etcd;
	struct cluster *cluster;
	struct table *table;
	struct pool *pool;
	char prefix[64];
};

struct figures {
	double p50_ms, p99_ms;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct figures percentiles(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct figures){v[n / 2], v[(n * 99) / 100]};
}

static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "clusterbench: %s: %s\n", what, why);
	exit(EXIT_FAILURE);
}

/* ---- the raw transaction ---- */

struct waited {
	int calls, status;
	bool succeeded;
};

static void raw_done(void *arg, const struct etcd_result *r)
{
	struct waited *w = arg;

	w->calls++;
	w->status = r->status;
	w->succeeded = r->succeeded;
}

static double raw_txn_ms(struct bench *b, unsigned i)
{
	char key[128];
	struct waited w = {0};
	uint64_t t0 = clock_mono_us();

	snprintf(key, sizeof(key), "%sraw/%u-%u", b->prefix, (unsigned)getpid(),
		 i);
	if (etcd_call(b->etcd, "/v3/kv/txn",
		      etcd_json_txn(
			      etcd_json_list(etcd_json_cmp_absent(key), NULL),
			      etcd_json_list(etcd_json_put(key, "{\"x\":1}", 0),
					     NULL),
			      NULL),
		      raw_done, &w))
		fail("raw txn", "out of memory");
	while (!w.calls)
		event_base_loop(b->base, EVLOOP_ONCE);
	if (w.status || !w.succeeded)
		fail("raw txn", "etcd refused it");
	return (double)(clock_mono_us() - t0) / 1000.0;
}

/* ---- the table ---- */

struct done {
	int calls;
	struct table_result res;
};

static void table_done(void *arg, const struct table_result *res)
{
	struct done *d = arg;

	d->calls++;
	d->res = *res;
}

static void wait_done(struct bench *b, struct done *d, const char *what)
{
	while (!d->calls)
		event_base_loop(b->base, EVLOOP_ONCE);
	if (d->res.status)
		fail(what, strerror(-d->res.status));
}

/* One alloc, seal and free; their times in ms. */
static void cycle(struct bench *b, double *alloc_ms, double *seal_ms,
		  double *cycle_ms)
{
	struct done a = {0}, s = {0}, f = {0};
	uint64_t t0 = clock_mono_us(), t1, t2;

	table_alloc(b->table, GRAN, 1, 1, table_done, &a);
	wait_done(b, &a, "alloc");
	t1 = clock_mono_us();
	table_seal(b->table, a.res.rec.id, 100, 7, table_done, &s);
	wait_done(b, &s, "seal");
	t2 = clock_mono_us();
	table_free(b->table, a.res.rec.id, table_done, &f);
	wait_done(b, &f, "free");
	*alloc_ms = (double)(t1 - t0) / 1000.0;
	*seal_ms = (double)(t2 - t1) / 1000.0;
	*cycle_ms = (double)(clock_mono_us() - t0) / 1000.0;
}

static void join(struct bench *b)
{
	struct cluster_opts o = {.endpoints = b->endpoints,
				 .name = "clusterbench",
				 .prefix = b->prefix,
				 .address = "127.0.0.1",
				 .port = 7470,
				 .ttl_s = 5,
				 .timeout_ms = 5000};
	struct reconcile_report rep;
	char path[128], err[512];
	struct pool_opts po = {.path = path, .create_size = 64u << 20};

	/* A DRAM pool that goes when the run ends. */
	snprintf(path, sizeof(path), "/dev/shm/clusterbench-%d.pool",
		 (int)getpid());
	unlink(path);
	if (pool_open(&po, &b->pool, err, sizeof(err)))
		fail("pool", err);
	unlink(path);
	if (cluster_join(b->base, &o, b->pool, &b->cluster, &b->table, &rep,
			 err, sizeof(err)))
		fail("joining", err);
	if (etcd_new(b->base, b->endpoints, 5000, &b->etcd, err, sizeof(err)))
		fail("etcd", err);
}

/* The medians over rounds of each round's p50 and p99. */
struct summary {
	struct figures raw, alloc, seal, cycle;
	double cycles_per_s;
};

static void run_round(struct bench *b, unsigned round, double *v[5],
		      struct figures out[4], double *rate)
{
	uint64_t t0;

	for (unsigned i = 0; i < b->ops; i++)
		v[0][i] = raw_txn_ms(b, round * b->ops + i);
	t0 = clock_mono_us();
	for (unsigned i = 0; i < b->ops; i++)
		cycle(b, &v[1][i], &v[2][i], &v[3][i]);
	*rate = b->ops / ((double)(clock_mono_us() - t0) / 1e6);
	for (int k = 0; k < 4; k++)
		out[k] = percentiles(v[k], b->ops);
}

static struct figures median_figures(struct figures *f, unsigned n)
{
	double p50[64], p99[64];

	for (unsigned i = 0; i < n; i++) {
		p50[i] = f[i].p50_ms;
		p99[i] = f[i].p99_ms;
	}
	return (struct figures){median_of(p50, n), median_of(p99, n)};
}

static void measure(struct bench *b, struct summary *s)
{
	double *v[5];
	struct figures f[4][64];
	double rates[64];

	for (int k = 0; k < 4; k++)
		v[k] = calloc(b->ops, sizeof(double));
	v[4] = NULL;
	for (unsigned r = 0; r < b->rounds; r++) {
		struct figures round[4];

		run_round(b, r, v, round, &rates[r]);
		for (int k = 0; k < 4; k++)
			f[k][r] = round[k];
	}
	s->raw = median_figures(f[0], b->rounds);
	s->alloc = median_figures(f[1], b->rounds);
	s->seal = median_figures(f[2], b->rounds);
	s->cycle = median_figures(f[3], b->rounds);
	s->cycles_per_s = median_of(rates, b->rounds);
	for (int k = 0; k < 4; k++)
		free(v[k]);
}

static void report(const struct bench *b, const struct summary *s)
{
	double ratio = (s->alloc.p50_ms + s->seal.p50_ms) / s->raw.p50_ms;

	if (b->json) {
		printf("{\"ops\": %u, \"rounds\": %u, \"raw_txn\": {\"p50_ms\": "
		       "%.3f, \"p99_ms\": %.3f}, \"alloc\": {\"p50_ms\": %.3f, "
		       "\"p99_ms\": %.3f}, \"seal\": {\"p50_ms\": %.3f, "
		       "\"p99_ms\": %.3f}, \"alloc_seal_free\": {\"p50_ms\": "
		       "%.3f, \"p99_ms\": %.3f, \"per_s\": %.0f}, "
		       "\"alloc_seal_over_raw_p50\": %.2f}\n",
		       b->ops, b->rounds, s->raw.p50_ms, s->raw.p99_ms,
		       s->alloc.p50_ms, s->alloc.p99_ms, s->seal.p50_ms,
		       s->seal.p99_ms, s->cycle.p50_ms, s->cycle.p99_ms,
		       s->cycles_per_s, ratio);
		return;
	}
	printf("clusterbench: %u operations a round, %u rounds, one at a "
	       "time; medians of the rounds' figures\n",
	       b->ops, b->rounds);
	printf("  %-24s p50 %7.3f ms  p99 %7.3f ms\n", "raw txn (create)",
	       s->raw.p50_ms, s->raw.p99_ms);
	printf("  %-24s p50 %7.3f ms  p99 %7.3f ms\n", "alloc", s->alloc.p50_ms,
	       s->alloc.p99_ms);
	printf("  %-24s p50 %7.3f ms  p99 %7.3f ms\n", "seal", s->seal.p50_ms,
	       s->seal.p99_ms);
	printf("  %-24s p50 %7.3f ms  p99 %7.3f ms  %.0f/s\n",
	       "alloc+seal+free", s->cycle.p50_ms, s->cycle.p99_ms,
	       s->cycles_per_s);
	printf("  alloc+seal p50 = %.2f raw txn p50 (target at most 2.5)\n",
	       ratio);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: clusterbench --endpoints URLS [--ops N] [--rounds R] "
		"[--json]\n"
		"\n"
		"Times cluster mode's table (alloc, seal, alloc+seal+free, one "
		"at a time)\n"
		"against a raw create-if-absent etcd transaction, in the same "
		"run, against\n"
		"the etcd cluster at URLS (deploy/etcd-cluster.sh starts one). "
		"Defaults:\n"
		"--ops 500, --rounds 3. Reports medians; never fails on a "
		"number.\n");
}

static int parse(int argc, char **argv, struct bench *b)
{
	static const struct option longopts[] = {
		{"endpoints", required_argument, NULL, 'e'},
		{"ops", required_argument, NULL, 'n'},
		{"rounds", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "e:n:r:jh", longopts, NULL)) !=
	       -1) {
		if (opt == 'e')
			b->endpoints = optarg;
		else if (opt == 'n')
			b->ops = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			b->rounds = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'j')
			b->json = true;
		else if (opt == 'h') {
			usage(stdout);
			exit(EXIT_SUCCESS);
		} else
			return -1;
	}
	if (!b->endpoints || b->ops < 10 || b->ops > MAX_OPS || b->rounds < 1 ||
	    b->rounds > 64 || optind != argc)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = {.ops = 500, .rounds = 3};
	struct summary s;

	if (parse(argc, argv, &b)) {
		usage(stderr);
		return 2;
	}
	snprintf(b.prefix, sizeof(b.prefix), "/clusterbench-%d/",
		 (int)getpid());
	b.base = event_base_new();
	if (!b.base)
		fail("libevent", "out of memory");
	join(&b);
	measure(&b, &s);
	report(&b, &s);
	etcd_free(&b.etcd);
	cluster_leave(&b.cluster);
	table_close(&b.table);
	pool_close(&b.pool);
	event_base_free(b.base);
	return 0;
}
