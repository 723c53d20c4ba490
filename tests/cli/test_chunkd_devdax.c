/*
 * chunkd on device-DAX (label rdma: it needs the guest's /dev/dax0.0, or
 * CHUNKD_TEST_DAX): a blank device is formatted, a pool there is kept, and
 * it is reported as pmem.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run_cmd.h"

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
