/*
 * What the service shows operators: one snapshot of its figures, and one
 * view of each session. The admin socket (and later a metrics endpoint)
 * renders these and never reads the service's own structures.
 *
 * Threading: the event-loop thread, as the service.
 */
#ifndef CHUNKD_SERVER_STATS_H
#define CHUNKD_SERVER_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "service.h"

struct service_stats {
	struct service_counters counters;
	uint32_t sessions;
	uint32_t persist_methods; /* PROTO_PERSIST_* offered */
	struct table_stats table;
	uint64_t worker_raises; /* starved jobs raised from SCHED_IDLE */
};

/* Fills *out with the service's figures now. */
void service_stats(struct service *s, struct service_stats *out);

struct session_view {
	uint64_t id;
	const char *peer; /* the client's address; valid during the visit */
	uint32_t epoch;
	uint64_t open_chunks, open_bytes; /* OPEN chunks its lease holds */
	uint64_t expires_in_ms;		  /* 0 once lost */
	bool live;			  /* false: the lease was lost */
};

/* Return false to stop a walk early. */
typedef bool session_visit_fn(const struct session_view *view, void *arg);

/* Calls visit for each session, oldest first. */
void service_sessions(struct service *s, session_visit_fn *visit, void *arg);

/* Fills *out for session id; -ENOENT if no such session is connected. */
int service_session_view(struct service *s, uint64_t id,
			 struct session_view *out);

#endif
