/*
 * An intrusive doubly-linked list: an object that may be on a list holds a
 * struct list_link, and the list is a struct list_link of its own (the
 * head, which links the first and the last). Removal takes only the
 * object, and removing one object while walking is safe when the walk
 * takes the next link first. Not thread-safe.
 */
#ifndef CHUNKD_COMMON_LIST_H
#define CHUNKD_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_link {
	struct list_link *prev, *next;
};

/* The object of type holding link as its member. */
#define LIST_ITEM(link, type, member)                                          \
	((type *)((char *)(link)-offsetof(type, member)))

static inline void list_init(struct list_link *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list_link *head)
{
	return head->next == head;
}

/* Puts link first on the list. */
static inline void list_push(struct list_link *head, struct list_link *link)
{
	link->next = head->next;
	link->prev = head;
	head->next->prev = link;
	head->next = link;
}

/* Takes link off the list it is on. */
static inline void list_remove(struct list_link *link)
{
	link->prev->next = link->next;
	link->next->prev = link->prev;
	link->prev = link->next = link;
}

#endif
