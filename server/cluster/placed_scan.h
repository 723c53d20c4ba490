/*
 * Where every sealed replicated chunk's copies are, read from etcd (the
 * placed keys, cluster_keys.h) with whether each copy's server runs now:
 * what chunkctl shows of replication, and what a repair works from.
 *
 * Threading: the event-loop thread, as the etcd client.
 */
#ifndef CHUNKD_CLUSTER_PLACED_SCAN_H
#define CHUNKD_CLUSTER_PLACED_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "table/table.h"

struct membership;

struct placed_chunk {
	uint64_t chunk;
	unsigned count;
	uint64_t copies[TABLE_MAX_COPIES];
	bool running[TABLE_MAX_COPIES]; /* the copy's server is a member */
};

/* Whether a copy of p is on a server that is not running. */
bool placed_under_replicated(const struct placed_chunk *p);

/* Gets status 0 and the count chunks (valid during the call), or a
 * negative errno (-EHOSTUNREACH, -ENOMEM, -EPROTO) and none. */
typedef void placed_scan_fn(void *arg, int status,
			    const struct placed_chunk *list, size_t count);

/* Reads every placed key under prefix and calls done once, from a later
 * turn of the loop. 0, or -ENOMEM when the read could not start (done is
 * then not called). */
int placed_scan(struct etcd *e, const struct membership *m, const char *prefix,
		placed_scan_fn *done, void *arg);

#endif
