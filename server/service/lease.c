#include "lease.h"

#include <errno.h>
#include <stdlib.h>

struct lease_clock {
	struct event *timer;
	struct service *svc;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lease_clock *clock = arg;

	(void)fd;
	(void)what;
	service_expire_leases(clock->svc);
}

int lease_clock_start(struct event_base *base, struct service *svc,
		      struct lease_clock **out)
{
	struct lease_clock *clock = calloc(1, sizeof(*clock));
	uint32_t ms = svc->lease_ttl_ms / 4;
	struct timeval every;

	if (!clock)
		return -ENOMEM;
	ms = ms < 50 ? 50 : ms > 1000 ? 1000 : ms;
	every.tv_sec = ms / 1000;
	every.tv_usec = (ms % 1000) * 1000;
	clock->svc = svc;
	clock->timer = event_new(base, -1, EV_PERSIST, on_tick, clock);
	if (!clock->timer || event_add(clock->timer, &every)) {
		lease_clock_stop(&clock);
		return -ENOMEM;
	}
	*out = clock;
	return 0;
}

void lease_clock_stop(struct lease_clock **clock)
{
	if (!*clock)
		return;
	if ((*clock)->timer)
		event_free((*clock)->timer);
	free(*clock);
	*clock = NULL;
}
