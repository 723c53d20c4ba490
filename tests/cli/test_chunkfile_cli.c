/*
 * chunkfile's command line without a chunkd: a malformed id or port is
 * refused (exit 2) before anything is contacted.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../common/run_cmd.h"

#define RUN_FILE(res, ...)                                                     \
	do {                                                                   \
		char *argv_[] = {CHUNKFILE_BINARY, __VA_ARGS__, NULL};         \
		cr_assert_eq(run_cmd(argv_, (res)), 0);                        \
	} while (0)

Test(chunkfile_cli, help_exits_zero)
{
	struct cmd_result r;

	RUN_FILE(&r, "--help");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: chunkfile"));
}

Test(chunkfile_cli, an_id_that_is_not_a_number_is_refused)
{
	const char *bad[] = {"abc", "12x", "-5", "0", ""};
	struct cmd_result r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		RUN_FILE(&r, "get", "10.0.2.15", (char *)bad[i]);
		cr_assert_eq(r.status, 2, "get '%s': %d", bad[i], r.status);
		expect_one_line_error(&r, "a chunk id is a positive number");
		RUN_FILE(&r, "rm", "10.0.2.15", (char *)bad[i]);
		cr_assert_eq(r.status, 2, "rm '%s'", bad[i]);
	}
}

Test(chunkfile_cli, a_bad_port_is_refused)
{
	struct cmd_result r;

	RUN_FILE(&r, "--port", "70000", "get", "10.0.2.15", "1");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "--port needs 1 to 65535");
}
