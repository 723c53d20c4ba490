/*
 * An etcd v3 client over its JSON gateway (etcd 3.4: /v3/kv/txn,
 * /v3/kv/range, /v3/lease/grant, ...), non-blocking on a libevent loop
 * (etcd_http.h). Requests are jansson objects built with etcd_json.h; keys
 * and values travel base64-encoded and every int64 as a JSON string, as the
 * gateway wants them.
 *
 * Threading: an etcd belongs to its loop's thread.
 */
#ifndef CHUNKD_ETCD_H
#define CHUNKD_ETCD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "etcd_http.h"

struct event_base;
struct etcd;

/* A decoded answer; valid during the callback only. */
struct etcd_result {
	int status;	     /* 0; the transport's errors (etcd_http_answer: the
			      * cluster unreachable or without a leader, a timeout);
			      * -ENOENT: etcd said "not found" (a lease it does not
			      * know); -EAGAIN: a member answered it cannot serve
			      * now (HTTP 5xx: no quorum, its request timed out);
			      * -EPROTO: an answer etcd would not send;
			      * -EREMOTEIO: another error etcd reported */
	const char *message; /* why, when status != 0 */
	json_t *body;	     /* the answer when status is 0 */
	int64_t revision;    /* the store's revision in its header */
	bool succeeded;	     /* a txn's compares held (absent: false) */
};

typedef void etcd_done_fn(void *arg, const struct etcd_result *r);

/* As etcd_http_new. */
int etcd_new(struct event_base *base, const char *endpoints,
	     unsigned timeout_ms, struct etcd **out, char *err, size_t err_len);

/* Drops pending calls without calling back; sets *e to NULL. */
void etcd_free(struct etcd **e);

/*
 * POSTs request (consumed: its reference is dropped) to path and calls done
 * once, from a later turn of the loop. Returns 0, or -ENOMEM when the call
 * could not start: then done is not called.
 */
int etcd_call(struct etcd *e, const char *path, json_t *request,
	      etcd_done_fn *done, void *arg);

/*
 * The same, waiting for the answer by running e's loop (for start-up and
 * tools, never on a loop that serves clients). *body gets a new reference to
 * the answer (NULL on failure); revision and succeeded may be NULL. Returns
 * the status; a message for a failure goes into err.
 */
int etcd_call_wait(struct etcd *e, const char *path, json_t *request,
		   json_t **body, int64_t *revision, bool *succeeded, char *err,
		   size_t err_len);

const char *etcd_endpoints(const struct etcd *e);

struct event_base *etcd_base(const struct etcd *e);

/* The HTTP layer under e, for streams (etcd_watch.h). */
struct etcd_http *etcd_http_of(const struct etcd *e);

/* Whether the last answer came (false after a call found etcd unreachable
 * or without a leader, until one succeeds again). Each change is logged
 * once: at warn when etcd is lost, at info when it answers again. */
bool etcd_reachable(const struct etcd *e);

#endif
