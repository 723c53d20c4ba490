/*
 * libchunkclient's internals: the connection (client.c), chunk operations
 * (chunk_ops.c) and registered memory (mem.c) share this. Not installed.
 */
#ifndef CHUNKD_CLIENT_CLIENT_H
#define CHUNKD_CLIENT_CLIENT_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>

#include "chunkclient.h"
#include "chunk_cache.h"
#include "peers.h"
#include "proto/msg.h"
#include "renewer.h"
#include "replica_sets.h"

#define CLIENT_CREDITS 16u /* the server's RECV credits */
/* After the messages: the target of read-after-write's small READ. */
#define CLIENT_SCRATCH_LEN 64u

struct async_op;

/*
 * An operation on a replicated chunk (replicated_async.c): one slot of the
 * owner's that completes when each of its parts, an operation on one
 * copy's connection, has. A read has one part at a time: again() may start
 * another after one failed.
 */
struct async_group {
	struct chunk_client *owner; /* whose slot this is */
	unsigned parts;		    /* in flight, plus one while starting */
	int status;		    /* the first part that failed */
	/* After a part failed with status: starts another part and returns
	 * true, or false to let the failure stand. */
	bool (*again)(struct async_op *op, int status);
	uint64_t chunk, off; /* a read's, for again() */
	void *buf;
	size_t len;
	unsigned tried; /* bit i: copy i was read */
};

/* One asynchronous operation in flight. */
struct async_op {
	bool used;
	bool finished;	     /* completed on the renewer's thread: its
			      * callback waits for the application's poll */
	bool is_group;	     /* group below is in use */
	bool part;	     /* a group's part: the application sees the
			      * group, not it */
	uint64_t started_us; /* past the client's timeout, it expires */
	int status;	     /* when finished */
	uint64_t request_id; /* the reply it waits for, or 0 */
	chunk_done_fn *done;
	void *arg;
	struct async_group group;
};

struct chunk_mem {
	struct chunk_client *client;
	struct ibv_mr *mr;
	struct chunk_mem *next;
};

struct chunk_client;
struct persist_method;

/* What chunkd said of the session (session.c). */
struct client_session {
	uint64_t id;
	uint32_t epoch;	       /* of the lease, sent with every request */
	uint32_t lease_ttl_ms; /* from WELCOME; atomic: the renewer reads it */
	uint64_t lease_renewed_us; /* last renewing reply; atomic, likewise */
	uint8_t nonce[PROTO_NONCE_LEN]; /* from chunkd, to answer in HELLO */
	unsigned persist_offered;	/* CHUNK_PERSIST_* from WELCOME */
};

/* Send slots and the synchronous calls' replies (request.c). */
struct client_calls {
	uint64_t next_request;
	uint64_t sync_request;	/* the request a synchronous call waits on */
	struct proto_msg reply; /* the last reply no layer took */
	bool reply_ready;
	bool sync_renews;	  /* the synchronous request renews the lease */
	uint32_t busy_send_slots; /* bit i: send slot i awaits its completion */
};

/* The asynchronous operations (async.c). */
struct client_async {
	struct async_op *ops; /* opts.max_in_flight of them */
	unsigned in_flight;   /* until their callbacks ran */
	unsigned parts;	      /* of those, groups' parts */
	unsigned finished;    /* of those, callbacks still due */
	uint64_t completed;   /* callbacks run so far */
	uint64_t wait_mark;   /* completed when a wait began */
};

/*
 * What the layers above the connection do when it reports something. The
 * connection (client.c) calls up only through these, never by name, so no
 * file of the library calls back up into another; connect.c fills them.
 */
struct client_upper {
	/* At each entry under the lock, and now and then in a long wait: a
	 * lease renewal may be due (renewer.h). */
	void (*tick)(struct chunk_client *c);
	/* A reply no synchronous call waits for: whether a layer took it (the
	 * renewer's RENEW, an async op's). */
	bool (*take_reply)(struct chunk_client *c,
			   const struct proto_msg *reply);
	/* The RDMA WR that completes async op `op` completed. */
	void (*rdma_done)(struct chunk_client *c, unsigned op, int status);
	/* Callbacks are due for ops that finished on the renewer's thread. */
	void (*run_finished)(struct chunk_client *c);
	/* The connection is lost and will be made again: what was in flight
	 * fails with status. */
	void (*lost)(struct chunk_client *c, int status);
};

struct chunk_client {
	struct chunk_client_opts opts;
	char host[256];
	uint16_t port;
	/* One lock for everything below but the renewer's own fields: public
	 * calls and the lease renewer take it (recursive: a callback may
	 * start async operations). */
	pthread_mutex_t lock;
	const struct client_upper *upper; /* connect.c's handlers */

	/* The connection (client.c). */
	struct rdma_event_channel *cm;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *channel;
	int wake_fd; /* chunk_client_fd(): an epoll set of the channel and its
		      * peers' channels */
	struct ibv_cq *cq;
	struct ibv_qp_ex *qpx; /* the queue pair's work-request interface,
				* when it was made able to FLUSH; else NULL */
	uint8_t *msgs; /* CLIENT_CREDITS receive and send slots, scratch */
	struct ibv_mr *msgs_mr;
	uint8_t *bounce;
	struct ibv_mr *bounce_mr;
	unsigned sends_in_flight; /* signaled WRs not yet completed */
	int wc_error;		  /* first failed completion, as CHUNK_E_* */
	bool cq_armed;		  /* the channel signals the next completion */

	/* The layers above it, each its own. */
	struct client_calls calls;	      /* request.c */
	struct client_session sess;	      /* session.c */
	const struct persist_method *persist; /* persist_method.c, chosen at
					       * connect */
	struct chunk_cache cache;	      /* chunk_cache.c */
	struct chunk_mem *mems;		      /* mem.c */
	struct renewer renewer;		      /* renewer.c; see its locking */
	bool in_renewer;		      /* the renewer holds the lock */
	struct client_async async;	      /* async.c */
	struct client_peers peers;    /* peers.c: other chunkd servers */
	bool is_peer;		      /* a connection some client made on its
				       * own: it follows no ELSEWHERE itself */
	struct replica_sets replicas; /* replicated.c's chunks */
	/* A peer takes its owner's protection domain when its route goes
	 * through the same device, so memory the application registered
	 * with the owner serves the peer's transfers too. */
	struct chunk_client *pd_owner; /* the owner, for a peer */
	bool pd_shared;		       /* pd is pd_owner's: not ours to free */
};

/* The connection to the chunkd at host:port that c made on its own (one is
 * made with c's options when there is none yet). CHUNK_E_* as
 * chunk_client_connect(). (connect.c) */
int client_connect_peer(struct chunk_client *c, const char *host, uint16_t port,
			struct chunk_client **peer);

/* Whether c is connected to the chunkd at host:port. (connect.c) */
bool client_is_at(const struct chunk_client *c, const char *host,
		  uint16_t port);

/* The connection to the chunkd at host:port: c itself when c is connected
 * there, else c's peer connection (made now if need be). CHUNK_E_* as
 * chunk_client_connect(). (connect.c) */
int client_connect_to(struct chunk_client *c, const char *host, uint16_t port,
		      struct chunk_client **conn);

/* WR ids: the kind in the high 32 bits, a slot or op index below. */
#define WR_RECV	 1ull
#define WR_SEND	 2ull
#define WR_RDMA	 3ull /* a synchronous RDMA WRITE or READ */
#define WR_ASYNC 4ull /* the RDMA WR that completes an async op */

/*
 * A work request built but not posted yet: a write whose persist follows,
 * so that both reach the device in one ibv_post_send (one doorbell). The
 * functions taking `before` post it chained ahead of their own, or only
 * their own when it is NULL; either way it is posted or dropped, never
 * left behind.
 */
struct client_wr {
	struct ibv_send_wr wr;
	struct ibv_sge sge;
};

/* Fills *w as one RDMA WRITE or READ. */
void client_wr_rdma(struct client_wr *w, enum ibv_wr_opcode op, void *local,
		    uint32_t lkey, size_t len, uint64_t remote, uint32_t rkey,
		    bool signaled, uint64_t wr_id);

/* Posts *w on its own. */
int client_post_rdma_wr(struct chunk_client *c, struct client_wr *w);

/* Whether client_post_request() has a send slot to use. */
bool client_request_slot_free(const struct chunk_client *c);

/* Encodes req (setting its request id) into a free send slot and posts it;
 * sets *request_id. Returns CHUNK_E_AGAIN when every slot is busy. */
int client_post_request(struct chunk_client *c, struct proto_msg *req,
			uint64_t *request_id, struct client_wr *before);

/* Acknowledges the completion channel's pending events, so its fd stops
 * being readable until the next armed completion. */
void client_consume_cq_events(struct chunk_client *c);

/* Processes the completions that are there; returns how many. */
int client_poll_cq(struct chunk_client *c);

/* Waits up to timeout_ms (-1: the client's timeout) for an async op to
 * complete. */
int client_wait_async(struct chunk_client *c, int timeout_ms);

/* Takes the client's lock for a public call, and posts a lease renewal
 * if the renewer marked one due (renewer.h). */
void client_lock(struct chunk_client *c);
void client_unlock(struct chunk_client *c);

/* Records that chunkd renewed the lease just now. */
void client_lease_renewed(struct chunk_client *c);

/* Waits up to the client's timeout until done(c) holds or a completion
 * fails. */
int client_wait_until(struct chunk_client *c,
		      bool (*done)(struct chunk_client *));

/* Arms the completion channel, so chunk_client_fd() becomes readable at
 * the next completion; processes what arrived before the arming. */
void client_arm_channel(struct chunk_client *c);

/* Arms it only: for a work request about to be posted, whose completion
 * cannot have come before. */
void client_arm_cq(struct chunk_client *c);

/* Gives up on the queue pair: moves it to the error state (nothing it
 * had posted touches memory any more) and records status as its failure,
 * for client_finish() to connect again. */
void client_abort(struct chunk_client *c, int status);

/* Makes c's chunk_client_fd() wake for peer's completions too. */
int client_wake_for(struct chunk_client *c, struct chunk_client *peer);

/* After STALE: the lease was lost, so the chunks it granted are gone; takes
 * the server's current epoch. */
void client_adopt_epoch(struct chunk_client *c, uint32_t epoch);

/* Sends req and waits for its reply into c->calls.reply. Returns CHUNK_OK, or
 * the ERROR's status as CHUNK_E_*, or a transport error. */
int client_call(struct chunk_client *c, struct proto_msg *req);

/* The same with before posted ahead of the request. */
int client_call_after(struct chunk_client *c, struct proto_msg *req,
		      struct client_wr *before);

/* client_call_after() in two halves, so requests to several servers are
 * all sent before any reply is waited for: start sends (CHUNK_OK or a
 * transport error), finish waits for the reply as client_call(). */
int client_call_start(struct chunk_client *c, struct proto_msg *req,
		      struct client_wr *before);
int client_call_finish(struct chunk_client *c);

/* Sends len raw bytes as one message and waits for the reply (tests use
 * it to send malformed frames). Returns as client_call(). */
int client_send_raw(struct chunk_client *c, const void *frame, size_t len);

/* Posts one RDMA WRITE or READ with wr_id; signaled ones are waited for
 * with client_wait_sends() (or complete an async op). */
int client_post_rdma_id(struct chunk_client *c, enum ibv_wr_opcode op,
			void *local, uint32_t lkey, size_t len, uint64_t remote,
			uint32_t rkey, bool signaled, uint64_t wr_id);

/* The same with a synchronous WR id. */
int client_post_rdma(struct chunk_client *c, enum ibv_wr_opcode op, void *local,
		     uint32_t lkey, size_t len, uint64_t remote, uint32_t rkey,
		     bool signaled);

/* The two halves of a persist, by method. read-after-write: a small
 * signaled READ of the range's last bytes behind the WRITEs (wr_id as
 * given). persist-rpc: *req filled as the PERSIST request for the range. */
int client_post_tail_read(struct chunk_client *c, const struct remote_chunk *rc,
			  uint64_t off, uint64_t len, uint64_t wr_id,
			  struct client_wr *before);
/* native-flush: an RDMA FLUSH(PERSISTENT) of exactly the range, signaled
 * with wr_id, behind before (posted in the same batch). CHUNK_E_INTERNAL
 * where the queue pair cannot FLUSH. */
int client_post_flush(struct chunk_client *c, const struct remote_chunk *rc,
		      uint64_t off, uint64_t len, uint64_t wr_id,
		      struct client_wr *before);
void client_persist_request(const struct chunk_client *c,
			    const struct remote_chunk *rc, uint64_t off,
			    uint64_t len, struct proto_msg *req);

/* Waits until every signaled WR has completed. */
int client_wait_sends(struct chunk_client *c);

/* Tears the connection down and connects again (a new session). */
int client_reconnect(struct chunk_client *c);

/* The connection itself (client.c): client_conn_start() makes the CM
 * channel and connects (resolve, memory once, queues, rdma_connect);
 * client_conn_open() connects again over the same channel and memory;
 * client_conn_close() tears down the queues and the CM id;
 * client_conn_release() frees everything the connection holds. */
int client_conn_start(struct chunk_client *c);
int client_conn_open(struct chunk_client *c);
void client_conn_close(struct chunk_client *c);
void client_conn_release(struct chunk_client *c);

/* Send slot i's buffer (slot 0 is the synchronous calls'). */
uint8_t *client_send_slot(struct chunk_client *c, unsigned i);

/* Posts w, behind before when there is one, in one ibv_post_send. */
int client_post_after(struct chunk_client *c, struct client_wr *before,
		      struct client_wr *w);

/* Makes a client for host and port with opts (NULL: defaults; a larger
 * max_in_flight than CHUNK_MAX_IN_FLIGHT is the caller's to refuse), not
 * connected yet; upper says what the layers above do (see client_upper).
 * Returns CHUNK_OK and sets *out, or CHUNK_E_NOMEM. */
int client_new(const char *host, uint16_t port,
	       const struct chunk_client_opts *opts,
	       const struct client_upper *upper, struct chunk_client **out);

/* Connects for the first time and says HELLO. CHUNK_OK or the reason. */
int client_connect_first(struct chunk_client *c);

/* Disconnects politely (waits for chunkd's DISCONNECTED). */
void client_disconnect_cm(struct chunk_client *c);

/* Frees the client and everything its connection holds. */
void client_free(struct chunk_client *c);

/* After an operation: a failed completion means the queue pair is in the
 * error state, so reconnect; returns that failure, else rc. */
int client_finish(struct chunk_client *c, int rc);

/* proto_status -> CHUNK_E_* */
int client_status_from_proto(unsigned status);
/* The CHUNK_E_* of an ERROR reply; logs chunkd's reason at warn, or takes
 * the new epoch a STALE one carries. */
int client_refused(struct chunk_client *c, const struct proto_msg *error);

#endif
