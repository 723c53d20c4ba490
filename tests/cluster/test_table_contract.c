/*
 * The allocation table's contract, run against each backend: built once
 * over the pool's own pmem table (cluster_table_pmem) and once with
 * CONTRACT_ETCD over the cluster's table in a real 3-member etcd
 * (cluster_table_etcd: ctest's fixture starts the cluster and passes its
 * endpoints in CHUNKD_TEST_ETCD). Every case goes through the asynchronous
 * table.h calls and waits for their completion on an event loop.
 *
 * The cases at the end, for the etcd backend only, check what lands in
 * etcd and how a restart reconciles the pool with it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem_pool.h"
#include "../common/table_completion.h"
#include "common/clock.h"
#include "table/table_pmem.h"
#ifdef CONTRACT_ETCD
#include "cluster/chunk_record.h"
#include "cluster/cluster.h"
#include "cluster/table_etcd.h"
#include "etcd/etcd_json.h"
#include "../common/answer_thief.h"
#endif

#define POOL_SIZE (1u << 20)
#define GRAN	  4096u
#define SLOTS	  64u
#define WAIT_US	  (15 * 1000000ull) /* a change that takes longer hangs */

static struct mem_pool mp;
static struct event_base *base;
static struct table *t;

/* Runs the loop until c completes; a change must not hang. */
static void wait_for(struct completion *c)
{
	cr_assert_eq(run_until_completed(base, c, WAIT_US), 1,
		     "the change completed %d times", c->calls);
}

#ifdef CONTRACT_ETCD
static struct cluster *cl;
static struct pool fake_pool;
static char prefix[64];
static struct reconcile_report recon;
static struct answer_thief *thief; /* when the table joins through one */
static char thief_endpoint[64];

static const char *endpoints(void)
{
	const char *e = getenv("CHUNKD_TEST_ETCD");

	cr_assert(e && *e, "CHUNKD_TEST_ETCD is not set: this test needs the "
			   "etcd cluster ctest's fixture starts");
	return e;
}

static void open_table(void)
{
	struct cluster_opts o = {.endpoints =
					 thief ? thief_endpoint : endpoints(),
				 .name = "contract",
				 .prefix = prefix,
				 .address = "127.0.0.1",
				 .port = 7470,
				 .ttl_s = 5,
				 .timeout_ms = 2000};
	char err[512];

	fake_pool = (struct pool){
		.base = mp.image, .geo = mp.geo, .persist = mp.persist};
	cr_assert_eq(cluster_join(base, &o, &fake_pool, &cl, &t, &recon, err,
				  sizeof(err)),
		     0, "joining: %s", err);
}

static void close_table(void)
{
	cluster_leave(&cl);
	table_close(&t);
	answer_thief_stop(&thief);
}
#else
static void open_table(void)
{
	struct table_pmem_report rep;

	cr_assert_eq(table_pmem_open(mp.image, &mp.geo, &mp.persist, &t, &rep),
		     0);
}

static void close_table(void)
{
	table_close(&t);
}
#endif

static void setup(void)
{
	base = event_base_new();
	cr_assert(base);
	cr_assert_eq(mem_pool_create(&mp, POOL_SIZE, GRAN, SLOTS), 0);
#ifdef CONTRACT_ETCD
	snprintf(prefix, sizeof(prefix), "/contract-%d-%u/", (int)getpid(),
		 (unsigned)(clock_mono_us() % 1000000));
#endif
	open_table();
}

static void teardown(void)
{
	close_table();
	mem_pool_destroy(&mp);
	event_base_free(base);
}

static void reopen(void)
{
	close_table();
	open_table();
}

/* ---- the calls, waited for ---- */

static int alloc(uint64_t size, uint64_t session, uint32_t epoch,
		 struct table_record *rec)
{
	struct completion c = {0};

	table_alloc(t, size, session, epoch, remember, &c);
	wait_for(&c);
	if (rec)
		*rec = c.res.rec;
	return c.res.status;
}

static int seal(uint64_t id, uint64_t len, uint32_t crc)
{
	struct completion c = {0};

	table_seal(t, id, len, crc, remember, &c);
	wait_for(&c);
	if (c.res.status == 0) {
		cr_assert_eq(c.res.rec.id, id);
		cr_assert_eq(c.res.rec.state, TABLE_CHUNK_SEALED);
	}
	return c.res.status;
}

static int free_chunk(uint64_t id)
{
	struct completion c = {0};

	table_free(t, id, remember, &c);
	wait_for(&c);
	return c.res.status;
}

static uint64_t reclaim(uint64_t session, uint32_t epoch)
{
	struct completion c = {0};

	table_reclaim(t, session, epoch, remember, &c);
	wait_for(&c);
	cr_assert_eq(c.res.status, 0);
	return c.res.count;
}

TestSuite(contract, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the contract ---- */

Test(contract, alloc_grants_aligned_disjoint_chunks_with_new_ids)
{
	struct table_record a, b, got;

	cr_assert_eq(alloc(5000, 7, 1, &a), 0);
	cr_assert_eq(alloc(1, 7, 1, &b), 0);
	cr_assert_eq(a.length, 2 * GRAN, "rounded up to whole granules");
	cr_assert_eq(b.length, GRAN);
	cr_assert_eq(a.offset % GRAN, 0);
	cr_assert(b.offset >= a.offset + a.length ||
		  a.offset >= b.offset + b.length);
	cr_assert_gt(b.id, a.id);
	cr_assert_eq(a.state, TABLE_CHUNK_OPEN);
	cr_assert_eq(a.session, 7);
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.offset, a.offset);
	cr_assert_eq(got.state, TABLE_CHUNK_OPEN);
}

Test(contract, seal_records_length_and_crc)
{
	struct table_record a, got;

	cr_assert_eq(alloc(GRAN, 1, 3, &a), 0);
	cr_assert_eq(seal(a.id, 100, 0xabcdef01), 0);
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.state, TABLE_CHUNK_SEALED);
	cr_assert_eq(got.sealed_len, 100);
	cr_assert_eq(got.crc, 0xabcdef01);
	cr_assert_eq(got.epoch, 3);
}

Test(contract, seal_refuses_unknown_sealed_and_overlong)
{
	struct table_record a, got;

	cr_assert_eq(seal(a.id = 999, 1, 0), -ENOENT);
	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(seal(a.id, GRAN + 1, 0), -EINVAL);
	cr_assert_eq(seal(a.id, GRAN, 5), 0);
	cr_assert_eq(seal(a.id, GRAN, 5), -EALREADY);
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.crc, 5, "a refused seal changed nothing");
}

Test(contract, free_makes_space_and_id_unknown)
{
	struct table_record a, b;
	struct table_stats st;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(alloc(GRAN, 1, 1, &b), 0);
	cr_assert_eq(seal(b.id, 10, 1), 0);
	cr_assert_eq(free_chunk(a.id), 0, "an OPEN chunk");
	cr_assert_eq(free_chunk(b.id), 0, "a SEALED chunk");
	cr_assert_eq(table_lookup(t, a.id, &a), -ENOENT);
	cr_assert_eq(free_chunk(b.id), -ENOENT);
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, 0);
	cr_assert_eq(st.free_bytes, st.area_bytes);
	cr_assert_eq(st.open_chunks + st.sealed_chunks, 0);
}

Test(contract, refuses_zero_oversized_and_what_does_not_fit)
{
	struct table_record a;
	struct table_stats st;
	uint64_t n = 0;

	table_stats(t, &st);
	cr_assert_eq(alloc(0, 1, 1, &a), -EINVAL);
	cr_assert_eq(alloc(st.area_bytes + 1, 1, 1, &a), -EFBIG);
	while (alloc(GRAN, 1, 1, &a) == 0)
		n++;
	cr_assert_eq(alloc(GRAN, 1, 1, &a), -ENOSPC);
	cr_assert_eq(n, st.area_bytes / GRAN < SLOTS ? st.area_bytes / GRAN
						     : SLOTS);
}

Test(contract, reclaim_frees_only_that_sessions_open_chunks)
{
	struct table_record a, b, c, got;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(alloc(GRAN, 1, 1, &b), 0);
	cr_assert_eq(alloc(GRAN, 2, 1, &c), 0);
	cr_assert_eq(seal(b.id, 10, 1), 0);
	cr_assert_eq(reclaim(1, UINT32_MAX), 1);
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT);
	cr_assert_eq(table_lookup(t, b.id, &got), 0,
		     "sealed chunks outlive their session");
	cr_assert_eq(table_lookup(t, c.id, &got), 0);
	cr_assert_eq(reclaim(9, 1), 0, "a session with nothing");
}

/* The etcd backend starts one transaction per chunk at once. */
Test(contract, reclaim_frees_many_chunks_at_once)
{
	struct table_record a;
	struct table_stats st;

	for (int i = 0; i < 40; i++)
		cr_assert_eq(alloc(GRAN, 5, 1, &a), 0);
	cr_assert_eq(reclaim(5, 1), 40);
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, 0);
}

Test(contract, reclaim_spares_chunks_of_a_later_epoch)
{
	struct table_record old, later, got;

	cr_assert_eq(alloc(GRAN, 1, 1, &old), 0);
	cr_assert_eq(alloc(GRAN, 1, 2, &later), 0);
	cr_assert_eq(reclaim(1, 1), 1);
	cr_assert_eq(table_lookup(t, old.id, &got), -ENOENT);
	cr_assert_eq(table_lookup(t, later.id, &got), 0,
		     "allocated under the new lease: kept");
}

Test(contract, reopen_keeps_sealed_drops_open_and_never_reuses_ids)
{
	struct table_record a, b, c, got;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(alloc(3 * GRAN, 1, 1, &b), 0);
	cr_assert_eq(seal(b.id, 3 * GRAN, 0x1234), 0);
	cr_assert_eq(alloc(GRAN, 1, 1, &c), 0);
	cr_assert_eq(free_chunk(c.id), 0); /* the highest id is freed */
	reopen();
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT);
	cr_assert_eq(table_lookup(t, b.id, &got), 0);
	cr_assert_eq(got.crc, 0x1234);
	cr_assert_eq(got.offset, b.offset);
	cr_assert_eq(alloc(GRAN, 1, 1, &got), 0);
	cr_assert_gt(got.id, c.id, "id %llu was handed out again",
		     (unsigned long long)got.id);
}

static bool count_visit(const struct table_record *rec, void *arg)
{
	uint64_t *n = arg;

	n[rec->state == TABLE_CHUNK_SEALED]++;
	return true;
}

Test(contract, iterate_and_stats_show_every_live_chunk)
{
	struct table_record a, b, got;
	struct table_stats st;
	uint64_t n[2] = {0, 0};

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(alloc(2 * GRAN, 1, 1, &b), 0);
	cr_assert_eq(seal(b.id, 1, 1), 0);
	table_iterate(t, count_visit, n);
	cr_assert_eq(n[0], 1);
	cr_assert_eq(n[1], 1);
	table_stats(t, &st);
	cr_assert_eq(st.open_chunks, 1);
	cr_assert_eq(st.sealed_chunks, 1);
	cr_assert_eq(st.used_bytes, 3 * GRAN);
	cr_assert_eq(table_lookup(t, b.id + 1000, &got), -ENOENT);
}

#ifdef CONTRACT_ETCD
/* ---- what lands in etcd, and reconciliation ---- */

/* A client of our own, on a loop of its own, to look behind chunkd. */
static int etcd_direct(const char *path, json_t *req, json_t **body)
{
	struct event_base *b = event_base_new();
	struct etcd *e = NULL;
	char err[512];
	int rc;

	cr_assert_eq(etcd_new(b, endpoints(), 3000, &e, err, sizeof(err)), 0);
	rc = etcd_call_wait(e, path, req, body, NULL, NULL, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	etcd_free(&e);
	event_base_free(b);
	return rc;
}

/* The record etcd holds for chunk id: 0, or -ENOENT. */
static int etcd_record(uint64_t id, struct chunk_record *cr, int64_t *lease)
{
	char key[CLUSTER_KEY_MAX];
	json_t *body = NULL, *kvs;
	struct etcd_kv kv;
	int rc = -ENOENT;

	cluster_key_chunk(key, sizeof(key), prefix, id);
	etcd_direct("/v3/kv/range", etcd_json_range_key(key), &body);
	kvs = etcd_json_kvs(body);
	if (kvs && json_array_size(kvs) == 1) {
		cr_assert_eq(etcd_json_kv(json_array_get(kvs, 0), &kv), 0);
		cr_assert_eq(chunk_record_decode(kv.value, cr), 0, "%s",
			     kv.value);
		*lease = kv.lease;
		rc = 0;
	}
	json_decref(body);
	return rc;
}

static void etcd_delete(uint64_t id)
{
	char key[CLUSTER_KEY_MAX];
	json_t *body = NULL;

	cluster_key_chunk(key, sizeof(key), prefix, id);
	etcd_direct("/v3/kv/deleterange", etcd_json_range_key(key), &body);
	json_decref(body);
}

static void etcd_put_record(const struct chunk_record *cr)
{
	char key[CLUSTER_KEY_MAX];
	char *value = chunk_record_encode(cr);
	json_t *body = NULL;

	cluster_key_chunk(key, sizeof(key), prefix, cr->rec.id);
	etcd_direct("/v3/kv/txn",
		    etcd_json_txn(
			    NULL,
			    etcd_json_list(etcd_json_put(key, value, 0), NULL),
			    NULL),
		    &body);
	free(value);
	json_decref(body);
}

Test(contract, records_in_etcd_follow_the_table)
{
	struct table_record a;
	struct chunk_record cr;
	int64_t lease = 0;

	cr_assert_eq(alloc(GRAN, 4, 2, &a), 0);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), 0);
	cr_assert_eq(cr.rec.state, TABLE_CHUNK_OPEN);
	cr_assert_eq(cr.rec.offset, a.offset);
	cr_assert_eq(cr.rec.length, a.length);
	cr_assert_eq(cr.rec.session, 4);
	cr_assert_str_eq(cr.server, "contract");
	cr_assert_eq(lease, cluster_self(cl)->lease,
		     "an OPEN record lives under the chunkd's lease");
	cr_assert_eq(seal(a.id, 77, 0x55), 0);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), 0);
	cr_assert_eq(cr.rec.state, TABLE_CHUNK_SEALED);
	cr_assert_eq(cr.rec.sealed_len, 77);
	cr_assert_eq(cr.rec.crc, 0x55);
	cr_assert_eq(lease, 0, "a SEALED record outlives every lease");
	cr_assert_eq(free_chunk(a.id), 0);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), -ENOENT);
}

Test(contract, ids_are_unique_across_pools)
{
	struct table_record a;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(cluster_id_node(a.id), cluster_self(cl)->node);
	cr_assert_gt(cluster_self(cl)->node, 0);
}

/* A record that vanished (the chunkd's lease expired) fences the seal off;
 * the session's reclaim still frees the space. */
Test(contract, a_seal_whose_open_record_vanished_is_stale)
{
	struct table_record a, got;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	etcd_delete(a.id);
	cr_assert_eq(seal(a.id, 10, 1), -ESTALE);
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.state, TABLE_CHUNK_OPEN, "the pool did not seal it");
	cr_assert_eq(reclaim(1, 1), 1);
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT);
}

/* chunkd died between etcd's commit of a seal and the pool's record of
 * it: the restart seals it in the pool. */
Test(contract, restart_seals_what_etcd_sealed)
{
	struct table_record a, got;
	struct chunk_record cr;
	int64_t lease;

	cr_assert_eq(alloc(2 * GRAN, 1, 1, &a), 0);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), 0);
	cr.rec.state = TABLE_CHUNK_SEALED;
	cr.rec.sealed_len = 1000;
	cr.rec.crc = 0xfeed;
	etcd_put_record(&cr);
	reopen();
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.state, TABLE_CHUNK_SEALED);
	cr_assert_eq(got.sealed_len, 1000);
	cr_assert_eq(got.crc, 0xfeed);
	cr_assert_eq(recon.kept, 1);
	cr_assert_eq(free_chunk(a.id), 0, "its revision is known");
}

/* chunkd died between etcd's delete and the pool's free. */
Test(contract, restart_reclaims_what_etcd_does_not_know)
{
	struct table_record a, got;
	struct table_stats st;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(seal(a.id, 10, 1), 0);
	etcd_delete(a.id);
	reopen();
	cr_assert_eq(recon.reclaimed, 1);
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT);
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, 0);
}

/* A record etcd holds that the pool lacks is reported, never dropped. */
Test(contract, restart_reports_what_the_pool_lacks)
{
	struct table_record a;
	struct chunk_record cr, got;
	int64_t lease;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(seal(a.id, 10, 1), 0);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), 0);
	cr.rec.id = a.id + 100;
	cr.rec.offset += GRAN;
	etcd_put_record(&cr);
	reopen();
	cr_assert_eq(recon.missing, 1);
	cr_assert_eq(recon.kept, 1);
	cr_assert_eq(etcd_record(a.id + 100, &got, &lease), 0,
		     "the record is still there");
}

/* A chunk of another pool: its server, once the watch has seen it. */
Test(contract, locate_names_the_server_of_another_pools_chunk)
{
	struct cluster_opts o = {.endpoints = endpoints(),
				 .name = "other",
				 .prefix = prefix,
				 .address = "10.1.2.3",
				 .port = 7999,
				 .ttl_s = 5,
				 .timeout_ms = 2000};
	struct table_location loc;
	struct cluster *c2 = NULL;
	struct table *t2 = NULL;
	struct mem_pool other;
	struct pool p2;
	struct table_record a;
	uint64_t node2, deadline = clock_mono_us() + 10 * 1000000ull;
	char err[512];
	int rc;

	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(table_locate(t, a.id, &loc), -ENOENT, "this pool's");
	cr_assert_eq(mem_pool_create(&other, POOL_SIZE, GRAN, SLOTS), 0);
	p2 = (struct pool){.base = other.image,
			   .geo = other.geo,
			   .persist = other.persist};
	cr_assert_eq(
		cluster_join(base, &o, &p2, &c2, &t2, &recon, err, sizeof(err)),
		0, "%s", err);
	node2 = cluster_self(c2)->node;
	cr_assert_neq(node2, cluster_self(cl)->node);
	while ((rc = table_locate(t, cluster_chunk_id((uint32_t)node2, 1),
				  &loc)) != 0 &&
	       clock_mono_us() < deadline)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_eq(rc, 0, "the watch never showed the other member");
	cr_assert_str_eq(loc.address, "10.1.2.3");
	cr_assert_eq(loc.port, 7999);
	cr_assert_eq(
		table_locate(t, cluster_chunk_id((uint32_t)node2 + 1, 1), &loc),
		-EHOSTDOWN, "a node no running chunkd serves");
	cluster_leave(&c2);
	table_close(&t2);
	mem_pool_destroy(&other);
}

Test(contract, joining_an_unreachable_etcd_fails_with_a_reason)
{
	struct cluster_opts o = {.endpoints = "http://127.0.0.1:1",
				 .name = "nobody",
				 .prefix = prefix,
				 .address = "127.0.0.1",
				 .port = 7470,
				 .ttl_s = 5,
				 .timeout_ms = 500};
	struct cluster *c2 = NULL;
	struct table *t2 = NULL;
	struct mem_pool other;
	struct pool p2;
	char err[512] = "";

	cr_assert_eq(mem_pool_create(&other, POOL_SIZE, GRAN, SLOTS), 0);
	p2 = (struct pool){.base = other.image,
			   .geo = other.geo,
			   .persist = other.persist};
	cr_assert_neq(
		cluster_join(base, &o, &p2, &c2, &t2, &recon, err, sizeof(err)),
		0);
	cr_assert(strstr(err, "127.0.0.1:1"), "the reason: %s", err);
	cr_assert_null(c2);
	mem_pool_destroy(&other);
}

/* ---- answers lost after etcd applied the change ---- */

/* Joins again through a relay to the first member that can drop etcd's
 * answers to transactions (tests/common/answer_thief.h). */
static void reopen_through_thief(void)
{
	char first[128];

	close_table();
	snprintf(first, sizeof(first), "%s", endpoints());
	first[strcspn(first, ",")] = '\0';
	thief = answer_thief_start(first, thief_endpoint,
				   sizeof(thief_endpoint));
	open_table();
}

/* Runs the loop until the table has nothing waiting for etcd. */
static void wait_settled(void)
{
	uint64_t deadline = clock_mono_us() + WAIT_US;

	while (table_etcd_backlog(t) && clock_mono_us() < deadline)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_eq(table_etcd_backlog(t), 0, "a doomed chunk never settled");
}

/* Every answer to a free lost, the first delete applied: the free fails
 * as unreachable, the chunk is gone at once, and its space comes back
 * once etcd answers and shows the record gone. */
Test(contract, a_free_whose_answers_are_lost_completes_later)
{
	struct table_record a, got;
	struct chunk_record cr;
	struct table_stats st;
	int64_t lease;

	reopen_through_thief();
	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	cr_assert_eq(seal(a.id, 10, 7), 0);
	answer_thief_steal(thief, true);
	cr_assert_eq(free_chunk(a.id), -EHOSTUNREACH);
	cr_assert_geq(answer_thief_stolen(thief), 1);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), -ENOENT,
		     "etcd applied the delete whose answer was lost");
	cr_assert_eq(table_lookup(t, a.id, &got), -ENOENT,
		     "the chunk is gone at once");
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, GRAN, "its space waits for etcd");
	cr_assert_eq(table_etcd_backlog(t), 1);
	answer_thief_steal(thief, false);
	wait_settled();
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, 0, "the pool freed it once etcd answered");
	cr_assert_eq(st.sealed_chunks + st.open_chunks, 0);
}

/* Every answer to a seal lost, the first put applied: the seal fails as
 * unreachable and the pool keeps the chunk OPEN; the same seal again
 * succeeds, a different one is stale. */
Test(contract, a_seal_whose_answers_are_lost_can_be_sealed_again)
{
	struct table_record a, got;
	struct chunk_record cr;
	int64_t lease;

	reopen_through_thief();
	cr_assert_eq(alloc(GRAN, 1, 1, &a), 0);
	answer_thief_steal(thief, true);
	cr_assert_eq(seal(a.id, 10, 7), -EHOSTUNREACH);
	cr_assert_geq(answer_thief_stolen(thief), 1);
	answer_thief_steal(thief, false);
	cr_assert_eq(etcd_record(a.id, &cr, &lease), 0);
	cr_assert_eq(cr.rec.state, TABLE_CHUNK_SEALED,
		     "etcd applied the seal whose answer was lost");
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.state, TABLE_CHUNK_OPEN, "the pool waits");
	cr_assert_eq(seal(a.id, 10, 8), -ESTALE, "another seal's CRC");
	cr_assert_eq(seal(a.id, 10, 7), 0, "the same seal again");
	cr_assert_eq(table_lookup(t, a.id, &got), 0);
	cr_assert_eq(got.state, TABLE_CHUNK_SEALED);
	cr_assert_eq(got.crc, 7);
	cr_assert_eq(free_chunk(a.id), 0, "its revision is known");
}

/* The answer to an alloc lost, its put applied: the alloc fails, and its
 * space is held until the record is deleted. */
Test(contract, an_alloc_whose_answer_is_lost_gives_its_space_back_later)
{
	struct table_record got;
	struct chunk_record cr;
	struct table_stats st;
	struct completion c = {0};
	int64_t lease;
	uint64_t id;

	reopen_through_thief();
	table_stats(t, &st);
	id = st.next_id;
	answer_thief_steal(thief, true);
	table_alloc(t, GRAN, 1, 1, remember, &c);
	wait_for(&c);
	cr_assert_eq(c.res.status, -EHOSTUNREACH);
	answer_thief_steal(thief, false);
	cr_assert_eq(etcd_record(id, &cr, &lease), 0,
		     "etcd applied the put whose answer was lost");
	cr_assert_eq(table_lookup(t, id, &got), -ENOENT);
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, GRAN, "its space waits for etcd");
	wait_settled();
	cr_assert_eq(etcd_record(id, &cr, &lease), -ENOENT);
	table_stats(t, &st);
	cr_assert_eq(st.used_bytes, 0);
}
#endif
