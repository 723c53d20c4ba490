/*
 * Joining and leaving the cluster: the steps chunkd takes once, at start
 * and at a clean stop. They wait for etcd (each call bounded by the etcd
 * timeout), so they run on a loop of their own, never on the one that
 * serves clients.
 */
#ifndef CHUNKD_CLUSTER_JOIN_H
#define CHUNKD_CLUSTER_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "member.h"

/* The node number etcd has for pool_hex: 0, -ENOENT (none yet), or another
 * negative errno with the reason in err. Changes nothing. */
int join_read_node(struct etcd *e, const char *prefix, const char *pool_hex,
		   uint32_t *node, char *err, size_t err_len);

/*
 * The pool's node number (cluster_keys.h): the one etcd has for pool_hex,
 * or a new one, claimed with a create-if-absent of both PREFIX/pools/UUID
 * and PREFIX/nodes/N in one transaction (a race with another pool makes it
 * try the next number). Returns 0 and sets *node, or a negative errno with
 * a one-line reason in err.
 */
int join_claim_node(struct etcd *e, const char *prefix, const char *pool_hex,
		    const char *name, uint32_t *node, char *err,
		    size_t err_len);

/*
 * Registers self under a new lease of ttl_s seconds and sets self->lease.
 * A registration of the same name by the same pool is an earlier run of
 * this chunkd (the pool's lock is ours, so it is dead): its lease is
 * revoked, which removes its OPEN chunks' records too. One by another pool
 * is a live chunkd: -EEXIST, with its address in err.
 */
int join_register(struct etcd *e, const char *prefix, struct member *self,
		  unsigned ttl_s, char *err, size_t err_len);

/* Revokes self's lease: its registration and its OPEN chunks' records go
 * at once instead of at the TTL. Errors are logged, not returned. */
void join_leave(struct etcd *e, const struct member *self);

#endif
