/* CRC32C (Castagnoli), the checksum of chunk contents and table records. */
#ifndef CHUNKD_COMMON_CRC32C_H
#define CHUNKD_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) over len bytes of buf and returns the standard
 * CRC32C value, so crc32c(crc32c(0, a, n), b, m) is the CRC of a then b.
 * CRC32C of "123456789" is 0xe3069283.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
