/*
 * A watch of every key under a prefix, over the gateway's streamed answer
 * to /v3/watch (one JSON object per line). Events come in revision order;
 * the first answer only confirms the watch was created.
 *
 * Threading: the loop's thread, as the etcd it uses.
 */
#ifndef CHUNKD_ETCD_WATCH_H
#define CHUNKD_ETCD_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"
#include "etcd_json.h"

struct etcd_watch;

/* A key was put (deleted false: kv holds the new value) or deleted (kv
 * holds only the key). revision is the change's. */
typedef void etcd_event_fn(void *arg, const struct etcd_kv *kv, bool deleted);

/* The watch ended (etcd went away, compacted past it, or refused it); why
 * says which. Start another from a fresh read. It may be called from
 * inside libcurl: cancel the ended watch from a later turn of the loop
 * (a timer), not from here. */
typedef void etcd_watch_end_fn(void *arg, const char *why);

/* Watches every key under prefix from start_revision on. Returns the watch,
 * or NULL when memory ran out (then end is not called). */
struct etcd_watch *etcd_watch_prefix(struct etcd *e, const char *prefix,
				     int64_t start_revision,
				     etcd_event_fn *event,
				     etcd_watch_end_fn *end, void *arg);

/* Stops a watch without calling end; sets *w to NULL (a NULL *w is
 * ignored). */
void etcd_watch_cancel(struct etcd_watch **w);

#endif
