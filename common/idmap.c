#include "idmap.h"

#include <errno.h>
#include <stdlib.h>

/* Keeps the load factor at or below 1/2 so probe runs stay short. */
static size_t buckets_for(size_t ids)
{
	size_t n = 16;

	while (n < ids * 2)
		n <<= 1;
	return n;
}

/* Fibonacci hashing spreads sequential ids, the common case, evenly. */
static size_t home_of(const struct idmap *map, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & map->mask;
}

int idmap_init(struct idmap *map, size_t expected)
{
	size_t n = buckets_for(expected);

	map->buckets = calloc(n, sizeof(*map->buckets));
	if (!map->buckets)
		return -ENOMEM;
	map->mask = n - 1;
	map->count = 0;
	return 0;
}

void idmap_fini(struct idmap *map)
{
	free(map->buckets);
	map->buckets = NULL;
	map->count = 0;
}

static size_t find_bucket(const struct idmap *map, uint64_t id)
{
	size_t i = home_of(map, id);

	while (map->buckets[i].id != 0 && map->buckets[i].id != id)
		i = (i + 1) & map->mask;
	return i;
}

static int grow(struct idmap *map)
{
	struct idmap old = *map;

	if (idmap_init(map, (old.mask + 1)) != 0) {
		*map = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i <= old.mask; i++) {
		if (old.buckets[i].id != 0) {
			size_t j = find_bucket(map, old.buckets[i].id);

			map->buckets[j] = old.buckets[i];
			map->count++;
		}
	}
	free(old.buckets);
	return 0;
}

int idmap_put(struct idmap *map, uint64_t id, uint64_t value)
{
	size_t i;

	if (id == 0)
		return -EINVAL;
	if ((map->count + 1) * 2 > map->mask + 1 && grow(map) != 0)
		return -ENOMEM;
	i = find_bucket(map, id);
	if (map->buckets[i].id == 0)
		map->count++;
	map->buckets[i].id = id;
	map->buckets[i].value = value;
	return 0;
}

bool idmap_get(const struct idmap *map, uint64_t id, uint64_t *value)
{
	size_t i;

	if (id == 0)
		return false;
	i = find_bucket(map, id);
	if (map->buckets[i].id == 0)
		return false;
	*value = map->buckets[i].value;
	return true;
}

/* Whether the entry at `at`, whose home is `home`, may move to `hole`: only
 * when the hole lies cyclically between its home and where it sits now. */
static bool may_fill(size_t hole, size_t home, size_t at)
{
	if (home <= at)
		return hole >= home && hole < at;
	return hole >= home || hole < at;
}

bool idmap_remove(struct idmap *map, uint64_t id)
{
	size_t hole, i;

	if (id == 0)
		return false;
	hole = find_bucket(map, id);
	if (map->buckets[hole].id == 0)
		return false;
	map->buckets[hole].id = 0;
	map->count--;
	for (i = (hole + 1) & map->mask; map->buckets[i].id != 0;
	     i = (i + 1) & map->mask) {
		if (may_fill(hole, home_of(map, map->buckets[i].id), i)) {
			map->buckets[hole] = map->buckets[i];
			map->buckets[i].id = 0;
			hole = i;
		}
	}
	return true;
}
