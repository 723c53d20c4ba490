/*
 * chunkctl against a real chunkd serving real clients. The tests read
 * chunkctl --json, never its tables. The background scrub runs while
 * clients are served, and names the chunk whose bytes were damaged.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/ctl_json.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"

#define PORT 7510

static struct chunkd_proc server;
static char pool[64];

static void setup(void)
{
	chunkd_fresh_pool("admin", pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, "32M", PORT, NULL);
}

static void teardown(void)
{
	chunkd_finish(&server, pool);
}

TestSuite(admin, .init = setup, .fini = teardown, .timeout = 300);

static json_t *ctl(int *status, const char *a1, const char *a2, const char *a3)
{
	return ctl_json(CHUNKCTL_BINARY, &server, status, a1, a2, a3);
}

static json_t *ctl_ok(const char *a1, const char *a2, const char *a3)
{
	return ctl_json_ok(CHUNKCTL_BINARY, &server, a1, a2, a3);
}

static long long num(json_t *obj, const char *key)
{
	return json_num(obj, key);
}

static struct chunk_client *connect_client(void)
{
	struct chunk_client *c = NULL;

	cr_assert_eq(chunk_client_connect(server.addr, PORT, NULL, &c),
		     CHUNK_OK);
	return c;
}

Test(admin, status_and_leases_describe_what_chunkd_holds)
{
	struct chunk_client *a = connect_client(), *b = connect_client();
	unsigned long long id;
	json_t *st, *leases, *mine = NULL, *l;
	size_t i;

	cr_assert_eq(chunk_alloc(a, 10000, &id), CHUNK_OK);
	st = ctl_ok("status", NULL, NULL);
	cr_assert_eq(num(json_object_get(st, "pool"), "size"), 32 << 20);
	cr_assert_eq(num(json_object_get(st, "chunks"), "open"), 1);
	cr_assert_eq(num(st, "sessions"), 2);
	cr_assert_str_eq(json_string_value(json_array_get(
				 json_object_get(st, "persistence"), 0)),
			 "persist-rpc");
	leases = ctl_ok("leases", NULL, NULL);
	json_array_foreach(json_object_get(leases, "leases"), i,
			   l) if ((unsigned long long)num(l, "id") ==
				  chunk_client_session(a)) mine = l;
	cr_assert_not_null(mine, "a's lease is listed");
	cr_assert_eq(num(mine, "chunks"), 1);
	cr_assert_eq(num(mine, "bytes"), 12288);
	cr_assert_gt(num(mine, "expires_in_ms"), 0);
	json_decref(st);
	json_decref(leases);
	chunk_client_disconnect(&a);
	chunk_client_disconnect(&b);
}

/* The pool file's bytes at off, straight from /dev/shm. */
static void pool_bytes(long long off, uint8_t *buf, size_t len)
{
	int fd = open(pool, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

Test(admin, revocation_is_complete_when_chunkctl_returns)
{
	struct chunk_client *c = connect_client();
	uint8_t data[4096], before[4096], after[4096];
	unsigned long long id;
	char session[32], chunk[32];
	json_t *st, *shown;
	long long where;

	memset(data, 0x11, sizeof(data));
	cr_assert_eq(chunk_alloc(c, sizeof(data), &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, sizeof(data)),
		     CHUNK_OK);
	snprintf(chunk, sizeof(chunk), "%llu", id);
	shown = ctl_ok("chunk", "show", chunk);
	st = ctl_ok("status", NULL, NULL);
	where = num(json_object_get(st, "pool"), "area_offset") +
		num(json_object_get(shown, "chunk"), "offset");
	snprintf(session, sizeof(session), "%llu", chunk_client_session(c));
	json_decref(ctl_ok("lease", "revoke", session));
	pool_bytes(where, before, sizeof(before));
	memset(data, 0x22, sizeof(data));
	cr_assert_eq(chunk_write(c, id, 0, data, sizeof(data)), CHUNK_E_ACCESS,
		     "the next write fails remotely");
	pool_bytes(where, after, sizeof(after));
	cr_assert_arr_eq(after, before, sizeof(after),
			 "no byte of the chunk changed after the revocation");
	json_decref(shown);
	json_decref(st);
	chunk_client_disconnect(&c);
}

/* chunkctl chunk free, as an operator reads it: it says the chunk is
 * freed, not the state the record had. */
static void free_and_expect_freed(const char *chunk)
{
	char *argv[] = {CHUNKCTL_BINARY,
			"--socket",
			server.admin_socket,
			"chunk",
			"free",
			(char *)chunk,
			NULL};
	struct cmd_result *r = malloc(sizeof(*r));
	char want[64];

	cr_assert_not_null(r);
	cr_assert_eq(run_cmd(argv, r), 0);
	cr_assert_eq(r->status, 0, "%s", r->err);
	snprintf(want, sizeof(want), "freed chunk %s (it was sealed", chunk);
	cr_assert(strstr(r->out, want), "%s", r->out);
	free(r);
}

Test(admin, chunks_can_be_listed_shown_freed_and_verified)
{
	struct chunk_client *c = connect_client();
	uint8_t data[5000];
	unsigned long long id;
	char chunk[32];
	json_t *list, *v;
	int status;

	memset(data, 7, sizeof(data));
	cr_assert_eq(chunk_alloc(c, sizeof(data), &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, sizeof(data)),
		     CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, sizeof(data),
				chunk_crc32c(0, data, sizeof(data))),
		     CHUNK_OK);
	list = ctl_ok("chunks", "--state", "sealed");
	cr_assert_eq(json_array_size(json_object_get(list, "chunks")), 1);
	v = ctl_ok("verify", NULL, NULL);
	cr_assert_eq(num(v, "checked"), 1);
	cr_assert_eq(num(v, "mismatches"), 0);
	snprintf(chunk, sizeof(chunk), "%llu", id);
	free_and_expect_freed(chunk);
	json_decref(ctl(&status, "chunk", "show", chunk));
	cr_assert_eq(status, 1, "a freed chunk is not found");
	cr_assert_eq(chunk_open(c, id, NULL), CHUNK_E_NOENT);
	json_decref(list);
	json_decref(v);
	chunk_client_disconnect(&c);
}

/* One line to chunkd's admin socket; its reply, parsed. */
static json_t *admin_line(const char *line)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char reply[65536];
	size_t got = 0;
	ssize_t n;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", server.admin_socket);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	while (got < sizeof(reply) - 1 &&
	       (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(reply, '\n', got))
			break;
	}
	close(fd);
	reply[got] = '\0';
	return json_loads(reply, 0, NULL);
}

/* Seals a chunk of len bytes of fill through c; returns its id. */
static unsigned long long store(struct chunk_client *c, size_t len, int fill)
{
	static char data[1 << 20];
	unsigned long long id;

	cr_assert_leq(len, sizeof(data));
	memset(data, fill, len);
	cr_assert_eq(chunk_alloc(c, len, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, len), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, len, chunk_crc32c(0, data, len)),
		     CHUNK_OK);
	return id;
}

/* Flips one byte of chunk id's content in the pool file, behind chunkd's
 * back, as a failing medium would. */
static void damage(unsigned long long id)
{
	char arg[32];
	json_t *st = ctl_ok("status", NULL, NULL), *chunk;
	long long at;
	int fd = open(pool, O_RDWR);
	unsigned char b;

	snprintf(arg, sizeof(arg), "%llu", id);
	chunk = ctl_ok("chunk", "show", arg);
	at = num(json_object_get(st, "pool"), "area_offset") +
	     num(json_object_get(chunk, "chunk"), "offset") + 1000;
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
	json_decref(st);
	json_decref(chunk);
}

/* One client's whole cycle on a 64 KiB chunk; fails the test unless every
 * step succeeds and the bytes read back are those written. */
static void full_cycle(struct chunk_client *c, int fill)
{
	static char back[65536];
	unsigned long long id = store(c, sizeof(back), fill);

	cr_assert_eq(chunk_open(c, id, NULL), CHUNK_OK);
	cr_assert_eq(chunk_read(c, id, 0, back, sizeof(back)), CHUNK_OK);
	for (size_t i = 0; i < sizeof(back); i++)
		cr_assert_eq(back[i], (char)fill);
	cr_assert_eq(chunk_free(c, id), CHUNK_OK);
}

Test(admin, clients_are_served_while_the_scrub_runs_and_it_names_the_damage)
{
	struct chunk_client *c = connect_client();
	unsigned long long ids[8];
	json_t *st;
	int status;

	for (int i = 0; i < 8; i++)
		ids[i] = store(c, 1 << 20, 'a' + i);
	damage(ids[5]);
	/* 8 MiB at 1 MB/s: the scrub runs for about 8 s, the clients'
	 * cycles below take about 1 s in the guest. */
	st = admin_line("{\"cmd\":\"verify\",\"rate_mb_s\":1}\n");
	cr_assert(json_is_true(json_object_get(st, "running")), "%s",
		  json_dumps(st, 0));
	json_decref(st);
	for (int i = 0; i < 5; i++)
		full_cycle(c, '0' + i);
	st = ctl_ok("verify", "--status", NULL);
	cr_assert(json_is_true(json_object_get(st, "running")),
		  "the scrub ended before the clients were done: %s",
		  json_dumps(st, 0));
	cr_assert_lt(num(st, "bytes"), num(st, "bytes_total"));
	json_decref(st);

	/* chunkctl verify joins the running scrub and waits for its end. */
	st = ctl(&status, "verify", NULL, NULL);
	cr_assert_eq(status, 1, "a mismatch is exit status 1");
	cr_assert_eq(num(st, "checked"), 8);
	cr_assert_eq(num(st, "bytes"), 8 << 20);
	cr_assert_eq(num(st, "mismatches"), 1);
	cr_assert_eq(json_integer_value(json_array_get(
			     json_object_get(st, "mismatched"), 0)),
		     (json_int_t)ids[5]);
	json_decref(st);
	chunk_client_disconnect(&c);
}
