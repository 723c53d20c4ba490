/*
 * Cluster mode: this chunkd as one member of a cluster whose allocation
 * table lives in etcd. cluster_join does the start-up (a node number for
 * the pool, the pool's table recovered and reconciled against etcd, the
 * registration under a lease) and hands back the table chunkd serves
 * from; from then on the membership keeps the lease alive on the serving
 * loop. See docs/design.md, "Cluster mode".
 *
 * Threading: the event-loop thread.
 */
#ifndef CHUNKD_CLUSTER_H
#define CHUNKD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd_http.h"
#include "member.h"
#include "placed_scan.h"
#include "membership.h"
#include "pool/pool.h"
#include "reconcile.h"
#include "table/table.h"

struct event_base;
struct cluster;

struct cluster_opts {
	const char *endpoints; /* http://host:port,... */
	const char *name;      /* this chunkd's member name */
	const char *prefix;    /* of every key; ends in '/' */
	const char *address;   /* where clients reach this chunkd */
	uint16_t port;
	unsigned ttl_s;		  /* the registration's lease */
	unsigned timeout_ms;	  /* of each etcd request */
	membership_lost_fn *lost; /* the lease was lost (may be NULL) */
	void *lost_arg;
};

/*
 * Joins the cluster with pool (open, its table not loaded yet). Returns 0
 * and sets *out and *table (the cluster's table over the pool's: close it
 * after cluster_leave), with what reconciliation did in *rep; or a
 * negative errno with a one-line reason in err (-EHOSTUNREACH: etcd could
 * not be reached; -EBADMSG: the pool's table is damaged), and nothing is
 * left registered.
 */
int cluster_join(struct event_base *base, const struct cluster_opts *o,
		 struct pool *pool, struct cluster **out, struct table **table,
		 struct reconcile_report *rep, char *err, size_t err_len);

/*
 * Loads the pool's own table as cluster_join would, without joining: an
 * OPEN chunk etcd holds SEALED is sealed, the other OPEN chunks freed.
 * For chunkd --verify. Reads etcd only (o->endpoints, o->prefix,
 * o->timeout_ms). Returns 0 and sets *table (the pool's pmem table), or a
 * negative errno with a one-line reason in err.
 */
int cluster_recover_pool(const struct cluster_opts *o, struct pool *pool,
			 struct table **table, char *err, size_t err_len);

/* Leaves the cluster: stops the keepalive, revokes the lease (this
 * chunkd's registration and OPEN records go at once), drops what still
 * waits for etcd, and sets *c to NULL. Close the table after this. */
void cluster_leave(struct cluster **c);

/* The live members, as this chunkd last heard from etcd. */
void cluster_members(const struct cluster *c, member_visit_fn *visit,
		     void *arg);

/* This chunkd's registration. */
const struct member *cluster_self(const struct cluster *c);

const char *cluster_endpoints(const struct cluster *c);

/* Whether etcd answered this chunkd's last call. */
bool cluster_etcd_reachable(const struct cluster *c);

/* The serving loop's etcd round trips so far (etcd_http.h). */
void cluster_etcd_stats(const struct cluster *c, struct etcd_http_stats *out);

/* The running member serving node; -ENOENT if none. */
int cluster_find_node(const struct cluster *c, uint32_t node,
		      struct member *out);

/* Where every sealed replicated chunk's copies are (placed_scan.h). */
int cluster_scan_placed(struct cluster *c, placed_scan_fn *done, void *arg);

#endif
