/*
 * timing: the clock and the percentiles chunkdemo and chunkbench report.
 * Shared by the example programs only; not part of libchunkclient.
 */
#ifndef CHUNKD_CLIENT_TIMING_H
#define CHUNKD_CLIENT_TIMING_H

/* Monotonic time in microseconds. */
double timing_now_us(void);

/* The p-quantile (0 <= p <= 1) of n > 0 samples, nearest rank; sorts v. */
double timing_percentile(double *v, unsigned n, double p);

#endif
