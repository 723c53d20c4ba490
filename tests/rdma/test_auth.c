/*
 * Authentication against a real chunkd with a secrets file: a client with
 * the right secret is served; a wrong secret or none gets no session and
 * no rkey, and chunkctl status counts the refusals.
 */
#include <criterion/criterion.h>
#include <jansson.h>
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

static void setup(void)
{
	static const char *extra[] = {"--secrets", secrets, NULL};
	FILE *f;

	chunkd_fresh_pool("auth", pool, sizeof(pool));
	snprintf(secrets, sizeof(secrets), "%s.secrets", pool);
	f = fopen(secrets, "w");
	cr_assert_not_null(f);
	fputs("writer-1 correct-horse\n", f);
	fclose(f);
	chmod(secrets, 0600);
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
