#include "placement.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Whether a ranks before b: more free bytes, then the smaller name. */
static bool ranks_before(const struct member *a, const struct member *b)
{
	if (a->free_bytes != b->free_bytes)
		return a->free_bytes > b->free_bytes;
	return strcmp(a->name, b->name) < 0;
}

static bool taken(const struct member *m, const struct member **out, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (out[i] == m)
			return true;
	return false;
}

/* The best member with room not chosen yet, or NULL. */
static const struct member *best_left(const struct member *members,
				      size_t count, uint64_t size,
				      const struct member **out, unsigned n)
{
	const struct member *best = NULL;

	for (size_t i = 0; i < count; i++) {
		const struct member *m = &members[i];

		if (m->free_bytes < size || taken(m, out, n))
			continue;
		if (!best || ranks_before(m, best))
			best = m;
	}
	return best;
}

int placement_choose(const struct member *members, size_t count,
		     const char *self, unsigned r, uint64_t size,
		     const struct member **out, unsigned *with_room)
{
	unsigned n = 0;

	*with_room = 0;
	for (size_t i = 0; i < count; i++)
		*with_room += members[i].free_bytes >= size;
	if (r == 0 || r > PLACEMENT_MAX_COPIES)
		return -EINVAL;
	for (size_t i = 0; i < count && self; i++) {
		if (!strcmp(members[i].name, self) &&
		    members[i].free_bytes >= size)
			out[n++] = &members[i];
	}
	while (n < r) {
		const struct member *m =
			best_left(members, count, size, out, n);

		if (!m)
			return -ENOSPC;
		out[n++] = m;
	}
	return 0;
}
