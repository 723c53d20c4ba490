#include "reload.h"

#include <stddef.h>
#include <string.h>

#include "common/log.h"
#include "service/secrets.h"
#include "service/service.h"

/* The settings that take effect only at a start. */
static const struct restart_key {
	const char *name;
	size_t offset, size;
} restart_keys[] = {
#define KEY(name, field)                                                       \
	{                                                                      \
		name, offsetof(struct config, field),                          \
			sizeof(((struct config *)0)->field)                    \
	}
	KEY("[pool] path", pool_path),
	KEY("[pool] size", pool_size),
	KEY("[pool] granularity", granularity),
	KEY("[pool] max_chunks", max_chunks),
	KEY("[server] listen", listen),
	KEY("[server] port", port),
	KEY("[server] poll_us", poll_us),
	KEY("[server] lease_ttl_ms", lease_ttl_ms),
	KEY("[server] hello_timeout_ms", hello_timeout_ms),
	KEY("[server] max_connections", max_connections),
	KEY("[server] workers", workers),
	KEY("[server] direct_write_to_pmem", direct_write_to_pmem),
	KEY("[admin] socket", admin_socket),
	KEY("[cluster] endpoints", etcd_endpoints),
	KEY("[cluster] name", cluster_name),
	KEY("[cluster] prefix", cluster_prefix),
	KEY("[cluster] advertise", advertise),
	KEY("[cluster] lease_ttl_s", cluster_ttl_s),
	KEY("[cluster] timeout_ms", etcd_timeout_ms),
	KEY("[metrics] listen", metrics_listen),
#undef KEY
};

static void warn_restart_keys(const struct config *running,
			      const struct config *fresh)
{
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]);
	     i++) {
		const struct restart_key *k = &restart_keys[i];

		if (memcmp((const char *)running + k->offset,
			   (const char *)fresh + k->offset, k->size))
			log_warn("reload: %s changed; it takes effect when "
				 "chunkd restarts",
				 k->name);
	}
}

static int reload_log_level(const struct config *fresh, struct config *running)
{
	if (fresh->log_level == running->log_level)
		return 0;
	log_set_threshold(fresh->log_level);
	log_warn("reload: log level %s (was %s)",
		 log_level_name(fresh->log_level),
		 log_level_name(running->log_level));
	running->log_level = fresh->log_level;
	return 1;
}

/* Reads the secrets file again (or the one fresh names instead). */
static int reload_secrets(const struct config *fresh,
			  const struct reload_target *t)
{
	struct secrets *loaded = NULL;
	char err[512];

	if (!t->running->secrets_path[0] || !fresh->secrets_path[0]) {
		if (t->running->secrets_path[0] || fresh->secrets_path[0])
			log_warn("reload: [auth] secrets was set or unset; "
				 "turning authentication on or off takes "
				 "effect when chunkd restarts");
		return 0;
	}
	if (secrets_load(fresh->secrets_path, &loaded, err, sizeof(err))) {
		log_error("reload: %s; the secrets loaded before stay in force",
			  err);
		return 0;
	}
	secrets_free(t->secrets);
	*t->secrets = loaded;
	t->svc->secrets = loaded;
	memcpy(t->running->secrets_path, fresh->secrets_path,
	       sizeof(fresh->secrets_path));
	log_info("reload: secrets read again from %s", fresh->secrets_path);
	return 1;
}

static int reload_scrub_rate(const struct config *fresh, struct config *running)
{
	if (fresh->scrub_mb_s == running->scrub_mb_s)
		return 0;
	log_info("reload: [scrub] rate_mb_s %u for the next scrub (was %u)",
		 fresh->scrub_mb_s, running->scrub_mb_s);
	running->scrub_mb_s = fresh->scrub_mb_s;
	return 1;
}

int reload_apply(const struct config *fresh, const struct reload_target *t)
{
	int changes = reload_log_level(fresh, t->running);

	changes += reload_scrub_rate(fresh, t->running);
	changes += reload_secrets(fresh, t);
	warn_restart_keys(t->running, fresh);
	return changes;
}
