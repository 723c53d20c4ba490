/* Runs a program and captures its exit status and output, for CLI tests. */
#ifndef CHUNKD_TESTS_RUN_CMD_H
#define CHUNKD_TESTS_RUN_CMD_H

#include <stddef.h>
#include <sys/types.h>

struct cmd_result {
	int status; /* exit status, or 128 + signal */
	char out[8192];
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

#endif
