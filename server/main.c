/*
 * chunkd: the chunk server daemon.
 *
 * Opens (or creates) the pool, recovers its allocation table, and holds it
 * open until SIGINT or SIGTERM. The RDMA transport that will serve clients
 * is not built yet. --verify scrubs the sealed chunks and exits.
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
#include "pool.h"
#include "scrub.h"
#include "table_pmem.h"

struct options {
	struct pool_opts pool;
	enum log_level level;
	bool verify;
};

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkd --pool PATH [OPTIONS]\n"
		"\n"
		"Serves immutable chunks of persistent memory to RDMA clients.\n"
		"Opens the pool at PATH, or creates it when it does not exist (a file,\n"
		"with --pool-size) or is blank (a device-DAX node), recovers its\n"
		"allocation table, and holds it until SIGINT or SIGTERM. The RDMA\n"
		"transport that serves clients is not built yet.\n"
		"\n"
		"PATH is device-DAX (/dev/daxX.Y, persistent) or a file on tmpfs or\n"
		"hugetlbfs (DRAM: survives a chunkd restart, not a reboot). Files on\n"
		"other file systems are refused: RDMA cannot register them.\n"
		"\n"
		"Options:\n"
		"  -p, --pool PATH          the pool (required)\n"
		"  -s, --pool-size SIZE     create a pool file of SIZE (e.g. 1G)\n"
		"  -g, --granularity SIZE   allocation unit of a new pool (default 4K)\n"
		"  -m, --max-chunks N       table records of a new pool (default: one\n"
		"                           per 16 KiB of pool)\n"
		"      --verify             scrub sealed chunks against their CRC32C,\n"
		"                           report, and exit (1 if any mismatch)\n"
		"  -l, --log-level LEVEL    error, warn, info (default) or debug\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n"
		"\n"
		"Exit status: 0 on success, 1 on a failure or a scrub mismatch, 2 on\n"
		"a usage error.\n");
}

static int parse_size_arg(const char *name, const char *text, uint64_t *out)
{
	if (units_parse_size(text, out) == 0 && *out > 0)
		return 0;
	fprintf(stderr,
		"chunkd: %s takes a size such as 4096, 64K or 1G, not '%s'\n",
		name, text);
	return -1;
}

/* Returns -1 to exit with status 2, 1 to exit 0 (help, version), else 0. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"pool", required_argument, NULL, 'p'},
		{"pool-size", required_argument, NULL, 's'},
		{"granularity", required_argument, NULL, 'g'},
		{"max-chunks", required_argument, NULL, 'm'},
		{"verify", no_argument, NULL, 'v'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "p:s:g:m:l:hV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pool.path = optarg;
			break;
		case 's':
			if (parse_size_arg("--pool-size", optarg,
					   &o->pool.create_size))
				return -1;
			break;
		case 'g':
			if (parse_size_arg("--granularity", optarg,
					   &o->pool.granularity))
				return -1;
			break;
		case 'm':
			if (parse_size_arg("--max-chunks", optarg,
					   &o->pool.table_slots))
				return -1;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'l':
			if (!log_level_parse(optarg, &o->level)) {
				fprintf(stderr,
					"chunkd: unknown log level '%s' (error, warn, info, debug)\n",
					optarg);
				return -1;
			}
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
	if (!o->pool.path) {
		fprintf(stderr,
			"chunkd: --pool PATH is required; see --help\n");
		return -1;
	}
	if (o->pool.granularity && o->pool.granularity < 4096) {
		fprintf(stderr,
			"chunkd: --granularity must be at least 4K (a page), for RDMA registration\n");
		return -1;
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

/* Holds the pool until SIGINT or SIGTERM. */
static int run_loop(void)
{
	struct event_base *base = event_base_new();
	struct event *sigint, *sigterm;

	if (!base) {
		log_error("cannot create the event loop");
		return EXIT_FAILURE;
	}
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	log_info("ready (no RDMA transport yet: holding the pool)");
	event_base_dispatch(base);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(base);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct options o = {.level = LOG_LEVEL_INFO};
	struct pool *pool = NULL;
	struct table *table = NULL;
	char err[512];
	int rc = parse_options(argc, argv, &o);

	if (rc)
		return rc < 0 ? 2 : EXIT_SUCCESS;
	log_set_sink(log_sink_stderr, "chunkd", o.level);
	if (pool_open(&o.pool, &pool, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return EXIT_FAILURE;
	}
	log_pool(pool, o.pool.path);
	if (open_table(pool, o.pool.path, &table) != 0) {
		pool_close(&pool);
		return EXIT_FAILURE;
	}
	rc = o.verify ? run_verify(pool, table) : run_loop();
	table_close(&table);
	pool_close(&pool);
	return rc;
}
