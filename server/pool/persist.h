/*
 * The persistence shim: every store, flush and drain on pool metadata (the
 * superblocks and the table) goes through these functions, and nothing else
 * writes metadata. That gives one place to make stores durable (libpmem on
 * pmem, msync elsewhere) and one place where the crash harness watches which
 * stores a power cut could lose (hooks).
 *
 * The rule the callers follow: a store is durable only after persist_flush()
 * covered it and a persist_drain() came after that flush.
 */
#ifndef CHUNKD_SERVER_PERSIST_H
#define CHUNKD_SERVER_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Observers for the crash harness; each is called after the real action. */
struct persist_hooks {
	void (*stored)(void *ctx, const void *dst, size_t len);
	void (*flushed)(void *ctx, const void *addr, size_t len);
	void (*drained)(void *ctx);
	void *ctx;
};

enum persist_mode {
	PERSIST_PMEM,  /* pmem: CPU cache flushes reach persistence (libpmem) */
	PERSIST_MSYNC, /* a mapped file that is not pmem: msync */
	PERSIST_NONE,  /* plain memory (tests): only the hooks see flushes */
};

struct persister {
	enum persist_mode mode;
	const struct persist_hooks *hooks; /* NULL outside tests */
};

/* Copies len bytes to dst (not yet durable). Aligned 8-byte words are
 * stored whole, so a power cut never tears one. */
void persist_store(const struct persister *p, void *dst, const void *src,
		   size_t len);

/* One aligned 8-byte word, stored atomically: the commit point of updates. */
void persist_store_u64(const struct persister *p, uint64_t *dst,
		       uint64_t value);

/* Sets len bytes at dst to zero (not yet durable). */
void persist_zero(const struct persister *p, void *dst, size_t len);

/* Starts writing back the cache lines of [addr, addr + len). */
void persist_flush(const struct persister *p, const void *addr, size_t len);

/* Waits until every flush issued before it has reached persistence. */
void persist_drain(const struct persister *p);

/* persist_flush() then persist_drain(). */
void persist_range(const struct persister *p, const void *addr, size_t len);

#endif
