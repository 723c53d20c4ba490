/*
 * The frame every chunkd message travels in: a fixed 16-byte header, then
 * body_len bytes of message body.
 *
 *   offset  size  field
 *        0     2  magic      0x4b43 ("CK" on the wire)
 *        2     1  version    PROTO_VERSION
 *        3     1  type       message type (the message modules define them)
 *        4     4  body_len   bytes after the header, at most PROTO_MAX_BODY
 *        8     8  request_id chosen by the requester, echoed in the reply
 *
 * All fields little-endian. A frame is one RDMA SEND, so it never exceeds
 * PROTO_MAX_FRAME.
 */
#ifndef CHUNKD_PROTO_FRAME_H
#define CHUNKD_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC	 0x4b43u
#define PROTO_VERSION	 1u
#define PROTO_HEADER_LEN 16u
#define PROTO_MAX_FRAME	 4096u
#define PROTO_MAX_BODY	 (PROTO_MAX_FRAME - PROTO_HEADER_LEN)

struct proto_header {
	uint8_t version;
	uint8_t type;
	uint32_t body_len;
	uint64_t request_id;
};

/*
 * Writes the header into buf (at least PROTO_HEADER_LEN bytes). Returns 0, or
 * -EMSGSIZE when hdr->body_len exceeds PROTO_MAX_BODY (buf is then untouched).
 */
int proto_header_encode(const struct proto_header *hdr, uint8_t *buf);

/*
 * Reads the header of a received frame of frame_len bytes and checks it
 * against that length. Returns 0 and fills *hdr, or (and *hdr is not set):
 *   -EBADMSG          frame shorter than a header, or wrong magic
 *   -EPROTONOSUPPORT  another protocol version
 *   -EMSGSIZE         body_len disagrees with frame_len or exceeds the limit
 */
int proto_header_decode(const uint8_t *buf, size_t frame_len,
			struct proto_header *hdr);

#endif
