/*
 * chunkctl: the operator's command-line tool for chunkd.
 *
 * The admin listener it talks to does not exist yet, so for now it only
 * answers --help and --version; every subcommand is refused plainly.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "chunkclient.h"

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: chunkctl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Administers a running chunkd through its local control socket.\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Commands: none yet. chunkd has no admin listener so far; status,\n"
		"leases, lease, chunks, chunk and verify come with it.\n"
		"\n"
		"Exit status: 0 on success, 1 when a command fails, 2 on a usage\n"
		"error.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			print_usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("chunkctl %s\n", chunk_version());
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "chunkctl: see --help\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "chunkctl: no command given; see --help\n");
		return 2;
	}
	fprintf(stderr, "chunkctl: unknown command '%s'; see --help\n",
		argv[optind]);
	return 2;
}
