/*
 * chunkctl's command line without a chunkd: usage errors exit 2 before any
 * chunkd is asked, every command has its --help, no chunkd on the socket
 * exits 3, and a socket this user may not use exits 1.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/run_cmd.h"

#define RUN_CTL(res, ...)                                                      \
	do {                                                                   \
		char *argv_[] = {CHUNKCTL_BINARY, __VA_ARGS__, NULL};          \
		cr_assert_eq(run_cmd(argv_, (res)), 0);                        \
	} while (0)

Test(chunkctl_cli, every_command_has_help)
{
	const char *commands[] = {"status", "leases", "lease",	 "chunks",
				  "chunk",  "verify", "cluster", "repair"};
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
	RUN_CTL(&r, "repair", "--grace-s", "soon");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "wrong arguments for repair");
}

Test(chunkctl_cli, no_chunkd_on_the_socket_exits_three)
{
	struct cmd_result r;

	RUN_CTL(&r, "--socket", "/nonexistent/chunkd.sock", "status");
	cr_assert_eq(r.status, 3);
	expect_one_line_error(&r,
			      "no chunkd answers on /nonexistent/chunkd.sock");
}

Test(chunkctl_cli, repair_without_a_chunkd_exits_three)
{
	struct cmd_result r;

	RUN_CTL(&r, "--socket", "/nonexistent/chunkd.sock", "repair");
	cr_assert_eq(r.status, 3);
	expect_one_line_error(&r,
			      "no chunkd answers on /nonexistent/chunkd.sock");
}

Test(chunkctl_cli, arguments_are_checked_before_chunkd_is_asked)
{
	struct cmd_result r;

	RUN_CTL(&r, "--socket", "/nonexistent/chunkd.sock", "chunks", "--state",
		"weird");
	cr_assert_eq(r.status, 2, "a usage error, not 'no chunkd'");
	expect_one_line_error(&r, "--state is open or sealed");
	RUN_CTL(&r, "--socket", "/nonexistent/chunkd.sock", "chunk", "free",
		"abc");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "see chunkctl chunk --help");
}

/* A listening socket at dir/chunkd.sock that only root may use. */
static int listen_root_only(const char *dir, char *path, size_t len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(path, len, "%s/chunkd.sock", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	/* Root passes any mode: the test then runs chunkctl as nobody. */
	cr_assert_eq(chmod(path, geteuid() == 0 ? 0600 : 0000), 0);
	return fd;
}

Test(chunkctl_cli, a_socket_this_user_may_not_use_exits_one)
{
	char dir[] = "/tmp/chunkctl-perm-XXXXXX", path[64];
	struct cmd_result r;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	fd = listen_root_only(dir, path, sizeof(path));
	if (geteuid() == 0) {
		char *argv[] = {"/usr/bin/setpriv",
				"--reuid=65534",
				"--regid=65534",
				"--clear-groups",
				CHUNKCTL_BINARY,
				"--socket",
				path,
				"status",
				NULL};

		cr_assert_eq(run_cmd(argv, &r), 0);
	} else {
		RUN_CTL(&r, "--socket", path, "status");
	}
	close(fd);
	unlink(path);
	rmdir(dir);
	cr_assert_eq(r.status, 1, "refused permission, not 'no chunkd': %s",
		     r.err);
	expect_one_line_error(&r, "may not use");
}
