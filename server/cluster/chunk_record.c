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

/* The replication keys, where the record has them; -1 out of memory. */
static int add_replication(json_t *o, const struct chunk_record *r)
{
	int rc = 0;

	if (r->copies > 1)
		rc |= json_object_set_new(o, "copies",
					  json_integer((json_int_t)r->copies));
	if (r->copy_of)
		rc |= json_object_set_new(o, "copy_of",
					  json_integer((json_int_t)r->copy_of));
	return rc;
}

char *chunk_placed_encode(const uint64_t *ids, unsigned count)
{
	json_t *list = json_array(), *o;
	char *text = NULL;

	for (unsigned i = 0; list && i < count; i++)
		if (json_array_append_new(list,
					  json_integer((json_int_t)ids[i]))) {
			json_decref(list);
			list = NULL;
		}
	o = list ? json_pack("{s:o}", "copies", list) : NULL;
	if (o)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int chunk_placed_decode(const char *text, uint64_t *ids, unsigned *count)
{
	json_t *o = json_loads(text, 0, NULL);
	json_t *list = json_object_get(o, "copies");
	int rc =
		json_is_array(list) && json_array_size(list) <= TABLE_MAX_COPIES
			? 0
			: -EPROTO;

	*count = 0;
	for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
		json_t *id = json_array_get(list, i);

		if (!json_is_integer(id))
			rc = -EPROTO;
		else
			ids[(*count)++] = (uint64_t)json_integer_value(id);
	}
	json_decref(o);
	return rc;
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
	char *text = o && add_replication(o, r) == 0
			     ? json_dumps(o, JSON_COMPACT)
			     : NULL;

	json_decref(o);
	return text;
}

/* The optional replication keys; -EPROTO when one is malformed. */
static int get_replication(json_t *o, struct chunk_record *r)
{
	json_t *copies = json_object_get(o, "copies");
	json_t *copy_of = json_object_get(o, "copy_of");

	if ((copies && !json_is_integer(copies)) ||
	    (copy_of && !json_is_integer(copy_of)))
		return -EPROTO;
	r->copies = copies ? (uint32_t)json_integer_value(copies) : 0;
	r->copy_of = copy_of ? (uint64_t)json_integer_value(copy_of) : 0;
	return 0;
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
	    (!strcmp(state, "open") || !strcmp(state, "sealed")) &&
	    get_replication(o, r) == 0) {
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
