/*
 * chunkbench end to end against a real chunkd offering both persistence
 * methods: it completes, reports every figure it promises with sane
 * percentiles, and leaves no chunk behind. No figure is judged: a
 * benchmark never fails on a number.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/run_cmd.h"

#define PORT 7530

static struct chunkd_proc server;
static char pool[64];

static void setup(void)
{
	static const char *const extra[] = {"--direct-write-to-pmem", NULL};

	chunkd_fresh_pool("bench", pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, "192M", PORT, extra);
}

static void teardown(void)
{
	chunkd_finish(&server, pool);
}

TestSuite(chunkbench, .init = setup, .fini = teardown, .timeout = 300);

/* A figure: p50 <= p99 <= p99.9, all positive, with a rate. */
static void expect_figure(json_t *f, const char *what)
{
	double p50 = json_real_value(json_object_get(f, "p50_us"));
	double p99 = json_real_value(json_object_get(f, "p99_us"));
	double p999 = json_real_value(json_object_get(f, "p999_us"));

	cr_assert_not_null(f, "no figure for %s", what);
	cr_expect(p50 > 0 && p50 <= p99 && p99 <= p999,
		  "%s: p50 %f p99 %f p99.9 %f", what, p50, p99, p999);
	cr_expect(json_real_value(json_object_get(f, "ops_s")) > 0, "%s", what);
	cr_expect(json_real_value(json_object_get(f, "mb_s")) > 0, "%s", what);
}

static void expect_sizes(json_t *per_size, const char *what)
{
	const char *sizes[] = {"64", "4096", "65536", "1048576"};

	cr_assert_not_null(per_size, "no figures for %s", what);
	cr_expect_eq(json_object_size(per_size), 4, "%s", what);
	for (size_t i = 0; i < 4; i++)
		expect_figure(json_object_get(per_size, sizes[i]), what);
}

/* chunkbench's JSON report, in mode (all, interference, alloc-rate). */
static json_t *run_mode(const char *mode)
{
	char port[8];
	char *argv[] = {CHUNKBENCH_BINARY,
			"--port",
			port,
			"--iters",
			"10",
			"--threads",
			"2",
			"--mode",
			(char *)mode,
			"--json",
			(char *)chunkd_test_addr(),
			NULL};
	struct cmd_result r;
	json_t *report;

	snprintf(port, sizeof(port), "%d", PORT);
	cr_assert_eq(run_cmd(argv, &r), 0);
	cr_assert_eq(r.status, 0, "chunkbench exited %d: %s", r.status, r.err);
	report = json_loads(r.out, 0, NULL);
	cr_assert_not_null(report, "chunkbench printed no JSON: %s", r.out);
	return report;
}

static json_t *run_chunkbench(void)
{
	return run_mode("all");
}

Test(chunkbench, reports_every_figure_for_both_methods)
{
	json_t *report = run_chunkbench(), *wp, *stream, *threads;

	wp = json_object_get(report, "write_persist");
	expect_sizes(json_object_get(wp, "persist-rpc"), "persist-rpc");
	expect_sizes(json_object_get(wp, "read-after-write"),
		     "read-after-write");
	expect_figure(
		json_object_get(json_object_get(report, "persist_only_64"),
				"read-after-write"),
		"persist alone");
	expect_sizes(json_object_get(report, "read"), "sealed reads");
	stream = json_object_get(report, "stream");
	cr_expect(json_real_value(json_object_get(stream, "write_mb_s")) > 0);
	cr_expect(json_real_value(json_object_get(stream, "read_mb_s")) > 0);
	threads = json_object_get(report, "threads");
	cr_expect_eq(
		json_integer_value(json_object_get(threads, "connections")), 2);
	expect_figure(json_object_get(threads, "write_persist"), "threads w+p");
	expect_figure(json_object_get(threads, "read"), "threads read");
	cr_expect(json_real_value(json_object_get(
			  report, "alloc_seal_free_per_s")) > 0);
	json_decref(report);
}

Test(chunkbench, leaves_no_chunk_behind)
{
	char *argv[] = {CHUNKCTL_BINARY, "--socket", server.admin_socket,
			"--json",	 "chunks",   NULL};
	struct cmd_result r;
	json_t *listing, *chunks;

	json_decref(run_chunkbench());
	cr_assert_eq(run_cmd(argv, &r), 0);
	cr_assert_eq(r.status, 0, "chunkctl chunks: %s", r.err);
	listing = json_loads(r.out, 0, NULL);
	cr_assert_not_null(listing, "chunkctl printed no JSON");
	chunks = json_object_get(listing, "chunks");
	cr_assert(json_is_array(chunks), "%s", r.out);
	cr_expect_eq(json_array_size(chunks), 0, "chunks left: %s", r.out);
	json_decref(listing);
}

/* One connection's persists alone, while others write 4 KiB and 64 MiB
 * chunks, and while they alloc, write, seal and free such chunks: every
 * figure, and the loaders did work during the last (each at least one
 * whole cycle; the 64 MiB one two more while the persists were timed). */
Test(chunkbench, interference_reports_both_figures_and_the_load)
{
	json_t *report = run_mode("interference");
	json_t *in = json_object_get(report, "interference"), *l;
	size_t i;

	cr_assert_not_null(in, "no interference figures");
	expect_figure(json_object_get(in, "alone"), "alone");
	expect_figure(json_object_get(in, "under_data_load"), "under writes");
	expect_figure(json_object_get(in, "under_load"), "under load");
	cr_expect(json_real_value(json_object_get(in, "p99_ratio")) > 0);
	cr_assert_eq(json_array_size(json_object_get(in, "loaders")), 2);
	json_array_foreach(json_object_get(in, "loaders"), i, l)
		cr_expect_geq(json_integer_value(json_object_get(l, "cycles")),
			      i ? 3 : 1, "loader %zu", i);
	json_decref(report);
}

Test(chunkbench, alloc_rate_reports_one_two_and_four_connections)
{
	json_t *report = run_mode("alloc-rate");
	json_t *rates = json_object_get(report, "alloc_rate");

	cr_assert_not_null(rates, "no alloc rates");
	cr_expect(json_real_value(json_object_get(rates, "1")) > 0);
	cr_expect(json_real_value(json_object_get(rates, "2")) > 0);
	cr_expect(json_real_value(json_object_get(rates, "4")) > 0);
	json_decref(report);
}
