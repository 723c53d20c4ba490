#include "membership.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "etcd/etcd_json.h"
#include "etcd/etcd_watch.h"

#define MAX_MEMBERS 256

struct membership {
	struct etcd *etcd;
	struct membership_opts opts;
	char prefix[128];
	char members_prefix[CLUSTER_KEY_MAX];
	struct member self;	  /* as last put */
	int64_t lease;		  /* 0: lost, being replaced */
	bool renewing;		  /* a keepalive or a grant in flight */
	bool putting;		  /* a put of the registration in flight */
	bool listing;		  /* a read of the members in flight */
	struct event *tick;	  /* every third of the TTL */
	struct etcd_watch *watch; /* NULL: to be started by the tick */
	bool watch_ended;
	struct member *members; /* live ones, sorted by name */
	size_t count;
};

/* ---- the members' cache ---- */

static size_t find_slot(const struct membership *m, const char *name,
			bool *found)
{
	size_t lo = 0, hi = m->count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(m->members[mid].name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void cache_put(struct membership *m, const struct member *mb)
{
	bool found;
	size_t i = find_slot(m, mb->name, &found);

	if (!found) {
		if (m->count == MAX_MEMBERS)
			return;
		memmove(&m->members[i + 1], &m->members[i],
			(m->count - i) * sizeof(*m->members));
		m->count++;
	}
	m->members[i] = *mb;
}

static void cache_remove(struct membership *m, const char *name)
{
	bool found;
	size_t i = find_slot(m, name, &found);

	if (!found)
		return;
	memmove(&m->members[i], &m->members[i + 1],
		(m->count - i - 1) * sizeof(*m->members));
	m->count--;
}

/* The member's name from its key (PREFIX/members/NAME). */
static const char *name_of_key(const struct membership *m, const char *key)
{
	size_t n = strlen(m->members_prefix);

	return strlen(key) > n ? key + n : NULL;
}

static void on_member_event(void *arg, const struct etcd_kv *kv, bool deleted)
{
	struct membership *m = arg;
	const char *name = name_of_key(m, kv->key);
	struct member mb;

	if (!name)
		return;
	if (deleted) {
		cache_remove(m, name);
		log_info("cluster: member %s left (its lease ended)", name);
		return;
	}
	if (member_decode(kv->value, &mb) == 0) {
		bool known;

		find_slot(m, mb.name, &known);
		if (!known)
			log_info("cluster: member %s joined (%s port %u)",
				 mb.name, mb.address, mb.port);
		cache_put(m, &mb);
	}
}

static void on_watch_end(void *arg, const char *why)
{
	struct membership *m = arg;

	log_warn("cluster: %s; reading the members again", why);
	m->watch_ended = true; /* the tick starts anew */
}

static void listed(void *arg, const struct etcd_result *r)
{
	struct membership *m = arg;
	json_t *kvs = etcd_json_kvs(r->body);
	size_t i;
	json_t *item;
	struct etcd_kv kv;

	m->listing = false;
	if (r->status)
		return; /* the next tick tries again */
	m->count = 0;
	json_array_foreach(kvs, i, item)
	{
		struct member mb;

		if (etcd_json_kv(item, &kv) == 0 &&
		    member_decode(kv.value, &mb) == 0)
			cache_put(m, &mb);
	}
	m->watch_ended = false;
	m->watch =
		etcd_watch_prefix(m->etcd, m->members_prefix, r->revision + 1,
				  on_member_event, on_watch_end, m);
}

/* Reads every registration, then watches for changes from there. */
static void list_members(struct membership *m)
{
	etcd_watch_cancel(&m->watch);
	m->listing = etcd_call(m->etcd, "/v3/kv/range",
			       etcd_json_range_prefix(m->members_prefix),
			       listed, m) == 0;
}

/* ---- this chunkd's lease and registration ---- */

static void put_self(struct membership *m);

static void registered(void *arg, const struct etcd_result *r)
{
	struct membership *m = arg;

	m->putting = false;
	if (r->status)
		return; /* the next tick puts it again */
	m->lease = m->self.lease;
	cache_put(m, &m->self);
}

static void put_self(struct membership *m)
{
	char key[CLUSTER_KEY_MAX];
	char *value = member_encode(&m->self);

	cluster_key_member(key, sizeof(key), m->prefix, m->self.name);
	m->putting = value &&
		     etcd_call(m->etcd, "/v3/kv/put",
			       json_pack("{s:o, s:o, s:o}", "key",
					 etcd_json_b64_string(key), "value",
					 etcd_json_b64_string(value), "lease",
					 etcd_json_int_string(m->self.lease)),
			       registered, m) == 0;
	free(value);
}

static void granted(void *arg, const struct etcd_result *r)
{
	struct membership *m = arg;
	int64_t id = etcd_json_int(json_object_get(r->body, "ID"));

	m->renewing = false;
	if (r->status || !id)
		return; /* the next tick asks again */
	m->self.lease = id;
	log_info("cluster: registered again under lease %llx",
		 (unsigned long long)id);
	put_self(m);
}

/* A new lease, then the registration under it. */
static void register_anew(struct membership *m)
{
	m->renewing = etcd_call(m->etcd, "/v3/lease/grant",
				json_pack("{s:o}", "TTL",
					  etcd_json_int_string(m->opts.ttl_s)),
				granted, m) == 0;
}

static void kept_alive(void *arg, const struct etcd_result *r)
{
	struct membership *m = arg;
	json_t *result = json_object_get(r->body, "result");

	m->renewing = false;
	if (r->status)
		return; /* unreachable: etcd_reachable says so; retry */
	if (etcd_json_int(json_object_get(result, "TTL")) > 0)
		return;
	log_warn("cluster: lease %llx expired while etcd could not be "
		 "reached; this chunkd's open chunks lost their records",
		 (unsigned long long)m->lease);
	m->lease = 0;
	if (m->opts.lost)
		m->opts.lost(m->opts.lost_arg);
	register_anew(m);
}

/* Renews the lease, and puts the registration again if its figures
 * changed (a put does not renew the lease). */
static void keep_alive(struct membership *m)
{
	struct member now = m->self;

	if (m->opts.report)
		m->opts.report(m->opts.arg, &now);
	if (!m->putting && memcmp(&now, &m->self, sizeof(now)) != 0) {
		m->self = now;
		put_self(m);
	}
	m->renewing = etcd_call(m->etcd, "/v3/lease/keepalive",
				json_pack("{s:o}", "ID",
					  etcd_json_int_string(m->lease)),
				kept_alive, m) == 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct membership *m = arg;

	(void)fd;
	(void)what;
	if (!m->renewing && m->lease)
		keep_alive(m);
	else if (!m->renewing && !m->putting)
		register_anew(m);
	if (!m->listing && (!m->watch || m->watch_ended))
		list_members(m);
}

int membership_start(struct etcd *e, const struct member *self,
		     const struct membership_opts *o, struct membership **out)
{
	struct membership *m = calloc(1, sizeof(*m));
	unsigned period_ms = o->ttl_s * 1000 / 3;
	struct timeval tv = {period_ms / 1000, (period_ms % 1000) * 1000};

	if (!m)
		return -ENOMEM;
	m->members = calloc(MAX_MEMBERS, sizeof(*m->members));
	m->tick = event_new(etcd_base(e), -1, EV_PERSIST, on_tick, m);
	if (!m->members || !m->tick || event_add(m->tick, &tv)) {
		membership_stop(&m);
		return -ENOMEM;
	}
	m->etcd = e;
	m->opts = *o;
	snprintf(m->prefix, sizeof(m->prefix), "%s", o->prefix);
	cluster_key_members(m->members_prefix, sizeof(m->members_prefix),
			    m->prefix);
	m->self = *self;
	m->lease = self->lease;
	cache_put(m, self);
	list_members(m);
	*out = m;
	return 0;
}

void membership_stop(struct membership **mp)
{
	struct membership *m = *mp;

	if (!m)
		return;
	etcd_watch_cancel(&m->watch);
	if (m->tick)
		event_free(m->tick);
	free(m->members);
	free(m);
	*mp = NULL;
}

int64_t membership_lease(const struct membership *m)
{
	return m->lease;
}

const struct member *membership_self(const struct membership *m)
{
	return &m->self;
}

int membership_find_node(const struct membership *m, uint32_t node,
			 struct member *out)
{
	for (size_t i = 0; i < m->count; i++) {
		if (m->members[i].node == node) {
			*out = m->members[i];
			return 0;
		}
	}
	return -ENOENT;
}

void membership_visit(const struct membership *m, member_visit_fn *visit,
		      void *arg)
{
	for (size_t i = 0; i < m->count; i++)
		if (!visit(&m->members[i], arg))
			return;
}
