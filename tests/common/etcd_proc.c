#include "etcd_proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_cmd.h"

/* A child that stops the members once this process has ended, however it
 * ended: a failed assertion in a fixture's set-up skips its tear-down, and
 * a timeout kills the test, and members left running would hold their
 * ports against every later test. It reads a pipe whose only write end
 * this process holds, so end-of-file means this process is gone. */
static pid_t watchdog = -1;
static int watchdog_fd = -1;

static void watch(const char *script, const char *dir, int fd)
{
	char *argv[] = {(char *)script, "stop", (char *)dir, NULL};
	int null = open("/dev/null", O_RDWR);
	char c;

	/* Nothing of the test's: not its output (ctest waits for that to
	 * close) nor the runner's sockets. */
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	dup2(fd, 3);
	close_range(4, ~0u, 0);
	while (read(3, &c, 1) < 0 && errno == EINTR)
		;
	execv(script, argv);
	_exit(127);
}

static void start_watchdog(const char *script, const char *dir)
{
	int fds[2];

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	watchdog = fork();
	cr_assert_geq(watchdog, 0, "fork: %s", strerror(errno));
	if (watchdog == 0)
		watch(script, dir, fds[0]);
	close(fds[0]);
	watchdog_fd = fds[1];
}

void etcd_proc_start(const char *script, const char *name, int port, char *dir,
		     size_t dir_len, char *endpoints, size_t len)
{
	static struct cmd_result res;
	char port_text[16];
	char *argv[] = {(char *)script, "start", dir, port_text, NULL};

	snprintf(dir, dir_len, "/dev/shm/chunkd-%s-etcd-%d", name,
		 (int)getpid());
	snprintf(port_text, sizeof(port_text), "%d", port);
	start_watchdog(script, dir);
	cr_assert_eq(run_cmd(argv, &res), 0);
	cr_assert_eq(res.status, 0, "etcd did not start: %s", res.err);
	cr_assert_lt(strlen(res.out), len);
	sscanf(res.out, "%s", endpoints);
}

void etcd_proc_shared(char *endpoints, size_t len)
{
	const char *e = getenv("CHUNKD_TEST_ETCD");

	cr_assert(e && *e, "CHUNKD_TEST_ETCD is not set: run this test through "
			   "ctest, which starts the etcd it needs");
	cr_assert_lt(strlen(e), len);
	snprintf(endpoints, len, "%s", e);
}

void etcd_proc_stop(const char *script, const char *dir)
{
	static struct cmd_result res;
	char *argv[] = {(char *)script, "stop", (char *)dir, NULL};

	run_cmd(argv, &res);
	if (watchdog > 0) { /* its work is done */
		kill(watchdog, SIGKILL);
		waitpid(watchdog, NULL, 0);
		close(watchdog_fd);
		watchdog = -1;
		watchdog_fd = -1;
	}
}
