/*
 * The admin socket's scrub commands: verify starts the background scrub
 * (scrubber.h), or joins the one that runs, and answers its status at
 * once; verify_status answers the status of the current or last scrub.
 * chunkctl verify polls the status until the scrub ends.
 *
 *   {"cmd":"verify"}                 start; the [scrub] rate_mb_s limit
 *   {"cmd":"verify","rate_mb_s":N}   start at most N MB/s (0: no limit)
 *   {"cmd":"verify_status"}
 *
 * Threading: the event-loop thread only, as the admin.
 */
#ifndef CHUNKD_SERVER_ADMIN_SCRUB_H
#define CHUNKD_SERVER_ADMIN_SCRUB_H

#include <jansson.h>
#include <stdint.h>

#include "scrubber.h"

/* What the commands act on; it outlives the admin. */
struct admin_scrub {
	struct scrubber *scrubber;
	const uint32_t *default_mb_s; /* the setting in force (SIGHUP may
				       * change it) */
};

json_t *admin_verify(const struct admin_scrub *as, json_t *req);
json_t *admin_verify_status(const struct admin_scrub *as);

#endif
