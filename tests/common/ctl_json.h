/* chunkctl --json against a test's chunkd, for tests that check what
 * chunkd reports. */
#ifndef CHUNKD_TESTS_CTL_JSON_H
#define CHUNKD_TESTS_CTL_JSON_H

#include <jansson.h>

#include "chunkd_proc.h"

/* Runs chunkctl (binary) --json with up to three arguments (NULL ends
 * them) against p's admin socket; returns its parsed output (NULL if it
 * printed no JSON) and sets *status to its exit status. */
json_t *ctl_json(const char *binary, const struct chunkd_proc *p, int *status,
		 const char *a1, const char *a2, const char *a3);

/* The same, failing the test unless chunkctl succeeded. */
json_t *ctl_json_ok(const char *binary, const struct chunkd_proc *p,
		    const char *a1, const char *a2, const char *a3);

/* An integer member of obj, 0 if missing. */
long long json_num(json_t *obj, const char *key);

#endif
