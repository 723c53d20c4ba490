#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/wire.h"

static const struct proto_header sample = {
	.version = PROTO_VERSION,
	.type = 7,
	.body_len = 24,
	.request_id = 0x1122334455667788ull,
};

Test(frame, encodes_little_endian_layout)
{
	uint8_t buf[PROTO_HEADER_LEN];
	const uint8_t expected[PROTO_HEADER_LEN] = {
		0x43, 0x4b, PROTO_VERSION, 7,	 24,   0,    0,	   0,
		0x88, 0x77, 0x66,	   0x55, 0x44, 0x33, 0x22, 0x11,
	};

	cr_assert_eq(proto_header_encode(&sample, buf), 0);
	cr_assert_arr_eq(buf, expected, sizeof(expected));
}

Test(frame, round_trips)
{
	uint8_t frame[PROTO_HEADER_LEN + 24] = {0};
	struct proto_header out;

	cr_assert_eq(proto_header_encode(&sample, frame), 0);
	cr_assert_eq(proto_header_decode(frame, sizeof(frame), &out), 0);
	cr_assert_eq(out.version, sample.version);
	cr_assert_eq(out.type, sample.type);
	cr_assert_eq(out.body_len, sample.body_len);
	cr_assert_eq(out.request_id, sample.request_id);
}

Test(frame, refuses_oversized_body_on_encode)
{
	struct proto_header big = sample;
	uint8_t buf[PROTO_HEADER_LEN];

	memset(buf, 0xa5, sizeof(buf));
	big.body_len = PROTO_MAX_BODY + 1;
	cr_assert_eq(proto_header_encode(&big, buf), -EMSGSIZE);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xa5, "byte %zu was written", i);
}

static int decode_with(size_t offset, uint8_t value, size_t frame_len)
{
	uint8_t frame[PROTO_MAX_FRAME] = {0};
	struct proto_header out = {.type = 99};
	int rc;

	proto_header_encode(&sample, frame);
	frame[offset] = value;
	rc = proto_header_decode(frame, frame_len, &out);
	if (rc)
		cr_assert_eq(out.type, 99,
			     "a failed decode must not fill *hdr");
	return rc;
}

Test(frame, rejects_bad_frames)
{
	size_t good_len = PROTO_HEADER_LEN + sample.body_len;

	cr_assert_eq(decode_with(0, 0x43, good_len), 0);
	cr_assert_eq(decode_with(0, 0x00, good_len), -EBADMSG);
	cr_assert_eq(decode_with(1, 0x00, good_len), -EBADMSG);
	cr_assert_eq(decode_with(2, PROTO_VERSION + 1, good_len),
		     -EPROTONOSUPPORT);
	cr_assert_eq(decode_with(4, 25, good_len), -EMSGSIZE);
	cr_assert_eq(decode_with(0, 0x43, good_len + 1), -EMSGSIZE);
	cr_assert_eq(decode_with(0, 0x43, good_len - 1), -EMSGSIZE);
	cr_assert_eq(decode_with(0, 0x43, PROTO_HEADER_LEN - 1), -EBADMSG);
	cr_assert_eq(decode_with(0, 0x43, 0), -EBADMSG);
}

Test(frame, rejects_body_beyond_limit_even_if_consistent)
{
	uint8_t frame[PROTO_HEADER_LEN];
	struct proto_header out;

	proto_header_encode(&sample, frame);
	wire_put_u32(frame + 4, 0xffffffffu);
	cr_assert_eq(proto_header_decode(frame, sizeof(frame), &out),
		     -EMSGSIZE);
}

Test(wire, loads_what_it_stores_at_odd_offsets)
{
	uint8_t buf[19];

	wire_put_u16(buf + 1, 0xbeef);
	wire_put_u32(buf + 3, 0xdeadbeefu);
	wire_put_u64(buf + 7, 0x0123456789abcdefull);
	cr_assert_eq(wire_get_u16(buf + 1), 0xbeef);
	cr_assert_eq(wire_get_u32(buf + 3), 0xdeadbeefu);
	cr_assert_eq(wire_get_u64(buf + 7), 0x0123456789abcdefull);
	cr_assert_eq(buf[7], 0xef, "least significant byte first");
}
