/*
 * The background scrub: checks every sealed chunk's content against its
 * CRC32C while chunkd goes on serving. A worker thread reads the chunks
 * (sealed content is immutable, so it takes no lock on the bytes), at
 * most rate bytes per second, and the event loop collects its progress on
 * a timer. A chunk freed while the scrub runs may be reused and written
 * under the worker, so a mismatch counts only when the loop, after the
 * worker read it, still finds the chunk sealed at the same place with the
 * same CRC (chunk ids are never reused); it is then logged as an error
 * naming the chunk and listed in the status.
 *
 * One scrub runs at a time; the status tells the current one, or the last.
 *
 * Threading: every call on the event-loop thread; the worker touches only
 * what it was handed and the progress under the scrubber's lock.
 */
#ifndef CHUNKD_SERVER_SCRUBBER_H
#define CHUNKD_SERVER_SCRUBBER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct scrubber;
struct table;

#define SCRUB_LISTED 32 /* mismatched chunk ids a status lists */

struct scrub_status {
	bool running;
	uint64_t run; /* scrubs started since chunkd started; 0: none */
	uint64_t rate_bytes_s;		       /* this run's limit; 0: none */
	uint64_t chunks_total, chunks_checked; /* this (or the last) run */
	uint64_t bytes_total, bytes_checked;
	uint64_t mismatches;
	uint64_t mismatched[SCRUB_LISTED]; /* the first mismatches' ids */
	uint64_t started_s, finished_s;	   /* wall clock; finished 0 while
					    * running */
	/* Over every run since chunkd started: */
	uint64_t all_chunks_checked, all_bytes_checked, all_mismatches;
};

/* A scrubber of t's sealed chunks in the chunk area at area. Returns 0 and
 * sets *out, or -ENOMEM. */
int scrubber_new(struct event_base *base, struct table *t, const uint8_t *area,
		 struct scrubber **out);

/* Starts a scrub at most rate_bytes_s bytes per second (0: no limit).
 * Returns 0, -EALREADY while one runs (the running one goes on), or a
 * negative errno when the worker cannot start. */
int scrubber_start(struct scrubber *s, uint64_t rate_bytes_s);

void scrubber_status(const struct scrubber *s, struct scrub_status *out);

/* Stops a running scrub (the worker ends within one slice), frees the
 * scrubber and sets *s to NULL. NULL is ignored. */
void scrubber_free(struct scrubber **s);

#endif
