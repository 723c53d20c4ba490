#include "space_map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define WORD_BITS 64u

static bool bit_is_set(const struct space_map *map, uint64_t i)
{
	return (map->words[i / WORD_BITS] >> (i % WORD_BITS)) & 1u;
}

static void set_range(struct space_map *map, uint64_t first, uint64_t count,
		      bool used)
{
	for (uint64_t i = first; i < first + count; i++) {
		uint64_t mask = 1ull << (i % WORD_BITS);

		if (used)
			map->words[i / WORD_BITS] |= mask;
		else
			map->words[i / WORD_BITS] &= ~mask;
	}
}

/* Index of the first granule at or after i whose bit equals used, or end. */
static uint64_t skip_while(const struct space_map *map, uint64_t i,
			   uint64_t end, bool used)
{
	while (i < end) {
		uint64_t word = map->words[i / WORD_BITS];
		uint64_t rest = used ? ~word : word; /* bits that stop us */

		rest >>= i % WORD_BITS;
		if (rest) {
			i += (uint64_t)__builtin_ctzll(rest);
			return i < end ? i : end;
		}
		i = (i / WORD_BITS + 1) * WORD_BITS;
	}
	return end;
}

int space_map_init(struct space_map *map, uint64_t granules)
{
	uint64_t words = (granules + WORD_BITS - 1) / WORD_BITS;

	map->words = calloc(words ? words : 1, sizeof(uint64_t));
	if (!map->words)
		return -ENOMEM;
	map->granules = granules;
	map->used = 0;
	map->rover = 0;
	return 0;
}

void space_map_fini(struct space_map *map)
{
	free(map->words);
	map->words = NULL;
}

/* First free run of count granules within [from, end), or end. */
static uint64_t find_run(const struct space_map *map, uint64_t from,
			 uint64_t end, uint64_t count)
{
	uint64_t start = skip_while(map, from, end, true);

	while (start < end && end - start >= count) {
		uint64_t stop = skip_while(map, start, start + count, false);

		if (stop == start + count)
			return start;
		start = skip_while(map, stop, end, true);
	}
	return end;
}

int space_map_alloc(struct space_map *map, uint64_t count, uint64_t *first)
{
	uint64_t start;

	if (count == 0)
		return -EINVAL;
	if (count > map->granules - map->used)
		return -ENOSPC;
	start = find_run(map, map->rover, map->granules, count);
	if (start == map->granules)
		start = find_run(map, 0, map->granules, count);
	if (start == map->granules)
		return -ENOSPC;
	set_range(map, start, count, true);
	map->used += count;
	map->rover = start + count < map->granules ? start + count : 0;
	*first = start;
	return 0;
}

int space_map_reserve(struct space_map *map, uint64_t first, uint64_t count)
{
	if (count == 0 || first >= map->granules ||
	    count > map->granules - first)
		return -EINVAL;
	if (skip_while(map, first, first + count, false) != first + count)
		return -EEXIST;
	set_range(map, first, count, true);
	map->used += count;
	return 0;
}

void space_map_release(struct space_map *map, uint64_t first, uint64_t count)
{
	for (uint64_t i = first; i < first + count; i++)
		if (!bit_is_set(map, i))
			abort(); /* a double free is a bug in the table */
	set_range(map, first, count, false);
	map->used -= count;
}
