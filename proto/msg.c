#include "msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "copy_list.h"
#include "wire.h"

#define ERROR_FIXED_LEN	      10u
#define HELLO_FIXED_LEN	      6u
#define ELSEWHERE_FIXED_LEN   12u
#define PLACED_FIXED_LEN      32u /* GRANT's fields, then the copy list */
#define COPIES_FIXED_LEN      8u  /* the chunk, then the copy list */
#define SEAL_COPIES_FIXED_LEN 32u /* plus 8 bytes per copy */

/* Body length of each fixed-size type; -1 for unknown types. */
static int fixed_body_len(unsigned type)
{
	switch (type) {
	case PROTO_PERSISTED:
	case PROTO_SEALED:
	case PROTO_FREED:
	case PROTO_REPLACED:
		return 0;
	case PROTO_HELLO:
		return HELLO_FIXED_LEN; /* plus name and mac */
	case PROTO_OPEN:
	case PROTO_OPEN_COPY:
	case PROTO_RENEW:
	case PROTO_RENEWED:
		return 8;
	case PROTO_ALLOC:
	case PROTO_FREE:
		return 16;
	case PROTO_SEAL:
	case PROTO_ALLOC_COPY:
		return 24;
	case PROTO_SEAL_COPIES:
		return SEAL_COPIES_FIXED_LEN; /* plus the ids */
	case PROTO_PLACED:
		return PLACED_FIXED_LEN; /* plus the copy list */
	case PROTO_COPIES:
		return COPIES_FIXED_LEN; /* plus the copy list */
	case PROTO_WELCOME:
	case PROTO_PERSIST:
	case PROTO_GRANT:
	case PROTO_OPENED:
	case PROTO_REPLACE_COPY:
		return 32;
	case PROTO_ERROR:
		return ERROR_FIXED_LEN; /* plus the text */
	case PROTO_ELSEWHERE:
		return ELSEWHERE_FIXED_LEN; /* plus the address */
	default:
		return -1;
	}
}

/* A grant's 32 bytes, in GRANT and at the start of PLACED. */
static void put_grant(const struct proto_grant *g, uint8_t *b)
{
	wire_put_u64(b, g->chunk);
	wire_put_u64(b + 8, g->addr);
	wire_put_u64(b + 16, g->length);
	wire_put_u32(b + 24, g->rkey);
	wire_put_u32(b + 28, g->epoch);
}

static void get_grant(const uint8_t *b, struct proto_grant *g)
{
	g->chunk = wire_get_u64(b);
	g->addr = wire_get_u64(b + 8);
	g->length = wire_get_u64(b + 16);
	g->rkey = wire_get_u32(b + 24);
	g->epoch = wire_get_u32(b + 28);
}

static void encode_body(const struct proto_msg *m, uint8_t *b)
{
	switch (m->hdr.type) {
	case PROTO_HELLO:
		wire_put_u32(b, m->u.hello.flags);
		wire_put_u8(b + 4, m->u.hello.name_len);
		wire_put_u8(b + 5, m->u.hello.mac_len);
		memcpy(b + 6, m->u.hello.name, m->u.hello.name_len);
		memcpy(b + 6 + m->u.hello.name_len, m->u.hello.mac,
		       m->u.hello.mac_len);
		break;
	case PROTO_WELCOME:
		wire_put_u64(b, m->u.welcome.session);
		wire_put_u32(b + 8, m->u.welcome.epoch);
		wire_put_u32(b + 12, m->u.welcome.persist_methods);
		wire_put_u32(b + 16, m->u.welcome.max_frame);
		wire_put_u32(b + 20, m->u.welcome.granularity);
		wire_put_u32(b + 24, m->u.welcome.lease_ttl_ms);
		wire_put_u32(b + 28, 0);
		break;
	case PROTO_ALLOC:
		wire_put_u64(b, m->u.alloc.size);
		wire_put_u32(b + 8, m->u.alloc.epoch);
		wire_put_u32(b + 12, m->u.alloc.copies);
		break;
	case PROTO_ALLOC_COPY:
		wire_put_u64(b, m->u.alloc.size);
		wire_put_u64(b + 8, m->u.alloc.of);
		wire_put_u32(b + 16, m->u.alloc.epoch);
		wire_put_u32(b + 20, 0);
		break;
	case PROTO_GRANT:
		put_grant(&m->u.grant, b);
		break;
	case PROTO_PERSIST:
		wire_put_u64(b, m->u.persist.chunk);
		wire_put_u64(b + 8, m->u.persist.offset);
		wire_put_u64(b + 16, m->u.persist.length);
		wire_put_u32(b + 24, m->u.persist.epoch);
		wire_put_u32(b + 28, 0);
		break;
	case PROTO_SEAL:
	case PROTO_SEAL_COPIES:
		wire_put_u64(b, m->u.seal.chunk);
		wire_put_u64(b + 8, m->u.seal.length);
		wire_put_u32(b + 16, m->u.seal.crc);
		wire_put_u32(b + 20, m->u.seal.epoch);
		if (m->hdr.type == PROTO_SEAL)
			break;
		wire_put_u32(b + 24, m->u.seal.count);
		wire_put_u32(b + 28, 0);
		for (unsigned i = 0; i < m->u.seal.count; i++)
			wire_put_u64(b + SEAL_COPIES_FIXED_LEN + 8 * i,
				     m->u.seal.copies[i]);
		break;
	case PROTO_PLACED:
		put_grant(&m->u.placed.grant, b);
		copy_list_put(&m->u.placed.where, b + PLACED_FIXED_LEN);
		break;
	case PROTO_COPIES:
		wire_put_u64(b, m->u.copies.chunk);
		copy_list_put(&m->u.copies.list, b + COPIES_FIXED_LEN);
		break;
	case PROTO_RENEW:
	case PROTO_RENEWED:
		wire_put_u32(b, m->u.renew.epoch);
		wire_put_u32(b + 4, m->hdr.type == PROTO_RENEWED
					    ? m->u.renew.lease_ttl_ms
					    : 0);
		break;
	case PROTO_OPEN:
	case PROTO_OPEN_COPY:
		wire_put_u64(b, m->u.open.chunk);
		break;
	case PROTO_REPLACE_COPY:
		wire_put_u64(b, m->u.replace.chunk);
		wire_put_u64(b + 8, m->u.replace.lost);
		wire_put_u64(b + 16, m->u.replace.copy);
		wire_put_u32(b + 24, m->u.replace.epoch);
		wire_put_u32(b + 28, 0);
		break;
	case PROTO_FREE:
		wire_put_u64(b, m->u.free.chunk);
		wire_put_u32(b + 8, m->u.free.epoch);
		wire_put_u32(b + 12, 0);
		break;
	case PROTO_OPENED:
		wire_put_u64(b, m->u.opened.chunk);
		wire_put_u64(b + 8, m->u.opened.addr);
		wire_put_u64(b + 16, m->u.opened.length);
		wire_put_u32(b + 24, m->u.opened.rkey);
		wire_put_u32(b + 28, m->u.opened.crc);
		break;
	case PROTO_ELSEWHERE:
		wire_put_u64(b, m->u.elsewhere.chunk);
		wire_put_u16(b + 8, m->u.elsewhere.port);
		wire_put_u8(b + 10, m->u.elsewhere.addr_len);
		wire_put_u8(b + 11, 0);
		memcpy(b + ELSEWHERE_FIXED_LEN, m->u.elsewhere.addr,
		       m->u.elsewhere.addr_len);
		break;
	case PROTO_ERROR:
		wire_put_u32(b, m->u.error.status);
		wire_put_u32(b + 4, m->u.error.detail);
		wire_put_u16(b + 8, m->u.error.text_len);
		memcpy(b + ERROR_FIXED_LEN, m->u.error.text,
		       m->u.error.text_len);
		break;
	}
}

/* The bytes after the fixed part of PLACED, COPIES and SEAL_COPIES; -1
 * when they cannot be sent. */
static int variable_len(const struct proto_msg *m)
{
	switch (m->hdr.type) {
	case PROTO_PLACED:
		return copy_list_wire_len(&m->u.placed.where,
					  PROTO_MAX_COPIES - 1);
	case PROTO_COPIES:
		return copy_list_wire_len(&m->u.copies.list, PROTO_MAX_COPIES);
	default: /* SEAL_COPIES */
		if (m->u.seal.count == 0 ||
		    m->u.seal.count > PROTO_MAX_COPIES - 1)
			return -1;
		return 8 * (int)m->u.seal.count;
	}
}

int proto_encode(const struct proto_msg *msg, uint8_t *buf, size_t cap)
{
	struct proto_header hdr = msg->hdr;
	int body = fixed_body_len(hdr.type);

	if (body < 0)
		return -EINVAL;
	if (hdr.type == PROTO_ERROR) {
		if (msg->u.error.text_len > PROTO_ERROR_TEXT_MAX)
			return -EINVAL;
		body += msg->u.error.text_len;
	}
	if (hdr.type == PROTO_ELSEWHERE) {
		if (msg->u.elsewhere.addr_len > PROTO_ADDR_MAX)
			return -EINVAL;
		body += msg->u.elsewhere.addr_len;
	}
	if (hdr.type == PROTO_PLACED || hdr.type == PROTO_COPIES ||
	    hdr.type == PROTO_SEAL_COPIES) {
		int more = variable_len(msg);

		if (more < 0)
			return -EINVAL;
		body += more;
	}
	if (hdr.type == PROTO_HELLO) {
		if (msg->u.hello.name_len > PROTO_NAME_MAX ||
		    (msg->u.hello.mac_len != 0 &&
		     msg->u.hello.mac_len != PROTO_MAC_LEN))
			return -EINVAL;
		body += msg->u.hello.name_len + msg->u.hello.mac_len;
	}
	if (cap < PROTO_HEADER_LEN + (size_t)body)
		return -EMSGSIZE;
	hdr.version = PROTO_VERSION;
	hdr.body_len = (uint32_t)body;
	proto_header_encode(&hdr, buf);
	encode_body(msg, buf + PROTO_HEADER_LEN);
	return (int)PROTO_HEADER_LEN + body;
}

static int decode_error(const uint8_t *b, uint32_t len, struct proto_msg *m)
{
	uint16_t text_len = wire_get_u16(b + 8);

	if (text_len > PROTO_ERROR_TEXT_MAX ||
	    len != ERROR_FIXED_LEN + text_len ||
	    memchr(b + ERROR_FIXED_LEN, '\0', text_len))
		return -EBADMSG;
	m->u.error.status = wire_get_u32(b);
	m->u.error.detail = wire_get_u32(b + 4);
	m->u.error.text_len = text_len;
	memcpy(m->u.error.text, b + ERROR_FIXED_LEN, text_len);
	m->u.error.text[text_len] = '\0';
	return 0;
}

static int decode_elsewhere(const uint8_t *b, uint32_t len, struct proto_msg *m)
{
	uint8_t addr_len;

	if (len < ELSEWHERE_FIXED_LEN)
		return -EBADMSG;
	addr_len = wire_get_u8(b + 10);
	if (addr_len > PROTO_ADDR_MAX || wire_get_u8(b + 11) != 0 ||
	    len != ELSEWHERE_FIXED_LEN + addr_len ||
	    memchr(b + ELSEWHERE_FIXED_LEN, '\0', addr_len))
		return -EBADMSG;
	m->u.elsewhere.chunk = wire_get_u64(b);
	m->u.elsewhere.port = wire_get_u16(b + 8);
	m->u.elsewhere.addr_len = addr_len;
	memcpy(m->u.elsewhere.addr, b + ELSEWHERE_FIXED_LEN, addr_len);
	m->u.elsewhere.addr[addr_len] = '\0';
	return 0;
}

static int decode_seal_copies(const uint8_t *b, uint32_t len,
			      struct proto_msg *m)
{
	uint32_t count = wire_get_u32(b + 24);

	if (count == 0 || count > PROTO_MAX_COPIES - 1 ||
	    wire_get_u32(b + 28) != 0 ||
	    len != SEAL_COPIES_FIXED_LEN + 8 * count)
		return -EBADMSG;
	m->u.seal.chunk = wire_get_u64(b);
	m->u.seal.length = wire_get_u64(b + 8);
	m->u.seal.crc = wire_get_u32(b + 16);
	m->u.seal.epoch = wire_get_u32(b + 20);
	m->u.seal.count = count;
	for (unsigned i = 0; i < count; i++)
		m->u.seal.copies[i] =
			wire_get_u64(b + SEAL_COPIES_FIXED_LEN + 8 * i);
	return 0;
}

/* PLACED, COPIES and SEAL_COPIES, whose fixed part len covers. */
static int decode_variable(const uint8_t *b, uint32_t len, struct proto_msg *m)
{
	uint32_t fixed = (uint32_t)fixed_body_len(m->hdr.type);

	if (len < fixed)
		return -EBADMSG;
	if (m->hdr.type == PROTO_SEAL_COPIES)
		return decode_seal_copies(b, len, m);
	if (m->hdr.type == PROTO_COPIES) {
		m->u.copies.chunk = wire_get_u64(b);
		return copy_list_get(b + fixed, len - fixed, PROTO_MAX_COPIES,
				     &m->u.copies.list);
	}
	get_grant(b, &m->u.placed.grant);
	return copy_list_get(b + fixed, len - fixed, PROTO_MAX_COPIES - 1,
			     &m->u.placed.where);
}

static int decode_hello(const uint8_t *b, uint32_t len, struct proto_msg *m)
{
	uint8_t name_len, mac_len;

	if (len < HELLO_FIXED_LEN || wire_get_u32(b) != 0)
		return -EBADMSG;
	name_len = wire_get_u8(b + 4);
	mac_len = wire_get_u8(b + 5);
	if (name_len > PROTO_NAME_MAX ||
	    (mac_len != 0 && mac_len != PROTO_MAC_LEN) ||
	    len != HELLO_FIXED_LEN + name_len + mac_len ||
	    memchr(b + 6, '\0', name_len))
		return -EBADMSG;
	m->u.hello.flags = 0;
	m->u.hello.name_len = name_len;
	m->u.hello.mac_len = mac_len;
	memcpy(m->u.hello.name, b + 6, name_len);
	m->u.hello.name[name_len] = '\0';
	memcpy(m->u.hello.mac, b + 6 + name_len, mac_len);
	return 0;
}

static void decode_fixed(const uint8_t *b, struct proto_msg *m)
{
	switch (m->hdr.type) {
	case PROTO_WELCOME:
		m->u.welcome.session = wire_get_u64(b);
		m->u.welcome.epoch = wire_get_u32(b + 8);
		m->u.welcome.persist_methods = wire_get_u32(b + 12);
		m->u.welcome.max_frame = wire_get_u32(b + 16);
		m->u.welcome.granularity = wire_get_u32(b + 20);
		m->u.welcome.lease_ttl_ms = wire_get_u32(b + 24);
		break;
	case PROTO_ALLOC:
		m->u.alloc.size = wire_get_u64(b);
		m->u.alloc.epoch = wire_get_u32(b + 8);
		m->u.alloc.copies = wire_get_u32(b + 12);
		m->u.alloc.of = 0;
		break;
	case PROTO_ALLOC_COPY:
		m->u.alloc.size = wire_get_u64(b);
		m->u.alloc.of = wire_get_u64(b + 8);
		m->u.alloc.epoch = wire_get_u32(b + 16);
		m->u.alloc.copies = 0;
		break;
	case PROTO_GRANT:
		get_grant(b, &m->u.grant);
		break;
	case PROTO_PERSIST:
		m->u.persist.chunk = wire_get_u64(b);
		m->u.persist.offset = wire_get_u64(b + 8);
		m->u.persist.length = wire_get_u64(b + 16);
		m->u.persist.epoch = wire_get_u32(b + 24);
		break;
	case PROTO_SEAL:
		m->u.seal.chunk = wire_get_u64(b);
		m->u.seal.length = wire_get_u64(b + 8);
		m->u.seal.crc = wire_get_u32(b + 16);
		m->u.seal.epoch = wire_get_u32(b + 20);
		m->u.seal.count = 0;
		break;
	case PROTO_RENEW:
	case PROTO_RENEWED:
		m->u.renew.epoch = wire_get_u32(b);
		m->u.renew.lease_ttl_ms =
			m->hdr.type == PROTO_RENEWED ? wire_get_u32(b + 4) : 0;
		break;
	case PROTO_OPEN:
	case PROTO_OPEN_COPY:
		m->u.open.chunk = wire_get_u64(b);
		break;
	case PROTO_REPLACE_COPY:
		m->u.replace.chunk = wire_get_u64(b);
		m->u.replace.lost = wire_get_u64(b + 8);
		m->u.replace.copy = wire_get_u64(b + 16);
		m->u.replace.epoch = wire_get_u32(b + 24);
		break;
	case PROTO_FREE:
		m->u.free.chunk = wire_get_u64(b);
		m->u.free.epoch = wire_get_u32(b + 8);
		break;
	case PROTO_OPENED:
		m->u.opened.chunk = wire_get_u64(b);
		m->u.opened.addr = wire_get_u64(b + 8);
		m->u.opened.length = wire_get_u64(b + 16);
		m->u.opened.rkey = wire_get_u32(b + 24);
		m->u.opened.crc = wire_get_u32(b + 28);
		break;
	}
}

/* Reserved fields must be zero, so they can mean something later. */
static bool reserved_fields_zero(unsigned type, const uint8_t *b)
{
	switch (type) {
	case PROTO_FREE:
		return wire_get_u32(b + 12) == 0;
	case PROTO_ALLOC_COPY:
		return wire_get_u32(b + 20) == 0;
	case PROTO_WELCOME:
	case PROTO_PERSIST:
	case PROTO_REPLACE_COPY:
		return wire_get_u32(b + 28) == 0;
	case PROTO_RENEW:
		return wire_get_u32(b + 4) == 0;
	default:
		return true;
	}
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *msg)
{
	struct proto_header hdr;
	const uint8_t *body = buf + PROTO_HEADER_LEN;
	int rc = proto_header_decode(buf, len, &hdr);
	int want;

	if (rc)
		return rc;
	want = fixed_body_len(hdr.type);
	if (want < 0)
		return -EBADMSG;
	msg->hdr = hdr;
	if (hdr.type == PROTO_ERROR)
		return hdr.body_len < ERROR_FIXED_LEN
			       ? -EBADMSG
			       : decode_error(body, hdr.body_len, msg);
	if (hdr.type == PROTO_HELLO)
		return decode_hello(body, hdr.body_len, msg);
	if (hdr.type == PROTO_ELSEWHERE)
		return decode_elsewhere(body, hdr.body_len, msg);
	if (hdr.type == PROTO_PLACED || hdr.type == PROTO_COPIES ||
	    hdr.type == PROTO_SEAL_COPIES)
		return decode_variable(body, hdr.body_len, msg);
	if (hdr.body_len != (uint32_t)want)
		return -EBADMSG;
	if (!reserved_fields_zero(hdr.type, body))
		return -EBADMSG;
	decode_fixed(body, msg);
	return 0;
}

const char *proto_type_name(unsigned type)
{
	static const char *const names[] = {
		[PROTO_HELLO] = "HELLO",
		[PROTO_WELCOME] = "WELCOME",
		[PROTO_ALLOC] = "ALLOC",
		[PROTO_GRANT] = "GRANT",
		[PROTO_PERSIST] = "PERSIST",
		[PROTO_PERSISTED] = "PERSISTED",
		[PROTO_SEAL] = "SEAL",
		[PROTO_SEALED] = "SEALED",
		[PROTO_OPEN] = "OPEN",
		[PROTO_OPENED] = "OPENED",
		[PROTO_FREE] = "FREE",
		[PROTO_FREED] = "FREED",
		[PROTO_ERROR] = "ERROR",
		[PROTO_RENEW] = "RENEW",
		[PROTO_RENEWED] = "RENEWED",
		[PROTO_ELSEWHERE] = "ELSEWHERE",
		[PROTO_PLACED] = "PLACED",
		[PROTO_ALLOC_COPY] = "ALLOC_COPY",
		[PROTO_SEAL_COPIES] = "SEAL_COPIES",
		[PROTO_OPEN_COPY] = "OPEN_COPY",
		[PROTO_COPIES] = "COPIES",
		[PROTO_REPLACE_COPY] = "REPLACE_COPY",
		[PROTO_REPLACED] = "REPLACED",
	};

	if (type >= sizeof(names) / sizeof(names[0]) || !names[type])
		return "unknown";
	return names[type];
}

const char *proto_status_name(unsigned status)
{
	static const char *const names[] = {
		[PROTO_ST_INVALID] = "invalid argument",
		[PROTO_ST_MALFORMED] = "malformed message",
		[PROTO_ST_NOENT] = "no such chunk",
		[PROTO_ST_NOSPC] = "pool full",
		[PROTO_ST_STATE] = "wrong chunk state",
		[PROTO_ST_PERM] = "not this session's chunk",
		[PROTO_ST_CRC] = "CRC32C mismatch",
		[PROTO_ST_INTERNAL] = "server error",
		[PROTO_ST_STALE] = "stale lease epoch",
		[PROTO_ST_AUTH] = "authentication failed",
		[PROTO_ST_UNAVAILABLE] = "cluster table unavailable",
		[PROTO_ST_FEW_SERVERS] = "too few live servers for the copies",
	};

	if (status >= sizeof(names) / sizeof(names[0]) || !names[status])
		return "unknown";
	return names[status];
}

const char *proto_persist_name(uint32_t flag)
{
	switch (flag) {
	case PROTO_PERSIST_RPC:
		return "persist-rpc";
	case PROTO_PERSIST_READ_AFTER_WRITE:
		return "read-after-write";
	case PROTO_PERSIST_NATIVE_FLUSH:
		return "native-flush";
	default:
		return NULL;
	}
}

char *proto_persist_names(uint32_t methods, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t flag = 1; flag && used < len; flag <<= 1) {
		const char *name =
			methods & flag ? proto_persist_name(flag) : NULL;

		if (name)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? ", " : "", name);
	}
	return buf;
}
