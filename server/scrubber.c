#include "scrubber.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "table/table.h"

#define SLICE_BYTES (1u << 20) /* read, then account and throttle */
#define MAX_NAP_US  50000      /* the worker sees a stop this soon */
#define TICK_US	    100000     /* the loop collects progress */

/* A sealed chunk as the scrub found it at the start. */
struct scrub_item {
	uint64_t id, offset, len;
	uint32_t crc;
};

/* What the worker and the loop share, under lock. */
struct scrub_shared {
	uint64_t bytes_done, chunks_done;
	size_t *suspects; /* items whose CRC did not match */
	size_t suspect_count, suspect_cap;
	bool done, stop;
};

struct scrubber {
	struct event_base *base;
	struct table *table;
	const uint8_t *area;
	struct event *tick;
	pthread_t worker;
	bool worker_live;
	uint64_t worker_rate;	  /* bytes/s; set before the worker starts */
	struct scrub_item *items; /* this run's; read-only while it runs */
	size_t item_count;
	pthread_mutex_t lock;
	struct scrub_shared shared;
	struct scrub_status status; /* the loop's */
};

/* ---- the worker ---- */

/* Sleeps until start_us plus the time done bytes take at rate, in naps
 * short enough to see a stop. */
static void throttle(struct scrubber *s, uint64_t start_us, uint64_t done)
{
	uint64_t rate = s->worker_rate, due, now;
	bool stop = false;

	if (!rate)
		return;
	due = start_us + done * 1000000 / rate;
	while (!stop && (now = clock_mono_us()) < due) {
		uint64_t nap = due - now < MAX_NAP_US ? due - now : MAX_NAP_US;
		struct timespec ts = {0, (long)(nap * 1000)};

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&s->lock);
		stop = s->shared.stop;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Adds one slice's bytes; returns whether to stop. */
static bool account(struct scrubber *s, uint64_t bytes, uint64_t *done)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	s->shared.bytes_done += bytes;
	*done = s->shared.bytes_done;
	stop = s->shared.stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Notes item i as a suspect (grows the list; a failed growth loses the
 * suspect's report, not the scrub). */
static void suspect(struct scrubber *s, size_t i)
{
	struct scrub_shared *sh = &s->shared;

	pthread_mutex_lock(&s->lock);
	if (sh->suspect_count == sh->suspect_cap) {
		size_t cap = sh->suspect_cap ? 2 * sh->suspect_cap : 16;
		size_t *grown = realloc(sh->suspects, cap * sizeof(*grown));

		if (grown) {
			sh->suspects = grown;
			sh->suspect_cap = cap;
		}
	}
	if (sh->suspect_count < sh->suspect_cap)
		sh->suspects[sh->suspect_count++] = i;
	pthread_mutex_unlock(&s->lock);
}

/* Checks item i; returns false when told to stop. */
static bool check_item(struct scrubber *s, size_t i, uint64_t start_us)
{
	const struct scrub_item *it = &s->items[i];
	const uint8_t *p = s->area + it->offset;
	uint32_t crc = 0;
	uint64_t done;

	for (uint64_t at = 0; at < it->len;) {
		uint64_t n =
			it->len - at < SLICE_BYTES ? it->len - at : SLICE_BYTES;

		crc = crc32c(crc, p + at, n);
		at += n;
		if (account(s, n, &done))
			return false;
		throttle(s, start_us, done);
	}
	if (crc != it->crc)
		suspect(s, i);
	pthread_mutex_lock(&s->lock);
	s->shared.chunks_done++;
	pthread_mutex_unlock(&s->lock);
	return true;
}

static void *scrub_worker(void *arg)
{
	struct scrubber *s = arg;
	uint64_t start_us = clock_mono_us();

	for (size_t i = 0; i < s->item_count; i++)
		if (!check_item(s, i, start_us))
			break;
	pthread_mutex_lock(&s->lock);
	s->shared.done = true;
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- the loop ---- */

/* A suspect is a mismatch only if its chunk is still what was read. */
static void confirm(struct scrubber *s, const struct scrub_item *it)
{
	struct scrub_status *st = &s->status;
	struct table_record rec;

	if (table_lookup(s->table, it->id, &rec) ||
	    rec.state != TABLE_CHUNK_SEALED || rec.offset != it->offset ||
	    rec.crc != it->crc)
		return; /* freed (and maybe reused) meanwhile */
	log_error("scrub: chunk %llu: content does not match its CRC32C "
		  "0x%08x",
		  (unsigned long long)it->id, it->crc);
	if (st->mismatches < SCRUB_LISTED)
		st->mismatched[st->mismatches] = it->id;
	st->mismatches++;
	st->all_mismatches++;
}

static void finish(struct scrubber *s)
{
	struct scrub_status *st = &s->status;

	pthread_join(s->worker, NULL);
	s->worker_live = false;
	free(s->items);
	s->items = NULL;
	event_del(s->tick);
	st->running = false;
	st->finished_s = (uint64_t)time(NULL);
	log_info("scrub %llu: %llu sealed chunks, %llu bytes checked, %llu "
		 "mismatches",
		 (unsigned long long)st->run,
		 (unsigned long long)st->chunks_checked,
		 (unsigned long long)st->bytes_checked,
		 (unsigned long long)st->mismatches);
}

/* Takes the worker's progress and suspects; finishes a done run. */
static void collect(struct scrubber *s)
{
	struct scrub_status *st = &s->status;
	size_t *suspects, count;
	bool done;

	pthread_mutex_lock(&s->lock);
	st->all_bytes_checked += s->shared.bytes_done - st->bytes_checked;
	st->all_chunks_checked += s->shared.chunks_done - st->chunks_checked;
	st->bytes_checked = s->shared.bytes_done;
	st->chunks_checked = s->shared.chunks_done;
	suspects = s->shared.suspects;
	count = s->shared.suspect_count;
	s->shared.suspects = NULL;
	s->shared.suspect_count = s->shared.suspect_cap = 0;
	done = s->shared.done;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < count; i++)
		confirm(s, &s->items[suspects[i]]);
	free(suspects);
	if (done)
		finish(s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	collect(arg);
}

int scrubber_new(struct event_base *base, struct table *t, const uint8_t *area,
		 struct scrubber **out)
{
	struct scrubber *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base = base;
	s->table = t;
	s->area = area;
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	if (!s->tick || pthread_mutex_init(&s->lock, NULL)) {
		if (s->tick)
			event_free(s->tick);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

struct item_list {
	struct scrub_item *items;
	size_t count, cap;
	bool failed;
};

static bool add_sealed(const struct table_record *r, void *arg)
{
	struct item_list *l = arg;

	if (r->state != TABLE_CHUNK_SEALED)
		return true;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct scrub_item *grown =
			realloc(l->items, cap * sizeof(*grown));

		if (!grown) {
			l->failed = true;
			return false;
		}
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->count++] =
		(struct scrub_item){r->id, r->offset, r->sealed_len, r->crc};
	return true;
}

/* The new run's status: its totals, nothing checked yet. */
static void begin_status(struct scrubber *s, uint64_t rate_bytes_s)
{
	struct scrub_status *st = &s->status;

	st->running = true;
	st->run++;
	st->rate_bytes_s = rate_bytes_s;
	st->chunks_total = s->item_count;
	st->bytes_total = 0;
	for (size_t i = 0; i < s->item_count; i++)
		st->bytes_total += s->items[i].len;
	st->chunks_checked = st->bytes_checked = st->mismatches = 0;
	st->started_s = (uint64_t)time(NULL);
	st->finished_s = 0;
}

int scrubber_start(struct scrubber *s, uint64_t rate_bytes_s)
{
	struct timeval tick = {0, TICK_US};
	struct item_list l = {0};
	int rc;

	if (s->status.running)
		return -EALREADY;
	table_iterate(s->table, add_sealed, &l);
	if (l.failed) {
		free(l.items);
		return -ENOMEM;
	}
	s->items = l.items;
	s->item_count = l.count;
	memset(&s->shared, 0, sizeof(s->shared));
	s->worker_rate = rate_bytes_s;
	begin_status(s, rate_bytes_s);
	rc = pthread_create(&s->worker, NULL, scrub_worker, s);
	if (rc) {
		free(s->items);
		s->items = NULL;
		s->status.running = false;
		return -rc;
	}
	s->worker_live = true;
	event_add(s->tick, &tick);
	log_info("scrub %llu: %zu sealed chunks, %llu bytes, at most %llu "
		 "bytes/s (0: no limit)",
		 (unsigned long long)s->status.run, l.count,
		 (unsigned long long)s->status.bytes_total,
		 (unsigned long long)rate_bytes_s);
	return 0;
}

void scrubber_status(const struct scrubber *s, struct scrub_status *out)
{
	*out = s->status;
}

void scrubber_free(struct scrubber **sp)
{
	struct scrubber *s = *sp;

	if (!s)
		return;
	if (s->worker_live) {
		pthread_mutex_lock(&s->lock);
		s->shared.stop = true;
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->worker, NULL);
	}
	free(s->shared.suspects);
	free(s->items);
	event_free(s->tick);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*sp = NULL;
}
