/*
 * chunkctl repair: brings every sealed replicated chunk back to its copies
 * after a server is lost. It asks chunkd (through chunkctl's admin
 * socket) which chunks have a copy on a server that is not running and
 * which servers run, then, as a libchunkclient client of that chunkd,
 * makes each missing copy on the running server with the most free bytes
 * that holds none of the chunk's copies (chunk_repair_copy: read from a
 * live copy, CRC checked on arrival, committed by a revision-compared
 * transaction).
 */
#ifndef CHUNKD_TOOLS_REPAIR_AGENT_H
#define CHUNKD_TOOLS_REPAIR_AGENT_H

#include <jansson.h>
#include <stdbool.h>

/* Sends one admin request (taken) and returns chunkd's reply (the
 * caller's), or NULL when chunkd did not answer. */
typedef json_t *repair_ask_fn(void *ctx, json_t *req);

struct repair_opts {
	repair_ask_fn *ask;
	void *ctx;
	bool dry_run;	       /* only list what would be repaired */
	bool watch;	       /* keep repairing, once a second, until killed */
	unsigned grace_s;      /* repair a copy lost at least this long ago */
	const char *auth_name; /* for the RDMA session, or NULL */
	const char *secret_file; /* the secret for it, or NULL */
};

/* One pass (or, with watch, passes until a signal); prints one line per
 * copy repaired or not. 0 when every copy due was repaired, 1 when one
 * was not (or chunkd refused), 3 when chunkd did not answer. */
int repair_run(const struct repair_opts *o);

#endif
