/*
 * The lease clock: expires the service's leases on time, whatever
 * transport serves the sessions. Every request under the current epoch and
 * every RENEW extends a session's lease (service.c); this timer takes the
 * leases whose deadline has passed (service_expire_leases).
 *
 * Threading: the event-loop thread of base, as the service.
 */
#ifndef CHUNKD_SERVER_LEASE_H
#define CHUNKD_SERVER_LEASE_H

#include <event2/event.h>

#include "service.h"

struct lease_clock;

/* Checks svc's leases four times per TTL (between 50 ms and 1 s apart), so
 * a lease expires at most a quarter of its TTL late. Returns 0 and sets
 * *out, or -ENOMEM. */
int lease_clock_start(struct event_base *base, struct service *svc,
		      struct lease_clock **out);

/* Stops the clock and sets *clock to NULL. NULL is fine. */
void lease_clock_stop(struct lease_clock **clock);

#endif
