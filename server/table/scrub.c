#include "scrub.h"

#include "common/crc32c.h"
#include "common/log.h"

struct scrub_walk {
	const uint8_t *area;
	struct scrub_result *result;
};

static bool scrub_one(const struct table_record *rec, void *arg)
{
	struct scrub_walk *walk = arg;
	uint32_t crc;

	if (rec->state != TABLE_CHUNK_SEALED)
		return true;
	crc = crc32c(0, walk->area + rec->offset, rec->sealed_len);
	walk->result->checked++;
	walk->result->bytes += rec->sealed_len;
	if (crc != rec->crc) {
		walk->result->mismatches++;
		log_error(
			"chunk %llu: content does not match its CRC32C (recorded 0x%08x, read 0x%08x)",
			(unsigned long long)rec->id, rec->crc, crc);
	}
	return true;
}

void scrub_sealed(struct table *t, const uint8_t *area,
		  struct scrub_result *result)
{
	struct scrub_walk walk = {.area = area, .result = result};

	*result = (struct scrub_result){0};
	table_iterate(t, scrub_one, &walk);
}
