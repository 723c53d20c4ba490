#include "persist.h"

#include <libpmem.h>
#include <string.h>

#include "common/log.h"

void persist_store(const struct persister *p, void *dst, const void *src,
		   size_t len)
{
	/* memcpy of aligned words compiles to whole-word moves; a torn 8-byte
	 * word would break the commit protocol, so copy word by word where
	 * both sides allow it. */
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (len >= 8 && ((uintptr_t)d & 7) == 0) {
		uint64_t word;

		memcpy(&word, s, 8);
		*(volatile uint64_t *)d = word;
		d += 8;
		s += 8;
		len -= 8;
	}
	memcpy(d, s, len);
	if (p->hooks)
		p->hooks->stored(p->hooks->ctx, dst,
				 (size_t)(d + len - (uint8_t *)dst));
}

void persist_store_u64(const struct persister *p, uint64_t *dst, uint64_t value)
{
	*(volatile uint64_t *)dst = value;
	if (p->hooks)
		p->hooks->stored(p->hooks->ctx, dst, sizeof(*dst));
}

void persist_zero(const struct persister *p, void *dst, size_t len)
{
	memset(dst, 0, len);
	if (p->hooks)
		p->hooks->stored(p->hooks->ctx, dst, len);
}

void persist_flush(const struct persister *p, const void *addr, size_t len)
{
	if (p->mode == PERSIST_PMEM)
		pmem_flush(addr, len);
	else if (p->mode == PERSIST_MSYNC && pmem_msync(addr, len) != 0)
		log_error("msync of pool metadata failed: %s", pmem_errormsg());
	if (p->hooks)
		p->hooks->flushed(p->hooks->ctx, addr, len);
}

void persist_drain(const struct persister *p)
{
	if (p->mode == PERSIST_PMEM)
		pmem_drain();
	if (p->hooks)
		p->hooks->drained(p->hooks->ctx);
}

void persist_range(const struct persister *p, const void *addr, size_t len)
{
	persist_flush(p, addr, len);
	persist_drain(p);
}
