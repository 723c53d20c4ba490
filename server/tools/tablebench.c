/*
 * tablebench: how fast the pmem allocation table is, on one thread.
 *
 *  1. alloc+seal, then free, of 4 KiB chunks, in batches, on a pool file
 *     (default in /dev/shm) with PMEM_IS_PMEM_FORCE=1, so persists are real
 *     cache-line flushes and fences; the same again with persistence off
 *     gives the share of the time that is the persist cost itself.
 *  2. recovery (opening the table) of a pool holding 1,000,000 sealed
 *     chunk records.
 * Medians of several runs. It reports; it never fails on a number.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/clock.h"
#include "pool/pool.h"
#include "table/table_pmem.h"

#define CHUNK_SIZE 4096u
#define BATCH	   1000u

struct bench_opts {
	const char *dir;
	uint64_t ops;	  /* alloc+seal pairs per run */
	uint64_t records; /* sealed records for the recovery run */
	int runs;
	bool json;
};

struct rate_result {
	double pairs_per_s; /* alloc+seal */
	double frees_per_s;
	double cycles_per_s;  /* alloc+seal+free */
	double persist_share; /* of an alloc+seal+free cycle's time */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct pool *make_pool(const struct bench_opts *o, const char *name,
			      uint64_t size, uint64_t slots)
{
	char path[4096], err[512];
	struct pool_opts po = {
		.path = path, .create_size = size, .table_slots = slots};
	struct pool *pool;

	snprintf(path, sizeof(path), "%s/tablebench-%d-%s.pool", o->dir,
		 (int)getpid(), name);
	unlink(path);
	if (pool_open(&po, &pool, err, sizeof(err)) != 0) {
		fprintf(stderr, "tablebench: %s\n", err);
		exit(EXIT_FAILURE);
	}
	unlink(path); /* the mapping stays; nothing is left behind */
	return pool;
}

static struct table *open_table(struct pool *pool, const struct persister *p)
{
	struct table *t;
	struct table_pmem_report rep;

	if (table_pmem_open(pool->base, &pool->geo, p, &t, &rep) != 0) {
		fprintf(stderr, "tablebench: cannot open the table\n");
		exit(EXIT_FAILURE);
	}
	return t;
}

/* Times ops alloc+seal pairs and as many frees; returns seconds of each. */
static void time_cycles(struct table *t, uint64_t ops, double *pair_s,
			double *free_s)
{
	static uint64_t ids[BATCH];
	struct table_record rec;

	*pair_s = *free_s = 0;
	for (uint64_t done = 0; done < ops; done += BATCH) {
		double t0 = clock_mono_s(), t1;

		for (unsigned i = 0; i < BATCH; i++) {
			if (table_pmem_alloc(t, CHUNK_SIZE, 1, 1, &rec) ||
			    table_pmem_seal(t, rec.id, CHUNK_SIZE, 0x5eed, NULL))
				abort();
			ids[i] = rec.id;
		}
		t1 = clock_mono_s();
		for (unsigned i = 0; i < BATCH; i++)
			if (table_pmem_free(t, ids[i]))
				abort();
		*pair_s += t1 - t0;
		*free_s += clock_mono_s() - t1;
	}
}

static void bench_rates(const struct bench_opts *o, struct rate_result *r)
{
	struct pool *pool = make_pool(o, "rate", 64ull << 20, 4 * BATCH);
	struct persister off = {.mode = PERSIST_NONE};
	double pairs[32], frees[32], cycles[32], bare[32];

	for (int run = 0; run < o->runs; run++) {
		struct table *t = open_table(pool, &pool->persist);
		double pair_s, free_s, bare_pair, bare_free;

		time_cycles(t, o->ops, &pair_s, &free_s);
		table_close(&t);
		t = open_table(pool, &off);
		time_cycles(t, o->ops, &bare_pair, &bare_free);
		table_close(&t);
		pairs[run] = (double)o->ops / pair_s;
		frees[run] = (double)o->ops / free_s;
		cycles[run] = (double)o->ops / (pair_s + free_s);
		bare[run] = 1 - (bare_pair + bare_free) / (pair_s + free_s);
	}
	r->pairs_per_s = median(pairs, o->runs);
	r->frees_per_s = median(frees, o->runs);
	r->cycles_per_s = median(cycles, o->runs);
	r->persist_share = median(bare, o->runs);
	pool_close(&pool);
}

/* Returns the median seconds to recover a table of o->records records. */
static double bench_recovery(const struct bench_opts *o)
{
	uint64_t size =
		o->records * CHUNK_SIZE + (o->records + 64) * 128 + (1u << 20);
	struct pool *pool = make_pool(o, "recovery", size, o->records);
	struct table *t = open_table(pool, &pool->persist);
	struct table_record rec;
	double secs[32];

	for (uint64_t i = 0; i < o->records; i++)
		if (table_pmem_alloc(t, CHUNK_SIZE, i % 64, 1, &rec) ||
		    table_pmem_seal(t, rec.id, 100, (uint32_t)i, NULL))
			abort();
	table_close(&t);
	for (int run = 0; run < o->runs; run++) {
		struct table_pmem_report rep;
		double t0 = clock_mono_s();

		if (table_pmem_open(pool->base, &pool->geo, &pool->persist, &t,
				    &rep) != 0 ||
		    rep.sealed != o->records)
			abort();
		secs[run] = clock_mono_s() - t0;
		table_close(&t);
	}
	pool_close(&pool);
	return median(secs, o->runs);
}

static void report(const struct bench_opts *o, const struct rate_result *r,
		   double recovery_s)
{
	const char *force = getenv("PMEM_IS_PMEM_FORCE");

	if (o->json) {
		json_t *doc = json_pack(
			"{s:s, s:s?, s:I, s:i, s:{s:f, s:f, s:f, s:f}, s:{s:I, s:f}}",
			"pool_dir", o->dir, "pmem_is_pmem_force", force,
			"ops_per_run", (json_int_t)o->ops, "runs", o->runs,
			"rates", "alloc_seal_per_s", r->pairs_per_s,
			"free_per_s", r->frees_per_s, "alloc_seal_free_per_s",
			r->cycles_per_s, "persist_share", r->persist_share,
			"recovery", "records", (json_int_t)o->records,
			"seconds", recovery_s);

		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
		return;
	}
	printf("tablebench: pool in %s, PMEM_IS_PMEM_FORCE=%s, medians of %d runs\n",
	       o->dir, force ? force : "(unset)", o->runs);
	printf("  alloc+seal          %10.0f per s\n", r->pairs_per_s);
	printf("  free                %10.0f per s\n", r->frees_per_s);
	printf("  alloc+seal+free     %10.0f per s (persist cost: %.0f%% of the time)\n",
	       r->cycles_per_s, 100 * r->persist_share);
	printf("  recovery of %llu records: %.3f s\n",
	       (unsigned long long)o->records, recovery_s);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tablebench [--json] [--dir DIR] [--ops N] [--records N] [--runs N]\n"
		"\n"
		"Measures the pmem allocation table on one thread: alloc+seal and\n"
		"free rates of 4 KiB chunks (with the share of time spent persisting)\n"
		"and the time to recover a table of N sealed records. Pools are\n"
		"temporary files in DIR (default /dev/shm), removed at exit. Run\n"
		"with PMEM_IS_PMEM_FORCE=1 on tmpfs so persists are cache flushes;\n"
		"tablebench sets it and restarts itself when it is unset.\n"
		"\n"
		"  --ops N      alloc+seal pairs per run (default 200000)\n"
		"  --records N  records in the recovery pool (default 1000000)\n"
		"  --runs N     runs per figure, median reported (default 5)\n");
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"dir", required_argument, NULL, 'd'},
		{"ops", required_argument, NULL, 'o'},
		{"records", required_argument, NULL, 'r'},
		{"runs", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->json = true;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'o':
			o->ops = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			o->records = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			o->runs = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (o->ops < BATCH || o->records == 0 || o->runs < 1 || o->runs > 32) {
		fprintf(stderr,
			"tablebench: --ops must be at least %u, --records at least 1, --runs 1 to 32\n",
			BATCH);
		return -1;
	}
	o->ops -= o->ops % BATCH;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.dir = "/dev/shm",
			       .ops = 200000,
			       .records = 1000000,
			       .runs = 5};
	struct rate_result rates;
	double recovery_s;

	if (parse(argc, argv, &o))
		return 2;
	/* libpmem reads the variable when it loads: set it, start again. */
	if (!getenv("PMEM_IS_PMEM_FORCE")) {
		setenv("PMEM_IS_PMEM_FORCE", "1", 1);
		execv("/proc/self/exe", argv);
		perror("tablebench: cannot restart itself");
		return EXIT_FAILURE;
	}
	log_set_sink(log_sink_stderr, "tablebench", LOG_LEVEL_WARN);
	bench_rates(&o, &rates);
	recovery_s = bench_recovery(&o);
	report(&o, &rates, recovery_s);
	return EXIT_SUCCESS;
}
