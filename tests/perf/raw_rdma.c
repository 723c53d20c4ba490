#include "raw_rdma.h"

#include <libpmem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void raw_die(const char *what)
{
	perror(what);
	exit(1);
}

struct rdma_addrinfo *raw_resolve(const char *host, const char *port)
{
	struct rdma_addrinfo hints = {.ai_port_space = RDMA_PS_TCP}, *res;

	if (!host)
		hints.ai_flags = RAI_PASSIVE;
	if (rdma_getaddrinfo(host, port, &hints, &res))
		raw_die("rdma_getaddrinfo");
	return res;
}

struct ibv_qp_init_attr raw_qp_attr(void)
{
	return (struct ibv_qp_init_attr){
		.cap = {.max_send_wr = 16,
			.max_recv_wr = 4,
			.max_send_sge = 1,
			.max_recv_sge = 1},
		.qp_type = IBV_QPT_RC,
	};
}

void raw_make_ep(struct rdma_cm_id **id, struct rdma_addrinfo *res)
{
	struct ibv_qp_init_attr attr = raw_qp_attr();

	if (rdma_create_ep(id, res, NULL, &attr))
		raw_die("rdma_create_ep");
}

/* What the device held where the server's target lies: chunkd's pool may
 * be there, so it is put back when the server ends, or is told to. */
static uint8_t *dax_target;
static uint8_t dax_saved[RAW_MAX_SIZE];

void raw_restore_dax(void)
{
	if (dax_target)
		pmem_memcpy_persist(dax_target, dax_saved, RAW_MAX_SIZE);
}

static void restore_and_exit(int sig)
{
	(void)sig;
	raw_restore_dax();
	_exit(1);
}

uint8_t *raw_target_memory(const char *dax, bool *is_dax)
{
	size_t mapped;
	int is_pmem;
	void *p;

	*is_dax = dax != NULL;
	if (!dax) {
		p = aligned_alloc(4096, RAW_MAX_SIZE);
		if (!p)
			raw_die("aligned_alloc");
		return p;
	}
	p = pmem_map_file(dax, 0, 0, 0, &mapped, &is_pmem);
	if (!p || mapped < RAW_MAX_SIZE) {
		fprintf(stderr, "%s: %s\n", dax,
			p ? "too small" : pmem_errormsg());
		exit(1);
	}
	memcpy(dax_saved, p, RAW_MAX_SIZE);
	dax_target = p;
	signal(SIGTERM, restore_and_exit);
	signal(SIGINT, restore_and_exit);
	return p;
}

void raw_poll_one(struct ibv_cq *cq, const char *what)
{
	struct ibv_wc wc;
	int n;

	while ((n = ibv_poll_cq(cq, 1, &wc)) == 0)
		;
	if (n < 0 || wc.status != IBV_WC_SUCCESS) {
		fprintf(stderr, "%s failed: %s\n", what,
			n < 0 ? "poll" : ibv_wc_status_str(wc.status));
		exit(1);
	}
}
