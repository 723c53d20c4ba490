/*
 * The data path end to end on a real RDMA device: chunkd serving a pool,
 * libchunkclient writing, persisting, sealing and reading chunks.
 *
 * Built twice: rdma_datapath serves a tmpfs pool, where clients persist by
 * persist-rpc; where rdma-core has RDMA FLUSH (Debian 13),
 * rdma_datapath_dax (DATAPATH_ON_DAX) serves device-DAX, where every client
 * must persist by native-flush. There the suite starts from a blank device,
 * so that chunkd makes a new pool, as it does on tmpfs: some cases need
 * chunks placed side by side.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "../common/run_cmd.h"
#include "chunkclient.h"
#include "client.h" /* internals, to post raw RDMA with a granted rkey */

#define PORT 7480

#ifdef DATAPATH_ON_DAX
#include <libpmem.h>
#define PERSIST_METHOD CHUNK_PERSIST_NATIVE_FLUSH
#define SUPERBLOCKS    8192 /* both copies: zero, the device is blank */
#else
#define PERSIST_METHOD CHUNK_PERSIST_RPC
#endif

static struct chunkd_proc server;
static char pool[64];

#ifdef DATAPATH_ON_DAX
static void blank_device(const char *path)
{
	size_t len;
	int is_pmem;
	void *addr = pmem_map_file(path, 0, 0, 0, &len, &is_pmem);

	cr_assert_not_null(addr,
			   "no device-DAX at %s (%s): run in "
			   "deploy/vm/run",
			   path, pmem_errormsg());
	pmem_memset_persist(addr, 0, SUPERBLOCKS);
	pmem_unmap(addr, len);
}
#endif

static void start_server(void)
{
#ifdef DATAPATH_ON_DAX
	chunkd_dax_pool(pool, sizeof(pool));
	blank_device(pool);
	chunkd_start(&server, CHUNKD_BINARY, pool, NULL, PORT, NULL);
#else
	chunkd_fresh_pool("datapath", pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, "64M", PORT, NULL);
#endif
}

static void stop_server(void)
{
#ifdef DATAPATH_ON_DAX
	chunkd_finish(&server, NULL); /* the device stays */
#else
	chunkd_finish(&server, pool);
#endif
}

TestSuite(datapath, .init = start_server, .fini = stop_server, .timeout = 300);

static struct chunk_client *
connect_client_with(const struct chunk_client_opts *opts)
{
	struct chunk_client *c = NULL;
	int rc = chunk_client_connect(server.addr, PORT, opts, &c);
	char log[4096];

	if (rc != CHUNK_OK)
		slurp(server.log_path, log, sizeof(log));
	cr_assert_eq(rc, CHUNK_OK, "connect: %s; chunkd's log:\n%s",
		     chunk_strerror(rc), log);
	cr_assert_eq(chunk_client_persist_method(c), PERSIST_METHOD,
		     "the client persists by method %#x, not %#x",
		     chunk_client_persist_method(c), PERSIST_METHOD);
	return c;
}

static struct chunk_client *connect_client(void)
{
	return connect_client_with(NULL);
}

static void fill_random(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* Allocates, writes, persists and seals len random bytes; returns the id. */
static unsigned long long store(struct chunk_client *c, uint8_t *data,
				size_t len, unsigned seed)
{
	unsigned long long id;

	fill_random(data, len, seed);
	cr_assert_eq(chunk_alloc(c, len, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, len), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, len, chunk_crc32c(0, data, len)),
		     CHUNK_OK);
	return id;
}

Test(datapath, one_client_stores_another_reads_it_back)
{
	struct chunk_client *writer = connect_client(),
			    *reader = connect_client();
	size_t len = 300000;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct chunk_info info;
	unsigned long long id;

	cr_assert(data && back);
	id = store(writer, data, len, 1);
	cr_assert_eq(chunk_open(reader, id, &info), CHUNK_OK);
	cr_assert_eq(info.length, len);
	cr_assert_eq(info.crc32c, chunk_crc32c(0, data, len));
	cr_assert_eq(chunk_read(reader, id, 0, back, len), CHUNK_OK);
	cr_assert_arr_eq(back, data, len);
	cr_assert_eq(chunk_read(reader, id, len - 10, back, 11), CHUNK_E_INVAL);
	chunk_client_disconnect(&writer);
	chunk_client_disconnect(&reader);
	free(data);
	free(back);
}

Test(datapath, a_crc_mismatch_is_refused_and_the_chunk_stays_open)
{
	struct chunk_client *c = connect_client();
	uint8_t data[5000];
	unsigned long long id;

	fill_random(data, sizeof(data), 2);
	cr_assert_eq(chunk_alloc(c, sizeof(data), &id), CHUNK_OK);
	cr_assert_eq(chunk_write(c, id, 0, data, sizeof(data)), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, sizeof(data), 0xdeadbeef), CHUNK_E_CRC);
	/* Still OPEN: it can be written and sealed right. */
	data[0] ^= 1;
	cr_assert_eq(chunk_write(c, id, 0, data, 1), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, sizeof(data),
				chunk_crc32c(0, data, sizeof(data))),
		     CHUNK_OK);
	chunk_client_disconnect(&c);
}

Test(datapath, a_write_after_seal_fails_remotely_and_the_client_reconnects)
{
	struct chunk_client *c = connect_client();
	uint8_t data[4096];
	unsigned long long id, session = chunk_client_session(c);
	struct remote_chunk grant;

	id = store(c, data, sizeof(data), 3);
	/* Post a raw WRITE with the revoked write rkey of the sealed chunk. */
	grant = *chunk_cache_find(&c->cache, id);
	cr_assert_eq(client_post_rdma(c, IBV_WR_RDMA_WRITE, c->bounce,
				      c->bounce_mr->lkey, 64, grant.addr,
				      grant.rkey, true),
		     CHUNK_OK);
	cr_assert_eq(client_finish(c, client_wait_sends(c)), CHUNK_E_ACCESS);
	cr_assert_neq(chunk_client_session(c), session, "reconnected");
	/* The new session works, and the sealed content is intact. */
	uint8_t back[4096];
	cr_assert_eq(chunk_read(c, id, 0, back, sizeof(back)), CHUNK_OK);
	fill_random(data, sizeof(data), 3);
	cr_assert_arr_eq(back, data, sizeof(data));
	chunk_client_disconnect(&c);
}

/* A free deregisters every reader's MR (on chunkd's workers, for a chunk
 * this large) before it is answered: once FREED is back, a READ through a
 * reader's old rkey fails remotely, and the freed space, granted again,
 * is not readable through it. */
Test(datapath, a_read_after_free_fails_remotely)
{
	struct chunk_client *writer = connect_client(),
			    *reader = connect_client();
	size_t len = 1u << 20;
	uint8_t *data = malloc(len);
	unsigned long long id, again, session = chunk_client_session(reader);
	struct remote_chunk grant;

	cr_assert(data);
	id = store(writer, data, len, 5);
	cr_assert_eq(chunk_open(reader, id, NULL), CHUNK_OK);
	cr_assert_eq(chunk_read(reader, id, 0, data, 4096), CHUNK_OK);
	grant = *chunk_cache_find(&reader->cache, id);
	cr_assert_eq(chunk_free(writer, id), CHUNK_OK);
	cr_assert_eq(chunk_alloc(writer, len, &again), CHUNK_OK);
	cr_assert_eq(client_post_rdma(reader, IBV_WR_RDMA_READ, reader->bounce,
				      reader->bounce_mr->lkey, 64, grant.addr,
				      grant.rkey, true),
		     CHUNK_OK);
	cr_assert_eq(client_finish(reader, client_wait_sends(reader)),
		     CHUNK_E_ACCESS);
	cr_assert_neq(chunk_client_session(reader), session, "reconnected");
	cr_assert_eq(chunk_open(reader, id, NULL), CHUNK_E_NOENT);
	chunk_client_disconnect(&writer);
	chunk_client_disconnect(&reader);
	free(data);
}

Test(datapath, an_open_chunk_is_not_readable_by_another_session)
{
	struct chunk_client *a = connect_client(), *b = connect_client();
	unsigned long long id;

	cr_assert_eq(chunk_alloc(a, 4096, &id), CHUNK_OK);
	cr_assert_eq(chunk_open(b, id, NULL), CHUNK_E_STATE);
	cr_assert_eq(chunk_free(b, id), CHUNK_E_ACCESS);
	cr_assert_eq(chunk_free(a, id), CHUNK_OK);
	cr_assert_eq(chunk_open(b, id, NULL), CHUNK_E_NOENT);
	chunk_client_disconnect(&a);
	chunk_client_disconnect(&b);
}

/* The grant of an OPEN chunk, as its owner's library holds it. */
static struct remote_chunk grant_of(struct chunk_client *c,
				    unsigned long long id)
{
	struct remote_chunk *rc = chunk_cache_find(&c->cache, id);

	cr_assert_not_null(rc);
	return *rc;
}

/* Posts a raw WRITE of len bytes of junk at remote through c's QP and
 * returns how it completed. */
static int raw_write(struct chunk_client *c, uint64_t remote, uint32_t rkey,
		     size_t len)
{
	memset(c->bounce, 0xee, len);
	cr_assert_eq(client_post_rdma(c, IBV_WR_RDMA_WRITE, c->bounce,
				      c->bounce_mr->lkey, len, remote, rkey,
				      true),
		     CHUNK_OK);
	return client_finish(c, client_wait_sends(c));
}

static void expect_content(struct chunk_client *c, unsigned long long id,
			   const uint8_t *want, size_t len)
{
	uint8_t *back = malloc(len);

	cr_assert_not_null(back);
	cr_assert_eq(chunk_read(c, id, 0, back, len), CHUNK_OK);
	cr_assert_arr_eq(back, want, len, "chunk %llu changed", id);
	free(back);
}

Test(datapath, writes_outside_the_chunk_are_refused_and_change_nothing)
{
	struct chunk_client *c = connect_client(), *check = connect_client();
	uint8_t before[4096], after[4096];
	unsigned long long lo, mid, hi;
	struct remote_chunk g;

	/* Three neighbours: guards below and above the chunk written. */
	lo = store(c, before, sizeof(before), 10);
	cr_assert_eq(chunk_alloc(c, 4096, &mid), CHUNK_OK);
	hi = store(c, after, sizeof(after), 11);
	g = grant_of(c, mid);
	cr_assert_eq(chunk_open(check, lo, NULL), CHUNK_OK);
	cr_assert_eq(chunk_cache_find(&check->cache, lo)->addr + 4096, g.addr,
		     "the guard chunks must be the neighbours");
	cr_assert_eq(chunk_open(check, hi, NULL), CHUNK_OK);
	cr_assert_eq(g.addr + 4096, chunk_cache_find(&check->cache, hi)->addr);

	cr_assert_eq(raw_write(c, g.addr + 4096 - 64, g.rkey, 128),
		     CHUNK_E_ACCESS, "a write across the end");
	cr_assert_eq(chunk_alloc(c, 4096, &mid), CHUNK_OK); /* new session */
	cr_assert_eq(raw_write(c, g.addr - 1, grant_of(c, mid).rkey, 2),
		     CHUNK_E_ACCESS, "a write across the start");
	fill_random(before, sizeof(before), 10);
	fill_random(after, sizeof(after), 11);
	expect_content(check, lo, before, sizeof(before));
	expect_content(check, hi, after, sizeof(after));
	chunk_client_disconnect(&c);
	chunk_client_disconnect(&check);
}

Test(datapath, another_client_cannot_write_an_open_chunk)
{
	struct chunk_client *owner = connect_client(),
			    *other = connect_client();
	uint8_t data[4096];
	unsigned long long id;
	struct remote_chunk g;

	fill_random(data, sizeof(data), 12);
	cr_assert_eq(chunk_alloc(owner, sizeof(data), &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(owner, id, 0, data, sizeof(data)),
		     CHUNK_OK);
	g = grant_of(owner, id);
	/* The rkey is the owner's, in the owner's PD: useless elsewhere. */
	cr_assert_eq(raw_write(other, g.addr, g.rkey, 64), CHUNK_E_ACCESS);
	cr_assert_eq(chunk_seal(owner, id, sizeof(data),
				chunk_crc32c(0, data, sizeof(data))),
		     CHUNK_OK, "the content is what the owner wrote");
	chunk_client_disconnect(&owner);
	chunk_client_disconnect(&other);
}

static void *store_and_check(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct chunk_client *c = NULL;
	uint8_t *data = malloc(100000), *back = malloc(100000);

	if (!data || !back ||
	    chunk_client_connect(server.addr, PORT, NULL, &c) != CHUNK_OK)
		return (void *)"connect";
	for (int i = 0; i < 8; i++) {
		size_t len =
			1000 + (seed * 7919u + (unsigned)i * 104729u) % 99000;
		unsigned long long id;

		fill_random(data, len, seed * 100 + (unsigned)i);
		if (chunk_alloc(c, len, &id) ||
		    chunk_write_persist(c, id, 0, data, len) ||
		    chunk_seal(c, id, len, chunk_crc32c(0, data, len)) ||
		    chunk_read(c, id, 0, back, len) || memcmp(back, data, len))
			return (void *)"store or read back";
	}
	chunk_client_disconnect(&c);
	free(data);
	free(back);
	return NULL;
}

Test(datapath, four_concurrent_clients_store_their_own_chunks)
{
	pthread_t t[4];
	void *result;

	for (uintptr_t i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, store_and_check,
					    (void *)(i + 1)),
			     0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &result);
		cr_assert_null(result, "client %d failed: %s", i,
			       (const char *)result);
	}
}

/* A child that connects, allocates, tells its chunk id and writes until
 * it is killed. */
static pid_t start_doomed_writer(unsigned long long *id)
{
	int fds[2];
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct chunk_client *c = NULL;
		static uint8_t data[1 << 20];
		unsigned long long mine = 0;

		if (chunk_client_connect(server.addr, PORT, NULL, &c) ||
		    chunk_alloc(c, sizeof(data), &mine))
			_exit(1);
		if (write(fds[1], &mine, sizeof(mine)) != sizeof(mine))
			_exit(1);
		for (;;)
			chunk_write(c, mine, 0, data, sizeof(data));
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], id, sizeof(*id)), (ssize_t)sizeof(*id));
	close(fds[0]);
	return pid;
}

Test(datapath, a_client_killed_mid_write_loses_its_open_chunks_only)
{
	unsigned long long doomed;
	pid_t pid = start_doomed_writer(&doomed);
	struct chunk_client *c;
	uint8_t data[8192];
	unsigned long long kept;
	int rc = CHUNK_E_STATE;

	usleep(300000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	c = connect_client();
	/* chunkd sees the connection drop and reclaims the open chunk. */
	for (int i = 0; i < 100 && rc == CHUNK_E_STATE; i++) {
		rc = chunk_open(c, doomed, NULL);
		if (rc == CHUNK_E_STATE)
			usleep(100000);
	}
	cr_assert_eq(rc, CHUNK_E_NOENT, "the dead client's chunk: %s",
		     chunk_strerror(rc));
	kept = store(c, data, sizeof(data), 13);
	expect_content(c, kept, data, sizeof(data));
	cr_assert(chunkd_alive(&server));
	chunk_client_disconnect(&c);
}

/* A process that spins until killed, or until this test's process ends. */
static pid_t start_busy_process(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (volatile unsigned long spins = 0;; spins++)
			;
	}
	return pid;
}

/* Busy processes of normal priority on every CPU: chunkd's workers, at
 * SCHED_IDLE, get next to no CPU, until chunkd raises the thread of a
 * starved job. The seal (a worker reads and persists the whole chunk)
 * finishes in time. */
Test(datapath, a_seal_finishes_while_busy_processes_take_every_cpu)
{
	enum { BUSY_CHUNK = 16u << 20, MAX_BUSY = 64 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct chunk_client_opts o;
	struct chunk_client *c;
	uint8_t *data = malloc(BUSY_CHUNK);
	unsigned long long id;
	pid_t busy[MAX_BUSY];
	int n = cpus < 1 ? 1 : cpus > MAX_BUSY ? MAX_BUSY : (int)cpus, st;

	cr_assert_not_null(data);
	chunk_client_opts_init(&o);
	/* In the guest the seal took about 3 s with two busy processes, and
	 * about 50 s when chunkd may not raise its starved workers (run
	 * without CAP_SYS_NICE). */
	o.timeout_ms = 30000;
	c = connect_client_with(&o);
	fill_random(data, BUSY_CHUNK, 29);
	cr_assert_eq(chunk_alloc(c, BUSY_CHUNK, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, BUSY_CHUNK), CHUNK_OK);
	for (int i = 0; i < n; i++)
		busy[i] = start_busy_process();
	st = chunk_seal(c, id, BUSY_CHUNK, chunk_crc32c(0, data, BUSY_CHUNK));
	for (int i = 0; i < n; i++) {
		kill(busy[i], SIGKILL);
		waitpid(busy[i], NULL, 0);
	}
	cr_assert_eq(st, CHUNK_OK, "the seal, %d busy processes beside it: %s",
		     n, chunk_strerror(st));
	expect_content(c, id, data, 4096);
	chunk_client_disconnect(&c);
	free(data);
}

Test(datapath, chunkd_killed_and_restarted_keeps_every_acknowledged_seal)
{
	struct chunk_client *c = connect_client();
	static uint8_t data[20][6000];
	unsigned long long ids[20], open_id;

	for (int i = 0; i < 20; i++)
		ids[i] = store(c, data[i], sizeof(data[i]), 100 + (unsigned)i);
	cr_assert_eq(chunk_alloc(c, 4096, &open_id), CHUNK_OK);
	chunkd_kill(&server);
	chunk_client_disconnect(&c);
	chunkd_start(&server, CHUNKD_BINARY, pool, NULL, PORT, NULL);
	c = connect_client();
	for (int i = 0; i < 20; i++) {
		struct chunk_info info;

		cr_assert_eq(chunk_open(c, ids[i], &info), CHUNK_OK);
		cr_assert_eq(info.crc32c,
			     chunk_crc32c(0, data[i], sizeof(data[i])));
		expect_content(c, ids[i], data[i], sizeof(data[i]));
	}
	cr_assert_eq(chunk_open(c, open_id, NULL), CHUNK_E_NOENT,
		     "an unsealed chunk does not survive a restart");
	chunk_client_disconnect(&c);
}

Test(datapath, malformed_messages_and_abrupt_disconnects_leave_it_serving)
{
	struct chunk_client *c;
	uint8_t junk[PROTO_MAX_FRAME];
	uint8_t data[4096];

	/* Children first: a process with live RDMA resources should not fork.
	 */
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) { /* connect and vanish without a word */
			struct chunk_client *gone = NULL;
			unsigned long long id;

			if (chunk_client_connect(server.addr, PORT, NULL,
						 &gone) ||
			    chunk_alloc(gone, 4096, &id))
				_exit(1);
			_exit(0);
		}
		cr_assert_eq(wait_cmd(pid), 0, "child %d could not connect", i);
	}
	c = connect_client();
	fill_random(junk, sizeof(junk), 14);
	for (size_t len = 0; len <= 64; len += 7)
		cr_assert_eq(client_send_raw(c, junk, len), CHUNK_E_PROTO);
	cr_assert_eq(client_send_raw(c, junk, sizeof(junk)), CHUNK_E_PROTO);
	expect_content(c, store(c, data, sizeof(data), 15), data, sizeof(data));
	chunk_client_disconnect(&c);
	/* stop_server() checks that chunkd exits cleanly: under ASan, that
	 * includes no leaks. */
}

#ifndef DATAPATH_ON_DAX
/* A server that declares direct writes to pmem offers both methods. */
static void start_direct_server(void)
{
	static const char *const extra[] = {"--direct-write-to-pmem", NULL};

	chunkd_fresh_pool("direct", pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, "16M", PORT + 1, extra);
}

TestSuite(direct_write, .init = start_direct_server, .fini = stop_server,
	  .timeout = 300);

Test(direct_write, clients_pick_read_after_write_when_offered)
{
	struct chunk_client *fast = NULL, *rpc = NULL;
	struct chunk_client_opts only_rpc;
	uint8_t data[10000];
	unsigned long long id;

	cr_assert_eq(chunk_client_connect(server.addr, PORT + 1, NULL, &fast),
		     CHUNK_OK);
	cr_assert_eq(chunk_client_persist_method(fast),
		     CHUNK_PERSIST_READ_AFTER_WRITE);
	chunk_client_opts_init(&only_rpc);
	only_rpc.persist_methods = CHUNK_PERSIST_RPC;
	cr_assert_eq(
		chunk_client_connect(server.addr, PORT + 1, &only_rpc, &rpc),
		CHUNK_OK);
	cr_assert_eq(chunk_client_persist_method(rpc), CHUNK_PERSIST_RPC);
	id = store(fast, data, sizeof(data), 20);
	expect_content(rpc, id, data, sizeof(data));
	id = store(rpc, data, sizeof(data), 21);
	expect_content(fast, id, data, sizeof(data));
	chunk_client_disconnect(&fast);
	chunk_client_disconnect(&rpc);
}

Test(datapath, a_server_without_direct_writes_offers_only_persist_rpc)
{
	struct chunk_client *c = connect_client();

	cr_assert_eq(chunk_client_persist_method(c), CHUNK_PERSIST_RPC);
	chunk_client_disconnect(&c);
}
#else
/* No promise about the platform is needed: the device's FLUSH is it. */
Test(datapath, a_server_without_direct_writes_offers_native_flush_on_dax)
{
	struct chunk_client *c = connect_client();

	cr_assert_eq(chunk_client_persist_method(c),
		     CHUNK_PERSIST_NATIVE_FLUSH);
	chunk_client_disconnect(&c);
}
#endif

struct log_capture {
	int lines;
	char first[256];
};

static void capture_log(enum chunk_log_level level, const char *msg, void *arg)
{
	struct log_capture *cap = arg;

	if (level <= CHUNK_LOG_INFO && cap->lines++ == 0)
		snprintf(cap->first, sizeof(cap->first), "%s", msg);
}

Test(datapath, the_library_logs_through_the_applications_callback)
{
	struct log_capture cap = {0};
	struct chunk_client *c;

	chunk_log_set_function(capture_log, &cap, CHUNK_LOG_INFO);
	c = connect_client();
	chunk_log_set_function(NULL, NULL, CHUNK_LOG_ERROR);
	cr_assert_gt(cap.lines, 0, "nothing was logged");
	cr_assert(strstr(cap.first, "connected to"), "%s", cap.first);
	chunk_client_disconnect(&c);
}

static void capture_warning(enum chunk_log_level level, const char *msg,
			    void *arg)
{
	struct log_capture *cap = arg;

	if (level == CHUNK_LOG_WARN) {
		cap->lines++;
		snprintf(cap->first, sizeof(cap->first), "%s", msg);
	}
}

Test(datapath, an_alloc_larger_than_the_pool_is_nospc_with_the_reason_at_warn)
{
	struct chunk_client *c = connect_client();
	struct log_capture cap = {0};
	unsigned long long id = 0;
	int rc;

	chunk_log_set_function(capture_warning, &cap, CHUNK_LOG_WARN);
	rc = chunk_alloc(c, 1ull << 40, &id);
	chunk_log_set_function(NULL, NULL, CHUNK_LOG_ERROR);
	cr_assert_eq(rc, CHUNK_E_NOSPC, "%s", chunk_strerror(rc));
	cr_assert_eq(cap.lines, 1, "one warning, not %d", cap.lines);
	cr_assert(strstr(cap.first, "more than the whole pool"), "%s",
		  cap.first);
	cr_assert_eq(chunk_alloc(c, 4096, &id), CHUNK_OK,
		     "the session goes on");
	chunk_client_disconnect(&c);
}

Test(datapath, a_sealed_chunk_refuses_a_second_seal_and_writes_as_state)
{
	struct chunk_client *c = connect_client();
	uint8_t data[4096];
	unsigned long long id = store(c, data, sizeof(data), 9), len;

	cr_assert_eq(chunk_seal(c, id, sizeof(data),
				chunk_crc32c(0, data, sizeof(data))),
		     CHUNK_E_STATE, "a second seal");
	cr_assert_eq(chunk_write(c, id, 0, data, 16), CHUNK_E_STATE);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, 16), CHUNK_E_STATE);
	cr_assert_eq(chunk_persist(c, id, 0, 16), CHUNK_E_STATE);
	cr_assert_eq(chunk_granted_length(c, id, &len), CHUNK_E_STATE);
	cr_assert_eq(chunk_write(c, id + 1000, 0, data, 16), CHUNK_E_NOENT,
		     "a chunk the library never saw");
	chunk_client_disconnect(&c);
}

Test(datapath, the_granted_length_is_the_size_rounded_up_and_all_writable)
{
	struct chunk_client *c = connect_client();
	static uint8_t data[8192 + 1], back[8192];
	unsigned long long id, len = 0;

	fill_random(data, sizeof(data), 5);
	cr_assert_eq(chunk_alloc(c, 5000, &id), CHUNK_OK);
	cr_assert_eq(chunk_granted_length(c, id, &len), CHUNK_OK);
	cr_assert_eq(len, 8192, "5000 bytes at a 4 KiB granularity: %llu", len);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, len), CHUNK_OK,
		     "every granted byte is writable");
	cr_assert_eq(chunk_write(c, id, 0, data, len + 1), CHUNK_E_INVAL,
		     "one byte past the grant");
	cr_assert_eq(chunk_seal(c, id, len, chunk_crc32c(0, data, len)),
		     CHUNK_OK);
	cr_assert_eq(chunk_read(c, id, 0, back, sizeof(back)), CHUNK_OK);
	cr_assert_arr_eq(back, data, sizeof(back));
	cr_assert_eq(chunk_granted_length(c, 0, &len), CHUNK_E_NOENT);
	chunk_client_disconnect(&c);
}
