/*
 * Prometheus's text exposition format (version 0.0.4), written into an
 * evbuffer: a family's HELP and TYPE lines, then its samples. Names and
 * label sets are the caller's constants; only HELP text is escaped here.
 *
 * Threading: none of its own.
 */
#ifndef CHUNKD_SERVER_EXPOSITION_H
#define CHUNKD_SERVER_EXPOSITION_H

#include <stdint.h>

#include "common/histogram.h"

struct evbuffer;

/* The HELP and TYPE lines of family name; type is "counter", "gauge" or
 * "histogram". */
void exposition_family(struct evbuffer *out, const char *name, const char *type,
		       const char *help);

/* One sample: name{labels} value. labels is NULL or what goes between
 * the braces, such as type="ALLOC". */
void exposition_sample(struct evbuffer *out, const char *name,
		       const char *labels, uint64_t value);

/* A family of one unlabelled sample, in one call. */
void exposition_single(struct evbuffer *out, const char *name, const char *type,
		       const char *help, uint64_t value);

/* The samples of histogram h, in seconds: name_bucket{labels,le="..."}
 * (cumulative), name_sum and name_count. */
void exposition_histogram(struct evbuffer *out, const char *name,
			  const char *labels, const struct histogram *h);

#endif
