#include "repair_agent.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunkclient.h"
#include "json_fields.h"

#define MAX_SEEN   4096 /* lost copies remembered for the grace period */
#define SECRET_MAX 4096

enum { DONE = 0, FAILED = 1, UNREACHABLE = 3 };

/* A lost copy, and when this agent first saw it lost. */
struct seen {
	long long chunk, lost;
	time_t first;
};

struct agent {
	const struct repair_opts *o;
	struct chunk_client *client;
	json_t *members; /* the cluster's running members */
	struct seen seen[MAX_SEEN];
	size_t seen_count;
};

/* chunkd's reply to {"cmd": cmd} if it is ok; NULL otherwise (said). */
static json_t *ask_ok(struct agent *g, const char *cmd)
{
	json_t *r = g->o->ask(g->o->ctx, json_pack("{s:s}", "cmd", cmd));

	if (r && !json_is_true(json_object_get(r, "ok"))) {
		fprintf(stderr, "chunkctl: %s\n", str(r, "error"));
		json_decref(r);
		return NULL;
	}
	return r;
}

static int read_secret(const char *path, char *buf, size_t *len)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		perror(path);
		return -1;
	}
	*len = fread(buf, 1, SECRET_MAX, f);
	fclose(f);
	while (*len && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		(*len)--;
	return 0;
}

/* Connects to the chunkd whose admin socket this is, over RDMA. */
static int connect_self(struct agent *g, json_t *cluster)
{
	const char *self = str(cluster, "self");
	struct chunk_client_opts opts;
	static char secret[SECRET_MAX];
	json_t *m;
	size_t i, len = 0;
	int st;

	chunk_client_opts_init(&opts);
	if (g->o->secret_file) {
		if (read_secret(g->o->secret_file, secret, &len))
			return CHUNK_E_INVAL;
		opts.auth_secret = secret;
		opts.auth_secret_len = len;
	}
	if (g->o->auth_name)
		opts.auth_name = g->o->auth_name;
	json_array_foreach(json_object_get(cluster, "members"), i, m)
	{
		if (strcmp(str(m, "name"), self))
			continue;
		st = chunk_client_connect(str(m, "address"),
					  (uint16_t)num(m, "port"), &opts,
					  &g->client);
		if (st)
			fprintf(stderr,
				"chunkctl: cannot reach chunkd %s at %s port "
				"%lld over RDMA: %s\n",
				self, str(m, "address"), num(m, "port"),
				chunk_strerror(st));
		return st;
	}
	fprintf(stderr, "chunkctl: chunkd %s does not list itself\n", self);
	return CHUNK_E_INTERNAL;
}

/* The running member with the most free bytes whose node holds none of
 * the chunk's copies; NULL when there is none. */
static json_t *choose_target(struct agent *g, json_t *copies)
{
	json_t *best = NULL, *m, *c;
	size_t i, j;

	json_array_foreach(g->members, i, m)
	{
		bool holds = false;

		json_array_foreach(copies, j, c) holds |=
			(num(c, "id") >> 40) == num(m, "node");
		if (!holds && (!best || num(m, "free") > num(best, "free")))
			best = m;
	}
	return best;
}

/* Whether the copy was lost at least the grace period ago (remembering
 * when it was first seen lost). */
static bool due(struct agent *g, long long chunk, long long lost)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < g->seen_count; i++)
		if (g->seen[i].chunk == chunk && g->seen[i].lost == lost)
			return now - g->seen[i].first >= (time_t)g->o->grace_s;
	if (g->seen_count < MAX_SEEN)
		g->seen[g->seen_count++] = (struct seen){chunk, lost, now};
	return g->o->grace_s == 0;
}

/* Repairs one lost copy of chunk; DONE or FAILED (said). */
static int repair_copy(struct agent *g, long long chunk, json_t *lost,
		       json_t *copies)
{
	json_t *to = choose_target(g, copies);
	unsigned long long made;
	int st;

	if (!to) {
		printf("chunk %lld: no running server without a copy for "
		       "its copy %lld\n",
		       chunk, num(lost, "id"));
		return FAILED;
	}
	if (g->o->dry_run) {
		printf("chunk %lld: would copy to %s (%s port %lld) in place "
		       "of %lld\n",
		       chunk, str(to, "name"), str(to, "address"),
		       num(to, "port"), num(lost, "id"));
		return DONE;
	}
	st = chunk_repair_copy(g->client, (unsigned long long)chunk,
			       (unsigned long long)num(lost, "id"),
			       str(to, "address"), (uint16_t)num(to, "port"),
			       &made);
	if (st) {
		printf("chunk %lld: copy %lld not repaired: %s\n", chunk,
		       num(lost, "id"), chunk_strerror(st));
		return FAILED;
	}
	printf("chunk %lld: copy %lld replaced by %llu on %s\n", chunk,
	       num(lost, "id"), made, str(to, "name"));
	/* The new copy's node holds one now. */
	json_array_append_new(copies,
			      json_pack("{s:I}", "id", (json_int_t)made));
	return DONE;
}

static int repair_chunk(struct agent *g, json_t *chunk)
{
	json_t *copies = json_object_get(chunk, "copies"), *c;
	long long id = num(chunk, "id");
	int rc = DONE;
	size_t i, n = json_array_size(copies);

	for (i = 0; i < n; i++) {
		c = json_array_get(copies, i);
		if (json_is_true(json_object_get(c, "running")) ||
		    !due(g, id, num(c, "id")))
			continue;
		if (repair_copy(g, id, c, copies) != DONE)
			rc = FAILED;
	}
	return rc;
}

/* One look at the cluster and the repairs it calls for. */
static int pass(struct agent *g)
{
	json_t *cluster = ask_ok(g, "cluster"), *under, *chunk;
	int rc = DONE;
	size_t i;

	if (!cluster)
		return UNREACHABLE;
	under = ask_ok(g, "under_replicated");
	if (!under) {
		json_decref(cluster);
		return FAILED;
	}
	json_decref(g->members);
	g->members = json_incref(json_object_get(cluster, "members"));
	if (!g->o->dry_run && !g->client &&
	    json_array_size(json_object_get(under, "chunks")) &&
	    connect_self(g, cluster))
		rc = FAILED;
	json_array_foreach(json_object_get(under, "chunks"), i, chunk)
	{
		if (rc == DONE || g->client || g->o->dry_run)
			rc |= repair_chunk(g, chunk);
	}
	if (!g->o->watch && !json_array_size(json_object_get(under, "chunks")))
		printf("no chunk has a copy on a server that is not running\n");
	json_decref(under);
	json_decref(cluster);
	return rc;
}

int repair_run(const struct repair_opts *o)
{
	struct agent *g = calloc(1, sizeof(*g));
	int rc;

	if (!g)
		return FAILED;
	g->o = o;
	do {
		rc = pass(g);
		fflush(stdout);
		if (o->watch)
			sleep(1);
	} while (o->watch);
	chunk_client_disconnect(&g->client);
	json_decref(g->members);
	free(g);
	return rc;
}
