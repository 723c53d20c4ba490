/*
 * Smoke test of the platform the data path stands on: a real RDMA device
 * (soft-RoCE in the test guest), two RC queue pairs connected through
 * librdmacm, one-sided WRITE and READ, and device-DAX that libpmem maps as
 * pmem and that registers for RDMA.
 *
 * Environment: CHUNKD_TEST_ADDR (default 10.0.2.15, the guest's address) is
 * where the passive side listens; CHUNKD_TEST_DAX (default /dev/dax0.0).
 * Without an RDMA device or the DAX device these tests fail, never skip.
 */
#include <criterion/criterion.h>
#include <infiniband/verbs.h>
#include <libpmem.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <rdma/rdma_verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSFER_LEN	  (256u * 1024)
#define DAX_TARGET_OFFSET (2u << 20)

/* What the passive side tells the active side about its target buffer. */
struct remote_buffer {
	uint64_t addr;
	uint32_t rkey;
	uint32_t len;
};

/* The passive side of one connection, run on its own thread. */
struct passive_side {
	struct rdma_cm_id *listen_id;
	uint8_t *target;
	size_t len;
	char failure[160]; /* empty when every step succeeded */
};

static const char *env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value && *value ? value : fallback;
}

static const char *test_addr(void)
{
	return env_or("CHUNKD_TEST_ADDR", "10.0.2.15");
}

static const char *test_dax(void)
{
	return env_or("CHUNKD_TEST_DAX", "/dev/dax0.0");
}

static void require_rdma_device(void)
{
	int count = 0;
	struct ibv_device **list = ibv_get_device_list(&count);

	if (list)
		ibv_free_device_list(list);
	cr_assert_gt(count, 0,
		     "no RDMA device: run the rdma suite on a host with "
		     "soft-RoCE (deploy/softroce.sh) or in deploy/vm/run");
}

static void init_qp_attr(struct ibv_qp_init_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->qp_type = IBV_QPT_RC;
	attr->cap.max_send_wr = 4;
	attr->cap.max_recv_wr = 4;
	attr->cap.max_send_sge = 1;
	attr->cap.max_recv_sge = 1;
}

/* Waits for one send completion and checks it succeeded. */
static int send_completed(struct rdma_cm_id *id, const char *what,
			  char *failure, size_t failure_len)
{
	struct ibv_wc wc;

	if (rdma_get_send_comp(id, &wc) <= 0 || wc.status != IBV_WC_SUCCESS) {
		snprintf(failure, failure_len, "%s: %s", what,
			 ibv_wc_status_str(wc.status));
		return -1;
	}
	return 0;
}

/* Accepts one connection, advertises its target buffer for remote WRITE and
 * READ, and returns when the peer says it is done. */
static void *serve_one_peer(void *arg)
{
	struct passive_side *side = arg;
	char *failure = side->failure;
	const size_t flen = sizeof(side->failure);
	struct remote_buffer desc;
	struct rdma_cm_id *id = NULL;
	struct ibv_mr *target_mr = NULL, *msg_mr = NULL;
	struct ibv_wc wc;
	struct {
		struct remote_buffer desc;
		uint8_t done[8];
	} msgs;

	if (rdma_get_request(side->listen_id, &id)) {
		snprintf(failure, flen, "rdma_get_request: %m");
		return NULL;
	}
	target_mr =
		ibv_reg_mr(id->pd, side->target, side->len,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ);
	msg_mr = rdma_reg_msgs(id, &msgs, sizeof(msgs));
	if (!target_mr || !msg_mr) {
		snprintf(failure, flen, "ibv_reg_mr of the target: %m");
		goto out;
	}
	if (rdma_post_recv(id, NULL, msgs.done, sizeof(msgs.done), msg_mr) ||
	    rdma_accept(id, NULL)) {
		snprintf(failure, flen, "post_recv/accept: %m");
		goto out;
	}
	desc.addr = (uintptr_t)side->target;
	desc.rkey = target_mr->rkey;
	desc.len = (uint32_t)side->len;
	msgs.desc = desc;
	if (rdma_post_send(id, NULL, &msgs.desc, sizeof(msgs.desc), msg_mr,
			   IBV_SEND_SIGNALED)) {
		snprintf(failure, flen, "rdma_post_send: %m");
		goto out;
	}
	if (send_completed(id, "sending the buffer descriptor", failure, flen))
		goto out;
	if (rdma_get_recv_comp(id, &wc) <= 0 || wc.status != IBV_WC_SUCCESS) {
		snprintf(failure, flen, "waiting for done: %s",
			 ibv_wc_status_str(wc.status));
		goto out;
	}
	if (memcmp(msgs.done, "done", 5) != 0)
		snprintf(failure, flen, "peer sent an unexpected message");
	rdma_disconnect(id);
out:
	if (msg_mr)
		rdma_dereg_mr(msg_mr);
	if (target_mr)
		ibv_dereg_mr(target_mr);
	rdma_destroy_ep(id);
	return NULL;
}

static struct rdma_addrinfo *resolve(const char *port, int flags)
{
	struct rdma_addrinfo hints = {
		.ai_flags = flags,
		.ai_port_space = RDMA_PS_TCP,
	};
	struct rdma_addrinfo *res = NULL;

	cr_assert_eq(rdma_getaddrinfo(test_addr(), port, &hints, &res), 0,
		     "rdma_getaddrinfo(%s): %m", test_addr());
	return res;
}

/* Listens on an ephemeral port of the test address; returns the port. */
static uint16_t start_listening(struct passive_side *side)
{
	struct ibv_qp_init_attr attr;
	struct rdma_addrinfo *res = resolve("0", RAI_PASSIVE);

	init_qp_attr(&attr);
	cr_assert_eq(rdma_create_ep(&side->listen_id, res, NULL, &attr), 0,
		     "rdma_create_ep (passive) on %s: %m", test_addr());
	rdma_freeaddrinfo(res);
	cr_assert_eq(rdma_listen(side->listen_id, 1), 0, "rdma_listen: %m");
	return be16toh(rdma_get_src_port(side->listen_id));
}

static struct rdma_cm_id *connect_active(uint16_t port,
					 struct remote_buffer *desc)
{
	struct ibv_qp_init_attr attr;
	struct rdma_cm_id *id;
	struct ibv_mr *desc_mr;
	struct ibv_wc wc;
	char service[8];
	struct rdma_addrinfo *res;

	snprintf(service, sizeof(service), "%u", port);
	res = resolve(service, 0);
	init_qp_attr(&attr);
	cr_assert_eq(rdma_create_ep(&id, res, NULL, &attr), 0,
		     "rdma_create_ep (active): %m");
	rdma_freeaddrinfo(res);
	desc_mr = rdma_reg_msgs(id, desc, sizeof(*desc));
	cr_assert_not_null(desc_mr, "rdma_reg_msgs: %m");
	cr_assert_eq(rdma_post_recv(id, NULL, desc, sizeof(*desc), desc_mr), 0);
	cr_assert_eq(rdma_connect(id, NULL), 0, "rdma_connect: %m");
	cr_assert_gt(rdma_get_recv_comp(id, &wc), 0);
	cr_assert_eq(wc.status, IBV_WC_SUCCESS, "receiving the descriptor: %s",
		     ibv_wc_status_str(wc.status));
	rdma_dereg_mr(desc_mr);
	return id;
}

static void fill_random(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

static void expect_send_ok(struct rdma_cm_id *id, const char *what)
{
	char failure[160];

	cr_assert_eq(send_completed(id, what, failure, sizeof(failure)), 0,
		     "%s", failure);
}

/*
 * Connects an active side to a passive side that exposes target, RDMA-WRITEs
 * a random pattern into target, READs it back, and checks both copies.
 */
static void write_then_read(uint8_t *target, size_t len)
{
	struct passive_side side = {.target = target, .len = len};
	struct remote_buffer desc;
	pthread_t server;
	uint8_t *pattern = malloc(len), *readback = calloc(1, len);
	char done[8] = "done";
	struct rdma_cm_id *id;
	struct ibv_mr *pattern_mr, *readback_mr, *done_mr;

	require_rdma_device();
	cr_assert(pattern && readback);
	fill_random(pattern, len, (unsigned)len);
	memset(target, 0, len);
	uint16_t port = start_listening(&side);
	cr_assert_eq(pthread_create(&server, NULL, serve_one_peer, &side), 0);
	id = connect_active(port, &desc);
	cr_assert_eq(desc.len, len);

	pattern_mr = rdma_reg_msgs(id, pattern, len);
	readback_mr = rdma_reg_read(id, readback, len);
	done_mr = rdma_reg_msgs(id, done, sizeof(done));
	cr_assert(pattern_mr && readback_mr && done_mr, "rdma_reg_*: %m");
	cr_assert_eq(rdma_post_write(id, NULL, pattern, len, pattern_mr,
				     IBV_SEND_SIGNALED, desc.addr, desc.rkey),
		     0);
	expect_send_ok(id, "RDMA WRITE");
	cr_assert_eq(rdma_post_read(id, NULL, readback, len, readback_mr,
				    IBV_SEND_SIGNALED, desc.addr, desc.rkey),
		     0);
	expect_send_ok(id, "RDMA READ");
	cr_assert_arr_eq(readback, pattern, len, "READ returned other bytes");
	cr_assert_eq(rdma_post_send(id, NULL, done, sizeof(done), done_mr,
				    IBV_SEND_SIGNALED),
		     0);
	expect_send_ok(id, "SEND done");
	/* Both sides disconnect now: a synchronous rdma_disconnect waits for
	 * the peer's, so joining first would stall until the CM times out (~70
	 * s). */
	rdma_disconnect(id);

	pthread_join(server, NULL);
	cr_assert_str_empty(side.failure, "passive side: %s", side.failure);
	cr_assert_arr_eq(target, pattern, len, "WRITE left other bytes");

	rdma_dereg_mr(pattern_mr);
	rdma_dereg_mr(readback_mr);
	rdma_dereg_mr(done_mr);
	rdma_destroy_ep(id);
	rdma_destroy_ep(side.listen_id);
	free(pattern);
	free(readback);
}

/* Maps the DAX device with libpmem; fails the test when it cannot. */
static uint8_t *map_dax(size_t *mapped_len)
{
	int is_pmem = 0;
	void *addr = pmem_map_file(test_dax(), 0, 0, 0, mapped_len, &is_pmem);

	cr_assert_not_null(addr, "pmem_map_file(%s): %s", test_dax(),
			   pmem_errormsg());
	cr_assert(is_pmem, "%s is not mapped as pmem", test_dax());
	return addr;
}

Test(rdma_smoke, device_is_present_and_active, .timeout = 120)
{
	int count = 0;
	struct ibv_device **list = ibv_get_device_list(&count);
	struct ibv_port_attr port;
	struct ibv_context *ctx;

	require_rdma_device();
	ctx = ibv_open_device(list[0]);
	cr_assert_not_null(ctx, "ibv_open_device(%s): %m",
			   ibv_get_device_name(list[0]));
	cr_assert_eq(ibv_query_port(ctx, 1, &port), 0, "ibv_query_port: %m");
	cr_assert_eq(port.state, IBV_PORT_ACTIVE, "port 1 of %s is %s",
		     ibv_get_device_name(list[0]),
		     ibv_port_state_str(port.state));
	ibv_close_device(ctx);
	ibv_free_device_list(list);
}

Test(rdma_smoke, write_then_read_dram, .timeout = 120)
{
	uint8_t *target = malloc(TRANSFER_LEN);

	cr_assert_not_null(target);
	write_then_read(target, TRANSFER_LEN);
	free(target);
}

Test(devdax, maps_as_pmem, .timeout = 120)
{
	size_t len;
	uint8_t *addr = map_dax(&len);

	cr_assert_geq(len, 64u << 20, "%s is only %zu bytes", test_dax(), len);
	cr_assert(pmem_is_pmem(addr, len), "pmem_is_pmem says no for %s",
		  test_dax());
	pmem_unmap(addr, len);
}

Test(devdax, whole_device_registers_for_rdma, .timeout = 120)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	size_t len;
	uint8_t *addr;

	require_rdma_device();
	addr = map_dax(&len);
	list = ibv_get_device_list(NULL);
	ctx = ibv_open_device(list[0]);
	cr_assert_not_null(ctx, "ibv_open_device: %m");
	pd = ibv_alloc_pd(ctx);
	cr_assert_not_null(pd, "ibv_alloc_pd: %m");
	mr = ibv_reg_mr(pd, addr, len,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_READ);
	cr_assert_not_null(mr, "ibv_reg_mr of all %zu bytes of %s: %m", len,
			   test_dax());
	cr_assert_eq(mr->length, len);
	ibv_dereg_mr(mr);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	ibv_free_device_list(list);
	pmem_unmap(addr, len);
}

Test(devdax, write_then_read_and_persist, .timeout = 120)
{
	size_t len;
	uint8_t *addr = map_dax(&len);

	uint8_t *target, *saved = malloc(TRANSFER_LEN);

	cr_assert_not_null(saved);
	cr_assert_geq(len, DAX_TARGET_OFFSET + TRANSFER_LEN);
	target = addr + DAX_TARGET_OFFSET;
	/* The device may hold a pool that a later run opens: put back what
	 * was there. */
	memcpy(saved, target, TRANSFER_LEN);
	write_then_read(target, TRANSFER_LEN);
	/* The bytes came through the NIC; make them durable as chunkd will. */
	pmem_persist(target, TRANSFER_LEN);
	pmem_memcpy_persist(target, saved, TRANSFER_LEN);
	free(saved);
	pmem_unmap(addr, len);
}
