#include <criterion/criterion.h>
#include <string.h>

#include "proto/reject.h"

Test(reject, the_reason_and_text_survive_the_trip)
{
	uint8_t data[PROTO_REJECT_MAX];
	char text[PROTO_REJECT_TEXT_MAX + 1];
	size_t len =
		proto_reject_encode(PROTO_REJECT_BUSY, "at the limit", data);

	cr_assert_eq(proto_reject_decode(data, len, text, sizeof(text)),
		     PROTO_REJECT_BUSY);
	cr_assert_str_eq(text, "at the limit");
}

Test(reject, padding_after_the_text_is_ignored)
{
	uint8_t data[148] = {0};
	char text[32];

	proto_reject_encode(PROTO_REJECT_INTERNAL, "no memory", data);
	cr_assert_eq(
		proto_reject_decode(data, sizeof(data), text, sizeof(text)),
		PROTO_REJECT_INTERNAL);
	cr_assert_str_eq(text, "no memory");
}

Test(reject, long_text_is_cut_and_small_buffers_hold_a_prefix)
{
	uint8_t data[PROTO_REJECT_MAX];
	char longer[300], text[8];
	size_t len;

	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	len = proto_reject_encode(PROTO_REJECT_BUSY, longer, data);
	cr_assert_eq(len, PROTO_REJECT_MAX);
	cr_assert_eq(proto_reject_decode(data, len, text, sizeof(text)),
		     PROTO_REJECT_BUSY);
	cr_assert_str_eq(text, "xxxxxxx");
}

Test(reject, someone_elses_private_data_is_not_ours)
{
	uint8_t data[PROTO_REJECT_MAX];
	char text[32];
	size_t len = proto_reject_encode(PROTO_REJECT_BUSY, "busy", data);

	cr_assert_eq(proto_reject_decode(NULL, 0, text, sizeof(text)), 0);
	cr_assert_eq(proto_reject_decode(data, 5, text, sizeof(text)), 0,
		     "shorter than the header");
	cr_assert_eq(proto_reject_decode(data, len - 1, text, sizeof(text)), 0,
		     "the text runs past the data");
	data[0] = 'X';
	cr_assert_eq(proto_reject_decode(data, len, text, sizeof(text)), 0,
		     "no magic");
}
