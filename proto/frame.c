#include "frame.h"

#include <errno.h>

#include "wire.h"

int proto_header_encode(const struct proto_header *hdr, uint8_t *buf)
{
	if (hdr->body_len > PROTO_MAX_BODY)
		return -EMSGSIZE;
	wire_put_u16(buf, PROTO_MAGIC);
	wire_put_u8(buf + 2, hdr->version);
	wire_put_u8(buf + 3, hdr->type);
	wire_put_u32(buf + 4, hdr->body_len);
	wire_put_u64(buf + 8, hdr->request_id);
	return 0;
}

int proto_header_decode(const uint8_t *buf, size_t frame_len,
			struct proto_header *hdr)
{
	uint32_t body_len;

	if (frame_len < PROTO_HEADER_LEN || wire_get_u16(buf) != PROTO_MAGIC)
		return -EBADMSG;
	if (wire_get_u8(buf + 2) != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	body_len = wire_get_u32(buf + 4);
	if (body_len > PROTO_MAX_BODY ||
	    body_len != frame_len - PROTO_HEADER_LEN)
		return -EMSGSIZE;
	hdr->version = wire_get_u8(buf + 2);
	hdr->type = wire_get_u8(buf + 3);
	hdr->body_len = body_len;
	hdr->request_id = wire_get_u64(buf + 8);
	return 0;
}
