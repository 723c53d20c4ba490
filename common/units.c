#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>

static const char unit_letters[] = "KMGT";

/* Returns the power of 1024 a suffix names, or -1. */
static int suffix_shift(const char *suffix)
{
	if (*suffix == '\0')
		return 0;
	for (int i = 0; unit_letters[i]; i++) {
		if (toupper((unsigned char)*suffix) != unit_letters[i])
			continue;
		if (suffix[1] == '\0' || strcasecmp(suffix + 1, "B") == 0 ||
		    strcasecmp(suffix + 1, "iB") == 0)
			return 10 * (i + 1);
		return -1;
	}
	return -1;
}

int units_parse_size(const char *text, uint64_t *bytes)
{
	uint64_t value = 0;
	const char *p = text;
	int shift;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		value = value * 10 + digit;
	}
	shift = suffix_shift(p);
	if (shift < 0)
		return -EINVAL;
	if (shift && value > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = value << shift;
	return 0;
}

char *units_format_size(uint64_t bytes, char *buf, size_t buf_len)
{
	int unit = -1;

	while (bytes && unit < 3 && (bytes & 1023) == 0) {
		bytes >>= 10;
		unit++;
	}
	if (unit < 0)
		snprintf(buf, buf_len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, buf_len, "%llu%c", (unsigned long long)bytes,
			 unit_letters[unit]);
	return buf;
}

char *units_format_approx(uint64_t bytes, char *buf, size_t buf_len)
{
	int unit = -1;
	uint64_t scale = 1;

	while (unit < 3 && bytes / scale >= 1024) {
		scale <<= 10;
		unit++;
	}
	if (unit < 0) {
		snprintf(buf, buf_len, "%llu", (unsigned long long)bytes);
		return buf;
	}
	/* Tenths, rounded down: "free" must never read more than there is. */
	snprintf(buf, buf_len, "%llu.%llu%c",
		 (unsigned long long)(bytes / scale),
		 (unsigned long long)(bytes % scale * 10 / scale),
		 unit_letters[unit]);
	return buf;
}
