/*
 * The JSON that etcd 3.4's gateway speaks: builders of requests and
 * decoders of answers. Keys and values are base64 (libsodium's original
 * variant); int64 fields are strings both ways.
 *
 * Builders return a new reference, or NULL when memory ran out; a builder
 * that takes json_t arguments consumes them (even on failure), so calls
 * nest: etcd_json_txn(etcd_json_list(etcd_json_cmp_absent(k), NULL), ...).
 */
#ifndef CHUNKD_ETCD_JSON_H
#define CHUNKD_ETCD_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_KEY_MAX   256
#define ETCD_VALUE_MAX 2048

/* ---- requests ---- */

/* A JSON array of the items up to the NULL, consumed. */
json_t *etcd_json_list(json_t *first, ...);

/* Compares: the key does not exist; the key's mod_revision is rev. */
json_t *etcd_json_cmp_absent(const char *key);
json_t *etcd_json_cmp_mod(const char *key, int64_t rev);

/* Operations of a txn: put (lease 0: none), delete one key, read one key. */
json_t *etcd_json_put(const char *key, const char *value, int64_t lease);
json_t *etcd_json_delete(const char *key);
json_t *etcd_json_get(const char *key);

/* {"compare": cmp, "success": success, "failure": failure}; any may be
 * NULL (no such list). */
json_t *etcd_json_txn(json_t *cmp, json_t *success, json_t *failure);

/* A range request of every key that starts with prefix. */
json_t *etcd_json_range_prefix(const char *prefix);

/* A range request of one key. */
json_t *etcd_json_range_key(const char *key);

/* ---- answers ---- */

/* A key-value as etcd returns it, decoded. */
struct etcd_kv {
	char key[ETCD_KEY_MAX];
	char value[ETCD_VALUE_MAX]; /* NUL-terminated */
	int64_t create_revision;
	int64_t mod_revision;
	int64_t lease;
};

/* An int64 sent as a string (or a number); 0 when absent or not one. */
int64_t etcd_json_int(const json_t *v);

/* Decodes kv; -EPROTO if it is not a key-value or does not fit. */
int etcd_json_kv(const json_t *kv, struct etcd_kv *out);

/* The "kvs" array of a range answer or of a txn's response_range (the
 * i-th response of a txn answer: etcd_json_txn_range(body, i)). May be
 * NULL: no key matched. */
json_t *etcd_json_kvs(const json_t *range_answer);
json_t *etcd_json_txn_range(const json_t *txn_answer, size_t i);

/* JSON strings of text in base64, and of an int64, as the gateway wants
 * keys, values and int64 fields; NULL when memory ran out. */
json_t *etcd_json_b64_string(const char *text);
json_t *etcd_json_int_string(int64_t v);

#endif
