#include "ctl_json.h"

#include <criterion/criterion.h>

#include "run_cmd.h"

json_t *ctl_json(const char *binary, const struct chunkd_proc *p, int *status,
		 const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {(char *)binary, "--socket", (char *)p->admin_socket,
			"--json",	(char *)a1, (char *)a2,
			(char *)a3,	NULL};
	struct cmd_result r;

	cr_assert_eq(run_cmd(argv, &r), 0);
	*status = r.status;
	return json_loads(r.out, 0, NULL);
}

json_t *ctl_json_ok(const char *binary, const struct chunkd_proc *p,
		    const char *a1, const char *a2, const char *a3)
{
	int status;
	json_t *j = ctl_json(binary, p, &status, a1, a2, a3);

	cr_assert_eq(status, 0, "chunkctl %s %s exited %d", a1, a2 ? a2 : "",
		     status);
	cr_assert_not_null(j, "chunkctl printed no JSON");
	cr_assert(json_is_true(json_object_get(j, "ok")));
	return j;
}

long long json_num(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}
