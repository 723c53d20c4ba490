#include "doomed.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_record.h"
#include "cluster_keys.h"
#include "common/list.h"
#include "common/log.h"
#include "etcd/etcd_json.h"
#include "table/table_pmem.h"

#define RETRY_PERIOD_MS 1000
#define MAX_CHASES	8 /* OPEN at a newer revision: read again, delete */

/* A doomed chunk's state in the map. */
enum {
	DOOMED_WAITING = 1, /* for the retry timer */
	DOOMED_SETTLING,    /* a settle is in flight */
};

struct settle {
	struct doomed *d;
	struct table_record rec; /* rec.id: the pool's id */
	doomed_tried_fn *tried;
	void *arg;
	unsigned attempts;
	struct list_link link; /* on d->settles */
};

struct doomed {
	struct doomed_opts o;
	char prefix[128];
	struct idmap ids;	  /* pool id -> DOOMED_* */
	struct event *retry;	  /* settles the waiting while there are any */
	struct list_link settles; /* in flight, for doomed_free */
};

static void settle_start(struct settle *st);

static void schedule_retry(struct doomed *d)
{
	struct timeval tv = {RETRY_PERIOD_MS / 1000,
			     (RETRY_PERIOD_MS % 1000) * 1000};

	if (!evtimer_pending(d->retry, NULL))
		evtimer_add(d->retry, &tv);
}

static struct settle *settle_new(struct doomed *d,
				 const struct table_record *rec,
				 doomed_tried_fn *tried, void *arg)
{
	struct settle *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->d = d;
	st->rec = *rec;
	st->tried = tried;
	st->arg = arg;
	list_push(&d->settles, &st->link);
	return st;
}

/* The attempt is over: the chunk is settled (freed or sealed), or waits
 * for the timer. */
static void settle_end(struct settle *st, bool freed)
{
	struct doomed *d = st->d;
	uint64_t v;

	if (idmap_get(&d->ids, st->rec.id, &v)) {
		idmap_put(&d->ids, st->rec.id, DOOMED_WAITING);
		schedule_retry(d);
	}
	if (st->tried)
		st->tried(st->arg, freed);
	list_remove(&st->link);
	free(st);
}

/* The record is gone: the space can be used again. */
static void settle_gone(struct settle *st)
{
	struct doomed *d = st->d;

	idmap_remove(&d->ids, st->rec.id);
	idmap_remove(d->o.revisions, st->rec.id);
	table_pmem_free(d->o.local, st->rec.id);
	settle_end(st, true);
}

/* etcd holds the chunk SEALED: a seal of ours committed whose answer was
 * lost. The pool records it too. */
static void settle_sealed(struct settle *st, const struct chunk_record *cr,
			  int64_t rev)
{
	struct doomed *d = st->d;

	idmap_remove(&d->ids, st->rec.id);
	if (table_pmem_seal(d->o.local, st->rec.id, cr->rec.sealed_len,
			    cr->rec.crc, NULL) == 0)
		idmap_put(d->o.revisions, st->rec.id, (uint64_t)rev);
	log_info("chunk %llu: its seal had committed in etcd; sealed here too",
		 (unsigned long long)cr->rec.id);
	settle_end(st, false);
}

static void settle_answered(void *arg, const struct etcd_result *r)
{
	struct settle *st = arg;
	struct chunk_record cr;
	int64_t rev = 0;
	int found;

	if (r->status) {
		settle_end(st, false); /* stays doomed */
		return;
	}
	found = r->succeeded ? -ENOENT : chunk_record_found(r->body, &cr, &rev);
	if (found == -ENOENT) {
		settle_gone(st);
	} else if (found == 0 && cr.rec.state == TABLE_CHUNK_SEALED) {
		settle_sealed(st, &cr, rev);
	} else if (found == 0 && st->attempts < MAX_CHASES) {
		/* OPEN at a revision we never saw (an alloc's answer was
		 * lost): ours all the same; delete that one. */
		idmap_put(st->d->o.revisions, st->rec.id, (uint64_t)rev);
		settle_start(st);
	} else {
		log_error("chunk %llu: cannot settle its record in etcd; "
			  "retrying",
			  (unsigned long long)cluster_chunk_id(st->d->o.node,
							       st->rec.id));
		settle_end(st, false);
	}
}

/* Deletes the chunk's record if it is still the one we know, else reads
 * what is there. The delete takes the chunk's placed key along: only a
 * replicated chunk's first copy has one, written at its seal, and a free
 * of it whose answer was lost is doomed; for any other chunk there is
 * nothing to delete. */
static void settle_start(struct settle *st)
{
	struct doomed *d = st->d;
	uint64_t id = cluster_chunk_id(d->o.node, st->rec.id), rev = 0;
	char key[CLUSTER_KEY_MAX], placed[CLUSTER_KEY_MAX];
	json_t *txn;

	idmap_put(&d->ids, st->rec.id, DOOMED_SETTLING);
	idmap_get(d->o.revisions, st->rec.id, &rev);
	cluster_key_chunk(key, sizeof(key), d->prefix, id);
	cluster_key_placed(placed, sizeof(placed), d->prefix, id);
	txn = etcd_json_txn(
		etcd_json_list(etcd_json_cmp_mod(key, (int64_t)rev), NULL),
		etcd_json_list(etcd_json_delete(key), etcd_json_delete(placed),
			       NULL),
		etcd_json_list(etcd_json_get(key), NULL));
	st->attempts++;
	if (!txn ||
	    etcd_call(d->o.etcd, "/v3/kv/txn", txn, settle_answered, st))
		settle_end(st, false);
}

void doomed_add(struct doomed *d, const struct table_record *rec,
		doomed_tried_fn *tried, void *arg)
{
	struct settle *st = settle_new(d, rec, tried, arg);

	idmap_put(&d->ids, rec->id, DOOMED_WAITING);
	if (st) {
		settle_start(st);
		return;
	}
	schedule_retry(d);
	if (tried)
		tried(arg, false);
}

static bool retry_one(const struct table_record *rec, void *arg)
{
	struct doomed *d = arg;
	uint64_t v;
	struct settle *st;

	if (!idmap_get(&d->ids, rec->id, &v) || v != DOOMED_WAITING)
		return true;
	st = settle_new(d, rec, NULL, NULL);
	if (st)
		settle_start(st);
	else
		schedule_retry(d);
	return true;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct doomed *d = arg;

	(void)fd;
	(void)what;
	/* Answers come on later turns of the loop, so the walk sees no
	 * change of the table. */
	table_iterate(d->o.local, retry_one, d);
}

bool doomed_has(const struct doomed *d, uint64_t id)
{
	uint64_t v;

	return idmap_get(&d->ids, id, &v);
}

uint64_t doomed_count(const struct doomed *d)
{
	return d->ids.count;
}

int doomed_new(const struct doomed_opts *o, struct doomed **out)
{
	struct doomed *d = calloc(1, sizeof(*d));

	if (!d || idmap_init(&d->ids, 64)) {
		free(d);
		return -ENOMEM;
	}
	d->retry = evtimer_new(etcd_base(o->etcd), on_retry, d);
	if (!d->retry) {
		idmap_fini(&d->ids);
		free(d);
		return -ENOMEM;
	}
	list_init(&d->settles);
	d->o = *o;
	snprintf(d->prefix, sizeof(d->prefix), "%s", o->prefix);
	d->o.prefix = d->prefix;
	*out = d;
	return 0;
}

void doomed_free(struct doomed **dp)
{
	struct doomed *d = *dp;

	if (!d)
		return;
	while (!list_empty(&d->settles)) {
		struct settle *st =
			LIST_ITEM(d->settles.next, struct settle, link);

		list_remove(&st->link);
		free(st);
	}
	event_free(d->retry);
	idmap_fini(&d->ids);
	free(d);
	*dp = NULL;
}
