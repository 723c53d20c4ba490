/*
 * chunkctl's command line without a chunkd: usage errors exit 2, every
 * command has its --help, and no chunkd on the socket exits 3.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../common/run_cmd.h"

#define RUN_CTL(res, ...)                                                      \
	do {                                                                   \
		char *argv_[] = {CHUNKCTL_BINARY, __VA_ARGS__, NULL};          \
		cr_assert_eq(run_cmd(argv_, (res)), 0);                        \
	} while (0)

Test(chunkctl_cli, every_command_has_help)
{
	const char *commands[] = {"status", "leases", "lease",
				  "chunks", "chunk",  "verify"};
	struct cmd_result r;

	RUN_CTL(&r, "--help");
	cr_assert_eq(r.status, 0);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		RUN_CTL(&r, (char *)commands[i], "--help");
		cr_assert_eq(r.status, 0, "%s --help", commands[i]);
		cr_assert(strstr(r.out, "Usage: chunkctl"), "%s", commands[i]);
		cr_assert(strstr(r.out, commands[i]));
	}
}

Test(chunkctl_cli, usage_errors_exit_two)
{
	struct cmd_result r;

	RUN_CTL(&r, "frobnicate");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "unknown command 'frobnicate'");
	RUN_CTL(&r, "lease", "revoke", "not-a-number");
	cr_assert_eq(r.status, 2);
	RUN_CTL(&r, "chunk", "burn", "7");
	cr_assert_eq(r.status, 2);
	RUN_CTL(&r, "chunks", "--state");
	cr_assert_eq(r.status, 2);
}

Test(chunkctl_cli, no_chunkd_on_the_socket_exits_three)
{
	struct cmd_result r;

	RUN_CTL(&r, "--socket", "/nonexistent/chunkd.sock", "status");
	cr_assert_eq(r.status, 3);
	expect_one_line_error(&r,
			      "no chunkd answers on /nonexistent/chunkd.sock");
}
