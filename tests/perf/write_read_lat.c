/*
 * write_read_lat: the raw-verbs floor of a write+persist by
 * read-after-write, for deploy/bench.sh to set beside chunkbench. Each
 * iteration posts an unsignaled RDMA WRITE of SIZE bytes and, behind it in
 * the same ibv_post_send, a signaled 8-byte READ of the written range's
 * tail, and busy-polls until the READ completes. perftest has no such
 * figure: ib_read_lat times the READ alone. With -r R, the client works
 * with R servers at once (ports PORT to PORT + R - 1): each iteration
 * posts the pair to every one before polling any, the raw floor of a
 * write+persist of a chunk of R copies.
 *
 *   server:  write_read_lat [-p PORT]
 *   client:  write_read_lat [-p PORT] [-s SIZE] [-n ITERS] [-r R] HOST
 *
 * The client prints "SIZE P50_US", the median like perftest's t_typical.
 */
#include <getopt.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <rdma/rdma_verbs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/tools/timing.h"

#define MAX_SIZE (1u << 20)

/* What the server tells the client: where to write. */
struct target {
	uint64_t addr;
	uint32_t rkey;
};

struct endpoint {
	struct rdma_cm_id *id;
	uint8_t *buf; /* MAX_SIZE, the WRITE's source or target */
	struct ibv_mr *buf_mr;
	struct target msg; /* the one message each way */
	struct ibv_mr *msg_mr;
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static struct rdma_addrinfo *resolve(const char *host, const char *port)
{
	struct rdma_addrinfo hints = {.ai_port_space = RDMA_PS_TCP}, *res;

	if (!host)
		hints.ai_flags = RAI_PASSIVE;
	if (rdma_getaddrinfo(host, port, &hints, &res))
		die("rdma_getaddrinfo");
	return res;
}

static void make_ep(struct rdma_cm_id **id, struct rdma_addrinfo *res)
{
	struct ibv_qp_init_attr attr = {
		.cap = {.max_send_wr = 16,
			.max_recv_wr = 4,
			.max_send_sge = 1,
			.max_recv_sge = 1},
		.qp_type = IBV_QPT_RC,
	};

	if (rdma_create_ep(id, res, NULL, &attr))
		die("rdma_create_ep");
}

/* Registers the buffers on ep->id's PD. */
static void register_buffers(struct endpoint *ep)
{
	ep->buf = aligned_alloc(4096, MAX_SIZE);
	if (!ep->buf)
		die("aligned_alloc");
	memset(ep->buf, 0x5a, MAX_SIZE);
	ep->buf_mr =
		ibv_reg_mr(ep->id->pd, ep->buf, MAX_SIZE,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ);
	ep->msg_mr = rdma_reg_msgs(ep->id, &ep->msg, sizeof(ep->msg));
	if (!ep->buf_mr || !ep->msg_mr)
		die("register");
}

static void wait_comp(struct rdma_cm_id *id, bool recv)
{
	struct ibv_wc wc;
	int n = recv ? rdma_get_recv_comp(id, &wc)
		     : rdma_get_send_comp(id, &wc);

	if (n <= 0 || wc.status != IBV_WC_SUCCESS) {
		fprintf(stderr, "write_read_lat: completion failed\n");
		exit(1);
	}
}

static int serve(const char *port)
{
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1};
	struct rdma_cm_id *listener;
	struct endpoint ep = {0};

	make_ep(&listener, resolve(NULL, port));
	if (rdma_listen(listener, 1) || rdma_get_request(listener, &ep.id))
		die("listen");
	register_buffers(&ep);
	ep.msg.addr = (uintptr_t)ep.buf;
	ep.msg.rkey = ep.buf_mr->rkey;
	if (rdma_accept(ep.id, &param))
		die("rdma_accept");
	if (rdma_post_send(ep.id, NULL, &ep.msg, sizeof(ep.msg), ep.msg_mr,
			   IBV_SEND_SIGNALED))
		die("rdma_post_send");
	wait_comp(ep.id, false);
	/* The client says when it is done. */
	if (rdma_post_recv(ep.id, NULL, &ep.msg, sizeof(ep.msg), ep.msg_mr))
		die("rdma_post_recv");
	wait_comp(ep.id, true);
	rdma_disconnect(ep.id);
	return 0;
}

#define MAX_SERVERS 4

/* Posts one WRITE + tail READ to ep. */
static void post_pair(struct endpoint *ep, size_t size)
{
	struct ibv_sge wsge = {(uintptr_t)ep->buf, (uint32_t)size,
			       ep->buf_mr->lkey};
	struct ibv_sge rsge = {(uintptr_t)ep->buf + MAX_SIZE - 8, 8,
			       ep->buf_mr->lkey};
	struct ibv_send_wr read = {.sg_list = &rsge,
				   .num_sge = 1,
				   .opcode = IBV_WR_RDMA_READ,
				   .send_flags = IBV_SEND_SIGNALED};
	struct ibv_send_wr write = {.next = &read,
				    .sg_list = &wsge,
				    .num_sge = 1,
				    .opcode = IBV_WR_RDMA_WRITE};
	struct ibv_send_wr *bad;

	write.wr.rdma.remote_addr = ep->msg.addr;
	write.wr.rdma.rkey = ep->msg.rkey;
	read.wr.rdma.remote_addr = ep->msg.addr + size - 8;
	read.wr.rdma.rkey = ep->msg.rkey;
	if (ibv_post_send(ep->id->qp, &write, &bad))
		die("ibv_post_send");
}

/* Busy-polls until ep's READ completes. */
static void wait_pair(struct endpoint *ep)
{
	struct ibv_wc wc;
	int n;

	while ((n = ibv_poll_cq(ep->id->send_cq, 1, &wc)) == 0)
		;
	if (n < 0 || wc.status != IBV_WC_SUCCESS) {
		fprintf(stderr, "write_read_lat: READ failed\n");
		exit(1);
	}
}

/* The pair to every server, all posted before any is waited for;
 * returns microseconds. */
static double write_then_read(struct endpoint *eps, unsigned r, size_t size)
{
	double t0 = timing_now_us();

	for (unsigned i = 0; i < r; i++)
		post_pair(&eps[i], size);
	for (unsigned i = 0; i < r; i++)
		wait_pair(&eps[i]);
	return timing_now_us() - t0;
}

static void connect_ep(struct endpoint *ep, const char *host, unsigned port)
{
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1,
					.retry_count = 7};
	char text[16];

	snprintf(text, sizeof(text), "%u", port);
	make_ep(&ep->id, resolve(host, text));
	register_buffers(ep);
	if (rdma_post_recv(ep->id, NULL, &ep->msg, sizeof(ep->msg),
			   ep->msg_mr) ||
	    rdma_connect(ep->id, &param))
		die("connect");
	wait_comp(ep->id, true);
}

static void finish_ep(struct endpoint *ep)
{
	if (rdma_post_send(ep->id, NULL, &ep->msg, sizeof(ep->msg), ep->msg_mr,
			   IBV_SEND_SIGNALED))
		die("rdma_post_send");
	wait_comp(ep->id, false);
	rdma_disconnect(ep->id);
}

static int measure(const char *host, unsigned port, unsigned r, size_t size,
		   unsigned iters)
{
	double *t = calloc(iters, sizeof(double));
	struct endpoint eps[MAX_SERVERS] = {0};

	if (!t)
		die("calloc");
	for (unsigned i = 0; i < r; i++)
		connect_ep(&eps[i], host, port + i);
	for (unsigned i = 0; i < iters; i++)
		t[i] = write_then_read(eps, r, size);
	printf("%zu %.2f\n", size, timing_percentile(t, iters, 0.5));
	for (unsigned i = 0; i < r; i++)
		finish_ep(&eps[i]);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	const char *port = "18600";
	unsigned long size = 64, iters = 1000, servers = 1;
	int opt;

	while ((opt = getopt(argc, argv, "p:s:n:r:h")) != -1) {
		switch (opt) {
		case 'p':
			port = optarg;
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			iters = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			servers = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "Usage: write_read_lat [-p PORT] "
					"[-s SIZE] [-n ITERS] [-r R] [HOST]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (size < 8 || size > MAX_SIZE || iters == 0 || servers < 1 ||
	    servers > MAX_SERVERS) {
		fprintf(stderr,
			"write_read_lat: SIZE 8..%u, ITERS > 0, R 1..%u\n",
			MAX_SIZE, MAX_SERVERS);
		return 2;
	}
	return optind < argc ? measure(argv[optind],
				       (unsigned)strtoul(port, NULL, 10),
				       (unsigned)servers, size, iters)
			     : serve(port);
}
