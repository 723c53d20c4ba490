#include "interference.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timing.h"

#define SMALL_CHUNK	  4096u
#define LARGE_CHUNK	  (64u << 20)
#define PERSIST_LEN	  64u
#define LARGE_CYCLES	  2u	      /* of the 64 MiB loader, while measured */
#define MAX_SAMPLES	  (1u << 22)  /* of the persist loop under load */
#define LOAD_WAIT_US	  300000000.0 /* the most a phase waits for loaders */
#define LOADER_TIMEOUT_MS 120000u     /* a loader's wait for an answer */

/* ---- the loaders: alloc, write, seal, free, until told to stop ---- */

struct loader {
	const struct bench_opts *o;
	bool churn;	    /* alloc, write, seal, free; else only write
			     * again into one chunk (the data alone) */
	const uint8_t *buf; /* BUF_SIZE bytes, written over and over */
	uint32_t len;	    /* of each chunk */
	unsigned crc;	    /* of len bytes of buf repeated */
	atomic_bool *stop;  /* the main thread's */
	atomic_uint cycles; /* done so far */
	double first_us;    /* when the first cycle ended */
	double last_us;	    /* when the last one ended */
	int rc;
};

/* Writes len bytes, buf repeated, from registered memory. */
static int write_repeated(struct chunk_client *c, unsigned long long id,
			  const uint8_t *buf, uint32_t len)
{
	int rc = CHUNK_OK;

	for (uint32_t off = 0; rc == CHUNK_OK && off < len; off += BUF_SIZE) {
		uint32_t n = len - off < BUF_SIZE ? len - off : BUF_SIZE;

		rc = chunk_write(c, id, off, buf, n);
	}
	return bench_check(rc, "write");
}

static int one_cycle(struct chunk_client *c, struct loader *l)
{
	unsigned long long id;
	int rc = bench_check(chunk_alloc(c, l->len, &id), "alloc");

	if (rc)
		return rc;
	rc = write_repeated(c, id, l->buf, l->len);
	rc = rc ? rc : bench_check(chunk_seal(c, id, l->len, l->crc), "seal");
	chunk_free(c, id);
	return rc;
}

/* A loader's connection sleeps between completions: the load is on
 * chunkd, not on the clients' CPU (they share the machine with it here).
 * Its seals wait for the CPU chunkd's persists leave over (the workers'
 * priority is for that), so it waits for answers longer than the library's
 * 10 s: in the guest under the sanitizers a seal once took more, with the
 * other loader's writes keeping soft-RoCE busy on both CPUs. */
static struct chunk_client *connect_sleeping(const struct bench_opts *o)
{
	struct bench_opts sleeping = *o;

	sleeping.poll_us = 0;
	sleeping.timeout_ms = LOADER_TIMEOUT_MS;
	return bench_connect(&sleeping, CHUNK_PERSIST_RPC);
}

static void *loader_run(void *arg)
{
	struct loader *l = arg;
	struct chunk_client *c = connect_sleeping(l->o);
	struct chunk_mem *mem = NULL;
	unsigned long long id = 0;

	l->rc = c ? bench_check(
			    chunk_mem_reg(c, (void *)l->buf, BUF_SIZE, &mem),
			    "mem_reg")
		  : -1;
	if (l->rc == CHUNK_OK && !l->churn)
		l->rc = bench_check(chunk_alloc(c, l->len, &id), "alloc");
	while (l->rc == CHUNK_OK && !atomic_load(l->stop)) {
		l->rc = l->churn ? one_cycle(c, l)
				 : write_repeated(c, id, l->buf, l->len);
		l->last_us = timing_now_us();
		if (atomic_fetch_add(&l->cycles, 1) == 0)
			l->first_us = l->last_us;
	}
	if (id)
		chunk_free(c, id);
	chunk_mem_dereg(&mem);
	chunk_client_disconnect(&c);
	return NULL;
}

static unsigned repeated_crc(const uint8_t *buf, uint32_t len)
{
	unsigned crc = 0;

	for (uint32_t off = 0; off < len; off += BUF_SIZE)
		crc = chunk_crc32c(crc, buf,
				   len - off < BUF_SIZE ? len - off : BUF_SIZE);
	return crc;
}

static json_t *loader_json(const struct loader *l)
{
	unsigned n = atomic_load(&l->cycles);
	double span = l->last_us - l->first_us;

	return json_pack("{s:i, s:i, s:f}", "chunk_bytes", l->len, "cycles", n,
			 "cycles_per_s",
			 n > 1 && span > 0 ? (n - 1) / (span / 1e6) : 0.0);
}

/* ---- the persist loop ---- */

/* 64-byte write+persists until at least min samples are taken and the
 * large loader has finished LARGE_CYCLES more cycles (0: no loader). */
static int persist_loop(struct chunk_client *c, unsigned long long id,
			uint8_t *buf, unsigned min, struct loader *large,
			struct figure *out)
{
	double *t = malloc(sizeof(double) * MAX_SAMPLES), start, t0;
	unsigned n = 0,
		 until = large ? atomic_load(&large->cycles) + LARGE_CYCLES : 0;
	int rc = t ? CHUNK_OK : -1;

	start = timing_now_us();
	while (rc == CHUNK_OK && n < MAX_SAMPLES &&
	       (n < min || (large && atomic_load(&large->cycles) < until &&
			    large->rc == CHUNK_OK &&
			    timing_now_us() - start < LOAD_WAIT_US))) {
		t0 = timing_now_us();
		rc = bench_write_persist(c, id, buf, PERSIST_LEN);
		t[n++] = timing_now_us() - t0;
	}
	if (rc == CHUNK_OK)
		*out = bench_figure(t, n, timing_now_us() - start, PERSIST_LEN);
	free(t);
	return rc;
}

/* Waits until each loader finished a cycle (so the load is on). */
static int wait_for_load(struct loader *l, unsigned count)
{
	double start = timing_now_us();

	for (unsigned i = 0; i < count; i++) {
		while (!atomic_load(&l[i].cycles) && l[i].rc == CHUNK_OK &&
		       timing_now_us() - start < LOAD_WAIT_US)
			usleep(1000);
		if (l[i].rc != CHUNK_OK || !atomic_load(&l[i].cycles))
			return -1;
	}
	return 0;
}

/* What was measured: the persists alone, under the loaders' writes alone
 * (data), and under the whole load (the writes with their chunks'
 * alloc, seal and free). */
struct interference {
	struct figure alone, data, loaded;
	struct loader data_loaders[2], loaders[2];
};

static json_t *interference_json(const struct interference *in)
{
	const struct figure *a = &in->alone, *d = &in->data, *l = &in->loaded;

	return json_pack(
		"{s:i, s:o, s:o, s:o, s:f, s:f, s:f, s:f, s:[o, o]}",
		"persist_bytes", PERSIST_LEN, "alone", bench_figure_json(a),
		"under_data_load", bench_figure_json(d), "under_load",
		bench_figure_json(l), "p50_ratio", l->p50 / a->p50, "p99_ratio",
		l->p99 / a->p99, "p50_over_data", l->p50 / d->p50,
		"p99_over_data", l->p99 / d->p99, "loaders",
		loader_json(&in->loaders[0]), loader_json(&in->loaders[1]));
}

/* Starts both loaders (churning or not), measures under their load,
 * stops them. */
static int measure_loaded(const struct bench_opts *o, struct chunk_client *c,
			  unsigned long long id, uint8_t *buf, bool churn,
			  struct loader *l, struct figure *loaded)
{
	atomic_bool stop = false;
	pthread_t tid[2];
	int rc;

	for (int i = 0; i < 2; i++) {
		l[i].o = o;
		l[i].churn = churn;
		l[i].buf = buf;
		l[i].len = i ? LARGE_CHUNK : SMALL_CHUNK;
		l[i].crc = repeated_crc(buf, l[i].len);
		l[i].stop = &stop;
		if (pthread_create(&tid[i], NULL, loader_run, &l[i])) {
			fprintf(stderr, "chunkbench: cannot start a thread\n");
			exit(1);
		}
	}
	rc = wait_for_load(l, 2);
	rc = rc ? rc : persist_loop(c, id, buf, o->iters, &l[1], loaded);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	return rc ? rc : l[0].rc ? l[0].rc : l[1].rc;
}

int bench_interference(const struct bench_opts *o, uint8_t *buf, json_t *report)
{
	struct chunk_client *c = bench_connect(o, CHUNK_PERSIST_RPC);
	struct interference *in = calloc(1, sizeof(*in));
	struct chunk_mem *mem = NULL;
	unsigned long long id = 0;
	int rc = c && in ? CHUNK_OK : -1;

	rc = rc ? rc
		: bench_check(chunk_mem_reg(c, buf, BUF_SIZE, &mem), "mem_reg");
	rc = rc ? rc : bench_check(chunk_alloc(c, SMALL_CHUNK, &id), "alloc");
	rc = rc ? rc : persist_loop(c, id, buf, o->iters, NULL, &in->alone);
	rc = rc ? rc
		: measure_loaded(o, c, id, buf, false, in->data_loaders,
				 &in->data);
	rc = rc ? rc
		: measure_loaded(o, c, id, buf, true, in->loaders, &in->loaded);
	if (rc == CHUNK_OK)
		json_object_set_new(report, "interference",
				    interference_json(in));
	free(in);
	if (id)
		chunk_free(c, id);
	chunk_mem_dereg(&mem);
	chunk_client_disconnect(&c);
	return rc;
}

/* ---- alloc+seal+free with several connections ---- */

struct lifecycler {
	const struct bench_opts *o;
	pthread_barrier_t *go;
	double us;
	int rc;
};

static void *lifecycle_run(void *arg)
{
	struct lifecycler *w = arg;
	struct chunk_client *c = bench_connect(w->o, CHUNK_PERSIST_RPC);
	double start;

	w->rc = c ? CHUNK_OK : -1;
	pthread_barrier_wait(w->go);
	start = timing_now_us();
	for (unsigned i = 0; w->rc == CHUNK_OK && i < w->o->iters; i++) {
		unsigned long long id;

		w->rc = bench_check(chunk_alloc(c, SMALL_CHUNK, &id), "alloc");
		w->rc = w->rc ? w->rc
			      : bench_check(chunk_seal(c, id, 0, 0), "seal");
		w->rc = w->rc ? w->rc : bench_check(chunk_free(c, id), "free");
	}
	w->us = timing_now_us() - start;
	chunk_client_disconnect(&c);
	return NULL;
}

/* Cycles per second of n connections together, over the slowest. */
static int lifecycle_rate(const struct bench_opts *o, unsigned n, double *per_s)
{
	struct lifecycler w[4];
	pthread_t tid[4];
	pthread_barrier_t go;
	double longest = 0;
	int rc = CHUNK_OK;

	pthread_barrier_init(&go, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct lifecycler){.o = o, .go = &go};
		if (pthread_create(&tid[i], NULL, lifecycle_run, &w[i])) {
			fprintf(stderr, "chunkbench: cannot start a thread\n");
			exit(1);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		rc = rc ? rc : w[i].rc;
		longest = w[i].us > longest ? w[i].us : longest;
	}
	pthread_barrier_destroy(&go);
	*per_s = (double)n * o->iters / (longest / 1e6);
	return rc;
}

int bench_alloc_rate(const struct bench_opts *o, json_t *report)
{
	static const unsigned conns[] = {1, 2, 4};
	json_t *rates = json_object();
	int rc = CHUNK_OK;

	json_object_set_new(report, "alloc_rate", rates);
	for (size_t i = 0; rc == CHUNK_OK && i < 3; i++) {
		char key[8];
		double per_s;

		rc = lifecycle_rate(o, conns[i], &per_s);
		snprintf(key, sizeof(key), "%u", conns[i]);
		if (rc == CHUNK_OK)
			json_object_set_new(rates, key, json_real(per_s));
	}
	return rc;
}

/* ---- report ---- */

static void print_figure(const char *what, json_t *f)
{
	printf("%-34s p50 %9.1f us   p99 %9.1f us   (%.0f ops/s)\n", what,
	       json_real_value(json_object_get(f, "p50_us")),
	       json_real_value(json_object_get(f, "p99_us")),
	       json_real_value(json_object_get(f, "ops_s")));
}

void bench_print_control(json_t *report)
{
	json_t *in = json_object_get(report, "interference"), *l, *rate;
	const char *conns;
	size_t i;

	if (in) {
		print_figure("64 B write+persist, alone",
			     json_object_get(in, "alone"));
		print_figure("64 B write+persist, under writes",
			     json_object_get(in, "under_data_load"));
		print_figure("64 B write+persist, under load",
			     json_object_get(in, "under_load"));
		printf("under load / alone: p50 %.2fx, p99 %.2fx; under load / "
		       "under writes: p50 %.2fx, p99 %.2fx\n",
		       json_real_value(json_object_get(in, "p50_ratio")),
		       json_real_value(json_object_get(in, "p99_ratio")),
		       json_real_value(json_object_get(in, "p50_over_data")),
		       json_real_value(json_object_get(in, "p99_over_data")));
		json_array_foreach(json_object_get(in, "loaders"), i, l) printf(
			"  loader of %lld-byte chunks: %lld cycles, "
			"%.1f per s\n",
			json_integer_value(json_object_get(l, "chunk_bytes")),
			json_integer_value(json_object_get(l, "cycles")),
			json_real_value(json_object_get(l, "cycles_per_s")));
	}
	json_object_foreach(json_object_get(report, "alloc_rate"), conns, rate)
		printf("alloc+seal+free of 4 KiB, %s connection(s): %.0f per s\n",
		       conns, json_real_value(rate));
}
