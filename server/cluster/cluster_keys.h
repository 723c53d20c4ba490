/*
 * Where cluster mode keeps things in etcd, under a prefix of the
 * operator's ("/chunkd/" by default), and how chunk ids are made unique
 * across the cluster.
 *
 *   PREFIX/pools/UUID          {"node": N, "name": ...}  a pool's number
 *   PREFIX/nodes/N             {"pool": UUID}            N is taken
 *   PREFIX/members/NAME        a live chunkd (under its lease)
 *   PREFIX/chunks/NODE/LOCAL   a chunk's record
 *   PREFIX/placed/NODE/LOCAL   where a sealed replicated chunk's copies
 *                              are (its own key, so a repair changes it
 *                              without touching the record its first
 *                              copy's chunkd fences its changes by)
 *
 * Each pool gets a number (its node) the first time a chunkd serves it in
 * the cluster; a chunk's cluster id is the node in the high bits and the
 * pool's own never-reused id in the low ones, so ids are unique without
 * asking etcd for each, and the id says which pool holds the chunk.
 */
#ifndef CHUNKD_CLUSTER_KEYS_H
#define CHUNKD_CLUSTER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_LOCAL_BITS 40
#define CLUSTER_MAX_NODE   ((1u << 23) - 1) /* ids stay below 2^63 */
#define CLUSTER_KEY_MAX	   256
#define CLUSTER_NAME_MAX   64
#define CLUSTER_UUID_HEX   33 /* 32 hex digits and a NUL */

static inline uint64_t cluster_chunk_id(uint32_t node, uint64_t local)
{
	return ((uint64_t)node << CLUSTER_LOCAL_BITS) | local;
}

static inline uint32_t cluster_id_node(uint64_t id)
{
	return (uint32_t)(id >> CLUSTER_LOCAL_BITS);
}

static inline uint64_t cluster_id_local(uint64_t id)
{
	return id & ((1ull << CLUSTER_LOCAL_BITS) - 1);
}

void cluster_key_chunk(char *out, size_t len, const char *prefix, uint64_t id);
void cluster_key_placed(char *out, size_t len, const char *prefix, uint64_t id);
/* The prefix of every placed key. */
void cluster_key_all_placed(char *out, size_t len, const char *prefix);
/* The prefix of every chunk key of one node. */
void cluster_key_node_chunks(char *out, size_t len, const char *prefix,
			     uint32_t node);
void cluster_key_member(char *out, size_t len, const char *prefix,
			const char *name);
void cluster_key_members(char *out, size_t len, const char *prefix);
void cluster_key_pool(char *out, size_t len, const char *prefix,
		      const char *uuid_hex);
void cluster_key_node(char *out, size_t len, const char *prefix, uint32_t node);

/* A pool's 16-byte uuid as 32 lower-case hex digits. */
void cluster_uuid_hex(const uint8_t uuid[16], char out[CLUSTER_UUID_HEX]);

#endif
