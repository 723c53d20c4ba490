/*
 * The data path end to end on a real RDMA device: chunkd serving a pool,
 * libchunkclient writing, persisting, sealing and reading chunks.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "chunkclient.h"
#include "client.h" /* internals, to post raw RDMA with a granted rkey */

#define PORT 7480

static struct chunkd_proc server;
static char pool[64];

static void start_server(void)
{
	snprintf(pool, sizeof(pool), "/dev/shm/chunkd-datapath-%d.pool",
		 (int)getpid());
	unlink(pool);
	chunkd_start(&server, CHUNKD_BINARY, pool, "64M", PORT, NULL);
}

static void stop_server(void)
{
	if (server.pid > 0)
		cr_expect_eq(chunkd_stop(&server), 0,
			     "chunkd did not exit cleanly (leak or crash?)");
	unlink(pool);
	unlink(server.log_path);
}

TestSuite(datapath, .init = start_server, .fini = stop_server, .timeout = 300);

static struct chunk_client *connect_client(void)
{
	struct chunk_client *c = NULL;
	int rc = chunk_client_connect(server.addr, PORT, NULL, &c);

	cr_assert_eq(rc, CHUNK_OK, "connect: %s", chunk_strerror(rc));
	return c;
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
	grant = *client_chunk(c, id);
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
