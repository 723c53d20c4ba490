/* Reading chunkd's admin replies: a member of a JSON object as a number or
 * a string, with a harmless default when it is missing. */
#ifndef CHUNKD_TOOLS_JSON_FIELDS_H
#define CHUNKD_TOOLS_JSON_FIELDS_H

#include <jansson.h>

/* An integer member of obj, 0 if missing. */
static inline long long num(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

/* A string member of obj, "" if missing. */
static inline const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

#endif
