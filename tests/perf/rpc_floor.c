/*
 * rpc_floor: the raw-verbs floors of chunkd's small requests, for
 * deploy/bench-control.sh to set beside chunkbench. perftest has none of
 * them.
 *
 *   -m write-send  (the default) an unsignaled RDMA WRITE of SIZE bytes
 *                  into the server's memory and, behind it in the same
 *                  post, a SEND naming the range; the server busy-polls
 *                  its receive queue, persists the range (pmem_persist on
 *                  device-DAX, as chunkd does) and SENDs a reply, which the
 *                  client busy-polls for: the floor of a persist-rpc
 *                  write+persist.
 *   -m send        the SEND and its reply alone: one request's round trip
 *                  (SIZE ignored).
 *   -m mw          on a connection to the server: a type 2 memory window
 *                  bound to SIZE bytes of the client's memory (a posted
 *                  BIND_MW), then invalidated (a posted LOCAL_INV), each
 *                  waited for; then a window of its own per grant:
 *                  ibv_alloc_mw, the bind, ibv_dealloc_mw of the bound
 *                  window. What a grant and a revoke could cost instead of
 *                  ibv_reg_mr and ibv_dereg_mr.
 *   -m reg         no server: ibv_reg_mr then ibv_dereg_mr of SIZE bytes
 *                  of the device-DAX node, a new range each time, as chunkd
 *                  registers a chunk at its grant and deregisters it at its
 *                  seal; on the first RDMA device.
 *
 *   server:  rpc_floor [-d DAX] [-p PORT]
 *   client:  rpc_floor [-m write-send|send|mw] [-p PORT] [-s SIZE]
 *                      [-n ITERS]
 *                      HOST
 *            rpc_floor -m reg -d DAX [-s SIZE] [-n ITERS]
 *
 * Prints "SIZE P50_US" (with -m reg also the p50 of ibv_reg_mr and of
 * ibv_dereg_mr alone; with -m mw the p50 of bind+invalidate, of the bind,
 * of the invalidation, of alloc+bind+dealloc and of the dealloc).
 */
#include <getopt.h>
#include <rdma/rdma_verbs.h>
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/tools/timing.h"
#include "raw_rdma.h"

#define SIGNAL_EVERY 8 /* sends; the others complete with it */

/* A request: persist this range, or (length 0, done set) stop. */
struct request {
	uint64_t offset, length;
	uint32_t done;
};

/* The server's first message: where to write. */
struct target {
	uint64_t addr;
	uint32_t rkey;
};

struct conn {
	struct rdma_cm_id *id;
	uint8_t *buf; /* RAW_MAX_SIZE: the WRITE's source or target */
	struct ibv_mr *buf_mr;
	struct request req; /* sent or received */
	struct ibv_mr *req_mr;
	struct target target;
	struct ibv_mr *target_mr;
	unsigned sends; /* posted, for selective signaling */
};

static void register_conn(struct conn *c, const char *dax, bool *is_dax)
{
	struct ibv_pd *pd = c->id->pd;

	c->buf = raw_target_memory(dax, is_dax);
	c->buf_mr =
		ibv_reg_mr(pd, c->buf, RAW_MAX_SIZE,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	c->req_mr =
		ibv_reg_mr(pd, &c->req, sizeof(c->req), IBV_ACCESS_LOCAL_WRITE);
	c->target_mr = ibv_reg_mr(pd, &c->target, sizeof(c->target),
				  IBV_ACCESS_LOCAL_WRITE);
	if (!c->buf_mr || !c->req_mr || !c->target_mr)
		raw_die("register");
}

static void post_recv(struct conn *c, void *buf, size_t len, struct ibv_mr *mr)
{
	if (rdma_post_recv(c->id, NULL, buf, len, mr))
		raw_die("rdma_post_recv");
}

/* Every SIGNAL_EVERY-th send is signaled and waited for, so the send
 * queue never fills; the others cost no completion. */
static int send_flags(struct conn *c)
{
	return ++c->sends % SIGNAL_EVERY == 0 ? IBV_SEND_SIGNALED : 0;
}

static void reap_send(struct conn *c, int flags)
{
	if (flags & IBV_SEND_SIGNALED)
		raw_poll_one(c->id->send_cq, "rpc_floor: a send");
}

/* ---- the server ---- */

static void answer(struct conn *c, bool is_dax)
{
	int flags = send_flags(c);

	if (is_dax && c->req.length)
		pmem_persist(c->buf + c->req.offset, c->req.length);
	if (rdma_post_send(c->id, NULL, &c->req, sizeof(c->req), c->req_mr,
			   flags))
		raw_die("rdma_post_send");
	reap_send(c, flags);
}

static int serve(const char *port, const char *dax)
{
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1};
	struct rdma_cm_id *listener;
	struct conn c = {0};
	bool is_dax;

	raw_make_ep(&listener, raw_resolve(NULL, port));
	if (rdma_listen(listener, 1) || rdma_get_request(listener, &c.id))
		raw_die("listen");
	register_conn(&c, dax, &is_dax);
	c.target = (struct target){(uintptr_t)c.buf, c.buf_mr->rkey};
	post_recv(&c, &c.req, sizeof(c.req), c.req_mr);
	if (rdma_accept(c.id, &param))
		raw_die("rdma_accept");
	if (rdma_post_send(c.id, NULL, &c.target, sizeof(c.target), c.target_mr,
			   IBV_SEND_SIGNALED))
		raw_die("rdma_post_send");
	raw_poll_one(c.id->send_cq, "rpc_floor: the target");
	for (;;) {
		raw_poll_one(c.id->recv_cq, "rpc_floor: a request");
		if (c.req.done)
			break;
		post_recv(&c, &c.req, sizeof(c.req), c.req_mr);
		answer(&c, is_dax);
	}
	rdma_disconnect(c.id);
	raw_restore_dax();
	return 0;
}

/* ---- the client ---- */

static void connect_to(struct conn *c, const char *host, const char *port)
{
	struct rdma_conn_param param = {.responder_resources = 1,
					.initiator_depth = 1,
					.retry_count = 7};
	bool is_dax;

	raw_make_ep(&c->id, raw_resolve(host, port));
	register_conn(c, NULL, &is_dax);
	memset(c->buf, 0x5a, RAW_MAX_SIZE);
	post_recv(c, &c->target, sizeof(c->target), c->target_mr);
	if (rdma_connect(c->id, &param))
		raw_die("rdma_connect");
	raw_poll_one(c->id->recv_cq, "rpc_floor: the target");
}

/* Tells the server to stop, and disconnects. */
static void say_goodbye(struct conn *c)
{
	c->req = (struct request){.done = 1};
	if (rdma_post_send(c->id, NULL, &c->req, sizeof(c->req), c->req_mr,
			   IBV_SEND_SIGNALED))
		raw_die("rdma_post_send");
	raw_poll_one(c->id->send_cq, "rpc_floor: the last send");
	rdma_disconnect(c->id);
}

/* One request (after a WRITE of size bytes when write), and its reply. */
static double round_trip(struct conn *c, size_t size, bool write)
{
	struct ibv_sge wsge = {(uintptr_t)c->buf, (uint32_t)size,
			       c->buf_mr->lkey};
	struct ibv_sge ssge = {(uintptr_t)&c->req, sizeof(c->req),
			       c->req_mr->lkey};
	struct ibv_send_wr send = {.sg_list = &ssge,
				   .num_sge = 1,
				   .opcode = IBV_WR_SEND,
				   .send_flags = send_flags(c)};
	struct ibv_send_wr wr = {.next = &send,
				 .sg_list = &wsge,
				 .num_sge = 1,
				 .opcode = IBV_WR_RDMA_WRITE};
	struct ibv_send_wr *bad;
	double t0 = timing_now_us();

	c->req = (struct request){.offset = 0, .length = write ? size : 0};
	wr.wr.rdma.remote_addr = c->target.addr;
	wr.wr.rdma.rkey = c->target.rkey;
	post_recv(c, &c->req, sizeof(c->req), c->req_mr);
	if (ibv_post_send(c->id->qp, write ? &wr : &send, &bad))
		raw_die("ibv_post_send");
	raw_poll_one(c->id->recv_cq, "rpc_floor: a reply");
	t0 = timing_now_us() - t0;
	reap_send(c, send.send_flags);
	return t0;
}

static int measure(const char *host, const char *port, size_t size,
		   unsigned iters, bool write)
{
	double *t = calloc(iters, sizeof(double));
	struct conn c = {0};

	if (!t)
		raw_die("calloc");
	connect_to(&c, host, port);
	for (unsigned i = 0; i < iters; i++)
		t[i] = round_trip(&c, size, write);
	printf("%zu %.2f\n", size, timing_percentile(t, iters, 0.5));
	say_goodbye(&c);
	free(t);
	return 0;
}

/* ---- memory windows, on the client's side of a connection ---- */

/* Posts wr signaled and busy-polls for its completion. */
static void post_local(struct conn *c, struct ibv_send_wr *wr, const char *what)
{
	struct ibv_send_wr *bad;

	wr->send_flags = IBV_SEND_SIGNALED;
	if (ibv_post_send(c->id->qp, wr, &bad))
		raw_die(what);
	raw_poll_one(c->id->send_cq, what);
}

/* Binds mw (type 2, so to this QP alone) to size bytes at the start of
 * the client's memory under the next rkey; returns how long it took. */
static double bind_window(struct conn *c, struct ibv_mr *mr, struct ibv_mw *mw,
			  size_t size)
{
	struct ibv_send_wr bind = {.opcode = IBV_WR_BIND_MW};
	double t0 = timing_now_us();

	bind.bind_mw.mw = mw;
	bind.bind_mw.rkey = ibv_inc_rkey(mw->rkey);
	bind.bind_mw.bind_info = (struct ibv_mw_bind_info){
		.mr = mr,
		.addr = (uintptr_t)c->buf,
		.length = size,
		.mw_access_flags =
			IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ};
	post_local(c, &bind, "rpc_floor: BIND_MW");
	/* The provider names the window by the rkey it holds; after a bind
	 * by work request that is the caller's to update. */
	mw->rkey = bind.bind_mw.rkey;
	return timing_now_us() - t0;
}

/* Invalidates mw's binding with a posted LOCAL_INV. */
static double invalidate_window(struct conn *c, struct ibv_mw *mw)
{
	struct ibv_send_wr inv = {.opcode = IBV_WR_LOCAL_INV,
				  .invalidate_rkey = mw->rkey};
	double t0 = timing_now_us();

	post_local(c, &inv, "rpc_floor: LOCAL_INV");
	return timing_now_us() - t0;
}

/* A window of its own per grant instead: ibv_alloc_mw, the bind, and
 * ibv_dealloc_mw of the bound window (a revoke by system call, over when
 * it returns). Sets *dealloc_us; returns the whole. */
static double window_per_grant(struct conn *c, struct ibv_mr *mr, size_t size,
			       double *dealloc_us)
{
	double t0 = timing_now_us(), t1;
	struct ibv_mw *mw = ibv_alloc_mw(c->id->pd, IBV_MW_TYPE_2);

	if (!mw)
		raw_die("ibv_alloc_mw");
	bind_window(c, mr, mw, size);
	t1 = timing_now_us();
	if (ibv_dealloc_mw(mw))
		raw_die("ibv_dealloc_mw");
	*dealloc_us = timing_now_us() - t1;
	return timing_now_us() - t0;
}

static int measure_mw(const char *host, const char *port, size_t size,
		      unsigned iters)
{
	double *pair = calloc(iters, sizeof(double));
	double *bind = calloc(iters, sizeof(double));
	double *inv = calloc(iters, sizeof(double));
	double *own = calloc(iters, sizeof(double));
	double *dealloc = calloc(iters, sizeof(double));
	struct conn c = {0};
	struct ibv_mr *mr;
	struct ibv_mw *mw;

	if (!pair || !bind || !inv || !own || !dealloc)
		raw_die("calloc");
	connect_to(&c, host, port);
	mr = ibv_reg_mr(c.id->pd, c.buf, RAW_MAX_SIZE,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND);
	mw = mr ? ibv_alloc_mw(c.id->pd, IBV_MW_TYPE_2) : NULL;
	if (!mw)
		raw_die("a type 2 memory window");
	for (unsigned i = 0; i < iters; i++) {
		bind[i] = bind_window(&c, mr, mw, size);
		inv[i] = invalidate_window(&c, mw);
		pair[i] = bind[i] + inv[i];
		own[i] = window_per_grant(&c, mr, size, &dealloc[i]);
	}
	printf("%zu %.2f %.2f %.2f %.2f %.2f\n", size,
	       timing_percentile(pair, iters, 0.5),
	       timing_percentile(bind, iters, 0.5),
	       timing_percentile(inv, iters, 0.5),
	       timing_percentile(own, iters, 0.5),
	       timing_percentile(dealloc, iters, 0.5));
	if (ibv_dealloc_mw(mw) || ibv_dereg_mr(mr))
		raw_die("releasing the memory window");
	say_goodbye(&c);
	return 0;
}

/* ---- registration, on this host alone ---- */

static struct ibv_pd *first_device_pd(void)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx =
		list && list[0] ? ibv_open_device(list[0]) : NULL;
	struct ibv_pd *pd = ctx ? ibv_alloc_pd(ctx) : NULL;

	if (!pd) {
		fprintf(stderr, "rpc_floor: no RDMA device to register on\n");
		exit(1);
	}
	ibv_free_device_list(list);
	return pd;
}

static int measure_reg(const char *dax, size_t size, unsigned iters)
{
	double *pair = calloc(iters, sizeof(double));
	double *reg = calloc(iters, sizeof(double));
	double *dereg = calloc(iters, sizeof(double));
	struct ibv_pd *pd = first_device_pd();
	size_t mapped, slots;
	int is_pmem;
	uint8_t *p = pmem_map_file(dax, 0, 0, 0, &mapped, &is_pmem);

	if (!p || mapped < 2 * size || !pair || !reg || !dereg)
		raw_die(dax);
	slots = mapped / size;
	for (unsigned i = 0; i < iters; i++) {
		double t0 = timing_now_us(), t1;
		struct ibv_mr *mr = ibv_reg_mr(pd, p + (i % slots) * size, size,
					       IBV_ACCESS_LOCAL_WRITE |
						       IBV_ACCESS_REMOTE_WRITE |
						       IBV_ACCESS_REMOTE_READ);

		t1 = timing_now_us();
		if (!mr || ibv_dereg_mr(mr))
			raw_die("ibv_reg_mr");
		pair[i] = timing_now_us() - t0;
		reg[i] = t1 - t0;
		dereg[i] = pair[i] - reg[i];
	}
	printf("%zu %.2f %.2f %.2f\n", size,
	       timing_percentile(pair, iters, 0.5),
	       timing_percentile(reg, iters, 0.5),
	       timing_percentile(dereg, iters, 0.5));
	return 0;
}

int main(int argc, char **argv)
{
	const char *port = "18700", *dax = NULL, *mode = "write-send";
	unsigned long size = 64, iters = 1000;
	int opt;

	while ((opt = getopt(argc, argv, "m:d:p:s:n:h")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'd':
			dax = optarg;
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
		default:
			fprintf(stderr, "Usage: rpc_floor [-m write-send|send|"
					"mw|reg] [-d DAX] [-p PORT] [-s SIZE] "
					"[-n ITERS] [HOST]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (size < 1 ||
	    size > (strcmp(mode, "reg") ? RAW_MAX_SIZE : 1u << 30) ||
	    iters == 0 ||
	    (strcmp(mode, "write-send") && strcmp(mode, "send") &&
	     strcmp(mode, "mw") && strcmp(mode, "reg")) ||
	    (!strcmp(mode, "reg") && !dax)) {
		fprintf(stderr,
			"rpc_floor: SIZE 1..1048576 (with -m reg, up to "
			"1 GiB), ITERS > 0, -m write-send, send, mw or "
			"reg (with -d DAX)\n");
		return 2;
	}
	if (!strcmp(mode, "reg"))
		return measure_reg(dax, size, (unsigned)iters);
	if (!strcmp(mode, "mw") && optind < argc)
		return measure_mw(argv[optind], port, size, (unsigned)iters);
	return optind < argc
		       ? measure(argv[optind], port, size, (unsigned)iters,
				 !strcmp(mode, "write-send"))
		       : serve(port, dax);
}
