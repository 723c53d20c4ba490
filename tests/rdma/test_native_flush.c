/*
 * native-flush, the persistence method of IBTA 1.5 RDMA FLUSH, against a
 * real chunkd on device-DAX. Where the build has rdma-core's FLUSH and the
 * device reports FLUSH_PERSISTENT (the Debian 13 guest: rdma-core 56,
 * kernel 6.12), clients choose it; a chunk written and flushed survives a
 * chunkd SIGKILL and restart with its bytes; a FLUSH past a chunk's end
 * fails at the client with an access error and changes no byte. Where
 * either lacks (Debian 12), chunkd never offers it, and the client has no
 * queue pair that could FLUSH.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/chunkd_proc.h"
#include "chunkclient.h"
#include "client.h"

#define PORT 7570
#define LEN  (64u * 1024)

static struct chunkd_proc server;
static char pool[256];

/* Whether the first RDMA device reports FLUSH to persistence, asked here
 * on its own, apart from chunkd's and the library's checks. */
static bool device_flushes(void)
{
	bool yes = false;
#ifdef CHUNKD_NATIVE_FLUSH
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	struct ibv_context *ctx = n > 0 ? ibv_open_device(list[0]) : NULL;
	struct ibv_device_attr_ex attr;

	cr_assert_not_null(ctx, "no RDMA device: run in deploy/vm/run");
	yes = ibv_query_device_ex(ctx, NULL, &attr) == 0 &&
	      (attr.device_cap_flags_ex & IB_UVERBS_DEVICE_FLUSH_PERSISTENT);
	ibv_close_device(ctx);
	ibv_free_device_list(list);
#endif
	return yes;
}

static void start(void)
{
	chunkd_dax_pool(pool, sizeof(pool));
	chunkd_start(&server, CHUNKD_BINARY, pool, NULL, PORT, NULL);
}

static void stop(void)
{
	cr_assert_eq(chunkd_stop(&server), 0, "chunkd exits cleanly");
}

TestSuite(native_flush, .init = start, .fini = stop, .timeout = 300);

static struct chunk_client *connect_client(void)
{
	struct chunk_client *c = NULL;

	cr_assert_eq(chunk_client_connect(server.addr, PORT, NULL, &c),
		     CHUNK_OK);
	return c;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

/* A sealed chunk of len bytes of data, written and persisted by c. */
static unsigned long long store(struct chunk_client *c, const uint8_t *data,
				size_t len)
{
	unsigned long long id;

	cr_assert_eq(chunk_alloc(c, len, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, len), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, len, chunk_crc32c(0, data, len)),
		     CHUNK_OK);
	return id;
}

static void reads_back(struct chunk_client *c, unsigned long long id,
		       const uint8_t *want, size_t len)
{
	static uint8_t back[LEN];

	memset(back, 0, len);
	cr_assert_eq(chunk_read(c, id, 0, back, len), CHUNK_OK);
	cr_assert_eq(memcmp(back, want, len), 0, "chunk %llu differs", id);
}

Test(native_flush, chosen_exactly_where_the_platform_has_it)
{
	struct chunk_client *c = connect_client();
	bool expected = device_flushes();
	static uint8_t data[LEN];

	cr_log_info("built with FLUSH: %s; the device flushes: %s",
#ifdef CHUNKD_NATIVE_FLUSH
		    "yes",
#else
		    "no",
#endif
		    expected ? "yes" : "no");
	cr_assert_eq((c->sess.persist_offered & CHUNK_PERSIST_NATIVE_FLUSH) !=
			     0,
		     expected, "chunkd offers native-flush: %s",
		     expected ? "it should" : "it must not");
	cr_assert_eq(chunk_client_persist_method(c) ==
			     CHUNK_PERSIST_NATIVE_FLUSH,
		     expected);
	fill(data, LEN, 3);
	reads_back(c, store(c, data, LEN), data, LEN);
	chunk_client_disconnect(&c);
}

Test(native_flush, a_flushed_chunk_survives_a_kill)
{
	struct chunk_client *c = connect_client();
	static uint8_t data[LEN];
	unsigned long long id;

	cr_assert_eq(chunk_client_persist_method(c) ==
			     CHUNK_PERSIST_NATIVE_FLUSH,
		     device_flushes());
	fill(data, LEN, 5);
	id = store(c, data, LEN);
	chunk_client_disconnect(&c);
	chunkd_kill(&server);
	chunkd_start(&server, CHUNKD_BINARY, pool, NULL, PORT, NULL);
	c = connect_client();
	reads_back(c, id, data, LEN);
	chunk_client_disconnect(&c);
}

Test(native_flush, a_flush_past_the_chunk_end_fails_and_changes_nothing)
{
	struct chunk_client *c = connect_client();
	static uint8_t data[LEN];
	unsigned long long sealed, open_id;
	struct remote_chunk *rc;
	int st;

	fill(data, LEN, 7);
	sealed = store(c, data, LEN);
	cr_assert_eq(chunk_alloc(c, 4096, &open_id), CHUNK_OK);
	rc = chunk_cache_find(&c->cache, open_id);
	cr_assert_not_null(rc);
	st = client_post_flush(c, rc, 0, rc->length + 4096, WR_RDMA << 32,
			       NULL);
	if (!device_flushes()) {
		cr_assert_eq(st, CHUNK_E_INTERNAL,
			     "no queue pair here can FLUSH");
		chunk_client_disconnect(&c);
		return;
	}
	cr_assert_eq(st, CHUNK_OK, "posted");
	st = client_finish(c, client_wait_sends(c));
	cr_assert_eq(st, CHUNK_E_ACCESS, "the responder refused it: %s",
		     chunk_strerror(st));
	chunk_client_disconnect(&c);
	c = connect_client();
	reads_back(c, sealed, data, LEN);
	chunk_client_disconnect(&c);
}
