/*
 * The table backend that keeps its records in the pool itself, next to the
 * data (see table_slot.h for a slot's layout and update protocol). Every
 * operation changes exactly one slot, so one commit word makes each
 * operation atomic across a power cut, and no log is needed.
 */
#ifndef CHUNKD_SERVER_TABLE_PMEM_H
#define CHUNKD_SERVER_TABLE_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "pool/persist.h"
#include "pool/superblock.h"
#include "table.h"

/* What recovery found and did. */
struct table_pmem_report {
	uint64_t sealed;	/* SEALED chunks kept */
	uint64_t reclaimed;	/* OPEN chunks freed: their sessions are gone */
	uint64_t settled;	/* OPEN chunks sealed as settle decided */
	uint64_t freed;		/* slots holding a freed record */
	uint64_t unused;	/* slots never written */
	int64_t bad_slot;	/* the slot that failed recovery, else -1 */
	const char *bad_reason; /* why, else NULL */
};

/*
 * Opens the table of the pool mapped at base with geometry geo, running
 * recovery: checks every slot, rebuilds the allocator and the id index, and
 * frees the OPEN chunks left by the previous run (their sessions cannot come
 * back). The persister p must outlive the table.
 *
 * Returns 0 and sets *out, or -ENOMEM, or -EBADMSG when a slot is damaged or
 * two sealed chunks overlap or share an id: report says which and why, and
 * the pool was not written.
 */
int table_pmem_open(uint8_t *base, const struct pool_geometry *geo,
		    const struct persister *p, struct table **out,
		    struct table_pmem_report *report);

/*
 * Decides the fate of an OPEN chunk found by recovery: return true to seal
 * it with sealed->sealed_len, crc and sealed_s (its seal was committed
 * elsewhere, as cluster mode's etcd, before this pool recorded it), false
 * to free it as table_pmem_open does.
 */
typedef bool table_pmem_settle_fn(void *arg, const struct table_record *open,
				  struct table_record *sealed);

/* table_pmem_open, with settle (may be NULL) deciding each OPEN chunk. */
int table_pmem_open_settling(uint8_t *base, const struct pool_geometry *geo,
			     const struct persister *p,
			     table_pmem_settle_fn *settle, void *arg,
			     struct table **out,
			     struct table_pmem_report *report);

/*
 * The backend's operations, synchronous: durable when they return 0, and
 * nothing changed when they fail (errors as table.h's). For the tools and
 * tests of this backend; chunkd uses the asynchronous table.h calls, which
 * this backend completes before returning. t must be a pmem table.
 */
int table_pmem_alloc(struct table *t, uint64_t size, uint64_t session,
		     uint32_t epoch, struct table_record *rec);
/* rec may be NULL. */
int table_pmem_seal(struct table *t, uint64_t id, uint64_t sealed_len,
		    uint32_t crc, struct table_record *rec);
int table_pmem_free(struct table *t, uint64_t id);
/* count may be NULL. */
int table_pmem_reclaim(struct table *t, uint64_t session, uint32_t epoch,
		       uint64_t *count);

#endif
