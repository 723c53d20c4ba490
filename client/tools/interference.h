/*
 * chunkbench's studies of the control path against the data path:
 *
 *   interference  one connection's 64-byte write+persist (persist-rpc)
 *                 alone; then while two other connections write a chunk
 *                 of 4 KiB and one of 64 MiB over and over (the data
 *                 alone); then while they alloc, write, seal and free such
 *                 chunks in a loop (the whole load): p50 and p99 of each,
 *                 in one run. The loaders sleep between completions, so
 *                 the load falls on chunkd rather than on the clients;
 *   alloc-rate    alloc+seal+free of 4 KiB chunks per second with 1, 2
 *                 and 4 connections at once, one thread each.
 *
 * They report; they never fail on a number.
 */
#ifndef CHUNKD_CLIENT_INTERFERENCE_H
#define CHUNKD_CLIENT_INTERFERENCE_H

#include <jansson.h>
#include <stdint.h>

#include "bench_util.h"

/* buf: BUF_SIZE bytes to write from. Adds "interference" to report. */
int bench_interference(const struct bench_opts *o, uint8_t *buf,
		       json_t *report);

/* Adds "alloc_rate" to report. */
int bench_alloc_rate(const struct bench_opts *o, json_t *report);

/* Prints what the two above added to report, as a table. */
void bench_print_control(json_t *report);

#endif
