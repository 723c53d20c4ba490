/*
 * libFuzzer target for chunkd's config file parser (inih underneath): any
 * file may be handed to --config. A file is accepted with every value in
 * range, or refused with one line naming the file and line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512] = "";
	const char *path = memfile_hold(data, size);

	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) == 0) {
		if (cfg.port == 0 || cfg.lease_ttl_ms < 100 ||
		    cfg.hello_timeout_ms < 100 || cfg.poll_us > 1000000 ||
		    !memchr(cfg.pool_path, 0, sizeof(cfg.pool_path)) ||
		    !memchr(cfg.listen, 0, sizeof(cfg.listen)))
			abort(); /* accepted a value out of range */
	} else if (!strstr(err, path) || strchr(err, '\n')) {
		abort(); /* the reason must name the file, on one line */
	}
	return 0;
}
