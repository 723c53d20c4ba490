#include <criterion/criterion.h>
#include <sys/resource.h>

#include "transport/fd_limit.h"

Test(fd_limit, connections_fit_the_descriptors_after_the_reserve)
{
	cr_assert_eq(fd_limit_connections(1024),
		     (1024 - FD_LIMIT_RESERVE) / FD_LIMIT_PER_CONNECTION);
	cr_assert_eq(fd_limit_connections(1u << 20), FD_LIMIT_MAX_CONNECTIONS,
		     "memory bounds the default too");
	cr_assert_eq(fd_limit_connections(10), 1, "never none");
}

Test(fd_limit, raising_reaches_the_hard_limit)
{
	struct rlimit rl;
	uint64_t now = fd_limit_raise();

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq(rl.rlim_cur, rl.rlim_max);
	cr_assert_eq(now, rl.rlim_cur);
}
