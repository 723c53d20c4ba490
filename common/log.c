#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static log_sink_fn *sink;
static void *sink_arg;
/* Atomic: SIGHUP changes it on the loop while workers may log. */
static _Atomic int sink_threshold = LOG_LEVEL_INFO;

void log_set_sink(log_sink_fn *fn, void *arg, enum log_level threshold)
{
	sink = fn;
	sink_arg = arg;
	atomic_store_explicit(&sink_threshold, threshold, memory_order_relaxed);
}

void log_set_threshold(enum log_level threshold)
{
	atomic_store_explicit(&sink_threshold, threshold, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
	return sink && (int)level <= atomic_load_explicit(&sink_threshold,
							  memory_order_relaxed);
}

void log_emit(enum log_level level, const char *func, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	/* A longer message is cut, never dropped: the start says what failed.
	 */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sink(level, func, msg, sink_arg);
}

void log_sink_stderr(enum log_level level, const char *where, const char *msg,
		     void *arg)
{
	const char *prefix = arg;

	if (level == LOG_LEVEL_DEBUG)
		fprintf(stderr, "%s%s%s: %s: %s\n", prefix ? prefix : "",
			prefix ? ": " : "", log_level_name(level), where, msg);
	else
		fprintf(stderr, "%s%s%s: %s\n", prefix ? prefix : "",
			prefix ? ": " : "", log_level_name(level), msg);
}

bool log_level_parse(const char *name, enum log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}
