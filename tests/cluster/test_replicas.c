/*
 * Replicated chunks in the cluster's table, against a real 3-member etcd
 * (ctest's fixture; CHUNKD_TEST_ETCD): three chunkd tables in this process,
 * each over a pool of its own, as three servers would hold them. The
 * client's part (allocating and sealing the further copies on their
 * servers) is done here by hand, through the same table calls the service
 * makes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem_pool.h"
#include "../common/table_completion.h"
#include "cluster/cluster.h"
#include "cluster/cluster_keys.h"
#include "common/clock.h"
#include "table/table.h"

#define SERVERS	  3
#define POOL_SIZE (1u << 20)
#define GRAN	  4096u
#define WAIT_US	  (15 * 1000000ull)

struct server {
	struct mem_pool mp;
	struct pool pool;
	struct cluster *cl;
	struct table *t;
	char address[16];
};

static struct event_base *base;
static struct server srv[SERVERS];
static char prefix[64];

static void wait_for(struct completion *c)
{
	cr_assert_eq(run_until_completed(base, c, WAIT_US), 1,
		     "the change completed %d times", c->calls);
}

/* Joins s (its pool made already) to the cluster as name. */
static void rejoin(struct server *s, const char *name,
		   struct reconcile_report *rep)
{
	struct cluster_opts o = {.endpoints = getenv("CHUNKD_TEST_ETCD"),
				 .name = name,
				 .prefix = prefix,
				 .address = s->address,
				 .port = 7470,
				 .ttl_s = 5,
				 .timeout_ms = 2000};
	char err[512];

	cr_assert(o.endpoints && *o.endpoints,
		  "CHUNKD_TEST_ETCD is not set: this test needs the etcd "
		  "cluster ctest's fixture starts");
	cr_assert_eq(cluster_join(base, &o, &s->pool, &s->cl, &s->t, rep, err,
				  sizeof(err)),
		     0, "joining %s: %s", name, err);
}

static void join(struct server *s, const char *name)
{
	struct reconcile_report rep;

	cr_assert_eq(mem_pool_create(&s->mp, POOL_SIZE, GRAN, 64), 0);
	s->pool = (struct pool){.base = s->mp.image,
				.geo = s->mp.geo,
				.persist = s->mp.persist};
	rejoin(s, name, &rep);
}

/* Waits until the first server's membership shows all three. */
static void wait_for_members(void)
{
	uint64_t deadline = clock_mono_us() + WAIT_US;
	struct table_location loc;

	for (int i = 1; i < SERVERS; i++) {
		uint64_t probe =
			cluster_chunk_id(cluster_self(srv[i].cl)->node, 1);

		while (table_locate(srv[0].t, probe, &loc) != 0 &&
		       clock_mono_us() < deadline)
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		cr_assert_eq(table_locate(srv[0].t, probe, &loc), 0,
			     "server %d never showed up", i);
	}
}

static void setup(void)
{
	static const char *names[SERVERS] = {"ra", "rb", "rc"};

	base = event_base_new();
	snprintf(prefix, sizeof(prefix), "/replicas-%d-%u/", (int)getpid(),
		 (unsigned)(clock_mono_us() % 1000000));
	for (int i = 0; i < SERVERS; i++) {
		snprintf(srv[i].address, sizeof(srv[i].address), "10.0.0.%d",
			 i + 1);
		join(&srv[i], names[i]);
	}
	wait_for_members();
}

static void teardown(void)
{
	for (int i = 0; i < SERVERS; i++) {
		cluster_leave(&srv[i].cl);
		table_close(&srv[i].t);
		mem_pool_destroy(&srv[i].mp);
	}
	event_base_free(base);
}

TestSuite(replicas, .init = setup, .fini = teardown, .timeout = 90);

static int alloc_replica(struct server *s, unsigned copies, uint64_t copy_of,
			 struct table_result *res)
{
	struct table_alloc_args a = {.size = GRAN,
				     .session = 1,
				     .epoch = 1,
				     .copies = copies,
				     .copy_of = copy_of};
	struct completion c = {0};

	table_alloc_replica(s->t, &a, remember, &c);
	wait_for(&c);
	*res = c.res;
	return c.res.status;
}

static int seal(struct server *s, uint64_t id, uint32_t crc)
{
	struct completion c = {0};

	table_seal(s->t, id, GRAN, crc, remember, &c);
	wait_for(&c);
	return c.res.status;
}

static int seal_all(uint64_t id, uint32_t crc, const uint64_t *others,
		    unsigned count, struct table_result *res)
{
	struct completion c = {0};

	table_seal_replicated(srv[0].t, id, GRAN, crc, others, count, remember,
			      &c);
	wait_for(&c);
	*res = c.res;
	return c.res.status;
}

/* The server whose address the copy list names. */
static struct server *server_at(const struct table_copy *c)
{
	for (int i = 0; i < SERVERS; i++)
		if (!strcmp(srv[i].address, c->loc.address))
			return &srv[i];
	cr_assert_fail("no server at %s", c->loc.address);
	return NULL;
}

/* Allocates a chunk of 3 copies through server 0 and its further copies
 * where the table placed them; ids[0] is the chunk's. */
static void alloc_three(uint64_t ids[SERVERS])
{
	struct table_result first, copy;

	cr_assert_eq(alloc_replica(&srv[0], 3, 0, &first), 0);
	cr_assert_eq(first.copies.count, 2, "the other copies' servers");
	cr_assert_str_neq(first.copies.copy[0].loc.address,
			  first.copies.copy[1].loc.address);
	ids[0] = first.rec.id;
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_str_neq(first.copies.copy[i].loc.address,
				  srv[0].address, "a copy on the first server");
		cr_assert_eq(alloc_replica(server_at(&first.copies.copy[i]), 0,
					   ids[0], &copy),
			     0);
		ids[i + 1] = copy.rec.id;
	}
}

Test(replicas, a_chunk_is_sealed_once_every_copy_is)
{
	struct table_result res;
	struct table_record rec;
	struct completion c = {0};
	uint64_t ids[SERVERS];

	alloc_three(ids);
	for (int i = 1; i < SERVERS; i++)
		cr_assert_eq(
			seal(&srv[cluster_id_node(ids[i]) ==
						  cluster_self(srv[1].cl)->node
					  ? 1
					  : 2],
			     ids[i], 0xabc),
			0);
	cr_assert_eq(seal_all(ids[0], 0xabc, ids + 1, 2, &res), 0);
	cr_assert_eq(table_lookup(srv[0].t, ids[0], &rec), 0);
	cr_assert_eq(rec.state, TABLE_CHUNK_SEALED);
	table_copies(srv[1].t, ids[0], remember, &c);
	wait_for(&c);
	cr_assert_eq(c.res.status, 0);
	cr_assert_eq(c.res.copies.count, 3, "readers see every copy");
	for (int i = 0; i < SERVERS; i++)
		cr_assert_eq(c.res.copies.copy[i].id, ids[i]);
	cr_assert_str_eq(c.res.copies.copy[0].loc.address, srv[0].address);

	c = (struct completion){0};
	table_free(srv[0].t, ids[0], remember, &c);
	wait_for(&c);
	cr_assert_eq(c.res.status, 0);
	c = (struct completion){0};
	table_copies(srv[1].t, ids[0], remember, &c);
	wait_for(&c);
	cr_assert_eq(c.res.copies.count, 0, "freed: no copies to read");
}

Test(replicas, a_copy_that_differs_keeps_the_chunk_open)
{
	struct table_result res;
	struct table_record rec;
	uint64_t ids[SERVERS];
	struct server *second = NULL, *third = NULL;

	alloc_three(ids);
	for (int i = 1; i < SERVERS; i++) {
		struct server *s =
			cluster_id_node(ids[1]) == cluster_self(srv[i].cl)->node
				? &srv[i]
				: NULL;
		if (s)
			second = s;
		else
			third = &srv[i];
	}
	cr_assert(second && third);
	cr_assert_eq(seal(second, ids[1], 0xabc), 0);
	cr_assert_eq(seal(third, ids[2], 0xdef), 0, "sealed with another CRC");
	cr_assert_eq(seal_all(ids[0], 0xabc, ids + 1, 2, &res), -ENODATA);
	cr_assert_eq(res.bad_copy, ids[2], "the copy at fault is named");
	cr_assert_eq(table_lookup(srv[0].t, ids[0], &rec), 0);
	cr_assert_eq(rec.state, TABLE_CHUNK_OPEN, "the chunk stays open");
}

Test(replicas, a_copy_not_sealed_yet_is_refused)
{
	struct table_result res;
	uint64_t ids[SERVERS];

	alloc_three(ids);
	cr_assert_eq(seal_all(ids[0], 0xabc, ids + 1, 2, &res), -ENODATA);
	cr_assert_eq(res.bad_copy, ids[1]);
}

Test(replicas, wrong_counts_and_places_are_refused)
{
	struct table_result res;
	uint64_t ids[SERVERS], twice[2];

	cr_assert_eq(alloc_replica(&srv[0], 4, 0, &res), -EHOSTDOWN,
		     "4 copies on 3 servers");
	cr_assert_eq(alloc_replica(&srv[0], TABLE_MAX_COPIES + 1, 0, &res),
		     -EINVAL);
	cr_assert_eq(alloc_replica(&srv[0], 0,
				   ids[0] = cluster_chunk_id(
					   cluster_self(srv[0].cl)->node, 1),
				   &res),
		     -EINVAL, "a copy on its chunk's own server");
	alloc_three(ids);
	cr_assert_eq(seal_all(ids[0], 0xabc, ids + 1, 1, &res), -EINVAL,
		     "fewer copies than allocated");
	twice[0] = twice[1] = ids[1];
	cr_assert_eq(seal_all(ids[0], 0xabc, twice, 2, &res), -EINVAL,
		     "two copies on one server");
	cr_assert_eq(seal(&srv[0], ids[0], 0xabc), -EINVAL,
		     "a chunk of copies sealed as if it had one");
}

static int replace(struct server *s, uint64_t chunk, uint64_t lost,
		   uint64_t copy)
{
	struct completion c = {0};

	table_replace_copy(s->t, chunk, lost, copy, remember, &c);
	wait_for(&c);
	return c.res.status;
}

/* The server holding copy id. */
static struct server *holder_of(uint64_t id)
{
	for (int i = 0; i < SERVERS; i++)
		if (cluster_self(srv[i].cl) &&
		    cluster_self(srv[i].cl)->node == cluster_id_node(id))
			return &srv[i];
	cr_assert_fail("no server holds %llu", (unsigned long long)id);
	return NULL;
}

/* Stops s as a crash would leave it to the others: its registration
 * gone, its pool kept. */
static void stop_server(struct server *s)
{
	cluster_leave(&s->cl);
	table_close(&s->t);
}

/* Waits until server 0 no longer sees the node of id running. */
static void wait_gone(uint64_t id)
{
	uint64_t deadline = clock_mono_us() + WAIT_US;
	struct table_location loc;

	while (table_locate(srv[0].t, id, &loc) != -EHOSTDOWN &&
	       clock_mono_us() < deadline)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_eq(table_locate(srv[0].t, id, &loc), -EHOSTDOWN);
}

Test(replicas, a_repair_places_a_new_copy_and_the_old_one_is_reclaimed)
{
	struct table_result first, made;
	struct reconcile_report rep;
	struct completion c = {0};
	struct server *lost_at, *new_at = NULL;
	uint64_t chunk, lost, copy;
	char name[8];

	cr_assert_eq(alloc_replica(&srv[0], 2, 0, &first), 0);
	chunk = first.rec.id;
	cr_assert_eq(alloc_replica(server_at(&first.copies.copy[0]), 0, chunk,
				   &made),
		     0);
	lost = made.rec.id;
	lost_at = holder_of(lost);
	cr_assert_eq(seal(lost_at, lost, 0xabc), 0);
	cr_assert_eq(seal_all(chunk, 0xabc, &lost, 1, &first), 0);
	for (int i = 1; i < SERVERS; i++)
		if (&srv[i] != lost_at)
			new_at = &srv[i];

	/* The new copy is made while the old one's server still runs. */
	cr_assert_eq(alloc_replica(new_at, 0, chunk, &made), 0);
	copy = made.rec.id;
	cr_assert_eq(seal(new_at, copy, 0xabc), 0);
	cr_assert_eq(replace(&srv[0], chunk, lost, copy), -EBUSY,
		     "a copy on a running server is not replaced");
	snprintf(name, sizeof(name), "r%c", "abc"[lost_at - srv]);
	stop_server(lost_at);
	wait_gone(lost);
	cr_assert_eq(replace(&srv[0], chunk, copy, lost), -EINVAL,
		     "the new copy is not the chunk's yet");
	cr_assert_eq(replace(&srv[0], chunk, lost, copy), 0);
	cr_assert_eq(replace(&srv[0], chunk, lost, copy), -EINVAL,
		     "a second repair of the same loss changes nothing");
	table_copies(srv[0].t, chunk, remember, &c);
	wait_for(&c);
	cr_assert_eq(c.res.copies.count, 2);
	cr_assert_eq(c.res.copies.copy[0].id, chunk);
	cr_assert_eq(c.res.copies.copy[1].id, copy, "the new copy is placed");

	/* The old copy's server returns: its copy's record is gone, so
	 * reconciliation frees the copy instead of serving it again. */
	rejoin(lost_at, name, &rep);
	cr_assert_eq(rep.reclaimed, 1, "the stale copy is reclaimed");
	cr_assert_eq(table_lookup(lost_at->t, lost, &first.rec), -ENOENT);
}
