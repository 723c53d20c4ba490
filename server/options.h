/*
 * chunkd's command line: --help, the flags, and the settings they make
 * together with the config file (config.h). Kept after start, so SIGHUP
 * can build the settings again the same way (reload.h).
 */
#ifndef CHUNKD_SERVER_OPTIONS_H
#define CHUNKD_SERVER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

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

/* Parses argv into *o (which must be zeroed). Returns -1 to exit with
 * status 2 (after one line on stderr), 1 to exit 0 (after --help or
 * --version), else 0. */
int options_parse(int argc, char **argv, struct options *o);

/* Defaults, then o's config file, then its flags. Returns 0, or the exit
 * status (1: the file; 2: a flag, or settings that do not go together)
 * with a one-line reason in err. */
int options_build_config(const struct options *o, struct config *cfg, char *err,
			 size_t err_len);

#endif
