/*
 * chunkfile: an example of libchunkclient. Stores a file in a chunk and
 * reads a chunk back by its id.
 *
 *   chunkfile put HOST FILE       prints the new chunk's id
 *   chunkfile get HOST ID [OUT]   writes the chunk to OUT (default stdout)
 *   chunkfile rm HOST ID          frees the chunk
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkclient.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkfile [--port PORT] put HOST FILE\n"
		"       chunkfile [--port PORT] get HOST ID [OUT]\n"
		"       chunkfile [--port PORT] rm HOST ID\n"
		"\n"
		"put stores FILE in a new chunk of chunkd at HOST (written with RDMA,\n"
		"persisted, sealed) and prints its id; get reads chunk ID back into\n"
		"OUT, or to standard output; rm frees it. Default port 7470.\n");
}

/* Reads a whole file into memory; returns NULL (and says why) on failure. */
static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "chunkfile: cannot read %s: %s\n", path,
			strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	buf = malloc(size ? (size_t)size : 1);
	if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "chunkfile: short read of %s\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static int put(struct chunk_client *c, const char *path)
{
	size_t len;
	unsigned char *data = read_file(path, &len);
	unsigned long long id;
	int rc;

	if (!data)
		return 1;
	/* A chunk has at least one byte of room, even for an empty file. */
	rc = chunk_alloc(c, len ? len : 1, &id);
	if (rc == CHUNK_OK)
		rc = chunk_write_persist(c, id, 0, data, len);
	if (rc == CHUNK_OK)
		rc = chunk_seal(c, id, len, chunk_crc32c(0, data, len));
	free(data);
	if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: storing %s: %s\n", path,
			chunk_strerror(rc));
		return 1;
	}
	printf("%llu\n", id);
	return 0;
}

static int get(struct chunk_client *c, unsigned long long id, const char *out)
{
	struct chunk_info info;
	unsigned char *data;
	FILE *f;
	int rc = chunk_open(c, id, &info);

	if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: chunk %llu: %s\n", id,
			chunk_strerror(rc));
		return 1;
	}
	data = malloc(info.length ? info.length : 1);
	rc = data ? chunk_read(c, id, 0, data, info.length) : CHUNK_E_NOMEM;
	if (rc == CHUNK_OK && chunk_crc32c(0, data, info.length) != info.crc32c)
		rc = CHUNK_E_CRC;
	f = rc == CHUNK_OK ? (out ? fopen(out, "wb") : stdout) : NULL;
	if (rc == CHUNK_OK &&
	    (!f || fwrite(data, 1, info.length, f) != info.length)) {
		fprintf(stderr, "chunkfile: cannot write %s: %s\n",
			out ? out : "stdout", strerror(errno));
		rc = CHUNK_E_INTERNAL;
	} else if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: reading chunk %llu: %s\n", id,
			chunk_strerror(rc));
	}
	if (f && f != stdout)
		fclose(f);
	free(data);
	return rc == CHUNK_OK ? 0 : 1;
}

static int rm(struct chunk_client *c, unsigned long long id)
{
	int rc = chunk_free(c, id);

	if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: freeing chunk %llu: %s\n", id,
			chunk_strerror(rc));
		return 1;
	}
	return 0;
}

/* Parses a positive decimal number no larger than max; false otherwise. */
static bool parse_number(const char *text, unsigned long long max,
			 unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(text, &end, 10);
	return text[0] >= '0' && text[0] <= '9' && !*end && !errno &&
	       *out > 0 && *out <= max;
}

/* What the command line asks for. */
struct command {
	const char *verb, *host, *path; /* path: put's FILE or get's OUT */
	unsigned long long id;		/* get and rm */
	unsigned long long port;
};

/* Checks the command line before anything is contacted; 0 or exit 2. */
static int parse_command(int nargs, char **args, struct command *cmd)
{
	bool put = nargs == 3 && !strcmp(args[0], "put");
	bool get = (nargs == 3 || nargs == 4) && !strcmp(args[0], "get");
	bool rm = nargs == 3 && !strcmp(args[0], "rm");

	if (!(put || get || rm)) {
		usage(stderr);
		return 2;
	}
	cmd->verb = args[0];
	cmd->host = args[1];
	cmd->path = put || nargs == 4 ? args[nargs - 1] : NULL;
	if (!put && !parse_number(args[2], ~0ull, &cmd->id)) {
		fprintf(stderr,
			"chunkfile: a chunk id is a positive number, "
			"not '%s'\n",
			args[2]);
		return 2;
	}
	return 0;
}

/* chunkd's reasons for a refusal reach the user, not only the code. */
static void print_warning(enum chunk_log_level level, const char *msg,
			  void *arg)
{
	(void)level;
	(void)arg;
	fprintf(stderr, "chunkfile: %s\n", msg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct command cmd = {.port = 7470};
	struct chunk_client *c = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+p:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt != 'p') {
			usage(stderr);
			return 2;
		}
		if (!parse_number(optarg, 65535, &cmd.port)) {
			fprintf(stderr,
				"chunkfile: --port needs 1 to 65535, "
				"not '%s'\n",
				optarg);
			return 2;
		}
	}
	rc = parse_command(argc - optind, argv + optind, &cmd);
	if (rc)
		return rc;
	chunk_log_set_function(print_warning, NULL, CHUNK_LOG_WARN);
	rc = chunk_client_connect(cmd.host, (uint16_t)cmd.port, NULL, &c);
	if (rc != CHUNK_OK) {
		fprintf(stderr,
			"chunkfile: cannot connect to %s port %llu: %s\n",
			cmd.host, cmd.port, chunk_strerror(rc));
		return 1;
	}
	if (!strcmp(cmd.verb, "put"))
		rc = put(c, cmd.path);
	else if (!strcmp(cmd.verb, "get"))
		rc = get(c, cmd.id, cmd.path);
	else
		rc = rm(c, cmd.id);
	chunk_client_disconnect(&c);
	return rc;
}
