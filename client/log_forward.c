/* chunk_log_set_function: forwards common/log messages to the application. */
#include <stddef.h>

#include "chunkclient.h"
#include "common/log.h"
#include "export.h"

_Static_assert((int)CHUNK_LOG_ERROR == (int)LOG_LEVEL_ERROR &&
		       (int)CHUNK_LOG_WARN == (int)LOG_LEVEL_WARN &&
		       (int)CHUNK_LOG_INFO == (int)LOG_LEVEL_INFO &&
		       (int)CHUNK_LOG_DEBUG == (int)LOG_LEVEL_DEBUG,
	       "public and internal log levels must agree");

static chunk_log_fn *app_log_fn;

static void forward_to_app(enum log_level level, const char *where,
			   const char *msg, void *arg)
{
	(void)where;
	app_log_fn((enum chunk_log_level)level, msg, arg);
}

CHUNK_EXPORT void chunk_log_set_function(chunk_log_fn *fn, void *arg,
					 enum chunk_log_level threshold)
{
	app_log_fn = fn;
	log_set_sink(fn ? forward_to_app : NULL, arg,
		     (enum log_level)threshold);
}
