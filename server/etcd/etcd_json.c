#include "etcd_json.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64 sodium_base64_VARIANT_ORIGINAL

/* Base64 of text (a new string: free it), or NULL. */
static char *etcd_json_b64(const char *text)
{
	size_t n = strlen(text);
	size_t len = sodium_base64_ENCODED_LEN(n, B64);
	char *out = malloc(len);

	if (out)
		sodium_bin2base64(out, len, (const unsigned char *)text, n,
				  B64);
	return out;
}

json_t *etcd_json_b64_string(const char *text)
{
	char *b = etcd_json_b64(text);
	json_t *s = b ? json_string(b) : NULL;

	free(b);
	return s;
}

json_t *etcd_json_int_string(int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

json_t *etcd_json_list(json_t *first, ...)
{
	json_t *list = json_array();
	json_t *item = first;
	bool whole = list != NULL;
	va_list ap;

	va_start(ap, first);
	for (; item; item = va_arg(ap, json_t *)) {
		if (!list || json_array_append_new(list, item))
			whole = false;
	}
	va_end(ap);
	if (!whole) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* {name: inner}, or NULL; inner consumed. */
static json_t *wrap(const char *name, json_t *inner)
{
	json_t *o = inner ? json_object() : NULL;

	if (!o || json_object_set_new(o, name, inner)) {
		json_decref(o);
		if (!o)
			json_decref(inner);
		return NULL;
	}
	return o;
}

json_t *etcd_json_cmp_absent(const char *key)
{
	return json_pack("{s:s, s:s, s:o, s:s}", "target", "CREATE", "result",
			 "EQUAL", "key", etcd_json_b64_string(key),
			 "create_revision", "0");
}

json_t *etcd_json_cmp_mod(const char *key, int64_t rev)
{
	return json_pack("{s:s, s:s, s:o, s:o}", "target", "MOD", "result",
			 "EQUAL", "key", etcd_json_b64_string(key),
			 "mod_revision", etcd_json_int_string(rev));
}

json_t *etcd_json_put(const char *key, const char *value, int64_t lease)
{
	json_t *put = json_pack("{s:o, s:o}", "key", etcd_json_b64_string(key),
				"value", etcd_json_b64_string(value));

	if (put && lease &&
	    json_object_set_new(put, "lease", etcd_json_int_string(lease))) {
		json_decref(put);
		put = NULL;
	}
	return wrap("request_put", put);
}

json_t *etcd_json_delete(const char *key)
{
	return wrap("request_delete_range",
		    json_pack("{s:o}", "key", etcd_json_b64_string(key)));
}

json_t *etcd_json_get(const char *key)
{
	return wrap("request_range", etcd_json_range_key(key));
}

json_t *etcd_json_range_key(const char *key)
{
	return json_pack("{s:o}", "key", etcd_json_b64_string(key));
}

json_t *etcd_json_range_prefix(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);
	json_t *range;

	/* Every key that starts with prefix sorts before prefix with its
	 * last byte raised by one. Our prefixes end in '/'. */
	if (!end || n == 0) {
		free(end);
		return NULL;
	}
	end[n - 1]++;
	range = json_pack("{s:o, s:o}", "key", etcd_json_b64_string(prefix),
			  "range_end", etcd_json_b64_string(end));
	free(end);
	return range;
}

json_t *etcd_json_txn(json_t *cmp, json_t *success, json_t *failure)
{
	json_t *txn = json_object();

	if (!txn || (cmp && json_object_set_new(txn, "compare", cmp)) ||
	    (success && json_object_set_new(txn, "success", success)) ||
	    (failure && json_object_set_new(txn, "failure", failure))) {
		json_decref(txn);
		return NULL;
	}
	return txn;
}

int64_t etcd_json_int(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static int unb64(const json_t *v, char *out, size_t cap)
{
	const char *s = json_string_value(v);
	size_t n = 0;

	if (!s) {
		out[0] = '\0'; /* proto3 leaves an empty value out */
		return 0;
	}
	if (sodium_base642bin((unsigned char *)out, cap - 1, s, strlen(s), NULL,
			      &n, NULL, B64))
		return -EPROTO;
	out[n] = '\0';
	return 0;
}

int etcd_json_kv(const json_t *kv, struct etcd_kv *out)
{
	if (!json_is_object(kv) ||
	    unb64(json_object_get(kv, "key"), out->key, sizeof(out->key)) ||
	    unb64(json_object_get(kv, "value"), out->value, sizeof(out->value)))
		return -EPROTO;
	out->create_revision =
		etcd_json_int(json_object_get(kv, "create_revision"));
	out->mod_revision = etcd_json_int(json_object_get(kv, "mod_revision"));
	out->lease = etcd_json_int(json_object_get(kv, "lease"));
	return 0;
}

json_t *etcd_json_kvs(const json_t *range_answer)
{
	json_t *kvs = json_object_get(range_answer, "kvs");

	return json_is_array(kvs) ? kvs : NULL;
}

json_t *etcd_json_txn_range(const json_t *txn_answer, size_t i)
{
	json_t *r = json_array_get(json_object_get(txn_answer, "responses"), i);

	return etcd_json_kvs(json_object_get(r, "response_range"));
}
