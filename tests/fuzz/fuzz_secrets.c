/*
 * libFuzzer target for the secrets file parser: a malformed file is
 * refused with one line; an accepted one answers look-ups and frees clean.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memfile.h"
#include "service/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secrets *s = NULL;
	char err[512] = "";
	const char *path = memfile_hold(data, size);

	if (secrets_load(path, &s, err, sizeof(err)) == 0) {
		const char *a = secrets_find(s, "client-a");

		if (a && !*a)
			abort(); /* an empty secret */
		secrets_find(s, "no-such-client");
		secrets_free(&s);
		if (s)
			abort();
	} else if (!err[0] || strchr(err, '\n')) {
		abort(); /* a refusal says why, on one line */
	}
	return 0;
}
