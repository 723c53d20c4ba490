/*
 * A chunk's record in etcd (PREFIX/chunks/NODE/LOCAL), as JSON:
 *
 *   {"id": 4398046511105, "state": "open", "length": 8192,
 *    "sealed_len": 0, "crc": 0, "server": "a", "pool": "9f..",
 *    "offset": 40960, "owner": 12, "epoch": 1, "created": 1796000000,
 *    "sealed": 0}
 *
 * server and pool say which chunkd and which of its pools hold it, offset
 * where in the pool's chunk area; owner and epoch are the session that
 * allocated it. An OPEN record is put under the holding chunkd's etcd
 * lease, so it dies with that chunkd; a SEALED one under none.
 *
 * A replicated chunk's record (its first copy's) adds "copies": R; the
 * record of a further copy adds "copy_of": the chunk's id. The keys are
 * absent for a chunk of one copy. Where a sealed replicated chunk's
 * copies are is a key of its own (cluster_keys.h), {"copies": [ids]}.
 */
#ifndef CHUNKD_CLUSTER_CHUNK_RECORD_H
#define CHUNKD_CLUSTER_CHUNK_RECORD_H

#include <jansson.h>

#include "cluster_keys.h"
#include "table/table.h"

struct chunk_record {
	struct table_record rec; /* rec.id is the cluster id */
	char server[CLUSTER_NAME_MAX];
	char pool[CLUSTER_UUID_HEX];
	uint32_t copies;  /* of a replicated chunk's first copy; else 0 */
	uint64_t copy_of; /* of a further copy; else 0 */
};

/* The JSON text (malloc'd: free it), or NULL when memory ran out. */
char *chunk_record_encode(const struct chunk_record *r);

/* Parses text; -EPROTO when it is not a chunk record. */
int chunk_record_decode(const char *text, struct chunk_record *r);

/* Where a chunk's count copies are (their ids) as JSON (malloc'd), or
 * NULL when memory ran out. */
char *chunk_placed_encode(const uint64_t *ids, unsigned count);

/* Parses it into ids (room for TABLE_MAX_COPIES); -EPROTO. */
int chunk_placed_decode(const char *text, uint64_t *ids, unsigned *count);

/* The record a failed txn read back (its first failure op a range of the
 * chunk's key), with its mod_revision: 0; -ENOENT when there was none;
 * -EPROTO. */
int chunk_record_found(const json_t *txn_answer, struct chunk_record *r,
		       int64_t *revision);

#endif
