#include "cluster.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "etcd/etcd.h"
#include "join.h"
#include "table/table_pmem.h"
#include "table_etcd.h"

struct cluster {
	struct etcd *etcd; /* on the serving loop */
	struct membership *members;
	struct table *table; /* the cluster's, for the registration's figures */
	char endpoints[1024];
	char prefix[128];
	unsigned timeout_ms;
};

/* What start-up holds while it waits for etcd on a loop of its own. */
struct startup {
	struct event_base *base;
	struct etcd *etcd;
	struct reconcile *records;
	struct table *local;
	struct idmap revisions;
	struct idmap replicas; /* pool id -> R of kept first copies */
	struct member self;
	bool registered;
};

static void report(void *arg, struct member *self)
{
	struct cluster *c = arg;
	struct table_stats st;

	table_stats(c->table, &st);
	self->free_bytes = st.free_bytes;
	self->open_chunks = st.open_chunks;
	self->sealed_chunks = st.sealed_chunks;
}

static void describe_self(const struct cluster_opts *o, struct pool *pool,
			  struct member *self)
{
	uint8_t boot[16] = {0};

	if (getrandom(boot, sizeof(boot), 0) != sizeof(boot))
		log_warn("cluster: no random boot id; using zeros");
	snprintf(self->name, sizeof(self->name), "%s", o->name);
	snprintf(self->address, sizeof(self->address), "%s", o->address);
	self->port = o->port;
	cluster_uuid_hex(pool->geo.uuid, self->pool);
	cluster_uuid_hex(boot, self->boot);
}

static int open_local(struct startup *s, struct pool *pool, char *err,
		      size_t err_len)
{
	struct table_pmem_report prep;
	struct table_stats st;
	int rc = table_pmem_open_settling(pool->base, &pool->geo,
					  &pool->persist, reconcile_settle,
					  s->records, &s->local, &prep);

	if (rc == -EBADMSG)
		snprintf(err, err_len,
			 "table record %lld: %s; refusing to serve a pool "
			 "whose table is damaged",
			 (long long)prep.bad_slot, prep.bad_reason);
	else if (rc)
		snprintf(err, err_len, "cannot load the table: %s",
			 strerror(-rc));
	if (rc)
		return rc;
	table_stats(s->local, &st);
	s->self.pool_size = st.area_bytes;
	s->self.free_bytes = st.free_bytes; /* the keepalive keeps them */
	s->self.open_chunks = st.open_chunks;
	s->self.sealed_chunks = st.sealed_chunks;
	log_info("recovered %llu sealed chunks; %llu open chunks of the "
		 "previous run sealed as etcd recorded, %llu reclaimed",
		 (unsigned long long)prep.sealed,
		 (unsigned long long)prep.settled,
		 (unsigned long long)prep.reclaimed);
	return 0;
}

/* The steps that wait for etcd, on the start-up loop. */
static int start_up(struct startup *s, const struct cluster_opts *o,
		    struct pool *pool, struct reconcile_report *rep, char *err,
		    size_t err_len)
{
	int rc;

	s->base = event_base_new();
	if (!s->base || idmap_init(&s->revisions, 1024) ||
	    idmap_init(&s->replicas, 64)) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = etcd_new(s->base, o->endpoints, o->timeout_ms, &s->etcd, err,
		      err_len);
	if (rc == 0)
		rc = join_claim_node(s->etcd, o->prefix, s->self.pool, o->name,
				     &s->self.node, err, err_len);
	if (rc == 0)
		rc = reconcile_read(s->etcd, o->prefix, s->self.node,
				    &s->records, err, err_len);
	if (rc == 0)
		rc = open_local(s, pool, err, err_len);
	if (rc == 0)
		rc = join_register(s->etcd, o->prefix, &s->self, o->ttl_s, err,
				   err_len);
	s->registered = rc == 0;
	if (rc == 0 &&
	    (reconcile_apply(s->records, s->local, &s->revisions, rep) ||
	     reconcile_replicas(s->records, &s->replicas))) {
		snprintf(err, err_len, "out of memory");
		rc = -ENOMEM;
	}
	return rc;
}

static void end_startup(struct startup *s, bool failed)
{
	if (failed && s->registered)
		join_leave(s->etcd, &s->self);
	if (failed) {
		table_close(&s->local);
		idmap_fini(&s->revisions);
	}
	idmap_fini(&s->replicas); /* empty if the table took it */
	reconcile_free(&s->records);
	etcd_free(&s->etcd);
	if (s->base)
		event_base_free(s->base);
}

/* The serving side: etcd on the serving loop, the membership, the table. */
static int start_serving(struct cluster *c, struct event_base *base,
			 const struct cluster_opts *o, struct startup *s,
			 struct table **table, char *err, size_t err_len)
{
	struct membership_opts mo = {.prefix = o->prefix,
				     .ttl_s = o->ttl_s,
				     .report = report,
				     .arg = c,
				     .lost = o->lost,
				     .lost_arg = o->lost_arg};
	struct table_etcd_opts to = {.prefix = o->prefix,
				     .name = o->name,
				     .pool_hex = s->self.pool,
				     .node = s->self.node};
	int rc = etcd_new(base, o->endpoints, o->timeout_ms, &c->etcd, err,
			  err_len);

	if (rc)
		return rc;
	if (membership_start(c->etcd, &s->self, &mo, &c->members)) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	to.members = c->members;
	to.replicas = &s->replicas;
	if (table_etcd_new(s->local, c->etcd, &to, &s->revisions, table)) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->local = NULL; /* the cluster's table has it now */
	c->table = *table;
	return 0;
}

int cluster_join(struct event_base *base, const struct cluster_opts *o,
		 struct pool *pool, struct cluster **out, struct table **table,
		 struct reconcile_report *rep, char *err, size_t err_len)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct startup s = {0};
	int rc;

	if (!c) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	snprintf(c->endpoints, sizeof(c->endpoints), "%s", o->endpoints);
	snprintf(c->prefix, sizeof(c->prefix), "%s", o->prefix);
	c->timeout_ms = o->timeout_ms;
	describe_self(o, pool, &s.self);
	rc = start_up(&s, o, pool, rep, err, err_len);
	if (rc == 0)
		rc = start_serving(c, base, o, &s, table, err, err_len);
	end_startup(&s, rc != 0);
	if (rc) {
		membership_stop(&c->members);
		etcd_free(&c->etcd);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cluster_recover_pool(const struct cluster_opts *o, struct pool *pool,
			 struct table **table, char *err, size_t err_len)
{
	struct startup s = {0};
	int rc;

	cluster_uuid_hex(pool->geo.uuid, s.self.pool);
	s.base = event_base_new();
	if (!s.base || idmap_init(&s.revisions, 16)) {
		snprintf(err, err_len, "out of memory");
		end_startup(&s, true);
		return -ENOMEM;
	}
	rc = etcd_new(s.base, o->endpoints, o->timeout_ms, &s.etcd, err,
		      err_len);
	if (rc == 0)
		rc = join_read_node(s.etcd, o->prefix, s.self.pool,
				    &s.self.node, err, err_len);
	if (rc == 0)
		rc = reconcile_read(s.etcd, o->prefix, s.self.node, &s.records,
				    err, err_len);
	else if (rc == -ENOENT) /* etcd knows nothing of this pool */
		rc = reconcile_empty(&s.records);
	if (rc == 0)
		rc = open_local(&s, pool, err, err_len);
	if (rc == 0) {
		*table = s.local;
		s.local = NULL;
		idmap_fini(&s.revisions); /* a failed end frees it */
	}
	end_startup(&s, rc != 0);
	return rc;
}

void cluster_leave(struct cluster **cp)
{
	struct cluster *c = *cp;
	struct event_base *base;
	struct etcd *e = NULL;
	char err[512];

	if (!c)
		return;
	base = event_base_new();
	if (base && c->members &&
	    etcd_new(base, c->endpoints, c->timeout_ms, &e, err, sizeof(err)) ==
		    0)
		join_leave(e, membership_self(c->members));
	etcd_free(&e);
	if (base)
		event_base_free(base);
	membership_stop(&c->members);
	etcd_free(&c->etcd); /* drops what still waits for it */
	free(c);
	*cp = NULL;
}

void cluster_members(const struct cluster *c, member_visit_fn *visit, void *arg)
{
	membership_visit(c->members, visit, arg);
}

const struct member *cluster_self(const struct cluster *c)
{
	return membership_self(c->members);
}

bool cluster_etcd_reachable(const struct cluster *c)
{
	return etcd_reachable(c->etcd);
}

void cluster_etcd_stats(const struct cluster *c, struct etcd_http_stats *out)
{
	etcd_http_stats(etcd_http_of(c->etcd), out);
}

const char *cluster_endpoints(const struct cluster *c)
{
	return c->endpoints;
}

int cluster_scan_placed(struct cluster *c, placed_scan_fn *done, void *arg)
{
	return placed_scan(c->etcd, c->members, c->prefix, done, arg);
}

int cluster_find_node(const struct cluster *c, uint32_t node,
		      struct member *out)
{
	return membership_find_node(c->members, node, out);
}
