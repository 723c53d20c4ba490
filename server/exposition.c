#include "exposition.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>

/* HELP text escapes backslash and newline (the format's only rule). */
static void add_help_text(struct evbuffer *out, const char *help)
{
	for (; *help; help++) {
		if (*help == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*help == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, help, 1);
	}
}

void exposition_family(struct evbuffer *out, const char *name, const char *type,
		       const char *help)
{
	evbuffer_add_printf(out, "# HELP %s ", name);
	add_help_text(out, help);
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* name_suffix{labels} , or name_suffix without labels. */
static void add_name(struct evbuffer *out, const char *name, const char *suffix,
		     const char *labels)
{
	if (labels)
		evbuffer_add_printf(out, "%s%s{%s} ", name, suffix, labels);
	else
		evbuffer_add_printf(out, "%s%s ", name, suffix);
}

void exposition_sample(struct evbuffer *out, const char *name,
		       const char *labels, uint64_t value)
{
	add_name(out, name, "", labels);
	evbuffer_add_printf(out, "%" PRIu64 "\n", value);
}

void exposition_single(struct evbuffer *out, const char *name, const char *type,
		       const char *help, uint64_t value)
{
	exposition_family(out, name, type, help);
	exposition_sample(out, name, NULL, value);
}

/* Microseconds as seconds, exactly: 1500 -> "0.0015". */
static void add_seconds(struct evbuffer *out, uint64_t us)
{
	char frac[8];
	int end = 6;

	snprintf(frac, sizeof(frac), "%06" PRIu64, us % 1000000);
	while (end > 0 && frac[end - 1] == '0')
		end--;
	evbuffer_add_printf(out, "%" PRIu64, us / 1000000);
	if (end)
		evbuffer_add_printf(out, ".%.*s", end, frac);
}

/* name_bucket{labels,le=" : the bound and the count follow. */
static void open_bucket(struct evbuffer *out, const char *name,
			const char *labels)
{
	evbuffer_add_printf(out, "%s_bucket{%s%sle=\"", name,
			    labels ? labels : "", labels ? "," : "");
}

void exposition_histogram(struct evbuffer *out, const char *name,
			  const char *labels, const struct histogram *h)
{
	uint64_t cumulative = 0;

	for (unsigned i = 0; i < HISTOGRAM_BOUNDS; i++) {
		cumulative += h->buckets[i];
		open_bucket(out, name, labels);
		add_seconds(out, histogram_bounds_us[i]);
		evbuffer_add_printf(out, "\"} %" PRIu64 "\n", cumulative);
	}
	open_bucket(out, name, labels);
	evbuffer_add_printf(out, "+Inf\"} %" PRIu64 "\n", h->count);
	add_name(out, name, "_sum", labels);
	add_seconds(out, h->sum_us);
	evbuffer_add(out, "\n", 1);
	add_name(out, name, "_count", labels);
	evbuffer_add_printf(out, "%" PRIu64 "\n", h->count);
}
