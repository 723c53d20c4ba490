/*
 * chunkd's metrics endpoint: Prometheus text exposition over HTTP
 * (libevent's evhttp, on the serving loop) at GET /metrics. It renders the
 * service's stats snapshot (service/stats.h) and, in cluster mode, the
 * etcd round trips; it never reads the service's own structures. Every
 * series is there from the start, at 0 until something happens. README,
 * "Metrics", lists them.
 *
 * Threading: the event-loop thread, as the service.
 */
#ifndef CHUNKD_SERVER_METRICS_H
#define CHUNKD_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct cluster;
struct event_base;
struct evbuffer;
struct metrics;
struct scrubber;
struct service;

struct metrics_target {
	struct service *svc;
	struct cluster *cluster;   /* NULL: not in cluster mode */
	struct scrubber *scrubber; /* NULL: none */
};

/*
 * Serves the metrics on listen, "HOST:PORT" (port 0: any free port).
 * Returns 0 and sets *out, or a negative errno with a one-line reason in
 * err (a malformed address, or one that cannot be bound).
 */
int metrics_start(struct event_base *base, const char *listen,
		  const struct metrics_target *target, struct metrics **out,
		  char *err, size_t err_len);

/* The port it serves on. */
uint16_t metrics_port(const struct metrics *m);

/* Closes the listener and its connections; sets *m to NULL. NULL is
 * ignored. */
void metrics_stop(struct metrics **m);

/* Appends the exposition of target's figures now to out. */
void metrics_render(const struct metrics_target *target, struct evbuffer *out);

#endif
