#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/units.h"

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = CONFIG_DEFAULT_PORT;
	cfg->poll_us = CONFIG_DEFAULT_POLL_US;
	cfg->lease_ttl_ms = CONFIG_DEFAULT_LEASE_TTL_MS;
	cfg->hello_timeout_ms = CONFIG_DEFAULT_HELLO_MS;
	snprintf(cfg->admin_socket, sizeof(cfg->admin_socket), "%s",
		 CONFIG_DEFAULT_ADMIN_SOCKET);
	cfg->log_level = LOG_LEVEL_INFO;
	snprintf(cfg->cluster_prefix, sizeof(cfg->cluster_prefix), "%s",
		 CONFIG_DEFAULT_CLUSTER_PREFIX);
	cfg->cluster_ttl_s = CONFIG_DEFAULT_CLUSTER_TTL_S;
	cfg->etcd_timeout_ms = CONFIG_DEFAULT_ETCD_TIMEOUT_MS;
	cfg->scrub_mb_s = CONFIG_DEFAULT_SCRUB_MB_S;
	cfg->workers = CONFIG_DEFAULT_WORKERS;
}

static int bad(char *err, size_t err_len, const char *section, const char *key,
	       const char *value, const char *want)
{
	snprintf(err, err_len, "[%s] %s = %s: %s", section, key, value, want);
	return -EINVAL;
}

static int copy_text(char *dst, size_t cap, const char *value)
{
	if (strlen(value) >= cap)
		return -EINVAL;
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
		 !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int set_pool(struct config *c, const char *key, const char *v, char *err,
		    size_t len)
{
	if (!strcmp(key, "path"))
		return copy_text(c->pool_path, sizeof(c->pool_path), v)
			       ? bad(err, len, "pool", key, v, "path too long")
			       : 0;
	if (!strcmp(key, "size"))
		return units_parse_size(v, &c->pool_size) || c->pool_size == 0
			       ? bad(err, len, "pool", key, v,
				     "the size of the pool to create, such as 1G")
			       : 0;
	if (!strcmp(key, "granularity"))
		return units_parse_size(v, &c->granularity)
			       ? bad(err, len, "pool", key, v,
				     "a size such as 4K")
			       : 0;
	if (!strcmp(key, "max_chunks"))
		return parse_uint(v, UINT32_MAX, &c->max_chunks)
			       ? bad(err, len, "pool", key, v, "a count")
			       : 0;
	return bad(err, len, "pool", key, v, "unknown key");
}

/* The keys that are 32-bit counts in a range. */
static const struct number_key {
	const char *section, *key;
	size_t offset;
	uint64_t min, max;
	const char *want;
} number_keys[] = {
	{"server", "poll_us", offsetof(struct config, poll_us), 0, 1000000,
	 "microseconds, 0 to 1000000"},
	{"server", "lease_ttl_ms", offsetof(struct config, lease_ttl_ms), 100,
	 3600000, "milliseconds, 100 to 3600000"},
	{"server", "hello_timeout_ms",
	 offsetof(struct config, hello_timeout_ms), 100, 600000,
	 "milliseconds, 100 to 600000"},
	{"server", "max_connections", offsetof(struct config, max_connections),
	 0, 1000000, "a count, 0 (from the descriptor limit) to 1000000"},
	{"server", "workers", offsetof(struct config, workers), 1, 64,
	 "a count of threads, 1 to 64"},
	{"cluster", "lease_ttl_s", offsetof(struct config, cluster_ttl_s), 2,
	 3600, "seconds, 2 to 3600"},
	{"cluster", "timeout_ms", offsetof(struct config, etcd_timeout_ms), 100,
	 600000, "milliseconds, 100 to 600000"},
	{"scrub", "rate_mb_s", offsetof(struct config, scrub_mb_s), 0, 1000000,
	 "MB per second, 0 (no limit) to 1000000"},
};

/* Sets key of section if it is one of number_keys: 0, or -EINVAL with the
 * reason; 1 when it is no such key. */
static int set_number(struct config *c, const char *section, const char *key,
		      const char *v, char *err, size_t len)
{
	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]);
	     i++) {
		const struct number_key *k = &number_keys[i];
		uint64_t n;

		if (strcmp(section, k->section) || strcmp(key, k->key))
			continue;
		if (parse_uint(v, k->max, &n) || n < k->min)
			return bad(err, len, section, key, v, k->want);
		*(uint32_t *)((char *)c + k->offset) = (uint32_t)n;
		return 0;
	}
	return 1;
}

static int set_server(struct config *c, const char *key, const char *v,
		      char *err, size_t len)
{
	uint64_t n;
	int rc = set_number(c, "server", key, v, err, len);

	if (rc <= 0)
		return rc;
	if (!strcmp(key, "listen"))
		return copy_text(c->listen, sizeof(c->listen), v)
			       ? bad(err, len, "server", key, v, "too long")
			       : 0;
	if (!strcmp(key, "port")) {
		if (parse_uint(v, 65535, &n) || n == 0)
			return bad(err, len, "server", key, v,
				   "a port, 1 to 65535");
		c->port = (uint16_t)n;
		return 0;
	}
	if (!strcmp(key, "direct_write_to_pmem"))
		return parse_bool(v, &c->direct_write_to_pmem)
			       ? bad(err, len, "server", key, v,
				     "true or false")
			       : 0;
	if (!strcmp(key, "log_level"))
		return log_level_parse(v, &c->log_level)
			       ? 0
			       : bad(err, len, "server", key, v,
				     "error, warn, info or debug");
	return bad(err, len, "server", key, v, "unknown key");
}

static int set_admin(struct config *c, const char *key, const char *v,
		     char *err, size_t len)
{
	if (!strcmp(key, "socket"))
		return copy_text(c->admin_socket, sizeof(c->admin_socket), v)
			       ? bad(err, len, "admin", key, v,
				     "a path of at most 107 bytes")
			       : 0;
	return bad(err, len, "admin", key, v, "unknown key");
}

static int set_auth(struct config *c, const char *key, const char *v, char *err,
		    size_t len)
{
	if (!strcmp(key, "secrets"))
		return copy_text(c->secrets_path, sizeof(c->secrets_path), v)
			       ? bad(err, len, "auth", key, v, "path too long")
			       : 0;
	return bad(err, len, "auth", key, v, "unknown key");
}

/* A name etcd keys can carry: letters, digits, '-', '_', '.'. */
static bool plain_name(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
			    *v))
			return false;
	return true;
}

static int set_prefix(struct config *c, const char *v, char *err, size_t len)
{
	size_t n = strlen(v);

	if (n == 0 || v[0] != '/' || n + 2 > sizeof(c->cluster_prefix))
		return bad(err, len, "cluster", "prefix", v,
			   "a key prefix such as /chunkd/");
	snprintf(c->cluster_prefix, sizeof(c->cluster_prefix), "%s%s", v,
		 v[n - 1] == '/' ? "" : "/");
	return 0;
}

static int set_cluster(struct config *c, const char *key, const char *v,
		       char *err, size_t len)
{
	int rc;

	if (!strcmp(key, "endpoints"))
		return copy_text(c->etcd_endpoints, sizeof(c->etcd_endpoints),
				 v) || strncmp(v, "http://", 7)
			       ? bad(err, len, "cluster", key, v,
				     "http://HOST:PORT,... of etcd")
			       : 0;
	if (!strcmp(key, "name"))
		return !plain_name(v) || copy_text(c->cluster_name,
						   sizeof(c->cluster_name), v)
			       ? bad(err, len, "cluster", key, v,
				     "letters, digits, '-', '_' and '.', "
				     "at most 63")
			       : 0;
	if (!strcmp(key, "prefix"))
		return set_prefix(c, v, err, len);
	if (!strcmp(key, "advertise"))
		return copy_text(c->advertise, sizeof(c->advertise), v)
			       ? bad(err, len, "cluster", key, v, "too long")
			       : 0;
	rc = set_number(c, "cluster", key, v, err, len);
	return rc <= 0 ? rc : bad(err, len, "cluster", key, v, "unknown key");
}

static int set_metrics(struct config *c, const char *key, const char *v,
		       char *err, size_t len)
{
	if (!strcmp(key, "listen"))
		return copy_text(c->metrics_listen, sizeof(c->metrics_listen),
				 v) || !strchr(v, ':')
			       ? bad(err, len, "metrics", key, v,
				     "HOST:PORT, such as 127.0.0.1:9470")
			       : 0;
	return bad(err, len, "metrics", key, v, "unknown key");
}

int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char *err, size_t err_len)
{
	if (!strcmp(section, "cluster"))
		return set_cluster(cfg, key, value, err, err_len);
	if (!strcmp(section, "auth"))
		return set_auth(cfg, key, value, err, err_len);
	if (!strcmp(section, "admin"))
		return set_admin(cfg, key, value, err, err_len);
	if (!strcmp(section, "pool"))
		return set_pool(cfg, key, value, err, err_len);
	if (!strcmp(section, "server"))
		return set_server(cfg, key, value, err, err_len);
	if (!strcmp(section, "metrics"))
		return set_metrics(cfg, key, value, err, err_len);
	if (!strcmp(section, "scrub")) {
		int rc = set_number(cfg, "scrub", key, value, err, err_len);

		return rc <= 0 ? rc
			       : bad(err, err_len, "scrub", key, value,
				     "unknown key");
	}
	snprintf(err, err_len, "unknown section [%s]", section);
	return -EINVAL;
}

struct load_state {
	struct config *cfg;
	char reason[256];
};

static int on_ini_entry(void *user, const char *section, const char *key,
			const char *value)
{
	struct load_state *st = user;
	char reason[sizeof(st->reason)];

	/* inih reports the first failing line; keep that line's reason. */
	if (config_set(st->cfg, section, key, value, reason, sizeof(reason))) {
		if (!st->reason[0])
			memcpy(st->reason, reason, sizeof(reason));
		return 0;
	}
	return 1;
}

int config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	struct load_state st = {.cfg = cfg};
	int rc = ini_parse(path, on_ini_entry, &st);

	if (rc == -1) {
		snprintf(err, err_len, "cannot read config file %s: %s", path,
			 strerror(errno));
		return -ENOENT;
	}
	if (rc != 0) {
		snprintf(err, err_len, "%s:%d: %s", path, rc,
			 st.reason[0] ? st.reason : "syntax error");
		return -EINVAL;
	}
	return 0;
}
