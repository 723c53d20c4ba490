#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

struct captured {
	int calls;
	enum log_level level;
	char where[64];
	char msg[600];
};

static void capture(enum log_level level, const char *where, const char *msg,
		    void *arg)
{
	struct captured *c = arg;

	c->calls++;
	c->level = level;
	snprintf(c->where, sizeof(c->where), "%s", where);
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void reset_sink(void)
{
	log_set_sink(NULL, NULL, LOG_LEVEL_INFO);
}

TestSuite(log, .fini = reset_sink);

Test(log, drops_everything_without_a_sink)
{
	cr_assert_not(log_enabled(LOG_LEVEL_ERROR));
	log_error("nobody hears this %d", 1); /* must not crash */
}

static void warn_about_pool(void)
{
	log_warn("pool %s is %d%% full", "p0", 93);
}

Test(log, formats_and_names_the_function)
{
	struct captured c = {0};

	log_set_sink(capture, &c, LOG_LEVEL_DEBUG);
	warn_about_pool();
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(c.level, LOG_LEVEL_WARN);
	cr_assert_str_eq(c.msg, "pool p0 is 93% full");
	cr_assert_str_eq(c.where, "warn_about_pool");
}

Test(log, threshold_filters_verbose_levels)
{
	struct captured c = {0};

	log_set_sink(capture, &c, LOG_LEVEL_WARN);
	log_info("hidden");
	log_debug("hidden");
	cr_assert_eq(c.calls, 0);
	log_error("shown");
	cr_assert_eq(c.calls, 1);
	cr_assert_str_eq(c.msg, "shown");
}

Test(log, long_messages_are_cut_not_dropped)
{
	struct captured c = {0};
	char big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_set_sink(capture, &c, LOG_LEVEL_INFO);
	log_info("start %s", big);
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(strncmp(c.msg, "start xxx", 9), 0);
	cr_assert_eq(strlen(c.msg), 511);
}

Test(log, level_names_parse_back)
{
	enum log_level level;

	for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++) {
		cr_assert(log_level_parse(log_level_name(i), &level));
		cr_assert_eq((int)level, i);
	}
	cr_assert_not(log_level_parse("verbose", &level));
	cr_assert_str_eq(log_level_name(42), "unknown");
}
