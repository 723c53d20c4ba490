/*
 * Levelled logging through one replaceable sink.
 *
 * The library never prints: until a sink is installed, messages are dropped.
 * The daemon installs log_sink_stderr(); libchunkclient forwards to the
 * application's callback.
 *
 * Threading: install the sink before starting threads; log_emit() itself may
 * be called from any thread (the sink must then be thread-safe too), and
 * the threshold changed while others log.
 */
#ifndef CHUNKD_COMMON_LOG_H
#define CHUNKD_COMMON_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR, /* an operation failed */
	LOG_LEVEL_WARN,	 /* something is off but work goes on */
	LOG_LEVEL_INFO,	 /* life-cycle events an operator wants to see */
	LOG_LEVEL_DEBUG, /* detail for developers */
};

typedef void log_sink_fn(enum log_level level, const char *where,
			 const char *msg, void *arg);

/* Installs fn (NULL drops every message) and the most verbose level passed. */
void log_set_sink(log_sink_fn *fn, void *arg, enum log_level threshold);

/* Keeps the sink; changes the most verbose level passed to it. */
void log_set_threshold(enum log_level threshold);

/* Whether a message at this level would reach the sink. */
bool log_enabled(enum log_level level);

void log_emit(enum log_level level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A sink that writes "PREFIX: level: message" lines to stderr; arg is the
 * prefix (a const char *, may be NULL). */
void log_sink_stderr(enum log_level level, const char *where, const char *msg,
		     void *arg);

/* "error", "warn", "info", "debug"; false for anything else. */
bool log_level_parse(const char *name, enum log_level *level);
const char *log_level_name(enum log_level level);

#define log_error(...) log_emit(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)  log_emit(LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define log_info(...)  log_emit(LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)

#endif
