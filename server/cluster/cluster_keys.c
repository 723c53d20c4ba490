#include "cluster_keys.h"

#include <stdio.h>

void cluster_key_chunk(char *out, size_t len, const char *prefix, uint64_t id)
{
	snprintf(out, len, "%schunks/%06x/%010llx", prefix, cluster_id_node(id),
		 (unsigned long long)cluster_id_local(id));
}

void cluster_key_placed(char *out, size_t len, const char *prefix, uint64_t id)
{
	snprintf(out, len, "%splaced/%06x/%010llx", prefix, cluster_id_node(id),
		 (unsigned long long)cluster_id_local(id));
}

void cluster_key_all_placed(char *out, size_t len, const char *prefix)
{
	snprintf(out, len, "%splaced/", prefix);
}

void cluster_key_node_chunks(char *out, size_t len, const char *prefix,
			     uint32_t node)
{
	snprintf(out, len, "%schunks/%06x/", prefix, node);
}

void cluster_key_member(char *out, size_t len, const char *prefix,
			const char *name)
{
	snprintf(out, len, "%smembers/%s", prefix, name);
}

void cluster_key_members(char *out, size_t len, const char *prefix)
{
	snprintf(out, len, "%smembers/", prefix);
}

void cluster_key_pool(char *out, size_t len, const char *prefix,
		      const char *uuid_hex)
{
	snprintf(out, len, "%spools/%s", prefix, uuid_hex);
}

void cluster_key_node(char *out, size_t len, const char *prefix, uint32_t node)
{
	snprintf(out, len, "%snodes/%06x", prefix, node);
}

void cluster_uuid_hex(const uint8_t uuid[16], char out[CLUSTER_UUID_HEX])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", uuid[i]);
}
