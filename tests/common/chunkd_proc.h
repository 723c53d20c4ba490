/* Runs chunkd as a child process for tests that need a real server. */
#ifndef CHUNKD_TESTS_CHUNKD_PROC_H
#define CHUNKD_TESTS_CHUNKD_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct chunkd_proc {
	pid_t pid;
	char log_path[96];
	char pool[96];
	char addr[64];
	char admin_socket[108]; /* POOL.sock, for chunkctl */
	uint16_t port;
};

/*
 * Starts chunkd (binary) on pool (created with size bytes if missing) at
 * the test address (CHUNKD_TEST_ADDR, default 10.0.2.15) and port, with
 * extra arguments (NULL-terminated, may be NULL), and waits until it says
 * it is ready. Fails the running test if it does not start.
 */
void chunkd_start(struct chunkd_proc *p, const char *binary, const char *pool,
		  const char *size, uint16_t port, const char *const *extra);

/* A fresh DRAM pool for a test, /dev/shm/chunkd-NAME-PID.pool, removed
 * if an earlier run left it; its path goes into path (len bytes). */
void chunkd_fresh_pool(const char *name, char *path, size_t len);

/* The device-DAX node the tests may use, CHUNKD_TEST_DAX or /dev/dax0.0,
 * into path (len bytes); the test fails when there is none. */
void chunkd_dax_pool(char *path, size_t len);

/* The end of a test's chunkd: stops it if it runs, failing the test
 * unless it exits cleanly (status 0: no crash, no leak), then removes its
 * log (kept when CHUNKD_KEEP_LOGS is set) and, unless pool is NULL, the
 * pool file. */
void chunkd_finish(struct chunkd_proc *p, const char *pool);

/* SIGTERM, then waits; returns its exit status. */
int chunkd_stop(struct chunkd_proc *p);

/* SIGKILL, then waits. */
void chunkd_kill(struct chunkd_proc *p);

/* Whether the process is still running. */
int chunkd_alive(const struct chunkd_proc *p);

const char *chunkd_test_addr(void);

#endif
