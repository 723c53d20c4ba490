#include "copy_list.h"

#include <errno.h>
#include <string.h>

#include "wire.h"

int copy_list_wire_len(const struct proto_copy_list *l, unsigned max)
{
	int len = COPY_LIST_FIXED_LEN;

	if (l->count > max)
		return -1;
	for (unsigned i = 0; i < l->count; i++) {
		if (l->copy[i].addr_len > PROTO_ADDR_MAX)
			return -1;
		len += COPY_ENTRY_FIXED_LEN + l->copy[i].addr_len;
	}
	return len;
}

void copy_list_put(const struct proto_copy_list *l, uint8_t *b)
{
	wire_put_u8(b, l->count);
	wire_put_u8(b + 1, 0);
	b += COPY_LIST_FIXED_LEN;
	for (unsigned i = 0; i < l->count; i++) {
		const struct proto_copy *c = &l->copy[i];

		wire_put_u64(b, c->id);
		wire_put_u16(b + 8, c->port);
		wire_put_u8(b + 10, c->addr_len);
		wire_put_u8(b + 11, 0);
		memcpy(b + COPY_ENTRY_FIXED_LEN, c->addr, c->addr_len);
		b += COPY_ENTRY_FIXED_LEN + c->addr_len;
	}
}

/* One entry of at most len bytes at b; its length, or -EBADMSG. */
static int get_entry(const uint8_t *b, uint32_t len, struct proto_copy *c)
{
	uint8_t addr_len;

	if (len < COPY_ENTRY_FIXED_LEN)
		return -EBADMSG;
	addr_len = wire_get_u8(b + 10);
	if (addr_len > PROTO_ADDR_MAX || wire_get_u8(b + 11) != 0 ||
	    len < COPY_ENTRY_FIXED_LEN + addr_len ||
	    memchr(b + COPY_ENTRY_FIXED_LEN, '\0', addr_len))
		return -EBADMSG;
	c->id = wire_get_u64(b);
	c->port = wire_get_u16(b + 8);
	c->addr_len = addr_len;
	memcpy(c->addr, b + COPY_ENTRY_FIXED_LEN, addr_len);
	c->addr[addr_len] = '\0';
	return (int)(COPY_ENTRY_FIXED_LEN + addr_len);
}

int copy_list_get(const uint8_t *b, uint32_t len, unsigned max,
		  struct proto_copy_list *l)
{
	if (len < COPY_LIST_FIXED_LEN || wire_get_u8(b) > max ||
	    wire_get_u8(b + 1) != 0)
		return -EBADMSG;
	l->count = wire_get_u8(b);
	b += COPY_LIST_FIXED_LEN;
	len -= COPY_LIST_FIXED_LEN;
	for (unsigned i = 0; i < l->count; i++) {
		int used = get_entry(b, len, &l->copy[i]);

		if (used < 0)
			return used;
		b += used;
		len -= (uint32_t)used;
	}
	return len == 0 ? 0 : -EBADMSG;
}
