/*
 * chunkd's settings: defaults, then the config file (INI, parsed by inih),
 * then command-line flags, each overriding the one before.
 *
 *   [pool]
 *   path = /dev/dax0.0         ; device-DAX, or a file on tmpfs/hugetlbfs
 *   size = 1G                  ; create a pool file of this size
 *   granularity = 4K           ; allocation unit of a new pool
 *   max_chunks = 65536         ; table records of a new pool
 *
 *   [server]
 *   listen = 10.0.2.15         ; address to listen on with rdma_cm
 *   port = 7470
 *   poll_us = 50               ; busy-poll spell after activity, 0 = none
 *   lease_ttl_ms = 10000       ; a session's lease; clients renew it
 *   hello_timeout_ms = 5000    ; a new connection's time to say HELLO
 *   max_connections = 0        ; at once; 0: as many as the descriptor
 *                              ; limit allows (server/fd_limit.h)
 *   workers = 2                ; threads that register memory and check
 *                              ; seals, off the event loop
 *   direct_write_to_pmem = false ; true only where RDMA writes reach the
 *                              ; persistence domain (DDIO off or eADR)
 *   log_level = info
 *
 *   [admin]
 *   socket = /run/chunkd/chunkd.sock  ; chunkctl's unix socket (mode 0600)
 *
 *   [auth]
 *   secrets = /etc/chunkd/secrets ; "NAME SECRET" lines; none: no auth
 *
 *   [cluster]                  ; cluster mode, when endpoints is set
 *   endpoints = http://127.0.0.1:2379,http://127.0.0.1:22379
 *   name = a                   ; this chunkd's member name (unique)
 *   prefix = /chunkd/          ; of every key in etcd
 *   advertise = 10.0.2.15      ; where clients reach this chunkd;
 *                              ; default: the listen address
 *   lease_ttl_s = 5            ; the registration's etcd lease
 *   timeout_ms = 2000          ; of each etcd request
 *
 *   [metrics]
 *   listen = 127.0.0.1:9470    ; Prometheus exposition at /metrics;
 *                              ; unset (the default): none
 *
 *   [scrub]
 *   rate_mb_s = 100            ; the background scrub's limit (chunkctl
 *                              ; verify); 0: none
 */
#ifndef CHUNKD_SERVER_CONFIG_H
#define CHUNKD_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define CONFIG_DEFAULT_PORT	       7470u
#define CONFIG_DEFAULT_POLL_US	       50u
#define CONFIG_DEFAULT_LEASE_TTL_MS    10000u
#define CONFIG_DEFAULT_HELLO_MS	       5000u
#define CONFIG_DEFAULT_ADMIN_SOCKET    "/run/chunkd/chunkd.sock"
#define CONFIG_DEFAULT_CLUSTER_PREFIX  "/chunkd/"
#define CONFIG_DEFAULT_CLUSTER_TTL_S   5u
#define CONFIG_DEFAULT_ETCD_TIMEOUT_MS 2000u
#define CONFIG_DEFAULT_SCRUB_MB_S      100u
#define CONFIG_DEFAULT_WORKERS	       2u

struct config {
	char pool_path[4096];
	uint64_t pool_size;
	uint64_t granularity;
	uint64_t max_chunks;
	char listen[256]; /* empty: chunkd holds the pool but serves nothing */
	uint16_t port;
	uint32_t poll_us;
	uint32_t lease_ttl_ms;
	uint32_t hello_timeout_ms;
	uint32_t max_connections; /* 0: from the descriptor limit */
	uint32_t workers;	  /* workers/workers.h */
	bool direct_write_to_pmem;
	enum log_level log_level;
	char admin_socket[108];
	char secrets_path[4096];   /* empty: clients are not authenticated */
	char etcd_endpoints[1024]; /* empty: no cluster, the pool's table */
	char cluster_name[64];
	char cluster_prefix[128];
	char advertise[64]; /* empty: the listen address */
	uint32_t cluster_ttl_s;
	uint32_t etcd_timeout_ms;
	char metrics_listen[300]; /* HOST:PORT; empty: no metrics endpoint */
	uint32_t scrub_mb_s;	  /* MB (10^6 bytes) per second; 0: no limit */
};

void config_defaults(struct config *cfg);

/*
 * Reads path into cfg over what is there. Returns 0, or -ENOENT / -EINVAL
 * with a one-line reason in err naming the file, line and key.
 */
int config_load(struct config *cfg, const char *path, char *err,
		size_t err_len);

/* Sets one key of a section from text (the file and flags share this).
 * Returns 0 or -EINVAL with the reason in err. */
int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char *err, size_t err_len);

#endif
