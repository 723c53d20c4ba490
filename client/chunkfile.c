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

static int get(struct chunk_client *c, const char *id_text, const char *out)
{
	unsigned long long id = strtoull(id_text, NULL, 10);
	struct chunk_info info;
	unsigned char *data;
	FILE *f;
	int rc = chunk_open(c, id, &info);

	if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: chunk %s: %s\n", id_text,
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
		fprintf(stderr, "chunkfile: reading chunk %s: %s\n", id_text,
			chunk_strerror(rc));
	}
	if (f && f != stdout)
		fclose(f);
	free(data);
	return rc == CHUNK_OK ? 0 : 1;
}

static int rm(struct chunk_client *c, const char *id_text)
{
	int rc = chunk_free(c, strtoull(id_text, NULL, 10));

	if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: freeing chunk %s: %s\n", id_text,
			chunk_strerror(rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned port = 7470;
	struct chunk_client *c = NULL;
	int opt, rc, nargs;

	while ((opt = getopt_long(argc, argv, "+p:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt != 'p') {
			usage(stderr);
			return 2;
		}
		port = (unsigned)strtoul(optarg, NULL, 10);
	}
	nargs = argc - optind;
	bool is_put = nargs == 3 && strcmp(argv[optind], "put") == 0;
	bool is_get =
		(nargs == 3 || nargs == 4) && strcmp(argv[optind], "get") == 0;
	bool is_rm = nargs == 3 && strcmp(argv[optind], "rm") == 0;

	if (!(is_put || is_get || is_rm) || port == 0 || port > 65535) {
		usage(stderr);
		return 2;
	}
	rc = chunk_client_connect(argv[optind + 1], (uint16_t)port, NULL, &c);
	if (rc != CHUNK_OK) {
		fprintf(stderr, "chunkfile: cannot connect to %s port %u: %s\n",
			argv[optind + 1], port, chunk_strerror(rc));
		return 1;
	}
	if (is_put)
		rc = put(c, argv[optind + 2]);
	else if (is_get)
		rc = get(c, argv[optind + 2],
			 nargs == 4 ? argv[optind + 3] : NULL);
	else
		rc = rm(c, argv[optind + 2]);
	chunk_client_disconnect(&c);
	return rc;
}
