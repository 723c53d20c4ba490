/*
 * chunkctl verify: starts chunkd's background scrub of its sealed chunks
 * (or joins the one that runs) and waits for its end, asking its status
 * through the admin socket five times a second; prints the result and
 * each mismatched chunk's id. verify --status prints the current (or
 * last) scrub's progress once and returns.
 */
#ifndef CHUNKD_TOOLS_SCRUB_WATCH_H
#define CHUNKD_TOOLS_SCRUB_WATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "repair_agent.h"

struct scrub_watch_opts {
	repair_ask_fn *ask; /* one admin request (taken) -> reply or NULL */
	void *ctx;
	bool json;	     /* print chunkd's last status as JSON */
	bool status_only;    /* --status */
	long long rate_mb_s; /* --rate; -1: chunkd's [scrub] rate_mb_s */
};

/* Parses verify's arguments (after the word verify) into *o; false if
 * they are wrong. */
bool scrub_watch_args(int argc, char **argv, struct scrub_watch_opts *o);

/* 0: done without a mismatch (or the status printed); 1: chunkd refused,
 * or a mismatch; 3: chunkd did not answer. */
int scrub_watch_run(const struct scrub_watch_opts *o);

#endif
