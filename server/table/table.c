/* The table interface's dispatch to its backend. */
#include "table.h"

#include <errno.h>
#include <stddef.h>

void table_alloc(struct table *t, uint64_t size, uint64_t session,
		 uint32_t epoch, table_done_fn *done, void *arg)
{
	t->ops->alloc(t, size, session, epoch, done, arg);
}

void table_seal(struct table *t, uint64_t id, uint64_t sealed_len, uint32_t crc,
		table_done_fn *done, void *arg)
{
	t->ops->seal(t, id, sealed_len, crc, done, arg);
}

void table_free(struct table *t, uint64_t id, table_done_fn *done, void *arg)
{
	t->ops->free(t, id, done, arg);
}

void table_reclaim(struct table *t, uint64_t session, uint32_t epoch,
		   table_done_fn *done, void *arg)
{
	t->ops->reclaim(t, session, epoch, done, arg);
}

int table_lookup(struct table *t, uint64_t id, struct table_record *rec)
{
	return t->ops->lookup(t, id, rec);
}

void table_iterate(struct table *t, table_visit_fn *visit, void *arg)
{
	t->ops->iterate(t, visit, arg);
}

void table_stats(struct table *t, struct table_stats *stats)
{
	t->ops->stats(t, stats);
}

int table_locate(struct table *t, uint64_t id, struct table_location *loc)
{
	return t->ops->locate ? t->ops->locate(t, id, loc) : -ENOENT;
}

/* What a table that cannot replicate answers. */
static void unsupported(table_done_fn *done, void *arg)
{
	struct table_result res = {.status = -EOPNOTSUPP};

	done(arg, &res);
}

void table_alloc_replica(struct table *t, const struct table_alloc_args *a,
			 table_done_fn *done, void *arg)
{
	if (t->ops->alloc_replica)
		t->ops->alloc_replica(t, a, done, arg);
	else
		unsupported(done, arg);
}

void table_seal_replicated(struct table *t, uint64_t id, uint64_t sealed_len,
			   uint32_t crc, const uint64_t *others, unsigned count,
			   table_done_fn *done, void *arg)
{
	if (t->ops->seal_replicated)
		t->ops->seal_replicated(t, id, sealed_len, crc, others, count,
					done, arg);
	else
		unsupported(done, arg);
}

void table_copies(struct table *t, uint64_t id, table_done_fn *done, void *arg)
{
	struct table_result res = {0};

	if (t->ops->copies)
		t->ops->copies(t, id, done, arg);
	else
		done(arg, &res);
}

void table_replace_copy(struct table *t, uint64_t chunk, uint64_t lost,
			uint64_t copy, table_done_fn *done, void *arg)
{
	if (t->ops->replace_copy)
		t->ops->replace_copy(t, chunk, lost, copy, done, arg);
	else
		unsupported(done, arg);
}

bool table_replicates(const struct table *t)
{
	return t->ops->copies != NULL;
}

void table_close(struct table **t)
{
	if (*t) {
		(*t)->ops->close(*t);
		*t = NULL;
	}
}

const char *table_chunk_state_name(enum table_chunk_state state)
{
	switch (state) {
	case TABLE_CHUNK_FREE:
		return "free";
	case TABLE_CHUNK_OPEN:
		return "open";
	case TABLE_CHUNK_SEALED:
		return "sealed";
	}
	return "unknown";
}
