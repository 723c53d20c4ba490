/*
 * What SIGHUP changes while chunkd serves: the log level, the scrub's
 * rate limit (for the next scrub), and the secrets file's contents (clients that say HELLO from then on are checked against
 * the new secrets; sessions already authenticated stay). Every other key
 * shapes state that lives as long as the process (the pool, the listener,
 * the leases clients were told, the cluster membership, the metrics
 * listener) and takes effect at the next start: a reload that changes one
 * says so in the log and leaves it. Turning authentication on or off
 * needs a restart too: a reload never lets clients in unchecked.
 *
 * chunkd's log is its standard error, which the service manager or the
 * caller owns, so there is no log file to reopen.
 *
 * Threading: the event-loop thread.
 */
#ifndef CHUNKD_SERVER_RELOAD_H
#define CHUNKD_SERVER_RELOAD_H

#include "config.h"

struct secrets;
struct service;

struct reload_target {
	struct service *svc;
	struct secrets **secrets; /* the secrets svc checks; replaced */
	struct config *running;	  /* the settings in force; updated */
};

/*
 * Applies what may change of fresh (the settings built again from the
 * config file and the flags) to t, logs each change and each key that
 * waits for a restart. A secrets file that fails to load leaves the old
 * secrets in force (logged). Returns the number of changes applied.
 */
int reload_apply(const struct config *fresh, const struct reload_target *t);

#endif
