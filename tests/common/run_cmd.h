/* Runs a program and captures its exit status and output, for CLI tests. */
#ifndef CHUNKD_TESTS_RUN_CMD_H
#define CHUNKD_TESTS_RUN_CMD_H

#include <stddef.h>
#include <sys/types.h>

struct cmd_result {
	int status;	   /* exit status, or 128 + signal */
	char out[1 << 19]; /* chunkctl chunks lists a whole table */
	char err[8192];
};

/* Runs argv (NULL-terminated) to completion; returns 0 or -1. */
int run_cmd(char *const argv[], struct cmd_result *res);

/* Starts argv in the background with stderr to err_path; returns its pid. */
pid_t start_cmd(char *const argv[], const char *err_path);

/* Waits for pid; returns its exit status, or 128 + signal. */
int wait_cmd(pid_t pid);

/* Reads a whole small file into buf (NUL-terminated); returns its length. */
size_t slurp(const char *path, char *buf, size_t len);

/* Number of lines in s (a last line without \n counts). */
int count_lines(const char *s);

/* Fails the running test unless r's stderr is exactly one line holding
 * want. */
void expect_one_line_error(const struct cmd_result *r, const char *want);

/* Runs the program named by the test's CHUNKD_BINARY with these arguments
 * into *res; fails the test if it cannot be run. */
#define RUN_CHUNKD(res, ...)                                                   \
	do {                                                                   \
		char *argv_[] = {CHUNKD_BINARY, __VA_ARGS__, NULL};            \
		cr_assert_eq(run_cmd(argv_, (res)), 0);                        \
	} while (0)

#endif
