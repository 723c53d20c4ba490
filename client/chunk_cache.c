#include "chunk_cache.h"

#include <stdlib.h>
#include <string.h>

#include "chunkclient.h"

int chunk_cache_init(struct chunk_cache *cache)
{
	memset(cache, 0, sizeof(*cache));
	return idmap_init(&cache->index, 64) ? CHUNK_E_NOMEM : CHUNK_OK;
}

void chunk_cache_fini(struct chunk_cache *cache)
{
	idmap_fini(&cache->index);
	free(cache->chunks);
	memset(cache, 0, sizeof(*cache));
}

struct remote_chunk *chunk_cache_find(struct chunk_cache *cache, uint64_t id)
{
	uint64_t i;

	return idmap_get(&cache->index, id, &i) ? &cache->chunks[i] : NULL;
}

struct remote_chunk *chunk_cache_add(struct chunk_cache *cache, uint64_t id)
{
	struct remote_chunk *rc = chunk_cache_find(cache, id);

	if (rc)
		return rc;
	if (cache->count == cache->cap) {
		size_t cap = cache->cap ? cache->cap * 2 : 64;
		void *grown = realloc(cache->chunks, cap * sizeof(*rc));

		if (!grown)
			return NULL;
		cache->chunks = grown;
		cache->cap = cap;
	}
	if (idmap_put(&cache->index, id, (uint32_t)cache->count))
		return NULL;
	rc = &cache->chunks[cache->count++];
	memset(rc, 0, sizeof(*rc));
	rc->id = id;
	return rc;
}

void chunk_cache_forget(struct chunk_cache *cache, uint64_t id)
{
	struct remote_chunk *last;
	uint64_t i;

	if (!idmap_get(&cache->index, id, &i))
		return;
	idmap_remove(&cache->index, id);
	last = &cache->chunks[--cache->count];
	if (&cache->chunks[i] != last) {
		cache->chunks[i] = *last;
		idmap_put(&cache->index, last->id, i);
	}
}

bool chunk_cache_forget_lost(struct chunk_cache *cache, uint64_t id)
{
	struct remote_chunk *rc = chunk_cache_find(cache, id);

	if (!rc || !rc->lost)
		return false;
	chunk_cache_forget(cache, id);
	return true;
}

int chunk_cache_writable(struct chunk_cache *cache, uint64_t id,
			 struct remote_chunk **out)
{
	struct remote_chunk *rc;

	if (chunk_cache_forget_lost(cache, id))
		return CHUNK_E_STALE;
	rc = chunk_cache_find(cache, id);
	if (!rc)
		return CHUNK_E_NOENT;
	if (!rc->writable)
		return CHUNK_E_STATE;
	*out = rc;
	return CHUNK_OK;
}

void chunk_cache_lose_open(struct chunk_cache *cache, bool forget_others)
{
	size_t i = 0;

	while (i < cache->count) {
		struct remote_chunk *rc = &cache->chunks[i];

		if (rc->writable || rc->lost) {
			*rc = (struct remote_chunk){.id = rc->id, .lost = true};
			i++;
		} else if (forget_others) {
			chunk_cache_forget(cache,
					   rc->id); /* moves the last here */
		} else {
			i++;
		}
	}
}
