#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[64];
static char err[512];

static void write_config(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/chunkd-config-%d.ini",
		 (int)getpid());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void cleanup(void)
{
	unlink(path);
}

TestSuite(config, .fini = cleanup);

Test(config, defaults_then_file_values)
{
	struct config c;

	config_defaults(&c);
	cr_assert_eq(c.port, CONFIG_DEFAULT_PORT);
	cr_assert_not(c.direct_write_to_pmem);
	write_config("[pool]\npath = /dev/dax0.0\nsize = 1G\n"
		     "[server]\nlisten = 10.0.2.15\nport = 9000\n"
		     "poll_us = 0\ndirect_write_to_pmem = true\n"
		     "log_level = debug\n");
	cr_assert_eq(config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.pool_path, "/dev/dax0.0");
	cr_assert_eq(c.pool_size, 1u << 30);
	cr_assert_str_eq(c.listen, "10.0.2.15");
	cr_assert_eq(c.port, 9000);
	cr_assert_eq(c.poll_us, 0);
	cr_assert(c.direct_write_to_pmem);
	cr_assert_eq(c.log_level, LOG_LEVEL_DEBUG);
}

Test(config, errors_name_the_file_line_and_key)
{
	struct config c;

	config_defaults(&c);
	write_config("[server]\nport = 80\nport = 70000\nbogus = 1\n");
	cr_assert_eq(config_load(&c, path, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, ":3:"), "%s", err);
	cr_assert(strstr(err, "port = 70000"), "%s", err);
	write_config("[nowhere]\nx = 1\n");
	cr_assert_eq(config_load(&c, path, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "[nowhere]"), "%s", err);
	write_config("[server]\ndirect_write_to_pmem = maybe\n");
	cr_assert_eq(config_load(&c, path, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "true or false"), "%s", err);
}

Test(config, a_missing_file_is_named)
{
	struct config c;

	config_defaults(&c);
	cr_assert_eq(
		config_load(&c, "/nonexistent/chunkd.ini", err, sizeof(err)),
		-ENOENT);
	cr_assert(strstr(err, "/nonexistent/chunkd.ini"), "%s", err);
}

Test(config, connection_bounds_have_defaults_and_ranges)
{
	struct config c;

	config_defaults(&c);
	cr_assert_eq(c.hello_timeout_ms, CONFIG_DEFAULT_HELLO_MS);
	cr_assert_eq(c.max_connections, 0, "0: from the descriptor limit");
	write_config("[server]\nhello_timeout_ms = 250\nmax_connections = 8\n"
		     "lease_ttl_ms = 2000\n");
	cr_assert_eq(config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.hello_timeout_ms, 250);
	cr_assert_eq(c.max_connections, 8);
	cr_assert_eq(c.lease_ttl_ms, 2000);
	cr_assert_eq(config_set(&c, "server", "hello_timeout_ms", "99", err,
				sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "100 to 600000"), "%s", err);
	cr_assert_eq(config_set(&c, "server", "max_connections", "-1", err,
				sizeof(err)),
		     -EINVAL);
	cr_assert_eq(c.max_connections, 8, "a refused value changes nothing");
}
