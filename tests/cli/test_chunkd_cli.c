/*
 * chunkd as an operator runs it, on a host without RDMA: usage errors exit
 * 2, bad pools and pool sizes exit 1 with one clear line, and a listener
 * that cannot start is reported before any pool is made.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/run_cmd.h"

static char pool[64];

static void setup(void)
{
	snprintf(pool, sizeof(pool), "/dev/shm/chunkd-cli-%d.pool",
		 (int)getpid());
	unlink(pool);
}

static void teardown(void)
{
	unlink(pool);
}

TestSuite(chunkd_cli, .init = setup, .fini = teardown);

Test(chunkd_cli, help_and_version_exit_zero)
{
	struct cmd_result r;

	RUN_CHUNKD(&r, "--help");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "--pool PATH"));
	RUN_CHUNKD(&r, "--version");
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "chunkd ", 7) == 0);
}

Test(chunkd_cli, usage_errors_exit_two)
{
	struct cmd_result r;

	RUN_CHUNKD(&r, "--bogus");
	cr_assert_eq(r.status, 2);
	RUN_CHUNKD(&r, "--log-level", "loud", "--pool", pool);
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "log_level = loud");
	RUN_CHUNKD(&r, "--pool-size", "12Q", "--pool", pool);
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "size = 12Q");
	RUN_CHUNKD(&r, "--port", "0", "--pool", pool);
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "port = 0");
	RUN_CHUNKD(&r, "--pool-size", "1G");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "--pool PATH is required");
}

/* --verify opens the pool without RDMA, so the pool's checks show here;
 * serving, chunkd checks the listener first (see the rdma tests). */
Test(chunkd_cli, bad_pools_exit_one_with_one_line)
{
	struct cmd_result r;
	struct stat st;

	RUN_CHUNKD(&r, "--pool", pool, "--verify");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "does not exist");
	RUN_CHUNKD(&r, "--pool", "/proc/self/status", "--verify");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "RDMA cannot register");
	cr_assert_neq(stat(pool, &st), 0, "a failed open left a file");
}

Test(chunkd_cli, pool_sizes_too_small_zero_or_too_large_are_refused)
{
	struct cmd_result r;
	struct stat st;

	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "4K", "--verify");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "pool size 4K is too small");
	cr_assert(strstr(r.err, "need at least 20K"), "%s", r.err);
	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "16K", "--verify");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "too small");
	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "0", "--verify");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "size = 0: the size of the pool to create");
	/* More than /dev/shm holds: refused before a byte is written. */
	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "1000T", "--verify");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "free on the file system of");
	cr_assert_neq(stat(pool, &st), 0, "a refused create left a file");
}

Test(chunkd_cli, verify_of_a_new_pool_reports_nothing_to_check)
{
	struct cmd_result r;

	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "8M", "--verify",
		   "--log-level", "error");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "verify: 0 sealed chunks"), "%s", r.out);
}

Test(chunkd_cli, an_address_it_cannot_serve_on_is_one_clear_line)
{
	struct cmd_result r;
	struct stat st;

	/* 203.0.113.1 (TEST-NET-3) is on no interface here; binding to it
	 * fails without sending anything. Without RDMA it fails earlier,
	 * with its own reason; either way one line (at the default log
	 * level: nothing said before it), status 1, and no pool made. */
	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "8M", "--listen",
		   "203.0.113.1");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "cannot listen on 203.0.113.1");
	cr_assert_neq(stat(pool, &st), 0,
		      "the pool was created before the listener failed");
}

/* Cluster mode's flags are checked before anything starts. */
Test(chunkd_cli, cluster_mode_needs_a_name_and_an_address)
{
	struct cmd_result r;

	RUN_CHUNKD(&r, "--pool", pool, "--etcd-endpoints",
		   "http://127.0.0.1:2379");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "--cluster-name");
	RUN_CHUNKD(&r, "--pool", pool, "--etcd-endpoints",
		   "http://127.0.0.1:2379", "--cluster-name", "a");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "--advertise ADDR");
	RUN_CHUNKD(&r, "--pool", pool, "--etcd-endpoints", "127.0.0.1:2379");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "http://HOST:PORT");
	RUN_CHUNKD(&r, "--pool", pool, "--etcd-endpoints",
		   "http://127.0.0.1:2379", "--cluster-name", "a/b");
	cr_assert_eq(r.status, 2);
	expect_one_line_error(&r, "name = a/b");
}

/* A cluster member's pool is verified as its start would recover it, which
 * needs etcd: without it, chunkd says so rather than free what etcd may
 * hold sealed. */
Test(chunkd_cli, verify_of_a_member_without_etcd_refuses_with_the_reason)
{
	struct cmd_result r;

	RUN_CHUNKD(&r, "--pool", pool, "--pool-size", "8M", "--log-level",
		   "error", "--etcd-endpoints", "http://127.0.0.1:1",
		   "--cluster-name", "a", "--advertise", "10.0.0.1",
		   "--verify");
	cr_assert_eq(r.status, 1);
	expect_one_line_error(&r, "not verifying");
}
