#include "admin_scrub.h"

#include <errno.h>
#include <string.h>

#include "admin_reply.h"

#define MB 1000000ull

static json_t *status_json(const struct scrub_status *st)
{
	json_t *ids = json_array();

	for (uint64_t i = 0; i < st->mismatches && i < SCRUB_LISTED; i++)
		json_array_append_new(
			ids, json_integer((json_int_t)st->mismatched[i]));
	return json_pack(
		"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, "
		"s:{s:I, s:I, s:I}}",
		"running", st->running, "run", (json_int_t)st->run, "rate_mb_s",
		(json_int_t)(st->rate_bytes_s / MB), "chunks",
		(json_int_t)st->chunks_total, "checked",
		(json_int_t)st->chunks_checked, "bytes_total",
		(json_int_t)st->bytes_total, "bytes",
		(json_int_t)st->bytes_checked, "mismatches",
		(json_int_t)st->mismatches, "mismatched", ids, "started_s",
		(json_int_t)st->started_s, "finished_s",
		(json_int_t)st->finished_s, "all", "checked",
		(json_int_t)st->all_chunks_checked, "bytes",
		(json_int_t)st->all_bytes_checked, "mismatches",
		(json_int_t)st->all_mismatches);
}

json_t *admin_verify_status(const struct admin_scrub *as)
{
	struct scrub_status st;

	scrubber_status(as->scrubber, &st);
	return admin_ok(status_json(&st));
}

json_t *admin_verify(const struct admin_scrub *as, json_t *req)
{
	json_t *rate = json_object_get(req, "rate_mb_s");
	uint64_t mb_s = *as->default_mb_s;
	int rc;

	if (rate && (!json_is_integer(rate) || json_integer_value(rate) < 0 ||
		     json_integer_value(rate) > 1000000))
		return admin_error(EINVAL, "rate_mb_s is MB per second, 0 (no "
					   "limit) to 1000000");
	if (rate)
		mb_s = (uint64_t)json_integer_value(rate);
	rc = scrubber_start(as->scrubber, mb_s * MB);
	if (rc && rc != -EALREADY)
		return admin_error(-rc, "cannot start the scrub: %s",
				   strerror(-rc));
	return admin_verify_status(as);
}
