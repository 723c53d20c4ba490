/* chunkd's command line (options.h). */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "transport/fd_limit.h"

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
		"                           sleeping (default %u; 0: never), up to 8N\n"
		"                           while requests come a little slower\n"
		"      --lease-ttl-ms N     a session's lease (default %u); expired\n"
		"                           leases lose their unsealed chunks\n"
		"      --hello-timeout-ms N close a connection that has not said HELLO\n"
		"                           within N ms (default %u)\n"
		"      --max-connections N  serve at most N clients at once; more are\n"
		"                           refused (default 0: as many as the file\n"
		"                           descriptor limit allows, at most %u)\n"
		"      --workers N          threads that register chunk memory and\n"
		"                           check seals off the event loop (default\n"
		"                           %u, at most 64)\n"
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
		FD_LIMIT_MAX_CONNECTIONS, CONFIG_DEFAULT_WORKERS,
		CONFIG_DEFAULT_ADMIN_SOCKET, CONFIG_DEFAULT_CLUSTER_PREFIX);
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
		{'W', "server", "workers"},
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
int options_parse(int argc, char **argv, struct options *o)
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
		{"workers", required_argument, NULL, 'W'},
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
static int check_cluster(struct config *cfg, char *err, size_t err_len)
{
	if (!cfg->etcd_endpoints[0])
		return 0;
	if (!cfg->cluster_name[0]) {
		snprintf(err, err_len,
			 "cluster mode needs --cluster-name "
			 "(or [cluster] name); see --help");
		return -1;
	}
	if (!cfg->advertise[0] && cfg->listen[0] &&
	    strcmp(cfg->listen, "0.0.0.0") != 0 &&
	    strlen(cfg->listen) < sizeof(cfg->advertise))
		memcpy(cfg->advertise, cfg->listen, strlen(cfg->listen) + 1);
	if (!cfg->advertise[0]) {
		snprintf(err, err_len,
			 "cluster mode needs the address clients reach this "
			 "chunkd at: --advertise ADDR, or --listen ADDR; see "
			 "--help");
		return -1;
	}
	return 0;
}

int options_build_config(const struct options *o, struct config *cfg, char *err,
			 size_t err_len)
{
	char why[512];

	config_defaults(cfg);
	if (o->config_path && config_load(cfg, o->config_path, err, err_len))
		return 1;
	for (int i = 0; i < o->flag_count; i++) {
		const struct flag_setting *f = &o->flags[i];

		if (config_set(cfg, f->section, f->key, f->value, why,
			       sizeof(why))) {
			snprintf(err, err_len, "option for %s", why);
			return 2;
		}
	}
	if (!cfg->pool_path[0]) {
		snprintf(err, err_len, "--pool PATH is required; see --help");
		return 2;
	}
	if (check_cluster(cfg, err, err_len))
		return 2;
	if (cfg->granularity && cfg->granularity < 4096) {
		snprintf(err, err_len,
			 "--granularity must be at least 4K (a page), for RDMA "
			 "registration");
		return 2;
	}
	return 0;
}
