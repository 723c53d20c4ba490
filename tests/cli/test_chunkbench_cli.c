/*
 * chunkbench's command line without a chunkd: --help, usage errors exit 2
 * with one line, and no chunkd to reach exits 1 with one line.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../common/run_cmd.h"

#define RUN_BENCH(res, ...)                                                    \
	do {                                                                   \
		char *argv_[] = {CHUNKBENCH_BINARY, __VA_ARGS__, NULL};        \
		cr_assert_eq(run_cmd(argv_, (res)), 0);                        \
	} while (0)

Test(chunkbench_cli, help_names_every_option)
{
	const char *options[] = {"--port",    "--iters",   "--depth",
				 "--threads", "--poll-us", "--json",
				 "--mode",    "interference", "alloc-rate"};
	struct cmd_result r;

	RUN_BENCH(&r, "--help");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: chunkbench"));
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		cr_assert(strstr(r.out, options[i]), "%s", options[i]);
}

Test(chunkbench_cli, usage_errors_exit_two)
{
	struct cmd_result r;

	RUN_BENCH(&r, "--frobnicate", "localhost");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "bad option or value: '--frobnicate'");
	RUN_BENCH(&r, "--depth", "99", "localhost");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "bad option or value: '99'");
	RUN_BENCH(&r, "--iters", "5", "localhost");
	cr_assert_eq(r.status, 2);
	RUN_BENCH(&r, "--threads", "two", "localhost");
	cr_assert_eq(r.status, 2);
	RUN_BENCH(&r, "--json");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "one HOST expected");
	RUN_BENCH(&r, "--mode", "fastest", "localhost");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "bad option or value: 'fastest'");
}

Test(chunkbench_cli, no_chunkd_exits_one_with_one_line)
{
	struct cmd_result r;

	/* No RDMA device on the host, or nothing listening: one line. */
	RUN_BENCH(&r, "--port", "1", "127.0.0.1");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "chunkbench: connect:");
}
