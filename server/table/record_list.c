#include "record_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int record_list_push(struct record_list *l, const struct table_record *rec)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct table_record *p = realloc(l->recs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->recs = p;
		l->cap = cap;
	}
	l->recs[l->count++] = *rec;
	return 0;
}

void record_list_free(struct record_list *l)
{
	free(l->recs);
	memset(l, 0, sizeof(*l));
}
