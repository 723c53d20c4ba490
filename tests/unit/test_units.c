#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "common/units.h"

static uint64_t parse_ok(const char *text)
{
	uint64_t bytes = 0;

	cr_assert_eq(units_parse_size(text, &bytes), 0, "'%s' should parse",
		     text);
	return bytes;
}

static void parse_fails(const char *text, int expected)
{
	uint64_t bytes = 12345;

	cr_assert_eq(units_parse_size(text, &bytes), expected,
		     "'%s' should fail with %d", text, expected);
	cr_assert_eq(bytes, 12345, "'%s' must leave the output alone", text);
}

Test(units, plain_numbers)
{
	cr_assert_eq(parse_ok("0"), 0);
	cr_assert_eq(parse_ok("4096"), 4096);
	cr_assert_eq(parse_ok("18446744073709551615"), UINT64_MAX);
}

Test(units, binary_suffixes)
{
	cr_assert_eq(parse_ok("4K"), 4096);
	cr_assert_eq(parse_ok("4k"), 4096);
	cr_assert_eq(parse_ok("4KiB"), 4096);
	cr_assert_eq(parse_ok("4KB"), 4096);
	cr_assert_eq(parse_ok("2M"), 2u << 20);
	cr_assert_eq(parse_ok("1G"), 1u << 30);
	cr_assert_eq(parse_ok("3T"), 3ull << 40);
}

Test(units, rejects_junk)
{
	parse_fails("", -EINVAL);
	parse_fails("-1", -EINVAL);
	parse_fails("+1", -EINVAL);
	parse_fails(" 1", -EINVAL);
	parse_fails("1.5G", -EINVAL);
	parse_fails("1X", -EINVAL);
	parse_fails("1Gx", -EINVAL);
	parse_fails("1 G", -EINVAL);
	parse_fails("G", -EINVAL);
}

Test(units, rejects_overflow)
{
	parse_fails("18446744073709551616", -ERANGE);
	parse_fails("99999999999999999999999", -ERANGE);
	parse_fails("16777216T", -ERANGE);
}

Test(units, format_round_trips)
{
	char buf[32];
	const uint64_t sizes[] = {0,	      1,	   1000,
				  1024,	      1536 * 1024, 2u << 20,
				  1ull << 40, (1ull << 50)};

	cr_assert_str_eq(units_format_size(2u << 20, buf, sizeof(buf)), "2M");
	cr_assert_str_eq(units_format_size(1536 * 1024, buf, sizeof(buf)),
			 "1536K");
	cr_assert_str_eq(units_format_size(100, buf, sizeof(buf)), "100");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		units_format_size(sizes[i], buf, sizeof(buf));
		cr_assert_eq(parse_ok(buf), sizes[i], "round trip of %s", buf);
	}
}

Test(units, approximate_sizes_round_down_to_a_tenth)
{
	char buf[32];

	cr_assert_str_eq(units_format_approx(512, buf, sizeof(buf)), "512");
	cr_assert_str_eq(units_format_approx(1024, buf, sizeof(buf)), "1.0K");
	cr_assert_str_eq(units_format_approx(1535, buf, sizeof(buf)), "1.4K");
	cr_assert_str_eq(units_format_approx(25275563008ull, buf, sizeof(buf)),
			 "23.5G");
	cr_assert_str_eq(units_format_approx(3ull << 40, buf, sizeof(buf)),
			 "3.0T");
	cr_assert_str_eq(units_format_approx(5000ull << 40, buf, sizeof(buf)),
			 "5000.0T");
}
