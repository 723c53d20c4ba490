/* Scrubbing: checks sealed chunks' contents against their recorded CRC32C. */
#ifndef CHUNKD_SERVER_SCRUB_H
#define CHUNKD_SERVER_SCRUB_H

#include <stdint.h>

#include "table.h"

struct scrub_result {
	uint64_t checked;    /* sealed chunks read */
	uint64_t bytes;	     /* content bytes read */
	uint64_t mismatches; /* chunks whose content fails its CRC */
};

/* Reads every sealed chunk of t in the chunk area at area and logs each
 * mismatch as an error naming the chunk. */
void scrub_sealed(struct table *t, const uint8_t *area,
		  struct scrub_result *result);

#endif
