/*
 * libchunkclient: the client library of chunkd, a networked persistent-memory
 * chunk server. This is the library's only public header.
 *
 * Conventions:
 * - A function that acts returns CHUNK_OK (0) or a negative enum chunk_status.
 * - The library never prints; install a log callback to see its messages.
 * - Threading: functions in this header are safe to call from any thread,
 *   except chunk_log_set_function(), which should be called once, before
 *   the application starts other threads that use the library.
 */
#ifndef CHUNKCLIENT_H
#define CHUNKCLIENT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. New codes are added at the end; values never change. */
enum chunk_status {
	CHUNK_OK = 0,
	CHUNK_E_INVAL = -1,	/* an argument is invalid */
	CHUNK_E_NOMEM = -2,	/* out of memory */
	CHUNK_E_NODEV = -3,	/* no usable RDMA device or route */
	CHUNK_E_CONNECT = -4,	/* cannot connect, or the connection is lost */
	CHUNK_E_PROTO = -5,	/* malformed or unsupported message */
	CHUNK_E_NOENT = -6,	/* no such chunk */
	CHUNK_E_NOSPC = -7,	/* the pool is full */
	CHUNK_E_ACCESS = -8,	/* a remote access was refused */
	CHUNK_E_STATE = -9,	/* the chunk is not in a state that allows it */
	CHUNK_E_CRC = -10,	/* the contents do not match the CRC32C given */
	CHUNK_E_AUTH = -11,	/* authentication failed */
	CHUNK_E_STALE = -12,	/* the lease or its epoch is no longer valid */
	CHUNK_E_TIMEOUT = -13,	/* the server did not answer in time */
	CHUNK_E_INTERNAL = -14, /* a bug or an unexpected system error */
};

/* A one-line English description of a status; never NULL, also for codes
 * this version does not know. */
const char *chunk_strerror(int status);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *chunk_version(void);

enum chunk_log_level {
	CHUNK_LOG_ERROR,
	CHUNK_LOG_WARN,
	CHUNK_LOG_INFO,
	CHUNK_LOG_DEBUG,
};

/* A log callback. msg is one line without a newline, valid only during the
 * call. Called from whichever library thread logs. */
typedef void chunk_log_fn(enum chunk_log_level level, const char *msg,
			  void *arg);

/*
 * Sends the library's messages at threshold or more severe to fn, with arg.
 * fn == NULL (the default) drops them all.
 */
void chunk_log_set_function(chunk_log_fn *fn, void *arg,
			    enum chunk_log_level threshold);

#ifdef __cplusplus
}
#endif

#endif
