/* chunk_strerror and chunk_version: the library's self-description. */
#include <stddef.h>

#include "chunkclient.h"
#include "export.h"

static const char *const status_messages[] = {
	[-CHUNK_OK] = "success",
	[-CHUNK_E_INVAL] = "invalid argument",
	[-CHUNK_E_NOMEM] = "out of memory",
	[-CHUNK_E_NODEV] = "no usable RDMA device or route",
	[-CHUNK_E_CONNECT] = "connection failed or lost",
	[-CHUNK_E_PROTO] = "malformed or unsupported message",
	[-CHUNK_E_NOENT] = "no such chunk",
	[-CHUNK_E_NOSPC] = "the pool is full",
	[-CHUNK_E_ACCESS] = "remote access refused",
	[-CHUNK_E_STATE] = "the chunk's state does not allow this",
	[-CHUNK_E_CRC] = "contents do not match the CRC32C",
	[-CHUNK_E_AUTH] = "authentication failed",
	[-CHUNK_E_STALE] = "lease expired or epoch stale",
	[-CHUNK_E_TIMEOUT] = "the server did not answer in time",
	[-CHUNK_E_INTERNAL] = "internal error",
	[-CHUNK_E_AGAIN] = "too many operations in flight",
	[-CHUNK_E_BUSY] = "the server is at its connection limit",
	[-CHUNK_E_UNAVAILABLE] = "the cluster's table is unavailable",
	[-CHUNK_E_FEW_SERVERS] = "fewer live servers than the copies asked",
};

#define STATUS_COUNT (sizeof(status_messages) / sizeof(status_messages[0]))

CHUNK_EXPORT const char *chunk_strerror(int status)
{
	if (status > 0 || (size_t)-status >= STATUS_COUNT ||
	    !status_messages[-status])
		return "unknown error";
	return status_messages[-status];
}

CHUNK_EXPORT const char *chunk_version(void)
{
	return CHUNKD_VERSION;
}
