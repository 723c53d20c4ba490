/*
 * chunkd: the chunk server daemon.
 *
 * So far it parses its command line and checks that it can log; the pool,
 * the allocation table and the RDMA transport come next.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkd [OPTIONS]\n"
		"\n"
		"Serves immutable chunks of persistent memory to RDMA clients.\n"
		"\n"
		"Options:\n"
		"  -l, --log-level LEVEL  error, warn, info (default) or debug\n"
		"  -h, --help             show this help and exit\n"
		"  -V, --version          show the version and exit\n"
		"\n"
		"This build has no pool or transport yet: it cannot serve.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	enum log_level level = LOG_LEVEL_INFO;
	int opt;

	while ((opt = getopt_long(argc, argv, "l:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (!log_level_parse(optarg, &level)) {
				fprintf(stderr,
					"chunkd: unknown log level '%s' (error, warn, info, debug)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("chunkd %s\n", CHUNKD_VERSION);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "chunkd: see --help\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"chunkd: unexpected argument '%s'; see --help\n",
			argv[optind]);
		return 2;
	}
	log_set_sink(log_sink_stderr, "chunkd", level);
	log_error("nothing to serve: this build has no pool or transport yet");
	return EXIT_FAILURE;
}
