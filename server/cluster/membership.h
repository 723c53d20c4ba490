/*
 * This chunkd's membership of the cluster while it runs: it keeps its
 * etcd lease alive (a keepalive every third of the TTL), keeps its
 * registration current (free space and chunk counts), registers anew under
 * a new lease if the old one was lost, and watches every member's
 * registration so it knows who is alive and where.
 *
 * When chunkd dies its lease expires and etcd removes its registration and
 * its OPEN chunks' records with it (their records live under the lease).
 *
 * Threading: the event-loop thread.
 */
#ifndef CHUNKD_CLUSTER_MEMBERSHIP_H
#define CHUNKD_CLUSTER_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "member.h"

struct membership;

/* Fills the figures of self that change (free space, chunk counts). */
typedef void membership_report_fn(void *arg, struct member *self);

/* The lease was lost (etcd expired it while chunkd could not reach it):
 * every OPEN record under it is gone. */
typedef void membership_lost_fn(void *arg);

struct membership_opts {
	const char *prefix;
	unsigned ttl_s;
	membership_report_fn *report; /* may be NULL */
	void *arg;		      /* report's */
	membership_lost_fn *lost;     /* may be NULL */
	void *lost_arg;
};

/*
 * Starts keeping self (registered by join_register, self->lease its
 * lease) alive on e's loop and watching the members. Returns 0 and sets
 * *out, or -ENOMEM.
 */
int membership_start(struct etcd *e, const struct member *self,
		     const struct membership_opts *o, struct membership **out);

/* Stops keeping the lease alive (it expires unless join_leave revokes it)
 * and sets *m to NULL. */
void membership_stop(struct membership **m);

/* The lease OPEN records go under; 0 while there is none (lost, not yet
 * replaced). */
int64_t membership_lease(const struct membership *m);

/* This chunkd's registration as last written. */
const struct member *membership_self(const struct membership *m);

/* Copies the live member serving node; -ENOENT if there is none. */
int membership_find_node(const struct membership *m, uint32_t node,
			 struct member *out);

/* Calls visit for each live member, by name; false stops the walk. */
typedef bool member_visit_fn(const struct member *m, void *arg);
void membership_visit(const struct membership *m, member_visit_fn *visit,
		      void *arg);

#endif
