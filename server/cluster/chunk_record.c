#include "chunk_record.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "etcd/etcd_json.h"

static const char *state_word(enum table_chunk_state s)
{
	return s == TABLE_CHUNK_SEALED ? "sealed" : "open";
}

char *chunk_record_encode(const struct chunk_record *r)
{
	const struct table_record *t = &r->rec;
	json_t *o = json_pack(
		"{s:I, s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
		"id", (json_int_t)t->id, "state", state_word(t->state),
		"length", (json_int_t)t->length, "sealed_len",
		(json_int_t)t->sealed_len, "crc", (json_int_t)t->crc, "server",
		r->server, "pool", r->pool, "offset", (json_int_t)t->offset,
		"owner", (json_int_t)t->session, "epoch", (json_int_t)t->epoch,
		"created", (json_int_t)t->created_s, "sealed",
		(json_int_t)t->sealed_s);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static int copy_name(char *out, size_t cap, const char *s)
{
	if (!s || strlen(s) >= cap)
		return -EPROTO;
	snprintf(out, cap, "%s", s);
	return 0;
}

int chunk_record_found(const json_t *txn_answer, struct chunk_record *r,
		       int64_t *revision)
{
	json_t *kvs = etcd_json_txn_range(txn_answer, 0);
	struct etcd_kv kv;

	if (!kvs || json_array_size(kvs) == 0)
		return -ENOENT;
	if (etcd_json_kv(json_array_get(kvs, 0), &kv) ||
	    chunk_record_decode(kv.value, r))
		return -EPROTO;
	*revision = kv.mod_revision;
	return 0;
}

int chunk_record_decode(const char *text, struct chunk_record *r)
{
	json_int_t id, len, sealed_len, crc, off, owner, epoch, created, sealed;
	const char *state, *server, *pool;
	json_t *o = json_loads(text, 0, NULL);
	int rc = -EPROTO;

	memset(r, 0, sizeof(*r));
	if (o &&
	    json_unpack(o,
			"{s:I, s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I, "
			"s:I, s:I, s:I}",
			"id", &id, "state", &state, "length", &len,
			"sealed_len", &sealed_len, "crc", &crc, "server",
			&server, "pool", &pool, "offset", &off, "owner", &owner,
			"epoch", &epoch, "created", &created, "sealed",
			&sealed) == 0 &&
	    copy_name(r->server, sizeof(r->server), server) == 0 &&
	    copy_name(r->pool, sizeof(r->pool), pool) == 0 &&
	    (!strcmp(state, "open") || !strcmp(state, "sealed"))) {
		r->rec = (struct table_record){
			.id = (uint64_t)id,
			.offset = (uint64_t)off,
			.length = (uint64_t)len,
			.sealed_len = (uint64_t)sealed_len,
			.session = (uint64_t)owner,
			.epoch = (uint32_t)epoch,
			.crc = (uint32_t)crc,
			.created_s = (uint32_t)created,
			.sealed_s = (uint32_t)sealed,
			.state = strcmp(state, "sealed") ? TABLE_CHUNK_OPEN
							 : TABLE_CHUNK_SEALED,
		};
		rc = 0;
	}
	json_decref(o);
	return rc;
}
