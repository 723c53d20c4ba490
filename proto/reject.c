#include "reject.h"

#include <string.h>

static const uint8_t magic[4] = {'C', 'K', 'R', 'J'};

size_t proto_reject_encode(unsigned reason, const char *text, uint8_t *buf)
{
	size_t len = strlen(text);

	if (len > PROTO_REJECT_TEXT_MAX)
		len = PROTO_REJECT_TEXT_MAX;
	memcpy(buf, magic, sizeof(magic));
	buf[4] = (uint8_t)reason;
	buf[5] = (uint8_t)len;
	memcpy(buf + PROTO_REJECT_HEADER, text, len);
	return PROTO_REJECT_HEADER + len;
}

unsigned proto_reject_decode(const void *data, size_t len, char *text,
			     size_t text_cap)
{
	const uint8_t *p = data;
	size_t text_len;

	if (!p || len < PROTO_REJECT_HEADER || memcmp(p, magic, 4) || !p[4] ||
	    text_cap == 0)
		return 0;
	text_len = p[5];
	/* Transports may pad private data with zeros: only the length is
	 * trusted, and only as far as the data goes. */
	if (text_len > len - PROTO_REJECT_HEADER)
		return 0;
	if (text_len >= text_cap)
		text_len = text_cap - 1;
	memcpy(text, p + PROTO_REJECT_HEADER, text_len);
	text[text_len] = '\0';
	return p[4];
}
