/*
 * chunkd: the chunk server daemon.
 *
 * Opens (or creates) the pool, recovers its allocation table, and serves
 * clients over RDMA until SIGINT or SIGTERM. --verify scrubs the sealed
 * chunks and exits.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
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
#include "config.h"
#include "metrics.h"
#include "transport/fd_limit.h"
#include "pool/pool.h"
#include "service/lease.h"
#include "service/stats.h"
#include "transport/transport.h"
#include "table/scrub.h"
#include "table/table_pmem.h"

/* A command-line setting, applied over the config file's. */
struct flag_setting {
	const char *section, *key, *value;
};

struct options {
	const char *config_path;
	struct flag_setting flags[32];
	int flag_count;
	bool verify;
};

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkd [--config FILE] --pool PATH [OPTIONS]\n"
		"\n"
		"Serves immutable chunks of persistent memory to RDMA clients.\n"
		"Opens the pool at PATH, or creates it when it does not exist (a file,\n"
		"with --pool-size) or is blank (a device-DAX node), recovers its\n"
		"allocation table, and serves clients over RDMA (librdmacm) until\n"
		"SIGINT or SIGTERM.\n"
		"\n"
		"PATH is device-DAX (/dev/daxX.Y, persistent) or a file on tmpfs or\n"
		"hugetlbfs (DRAM: survives a chunkd restart, not a reboot). Files on\n"
		"other file systems are refused: RDMA cannot register them.\n"
		"\n"
		"Options (each overrides the config file's setting):\n"
		"  -c, --config FILE        read settings from FILE (INI; see README)\n"
		"  -p, --pool PATH          the pool (required here or in FILE)\n"
		"  -s, --pool-size SIZE     create a pool file of SIZE (e.g. 1G)\n"
		"  -g, --granularity SIZE   allocation unit of a new pool (default 4K)\n"
		"  -m, --max-chunks N       table records of a new pool (default: one\n"
		"                           per 16 KiB of pool)\n"
		"  -L, --listen ADDR        address to serve on (default 0.0.0.0: every\n"
		"                           RDMA device)\n"
		"  -P, --port PORT          port (default %u)\n"
		"      --poll-us N          busy-poll N us after a completion before\n"
		"                           sleeping (default %u; 0: never)\n"
		"      --lease-ttl-ms N     a session's lease (default %u); expired\n"
		"                           leases lose their unsealed chunks\n"
		"      --hello-timeout-ms N close a connection that has not said HELLO\n"
		"                           within N ms (default %u)\n"
		"      --max-connections N  serve at most N clients at once; more are\n"
		"                           refused (default 0: as many as the file\n"
		"                           descriptor limit allows, at most %u)\n"
		"      --direct-write-to-pmem  offer read-after-write persistence: only\n"
		"                           where RDMA writes reach the persistence\n"
		"                           domain (DDIO off or eADR)\n"
		"      --admin-socket PATH  chunkctl's unix socket (default %s)\n"
		"      --secrets FILE       authenticate clients against FILE's\n"
		"                           \"NAME SECRET\" lines (mode 600)\n"
		"      --etcd-endpoints URLS  cluster mode: keep the allocation table in\n"
		"                           the etcd cluster at URLS (http://HOST:PORT,...)\n"
		"      --cluster-name NAME  this chunkd's member name (required with\n"
		"                           --etcd-endpoints; unique in the cluster)\n"
		"      --cluster-prefix P   prefix of chunkd's keys in etcd (default %s)\n"
		"      --advertise ADDR     the address clients reach this chunkd at\n"
		"                           (default: the --listen address)\n"
		"      --metrics-listen HOST:PORT  serve Prometheus metrics at\n"
		"                           http://HOST:PORT/metrics (default: none)\n"
		"      --verify             scrub sealed chunks against their CRC32C,\n"
		"                           report, and exit (1 if any mismatch)\n"
		"  -l, --log-level LEVEL    error, warn, info (default) or debug\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n"
		"\n"
		"Exit status: 0 on success, 1 on a failure or a scrub mismatch, 2 on\n"
		"a usage error.\n",
		CONFIG_DEFAULT_PORT, CONFIG_DEFAULT_POLL_US,
		CONFIG_DEFAULT_LEASE_TTL_MS, CONFIG_DEFAULT_HELLO_MS,
		FD_LIMIT_MAX_CONNECTIONS, CONFIG_DEFAULT_ADMIN_SOCKET,
		CONFIG_DEFAULT_CLUSTER_PREFIX);
}

static void add_flag(struct options *o, const char *section, const char *key,
		     const char *value)
{
	if (o->flag_count < (int)(sizeof(o->flags) / sizeof(o->flags[0])))
		o->flags[o->flag_count++] =
			(struct flag_setting){section, key, value};
}

/* Maps a long option's letter to the config key it sets. */
static bool flag_for(int opt, const char **section, const char **key)
{
	static const struct {
		int opt;
		const char *section, *key;
	} map[] = {
		{'p', "pool", "path"},
		{'s', "pool", "size"},
		{'g', "pool", "granularity"},
		{'m', "pool", "max_chunks"},
		{'L', "server", "listen"},
		{'P', "server", "port"},
		{'u', "server", "poll_us"},
		{'l', "server", "log_level"},
		{'d', "server", "direct_write_to_pmem"},
		{'t', "server", "lease_ttl_ms"},
		{'H', "server", "hello_timeout_ms"},
		{'M', "server", "max_connections"},
		{'A', "admin", "socket"},
		{'S', "auth", "secrets"},
		{'E', "cluster", "endpoints"},
		{'N', "cluster", "name"},
		{'X', "cluster", "prefix"},
		{'a', "cluster", "advertise"},
		{'O', "metrics", "listen"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].opt == opt) {
			*section = map[i].section;
			*key = map[i].key;
			return true;
		}
	}
	return false;
}

/* Returns -1 to exit with status 2, 1 to exit 0 (help, version), else 0. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"pool", required_argument, NULL, 'p'},
		{"pool-size", required_argument, NULL, 's'},
		{"granularity", required_argument, NULL, 'g'},
		{"max-chunks", required_argument, NULL, 'm'},
		{"listen", required_argument, NULL, 'L'},
		{"port", required_argument, NULL, 'P'},
		{"poll-us", required_argument, NULL, 'u'},
		{"direct-write-to-pmem", no_argument, NULL, 'd'},
		{"lease-ttl-ms", required_argument, NULL, 't'},
		{"hello-timeout-ms", required_argument, NULL, 'H'},
		{"max-connections", required_argument, NULL, 'M'},
		{"admin-socket", required_argument, NULL, 'A'},
		{"secrets", required_argument, NULL, 'S'},
		{"etcd-endpoints", required_argument, NULL, 'E'},
		{"cluster-name", required_argument, NULL, 'N'},
		{"cluster-prefix", required_argument, NULL, 'X'},
		{"advertise", required_argument, NULL, 'a'},
		{"metrics-listen", required_argument, NULL, 'O'},
		{"verify", no_argument, NULL, 'v'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *section, *key;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:p:s:g:m:L:P:l:hV", longopts,
				  NULL)) != -1) {
		if (flag_for(opt, &section, &key)) {
			add_flag(o, section, key, opt == 'd' ? "true" : optarg);
			continue;
		}
		switch (opt) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'h':
			print_usage(stdout);
			return 1;
		case 'V':
			printf("chunkd %s\n", CHUNKD_VERSION);
			return 1;
		default:
			fprintf(stderr, "chunkd: see --help\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"chunkd: unexpected argument '%s'; see --help\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Cluster mode needs a name and an address clients can reach. */
static int check_cluster(struct config *cfg)
{
	if (!cfg->etcd_endpoints[0])
		return 0;
	if (!cfg->cluster_name[0]) {
		fprintf(stderr, "chunkd: cluster mode needs --cluster-name "
				"(or [cluster] name); see --help\n");
		return -1;
	}
	if (!cfg->advertise[0] && cfg->listen[0] &&
	    strcmp(cfg->listen, "0.0.0.0") != 0 &&
	    strlen(cfg->listen) < sizeof(cfg->advertise))
		memcpy(cfg->advertise, cfg->listen, strlen(cfg->listen) + 1);
	if (!cfg->advertise[0]) {
		fprintf(stderr,
			"chunkd: cluster mode needs the address clients "
			"reach this chunkd at: --advertise ADDR, or --listen "
			"ADDR; see --help\n");
		return -1;
	}
	return 0;
}

/* Defaults, then the config file, then the flags. Returns 0, or the exit
 * status after printing one line. */
static int build_config(const struct options *o, struct config *cfg)
{
	char err[512];

	config_defaults(cfg);
	if (o->config_path &&
	    config_load(cfg, o->config_path, err, sizeof(err))) {
		fprintf(stderr, "chunkd: %s\n", err);
		return 1;
	}
	for (int i = 0; i < o->flag_count; i++) {
		const struct flag_setting *f = &o->flags[i];

		if (config_set(cfg, f->section, f->key, f->value, err,
			       sizeof(err))) {
			fprintf(stderr, "chunkd: option for %s\n", err);
			return 2;
		}
	}
	if (!cfg->pool_path[0]) {
		fprintf(stderr,
			"chunkd: --pool PATH is required; see --help\n");
		return 2;
	}
	if (check_cluster(cfg))
		return 2;
	if (cfg->granularity && cfg->granularity < 4096) {
		fprintf(stderr,
			"chunkd: --granularity must be at least 4K (a page), for RDMA registration\n");
		return 2;
	}
	return 0;
}

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
	struct cluster *cluster; /* NULL: the embedded single-server mode */
	struct event *sigint, *sigterm;
	struct service svc;
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
	struct metrics_target target = {.svc = &p->svc, .cluster = p->cluster};
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
	if (lease_clock_start(p->base, &p->svc, &p->leases)) {
		log_error("cannot start the lease clock");
		return -1;
	}
	if (!p->secrets)
		log_warn("no secrets file: clients are not authenticated");
	p->sigint = evsignal_new(p->base, SIGINT, on_signal, p->base);
	p->sigterm = evsignal_new(p->base, SIGTERM, on_signal, p->base);
	if (!p->sigint || !p->sigterm || evsignal_add(p->sigint, NULL) ||
	    evsignal_add(p->sigterm, NULL)) {
		log_error("cannot watch SIGINT and SIGTERM");
		return -1;
	}
	target = (struct admin_target){.svc = &p->svc,
				       .table = p->table,
				       .pool = p->pool,
				       .pool_path = cfg->pool_path,
				       .cluster = p->cluster};
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
	lease_clock_stop(&p->leases);
	if (p->transport) /* ends the sessions, while the table is */
		p->transport->ops->stop(&p->transport);
	cluster_leave(&p->cluster); /* before the table: drops its calls */
	table_close(&p->table);
	if (started)
		pool_close(&p->pool);
	else
		pool_discard(&p->pool, pool_path);
	secrets_free(&p->secrets);
	if (p->sigint)
		event_free(p->sigint);
	if (p->sigterm)
		event_free(p->sigterm);
	event_base_free(p->base);
}

static void log_ready(const struct config *cfg, struct server_parts *p)
{
	struct service_stats st;
	char methods[64];

	service_stats(&p->svc, &st);
	log_info("ready: serving on %s port %u, at most %u connections at "
		 "once; persistence: %s",
		 cfg->listen[0] ? cfg->listen : "0.0.0.0",
		 p->transport->ops->port(p->transport),
		 p->transport->ops->max_connections(p->transport),
		 proto_persist_names(st.persist_methods, methods,
				     sizeof(methods)));
}

/* Serves clients until SIGINT or SIGTERM. */
static int serve(const struct config *cfg)
{
	struct server_parts p = {.base = event_base_new()};
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
		log_ready(cfg, &p);
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
	int rc = parse_options(argc, argv, &o);

	if (rc)
		return rc < 0 ? 2 : EXIT_SUCCESS;
	rc = build_config(&o, &cfg);
	if (rc)
		return rc;
	log_set_sink(log_sink_stderr, "chunkd", cfg.log_level);
	return o.verify ? verify(&cfg) : serve(&cfg);
}
