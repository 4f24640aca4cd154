/* SPDX-License-Identifier: BSD-3-Clause */
/* Minimal test harness: CHECK records a failure and goes on; main returns
 * the failure count so meson marks the test failed. */
#ifndef CR_TEST_H
#define CR_TEST_H
#include <stdio.h>
#include <string.h>
static int cr_test_failures;
#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
			cr_test_failures++;                                                \
		}                                                                          \
	} while (0)
#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long _a = (long long)(a), _b = (long long)(b);                        \
		if (_a != _b) {                                                            \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__,      \
				__LINE__, #a, _a, _b);                                     \
			cr_test_failures++;                                                \
		}                                                                          \
	} while (0)
#define CHECK_STR(s, lit) CHECK((s).len == strlen(lit) && memcmp((s).p, lit, (s).len) == 0)
#define TEST_DONE()                                                                        \
	do {                                                                               \
		if (cr_test_failures)                                                      \
			fprintf(stderr, "%d check(s) failed\n", cr_test_failures);          \
		return cr_test_failures ? 1 : 0;                                           \
	} while (0)
#endif
