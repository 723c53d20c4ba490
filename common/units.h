/* Sizes as operators write them on command lines and in config files. */
#ifndef CHUNKD_COMMON_UNITS_H
#define CHUNKD_COMMON_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a byte count: digits, optionally followed by K, M, G or T (binary
 * multiples; "KiB", "K", "k" and "KB" all mean 1024). Returns 0 and sets
 * *bytes, or -EINVAL for anything else (empty, sign, junk, fraction) and
 * -ERANGE when the value does not fit 64 bits; *bytes is then not set.
 */
int units_parse_size(const char *text, uint64_t *bytes);

/* Formats bytes with the largest binary unit that keeps it whole ("2M",
 * "1536K", "100"). Returns buf. */
char *units_format_size(uint64_t bytes, char *buf, size_t buf_len);

/* Formats bytes for a reader, to a tenth of the largest binary unit that
 * fits, rounded down ("23.5G", "1.0K", "512"). Returns buf. */
char *units_format_approx(uint64_t bytes, char *buf, size_t buf_len);

#endif
