#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/wire.h"

static void sample_copy(struct proto_copy *c, uint64_t id, const char *addr)
{
	c->id = id;
	c->port = 7471;
	c->addr_len = (uint8_t)strlen(addr);
	strcpy(c->addr, addr);
}

static struct proto_msg sample(unsigned type)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = (uint8_t)type;
	m.hdr.request_id = 0x0102030405060708ull + type;
	switch (type) {
	case PROTO_HELLO:
		m.u.hello.name_len = 5;
		strcpy(m.u.hello.name, "alice");
		m.u.hello.mac_len = PROTO_MAC_LEN;
		memset(m.u.hello.mac, 0x5a, PROTO_MAC_LEN);
		break;
	case PROTO_WELCOME:
		m.u.welcome.session = 77;
		m.u.welcome.epoch = 3;
		m.u.welcome.persist_methods = PROTO_PERSIST_RPC;
		m.u.welcome.max_frame = PROTO_MAX_FRAME;
		m.u.welcome.granularity = 4096;
		m.u.welcome.lease_ttl_ms = 10000;
		break;
	case PROTO_ALLOC:
		m.u.alloc.size = 1ull << 33;
		m.u.alloc.epoch = 4;
		m.u.alloc.copies = 3;
		break;
	case PROTO_ALLOC_COPY:
		m.u.alloc.size = 4096;
		m.u.alloc.epoch = 4;
		m.u.alloc.of = (2ull << 40) | 7;
		break;
	case PROTO_SEAL_COPIES:
		m.u.seal.chunk = (2ull << 40) | 7;
		m.u.seal.length = 4096;
		m.u.seal.crc = 0xe3069283;
		m.u.seal.epoch = 4;
		m.u.seal.count = 2;
		m.u.seal.copies[0] = (3ull << 40) | 1;
		m.u.seal.copies[1] = (5ull << 40) | 2;
		break;
	case PROTO_OPEN_COPY:
		m.u.open.chunk = (3ull << 40) | 1;
		break;
	case PROTO_PLACED:
		m.u.placed.grant.chunk = (2ull << 40) | 7;
		m.u.placed.grant.addr = 0x7f0000001000ull;
		m.u.placed.grant.length = 8192;
		m.u.placed.grant.rkey = 0xabcd;
		m.u.placed.grant.epoch = 2;
		m.u.placed.where.count = 2;
		sample_copy(&m.u.placed.where.copy[0], 0, "10.0.2.16");
		sample_copy(&m.u.placed.where.copy[1], 0, "fd00::17");
		break;
	case PROTO_REPLACE_COPY:
		m.u.replace.chunk = (2ull << 40) | 7;
		m.u.replace.lost = (3ull << 40) | 1;
		m.u.replace.copy = (6ull << 40) | 9;
		m.u.replace.epoch = 4;
		break;
	case PROTO_COPIES:
		m.u.copies.chunk = (2ull << 40) | 7;
		m.u.copies.list.count = 3;
		sample_copy(&m.u.copies.list.copy[0], (2ull << 40) | 7, "a");
		sample_copy(&m.u.copies.list.copy[1], (3ull << 40) | 1, "bb");
		sample_copy(&m.u.copies.list.copy[2], (5ull << 40) | 2, "c");
		break;
	case PROTO_GRANT:
		m.u.grant.chunk = 9;
		m.u.grant.addr = 0x7f0000001000ull;
		m.u.grant.length = 8192;
		m.u.grant.rkey = 0xabcd;
		m.u.grant.epoch = 2;
		break;
	case PROTO_PERSIST:
		m.u.persist.chunk = 9;
		m.u.persist.offset = 64;
		m.u.persist.length = 4032;
		m.u.persist.epoch = 4;
		break;
	case PROTO_SEAL:
		m.u.seal.chunk = 9;
		m.u.seal.length = 4096;
		m.u.seal.crc = 0xe3069283;
		m.u.seal.epoch = 4;
		break;
	case PROTO_OPEN:
		m.u.open.chunk = 10;
		break;
	case PROTO_FREE:
		m.u.free.chunk = 11;
		m.u.free.epoch = 4;
		break;
	case PROTO_RENEW:
		m.u.renew.epoch = 5;
		break;
	case PROTO_RENEWED:
		m.u.renew.epoch = 5;
		m.u.renew.lease_ttl_ms = 10000;
		break;
	case PROTO_OPENED:
		m.u.opened.chunk = 10;
		m.u.opened.addr = 0x1000;
		m.u.opened.length = 100;
		m.u.opened.rkey = 5;
		m.u.opened.crc = 6;
		break;
	case PROTO_ELSEWHERE:
		m.u.elsewhere.chunk = (3ull << 40) | 12;
		m.u.elsewhere.port = 7471;
		strcpy(m.u.elsewhere.addr, "10.0.2.15");
		m.u.elsewhere.addr_len = 9;
		break;
	case PROTO_ERROR:
		m.u.error.status = PROTO_ST_CRC;
		m.u.error.detail = 44;
		strcpy(m.u.error.text, "chunk 9: CRC32C mismatch");
		m.u.error.text_len = (uint16_t)strlen(m.u.error.text);
		break;
	}
	return m;
}

Test(msg, every_type_round_trips)
{
	for (unsigned type = PROTO_HELLO; type <= PROTO_REPLACED; type++) {
		struct proto_msg in = sample(type), out;
		uint8_t buf[PROTO_MAX_FRAME];
		int len = proto_encode(&in, buf, sizeof(buf));

		cr_assert_gt(len, 0, "%s", proto_type_name(type));
		memset(&out, 0, sizeof(out));
		cr_assert_eq(proto_decode(buf, (size_t)len, &out), 0, "%s",
			     proto_type_name(type));
		cr_assert_eq(out.hdr.type, type);
		cr_assert_eq(out.hdr.request_id, in.hdr.request_id);
		in.hdr = out.hdr; /* version and body_len are filled in */
		if (type == PROTO_ERROR)
			cr_assert_str_eq(out.u.error.text, in.u.error.text);
		else
			cr_assert_eq(memcmp(&in.u, &out.u, sizeof(in.u)), 0,
				     "%s", proto_type_name(type));
	}
}

Test(msg, wrong_body_lengths_are_refused)
{
	for (unsigned type = PROTO_HELLO; type <= PROTO_REPLACED; type++) {
		if (type == PROTO_ERROR)
			continue;
		struct proto_msg in = sample(type), out;
		uint8_t buf[PROTO_MAX_FRAME] = {0};
		int len = proto_encode(&in, buf, sizeof(buf));

		/* one byte more and one byte less, header kept consistent */
		wire_put_u32(buf + 4, (uint32_t)(len - PROTO_HEADER_LEN + 1));
		cr_assert_eq(proto_decode(buf, (size_t)len + 1, &out), -EBADMSG,
			     "%s + 1", proto_type_name(type));
		if (len > (int)PROTO_HEADER_LEN) {
			wire_put_u32(buf + 4,
				     (uint32_t)(len - PROTO_HEADER_LEN - 1));
			cr_assert_eq(proto_decode(buf, (size_t)len - 1, &out),
				     -EBADMSG, "%s - 1", proto_type_name(type));
		}
	}
}

Test(msg, unknown_types_and_bad_error_texts_are_refused)
{
	struct proto_msg m = sample(PROTO_ERROR), out;
	uint8_t buf[PROTO_MAX_FRAME];
	int len;

	m.hdr.type = 99;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(PROTO_ERROR);
	m.u.error.text_len = PROTO_ERROR_TEXT_MAX + 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(PROTO_ERROR);
	len = proto_encode(&m, buf, sizeof(buf));
	buf[PROTO_HEADER_LEN + 10 + 3] = '\0';
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG);
	m = sample(PROTO_FREE);
	len = proto_encode(&m, buf, sizeof(buf));
	buf[3] = 0;
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG);
	cr_assert_eq(proto_encode(&m, buf, 20), -EMSGSIZE);
}

Test(msg, reserved_fields_must_be_zero)
{
	const struct {
		unsigned type, offset;
	} reserved[] = {
		{PROTO_HELLO, 0},	 {PROTO_ALLOC_COPY, 20},
		{PROTO_FREE, 12},	 {PROTO_PERSIST, 28},
		{PROTO_WELCOME, 28},	 {PROTO_RENEW, 4},
		{PROTO_SEAL_COPIES, 28}, {PROTO_PLACED, 33},
		{PROTO_COPIES, 9},	 {PROTO_REPLACE_COPY, 28},
	};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		struct proto_msg m = sample(reserved[i].type), out;
		uint8_t buf[PROTO_MAX_FRAME];
		int len = proto_encode(&m, buf, sizeof(buf));

		cr_assert_eq(proto_decode(buf, (size_t)len, &out), 0);
		buf[PROTO_HEADER_LEN + reserved[i].offset] = 1;
		cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG,
			     "%s", proto_type_name(reserved[i].type));
	}
}

Test(msg, hello_names_and_macs_are_checked)
{
	struct proto_msg m = sample(PROTO_HELLO), out;
	uint8_t buf[PROTO_MAX_FRAME];
	int len;

	m.u.hello.mac_len = 16;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL,
		     "a mac is 0 or 32 bytes");
	m = sample(PROTO_HELLO);
	len = proto_encode(&m, buf, sizeof(buf));
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), 0);
	cr_assert_str_eq(out.u.hello.name, "alice");
	cr_assert_eq(out.u.hello.mac_len, PROTO_MAC_LEN);
	cr_assert_eq(memcmp(out.u.hello.mac, m.u.hello.mac, PROTO_MAC_LEN), 0);
	buf[PROTO_HEADER_LEN + 6 + 2] = '\0'; /* a NUL inside the name */
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG);
	m.u.hello.name_len = PROTO_NAME_MAX + 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

Test(msg, persistence_methods_have_names)
{
	char buf[64];

	cr_assert_str_eq(proto_persist_name(PROTO_PERSIST_RPC), "persist-rpc");
	cr_assert_str_eq(proto_persist_name(PROTO_PERSIST_READ_AFTER_WRITE),
			 "read-after-write");
	cr_assert_str_eq(proto_persist_name(PROTO_PERSIST_NATIVE_FLUSH),
			 "native-flush");
	cr_assert_null(proto_persist_name(0x80));
	cr_assert_str_eq(proto_persist_names(
				 PROTO_PERSIST_RPC |
					 PROTO_PERSIST_READ_AFTER_WRITE | 0x80,
				 buf, sizeof(buf)),
			 "persist-rpc, read-after-write");
	cr_assert_str_eq(proto_persist_names(0, buf, sizeof(buf)), "");
}

Test(msg, elsewhere_addresses_are_checked)
{
	struct proto_msg m = sample(PROTO_ELSEWHERE), out;
	uint8_t buf[PROTO_MAX_FRAME];
	int len;

	len = proto_encode(&m, buf, sizeof(buf));
	cr_assert_eq(len, (int)PROTO_HEADER_LEN + 12 + 9);
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), 0);
	cr_assert_str_eq(out.u.elsewhere.addr, "10.0.2.15");
	cr_assert_eq(out.u.elsewhere.port, 7471);
	buf[PROTO_HEADER_LEN + 12 + 2] = '\0';
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG,
		     "a NUL in the address");
	m.u.elsewhere.addr_len = PROTO_ADDR_MAX + 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

Test(msg, copy_lists_are_checked)
{
	struct proto_msg m = sample(PROTO_COPIES), out;
	uint8_t buf[PROTO_MAX_FRAME];
	int len = proto_encode(&m, buf, sizeof(buf));

	cr_assert_eq(len, (int)PROTO_HEADER_LEN + 8 + 2 + 3 * 12 + 4);
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), 0);
	cr_assert_str_eq(out.u.copies.list.copy[1].addr, "bb");
	cr_assert_eq(out.u.copies.list.copy[2].id, (5ull << 40) | 2);
	buf[PROTO_HEADER_LEN + 8 + 2 + 12 + 1 + 12] = '\0';
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG,
		     "a NUL in an address");
	m.u.copies.list.count = PROTO_MAX_COPIES + 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(PROTO_PLACED);
	m.u.placed.where.count = PROTO_MAX_COPIES; /* the first is granted */
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(PROTO_COPIES);
	m.u.copies.list.copy[0].addr_len = PROTO_ADDR_MAX + 1;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

Test(msg, seal_copies_counts_are_checked)
{
	struct proto_msg m = sample(PROTO_SEAL_COPIES), out;
	uint8_t buf[PROTO_MAX_FRAME];
	int len = proto_encode(&m, buf, sizeof(buf));

	cr_assert_eq(len, (int)PROTO_HEADER_LEN + 32 + 16);
	wire_put_u32(buf + PROTO_HEADER_LEN + 24, 3); /* says 3, holds 2 */
	cr_assert_eq(proto_decode(buf, (size_t)len, &out), -EBADMSG);
	m.u.seal.count = 0;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.seal.count = PROTO_MAX_COPIES;
	cr_assert_eq(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}
