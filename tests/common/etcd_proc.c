#include "etcd_proc.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run_cmd.h"

void etcd_proc_start(const char *script, const char *name, int port, char *dir,
		     size_t dir_len, char *endpoints, size_t len)
{
	static struct cmd_result res;
	char port_text[16];
	char *argv[] = {(char *)script, "start", dir, port_text, NULL};

	snprintf(dir, dir_len, "/dev/shm/chunkd-%s-etcd-%d", name,
		 (int)getpid());
	snprintf(port_text, sizeof(port_text), "%d", port);
	cr_assert_eq(run_cmd(argv, &res), 0);
	cr_assert_eq(res.status, 0, "etcd did not start: %s", res.err);
	cr_assert_lt(strlen(res.out), len);
	sscanf(res.out, "%s", endpoints);
}

void etcd_proc_stop(const char *script, const char *dir)
{
	static struct cmd_result res;
	char *argv[] = {(char *)script, "stop", (char *)dir, NULL};

	run_cmd(argv, &res);
}
