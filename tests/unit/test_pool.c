/*
 * The pool on a real tmpfs file (/dev/shm): creation, reopening, the lock,
 * and bad input, each refused with a clear error and the file untouched.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/pool.h"

#define SIZE (4u << 20)

static char path[64];
static char err[512];

static void setup(void)
{
	snprintf(path, sizeof(path), "/dev/shm/chunkd-test-%d.pool",
		 (int)getpid());
	unlink(path);
	err[0] = '\0';
}

static void teardown(void)
{
	unlink(path);
}

TestSuite(pool, .init = setup, .fini = teardown);

static struct pool *open_ok(uint64_t create_size)
{
	struct pool_opts o = {.path = path, .create_size = create_size};
	struct pool *p = NULL;

	cr_assert_eq(pool_open(&o, &p, err, sizeof(err)), 0, "%s", err);
	return p;
}

static int open_fails(uint64_t create_size)
{
	struct pool_opts o = {.path = path, .create_size = create_size};
	struct pool *p = NULL;
	int rc = pool_open(&o, &p, err, sizeof(err));

	cr_assert_neq(rc, 0, "opened when it should not");
	cr_assert_null(p);
	cr_assert_gt(strlen(err), 10, "no reason given");
	cr_assert_null(strchr(err, '\n'), "the reason is one line");
	return rc;
}

/* The file's bytes, to show a refused open left them alone. */
static void *read_file(size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf = malloc(SIZE);

	cr_assert(f && buf);
	*len = fread(buf, 1, SIZE, f);
	fclose(f);
	return buf;
}

Test(pool, creates_formats_and_reopens_the_same_pool)
{
	struct pool *p = open_ok(SIZE);
	uint8_t uuid[16];

	cr_assert(p->created);
	cr_assert_eq(p->backing, POOL_DRAM);
	cr_assert_eq(p->geo.pool_size, SIZE);
	memcpy(uuid, p->geo.uuid, 16);
	pool_close(&p);
	cr_assert_null(p);
	p = open_ok(0);
	cr_assert_not(p->created);
	cr_assert_arr_eq(p->geo.uuid, uuid, 16);
	pool_close(&p);
}

Test(pool, a_second_open_is_refused_while_the_first_holds_it)
{
	struct pool *p = open_ok(SIZE);

	cr_assert_eq(open_fails(0), -EBUSY);
	cr_assert(strstr(err, "already open"), "%s", err);
	pool_close(&p);
	p = open_ok(0);
	pool_close(&p);
}

Test(pool, missing_pool_without_a_size_is_not_created)
{
	struct stat st;

	cr_assert_eq(open_fails(0), -ENOENT);
	cr_assert(strstr(err, "--pool-size"), "%s", err);
	cr_assert_neq(stat(path, &st), 0, "a file was left behind");
}

Test(pool, too_small_a_pool_is_refused_and_removed)
{
	struct stat st;

	cr_assert_eq(open_fails(16384), -ENOSPC);
	cr_assert(strstr(err, "too small"), "%s", err);
	cr_assert_neq(stat(path, &st), 0, "a file was left behind");
}

Test(pool, a_size_beyond_the_free_space_is_refused_before_any_write)
{
	struct stat st;

	cr_assert_eq(open_fails(1ull << 50), -ENOSPC);
	cr_assert(strstr(err, "free on the file system"), "%s", err);
	cr_assert_neq(stat(path, &st), 0, "a file was left behind");
}

Test(pool, other_file_systems_are_refused_with_the_reason)
{
	struct pool_opts o = {.path = "/proc/chunkd-test.pool",
			      .create_size = SIZE};
	struct pool *p = NULL;

	cr_assert_eq(pool_open(&o, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "RDMA cannot register"), "%s", err);
	cr_assert(strstr(err, "device-DAX"), "%s", err);
}

Test(pool, a_size_that_disagrees_with_the_file_is_refused)
{
	struct pool *p = open_ok(SIZE);

	pool_close(&p);
	open_fails(2 * SIZE);
	cr_assert(strstr(err, "exists with size"), "%s", err);
}

Test(pool, corrupt_superblocks_are_refused_and_left_alone)
{
	struct pool *p = open_ok(SIZE);
	void *before, *after;
	size_t len_before, len_after;

	memset(p->base + 40, 0x5a, 8);
	memset(p->base + SUPERBLOCK_COPY_SIZE + 100, 0xa5, 4);
	pool_close(&p);
	before = read_file(&len_before);
	cr_assert_eq(open_fails(0), -EBADMSG);
	cr_assert(strstr(err, "no valid superblock"), "%s", err);
	after = read_file(&len_after);
	cr_assert_eq(len_before, len_after);
	cr_assert_arr_eq(before, after, len_before, "the pool was written");
	free(before);
	free(after);
}

Test(pool, a_truncated_pool_is_refused_as_shorter_not_as_corrupt)
{
	struct pool *p = open_ok(SIZE);
	void *before, *after;
	size_t len_before, len_after;

	pool_close(&p);
	cr_assert_eq(truncate(path, SIZE / 2), 0);
	before = read_file(&len_before);
	cr_assert_eq(open_fails(0), -EFBIG);
	cr_assert(strstr(err, "shorter than its superblock records"), "%s",
		  err);
	cr_assert(strstr(err, "2M here, 4M recorded"), "%s", err);
	after = read_file(&len_after);
	cr_assert_eq(len_before, len_after);
	cr_assert_arr_eq(before, after, len_before, "the pool was written");
	free(before);
	free(after);
}

Test(pool, one_damaged_copy_is_repaired_from_the_other)
{
	struct pool *p = open_ok(SIZE);
	uint8_t good[128];

	memcpy(good, p->base, sizeof(good));
	p->base[17] ^= 0x10;
	pool_close(&p);
	p = open_ok(0);
	cr_assert_eq(p->repaired, 1);
	cr_assert_arr_eq(p->base, good, sizeof(good));
	pool_close(&p);
}

Test(pool, a_newer_format_is_refused)
{
	struct pool *p = open_ok(SIZE);
	struct pool_geometry g = p->geo;

	g.format_version = SUPERBLOCK_FORMAT_VERSION + 1;
	superblock_format(&p->persist, p->base, &g);
	pool_close(&p);
	cr_assert_eq(open_fails(0), -EPROTONOSUPPORT);
	cr_assert(strstr(err, "newer"), "%s", err);
}
