/*
 * Leases against a real chunkd with a 1 s lease: a client that stops
 * renewing loses its OPEN chunks (not its SEALED ones) and its stale epoch
 * is refused; the library's renewer keeps a quiet client's chunks alive.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

#include "../common/chunkd_proc.h"
#include "chunkclient.h"

#define PORT 7500

static struct chunkd_proc server;
static char pool[64];

static void setup(void)
{
	static const char *const extra[] = {"--lease-ttl-ms", "1000", NULL};

	snprintf(pool, sizeof(pool), "/dev/shm/chunkd-lease-%d.pool",
		 (int)getpid());
	unlink(pool);
	chunkd_start(&server, CHUNKD_BINARY, pool, "32M", PORT, extra);
}

static void teardown(void)
{
	cr_expect_eq(chunkd_stop(&server), 0, "chunkd did not exit cleanly");
	unlink(pool);
	unlink(server.log_path);
}

TestSuite(lease, .init = setup, .fini = teardown, .timeout = 300);

static struct chunk_client *connect_renewing(bool renew)
{
	struct chunk_client_opts o;
	struct chunk_client *c = NULL;

	chunk_client_opts_init(&o);
	o.renew_lease = renew;
	cr_assert_eq(chunk_client_connect(server.addr, PORT, &o, &c), CHUNK_OK);
	return c;
}

static unsigned long long store(struct chunk_client *c, uint8_t *data,
				size_t len)
{
	unsigned long long id;

	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	cr_assert_eq(chunk_alloc(c, len, &id), CHUNK_OK);
	cr_assert_eq(chunk_write_persist(c, id, 0, data, len), CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, len, chunk_crc32c(0, data, len)),
		     CHUNK_OK);
	return id;
}

Test(lease, a_silent_client_loses_open_chunks_and_keeps_sealed_ones)
{
	struct chunk_client *quiet = connect_renewing(false);
	struct chunk_client *other = connect_renewing(true);
	uint8_t data[8192], back[8192];
	unsigned long long open_id, sealed_id;

	sealed_id = store(quiet, data, sizeof(data));
	cr_assert_eq(chunk_alloc(quiet, 4096, &open_id), CHUNK_OK);
	cr_assert_eq(chunk_write(quiet, open_id, 0, data, 4096), CHUNK_OK);
	sleep(3); /* three TTLs without a word */
	cr_assert_eq(chunk_write(quiet, open_id, 0, data, 4096), CHUNK_E_ACCESS,
		     "the expired lease's write rkey is revoked");
	cr_assert_eq(chunk_open(other, open_id, NULL), CHUNK_E_NOENT,
		     "its open chunk was reclaimed");
	cr_assert_eq(chunk_read(other, sealed_id, 0, back, sizeof(back)),
		     CHUNK_OK, "its sealed chunk stays");
	cr_assert_arr_eq(back, data, sizeof(back));
	chunk_client_disconnect(&quiet);
	chunk_client_disconnect(&other);
}

Test(lease, a_stale_epoch_is_refused_and_the_client_moves_on)
{
	struct chunk_client *quiet = connect_renewing(false);
	unsigned long long id;

	cr_assert_eq(chunk_alloc(quiet, 4096, &id), CHUNK_OK);
	sleep(3);
	cr_assert_eq(chunk_alloc(quiet, 4096, &id), CHUNK_E_STALE,
		     "a request under the lost lease's epoch");
	cr_assert_eq(chunk_alloc(quiet, 4096, &id), CHUNK_OK,
		     "the library took the new epoch");
	chunk_client_disconnect(&quiet);
}

Test(lease, the_renewer_keeps_a_quiet_clients_chunks)
{
	struct chunk_client *c = connect_renewing(true);
	uint8_t data[4096];
	unsigned long long id;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	cr_assert_eq(chunk_alloc(c, sizeof(data), &id), CHUNK_OK);
	sleep(3); /* the library renews in the background meanwhile */
	cr_assert_eq(chunk_write_persist(c, id, 0, data, sizeof(data)),
		     CHUNK_OK);
	cr_assert_eq(chunk_seal(c, id, sizeof(data),
				chunk_crc32c(0, data, sizeof(data))),
		     CHUNK_OK);
	chunk_client_disconnect(&c);
}
