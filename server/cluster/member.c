#include "member.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

char *member_encode(const struct member *m)
{
	json_t *o = json_pack(
		"{s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, "
		"s:I, s:I}",
		"name", m->name, "address", m->address, "port", (int)m->port,
		"pool", m->pool, "boot", m->boot, "node", (json_int_t)m->node,
		"pool_size", (json_int_t)m->pool_size, "free",
		(json_int_t)m->free_bytes, "open", (json_int_t)m->open_chunks,
		"sealed", (json_int_t)m->sealed_chunks, "lease",
		(json_int_t)m->lease);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static int copy(char *out, size_t cap, const char *s)
{
	if (strlen(s) >= cap)
		return -EPROTO;
	snprintf(out, cap, "%s", s);
	return 0;
}

int member_decode(const char *text, struct member *m)
{
	const char *name, *address, *pool, *boot;
	json_int_t node, size, free_bytes, open, sealed, lease;
	int port, rc = -EPROTO;
	json_t *o = json_loads(text, 0, NULL);

	memset(m, 0, sizeof(*m));
	if (o &&
	    json_unpack(o,
			"{s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, "
			"s:I}",
			"name", &name, "address", &address, "port", &port,
			"pool", &pool, "boot", &boot, "node", &node,
			"pool_size", &size, "free", &free_bytes, "open", &open,
			"sealed", &sealed, "lease", &lease) == 0 &&
	    copy(m->name, sizeof(m->name), name) == 0 &&
	    copy(m->address, sizeof(m->address), address) == 0 &&
	    copy(m->pool, sizeof(m->pool), pool) == 0 &&
	    copy(m->boot, sizeof(m->boot), boot) == 0 && port > 0 &&
	    port < 65536) {
		m->port = (uint16_t)port;
		m->node = (uint32_t)node;
		m->pool_size = (uint64_t)size;
		m->free_bytes = (uint64_t)free_bytes;
		m->open_chunks = (uint64_t)open;
		m->sealed_chunks = (uint64_t)sealed;
		m->lease = lease;
		rc = 0;
	}
	json_decref(o);
	return rc;
}
