/*
 * chunkd: the chunk server daemon.
 *
 * Opens (or creates) the pool, recovers its allocation table, and serves
 * clients over RDMA until SIGINT or SIGTERM. --verify scrubs the sealed
 * chunks and exits.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/units.h"
#include "admin.h"
#include "cluster/cluster.h"
#include "proto/auth.h"
#include "proto/msg.h"
#include "notify.h"
#include "options.h"
#include "reload.h"
#include "scrubber.h"
#include "metrics.h"
#include "transport/fd_limit.h"
#include "pool/pool.h"
#include "service/lease.h"
#include "service/stats.h"
#include "transport/transport.h"
#include "workers/workers.h"
#include "table/scrub.h"
#include "table/table_pmem.h"

static void log_pool(const struct pool *pool, const char *path)
{
	char size[32], gran[32];

	log_info("pool %s: %s, %s, granularity %s, %llu table records%s", path,
		 pool_backing_name(pool->backing),
		 units_format_size(pool->geo.pool_size, size, sizeof(size)),
		 units_format_size(pool->geo.granularity, gran, sizeof(gran)),
		 (unsigned long long)pool->geo.table_slots,
		 pool->created ? " (created now)" : "");
	if (pool->backing == POOL_DRAM)
		log_warn(
			"pool %s is in DRAM: its contents survive a chunkd restart but not a reboot",
			path);
	if (pool->repaired)
		log_warn(
			"pool %s: rewrote %d damaged superblock copy from the good one",
			path, pool->repaired);
}

static int open_table(struct pool *pool, const char *path, struct table **t)
{
	struct table_pmem_report rep;
	int rc = table_pmem_open(pool->base, &pool->geo, &pool->persist, t,
				 &rep);

	if (rc == -EBADMSG) {
		log_error(
			"pool %s: table record %lld: %s; refusing to serve a pool whose table is damaged",
			path, (long long)rep.bad_slot, rep.bad_reason);
		return rc;
	}
	if (rc) {
		log_error("pool %s: cannot load the table: %s", path,
			  strerror(-rc));
		return rc;
	}
	log_info(
		"recovered %llu sealed chunks; reclaimed %llu open chunks of the previous run",
		(unsigned long long)rep.sealed,
		(unsigned long long)rep.reclaimed);
	return 0;
}

static int run_verify(struct pool *pool, struct table *t)
{
	struct scrub_result r;

	scrub_sealed(t, pool_chunk_area(pool), &r);
	printf("verify: %llu sealed chunks, %llu bytes checked, %llu mismatches\n",
	       (unsigned long long)r.checked, (unsigned long long)r.bytes,
	       (unsigned long long)r.mismatches);
	return r.mismatches ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
	(void)events;
	log_info("signal %d: shutting down", (int)sig);
	notify_stopping();
	event_base_loopbreak(arg);
}

/* The connection limit: the configured one, or what the descriptor
 * limit (raised to its hard value) allows. */
static uint32_t connection_limit(const struct config *cfg)
{
	uint64_t fds = fd_limit_raise();
	uint32_t n = cfg->max_connections ? cfg->max_connections
					  : fd_limit_connections(fds);

	if (cfg->max_connections &&
	    cfg->max_connections > fd_limit_connections(fds))
		log_warn(
			"max_connections %u is more than %llu file descriptors can hold; "
			"connections past %u will be refused for want of descriptors",
			n, (unsigned long long)fds, fd_limit_connections(fds));
	return n;
}

/* Opens (or creates) the pool; logs why not. */
static int open_pool_only(const struct config *cfg, struct pool **pool)
{
	struct pool_opts po = {.path = cfg->pool_path,
			       .create_size = cfg->pool_size,
			       .granularity = cfg->granularity,
			       .table_slots = cfg->max_chunks};
	char err[512];

	if (pool_open(&po, pool, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	log_pool(*pool, cfg->pool_path);
	return 0;
}

/* Opens (or creates) the pool and loads its own table; logs why not. */
static int open_pool(const struct config *cfg, struct pool **pool,
		     struct table **table)
{
	if (open_pool_only(cfg, pool))
		return -1;
	if (open_table(*pool, cfg->pool_path, table) != 0) {
		pool_close(pool);
		return -1;
	}
	return 0;
}

/* What chunkd serves with, made in the order that lets a failed start
 * leave nothing behind: secrets and the listener first, the pool last. */
struct server_parts {
	struct event_base *base;
	struct secrets *secrets;
	struct transport *transport;
	struct lease_clock *leases;
	struct pool *pool;
	struct table *table;
	struct admin *admin;
	struct metrics *metrics; /* NULL: no [metrics] listen */
	struct scrubber *scrubber;
	struct workers *workers;  /* registrations and seal checks */
	struct cluster *cluster;  /* NULL: the embedded single-server mode */
	struct event *signals[3]; /* SIGINT, SIGTERM, SIGHUP */
	struct service svc;
	const struct options *opts; /* to build the settings again */
	struct config running;	    /* the settings in force */
	char status[512];	    /* the service manager's status line */
};

static int start_listening(const struct config *cfg, struct server_parts *p)
{
	struct transport_opts to = {
		.listen = cfg->listen[0] ? cfg->listen : "0.0.0.0",
		.port = cfg->port,
		.poll_us = cfg->poll_us,
		.max_connections = connection_limit(cfg),
		.hello_timeout_ms = cfg->hello_timeout_ms,
	};
	char err[512];

	if (auth_init()) {
		log_error("cannot initialize libsodium");
		return -1;
	}
	if (cfg->secrets_path[0] &&
	    secrets_load(cfg->secrets_path, &p->secrets, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	if (workers_new(p->base, cfg->workers, &p->workers)) {
		log_error("cannot start %u worker threads", cfg->workers);
		return -1;
	}
	to.workers = p->workers;
	if (rdma_transport.start(p->base, &p->svc, &to, &p->transport, err,
				 sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static bool collect_session(const struct session_view *v, void *arg)
{
	struct service *s = arg;

	if (v->live)
		service_revoke_lease(s, v->id);
	return true;
}

/* chunkd's etcd lease ended while etcd was out of reach, and the records
 * of every OPEN chunk with it: their sessions lose their leases now, so
 * their clients learn it at once (CHUNK_E_STALE) rather than at the seal. */
static void on_cluster_lease_lost(void *arg)
{
	struct service *s = arg;

	service_sessions(s, collect_session, s);
}

/* Joins the etcd cluster with the pool: the table becomes the cluster's. */
static int join_cluster(const struct config *cfg, struct server_parts *p)
{
	struct cluster_opts co = {
		.endpoints = cfg->etcd_endpoints,
		.name = cfg->cluster_name,
		.prefix = cfg->cluster_prefix,
		.address = cfg->advertise,
		.port = p->transport->ops->port(p->transport),
		.ttl_s = cfg->cluster_ttl_s,
		.timeout_ms = cfg->etcd_timeout_ms,
		.lost = on_cluster_lease_lost,
		.lost_arg = &p->svc,
	};
	struct reconcile_report rep;
	char err[512];

	if (cluster_join(p->base, &co, p->pool, &p->cluster, &p->table, &rep,
			 err, sizeof(err))) {
		log_error("cluster: %s", err);
		return -1;
	}
	log_info("cluster: member %s (node %u) of the etcd cluster at %s; "
		 "reconciled: %llu chunks agree, %llu unknown to etcd "
		 "reclaimed, %llu missing here, %llu differ",
		 cfg->cluster_name, cluster_self(p->cluster)->node,
		 cfg->etcd_endpoints, (unsigned long long)rep.kept,
		 (unsigned long long)rep.reclaimed,
		 (unsigned long long)rep.missing,
		 (unsigned long long)rep.mismatched);
	return 0;
}

/* The pool and its table: the pool's own, or the cluster's over it. */
static int open_storage(const struct config *cfg, struct server_parts *p)
{
	if (!cfg->etcd_endpoints[0])
		return open_pool(cfg, &p->pool, &p->table);
	if (open_pool_only(cfg, &p->pool))
		return -1;
	return join_cluster(cfg, p);
}

static int start_metrics(const struct config *cfg, struct server_parts *p)
{
	struct metrics_target target = {
		.svc = &p->svc, .cluster = p->cluster, .scrubber = p->scrubber};
	char err[512];

	if (!cfg->metrics_listen[0])
		return 0;
	if (metrics_start(p->base, cfg->metrics_listen, &target, &p->metrics,
			  err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	log_info("metrics: http://%s/metrics", cfg->metrics_listen);
	return 0;
}

/* SIGHUP: the settings are built again from the config file and the
 * flags; what may change while serving changes (reload.h). */
static void on_hangup(evutil_socket_t sig, short events, void *arg)
{
	struct server_parts *p = arg;
	struct reload_target t = {
		.svc = &p->svc, .secrets = &p->secrets, .running = &p->running};
	struct config fresh;
	char err[512];

	(void)sig;
	(void)events;
	notify_reloading();
	log_info("SIGHUP: reading the settings again");
	if (options_build_config(p->opts, &fresh, err, sizeof(err)))
		log_error("reload: %s; the settings in force stay", err);
	else
		reload_apply(&fresh, &t);
	notify_ready(p->status);
}

static int watch_signals(struct server_parts *p)
{
	static const int numbers[3] = {SIGINT, SIGTERM, SIGHUP};

	for (int i = 0; i < 3; i++) {
		p->signals[i] = evsignal_new(
			p->base, numbers[i],
			numbers[i] == SIGHUP ? on_hangup : on_signal,
			numbers[i] == SIGHUP ? (void *)p : (void *)p->base);
		if (!p->signals[i] || evsignal_add(p->signals[i], NULL)) {
			log_error("cannot watch SIGINT, SIGTERM and SIGHUP");
			return -1;
		}
	}
	return 0;
}

/* The pool, the service over it, signals and the admin socket. A pool this
 * start created is removed again if a later step fails. */
static int start_serving(const struct config *cfg, struct server_parts *p)
{
	struct admin_target target;
	char err[512];

	if (open_storage(cfg, p))
		return -1;
	service_init(&p->svc, p->table, pool_chunk_area(p->pool),
		     &p->pool->persist, (uint32_t)p->pool->geo.granularity,
		     cfg->direct_write_to_pmem, cfg->lease_ttl_ms);
	p->svc.secrets = p->secrets;
	p->svc.workers = p->workers;
	if (lease_clock_start(p->base, &p->svc, &p->leases)) {
		log_error("cannot start the lease clock");
		return -1;
	}
	if (!p->secrets)
		log_warn("no secrets file: clients are not authenticated");
	if (watch_signals(p))
		return -1;
	if (scrubber_new(p->base, p->table, pool_chunk_area(p->pool),
			 &p->scrubber)) {
		log_error("cannot make the scrubber: out of memory");
		return -1;
	}
	target = (struct admin_target){
		.svc = &p->svc,
		.table = p->table,
		.pool = p->pool,
		.pool_path = cfg->pool_path,
		.cluster = p->cluster,
		.scrub = {p->scrubber, &p->running.scrub_mb_s}};
	if (admin_start(p->base, cfg->admin_socket, &target, &p->admin, err,
			sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return start_metrics(cfg, p);
}

static void stop_parts(struct server_parts *p, const char *pool_path,
		       bool started)
{
	metrics_stop(&p->metrics);
	admin_stop(&p->admin);
	scrubber_free(&p->scrubber); /* before the table it reads */
	lease_clock_stop(&p->leases);
	if (p->transport) /* ends the sessions, while the table is */
		p->transport->ops->stop(&p->transport);
	/* After the connections took back their jobs, before the pool and
	 * table the seal checks read. */
	workers_free(&p->workers);
	cluster_leave(&p->cluster); /* before the table: drops its calls */
	table_close(&p->table);
	if (started)
		pool_close(&p->pool);
	else
		pool_discard(&p->pool, pool_path);
	secrets_free(&p->secrets);
	for (int i = 0; i < 3; i++)
		if (p->signals[i])
			event_free(p->signals[i]);
	event_base_free(p->base);
}

/* Logs that chunkd serves, and tells the service manager. */
static void say_ready(const struct config *cfg, struct server_parts *p)
{
	struct service_stats st;
	char methods[64];

	service_stats(&p->svc, &st);
	snprintf(p->status, sizeof(p->status),
		 "serving on %s port %u, at most %u connections at once; "
		 "persistence: %s",
		 cfg->listen[0] ? cfg->listen : "0.0.0.0",
		 p->transport->ops->port(p->transport),
		 p->transport->ops->max_connections(p->transport),
		 proto_persist_names(st.persist_methods, methods,
				     sizeof(methods)));
	log_info("ready: %s", p->status);
	notify_ready(p->status);
}

/* Serves clients until SIGINT or SIGTERM; SIGHUP reloads (reload.h). */
static int serve(const struct options *o, const struct config *cfg)
{
	struct server_parts p = {
		.base = event_base_new(), .opts = o, .running = *cfg};
	bool started = false;
	int rc = EXIT_FAILURE;

	if (!p.base) {
		log_error("cannot create the event loop");
		return EXIT_FAILURE;
	}
	/* A chunkctl that gives up before its answer must not take chunkd
	 * with it: a write to its closed socket fails with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	if (start_listening(cfg, &p) == 0 && start_serving(cfg, &p) == 0) {
		started = true;
		say_ready(cfg, &p);
		event_base_dispatch(p.base);
		rc = p.transport->ops->failed(p.transport) ? EXIT_FAILURE
							   : EXIT_SUCCESS;
	}
	stop_parts(&p, cfg->pool_path, started);
	return rc;
}

/* A cluster member's pool, recovered as its start would: an OPEN chunk
 * whose seal etcd committed is sealed, not freed. */
static int open_member_pool(const struct config *cfg, struct pool **pool,
			    struct table **table)
{
	struct cluster_opts co = {.endpoints = cfg->etcd_endpoints,
				  .prefix = cfg->cluster_prefix,
				  .timeout_ms = cfg->etcd_timeout_ms};
	char err[512];

	if (open_pool_only(cfg, pool))
		return -1;
	if (cluster_recover_pool(&co, *pool, table, err, sizeof(err))) {
		log_error("cluster: %s; not verifying (without [cluster] "
			  "endpoints, OPEN chunks whose seal etcd recorded "
			  "would be freed)",
			  err);
		pool_close(pool);
		return -1;
	}
	return 0;
}

static int verify(const struct config *cfg)
{
	struct pool *pool = NULL;
	struct table *table = NULL;
	int rc;

	if (cfg->etcd_endpoints[0] ? open_member_pool(cfg, &pool, &table)
				   : open_pool(cfg, &pool, &table))
		return EXIT_FAILURE;
	rc = run_verify(pool, table);
	table_close(&table);
	pool_close(&pool);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct config cfg;
	char err[512];
	int rc = options_parse(argc, argv, &o);

	if (rc)
		return rc < 0 ? 2 : EXIT_SUCCESS;
	rc = options_build_config(&o, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "chunkd: %s\n", err);
		return rc;
	}
	log_set_sink(log_sink_stderr, "chunkd", cfg.log_level);
	return o.verify ? verify(&cfg) : serve(&o, &cfg);
}
