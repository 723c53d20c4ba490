#include "run_cmd.h"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

size_t slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

int wait_cmd(pid_t pid)
{
	int ws;

	if (waitpid(pid, &ws, 0) != pid)
		return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static pid_t spawn(char *const argv[], const char *out_path,
		   const char *err_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (out < 0 || err < 0)
			_exit(127);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int run_cmd(char *const argv[], struct cmd_result *res)
{
	char out_path[64], err_path[64];
	pid_t pid;

	snprintf(out_path, sizeof(out_path), "/tmp/chunkd-cli-%d.out",
		 (int)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/chunkd-cli-%d.err",
		 (int)getpid());
	pid = spawn(argv, out_path, err_path);
	if (pid < 0)
		return -1;
	res->status = wait_cmd(pid);
	slurp(out_path, res->out, sizeof(res->out));
	slurp(err_path, res->err, sizeof(res->err));
	unlink(out_path);
	unlink(err_path);
	return 0;
}

pid_t start_cmd(char *const argv[], const char *err_path)
{
	return spawn(argv, "/dev/null", err_path);
}

int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n' || s[1] == '\0')
			n++;
	return n;
}

void expect_one_line_error(const struct cmd_result *r, const char *want)
{
	cr_assert_eq(count_lines(r->err), 1, "stderr: %s", r->err);
	cr_assert(strstr(r->err, want), "stderr: %s", r->err);
}
