#include <criterion/criterion.h>
#include <string.h>

#include "chunkclient.h"

Test(client_status, every_code_has_its_own_message)
{
	for (int a = CHUNK_OK; a >= CHUNK_E_FEW_SERVERS; a--) {
		const char *msg = chunk_strerror(a);

		cr_assert_str_neq(msg, "unknown error", "code %d", a);
		cr_assert_neq(strlen(msg), 0);
		for (int b = a - 1; b >= CHUNK_E_FEW_SERVERS; b--)
			cr_assert_str_neq(msg, chunk_strerror(b),
					  "codes %d and %d share a message", a,
					  b);
	}
}

Test(client_status, unknown_codes_are_named_unknown)
{
	cr_assert_str_eq(chunk_strerror(1), "unknown error");
	cr_assert_str_eq(chunk_strerror(CHUNK_E_FEW_SERVERS - 1), "unknown error");
	cr_assert_str_eq(chunk_strerror(-1000000), "unknown error");
}

Test(client_status, version_is_the_projects)
{
	cr_assert_str_eq(chunk_version(), CHUNKD_TEST_VERSION);
}
