/*
 * A connection's capabilities (transport/rdma_caps.c) with fake memory
 * registration: ibv_reg_mr and ibv_dereg_mr below stand in for
 * libibverbs's (this executable's definitions win over the library's),
 * count what is live, and can be made slow, as pinning a large chunk is.
 * The real verbs run in the rdma suite.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <infiniband/verbs.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "transport/rdma_caps.h"
#include "workers/workers.h"

static atomic_int live_mrs, next_rkey = 100;
static atomic_int reg_delay_us, dereg_delay_us, pds_freed;
static atomic_bool dereg_gate_closed; /* deregistrations wait while set */

static struct ibv_mr *fake_reg(struct ibv_pd *pd, void *addr, size_t len)
{
	struct ibv_mr *mr = calloc(1, sizeof(*mr));

	if (atomic_load(&reg_delay_us))
		usleep((useconds_t)atomic_load(&reg_delay_us));
	mr->pd = pd;
	mr->addr = addr;
	mr->length = len;
	mr->rkey = mr->lkey = (uint32_t)atomic_fetch_add(&next_rkey, 1);
	atomic_fetch_add(&live_mrs, 1);
	return mr;
}

struct ibv_mr *(ibv_reg_mr)(struct ibv_pd *pd, void *addr, size_t length,
			    int access)
{
	(void)access;
	return fake_reg(pd, addr, length);
}

struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				uint64_t iova, unsigned int access)
{
	(void)iova;
	(void)access;
	return fake_reg(pd, addr, length);
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
	if (atomic_load(&dereg_delay_us))
		usleep((useconds_t)atomic_load(&dereg_delay_us));
	while (atomic_load(&dereg_gate_closed))
		usleep(1000);
	atomic_fetch_sub(&live_mrs, 1);
	free(mr);
	return 0;
}

int ibv_dealloc_pd(struct ibv_pd *pd)
{
	(void)pd;
	atomic_fetch_add(&pds_freed, 1);
	return 0;
}

static struct event_base *base;
static struct workers *pool;
static struct rdma_caps *caps;
static struct ibv_pd *pd = (struct ibv_pd *)0x1; /* never dereferenced */
static uint8_t area[1 << 21];
#define BIG (1u << 20) /* made on a worker: over RDMA_CAPS_INLINE_BYTES */

struct heard {
	int grants, revokes;
	int rc;
	uint32_t rkey;
};

static void on_grant(void *arg, int rc, uint32_t rkey)
{
	struct heard *h = arg;

	h->grants++;
	h->rc = rc;
	h->rkey = rkey;
}

static void on_revoked(void *arg)
{
	((struct heard *)arg)->revokes++;
}

static void setup(void)
{
	atomic_store(&live_mrs, 0);
	atomic_store(&reg_delay_us, 0);
	atomic_store(&dereg_delay_us, 0);
	atomic_store(&pds_freed, 0);
	atomic_store(&dereg_gate_closed, false);
	base = event_base_new();
	cr_assert_eq(workers_new(base, 2, &pool), 0);
	caps = rdma_caps_new(pd, pool, "test");
	cr_assert(caps);
}

static void teardown(void)
{
	rdma_caps_free(&caps);
	workers_free(&pool);
	event_base_free(base);
	cr_assert_eq(atomic_load(&live_mrs), 0, "an MR was left registered");
}

TestSuite(caps, .init = setup, .fini = teardown, .timeout = 30);

/* Runs the loop until cond or 10 s. */
#define RUN_UNTIL(cond)                                                        \
	do {                                                                   \
		uint64_t end_ = clock_mono_us() + 10000000;                    \
		while (!(cond) && clock_mono_us() < end_)                      \
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);  \
		cr_assert(cond, "never: " #cond);                              \
	} while (0)

static int grant(uint64_t chunk, bool write, uint64_t len, struct heard *h,
		 uint32_t *rkey)
{
	return rdma_caps_grant(caps, chunk, write, area, len,
			       IBV_ACCESS_REMOTE_READ, rkey, on_grant, h);
}

/* A small grant is made at once; its revoke still goes to a worker
 * (deregistration may wait long on soft-RoCE, whatever the size). */
Test(caps, a_small_grant_is_made_at_once_and_revoked_on_a_worker)
{
	struct heard h = {0}, r = {0};
	uint32_t rkey = 0;

	cr_assert_eq(grant(8, true, RDMA_CAPS_INLINE_BYTES, &h, &rkey), 0);
	cr_assert_geq(rkey, 100);
	cr_assert_eq(h.grants, 0, "no callback for a grant made at once");
	cr_assert_eq(atomic_load(&live_mrs), 1);
	cr_assert_eq(rdma_caps_revoke_async(caps, 8, true, on_revoked, &r),
		     -EINPROGRESS);
	RUN_UNTIL(r.revokes == 1);
	cr_assert_eq(atomic_load(&live_mrs), 0);
}

Test(caps, a_grant_is_made_on_a_worker_and_heard_on_a_later_turn)
{
	struct heard h = {0};
	uint32_t rkey = 0;

	cr_assert_eq(grant(1, true, BIG, &h, &rkey), -EINPROGRESS);
	cr_assert_eq(h.grants, 0, "never from within the grant");
	RUN_UNTIL(h.grants == 1);
	cr_assert_eq(h.rc, 0);
	cr_assert_geq(h.rkey, 100);
	cr_assert_eq(atomic_load(&live_mrs), 1);
	cr_assert_eq(grant(1, true, BIG, &h, &rkey), 0, "held already");
	cr_assert_eq(rkey, h.rkey);
	cr_assert_eq(grant(1, false, 0, &h, &rkey), 0, "nothing to read");
	cr_assert_eq(rkey, 0);
}

Test(caps, two_grants_of_one_chunk_share_one_registration)
{
	struct heard h1 = {0}, h2 = {0};
	uint32_t rkey;

	atomic_store(&reg_delay_us, 20000);
	cr_assert_eq(grant(5, false, BIG, &h1, &rkey), -EINPROGRESS);
	cr_assert_eq(grant(5, false, BIG, &h2, &rkey), -EINPROGRESS);
	RUN_UNTIL(h1.grants && h2.grants);
	cr_assert_eq(h1.rkey, h2.rkey);
	cr_assert_eq(atomic_load(&live_mrs), 1);
}

/* A revoke while the MR is being made waits for it and deregisters it
 * before returning: nothing is left that could be handed out. */
Test(caps, a_revoke_during_registration_leaves_nothing_registered)
{
	struct heard h = {0};
	uint32_t rkey;

	atomic_store(&reg_delay_us, 50000);
	cr_assert_eq(grant(2, true, BIG, &h, &rkey), -EINPROGRESS);
	usleep(10000); /* a worker is in ibv_reg_mr now */
	rdma_caps_revoke(caps, 2, true);
	cr_assert_eq(atomic_load(&live_mrs), 0, "gone when revoke returns");
	cr_assert_eq(h.grants, 0, "the grant hears later, not from in here");
	RUN_UNTIL(h.grants == 1);
	cr_assert_eq(h.rc, -ECANCELED);
	cr_assert_eq(rdma_caps_count(caps), 0);
}

Test(caps, an_asynchronous_revoke_is_heard_once_the_mr_is_gone)
{
	struct heard h = {0}, r = {0}, again = {0};
	uint32_t rkey;

	cr_assert_eq(grant(3, true, BIG, &h, &rkey), -EINPROGRESS);
	RUN_UNTIL(h.grants == 1);
	cr_assert_eq(rdma_caps_revoke_async(caps, 3, true, on_revoked, &r),
		     -EINPROGRESS);
	cr_assert_eq(r.revokes, 0);
	/* Gone for grants at once: a new grant makes a new MR. */
	cr_assert_eq(grant(3, true, BIG, &again, &rkey), -EINPROGRESS);
	RUN_UNTIL(r.revokes == 1 && again.grants == 1);
	cr_assert_neq(again.rkey, h.rkey);
	cr_assert_eq(atomic_load(&live_mrs), 1);
	cr_assert_eq(rdma_caps_revoke_async(caps, 99, true, on_revoked, &r), 0,
		     "nothing to revoke");
}

/* A free during a seal's revoke: the revoke that must finish now does,
 * and the seal's revoke is still heard, later. */
Test(caps, a_revoke_now_finishes_an_asynchronous_one_under_way)
{
	struct heard h = {0}, r = {0};
	uint32_t rkey;

	cr_assert_eq(grant(4, true, BIG, &h, &rkey), -EINPROGRESS);
	RUN_UNTIL(h.grants == 1);
	cr_assert_eq(rdma_caps_revoke_async(caps, 4, true, on_revoked, &r),
		     -EINPROGRESS);
	rdma_caps_revoke(caps, 4, true);
	cr_assert_eq(atomic_load(&live_mrs), 0);
	cr_assert_eq(r.revokes, 0);
	RUN_UNTIL(r.revokes == 1);
}

/* A lost lease during a seal's revoke: the second asynchronous revoke
 * cannot wait beside the first (a capability has one revoker), so it
 * finishes it before returning; the seal's revoke is still heard, once. */
Test(caps, an_asynchronous_revoke_finishes_another_under_way)
{
	struct heard h = {0}, r = {0}, second = {0};
	uint32_t rkey;

	cr_assert_eq(grant(6, true, BIG, &h, &rkey), -EINPROGRESS);
	RUN_UNTIL(h.grants == 1);
	atomic_store(&dereg_delay_us, 50000);
	cr_assert_eq(rdma_caps_revoke_async(caps, 6, true, on_revoked, &r),
		     -EINPROGRESS);
	cr_assert_eq(rdma_caps_revoke_async(caps, 6, true, on_revoked, &second),
		     0, "over when it returns");
	cr_assert_eq(atomic_load(&live_mrs), 0, "the MR is gone by then");
	RUN_UNTIL(r.revokes == 1);
	cr_assert_eq(second.revokes, 0, "its return said so");
}

Test(caps, freeing_tells_every_waiter_at_once)
{
	struct heard h = {0}, r = {0}, live = {0};
	uint32_t rkey;

	cr_assert_eq(grant(6, true, BIG, &live, &rkey), -EINPROGRESS);
	RUN_UNTIL(live.grants == 1);
	cr_assert_eq(rdma_caps_revoke_async(caps, 6, true, on_revoked, &r),
		     -EINPROGRESS);
	atomic_store(&reg_delay_us, 20000);
	cr_assert_eq(grant(7, false, BIG, &h, &rkey), -EINPROGRESS);
	rdma_caps_free(&caps);
	cr_assert_eq(h.grants, 1);
	cr_assert_eq(h.rc, -ECANCELED);
	cr_assert_eq(r.revokes, 1);
	cr_assert_eq(atomic_load(&live_mrs), 0);
}

/* A closed connection's MRs and PD are let go on a worker: retiring
 * returns while the device still holds them (here, while every
 * deregistration waits at a gate; on the loop it would never return). */
Test(caps, retiring_lets_go_of_the_mrs_and_the_pd_on_a_worker)
{
	struct rdma_caps *retired = NULL;
	struct heard small = {0}, big = {0}, waiting = {0};
	uint32_t rkey;

	cr_assert_eq(grant(1, true, 4096, &small, &rkey), 0);
	cr_assert_eq(grant(2, false, BIG, &big, &rkey), -EINPROGRESS);
	RUN_UNTIL(big.grants == 1);
	atomic_store(&reg_delay_us, 20000);
	cr_assert_eq(grant(3, false, BIG, &waiting, &rkey), -EINPROGRESS);
	atomic_store(&dereg_gate_closed, true);
	rdma_caps_retire(&caps, &retired);
	cr_assert_null(caps);
	cr_assert_eq(waiting.grants, 1, "a waiting grant hears at once");
	cr_assert_eq(waiting.rc, -ECANCELED);
	cr_assert_not_null(retired, "on the list until the worker is back");
	cr_assert_eq(atomic_load(&pds_freed), 0);
	atomic_store(&dereg_gate_closed, false);
	RUN_UNTIL(retired == NULL);
	cr_assert_eq(atomic_load(&live_mrs), 0);
	cr_assert_eq(atomic_load(&pds_freed), 1);
}

/* At a stop, retired sets are finished before the workers go. */
Test(caps, a_stop_finishes_retired_sets_at_once)
{
	struct rdma_caps *retired = NULL, *other;
	struct heard h = {0};
	uint32_t rkey;

	other = rdma_caps_new(pd, pool, "other");
	cr_assert_not_null(other);
	cr_assert_eq(grant(1, true, 4096, &h, &rkey), 0);
	cr_assert_eq(rdma_caps_grant(other, 1, false, area, 4096,
				     IBV_ACCESS_REMOTE_READ, &rkey, on_grant,
				     &h),
		     0);
	rdma_caps_retire(&caps, &retired);
	rdma_caps_retire(&other, &retired);
	rdma_caps_finish_retired(&retired);
	cr_assert_null(retired);
	cr_assert_eq(atomic_load(&live_mrs), 0);
	cr_assert_eq(atomic_load(&pds_freed), 2);
}
