#include "scrub_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_fields.h"

#define POLL_NS 200000000L

bool scrub_watch_args(int argc, char **argv, struct scrub_watch_opts *o)
{
	char *end;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--status")) {
			o->status_only = true;
		} else if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
			o->rate_mb_s = strtoll(argv[++i], &end, 10);
			if (!*argv[i] || *end || o->rate_mb_s < 0 ||
			    o->rate_mb_s > 1000000)
				return false;
		} else {
			return false;
		}
	}
	return !(o->status_only && o->rate_mb_s >= 0);
}

/* The reply to req if chunkd said ok; else prints why and returns NULL
 * with *code the exit status. */
static json_t *ask_ok(const struct scrub_watch_opts *o, json_t *req, int *code)
{
	json_t *r = o->ask(o->ctx, req);

	*code = 3;
	if (!r)
		return NULL;
	if (!json_is_true(json_object_get(r, "ok"))) {
		fprintf(stderr, "chunkctl: %s\n", str(r, "error"));
		json_decref(r);
		*code = 1;
		return NULL;
	}
	return r;
}

static void print_progress(json_t *st)
{
	long long total = num(st, "bytes_total"), done = num(st, "bytes");

	if (!num(st, "run")) {
		printf("no scrub has run since chunkd started\n");
		return;
	}
	printf("scrub %lld: %s, %lld of %lld sealed chunks, %lld of %lld "
	       "bytes (%lld%%), %lld mismatches; limit %lld MB/s (0: none)\n",
	       num(st, "run"),
	       json_is_true(json_object_get(st, "running")) ? "running"
							    : "done",
	       num(st, "checked"), num(st, "chunks"), done, total,
	       total ? done * 100 / total : 100, num(st, "mismatches"),
	       num(st, "rate_mb_s"));
}

static int print_result(const struct scrub_watch_opts *o, json_t *st)
{
	json_t *ids = json_object_get(st, "mismatched");
	long long mismatches = num(st, "mismatches");

	if (o->json) {
		json_dumpf(st, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (o->status_only) {
		print_progress(st);
	} else {
		printf("verify: %lld sealed chunks, %lld bytes checked, %lld "
		       "mismatches\n",
		       num(st, "checked"), num(st, "bytes"), mismatches);
		for (size_t i = 0; i < json_array_size(ids); i++)
			printf("mismatch: chunk %lld (chunkd's log says "
			       "more)\n",
			       (long long)json_integer_value(
				       json_array_get(ids, i)));
	}
	return !o->status_only && mismatches ? 1 : 0;
}

int scrub_watch_run(const struct scrub_watch_opts *o)
{
	struct timespec pause = {0, POLL_NS};
	json_t *req, *st;
	int code;

	if (o->status_only)
		req = json_pack("{s:s}", "cmd", "verify_status");
	else if (o->rate_mb_s >= 0)
		req = json_pack("{s:s, s:I}", "cmd", "verify", "rate_mb_s",
				(json_int_t)o->rate_mb_s);
	else
		req = json_pack("{s:s}", "cmd", "verify");
	st = ask_ok(o, req, &code);
	while (st && !o->status_only &&
	       json_is_true(json_object_get(st, "running"))) {
		json_decref(st);
		nanosleep(&pause, NULL);
		st = ask_ok(o, json_pack("{s:s}", "cmd", "verify_status"),
			    &code);
	}
	if (!st)
		return code;
	code = print_result(o, st);
	json_decref(st);
	return code;
}
