/*
 * An in-memory file holding the fuzzer's input, for parsers that read a
 * path (the config and secrets loaders): no disk, and the real code.
 */
#ifndef CHUNKD_TESTS_FUZZ_MEMFILE_H
#define CHUNKD_TESTS_FUZZ_MEMFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Puts data into the one memfd of this process; returns its path. */
static inline const char *memfile_hold(const void *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz-input", 0);
		/* Private, as the secrets loader insists. */
		if (fd < 0 || fchmod(fd, 0600))
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) ||
	    (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	return path;
}

#endif
