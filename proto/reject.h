/*
 * Why chunkd refused a connection: the private data of rdma_cm's reject,
 * so the client can tell the application more than "rejected".
 *
 *   offset 0  magic "CKRJ"
 *          4  reason (u8, enum proto_reject_reason)
 *          5  length of the text (u8)
 *          6  the text, one line, not NUL-terminated
 *
 * The whole fits the 148 bytes a reject may carry on InfiniBand and RoCE.
 */
#ifndef CHUNKD_PROTO_REJECT_H
#define CHUNKD_PROTO_REJECT_H

#include <stddef.h>
#include <stdint.h>

enum proto_reject_reason {
	PROTO_REJECT_BUSY = 1,	   /* at its connection limit */
	PROTO_REJECT_INTERNAL = 2, /* could not set the connection up */
};

#define PROTO_REJECT_HEADER   6u
#define PROTO_REJECT_TEXT_MAX 120u
#define PROTO_REJECT_MAX      (PROTO_REJECT_HEADER + PROTO_REJECT_TEXT_MAX)

/* Encodes reason and text (cut to PROTO_REJECT_TEXT_MAX) into buf, which
 * holds PROTO_REJECT_MAX bytes; returns the length. */
size_t proto_reject_encode(unsigned reason, const char *text, uint8_t *buf);

/* Decodes a reject's private data: returns the reason (> 0) and copies the
 * text, NUL-terminated, into text (text_cap bytes); 0 if it is not ours. */
unsigned proto_reject_decode(const void *data, size_t len, char *text,
			     size_t text_cap);

#endif
