/*
 * One message per interval for events that can come by the thousand (a
 * flood of abandoned handshakes, a descriptor table that stays full): the
 * first is told at once, the rest are counted and told with the next.
 */
#ifndef CHUNKD_COMMON_RATELIMIT_H
#define CHUNKD_COMMON_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ratelimit {
	uint64_t interval_us;
	uint64_t last_us;    /* when the last message was let through */
	uint64_t suppressed; /* events since then that were not told */
	bool told;	     /* a message was ever let through */
};

/* Whether an event at now_us may be told; if so, *suppressed is how many
 * were held back since the last message (and the count starts again). */
static inline bool ratelimit_allow(struct ratelimit *r, uint64_t now_us,
				   uint64_t *suppressed)
{
	if (r->told && now_us - r->last_us < r->interval_us) {
		r->suppressed++;
		return false;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->last_us = now_us;
	r->told = true;
	return true;
}

/* What to append to the message: nothing, or how many were held back. */
static inline const char *ratelimit_suffix(uint64_t suppressed, char *buf,
					   size_t len)
{
	if (!suppressed)
		return "";
	snprintf(buf, len, " (and %llu more like it since the last message)",
		 (unsigned long long)suppressed);
	return buf;
}

#endif
