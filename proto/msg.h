/*
 * chunkd's messages: what travels inside a frame (frame.h), one message per
 * RDMA SEND. A client sends a request with a request id; the server answers
 * it with exactly one reply carrying the same id: the reply type for that
 * request, or ERROR.
 *
 *   request  body (little-endian)                  reply
 *   HELLO    u32 flags (0), u8 name length, u8 mac    WELCOME
 *            length (0 or 32), name, mac: the client's name and, where
 *            chunkd requires it, HMAC-SHA256(secret, nonce || name) over
 *            the 32-byte nonce chunkd sent in rdma_cm's accept private
 *            data (proto/auth.h)
 *   ALLOC    u64 size, u32 epoch, u32 copies (0 or   GRANT, or PLACED
 *            1: one; more: cluster mode, R copies)   when copies > 1
 *   PERSIST  u64 chunk, u64 offset, u64 length,     PERSISTED
 *            u32 epoch, u32 0
 *   SEAL     u64 chunk, u64 length, u32 crc32c,     SEALED
 *            u32 epoch
 *   OPEN     u64 chunk                              OPENED, ELSEWHERE,
 *                                                   or COPIES
 *   FREE     u64 chunk, u32 epoch, u32 0            FREED
 *   RENEW    u32 epoch, u32 0                       RENEWED
 *   ALLOC_COPY u64 size, u64 chunk, u32 epoch,      GRANT
 *            u32 0: a further copy of chunk, in this chunkd's pool
 *   SEAL_COPIES SEAL's fields, u32 count, u32 0,     SEALED
 *            count x u64: the other copies' ids (sealed already); the
 *            chunk is SEALED once every copy is
 *   OPEN_COPY u64 chunk: this chunkd's copy itself   OPENED
 *   REPLACE_COPY u64 chunk, u64 lost, u64 copy,      REPLACED
 *            u32 epoch, u32 0: a repair's commit: the sealed copy `copy`
 *            takes the place of `lost` (on a server that is not running)
 *            among the chunk's copies
 *
 *   WELCOME  u64 session, u32 epoch, u32 persist methods (PROTO_PERSIST_*),
 *            u32 max frame, u32 granularity, u32 lease ttl (ms), u32 0
 *   GRANT    u64 chunk, u64 addr, u64 length, u32 write rkey, u32 epoch
 *   OPENED   u64 chunk, u64 addr, u64 length (sealed), u32 read rkey,
 *            u32 crc32c
 *   RENEWED  u32 epoch, u32 lease ttl (ms)
 *   ELSEWHERE u64 chunk, u16 port, u8 address length, u8 0, address (no
 *            NUL, at most PROTO_ADDR_MAX): cluster mode, the chunk lives
 *            in another chunkd's pool; ask that chunkd
 *   PLACED   GRANT's fields (the first copy), then a copy list of the
 *            servers for the others (their ids 0)
 *   COPIES   u64 chunk, then a copy list of its live copies: open one
 *            with OPEN_COPY at its server
 *   a copy list: u8 count (at most PROTO_MAX_COPIES), u8 0, then per copy
 *            u64 id, u16 port, u8 address length, u8 0, address (no NUL)
 *   PERSISTED, SEALED, FREED, REPLACED: empty
 *   ERROR    u32 status (enum proto_status), u32 detail (after a refused
 *            seal: the chunk's new write rkey; after STALE: the session's
 *            current epoch; else 0), u16 text length, text (UTF-8, no NUL,
 *            at most PROTO_ERROR_TEXT_MAX)
 *
 * The epoch in a request is the session's lease epoch as the client knows
 * it. When a lease expires or is revoked, chunkd reclaims the session's
 * OPEN chunks and moves to a new epoch; requests under the old one are
 * refused with STALE until the client adopts the new one.
 *
 * Every decoder checks the exact body length for the type; nothing is read
 * past the frame.
 */
#ifndef CHUNKD_PROTO_MSG_H
#define CHUNKD_PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

enum proto_type {
	PROTO_HELLO = 1,
	PROTO_WELCOME = 2,
	PROTO_ALLOC = 3,
	PROTO_GRANT = 4,
	PROTO_PERSIST = 5,
	PROTO_PERSISTED = 6,
	PROTO_SEAL = 7,
	PROTO_SEALED = 8,
	PROTO_OPEN = 9,
	PROTO_OPENED = 10,
	PROTO_FREE = 11,
	PROTO_FREED = 12,
	PROTO_ERROR = 13,
	PROTO_RENEW = 14,
	PROTO_RENEWED = 15,
	PROTO_ELSEWHERE = 16,
	PROTO_PLACED = 17,
	PROTO_ALLOC_COPY = 18,
	PROTO_SEAL_COPIES = 19,
	PROTO_OPEN_COPY = 20,
	PROTO_COPIES = 21,
	PROTO_REPLACE_COPY = 22,
	PROTO_REPLACED = 23,
};

/* Statuses an ERROR carries. */
enum proto_status {
	PROTO_ST_INVALID = 1,	/* a field is out of range */
	PROTO_ST_MALFORMED = 2, /* the frame or message could not be decoded */
	PROTO_ST_NOENT = 3,	/* no such chunk */
	PROTO_ST_NOSPC = 4,	/* the pool or its table is full */
	PROTO_ST_STATE = 5,	/* the chunk's state does not allow it */
	PROTO_ST_PERM = 6,	/* the chunk is another session's */
	PROTO_ST_CRC = 7,	/* the content does not match the CRC32C */
	PROTO_ST_INTERNAL = 8,	/* the server failed */
	PROTO_ST_STALE = 9,	/* the request's epoch is not the lease's */
	PROTO_ST_AUTH = 10,	/* authentication failed */
	PROTO_ST_UNAVAILABLE = 11, /* the cluster's table cannot change now
				    * (etcd unreachable): try again later */
	PROTO_ST_FEW_SERVERS = 12, /* fewer live servers with room than the
				    * copies asked */
};

/* Persistence methods a server may offer (DESIGN.md). */
#define PROTO_PERSIST_RPC	       0x1u /* PERSIST message */
#define PROTO_PERSIST_READ_AFTER_WRITE 0x2u /* a small READ after WRITEs */
#define PROTO_PERSIST_NATIVE_FLUSH     0x4u /* an RDMA FLUSH after WRITEs */

#define PROTO_ERROR_TEXT_MAX	       200u
#define PROTO_ADDR_MAX		       63u
#define PROTO_NAME_MAX		       64u /* a client\'s name in HELLO */
#define PROTO_MAC_LEN		       32u /* HMAC-SHA256 */
#define PROTO_NONCE_LEN		       32u
#define PROTO_MAX_COPIES	       4u /* of one replicated chunk */

/* Where one copy of a replicated chunk lives. */
struct proto_copy {
	uint64_t id; /* the copy's chunk id in its server's pool, or 0 */
	uint16_t port;
	uint8_t addr_len;
	char addr[PROTO_ADDR_MAX + 1]; /* NUL-terminated */
};

/* Write access to a chunk (GRANT, and the first copy's in PLACED). */
struct proto_grant {
	uint64_t chunk, addr, length;
	uint32_t rkey, epoch;
};

struct proto_copy_list {
	uint8_t count;
	struct proto_copy copy[PROTO_MAX_COPIES];
};

struct proto_msg {
	struct proto_header hdr; /* type and request_id matter to callers */
	union {
		struct {
			uint32_t flags;
			uint8_t name_len, mac_len;
			char name[PROTO_NAME_MAX + 1]; /* NUL-terminated */
			uint8_t mac[PROTO_MAC_LEN];
		} hello;
		struct {
			uint64_t session;
			uint32_t epoch, persist_methods, max_frame, granularity;
			uint32_t lease_ttl_ms;
		} welcome;
		struct {
			uint64_t size;
			uint32_t epoch;
			uint32_t copies; /* ALLOC */
			uint64_t of;	 /* ALLOC_COPY: the chunk copied */
		} alloc;
		struct proto_grant grant;
		struct {
			uint64_t chunk, offset, length;
			uint32_t epoch;
		} persist;
		struct {
			uint64_t chunk, length;
			uint32_t crc, epoch;
			uint32_t count; /* SEAL_COPIES: the other copies */
			uint64_t copies[PROTO_MAX_COPIES];
		} seal;
		struct {
			uint64_t chunk;
		} open;
		struct {
			uint64_t chunk;
			uint32_t epoch;
		} free;
		struct {
			uint64_t chunk, lost, copy;
			uint32_t epoch;
		} replace;
		struct {
			uint32_t epoch, lease_ttl_ms; /* ttl only in RENEWED */
		} renew;
		struct {
			uint64_t chunk, addr, length;
			uint32_t rkey, crc;
		} opened;
		struct {
			struct proto_grant grant;     /* of the first copy */
			struct proto_copy_list where; /* the others' servers */
		} placed;
		struct {
			uint64_t chunk;
			struct proto_copy_list list;
		} copies;
		struct {
			uint64_t chunk;
			uint16_t port;
			uint8_t addr_len;
			char addr[PROTO_ADDR_MAX + 1]; /* NUL-terminated */
		} elsewhere;
		struct {
			uint32_t status, detail;
			uint16_t text_len;
			char text[PROTO_ERROR_TEXT_MAX +
				  1]; /* NUL-terminated */
		} error;
	} u;
};

/*
 * Encodes msg (type and request_id from msg->hdr; the version is set here)
 * into buf of cap bytes. Returns the frame's length, or -EINVAL for an
 * unknown type or an error text too long, or -EMSGSIZE when cap is too small.
 */
int proto_encode(const struct proto_msg *msg, uint8_t *buf, size_t cap);

/*
 * Decodes a received frame of len bytes. Returns 0 and fills *msg, or
 * -EBADMSG / -EPROTONOSUPPORT / -EMSGSIZE from the header, or -EBADMSG for
 * an unknown type, a body of the wrong length, or an error text with a NUL.
 */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *msg);

/* "ALLOC", "GRANT", ...; "unknown" otherwise. */
const char *proto_type_name(unsigned type);

/* The name of one persistence method (a PROTO_PERSIST_* bit), or NULL. */
const char *proto_persist_name(uint32_t flag);

/* Writes the names of the methods in methods (PROTO_PERSIST_* bits), in
 * bit order and separated by ", ", into buf; returns buf. */
char *proto_persist_names(uint32_t methods, char *buf, size_t len);
const char *proto_status_name(unsigned status);

#endif
