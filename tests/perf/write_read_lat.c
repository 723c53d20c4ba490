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
 * With -f, the second of the pair is an RDMA FLUSH(PERSISTENT) of the
 * written range (IBTA 1.5, rdma-core 45 or newer) posted with the WRITE in
 * one ibv_wr batch: the floor of native-flush. FLUSH_PERSISTENT needs the
 * server's memory to be pmem, so the server then takes -d DAX, a device-DAX
 * node whose start it registers (-d serves the READ pair too, so that both
 * floors write the memory chunkd writes).
 *
 * With -g US, the client idles US microseconds before each pair, as an
 * application's own work does between calls: under emulation a pair
 * posted right after the last one completes finds soft-RoCE's worker still
 * running, and one posted after an idle gap pays for waking it.
 *
 *   server:  write_read_lat [-f] [-d DAX] [-p PORT]
 *   client:  write_read_lat [-f] [-g US] [-p PORT] [-s SIZE] [-n ITERS]
 *                           [-r R] HOST
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
#include <unistd.h>

#include "../../client/tools/timing.h"
#include "raw_rdma.h"

/* What the server tells the client: where to write. */
struct target {
	uint64_t addr;
	uint32_t rkey;
};

/* What the command line asks for. */
struct pair_opts {
	bool flush;	 /* WRITE+FLUSH rather than WRITE+READ */
	const char *dax; /* the server's memory: this device-DAX node */
	double gap_us;	 /* the client idles this long before each pair */
};

struct endpoint {
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_qp_ex *qpx; /* with -f, the queue pair that can FLUSH */
	uint8_t *buf;	       /* RAW_MAX_SIZE, the WRITE's source or target */
	struct ibv_mr *buf_mr;
	struct target msg; /* the one message each way */
	struct ibv_mr *msg_mr;
};

/* The client's queue pair that can post FLUSH: one made with the extended
 * verbs, FLUSH among its send ops. */
static void make_flush_ep(struct endpoint *ep, struct rdma_addrinfo *res)
{
#ifdef CHUNKD_NATIVE_FLUSH
	struct ibv_qp_init_attr plain = raw_qp_attr();
	struct ibv_qp_init_attr_ex attr = {
		.cap = plain.cap,
		.qp_type = IBV_QPT_RC,
		.comp_mask =
			IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		.send_ops_flags = IBV_QP_EX_WITH_RDMA_WRITE |
				  IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_FLUSH,
	};

	if (rdma_create_ep(&ep->id, res, NULL, NULL))
		raw_die("rdma_create_ep");
	attr.pd = ep->pd = ibv_alloc_pd(ep->id->verbs);
	if (!ep->pd || rdma_create_qp_ex(ep->id, &attr))
		raw_die("a queue pair that can FLUSH");
	ep->qpx = ibv_qp_to_qp_ex(ep->id->qp);
#else
	(void)ep, (void)res;
#endif
}

/* Registers the buffers on ep->pd. The server's target, in o->dax where
 * given, accepts FLUSH to the persistence domain with o->flush; the
 * client's (o NULL) is the heap's. */
static void register_buffers(struct endpoint *ep, const struct pair_opts *o)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		     IBV_ACCESS_REMOTE_READ;
	bool is_dax;

#ifdef CHUNKD_NATIVE_FLUSH
	if (o && o->flush)
		access |= IBV_ACCESS_FLUSH_PERSISTENT;
#endif
	if (!ep->pd)
		ep->pd = ep->id->pd;
	ep->buf = raw_target_memory(o ? o->dax : NULL, &is_dax);
	if (!is_dax)
		memset(ep->buf, 0x5a, RAW_MAX_SIZE);
	ep->buf_mr = ibv_reg_mr(ep->pd, ep->buf, RAW_MAX_SIZE, access);
	ep->msg_mr = ibv_reg_mr(ep->pd, &ep->msg, sizeof(ep->msg),
				IBV_ACCESS_LOCAL_WRITE);
	if (!ep->buf_mr || !ep->msg_mr)
		raw_die("register");
}

/* After rdma_accept, lets the server's queue pair take FLUSH. */
static void accept_flush(struct endpoint *ep)
{
#ifdef CHUNKD_NATIVE_FLUSH
	struct ibv_qp_attr attr = {.qp_access_flags =
					   IBV_ACCESS_REMOTE_WRITE |
					   IBV_ACCESS_REMOTE_READ |
					   IBV_ACCESS_FLUSH_PERSISTENT};

	if (ibv_modify_qp(ep->id->qp, &attr, IBV_QP_ACCESS_FLAGS))
		raw_die("a queue pair that takes FLUSH");
#else
	(void)ep;
#endif
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

static int serve(const char *port, const struct pair_opts *o)
{
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1};
	struct rdma_cm_id *listener;
	struct endpoint ep = {0};

	raw_make_ep(&listener, raw_resolve(NULL, port));
	if (rdma_listen(listener, 1) || rdma_get_request(listener, &ep.id))
		raw_die("listen");
	register_buffers(&ep, o);
	ep.msg.addr = (uintptr_t)ep.buf;
	ep.msg.rkey = ep.buf_mr->rkey;
	if (rdma_accept(ep.id, &param))
		raw_die("rdma_accept");
	if (o->flush)
		accept_flush(&ep);
	if (rdma_post_send(ep.id, NULL, &ep.msg, sizeof(ep.msg), ep.msg_mr,
			   IBV_SEND_SIGNALED))
		raw_die("rdma_post_send");
	wait_comp(ep.id, false);
	/* The client says when it is done. */
	if (rdma_post_recv(ep.id, NULL, &ep.msg, sizeof(ep.msg), ep.msg_mr))
		raw_die("rdma_post_recv");
	wait_comp(ep.id, true);
	rdma_disconnect(ep.id);
	raw_restore_dax();
	return 0;
}

#define MAX_SERVERS 4

/* Posts one WRITE + tail READ to ep. */
static void post_read_pair(struct endpoint *ep, size_t size)
{
	struct ibv_sge wsge = {(uintptr_t)ep->buf, (uint32_t)size,
			       ep->buf_mr->lkey};
	struct ibv_sge rsge = {(uintptr_t)ep->buf + RAW_MAX_SIZE - 8, 8,
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
		raw_die("ibv_post_send");
}

/* Posts one WRITE + FLUSH(PERSISTENT) of the written range to ep, in one
 * batch as libchunkclient's native-flush does. */
static void post_flush_pair(struct endpoint *ep, size_t size)
{
#ifdef CHUNKD_NATIVE_FLUSH
	struct ibv_qp_ex *q = ep->qpx;

	ibv_wr_start(q);
	q->wr_id = 1;
	q->wr_flags = 0;
	ibv_wr_rdma_write(q, ep->msg.rkey, ep->msg.addr);
	ibv_wr_set_sge(q, ep->buf_mr->lkey, (uintptr_t)ep->buf, (uint32_t)size);
	q->wr_id = 2;
	q->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_flush(q, ep->msg.rkey, ep->msg.addr, size, IBV_FLUSH_PERSISTENT,
		     IBV_FLUSH_RANGE);
	errno = ibv_wr_complete(q);
	if (errno)
		raw_die("ibv_wr_complete");
#else
	(void)ep, (void)size;
#endif
}

/* Busy-polls until ep's READ or FLUSH completes. */
static void wait_pair(struct endpoint *ep)
{
	raw_poll_one(ep->id->send_cq, "write_read_lat: the pair");
}

/* The pair to every server, all posted before any is waited for;
 * returns microseconds. */
static double write_then_read(struct endpoint *eps, unsigned r, size_t size,
			      bool flush)
{
	double t0 = timing_now_us();

	for (unsigned i = 0; i < r; i++) {
		if (flush)
			post_flush_pair(&eps[i], size);
		else
			post_read_pair(&eps[i], size);
	}
	for (unsigned i = 0; i < r; i++)
		wait_pair(&eps[i]);
	return timing_now_us() - t0;
}

static void connect_ep(struct endpoint *ep, const char *host, unsigned port,
		       bool flush)
{
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1,
					.retry_count = 7};
	char text[16];

	snprintf(text, sizeof(text), "%u", port);
	if (flush)
		make_flush_ep(ep, raw_resolve(host, text));
	else
		raw_make_ep(&ep->id, raw_resolve(host, text));
	register_buffers(ep, NULL);
	if (rdma_post_recv(ep->id, NULL, &ep->msg, sizeof(ep->msg),
			   ep->msg_mr) ||
	    rdma_connect(ep->id, &param))
		raw_die("connect");
	wait_comp(ep->id, true);
}

static void finish_ep(struct endpoint *ep)
{
	if (rdma_post_send(ep->id, NULL, &ep->msg, sizeof(ep->msg), ep->msg_mr,
			   IBV_SEND_SIGNALED))
		raw_die("rdma_post_send");
	wait_comp(ep->id, false);
	rdma_disconnect(ep->id);
}

/* Busy-waits us microseconds: the idle time an application's own work
 * leaves between two pairs. */
static void idle_for(double us)
{
	double until = timing_now_us() + us;

	while (us > 0 && timing_now_us() < until)
		;
}

static int measure(const char *host, unsigned port, unsigned r, size_t size,
		   unsigned iters, const struct pair_opts *o)
{
	double *t = calloc(iters, sizeof(double));
	struct endpoint eps[MAX_SERVERS] = {0};

	if (!t)
		raw_die("calloc");
	for (unsigned i = 0; i < r; i++)
		connect_ep(&eps[i], host, port + i, o->flush);
	for (unsigned i = 0; i < iters; i++) {
		idle_for(o->gap_us);
		t[i] = write_then_read(eps, r, size, o->flush);
	}
	printf("%zu %.2f\n", size, timing_percentile(t, iters, 0.5));
	for (unsigned i = 0; i < r; i++)
		finish_ep(&eps[i]);
	free(t);
	return 0;
}

/* A one-line complaint about the options, or NULL when they make sense. */
static const char *check_opts(unsigned long size, unsigned long iters,
			      unsigned long servers, const struct pair_opts *o)
{
#ifndef CHUNKD_NATIVE_FLUSH
	if (o->flush)
		return "-f: this build's rdma-core has no RDMA FLUSH (it needs "
		       "rdma-core 45 or newer)";
#endif
	if (size < 8 || size > RAW_MAX_SIZE || iters == 0 || servers < 1 ||
	    servers > MAX_SERVERS)
		return "SIZE 8..1048576, ITERS > 0, R 1..4";
	if (!(o->gap_us >= 0 && o->gap_us <= 1e6))
		return "-g: a gap of 0 to 1000000 us";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *port = "18600", *complaint;
	char *end;
	unsigned long size = 64, iters = 1000, servers = 1;
	struct pair_opts o = {0};
	int opt;

	while ((opt = getopt(argc, argv, "fd:g:p:s:n:r:h")) != -1) {
		switch (opt) {
		case 'g':
			o.gap_us = strtod(optarg, &end);
			if (*end || end == optarg)
				o.gap_us = -1; /* refused below */
			break;
		case 'f':
			o.flush = true;
			break;
		case 'd':
			o.dax = optarg;
			break;
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
			fprintf(stderr,
				"Usage: write_read_lat [-f] [-d DAX] "
				"[-g US] [-p PORT] [-s SIZE] [-n ITERS] "
				"[-r R] [HOST]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	complaint = check_opts(size, iters, servers, &o);
	if (complaint) {
		fprintf(stderr, "write_read_lat: %s\n", complaint);
		return 2;
	}
	return optind < argc ? measure(argv[optind],
				       (unsigned)strtoul(port, NULL, 10),
				       (unsigned)servers, size, iters, &o)
			     : serve(port, &o);
}
