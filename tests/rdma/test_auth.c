/*
 * Authentication against a real chunkd with a secrets file: a client with
 * the right secret is served; a wrong secret or none gets no session and
 * no rkey, and chunkctl status counts the refusals. SIGHUP reads the
 * secrets file again; a file that does not load changes nothing.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"

#define PORT 7520

static struct chunkd_proc server;
static char pool[64], secrets[80];

static void write_secrets(const char *text, mode_t mode)
{
	FILE *f = fopen(secrets, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(secrets, mode);
}

static void setup(void)
{
	static const char *extra[] = {"--secrets", secrets, NULL};

	chunkd_fresh_pool("auth", pool, sizeof(pool));
	snprintf(secrets, sizeof(secrets), "%s.secrets", pool);
	write_secrets("writer-1 correct-horse\n", 0600);
	chunkd_start(&server, CHUNKD_BINARY, pool, "16M", PORT, extra);
}

static void teardown(void)
{
	chunkd_finish(&server, pool);
	unlink(secrets);
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 300);

static int connect_as(const char *name, const char *secret,
		      struct chunk_client **c)
{
	struct chunk_client_opts o;

	chunk_client_opts_init(&o);
	o.auth_name = name;
	o.auth_secret = secret;
	o.auth_secret_len = secret ? strlen(secret) : 0;
	*c = NULL;
	return chunk_client_connect(server.addr, PORT, &o, c);
}

Test(auth, only_a_client_with_the_right_secret_is_served)
{
	struct chunk_client *good, *bad;
	unsigned long long id;
	char *argv[] = {CHUNKCTL_BINARY, "--socket", server.admin_socket,
			"--json",	 "status",   NULL};
	struct cmd_result r;
	json_t *st;

	cr_assert_eq(connect_as("writer-1", "correct-horse", &good), CHUNK_OK);
	cr_assert_eq(chunk_alloc(good, 4096, &id), CHUNK_OK);
	cr_assert_eq(connect_as("writer-1", "battery-staple", &bad),
		     CHUNK_E_AUTH, "a wrong secret");
	cr_assert_null(bad, "no client, so no rkey");
	cr_assert_eq(connect_as("writer-1", NULL, &bad), CHUNK_E_AUTH,
		     "no secret at all");
	cr_assert_eq(connect_as("stranger", "correct-horse", &bad),
		     CHUNK_E_AUTH, "a name chunkd has no secret for");
	cr_assert_eq(run_cmd(argv, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	st = json_loads(r.out, 0, NULL);
	cr_assert_not_null(st);
	cr_assert_eq(json_integer_value(json_object_get(st, "auth_refused")),
		     3);
	json_decref(st);
	chunk_client_disconnect(&good);
}

/* How many times chunkd's log says what. */
static int log_count(const char *what)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(server.log_path, "r");

	cr_assert_not_null(f, "chunkd's log %s", server.log_path);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Sends SIGHUP and waits until the log says what once more than before. */
static void hangup_until(const char *what)
{
	int before = log_count(what);

	cr_assert_eq(kill(server.pid, SIGHUP), 0);
	for (int i = 0; i < 300 && log_count(what) == before; i++)
		usleep(20000);
	cr_assert_eq(log_count(what), before + 1, "chunkd's log never said %s",
		     what);
}

Test(auth, sighup_reads_the_secrets_again_and_a_bad_file_changes_nothing)
{
	struct chunk_client *old, *c;
	unsigned long long id;

	cr_assert_eq(connect_as("writer-1", "correct-horse", &old), CHUNK_OK);
	write_secrets("writer-1 battery-staple\n", 0600);
	hangup_until("secrets read again");
	cr_assert_eq(connect_as("writer-1", "correct-horse", &c), CHUNK_E_AUTH,
		     "the old secret is gone");
	cr_assert_eq(connect_as("writer-1", "battery-staple", &c), CHUNK_OK);
	chunk_client_disconnect(&c);
	cr_assert_eq(chunk_alloc(old, 4096, &id), CHUNK_OK,
		     "a session authenticated before stays");

	/* Readable by others: refused, and the secrets in force stay. */
	write_secrets("writer-1 tr0ub4dor\n", 0644);
	hangup_until("the secrets loaded before stay in force");
	cr_assert_eq(connect_as("writer-1", "tr0ub4dor", &c), CHUNK_E_AUTH);
	cr_assert_eq(connect_as("writer-1", "battery-staple", &c), CHUNK_OK);
	chunk_client_disconnect(&c);
	chunk_client_disconnect(&old);
	cr_assert(chunkd_alive(&server));
}
