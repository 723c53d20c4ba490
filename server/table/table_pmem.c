#include "table_pmem.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/idmap.h"
#include "common/log.h"
#include "space_map.h"
#include "table_slot.h"

#define SLOT_NEVER_USED 2 /* in pmem_table.current[] */

struct pmem_table {
	struct table table;
	const struct persister *persist;
	uint8_t *slots;
	uint32_t slot_count;
	uint64_t granularity;
	uint64_t area_size;
	struct table_record *records; /* mirror of each slot's current record */
	uint8_t *current;	      /* current version of each slot */
	uint32_t *free_slots;	      /* stack of slots without a live chunk */
	uint32_t free_slot_count;
	struct idmap ids; /* id -> slot, for live chunks */
	struct space_map space;
	uint64_t next_id;
	uint64_t open_count;
	uint64_t sealed_count;
};

static const struct table_ops pmem_table_ops;

static struct pmem_table *to_pmem(struct table *t)
{
	return (struct pmem_table *)t;
}

static uint32_t now_s(void)
{
	return (uint32_t)time(NULL);
}

/* Makes rec the durable record of slot idx: new version, then commit word. */
static void write_slot(struct pmem_table *t, uint32_t idx,
		       const struct table_record *rec)
{
	const struct persister *p = t->persist;
	uint8_t *slot = t->slots + (size_t)idx * TABLE_SLOT_SIZE;
	int which = t->current[idx] == 0 ? 1 : 0;
	uint8_t *version = slot + slot_version_offset(which);
	uint8_t buf[SLOT_VERSION_LEN];

	slot_encode_version(rec, buf);
	persist_store(p, version, buf, sizeof(buf));
	persist_range(p, version, sizeof(buf));
	persist_store_u64(p, (uint64_t *)slot,
			  htole64(slot_commit_word(idx, which, buf)));
	persist_range(p, slot, sizeof(uint64_t));
	t->current[idx] = (uint8_t)which;
	t->records[idx] = *rec;
}

static int find_live(struct pmem_table *t, uint64_t id, uint32_t *idx)
{
	uint64_t slot;

	if (!idmap_get(&t->ids, id, &slot))
		return -ENOENT;
	*idx = (uint32_t)slot;
	return 0;
}

int table_pmem_alloc(struct table *tt, uint64_t size, uint64_t session,
		     uint32_t epoch, struct table_record *rec)
{
	struct pmem_table *t = to_pmem(tt);
	uint64_t granules, first;
	uint32_t idx;
	int rc;

	if (size == 0)
		return -EINVAL;
	if (size > t->area_size)
		return -EFBIG;
	if (t->free_slot_count == 0)
		return -ENOSPC;
	granules = (size + t->granularity - 1) / t->granularity;
	rc = space_map_alloc(&t->space, granules, &first);
	if (rc)
		return rc;
	idx = t->free_slots[--t->free_slot_count];
	*rec = (struct table_record){
		.id = t->next_id++,
		.offset = first * t->granularity,
		.length = granules * t->granularity,
		.session = session,
		.epoch = epoch,
		.created_s = now_s(),
		.state = TABLE_CHUNK_OPEN,
	};
	write_slot(t, idx, rec);
	idmap_put(&t->ids, rec->id,
		  idx); /* sized for every slot: cannot fail */
	t->open_count++;
	return 0;
}

int table_pmem_seal(struct table *tt, uint64_t id, uint64_t sealed_len,
		    uint32_t crc, struct table_record *out)
{
	struct pmem_table *t = to_pmem(tt);
	struct table_record rec;
	uint32_t idx;

	if (find_live(t, id, &idx))
		return -ENOENT;
	rec = t->records[idx];
	if (rec.state != TABLE_CHUNK_OPEN)
		return -EALREADY;
	if (sealed_len > rec.length)
		return -EINVAL;
	rec.state = TABLE_CHUNK_SEALED;
	rec.sealed_len = sealed_len;
	rec.crc = crc;
	rec.sealed_s = now_s();
	write_slot(t, idx, &rec);
	t->open_count--;
	t->sealed_count++;
	if (out)
		*out = rec;
	return 0;
}

/* Frees the live chunk in slot idx. */
static void free_slot(struct pmem_table *t, uint32_t idx)
{
	struct table_record rec = t->records[idx];

	if (rec.state == TABLE_CHUNK_OPEN)
		t->open_count--;
	else
		t->sealed_count--;
	rec.state = TABLE_CHUNK_FREE;
	write_slot(t, idx, &rec);
	space_map_release(&t->space, rec.offset / t->granularity,
			  rec.length / t->granularity);
	idmap_remove(&t->ids, rec.id);
	t->free_slots[t->free_slot_count++] = idx;
}

int table_pmem_free(struct table *tt, uint64_t id)
{
	struct pmem_table *t = to_pmem(tt);
	uint32_t idx;

	if (find_live(t, id, &idx))
		return -ENOENT;
	free_slot(t, idx);
	return 0;
}

int table_pmem_reclaim(struct table *tt, uint64_t session, uint32_t epoch,
		       uint64_t *count)
{
	struct pmem_table *t = to_pmem(tt);
	uint64_t n = 0;

	for (uint32_t idx = 0; idx < t->slot_count; idx++) {
		const struct table_record *rec = &t->records[idx];

		if (rec->state == TABLE_CHUNK_OPEN && rec->session == session &&
		    rec->epoch <= epoch) {
			free_slot(t, idx);
			n++;
		}
	}
	if (count)
		*count = n;
	return 0;
}

static int pmem_lookup(struct table *tt, uint64_t id, struct table_record *rec)
{
	struct pmem_table *t = to_pmem(tt);
	uint32_t idx;

	if (find_live(t, id, &idx))
		return -ENOENT;
	*rec = t->records[idx];
	return 0;
}

static void pmem_iterate(struct table *tt, table_visit_fn *visit, void *arg)
{
	struct pmem_table *t = to_pmem(tt);

	for (uint32_t idx = 0; idx < t->slot_count; idx++) {
		if (t->records[idx].state != TABLE_CHUNK_FREE &&
		    !visit(&t->records[idx], arg))
			return;
	}
}

static void pmem_stats(struct table *tt, struct table_stats *st)
{
	struct pmem_table *t = to_pmem(tt);

	st->area_bytes = t->area_size;
	st->used_bytes = t->space.used * t->granularity;
	st->free_bytes = st->area_bytes - st->used_bytes;
	st->open_chunks = t->open_count;
	st->sealed_chunks = t->sealed_count;
	st->record_capacity = t->slot_count;
	st->next_id = t->next_id;
}

static void pmem_close(struct table *tt)
{
	struct pmem_table *t = to_pmem(tt);

	space_map_fini(&t->space);
	idmap_fini(&t->ids);
	free(t->records);
	free(t->current);
	free(t->free_slots);
	free(t);
}

/* The asynchronous interface: every change is durable before the call
 * returns, so each completes at once. */

static void pmem_alloc(struct table *t, uint64_t size, uint64_t session,
		       uint32_t epoch, table_done_fn *done, void *arg)
{
	struct table_result res = {0};

	res.status = table_pmem_alloc(t, size, session, epoch, &res.rec);
	done(arg, &res);
}

static void pmem_seal(struct table *t, uint64_t id, uint64_t sealed_len,
		      uint32_t crc, table_done_fn *done, void *arg)
{
	struct table_result res = {0};

	res.status = table_pmem_seal(t, id, sealed_len, crc, &res.rec);
	done(arg, &res);
}

static void pmem_free(struct table *t, uint64_t id, table_done_fn *done,
		      void *arg)
{
	struct table_result res = {0};

	res.status = table_pmem_free(t, id);
	done(arg, &res);
}

static void pmem_reclaim(struct table *t, uint64_t session, uint32_t epoch,
			 table_done_fn *done, void *arg)
{
	struct table_result res = {0};

	res.status = table_pmem_reclaim(t, session, epoch, &res.count);
	done(arg, &res);
}

static const struct table_ops pmem_table_ops = {
	.alloc = pmem_alloc,
	.seal = pmem_seal,
	.free = pmem_free,
	.reclaim = pmem_reclaim,
	.lookup = pmem_lookup,
	.iterate = pmem_iterate,
	.stats = pmem_stats,
	.close = pmem_close,
};

static struct pmem_table *table_new(uint8_t *base,
				    const struct pool_geometry *geo,
				    const struct persister *p)
{
	struct pmem_table *t = calloc(1, sizeof(*t));
	uint32_t n = (uint32_t)geo->table_slots;

	if (!t)
		return NULL;
	t->table.ops = &pmem_table_ops;
	t->persist = p;
	t->slots = base + geo->table_offset;
	t->slot_count = n;
	t->granularity = geo->granularity;
	t->area_size = geo->chunk_area_size;
	t->next_id = 1;
	t->records = calloc(n, sizeof(*t->records));
	t->current = calloc(n, 1);
	t->free_slots = calloc(n, sizeof(*t->free_slots));
	if (!t->records || !t->current || !t->free_slots ||
	    idmap_init(&t->ids, n) ||
	    space_map_init(&t->space, t->area_size / t->granularity)) {
		pmem_close(&t->table);
		return NULL;
	}
	return t;
}

static int fail_slot(struct table_pmem_report *rep, uint32_t idx,
		     const char *why)
{
	rep->bad_slot = idx;
	rep->bad_reason = why;
	return -EBADMSG;
}

/* Takes a SEALED chunk found by recovery into the allocator and index. */
static int keep_sealed(struct pmem_table *t, uint32_t idx,
		       struct table_pmem_report *rep)
{
	const struct table_record *rec = &t->records[idx];
	uint64_t other;

	if (idmap_get(&t->ids, rec->id, &other))
		return fail_slot(rep, idx, "two sealed chunks share an id");
	if (space_map_reserve(&t->space, rec->offset / t->granularity,
			      rec->length / t->granularity))
		return fail_slot(rep, idx, "sealed chunks overlap");
	idmap_put(&t->ids, rec->id, idx);
	t->sealed_count++;
	rep->sealed++;
	return 0;
}

/* Reads every slot into memory; writes nothing. */
static int scan_slots(struct pmem_table *t, struct table_pmem_report *rep)
{
	for (uint32_t idx = 0; idx < t->slot_count; idx++) {
		struct table_record rec = {0};
		int which = 0;
		enum slot_decode d = slot_decode(
			t->slots + (size_t)idx * TABLE_SLOT_SIZE, idx,
			t->area_size, t->granularity, &rec, &which);

		if (d == SLOT_CORRUPT)
			return fail_slot(rep, idx, "damaged record");
		t->current[idx] =
			d == SLOT_UNUSED ? SLOT_NEVER_USED : (uint8_t)which;
		if (d != SLOT_UNUSED && rec.id >= t->next_id)
			t->next_id = rec.id + 1;
		rep->unused += d == SLOT_UNUSED;
		rep->freed += d == SLOT_FREED;
		if (d != SLOT_LIVE) {
			rec.state = TABLE_CHUNK_FREE;
			t->records[idx] = rec;
			continue;
		}
		t->records[idx] = rec;
		if (rec.state == TABLE_CHUNK_SEALED && keep_sealed(t, idx, rep))
			return -EBADMSG;
	}
	return 0;
}

/* Seals the OPEN chunk in slot idx as settle decided, or frees it. */
static int settle_open(struct pmem_table *t, uint32_t idx,
		       table_pmem_settle_fn *settle, void *arg,
		       struct table_pmem_report *rep)
{
	struct table_record rec = t->records[idx];
	struct table_record sealed = rec;

	if (settle && settle(arg, &rec, &sealed) &&
	    sealed.sealed_len <= rec.length) {
		rec.state = TABLE_CHUNK_SEALED;
		rec.sealed_len = sealed.sealed_len;
		rec.crc = sealed.crc;
		rec.sealed_s = sealed.sealed_s;
		write_slot(t, idx, &rec);
		rep->settled++;
		return keep_sealed(t, idx, rep);
	}
	rec.state = TABLE_CHUNK_FREE;
	write_slot(t, idx, &rec);
	rep->reclaimed++;
	return 0;
}

/* Settles the OPEN chunks the scan found, then lists the free slots. */
static int reclaim_and_index(struct pmem_table *t, table_pmem_settle_fn *settle,
			     void *arg, struct table_pmem_report *rep)
{
	for (uint32_t idx = 0; idx < t->slot_count; idx++) {
		if (t->records[idx].state == TABLE_CHUNK_OPEN &&
		    settle_open(t, idx, settle, arg, rep))
			return -EBADMSG;
	}
	for (uint32_t idx = t->slot_count; idx-- > 0;)
		if (t->records[idx].state == TABLE_CHUNK_FREE)
			t->free_slots[t->free_slot_count++] = idx;
	return 0;
}

int table_pmem_open(uint8_t *base, const struct pool_geometry *geo,
		    const struct persister *p, struct table **out,
		    struct table_pmem_report *report)
{
	return table_pmem_open_settling(base, geo, p, NULL, NULL, out, report);
}

int table_pmem_open_settling(uint8_t *base, const struct pool_geometry *geo,
			     const struct persister *p,
			     table_pmem_settle_fn *settle, void *arg,
			     struct table **out,
			     struct table_pmem_report *report)
{
	struct pmem_table *t = table_new(base, geo, p);
	int rc;

	memset(report, 0, sizeof(*report));
	report->bad_slot = -1;
	if (!t)
		return -ENOMEM;
	rc = scan_slots(t, report);
	if (rc) {
		pmem_close(&t->table);
		return rc;
	}
	rc = reclaim_and_index(t, settle, arg, report);
	if (rc) {
		pmem_close(&t->table);
		return rc;
	}
	*out = &t->table;
	return 0;
}
