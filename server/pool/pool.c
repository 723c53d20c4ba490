#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libpmem.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/units.h"

#define TMPFS_MAGIC_NUMBER     0x01021994
#define HUGETLBFS_MAGIC_NUMBER 0x958458f6

static int fail(char *err, size_t err_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return rc;
}

static bool is_dram_fs(long type)
{
	return type == TMPFS_MAGIC_NUMBER ||
	       type == (long)HUGETLBFS_MAGIC_NUMBER;
}

/* Whether a character device is device-DAX, from its sysfs subsystem. */
static bool is_devdax(dev_t rdev)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem",
		 major(rdev), minor(rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(basename(target), "dax") == 0;
}

static const char refuse_hint[] =
	"RDMA cannot register it; use device-DAX (/dev/daxX.Y) or a file on "
	"tmpfs or hugetlbfs (e.g. /dev/shm)";

/* Checks the file system that holds (or will hold) a pool file. */
static int check_file_fs(const char *path, char *err, size_t err_len)
{
	char dir[PATH_MAX];
	struct statfs fs;

	snprintf(dir, sizeof(dir), "%s", path);
	if (statfs(dirname(dir), &fs) != 0)
		return fail(err, err_len, -errno, "cannot reach %s: %s", path,
			    strerror(errno));
	if (!is_dram_fs(fs.f_type))
		return fail(
			err, err_len, -EINVAL,
			"%s is on a disk or DAX file system (type 0x%lx): %s",
			path, (unsigned long)fs.f_type, refuse_hint);
	return 0;
}

/* Opens (or creates) and locks the pool's file; sets *backing. */
static int open_locked(const struct pool_opts *o, enum pool_backing *backing,
		       bool *made, char *err, size_t err_len)
{
	struct stat st;
	int fd, flags = O_RDWR | O_CLOEXEC;

	*made = false;
	if (stat(o->path, &st) != 0) {
		if (errno != ENOENT)
			return fail(err, err_len, -errno, "cannot reach %s: %s",
				    o->path, strerror(errno));
		if (o->create_size == 0)
			return fail(
				err, err_len, -ENOENT,
				"pool %s does not exist; give --pool-size to create it",
				o->path);
		flags |= O_CREAT | O_EXCL;
		*made = true;
	} else if (S_ISCHR(st.st_mode)) {
		if (!is_devdax(st.st_rdev))
			return fail(
				err, err_len, -EINVAL,
				"%s is a character device but not device-DAX: %s",
				o->path, refuse_hint);
		if (o->create_size)
			return fail(
				err, err_len, -EINVAL,
				"a device-DAX pool takes the device's size; drop --pool-size");
		*backing = POOL_DEVDAX;
	} else if (!S_ISREG(st.st_mode)) {
		return fail(err, err_len, -EINVAL,
			    "%s is neither a file nor device-DAX", o->path);
	}
	if (!S_ISCHR(st.st_mode) || *made) {
		int rc = check_file_fs(o->path, err, err_len);

		if (rc)
			return rc;
		*backing = POOL_DRAM;
	}
	fd = open(o->path, flags, 0600);
	if (fd < 0)
		return fail(err, err_len, -errno,
			    "cannot open %s for writing: %s", o->path,
			    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return fail(err, err_len, rc,
			    rc == -EBUSY
				    ? "%s is already open by another chunkd"
				    : "cannot lock %s",
			    o->path);
	}
	return fd;
}

/* Whether a new pool of create_size bytes can be laid out, and fits in
 * the file system's free space (tmpfs takes a huge size and fails only as
 * the table is zeroed, gigabytes later). */
static int check_new_size(int fd, const struct pool_opts *o, char *err,
			  size_t err_len)
{
	uint64_t gran =
		o->granularity ? o->granularity : POOL_DEFAULT_GRANULARITY;
	uint64_t min = superblock_min_pool_size(gran, o->table_slots);
	char want[32], least[32], avail[32];
	struct statfs fs;

	units_format_size(o->create_size, want, sizeof(want));
	if ((gran & (gran - 1)) == 0 && o->create_size < min)
		return fail(
			err, err_len, -ENOSPC,
			"pool size %s is too small: its superblocks, table and one chunk need at least %s",
			want, units_format_size(min, least, sizeof(least)));
	if (fstatfs(fd, &fs) != 0)
		return fail(err, err_len, -errno,
			    "cannot stat the file system of %s: %s", o->path,
			    strerror(errno));
	if (o->create_size > (uint64_t)fs.f_bavail * (uint64_t)fs.f_bsize)
		return fail(
			err, err_len, -ENOSPC,
			"pool size %s is more than the %s free on the file system of %s",
			want,
			units_format_approx((uint64_t)fs.f_bavail * fs.f_bsize,
					    avail, sizeof(avail)),
			o->path);
	return 0;
}

/* Sizes a new or empty file (setting *sized); others keep their size. */
static int size_file(int fd, const struct pool_opts *o, bool made, bool *sized,
		     char *err, size_t err_len)
{
	struct stat st;
	char want[32], have[32];

	if (fstat(fd, &st) != 0)
		return fail(err, err_len, -errno, "cannot stat %s", o->path);
	if (made || (S_ISREG(st.st_mode) && st.st_size == 0)) {
		if (o->create_size == 0)
			return fail(
				err, err_len, -EINVAL,
				"pool %s is empty; give --pool-size to create it",
				o->path);
		int rc = check_new_size(fd, o, err, err_len);

		if (rc)
			return rc;
		*sized = true;
		if (ftruncate(fd, (off_t)o->create_size) != 0)
			return fail(err, err_len, -errno,
				    "cannot size %s to %s bytes: %s", o->path,
				    units_format_size(o->create_size, want,
						      sizeof(want)),
				    strerror(errno));
	} else if (S_ISREG(st.st_mode) && o->create_size &&
		   o->create_size != (uint64_t)st.st_size) {
		return fail(
			err, err_len, -EINVAL,
			"pool %s exists with size %s, not the %s given by --pool-size",
			o->path,
			units_format_size((uint64_t)st.st_size, have,
					  sizeof(have)),
			units_format_size(o->create_size, want, sizeof(want)));
	}
	return 0;
}

static int format_new(struct pool *pool, const struct pool_opts *o, char *err,
		      size_t err_len)
{
	uint64_t gran =
		o->granularity ? o->granularity : POOL_DEFAULT_GRANULARITY;
	char size[32];
	int rc = superblock_plan(pool->mapped_len, gran, o->table_slots,
				 &pool->geo);

	if (rc == -ENOSPC)
		return fail(
			err, err_len, rc,
			"pool %s is too small (%s) for its table and one chunk",
			o->path,
			units_format_size(pool->mapped_len, size,
					  sizeof(size)));
	if (rc)
		return fail(
			err, err_len, rc,
			"cannot lay out pool %s: granularity must be a power of two of at least %u bytes",
			o->path, GRANULARITY_MIN);
	superblock_format(&pool->persist, pool->base, &pool->geo);
	pool->created = true;
	return superblock_read(pool->base, pool->mapped_len, &pool->geo,
			       &pool->superblock);
}

static int load(struct pool *pool, const struct pool_opts *o, bool made,
		char *err, size_t err_len)
{
	struct superblock_report *r = &pool->superblock;
	int rc = superblock_read(pool->base, pool->mapped_len, &pool->geo, r);
	char here[32], recorded[32];

	if (rc == -ENODATA &&
	    (made || o->create_size || pool->backing == POOL_DEVDAX))
		return format_new(pool, o, err, err_len);
	if (rc == -ENODATA)
		return fail(
			err, err_len, rc,
			"%s is blank, not a pool; give --pool-size to create one",
			o->path);
	if (rc == -EPROTONOSUPPORT)
		return fail(
			err, err_len, rc,
			"pool %s has format version newer than %u, which this chunkd supports",
			o->path, SUPERBLOCK_FORMAT_VERSION);
	if (rc == -EFBIG)
		return fail(
			err, err_len, rc,
			"pool %s is shorter than its superblock records (%s here, %s recorded): truncated, or not the file it was; refusing to touch it",
			o->path,
			units_format_size(pool->mapped_len, here, sizeof(here)),
			units_format_size(r->recorded_size, recorded,
					  sizeof(recorded)));
	if (rc)
		return fail(
			err, err_len, rc,
			"pool %s has no valid superblock (copy A %s, copy B %s); refusing to touch it",
			o->path, superblock_copy_state_name(r->copy[0]),
			superblock_copy_state_name(r->copy[1]));
	pool->repaired =
		superblock_repair(&pool->persist, pool->base, &pool->geo, r);
	return 0;
}

int pool_open(const struct pool_opts *o, struct pool **out, char *err,
	      size_t err_len)
{
	struct pool *pool = calloc(1, sizeof(*pool));
	bool made, sized = false;
	int is_pmem = 0, rc;

	if (!pool)
		return fail(err, err_len, -ENOMEM, "out of memory");
	pool->lock_fd = open_locked(o, &pool->backing, &made, err, err_len);
	if (pool->lock_fd < 0) {
		rc = pool->lock_fd;
		free(pool);
		return rc;
	}
	rc = size_file(pool->lock_fd, o, made, &sized, err, err_len);
	if (rc == 0) {
		pool->base = pmem_map_file(o->path, 0, 0, 0, &pool->mapped_len,
					   &is_pmem);
		if (!pool->base)
			rc = fail(err, err_len, -EIO, "cannot map %s: %s",
				  o->path, pmem_errormsg());
	}
	if (rc == 0) {
		pool->persist.mode = is_pmem ? PERSIST_PMEM : PERSIST_MSYNC;
		rc = load(pool, o, made, err, err_len);
	}
	if (rc) {
		if (made)
			unlink(o->path);
		else if (sized && ftruncate(pool->lock_fd, 0) != 0)
			rc = -errno; /* the reason in err still stands */
		pool_close(&pool);
		return rc;
	}
	*out = pool;
	return 0;
}

void pool_discard(struct pool **pool, const char *path)
{
	struct pool *p = *pool;

	if (!p)
		return;
	if (p->created && p->backing == POOL_DEVDAX) {
		/* Blank again, as it was: both superblock copies zero. */
		persist_zero(&p->persist, p->base, SUPERBLOCK_AREA_SIZE);
		persist_range(&p->persist, p->base, SUPERBLOCK_AREA_SIZE);
	} else if (p->created) {
		unlink(path);
	}
	pool_close(pool);
}

void pool_close(struct pool **pool)
{
	struct pool *p = *pool;

	if (!p)
		return;
	if (p->base)
		pmem_unmap(p->base, p->mapped_len);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	free(p);
	*pool = NULL;
}

const char *pool_backing_name(enum pool_backing backing)
{
	return backing == POOL_DEVDAX ? "device-DAX (pmem)"
				      : "DRAM (tmpfs/hugetlbfs)";
}

void pool_describe(const struct pool *pool, struct pool_info *out)
{
	*out = (struct pool_info){
		.backing = pool_backing_name(pool->backing),
		.size = pool->geo.pool_size,
		.area_offset = pool->geo.chunk_area_offset,
		.granularity = pool->geo.granularity,
	};
}
