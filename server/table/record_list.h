/* A growable array of table records, for walks that collect records to
 * change after the walk (a table must not change while it is walked). */
#ifndef CHUNKD_SERVER_RECORD_LIST_H
#define CHUNKD_SERVER_RECORD_LIST_H

#include <stddef.h>

#include "table.h"

struct record_list {
	struct table_record *recs;
	size_t count, cap;
};

/* Appends a copy of rec; -ENOMEM (the list is unchanged). */
int record_list_push(struct record_list *l, const struct table_record *rec);

/* Frees the array and empties l. */
void record_list_free(struct record_list *l);

#endif
