#include "replica_sets.h"

#include <stdlib.h>
#include <string.h>

struct replica_set *replica_sets_find(struct replica_sets *r, uint64_t chunk)
{
	uint64_t i;

	if (!r->ready || !idmap_get(&r->index, chunk, &i))
		return NULL;
	return &r->sets[i];
}

static int grow(struct replica_sets *r)
{
	size_t cap = r->cap ? 2 * r->cap : 16;
	struct replica_set *s = realloc(r->sets, cap * sizeof(*s));

	if (!s)
		return -1;
	r->sets = s;
	r->cap = cap;
	return 0;
}

struct replica_set *replica_sets_add(struct replica_sets *r, uint64_t chunk)
{
	struct replica_set *s = replica_sets_find(r, chunk);

	if (!s) {
		if (!r->ready && idmap_init(&r->index, 64))
			return NULL;
		r->ready = true;
		if (r->count == r->cap && grow(r))
			return NULL;
		if (idmap_put(&r->index, chunk, r->count))
			return NULL;
		s = &r->sets[r->count++];
	}
	memset(s, 0, sizeof(*s));
	s->chunk = chunk;
	return s;
}

void replica_sets_forget(struct replica_sets *r, uint64_t chunk)
{
	uint64_t i;

	if (!r->ready || !idmap_get(&r->index, chunk, &i))
		return;
	idmap_remove(&r->index, chunk);
	if (i != r->count - 1) { /* the last moves into the hole */
		r->sets[i] = r->sets[r->count - 1];
		idmap_put(&r->index, r->sets[i].chunk, i);
	}
	r->count--;
}

void replica_sets_fini(struct replica_sets *r)
{
	free(r->sets);
	if (r->ready)
		idmap_fini(&r->index);
	memset(r, 0, sizeof(*r));
}
