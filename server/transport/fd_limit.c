#include "fd_limit.h"

#include <sys/resource.h>

uint64_t fd_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024; /* what Linux starts processes with */
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			rl.rlim_cur = soft;
	}
	return rl.rlim_cur;
}

uint32_t fd_limit_connections(uint64_t limit)
{
	uint64_t n = limit > FD_LIMIT_RESERVE ? (limit - FD_LIMIT_RESERVE) /
							FD_LIMIT_PER_CONNECTION
					      : 1;

	if (n > FD_LIMIT_MAX_CONNECTIONS)
		n = FD_LIMIT_MAX_CONNECTIONS;
	return n ? (uint32_t)n : 1;
}
