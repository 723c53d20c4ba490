/*
 * libFuzzer target for the message decoders: any bytes may arrive in a
 * receive buffer. Decoding must never read out of bounds (ASan watches), and
 * what decodes must encode back to the very same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg msg;
	uint8_t again[PROTO_MAX_FRAME];
	uint8_t *copy;
	int len;

	/* An exact-size heap copy, so ASan sees any read past the frame. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (proto_decode(copy, size, &msg) == 0) {
		len = proto_encode(&msg, again, sizeof(again));
		if (len < 0 || (size_t)len != size || memcmp(again, copy, size))
			abort(); /* decode accepted what encode would not write
				  */
	}
	free(copy);
	return 0;
}
