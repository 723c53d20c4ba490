/*
 * Writes the fuzzers' seed corpora at build time, from the real encoders
 * and formats, so that fuzzing starts past the frame header check:
 *
 *   make_corpus proto DIR    one valid frame of each message type
 *   make_corpus admin DIR    one request line of each admin command
 *   make_corpus config DIR   a config file with every section and key
 *   make_corpus secrets DIR  a secrets file with names and the cluster secret
 */
#include <stdio.h>
#include <string.h>

#include "proto/msg.h"

static int write_file(const char *dir, const char *name, const void *data,
		      size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return 1;
	}
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : 1;
}

/* A copy list of two servers. */
static void fill_list(struct proto_copy_list *l)
{
	l->count = 2;
	for (unsigned i = 0; i < 2; i++) {
		l->copy[i].id = (2ull + i) << 40 | 5;
		l->copy[i].port = (uint16_t)(7471 + i);
		strcpy(l->copy[i].addr, "10.0.2.15");
		l->copy[i].addr_len = 9;
	}
}

/* The messages of replicated chunks, and ELSEWHERE. */
static void fill_replication(struct proto_msg *m, unsigned type)
{
	if (type == PROTO_ALLOC)
		m->u.alloc.copies = 3;
	if (type == PROTO_ALLOC_COPY) {
		m->u.alloc.size = 65536;
		m->u.alloc.of = 1ull << 40 | 5;
	}
	if (type == PROTO_SEAL_COPIES) {
		m->u.seal.count = 2;
		m->u.seal.copies[0] = 2ull << 40 | 5;
		m->u.seal.copies[1] = 3ull << 40 | 5;
	}
	if (type == PROTO_PLACED)
		fill_list(&m->u.placed.where);
	if (type == PROTO_COPIES)
		fill_list(&m->u.copies.list);
	if (type == PROTO_ELSEWHERE) {
		memset(&m->u.elsewhere, 0, sizeof(m->u.elsewhere));
		strcpy(m->u.elsewhere.addr, "10.0.2.15");
		m->u.elsewhere.addr_len = 9;
		m->u.elsewhere.port = 7471;
	}
}

/* A message of each type with every field set to something plausible. */
static void fill(struct proto_msg *m, unsigned type)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = (uint8_t)type;
	m->hdr.request_id = 1000 + type;
	m->u.welcome.session = 0x1234567890ull; /* the first u64 of many */
	m->u.grant.addr = 0x7f0000001000ull;
	m->u.grant.length = 65536;
	m->u.grant.rkey = 0x1234;
	m->u.grant.epoch = 1;
	if (type == PROTO_HELLO) {
		memset(&m->u.hello, 0, sizeof(m->u.hello));
		strcpy(m->u.hello.name, "client-a");
		m->u.hello.name_len = 8;
		m->u.hello.mac_len = PROTO_MAC_LEN;
		memset(m->u.hello.mac, 0xa5, PROTO_MAC_LEN);
	} else if (type == PROTO_ERROR) {
		memset(&m->u.error, 0, sizeof(m->u.error));
		m->u.error.status = PROTO_ST_STATE;
		strcpy(m->u.error.text, "chunk 7 is sealed");
		m->u.error.text_len = (uint16_t)strlen(m->u.error.text);
	} else if (type == PROTO_RENEW || type == PROTO_RENEWED) {
		m->u.renew.epoch = 1;
		m->u.renew.lease_ttl_ms = type == PROTO_RENEWED ? 10000 : 0;
	} else {
		fill_replication(m, type);
	}
}

static int proto_corpus(const char *dir)
{
	uint8_t frame[PROTO_MAX_FRAME];
	int failed = 0;

	for (unsigned type = PROTO_HELLO; type <= PROTO_REPLACED; type++) {
		struct proto_msg m;
		char name[64];
		int len;

		fill(&m, type);
		len = proto_encode(&m, frame, sizeof(frame));
		if (len < 0) {
			fprintf(stderr, "make_corpus: cannot encode %s\n",
				proto_type_name(type));
			return 1;
		}
		snprintf(name, sizeof(name), "%02u-%s", type,
			 proto_type_name(type));
		failed |= write_file(dir, name, frame, (size_t)len);
	}
	return failed;
}

static int lines_corpus(const char *dir, const char *const *lines)
{
	int failed = 0;

	for (int i = 0; lines[i]; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%02d", i);
		failed |= write_file(dir, name, lines[i], strlen(lines[i]));
	}
	return failed;
}

static const char *const admin_lines[] = {
	"{\"cmd\":\"status\"}",
	"{\"cmd\":\"leases\"}",
	"{\"cmd\":\"lease_show\",\"id\":1}",
	"{\"cmd\":\"lease_renew\",\"id\":1}",
	"{\"cmd\":\"lease_revoke\",\"id\":1}",
	"{\"cmd\":\"chunks\",\"state\":\"sealed\"}",
	"{\"cmd\":\"chunk_show\",\"id\":1}",
	"{\"cmd\":\"chunk_free\",\"id\":2}",
	"{\"cmd\":\"verify\"}",
	/* Not UTF-8: chunkd once quoted it into a reply jansson refused, and
	 * the client got no answer at all. */
	"{\"\\\xdd\x93\x9a\x9eses\"}",
	NULL,
};

static const char *const config_files[] = {
	"[pool]\npath = /dev/dax0.0\nsize = 1G\ngranularity = 4K\n"
	"max_chunks = 65536\n\n[server]\nlisten = 10.0.2.15\nport = 7470\n"
	"poll_us = 50\nlease_ttl_ms = 10000\nhello_timeout_ms = 5000\n"
	"max_connections = 0\ndirect_write_to_pmem = false\n"
	"log_level = info\n\n[admin]\nsocket = /run/chunkd/chunkd.sock\n\n"
	"[auth]\nsecrets = /etc/chunkd/secrets\n",
	"; a comment\n[server]\nport=1\n# another\n",
	"[metrics]\nlisten = 127.0.0.1:9470\n\n[scrub]\nrate_mb_s = 100\n",
	NULL,
};

static const char *const secrets_files[] = {
	"# name secret\nclient-a s3cret-a\nclient-b s3cret-b\n* cluster\n",
	"only-one secret\n",
	NULL,
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr,
			"usage: make_corpus proto|admin|config|secrets DIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "proto"))
		return proto_corpus(argv[2]);
	if (!strcmp(argv[1], "admin"))
		return lines_corpus(argv[2], admin_lines);
	if (!strcmp(argv[1], "config"))
		return lines_corpus(argv[2], config_files);
	if (!strcmp(argv[1], "secrets"))
		return lines_corpus(argv[2], secrets_files);
	fprintf(stderr, "make_corpus: unknown corpus %s\n", argv[1]);
	return 2;
}
