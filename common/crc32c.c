#include "crc32c.h"

#include <isa-l/crc.h>
#include <limits.h>

/* ISA-L's crc32_iscsi neither inverts its seed nor its result; the standard
 * CRC32C does both. It also takes an int length, hence the loop. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)buf;
	unsigned int state = ~crc;

	while (len > 0) {
		int step = len > INT_MAX ? INT_MAX : (int)len;

		state = crc32_iscsi(p, step, state);
		p += step;
		len -= (size_t)step;
	}
	return ~state;
}
