#include "frees.h"

#include <errno.h>
#include <stdlib.h>

#include "service.h"

struct free_wait {
	struct free_wait *next;
	struct service *svc;
	uint64_t chunk;
	unsigned revokes; /* still under way, plus one while they are asked */
	table_done_fn *done;
	void *arg;
};

bool frees_under_way(const struct service *s, uint64_t chunk)
{
	for (const struct free_wait *w = s->frees; w; w = w->next)
		if (w->chunk == chunk)
			return true;
	return false;
}

int frees_lookup(const struct service *s, uint64_t chunk,
		 struct table_record *rec)
{
	if (frees_under_way(s, chunk))
		return -ENOENT;
	return table_lookup(s->table, chunk, rec);
}

static void unlink_wait(struct free_wait *w)
{
	struct free_wait **p = &w->svc->frees;

	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
}

/* The table answered: the chunk is gone (or the free failed, and it may be
 * granted again). */
static void freed(void *arg, const struct table_result *res)
{
	struct free_wait *w = arg;

	unlink_wait(w);
	w->done(w->arg, res);
	free(w);
}

static void grant_revoked(void *arg)
{
	struct free_wait *w = arg;

	if (--w->revokes == 0)
		table_free(w->svc->table, w->chunk, freed, w);
}

/* Revokes one grant: on a worker, counted in w, or (w NULL, when no
 * free_wait could be had) at once, on the loop. */
static void revoke_grant(struct session *o, uint64_t chunk, bool write,
			 struct free_wait *w)
{
	const struct session_ops *ops = o->ops;
	int rc;

	if (!w) {
		(write ? ops->revoke_write : ops->revoke_read)(o->ops_ctx,
							       chunk);
		return;
	}
	rc = (write ? ops->revoke_write_async : ops->revoke_read_async)(
		o->ops_ctx, chunk, grant_revoked, w);
	if (rc == -EINPROGRESS)
		w->revokes++;
}

/* Every grant of the chunk: the owner's write, everyone's read. */
static void revoke_grants(struct service *s, const struct table_record *rec,
			  struct free_wait *w)
{
	for (struct session *o = s->sessions.next; o != &s->sessions;
	     o = o->next) {
		if (rec->state == TABLE_CHUNK_OPEN && o->id == rec->session)
			revoke_grant(o, rec->id, true, w);
		revoke_grant(o, rec->id, false, w);
	}
}

void frees_start(struct service *s, const struct table_record *rec,
		 table_done_fn *done, void *arg)
{
	struct free_wait *w = malloc(sizeof(*w));

	if (!w) {
		revoke_grants(s, rec, NULL);
		table_free(s->table, rec->id, done, arg);
		return;
	}
	*w = (struct free_wait){s->frees, s, rec->id, 1, done, arg};
	s->frees = w;
	revoke_grants(s, rec, w);
	grant_revoked(w); /* the asking is over */
}
