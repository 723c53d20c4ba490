/*
 * chunkd where RDMA is (label rdma: the guest, or a host with soft-RoCE):
 * serving holds the pool against a second chunkd until SIGTERM; on
 * device-DAX (/dev/dax0.0, or CHUNKD_TEST_DAX) a blank device is formatted,
 * a pool there is kept, and it is reported as pmem. Under systemd
 * (NOTIFY_SOCKET) it says when it is ready, reloading and stopping.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/run_cmd.h"

static char pool[64];

static void setup(void)
{
	snprintf(pool, sizeof(pool), "/dev/shm/chunkd-serve-%d.pool",
		 (int)getpid());
	unlink(pool);
}

static void teardown(void)
{
	unlink(pool);
}

TestSuite(chunkd_serving, .init = setup, .fini = teardown);

static char *test_addr(void)
{
	char *a = getenv("CHUNKD_TEST_ADDR");

	return a && *a ? a : "10.0.2.15";
}

static char *dax_path(void)
{
	char *p = getenv("CHUNKD_TEST_DAX");
	struct stat st;

	p = p && *p ? p : "/dev/dax0.0";
	cr_assert_eq(stat(p, &st), 0,
		     "no device-DAX at %s: run in deploy/vm/run", p);
	cr_assert(S_ISCHR(st.st_mode), "%s is not a character device", p);
	return p;
}

Test(chunkd_devdax, opens_or_formats_the_device_as_pmem)
{
	char *argv[] = {CHUNKD_BINARY, "--pool", dax_path(), "--verify", NULL};
	struct cmd_result r;

	cr_assert_eq(run_cmd(argv, &r), 0);
	cr_assert_eq(r.status, 0, "chunkd: %s", r.err);
	cr_assert(strstr(r.err, "device-DAX (pmem)"), "%s", r.err);
	cr_assert(strstr(r.out, "verify:"), "%s", r.out);
	/* And again: now it must find the pool it made, not format anew. */
	cr_assert_eq(run_cmd(argv, &r), 0);
	cr_assert_eq(r.status, 0, "chunkd: %s", r.err);
	cr_assert_null(strstr(r.err, "created now"), "%s", r.err);
}

Test(chunkd_devdax, a_size_for_a_device_is_refused)
{
	char *argv[] = {CHUNKD_BINARY, "--pool", dax_path(),
			"--pool-size", "64M",	 NULL};
	struct cmd_result r;

	cr_assert_eq(run_cmd(argv, &r), 0);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "takes the device's size"), "%s", r.err);
}

Test(chunkd_serving, a_held_pool_refuses_a_second_chunkd_until_sigterm)
{
	char err_path[80], log[4096];
	char *holder[] = {CHUNKD_BINARY, "--pool",   pool,	  "--pool-size",
			  "8M",		 "--listen", test_addr(), "--port",
			  "7471",	 NULL};
	struct cmd_result r;
	pid_t pid;

	snprintf(err_path, sizeof(err_path), "%s.log", pool);
	pid = start_cmd(holder, err_path);
	cr_assert_gt(pid, 0);
	/* Wait until it says it holds the pool. */
	for (int i = 0; i < 500; i++) {
		slurp(err_path, log, sizeof(log));
		if (strstr(log, "ready"))
			break;
		usleep(10000);
	}
	cr_assert(strstr(log, "ready"), "chunkd did not start: %s", log);
	RUN_CHUNKD(&r, "--pool", pool);
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "already open by another chunkd");
	kill(pid, SIGTERM);
	cr_assert_eq(wait_cmd(pid), 0, "chunkd did not stop cleanly");
	unlink(err_path);
	RUN_CHUNKD(&r, "--pool", pool, "--verify");
	cr_assert_eq(r.status, 0, "the pool is free again: %s", r.err);
}

Test(chunkd_serving, an_address_no_rdma_device_has_is_refused)
{
	struct cmd_result r;
	struct stat st;

	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "8M", "--listen",
		   "127.0.0.1", "--port", "7472");
	cr_assert_eq(r.status, 1, "chunkd served 127.0.0.1: %s", r.err);
	cr_assert(strstr(r.err, "no RDMA device has that address"), "%s",
		  r.err);
	cr_assert(strstr(r.err, test_addr()), "the addresses that serve: %s",
		  r.err);
	cr_assert_null(strstr(r.err, "ready"), "%s", r.err);
	cr_assert_neq(stat(pool, &st), 0, "the pool was created anyway");
}

/* Starts chunkd on pool at port; waits until it is ready. */
static pid_t start_ready(const char *path, char *port, char *err_path)
{
	char *argv[] = {CHUNKD_BINARY, "--pool",   (char *)path, "--pool-size",
			"8M",	       "--listen", test_addr(),	 "--port",
			port,	       NULL};
	char log[4096] = "";
	pid_t pid = start_cmd(argv, err_path);

	cr_assert_gt(pid, 0);
	for (int i = 0; i < 500 && !strstr(log, "ready"); i++) {
		usleep(10000);
		slurp(err_path, log, sizeof(log));
	}
	cr_assert(strstr(log, "ready"), "chunkd did not start: %s", log);
	return pid;
}

Test(chunkd_serving, a_start_that_fails_later_leaves_no_pool_behind)
{
	char other[80], err_path[80];
	struct cmd_result r;
	struct stat st;
	pid_t pid;

	snprintf(other, sizeof(other), "%s.other", pool);
	snprintf(err_path, sizeof(err_path), "%s.log", pool);
	unlink(other);
	pid = start_ready(pool, "7473", err_path);
	RUN_CHUNKD(&r, "--pool", other, "--pool-size", "8M", "--listen",
		   test_addr(), "--port", "7473");
	cr_assert_eq(r.status, 1, "a second chunkd on a port in use");
	expect_one_line_error(&r, "cannot listen on");
	cr_assert_neq(stat(other, &st), 0, "port in use: pool left behind");
	kill(pid, SIGTERM);
	cr_assert_eq(wait_cmd(pid), 0);
	unlink(err_path);
	/* The admin socket comes after the pool: its failure removes it. */
	RUN_CHUNKD(&r, "--pool", other, "--pool-size", "8M", "--listen",
		   test_addr(), "--port", "7474", "--admin-socket",
		   "/nonexistent/chunkd.sock");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(strstr(r.err, "/nonexistent/chunkd.sock"), "%s", r.err);
	cr_assert_neq(stat(other, &st), 0, "admin failed: pool left behind");
}

Test(chunkd_serving, pool_sizes_are_checked_when_serving_too)
{
	struct cmd_result r;
	struct stat st;

	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "4K", "--listen",
		   test_addr(), "--port", "7475");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "pool size 4K is too small"), "%s", r.err);
	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "1000T", "--listen",
		   test_addr(), "--port", "7475");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "free on the file system"), "%s", r.err);
	cr_assert_neq(stat(pool, &st), 0, "a refused size left a file");
}

/* A socket that stands in for systemd's notification socket. */
static int notify_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval wait = {.tv_sec = 30};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
	return fd;
}

/* The next notification, which must hold want. */
static void expect_notification(int fd, const char *want)
{
	char msg[1024];
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);

	cr_assert_gt(n, 0, "no notification within 30 s (wanted %s)", want);
	msg[n] = '\0';
	cr_assert_not_null(strstr(msg, want), "wanted %s, got: %s", want, msg);
}

Test(chunkd_serving, tells_systemd_when_it_is_ready_reloading_and_stopping)
{
	char sock[80], err_path[80];
	char *argv[] = {CHUNKD_BINARY, "--pool",   pool,	"--pool-size",
			"8M",	       "--listen", test_addr(), "--port",
			"7474",	       NULL};
	int fd;
	pid_t pid;

	snprintf(sock, sizeof(sock), "/tmp/chunkd-notify-%d.sock",
		 (int)getpid());
	snprintf(err_path, sizeof(err_path), "%s.log", pool);
	fd = notify_listen(sock);
	setenv("NOTIFY_SOCKET", sock, 1);
	pid = start_cmd(argv, err_path);
	unsetenv("NOTIFY_SOCKET");
	cr_assert_gt(pid, 0);
	expect_notification(fd, "READY=1");
	kill(pid, SIGHUP);
	expect_notification(fd, "RELOADING=1");
	expect_notification(fd, "READY=1");
	kill(pid, SIGTERM);
	expect_notification(fd, "STOPPING=1");
	cr_assert_eq(wait_cmd(pid), 0, "chunkd did not stop cleanly");
	close(fd);
	unlink(sock);
	unlink(err_path);
}
