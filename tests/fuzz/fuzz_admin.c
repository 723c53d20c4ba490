/*
 * libFuzzer target for the admin socket's request lines: chunkctl is not
 * the only thing that may write to the socket. Every line gets exactly one
 * JSON object back, "ok" true or false, and chunkd's state stays whole: a
 * real pool (tmpfs), its table and a service with one session holding an
 * OPEN and a SEALED chunk, rebuilt whenever a line freed or revoked them.
 */
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/null_session.h"
#include "admin.h"
#include "scrubber.h"
#include "pool/pool.h"
#include "service/service.h"
#include "table/table_pmem.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pool *pool;
static struct table *table;
static struct service svc;
static struct session sess;
static struct admin *admin;
static struct scrubber *scrubber;
static uint32_t scrub_mb_s = 100;
static struct event_base *base;

static void cleanup(void)
{
	char path[64];

	admin_stop(&admin);
	scrubber_free(&scrubber);
	table_close(&table);
	pool_close(&pool);
	event_base_free(base);
	snprintf(path, sizeof(path), "/dev/shm/chunkd-fuzz-admin-%d.pool",
		 (int)getpid());
	unlink(path);
}

static bool collect(const struct table_record *rec, void *arg)
{
	uint64_t *ids = arg;

	if (ids[0] < 15)
		ids[++ids[0]] = rec->id;
	return true;
}

/* Starts again from a live session holding one OPEN and one SEALED chunk,
 * so that the lease and chunk commands find something to act on. */
static void populate(void)
{
	uint64_t ids[16] = {0};
	struct table_record rec;

	table_iterate(table, collect, ids);
	for (uint64_t i = 1; i <= ids[0]; i++)
		table_pmem_free(table, ids[i]);
	if (!service_find_session(&svc, sess.id))
		service_session_start(&svc, &sess, &null_session_ops, NULL);
	sess.greeted = true;
	sess.lease_deadline_us = svc.clock_us() + 10000000u;
	if (table_pmem_alloc(table, 4096, sess.id, sess.epoch, &rec) ||
	    table_pmem_alloc(table, 4096, sess.id, sess.epoch, &rec) ||
	    table_pmem_seal(table, rec.id, 100, 0, NULL))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char pool_path[64], sock_path[64];
	struct pool_opts po = {.path = pool_path, .create_size = 4u << 20};
	struct table_pmem_report rep;
	char err[512];

	(void)argc;
	(void)argv;
	snprintf(pool_path, sizeof(pool_path),
		 "/dev/shm/chunkd-fuzz-admin-%d.pool", (int)getpid());
	snprintf(sock_path, sizeof(sock_path), "/tmp/chunkd-fuzz-admin-%d.sock",
		 (int)getpid());
	unlink(pool_path);
	base = event_base_new();
	if (!base || pool_open(&po, &pool, err, sizeof(err)) ||
	    table_pmem_open(pool->base, &pool->geo, &pool->persist, &table,
			    &rep)) {
		fprintf(stderr, "fuzz_admin: %s\n", err);
		abort();
	}
	service_init(&svc, table, pool_chunk_area(pool), &pool->persist, 4096,
		     false, 10000);
	/* The loop never runs here, so a verify line starts one scrub (its
	 * worker checks the one sealed chunk) and later ones join it. */
	if (scrubber_new(base, table, pool_chunk_area(pool), &scrubber) ||
	    admin_start(base, sock_path,
			&(struct admin_target){&svc,
					       table,
					       pool,
					       pool_path,
					       NULL,
					       {scrubber, &scrub_mb_s}},
			&admin, err, sizeof(err))) {
		fprintf(stderr, "fuzz_admin: %s\n", err);
		abort();
	}
	populate();
	atexit(cleanup);
	return 0;
}

/* Whether a line changed what populate() set up. */
static bool disturbed(void)
{
	struct table_stats st;

	table_stats(table, &st);
	return st.open_chunks != 1 || st.sealed_chunks != 1 ||
	       !sess.lease_deadline_us;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), *reply;
	json_t *parsed;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	reply = admin_handle_line(admin, line);
	parsed = reply ? json_loads(reply, 0, NULL) : NULL;
	if (!json_is_boolean(json_object_get(parsed, "ok")) ||
	    strchr(reply, '\n'))
		abort(); /* one JSON object per line, always with "ok" */
	json_decref(parsed);
	free(reply);
	free(line);
	if (disturbed())
		populate();
	return 0;
}
