/*
 * Watches a pool image through the persistence shim's hooks and, at every
 * fence (persist_drain), hands out the images a power cut at that instant
 * could leave: everything made durable by earlier fences, plus any subset of
 * the 8-byte words stored since and not yet fenced.
 *
 * Model: a store becomes durable once a flush has covered its cache line and
 * a drain has followed; until then it may or may not have reached the
 * persistence domain, word by word (8-byte aligned words never tear).
 */
#ifndef CHUNKD_TESTS_CRASH_RECORDER_H
#define CHUNKD_TESTS_CRASH_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/persist.h"

struct pending_word {
	size_t offset; /* from the image start, 8-byte aligned */
	uint8_t len;   /* 1..8 bytes from offset */
	bool flushed;
	uint8_t bytes[8];
};

/* Called with each possible crash image; it may modify the image. */
typedef void crash_image_fn(uint8_t *image, size_t len, void *arg);

struct crash_recorder {
	struct persist_hooks hooks;
	const uint8_t *live; /* the image the code under test writes */
	uint8_t *durable;    /* what every past fence made durable */
	uint8_t *scratch;    /* one crash image at a time */
	size_t len;
	struct pending_word *pending;
	size_t pending_count, pending_cap;
	unsigned max_exhaustive; /* all subsets up to this many words (<= 15) */
	unsigned random_subsets; /* else this many random ones */
	uint64_t rng;
	crash_image_fn *on_image;
	void *arg;
	uint64_t images; /* crash images handed out */
	uint64_t fences; /* fence points seen */
	bool enabled;	 /* hand out images at fences */
};

/* Starts watching live (len bytes), whose current content is durable. */
int crash_recorder_init(struct crash_recorder *r, const uint8_t *live,
			size_t len, crash_image_fn *on_image, void *arg,
			uint64_t seed);
void crash_recorder_fini(struct crash_recorder *r);

/* A persister whose stores the recorder sees. */
struct persister crash_recorder_persister(struct crash_recorder *r);

#endif
