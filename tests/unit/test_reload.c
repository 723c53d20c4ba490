/*
 * What SIGHUP changes (server/reload.h): the log level at once; a key
 * that needs a restart is named in a warning and left as it was; turning
 * authentication off is refused; secrets that do not load change nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "reload.h"
#include "service/secrets.h"
#include "service/service.h"

static char logged[8192];

static void keep_log(enum log_level level, const char *where, const char *msg,
		     void *arg)
{
	(void)level;
	(void)where;
	(void)arg;
	strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

static struct service svc;
static struct secrets *secrets;
static struct config running, fresh;
static char path[64];

static void write_secrets(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void setup(void)
{
	char err[256];

	logged[0] = '\0';
	log_set_sink(keep_log, NULL, LOG_LEVEL_INFO);
	snprintf(path, sizeof(path), "/tmp/chunkd-reload-%d.secrets",
		 (int)getpid());
	write_secrets("alice one\n", 0600);
	cr_assert_eq(secrets_load(path, &secrets, err, sizeof(err)), 0, "%s",
		     err);
	svc.secrets = secrets;
	config_defaults(&running);
	snprintf(running.pool_path, sizeof(running.pool_path), "/dev/dax0.0");
	snprintf(running.secrets_path, sizeof(running.secrets_path), "%s",
		 path);
	fresh = running;
}

static void teardown(void)
{
	secrets_free(&secrets);
	unlink(path);
	log_set_sink(NULL, NULL, LOG_LEVEL_INFO);
}

TestSuite(reload, .init = setup, .fini = teardown);

static int apply(void)
{
	struct reload_target t = {&svc, &secrets, &running};

	return reload_apply(&fresh, &t);
}

Test(reload, the_log_level_changes_and_restart_keys_are_named_and_kept)
{
	fresh.log_level = LOG_LEVEL_DEBUG;
	fresh.port = 7999;
	snprintf(fresh.metrics_listen, sizeof(fresh.metrics_listen),
		 "127.0.0.1:1");
	write_secrets("alice one\n", 0600);
	cr_assert_eq(apply(), 2, "the log level and the secrets: %s", logged);
	cr_assert(log_enabled(LOG_LEVEL_DEBUG));
	cr_assert_eq(running.log_level, LOG_LEVEL_DEBUG);
	cr_assert_not_null(strstr(logged, "[server] port changed"), "%s",
			   logged);
	cr_assert_not_null(strstr(logged, "[metrics] listen changed"), "%s",
			   logged);
	cr_assert_eq(running.port, CONFIG_DEFAULT_PORT, "kept");
	cr_assert_null(strstr(logged, "[pool] path"), "unchanged: %s", logged);
}

Test(reload, new_secrets_replace_the_old_and_bad_ones_change_nothing)
{
	struct secrets *before;

	write_secrets("bob two\n", 0600);
	cr_assert_eq(apply(), 1);
	cr_assert_eq(svc.secrets, secrets, "the service checks the new ones");
	cr_assert_null(secrets_find(svc.secrets, "alice"));
	cr_assert_str_eq(secrets_find(svc.secrets, "bob"), "two");
	before = secrets;
	write_secrets("carol three\n", 0644);
	cr_assert_eq(apply(), 0);
	cr_assert_eq(secrets, before);
	cr_assert_str_eq(secrets_find(svc.secrets, "bob"), "two");
	cr_assert_not_null(strstr(logged, "stay in force"), "%s", logged);
}

Test(reload, authentication_is_not_turned_off_by_a_reload)
{
	fresh.secrets_path[0] = '\0';
	cr_assert_eq(apply(), 0);
	cr_assert_eq(svc.secrets, secrets);
	cr_assert_not_null(strstr(logged, "[auth] secrets"), "%s", logged);
}
