#include "chunkd_proc.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_cmd.h"

const char *chunkd_test_addr(void)
{
	const char *a = getenv("CHUNKD_TEST_ADDR");

	return a && *a ? a : "10.0.2.15";
}

void chunkd_start(struct chunkd_proc *p, const char *binary, const char *pool,
		  const char *size, uint16_t port, const char *const *extra)
{
	char port_text[8], log[8192];
	char *argv[32];
	int n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->pool, sizeof(p->pool), "%s", pool);
	snprintf(p->addr, sizeof(p->addr), "%s", chunkd_test_addr());
	snprintf(p->log_path, sizeof(p->log_path), "%s.log", pool);
	snprintf(p->admin_socket, sizeof(p->admin_socket), "%s.sock", pool);
	snprintf(port_text, sizeof(port_text), "%u", port);
	p->port = port;
	argv[n++] = (char *)binary;
	argv[n++] = "--pool";
	argv[n++] = p->pool;
	if (size) {
		argv[n++] = "--pool-size";
		argv[n++] = (char *)size;
	}
	argv[n++] = "--listen";
	argv[n++] = p->addr;
	argv[n++] = "--port";
	argv[n++] = port_text;
	argv[n++] = "--admin-socket";
	argv[n++] = p->admin_socket;
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	/* A log left by an earlier chunkd must not pass for this one's. */
	unlink(p->log_path);
	p->pid = start_cmd(argv, p->log_path);
	cr_assert_gt(p->pid, 0, "cannot start chunkd");
	for (int i = 0; i < 1000; i++) {
		slurp(p->log_path, log, sizeof(log));
		if (strstr(log, "ready") || !chunkd_alive(p))
			break;
		usleep(10000);
	}
	cr_assert(strstr(log, "ready"), "chunkd did not start: %s", log);
}

int chunkd_alive(const struct chunkd_proc *p)
{
	return p->pid > 0 && kill(p->pid, 0) == 0 &&
	       waitpid(p->pid, NULL, WNOHANG) == 0;
}

int chunkd_stop(struct chunkd_proc *p)
{
	int status;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	status = wait_cmd(p->pid);
	p->pid = 0;
	return status;
}

void chunkd_kill(struct chunkd_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	wait_cmd(p->pid);
	p->pid = 0;
}

void chunkd_fresh_pool(const char *name, char *path, size_t len)
{
	snprintf(path, len, "/dev/shm/chunkd-%s-%d.pool", name, (int)getpid());
	unlink(path);
}

void chunkd_dax_pool(char *path, size_t len)
{
	const char *dax = getenv("CHUNKD_TEST_DAX");
	struct stat st;

	snprintf(path, len, "%s", dax && *dax ? dax : "/dev/dax0.0");
	cr_assert_eq(stat(path, &st), 0,
		     "no device-DAX at %s: run in deploy/vm/run", path);
}

void chunkd_finish(struct chunkd_proc *p, const char *pool)
{
	if (p->pid > 0) /* 0: the test stopped or killed it itself */
		cr_expect_eq(
			chunkd_stop(p), 0,
			"chunkd did not exit cleanly (a crash or a leak?)");
	if (pool)
		unlink(pool);
	if (!getenv("CHUNKD_KEEP_LOGS"))
		unlink(p->log_path);
}
