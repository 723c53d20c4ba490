/*
 * The cluster's table under etcd faults: one member of the cluster (a pool
 * in memory, the etcd table over it) whose sessions alloc, seal and
 * sometimes free chunks as fast as etcd answers, while
 * tests/cluster/table_faults.sh kills and revives etcd members.
 *
 *   table_faults storm ENDPOINTS PREFIX NAME ALLOCS LOG
 *       Two sessions, ALLOCS allocs between them, each followed by its
 *       seal; every third sealed chunk is freed again. Checks as it goes
 *       that no grant overlaps a live chunk of the pool and that every
 *       change completes, acknowledged or failed, within HANG_S; at the
 *       end, once etcd answers, that no two live records of the pool
 *       overlap in etcd and that the pool and etcd agree on every chunk.
 *       Writes "sealed ID LEN CRC" and "freed ID" for what was
 *       acknowledged to LOG, and "unsure-free ID" for a free that failed
 *       unsure (the table finishes it).
 *   table_faults check ENDPOINTS PREFIX LOG...
 *       Every seal a LOG acknowledges and no LOG frees (or tried to) is
 *       SEALED in etcd
 *       with its length and CRC; no two records of one pool overlap.
 *   table_faults refused ENDPOINTS PREFIX NAME DIR
 *       Joins, writes DIR/joined, and waits for DIR/go (the script has
 *       stopped two etcd members): an alloc must fail with -EHOSTUNREACH
 *       within the time etcd is given, and grant nothing. Writes
 *       DIR/refused and waits for DIR/back: allocs succeed again within
 *       HANG_S.
 *
 * Exit status: 0 as claimed, 1 a violation (printed), 2 usage.
 */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem_pool.h"
#include "cluster/chunk_record.h"
#include "cluster/cluster.h"
#include "cluster/table_etcd.h"
#include "common/clock.h"
#include "etcd/etcd_json.h"

#define POOL_SIZE  (8u << 20)
#define GRAN	   4096u
#define SLOTS	   2048u
#define HANG_S	   20 /* a change pending longer than this hangs */
#define SESSIONS   2
#define MAX_LIVE   2048
#define TIMEOUT_MS 2000

static struct event_base *base;
static struct table *table;
static struct cluster *cl;
static struct mem_pool mp;
static struct pool pool;
static const char *endpoints, *prefix;

static void violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("table_faults: VIOLATION: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	exit(1);
}

/* ---- joining, and waiting on the loop ---- */

static void join(const char *name)
{
	struct cluster_opts o = {.endpoints = endpoints,
				 .name = name,
				 .prefix = prefix,
				 .address = "127.0.0.1",
				 .port = 7470,
				 .ttl_s = 5,
				 .timeout_ms = TIMEOUT_MS};
	struct reconcile_report rep;
	char err[512];

	base = event_base_new();
	if (!base || mem_pool_create(&mp, POOL_SIZE, GRAN, SLOTS))
		violation("no memory for the pool");
	pool = (struct pool){
		.base = mp.image, .geo = mp.geo, .persist = mp.persist};
	if (cluster_join(base, &o, &pool, &cl, &table, &rep, err, sizeof(err)))
		violation("%s cannot join: %s", name, err);
}

static void leave(void)
{
	cluster_leave(&cl);
	table_close(&table);
	event_base_free(base);
	mem_pool_destroy(&mp);
}

/* Runs the loop for up to ms, or until *flag is set (flag may be NULL). */
static void run_loop(unsigned ms, const int *flag)
{
	uint64_t end = clock_mono_us() + ms * 1000ull;
	struct timeval tick = {0, 20000};

	while ((!flag || !*flag) && clock_mono_us() < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
}

struct done {
	int calls;
	struct table_result res;
	uint64_t started_us;
};

static void done_cb(void *arg, const struct table_result *res)
{
	struct done *d = arg;

	d->calls++;
	d->res = *res;
}

/* ---- the storm ---- */

struct live {
	uint64_t id, offset, length;
};

static struct live live[MAX_LIVE];
static size_t live_count;
static FILE *ack_log;
static uint64_t acked, failed, allocs_left;

enum step { STEP_ALLOC, STEP_SEAL, STEP_FREE, STEP_IDLE };

struct session {
	uint64_t id;
	enum step step;
	struct done d;
	struct table_record chunk;
	uint32_t crc; /* the chunk's: a retried seal repeats it */
	unsigned seals;
	bool pending;
};

static struct session sessions[SESSIONS];

static void add_live(const struct table_record *rec)
{
	for (size_t i = 0; i < live_count; i++) {
		const struct live *l = &live[i];

		if (rec->offset < l->offset + l->length &&
		    l->offset < rec->offset + rec->length)
			violation("chunk %" PRIu64 " at %" PRIu64
				  " overlaps live chunk %" PRIu64
				  " at %" PRIu64,
				  rec->id, rec->offset, l->id, l->offset);
	}
	if (live_count == MAX_LIVE)
		violation("more live chunks than the test keeps");
	live[live_count++] = (struct live){rec->id, rec->offset, rec->length};
}

static void drop_live(uint64_t id)
{
	for (size_t i = 0; i < live_count; i++) {
		if (live[i].id == id) {
			live[i] = live[--live_count];
			return;
		}
	}
}

static void start_step(struct session *s)
{
	s->d = (struct done){.started_us = clock_mono_us()};
	s->pending = true;
	switch (s->step) {
	case STEP_ALLOC:
		allocs_left--;
		table_alloc(table, GRAN * (1 + allocs_left % 3), s->id, 1,
			    done_cb, &s->d);
		break;
	case STEP_SEAL:
		table_seal(table, s->chunk.id, s->chunk.length / 2, s->crc,
			   done_cb, &s->d);
		break;
	case STEP_FREE:
		table_free(table, s->chunk.id, done_cb, &s->d);
		break;
	case STEP_IDLE:
		s->pending = false;
		break;
	}
}

static enum step after_alloc(struct session *s)
{
	if (s->d.res.status)
		return STEP_ALLOC;
	s->chunk = s->d.res.rec;
	s->crc = (uint32_t)rand();
	s->seals = 0;
	add_live(&s->chunk);
	return STEP_SEAL;
}

static enum step after_seal(struct session *s)
{
	const struct table_result *r = &s->d.res;

	if (r->status == -EHOSTUNREACH && ++s->seals < 5)
		return STEP_SEAL; /* the same seal: it succeeds if the last
				   * one reached etcd after all */
	if (r->status)
		return STEP_ALLOC; /* reclaimed at the end */
	if (r->rec.sealed_len != s->chunk.length / 2 || r->rec.crc != s->crc)
		violation("seal of %" PRIu64 " answered another record",
			  s->chunk.id);
	fprintf(ack_log, "sealed %" PRIu64 " %" PRIu64 " %u\n", s->chunk.id,
		s->chunk.length / 2, s->crc);
	return s->chunk.id % 3 == 0 ? STEP_FREE : STEP_ALLOC;
}

static enum step after_free(struct session *s)
{
	if (s->d.res.status == 0) {
		fprintf(ack_log, "freed %" PRIu64 "\n", s->chunk.id);
		drop_live(s->chunk.id);
	} else if (s->d.res.status == -EHOSTUNREACH) {
		/* Maybe deleted in etcd; the table finishes the free. */
		fprintf(ack_log, "unsure-free %" PRIu64 "\n", s->chunk.id);
		drop_live(s->chunk.id);
	}
	return STEP_ALLOC;
}

/* Takes a completed change and starts the session's next one. */
static void advance(struct session *s)
{
	enum step next = STEP_IDLE;

	s->pending = false;
	if (s->d.res.status)
		failed++;
	else
		acked++;
	if (s->step == STEP_ALLOC)
		next = after_alloc(s);
	else if (s->step == STEP_SEAL)
		next = after_seal(s);
	else if (s->step == STEP_FREE)
		next = after_free(s);
	if (next == STEP_ALLOC && allocs_left == 0)
		next = STEP_IDLE;
	s->step = next;
	start_step(s);
}

/* Advances every completed session; true while any is still busy. */
static bool tend_sessions(void)
{
	bool busy = false;

	for (int i = 0; i < SESSIONS; i++) {
		struct session *s = &sessions[i];

		while (s->pending && s->d.calls) {
			if (s->d.calls > 1)
				violation("a change completed %d times",
					  s->d.calls);
			advance(s);
		}
		if (s->pending &&
		    clock_mono_us() - s->d.started_us > HANG_S * 1000000ull)
			violation("a change of session %" PRIu64
				  " hangs after %d s",
				  s->id, HANG_S);
		busy |= s->pending;
	}
	return busy;
}

/* Frees what the sessions left OPEN, as their ends would. */
static void reclaim_sessions(void)
{
	for (int i = 0; i < SESSIONS; i++) {
		struct done d = {0};
		uint64_t deadline = clock_mono_us() + HANG_S * 1000000ull;

		table_reclaim(table, sessions[i].id, 1, done_cb, &d);
		while (!d.calls && clock_mono_us() < deadline)
			run_loop(100, &d.calls);
		if (!d.calls)
			violation("a reclaim hangs");
	}
}

/* ---- etcd as it is ---- */

static json_t *etcd_range(const char *key_prefix)
{
	struct event_base *b = event_base_new();
	struct etcd *e = NULL;
	json_t *body = NULL;
	char err[512];

	if (etcd_new(b, endpoints, 5000, &e, err, sizeof(err)) ||
	    etcd_call_wait(e, "/v3/kv/range",
			   etcd_json_range_prefix(key_prefix), &body, NULL,
			   NULL, err, sizeof(err)))
		violation("cannot read etcd: %s", err);
	etcd_free(&e);
	event_base_free(b);
	return body;
}

struct record_list {
	struct chunk_record *recs;
	size_t count;
};

static struct record_list read_records(const char *key_prefix)
{
	json_t *body = etcd_range(key_prefix);
	json_t *kvs = etcd_json_kvs(body), *item;
	struct record_list l = {
		calloc(json_array_size(kvs) + 1, sizeof(struct chunk_record)),
		0};
	struct etcd_kv kv;
	size_t i;

	json_array_foreach(kvs, i, item)
	{
		if (etcd_json_kv(item, &kv) ||
		    chunk_record_decode(kv.value, &l.recs[l.count]))
			violation("an unreadable record in etcd");
		l.count++;
	}
	json_decref(body);
	return l;
}

static int by_pool_offset(const void *a, const void *b)
{
	const struct chunk_record *x = a, *y = b;
	int c = strcmp(x->pool, y->pool);

	if (c)
		return c;
	return x->rec.offset < y->rec.offset ? -1
					     : x->rec.offset > y->rec.offset;
}

static void check_no_overlap(struct record_list *l)
{
	qsort(l->recs, l->count, sizeof(*l->recs), by_pool_offset);
	for (size_t i = 1; i < l->count; i++) {
		const struct chunk_record *a = &l->recs[i - 1],
					  *b = &l->recs[i];

		if (!strcmp(a->pool, b->pool) &&
		    a->rec.offset + a->rec.length > b->rec.offset)
			violation("records %" PRIu64 " and %" PRIu64
				  " overlap in pool %s",
				  a->rec.id, b->rec.id, a->pool);
	}
}

static const struct chunk_record *find_record(const struct record_list *l,
					      uint64_t id)
{
	for (size_t i = 0; i < l->count; i++)
		if (l->recs[i].rec.id == id)
			return &l->recs[i];
	return NULL;
}

struct agree_walk {
	const struct record_list *l;
	uint64_t checked;
};

static bool agree(const struct table_record *rec, void *arg)
{
	struct agree_walk *w = arg;
	const struct chunk_record *cr = find_record(w->l, rec->id);

	if (!cr)
		violation("chunk %" PRIu64 " (%s in the pool) has no record "
			  "in etcd",
			  rec->id, table_chunk_state_name(rec->state));
	if (cr->rec.state != rec->state || cr->rec.offset != rec->offset ||
	    cr->rec.sealed_len != rec->sealed_len || cr->rec.crc != rec->crc)
		violation("chunk %" PRIu64 ": the pool holds it %s at %" PRIu64
			  " (%" PRIu64 " bytes, crc %08x), etcd %s at %" PRIu64
			  " (%" PRIu64 " bytes, crc %08x)",
			  rec->id, table_chunk_state_name(rec->state),
			  rec->offset, rec->sealed_len, rec->crc,
			  table_chunk_state_name(cr->rec.state), cr->rec.offset,
			  cr->rec.sealed_len, cr->rec.crc);
	w->checked++;
	return true;
}

/* Once etcd answers and nothing waits for it: the pool and etcd agree. */
static void check_agreement(void)
{
	char key[CLUSTER_KEY_MAX];
	uint64_t deadline = clock_mono_us() + 60 * 1000000ull;
	struct record_list l;
	struct agree_walk w;
	struct table_stats st;

	while (table_etcd_backlog(table) && clock_mono_us() < deadline)
		run_loop(100, NULL);
	if (table_etcd_backlog(table))
		violation("%" PRIu64 " chunks still wait for etcd",
			  table_etcd_backlog(table));
	cluster_key_node_chunks(key, sizeof(key), prefix,
				cluster_self(cl)->node);
	l = read_records(key);
	check_no_overlap(&l);
	w = (struct agree_walk){&l, 0};
	table_iterate(table, agree, &w);
	table_stats(table, &st);
	if (l.count != st.open_chunks + st.sealed_chunks)
		violation(
			"etcd holds %zu records of this pool, the pool %" PRIu64,
			l.count, st.open_chunks + st.sealed_chunks);
	printf("agreement: %" PRIu64 " chunks, the pool and etcd agree\n",
	       w.checked);
	free(l.recs);
}

static int storm(const char *name, uint64_t allocs, const char *log_path)
{
	ack_log = fopen(log_path, "w");
	if (!ack_log)
		violation("cannot write %s", log_path);
	setvbuf(ack_log, NULL, _IOLBF, 0);
	srand((unsigned)getpid());
	join(name);
	allocs_left = allocs;
	for (int i = 0; i < SESSIONS; i++) {
		sessions[i] = (struct session){.id = (uint64_t)i + 1};
		start_step(&sessions[i]);
	}
	while (tend_sessions())
		run_loop(20, NULL);
	reclaim_sessions();
	check_agreement();
	printf("storm %s: %" PRIu64 " changes acknowledged, %" PRIu64
	       " failed with an error, none hung\n",
	       name, acked, failed);
	fclose(ack_log);
	leave();
	return 0;
}

/* ---- after the storm ---- */

static int check(int logs, char **paths)
{
	char key[CLUSTER_KEY_MAX];
	struct record_list l;
	uint64_t sealed = 0;

	snprintf(key, sizeof(key), "%schunks/", prefix);
	l = read_records(key);
	check_no_overlap(&l);
	for (int i = 0; i < logs; i++) {
		FILE *f = fopen(paths[i], "r");
		char line[256];

		if (!f)
			violation("cannot read %s", paths[i]);
		while (fgets(line, sizeof(line), f)) {
			uint64_t id, len;
			unsigned crc;
			const struct chunk_record *cr;

			if (sscanf(line, "sealed %" SCNu64 " %" SCNu64 " %u",
				   &id, &len, &crc) != 3)
				continue;
			cr = find_record(&l, id);
			if (cr && cr->rec.state == TABLE_CHUNK_SEALED &&
			    cr->rec.sealed_len == len && cr->rec.crc == crc) {
				sealed++;
				continue;
			}
			/* A freed chunk is gone rightly, and so may be one
			 * whose free failed unsure; look for its free. */
			char want[64], unsure[64];
			bool freed = false;
			long pos = ftell(f);

			snprintf(want, sizeof(want), "freed %" PRIu64 "\n", id);
			snprintf(unsure, sizeof(unsure),
				 "unsure-free %" PRIu64 "\n", id);
			while (fgets(line, sizeof(line), f))
				freed |= !strcmp(line, want) ||
					 !strcmp(line, unsure);
			fseek(f, pos, SEEK_SET);
			if (!freed)
				violation("the acknowledged seal of %" PRIu64
					  " is lost",
					  id);
		}
		fclose(f);
	}
	printf("check: %" PRIu64 " acknowledged seals all in etcd; %zu "
	       "records, none overlapping\n",
	       sealed, l.count);
	free(l.recs);
	return 0;
}

static void wait_file(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	while (access(path, F_OK) != 0)
		run_loop(50, NULL);
}

static void touch(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		violation("cannot write %s", path);
	fclose(f);
}

/* A write to one member, given time to answer (etcd's own request
 * timeout is 7 s): without quorum it fails, and etcd counts as lost, not
 * as answering. */
static void no_quorum_at(const char *endpoint)
{
	struct event_base *b = event_base_new();
	json_t *put = etcd_json_put("/faults-no-quorum", "x", 0);
	struct etcd *e = NULL;
	char err[512] = "";
	int st;

	if (etcd_new(b, endpoint, 15000, &e, err, sizeof(err)))
		violation("etcd_new: %s", err);
	st = etcd_call_wait(
		e, "/v3/kv/txn",
		etcd_json_txn(NULL, etcd_json_list(put, NULL), NULL), NULL,
		NULL, NULL, err, sizeof(err));
	if (st == 0 || etcd_reachable(e))
		violation("a write without quorum answered %d (%s) and etcd "
			  "counts as reachable: %d",
			  st, err, etcd_reachable(e));
	printf("refused: a write without quorum to %s failed (%s); etcd "
	       "counts as lost\n",
	       endpoint, err);
	etcd_free(&e);
	event_base_free(b);
}

/* The same at the member left, whose endpoint the script wrote. */
static void no_quorum_is_unreachable(const char *dir)
{
	char path[512], endpoint[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/survivor", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%255s", endpoint) != 1)
		violation("cannot read %s", path);
	fclose(f);
	no_quorum_at(endpoint);
}

static int alloc_once(struct done *d)
{
	*d = (struct done){.started_us = clock_mono_us()};
	table_alloc(table, GRAN, 1, 1, done_cb, d);
	run_loop(HANG_S * 1000, &d->calls);
	if (!d->calls)
		violation("an alloc hangs");
	return d->res.status;
}

static int refused(const char *name, const char *dir)
{
	struct done d;
	struct table_stats st;
	uint64_t took_ms, deadline;

	join(name);
	touch(dir, "joined");
	wait_file(dir, "go");
	if (alloc_once(&d) != -EHOSTUNREACH)
		violation("an alloc without quorum answered %d, not "
			  "-EHOSTUNREACH",
			  d.res.status);
	took_ms = (clock_mono_us() - d.started_us) / 1000;
	/* Whatever the member left said (refused, timed out, "no leader"),
	 * etcd counts as lost until it answers again. */
	if (cluster_etcd_reachable(cl))
		violation("etcd without quorum counts as reachable");
	no_quorum_is_unreachable(dir);
	table_stats(table, &st);
	if (table_etcd_backlog(table) != 1 || st.open_chunks != 1)
		violation("a refused alloc whose record may exist must keep "
			  "its space until etcd says: %" PRIu64
			  " waiting, %" PRIu64 " open chunks",
			  table_etcd_backlog(table), st.open_chunks);
	printf("refused: an alloc without quorum failed with EHOSTUNREACH "
	       "(CHUNK_E_UNAVAILABLE to clients) after %" PRIu64 " ms\n",
	       took_ms);
	touch(dir, "refused");
	wait_file(dir, "back");
	deadline = clock_mono_us() + HANG_S * 1000000ull;
	while (alloc_once(&d) != 0 && clock_mono_us() < deadline)
		run_loop(200, NULL);
	if (d.res.status)
		violation("allocs still fail after etcd came back: %d",
			  d.res.status);
	printf("refused: allocs succeed again after etcd's quorum returned\n");
	/* The refused alloc's space was held until etcd confirmed it has no
	 * record of it; then freed. */
	deadline = clock_mono_us() + HANG_S * 1000000ull;
	while (table_etcd_backlog(table) && clock_mono_us() < deadline)
		run_loop(100, NULL);
	table_stats(table, &st);
	if (table_etcd_backlog(table) || st.open_chunks != 1)
		violation("the refused alloc's space was not settled: %" PRIu64
			  " waiting, %" PRIu64 " open chunks",
			  table_etcd_backlog(table), st.open_chunks);
	printf("refused: the refused alloc's space was freed once etcd "
	       "confirmed it\n");
	leave();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4) {
		endpoints = argv[2];
		prefix = argv[3];
	}
	if (argc == 7 && !strcmp(argv[1], "storm"))
		return storm(argv[4], strtoull(argv[5], NULL, 10), argv[6]);
	if (argc >= 5 && !strcmp(argv[1], "check"))
		return check(argc - 4, argv + 4);
	if (argc == 6 && !strcmp(argv[1], "refused"))
		return refused(argv[4], argv[5]);
	fprintf(stderr, "usage: see tests/cluster/table_faults.c\n");
	return 2;
}
