/*
 * What the raw-verbs programs of tests/perf share: failing loudly,
 * resolving an address, a plain RC endpoint, the server's memory (the
 * start of a device-DAX node, put back as it was when the program ends, or
 * the heap), and waiting for a completion by busy-polling.
 */
#ifndef CHUNKD_TESTS_RAW_RDMA_H
#define CHUNKD_TESTS_RAW_RDMA_H

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_MAX_SIZE (1u << 20) /* of the server's memory used */

/* perror(what), exit 1. */
void raw_die(const char *what) __attribute__((noreturn));

/* host NULL: the passive side's address for port. */
struct rdma_addrinfo *raw_resolve(const char *host, const char *port);

/* The queue sizes every program uses. */
struct ibv_qp_init_attr raw_qp_attr(void);

/* An endpoint with a plain RC queue pair in its own PD. */
void raw_make_ep(struct rdma_cm_id **id, struct rdma_addrinfo *res);

/* RAW_MAX_SIZE bytes to serve: at the start of device-DAX node dax
 * (saved, and put back by raw_restore_dax, SIGTERM or SIGINT), or from the
 * heap when dax is NULL. *is_dax says which. */
uint8_t *raw_target_memory(const char *dax, bool *is_dax);

/* Puts back what raw_target_memory found on the device. */
void raw_restore_dax(void);

/* Busy-polls cq for one completion; exits on failure. */
void raw_poll_one(struct ibv_cq *cq, const char *what);

#endif
