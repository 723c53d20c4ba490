/*
 * Replicated chunks with real chunkd servers over RDMA and a real 3-member
 * etcd, all inside the guest: three servers, chunks of 2 and 3 copies
 * written, persisted and sealed through libchunkclient, then read back
 * from each copy alone (the other servers stopped); a copy whose bytes
 * differ (a raw RDMA WRITE with that copy's rkey, behind the library's
 * back) makes the seal fail and the chunk stay OPEN; a server SIGKILLed
 * under two clients' streams of writes and seals loses no acknowledged
 * seal (each reads back right, from a surviving copy); the asynchronous
 * calls write every copy (the seal checks each copy's CRC) and a read
 * whose copy's server died moves to another copy before its callback.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/etcd_proc.h"
#include "../common/ctl_json.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"
#include "client.h"

#define SERVERS 3
#define PORT0	7540
#define LEN	(64u * 1024)

static struct chunkd_proc srv[SERVERS];
static char pools[SERVERS][64], prefix[64];
static char endpoints[256];
static struct cmd_result res;
static const char *names[SERVERS] = {"ra", "rb", "rc"};

static void start_server(int i)
{
	const char *extra[] = {"--etcd-endpoints",
			       endpoints,
			       "--cluster-name",
			       names[i],
			       "--cluster-prefix",
			       prefix,
			       NULL};

	chunkd_start(&srv[i], CHUNKD_BINARY, pools[i], "32M",
		     (uint16_t)(PORT0 + i), extra);
}

static void setup(void)
{
	etcd_proc_shared(endpoints, sizeof(endpoints));
	snprintf(prefix, sizeof(prefix), "/repl-%d/", (int)getpid());
	for (int i = 0; i < SERVERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "repl-%d", i);
		chunkd_fresh_pool(name, pools[i], sizeof(pools[i]));
		start_server(i);
	}
}

static void teardown(void)
{
	for (int i = 0; i < SERVERS; i++)
		chunkd_finish(&srv[i], pools[i]);
}

TestSuite(replicated, .init = setup, .fini = teardown, .timeout = 300);

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

/* Allocates a chunk of copies copies through server 0, retrying while
 * the servers' views of each other settle (each must have seen the
 * others' registrations to place copies there). */
static unsigned long long alloc_settled(struct chunk_client *c, unsigned copies)
{
	unsigned long long id = 0;
	int st = CHUNK_E_FEW_SERVERS;

	for (int i = 0; i < 100 && st == CHUNK_E_FEW_SERVERS; i++) {
		st = chunk_alloc_replicated(c, LEN, copies, &id);
		if (st == CHUNK_E_FEW_SERVERS)
			usleep(100000);
	}
	cr_assert_eq(st, CHUNK_OK, "%s", chunk_strerror(st));
	return id;
}

/* Which servers hold a copy of id: the ports of its replica set. */
static void holders(struct chunk_client *c, unsigned long long id,
		    bool held[SERVERS])
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);

	cr_assert_not_null(set, "the library keeps the chunk's copies");
	memset(held, 0, SERVERS * sizeof(held[0]));
	for (unsigned i = 0; i < set->count; i++) {
		cr_assert_geq(set->copy[i].port, PORT0);
		cr_assert_lt(set->copy[i].port, PORT0 + SERVERS);
		held[set->copy[i].port - PORT0] = true;
	}
}

/* With only server i running, a fresh client of i reads id and gets
 * want. */
static void read_alone(int i, unsigned long long id, const uint8_t *want)
{
	static uint8_t back[LEN];
	struct chunk_client *c = NULL;
	struct chunk_info info;
	int st = CHUNK_E_UNAVAILABLE;

	for (int j = 0; j < SERVERS; j++)
		if (j != i)
			cr_assert_eq(chunkd_stop(&srv[j]), 0);
	cr_assert_eq(chunk_client_connect(srv[i].addr, (uint16_t)(PORT0 + i),
					  NULL, &c),
		     CHUNK_OK);
	/* The stopped servers' registrations go at their clean stop; the
	 * watch may take a moment to tell server i. */
	for (int k = 0; k < 50 && st != CHUNK_OK; k++) {
		st = chunk_open(c, id, &info);
		if (st != CHUNK_OK)
			usleep(100000);
	}
	cr_assert_eq(st, CHUNK_OK, "server %d alone: %s", i,
		     chunk_strerror(st));
	cr_assert_eq(info.length, LEN);
	memset(&info, 0, sizeof(info));
	cr_assert_eq(chunk_open(c, id, &info), CHUNK_OK, "opened again");
	cr_assert_eq(info.length, LEN, "a second open says the length too");
	cr_assert_eq(info.crc32c, chunk_crc32c(0, want, LEN));
	memset(back, 0, sizeof(back));
	cr_assert_eq(chunk_read(c, id, 0, back, LEN), CHUNK_OK);
	cr_assert_eq(memcmp(back, want, LEN), 0, "server %d's copy differs", i);
	chunk_client_disconnect(&c);
	for (int j = 0; j < SERVERS; j++)
		if (j != i)
			start_server(j);
}

/* Every peer connection of id's copies shares the owner's protection
 * domain (so registered memory serves them). */
static void peers_share_pd(struct chunk_client *c, unsigned long long id)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);

	for (unsigned i = 1; i < set->count; i++) {
		cr_assert_neq(set->copy[i].conn, c);
		cr_assert(set->copy[i].conn->pd_shared);
		cr_assert_eq(set->copy[i].conn->pd, c->pd);
	}
}

/* chunkctl chunk show of chunk id on server 0 (the caller's to free). */
static json_t *chunk_show(unsigned long long id)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", id);
	return ctl_json_ok(CHUNKCTL_BINARY, &srv[0], "chunk", "show", text);
}

static json_t *copies_of(json_t *shown)
{
	return json_object_get(json_object_get(shown, "chunk"), "copies");
}

/* chunkctl chunk show on the first copy's server lists every copy, each
 * at a server of its own. */
static void shows_copies(unsigned long long id, unsigned copies)
{
	json_t *r = chunk_show(id), *list = copies_of(r), *c;
	unsigned seen = 0;
	size_t i;

	cr_assert_eq(json_array_size(list), copies, "copies listed");
	json_array_foreach(list, i, c)
	{
		long long port = json_num(c, "port");

		cr_assert(port >= PORT0 && port < PORT0 + SERVERS);
		cr_assert_eq(seen & 1u << (port - PORT0), 0, "a server twice");
		seen |= 1u << (port - PORT0);
	}
	cr_assert_eq(json_num(json_array_get(list, 0), "id"), (long long)id);
	json_decref(r);
}

/* Writes a chunk of copies copies (from registered memory, or through
 * the bounce buffers), seals it, and reads each copy alone. */
static void write_seal_read_each(unsigned copies, bool registered)
{
	static uint8_t data[LEN];
	struct chunk_client *c = NULL;
	struct chunk_mem *mem = NULL;
	unsigned long long id;
	bool held[SERVERS];
	unsigned n = 0;

	fill(data, LEN, copies);
	cr_assert_eq(chunk_client_connect(srv[0].addr, PORT0, NULL, &c),
		     CHUNK_OK);
	if (registered)
		cr_assert_eq(chunk_mem_reg(c, data, LEN, &mem), CHUNK_OK);
	id = alloc_settled(c, copies);
	holders(c, id, held);
	cr_assert(held[0], "the first copy is the connected server's");
	peers_share_pd(c, id);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, LEN / 2), CHUNK_OK);
	cr_assert_eq(chunk_write(c, id, LEN / 2, data + LEN / 2, LEN / 2),
		     CHUNK_OK);
	cr_assert_eq(chunk_persist(c, id, LEN / 2, LEN / 2), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, LEN, chunk_crc32c(0, data, LEN)),
		     CHUNK_OK);
	shows_copies(id, copies);
	chunk_client_disconnect(&c);
	chunk_mem_dereg(&mem);
	for (int i = 0; i < SERVERS; i++) {
		if (!held[i])
			continue;
		read_alone(i, id, data);
		n++;
	}
	cr_assert_eq(n, copies, "every copy was read alone");
}

Test(replicated, two_copies_each_read_back_alone)
{
	write_seal_read_each(2, false);
}

Test(replicated, three_copies_each_read_back_alone)
{
	write_seal_read_each(3, true);
}

/* Writes 8 bytes over the start of copy i of id with a raw RDMA WRITE on
 * that copy's connection and rkey, behind the library's back. */
static void corrupt_copy(struct chunk_client *c, unsigned long long id,
			 unsigned i)
{
	struct replica_set *set = replica_sets_find(&c->replicas, id);
	struct chunk_client *conn = set->copy[i].conn;
	struct remote_chunk *rc =
		chunk_cache_find(&conn->cache, set->copy[i].id);

	cr_assert_not_null(rc);
	memset(conn->bounce, 0xee, 8);
	cr_assert_eq(client_post_rdma(conn, IBV_WR_RDMA_WRITE, conn->bounce,
				      conn->bounce_mr->lkey, 8, rc->addr,
				      rc->rkey, true),
		     CHUNK_OK);
	cr_assert_eq(client_wait_sends(conn), CHUNK_OK);
}

Test(replicated, a_copy_that_differs_keeps_the_chunk_open)
{
	static uint8_t data[LEN], back[LEN];
	struct chunk_client *c = NULL, *reader = NULL;
	unsigned long long id;
	unsigned crc;

	fill(data, LEN, 9);
	crc = chunk_crc32c(0, data, LEN);
	cr_assert_eq(chunk_client_connect(srv[0].addr, PORT0, NULL, &c),
		     CHUNK_OK);
	id = alloc_settled(c, 3);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, LEN), CHUNK_OK);
	corrupt_copy(c, id, 2);
	cr_assert_eq(chunk_seal(c, id, LEN, crc), CHUNK_E_CRC,
		     "the copy that differs refuses the seal");
	cr_assert_eq(
		chunk_client_connect(srv[1].addr, PORT0 + 1, NULL, &reader),
		CHUNK_OK);
	cr_assert_eq(chunk_open(reader, id, NULL), CHUNK_E_STATE,
		     "the chunk stays open");
	/* Writing again reaches the copies still open; then it seals. */
	cr_assert_eq(chunk_write_persist(c, id, 0, data, LEN), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, LEN, crc), CHUNK_OK);
	cr_assert_eq(chunk_read(reader, id, 0, back, LEN), CHUNK_OK);
	cr_assert_eq(memcmp(back, data, LEN), 0);
	chunk_client_disconnect(&reader);
	chunk_client_disconnect(&c);
}

/* ---- asynchronous calls ---- */

#define ASYNC_CHUNKS 4

struct async_done {
	int calls, status;
};

static void async_done(void *arg, int status)
{
	struct async_done *d = arg;

	d->calls++;
	if (status && !d->status)
		d->status = status;
}

/* Sleeps on chunk_client_fd() and polls until every done of d (n of them)
 * was called; the client's timeout bounds each wait. */
static void wait_async(struct chunk_client *c, struct async_done *d, int n)
{
	for (int k = 0; k < n; k++)
		while (d[k].calls == 0) {
			struct pollfd pfd = {.fd = chunk_client_fd(c),
					     .events = POLLIN};

			cr_assert_geq(poll(&pfd, 1, 10000), 0);
			cr_assert_geq(chunk_client_poll(c, 0), 0);
			if (pfd.revents == 0)
				cr_assert_fail("no completion in 10 s");
		}
	for (int k = 0; k < n; k++) {
		cr_assert_eq(d[k].calls, 1, "op %d called back once", k);
		cr_assert_eq(d[k].status, CHUNK_OK, "op %d: %s", k,
			     chunk_strerror(d[k].status));
	}
}

/* Chunks of copies copies written from registered memory with the
 * asynchronous calls, all in flight at once (write+persist for the first
 * half, write then persist for the second), then sealed: each copy's
 * server checks its copy's CRC at the seal, so every copy got its bytes.
 * Then read back asynchronously. */
static void async_write_seal_read(unsigned copies)
{
	static uint8_t data[ASYNC_CHUNKS][LEN], back[ASYNC_CHUNKS][LEN];
	struct async_done d[ASYNC_CHUNKS] = {0}, p[ASYNC_CHUNKS] = {0};
	unsigned long long id[ASYNC_CHUNKS];
	struct chunk_client *c = NULL;
	struct chunk_mem *mem = NULL, *mem_back = NULL;

	cr_assert_eq(chunk_client_connect(srv[0].addr, PORT0, NULL, &c),
		     CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(c, data, sizeof(data), &mem), CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(c, back, sizeof(back), &mem_back), CHUNK_OK);
	for (int k = 0; k < ASYNC_CHUNKS; k++) {
		fill(data[k], LEN, copies * 10 + (unsigned)k);
		id[k] = alloc_settled(c, copies);
	}
	for (int k = 0; k < ASYNC_CHUNKS; k++)
		cr_assert_eq(
			k < ASYNC_CHUNKS / 2
				? chunk_write_persist_async(c, id[k], 0,
							    data[k], LEN,
							    async_done, &d[k])
				: chunk_write_async(c, id[k], 0, data[k], LEN,
						    async_done, &d[k]),
			CHUNK_OK);
	cr_assert_eq(chunk_client_in_flight(c), ASYNC_CHUNKS,
		     "one operation each, whatever its copies");
	wait_async(c, d, ASYNC_CHUNKS);
	for (int k = ASYNC_CHUNKS / 2; k < ASYNC_CHUNKS; k++)
		cr_assert_eq(chunk_persist_async(c, id[k], 0, LEN, async_done,
						 &p[k]),
			     CHUNK_OK);
	wait_async(c, p + ASYNC_CHUNKS / 2, ASYNC_CHUNKS / 2);
	cr_assert_eq(chunk_client_in_flight(c), 0);
	for (int k = 0; k < ASYNC_CHUNKS; k++) {
		cr_assert_eq(chunk_seal(c, id[k], LEN,
					chunk_crc32c(0, data[k], LEN)),
			     CHUNK_OK, "chunk %d: every copy's CRC matches", k);
		d[k] = (struct async_done){0};
		cr_assert_eq(chunk_read_async(c, id[k], 0, back[k], LEN,
					      async_done, &d[k]),
			     CHUNK_OK);
	}
	wait_async(c, d, ASYNC_CHUNKS);
	for (int k = 0; k < ASYNC_CHUNKS; k++)
		cr_assert_eq(memcmp(back[k], data[k], LEN), 0, "chunk %d", k);
	chunk_client_disconnect(&c);
	chunk_mem_dereg(&mem);
	chunk_mem_dereg(&mem_back);
}

Test(replicated, async_calls_write_every_copy_of_two)
{
	async_write_seal_read(2);
}

Test(replicated, async_calls_write_every_copy_of_three)
{
	async_write_seal_read(3);
}

/* An asynchronous read whose copy's server died moves to another copy
 * before its callback: the caller sees the bytes, not the failure. */
Test(replicated, an_async_read_moves_to_another_copy)
{
	static uint8_t data[LEN], back[LEN];
	struct chunk_client *c = NULL;
	struct chunk_mem *mem = NULL;
	struct async_done d = {0};
	struct chunk_client_opts o;
	unsigned long long id;
	bool held[SERVERS];

	fill(data, LEN, 77);
	chunk_client_opts_init(&o);
	o.timeout_ms = 4000;
	cr_assert_eq(chunk_client_connect(srv[0].addr, PORT0, &o, &c),
		     CHUNK_OK);
	cr_assert_eq(chunk_mem_reg(c, back, LEN, &mem), CHUNK_OK);
	id = alloc_settled(c, 2);
	holders(c, id, held);
	cr_assert(held[0], "the first copy is the connected server's");
	cr_assert_eq(chunk_write_persist(c, id, 0, data, LEN), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, LEN, chunk_crc32c(0, data, LEN)),
		     CHUNK_OK);
	/* The first read opens both copies and reads the connected
	 * server's. */
	cr_assert_eq(chunk_read_async(c, id, 0, back, LEN, async_done, &d),
		     CHUNK_OK);
	wait_async(c, &d, 1);
	chunkd_kill(&srv[0]);
	memset(back, 0, LEN);
	d = (struct async_done){0};
	cr_assert_eq(chunk_read_async(c, id, 0, back, LEN, async_done, &d),
		     CHUNK_OK);
	/* The connected server is gone: its copy's read gets no answer, and
	 * once it is in flight past the client's timeout (4 s here) the
	 * connection is aborted; polls fail (the connection), yet the read
	 * completes from the other copy. */
	for (int k = 0; k < 600 && d.calls == 0; k++)
		chunk_client_poll(c, 100);
	cr_assert_eq(d.calls, 1, "the read called back");
	cr_assert_eq(d.status, CHUNK_OK, "%s", chunk_strerror(d.status));
	cr_assert_eq(memcmp(back, data, LEN), 0);
	chunk_client_disconnect(&c);
	chunk_mem_dereg(&mem);
	start_server(0); /* for teardown's clean stop */
}

#define STREAM_OPS 2000

/* The bytes of chunk number i of client k. */
static size_t stream_text(unsigned k, unsigned i, char *text, size_t cap)
{
	return (size_t)snprintf(text, cap, "client %u chunk %u", k, i);
}

/* Set (in memory the clients share with the test) once the test has
 * killed a server and let the streams run on a while. */
static volatile int *streams_stop;

/* Client k, connected to server k: allocs chunks of 2 copies, writes,
 * persists and seals them until told to stop (or STREAM_OPS chunks), a
 * server dying meanwhile; writes each acknowledged seal as "ID NUMBER". A
 * call that hung would hold the test past its timeout. */
static void stream(unsigned k, const char *path)
{
	struct chunk_client_opts o;
	struct chunk_client *c = NULL;
	FILE *f = fopen(path, "w");

	chunk_client_opts_init(&o);
	o.timeout_ms = 3000;
	if (!f || chunk_client_connect(srv[k].addr, (uint16_t)(PORT0 + k), &o,
				       &c) != CHUNK_OK)
		_exit(2);
	for (unsigned i = 0; i < STREAM_OPS && !*streams_stop; i++) {
		unsigned long long id;
		char text[64];
		size_t len = stream_text(k, i, text, sizeof(text));

		if (chunk_alloc_replicated(c, 4096, 2, &id) ||
		    chunk_write_persist(c, id, 0, text, len) ||
		    chunk_seal(c, id, len, chunk_crc32c(0, text, len)))
			continue; /* a copy on the dead server: the next */
		fprintf(f, "%llu %u\n", id, i);
		fflush(f);
	}
	chunk_client_disconnect(&c);
	fclose(f);
	_exit(0);
}

/* How many sealed chunks server i holds. */
static size_t sealed_on(int i)
{
	json_t *r = ctl_json_ok(CHUNKCTL_BINARY, &srv[i], "chunks", "--state",
				"sealed");
	size_t n = json_array_size(json_object_get(r, "chunks"));

	json_decref(r);
	return n;
}

/* Waits until server i holds at least want sealed copies, so that its
 * loss loses copies of acknowledged chunks. */
static void wait_for_sealed_copies(int i, size_t want)
{
	size_t n = 0;

	for (int k = 0; k < 600 && (n = sealed_on(i)) < want; k++)
		usleep(100000);
	cr_assert_geq(n, want, "server %d holds %zu sealed copies", i, n);
}

/* Every chunk listed in path reads back right through server 0's
 * client; returns how many. */
static unsigned check_acked(struct chunk_client *c, unsigned k,
			    const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long id;
	unsigned i, n = 0;

	cr_assert_not_null(f);
	while (fscanf(f, "%llu %u", &id, &i) == 2) {
		char want[64], back[64] = "";
		size_t len = stream_text(k, i, want, sizeof(want));

		cr_assert_eq(chunk_read(c, id, 0, back, len), CHUNK_OK,
			     "acknowledged chunk %llu is not readable", id);
		cr_assert_eq(memcmp(back, want, len), 0, "chunk %llu", id);
		n++;
	}
	fclose(f);
	return n;
}

static long long under_replicated(int i);
static int run_repair(void);
static void wait_for_loss(int gone);

/* Once server 0 sees server 2's copies lost, chunkctl repair brings every
 * chunk back to all its copies on running servers, and each running
 * server's copies match their CRCs. */
static void repair_and_verify(void)
{
	json_t *r;

	wait_for_loss(2);
	run_repair();
	cr_assert_eq(under_replicated(0), 0, "repair left chunks behind");
	for (int i = 0; i < 2; i++) {
		r = ctl_json_ok(CHUNKCTL_BINARY, &srv[i], "verify", NULL, NULL);
		cr_assert_eq(json_num(r, "mismatches"), 0, "server %d", i);
		json_decref(r);
	}
}

Test(replicated, acknowledged_seals_survive_a_killed_server)
{
	struct chunk_client *c = NULL;
	char paths[2][96];
	pid_t pids[2];
	unsigned acked = 0;
	int status;

	streams_stop = mmap(NULL, sizeof(*streams_stop), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq((void *)streams_stop, MAP_FAILED);
	*streams_stop = 0;
	for (unsigned k = 0; k < 2; k++) {
		snprintf(paths[k], sizeof(paths[k]),
			 "/dev/shm/chunkd-repl-acked-%d-%u", (int)getpid(), k);
		pids[k] = fork();
		cr_assert_geq(pids[k], 0);
		if (pids[k] == 0)
			stream(k, paths[k]);
	}
	wait_for_sealed_copies(2, 4);
	chunkd_kill(&srv[2]);
	usleep(1500 * 1000); /* the streams run on into the dead server */
	*streams_stop = 1;
	for (unsigned k = 0; k < 2; k++) {
		cr_assert_eq(waitpid(pids[k], &status, 0), pids[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "client %u failed", k);
	}
	cr_assert_eq(chunk_client_connect(srv[0].addr, PORT0, NULL, &c),
		     CHUNK_OK);
	for (unsigned k = 0; k < 2; k++) {
		acked += check_acked(c, k, paths[k]);
		unlink(paths[k]);
	}
	munmap((void *)streams_stop, sizeof(*streams_stop));
	cr_log_info("%u acknowledged seals, all readable", acked);
	cr_assert_gt(acked, 0);
	chunk_client_disconnect(&c);
	repair_and_verify();
	start_server(2); /* for teardown's clean stop */
}

#define REPAIRED_CHUNKS 6

/* chunkctl cluster on server i: its count of under-replicated chunks. */
static long long under_replicated(int i)
{
	json_t *r =
		ctl_json_ok(CHUNKCTL_BINARY, &srv[i], "cluster", NULL, NULL);
	long long n =
		json_num(json_object_get(r, "replicated"), "under_replicated");

	cr_assert(json_is_object(json_object_get(r, "replicated")),
		  "chunkctl cluster shows no replication");
	json_decref(r);
	return n;
}

/* Whether server 0 still lists server gone among the members, and how
 * many chunks it counts under-replicated. */
static bool loss_seen(int gone, long long *under)
{
	json_t *r =
		ctl_json_ok(CHUNKCTL_BINARY, &srv[0], "cluster", NULL, NULL);
	json_t *m;
	size_t i;
	bool listed = false;

	*under = json_num(json_object_get(r, "replicated"), "under_replicated");
	json_array_foreach(json_object_get(r, "members"), i, m) listed |=
		!strcmp(json_string_value(json_object_get(m, "name")),
			names[gone]);
	json_decref(r);
	return !listed && *under > 0;
}

/* Waits until server 0 has seen server gone's loss twice in a row. A
 * member's lease runs out within its TTL (5 s); the wait allows eight
 * TTLs, for a guest slowed by sanitizers. */
static void wait_for_loss(int gone)
{
	long long under = 0;
	int seen = 0;

	for (int k = 0; k < 400 && seen < 2; k++) {
		seen = loss_seen(gone, &under) ? seen + 1 : 0;
		usleep(100000);
	}
	cr_assert_eq(seen, 2,
		     "server 0 never saw server %d's copies lost "
		     "(%lld under-replicated)",
		     gone, under);
}

/* The ids of the copies of chunk id chunkctl chunk show lists on server
 * 0, into ids; returns how many. */
static unsigned copies_shown(unsigned long long id, unsigned long long *ids)
{
	json_t *r = chunk_show(id), *c;
	unsigned n = 0;
	size_t i;

	json_array_foreach(copies_of(r), i, c) ids[n++] =
		(unsigned long long)json_num(c, "id");
	json_decref(r);
	return n;
}

/* Runs chunkctl repair on server 0; returns how many copies it made. */
static int run_repair(void)
{
	char *argv[] = {CHUNKCTL_BINARY, "--socket", srv[0].admin_socket,
			"repair", NULL};
	int made = 0;

	cr_assert_eq(run_cmd(argv, &res), 0);
	cr_assert_eq(res.status, 0, "chunkctl repair: %s%s", res.out, res.err);
	cr_log_info("chunkctl repair: %s", res.out);
	for (const char *p = res.out; (p = strstr(p, "replaced by")); p++)
		made++;
	cr_assert_gt(made, 0, "chunkctl repair made no copy: %s", res.out);
	return made;
}

/* A fresh client of server i reads each chunk of ids and gets its
 * bytes. */
static void all_read_back(int i, const unsigned long long *ids,
			  uint8_t data[][4096])
{
	struct chunk_client *c = NULL;
	uint8_t back[4096];

	cr_assert_eq(chunk_client_connect(srv[i].addr, (uint16_t)(PORT0 + i),
					  NULL, &c),
		     CHUNK_OK);
	for (int k = 0; k < REPAIRED_CHUNKS; k++) {
		cr_assert_eq(chunk_read(c, ids[k], 0, back, sizeof(back)),
			     CHUNK_OK, "chunk %llu", ids[k]);
		cr_assert_eq(memcmp(back, data[k], sizeof(back)), 0);
	}
	chunk_client_disconnect(&c);
}

Test(replicated, a_lost_server_is_repaired_and_its_stale_copies_reclaimed)
{
	static uint8_t data[REPAIRED_CHUNKS][4096];
	unsigned long long ids[REPAIRED_CHUNKS], shown[PROTO_MAX_COPIES];
	struct chunk_client *c = NULL;
	struct replica_set *set;
	int lost = -1, spare, made;
	json_t *r;

	cr_assert_eq(chunk_client_connect(srv[0].addr, PORT0, NULL, &c),
		     CHUNK_OK);
	for (int k = 0; k < REPAIRED_CHUNKS; k++) {
		fill(data[k], sizeof(data[k]), (unsigned)k + 20);
		ids[k] = alloc_settled(c, 2);
		cr_assert_eq(chunk_write_persist(c, ids[k], 0, data[k], 4096),
			     CHUNK_OK);
		cr_assert_eq(chunk_seal(c, ids[k], 4096,
					chunk_crc32c(0, data[k], 4096)),
			     CHUNK_OK);
	}
	set = replica_sets_find(&c->replicas, ids[0]);
	lost = set->copy[1].port - PORT0;
	spare = 3 - lost; /* the server that is neither 0 nor lost */
	chunk_client_disconnect(&c);

	chunkd_kill(&srv[lost]);
	wait_for_loss(lost);
	made = run_repair();
	cr_assert_eq(under_replicated(0), 0, "repair left chunks behind");
	for (int k = 0; k < REPAIRED_CHUNKS; k++)
		cr_assert_eq(copies_shown(ids[k], shown), 2);
	r = ctl_json_ok(CHUNKCTL_BINARY, &srv[spare], "verify", NULL, NULL);
	cr_assert_geq(json_num(r, "checked"), made,
		      "the new copies are not on server %d (lost %d): %s; "
		      "repair said: %s",
		      spare, lost, json_dumps(r, 0), res.out);
	cr_assert_eq(json_num(r, "mismatches"), 0, "every CRC matches");
	json_decref(r);

	/* The new copies alone hold the bytes. */
	cr_assert_eq(chunkd_stop(&srv[0]), 0);
	all_read_back(spare, ids, data);
	start_server(0);

	/* The lost server returns: its copies are not the chunks' any more,
	 * so it reclaims them, and nothing lists them again. */
	start_server(lost);
	r = ctl_json_ok(CHUNKCTL_BINARY, &srv[lost], "chunks", "--state",
			"sealed");
	cr_assert_eq(json_array_size(json_object_get(r, "chunks")), 0,
		     "the stale copies were kept");
	json_decref(r);
	for (int k = 0; k < REPAIRED_CHUNKS; k++)
		cr_assert_eq(copies_shown(ids[k], shown), 2);
	all_read_back(0, ids, data);
}
