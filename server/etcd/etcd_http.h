/*
 * HTTP POSTs of JSON to etcd's gRPC-JSON gateway, on a libevent loop.
 *
 * libcurl's multi interface does the HTTP; its sockets and its timer are
 * libevent events, so no call here ever blocks the loop. Connections are
 * kept and reused by libcurl.
 *
 * Endpoints are tried in turn: an attempt that cannot connect, or that a
 * member answers with 503 (it has no leader: every request carries
 * "Grpc-Metadata-hasleader: true", so such a member refuses at once instead
 * of waiting for one), moves to the next endpoint, within one deadline per
 * request. Neither outcome applied the request, so the retry is safe. A
 * request that timed out after it was sent may or may not have been
 * applied: it is reported, never retried here.
 *
 * Threading: an etcd_http belongs to its loop's thread.
 */
#ifndef CHUNKD_ETCD_HTTP_H
#define CHUNKD_ETCD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"

struct event_base;
struct etcd_http;
struct etcd_http_request;

struct etcd_http_answer {
	int status;	  /* 0: an HTTP answer (see code); -ECONNREFUSED: no
			   * endpoint could be reached or had a leader;
			   * -ETIMEDOUT: no answer within the deadline (the request
			   * may have been applied); -EIO: another transfer error */
	long code;	  /* the HTTP status when status is 0 */
	const char *body; /* NUL-terminated; valid during the callback */
	size_t len;
	const char *endpoint; /* the one that answered, or was tried last */
	const char *reason;   /* libcurl's words when status != 0 */
};

/* Called once per request, on the loop's thread, from a later turn of the
 * loop (never from within etcd_http_post). */
typedef void etcd_http_done_fn(void *arg, const struct etcd_http_answer *a);

/* Called for each newline-terminated line of a streamed answer. */
typedef void etcd_http_line_fn(void *arg, const char *line, size_t len);

/*
 * endpoints: "http://host:port" separated by commas. timeout_ms: the
 * deadline of each request, over all its attempts. Returns 0 and sets *out,
 * or -EINVAL (no endpoint, or one that is not http://) or -ENOMEM with a
 * one-line reason in err.
 */
int etcd_http_new(struct event_base *base, const char *endpoints,
		  unsigned timeout_ms, struct etcd_http **out, char *err,
		  size_t err_len);

/* Drops every pending request without calling its callback, closes the
 * connections, and sets *h to NULL. */
void etcd_http_free(struct etcd_http **h);

/* POSTs body (JSON, copied) to path ("/v3/kv/txn") and calls done with the
 * answer. Returns the request (for etcd_http_cancel), or NULL when memory
 * ran out: then nothing was sent and done will not be called. */
struct etcd_http_request *etcd_http_post(struct etcd_http *h, const char *path,
					 const char *body,
					 etcd_http_done_fn *done, void *arg);

/* Like etcd_http_post, but for an answer that streams (a watch): each line
 * goes to line as it arrives, there is no deadline once connected, and done
 * is called when the stream ends or fails (body empty). */
struct etcd_http_request *etcd_http_stream(struct etcd_http *h,
					   const char *path, const char *body,
					   etcd_http_line_fn *line,
					   etcd_http_done_fn *done, void *arg);

/* Abandons a pending request: its callbacks are not called. Sets *req to
 * NULL; a NULL *req is ignored. */
void etcd_http_cancel(struct etcd_http_request **req);

/* Round trips of finished POSTs (streams are not counted: a watch lasts
 * as long as it lasts). */
struct etcd_http_stats {
	uint64_t requests;
	uint64_t failures; /* no answer, or an HTTP status other than 2xx */
	struct histogram latency; /* over all attempts of each request */
};

/* Copies the figures so far into *out. */
void etcd_http_stats(const struct etcd_http *h, struct etcd_http_stats *out);

/* The endpoints, as configured, for messages. */
const char *etcd_http_endpoints(const struct etcd_http *h);

#endif
