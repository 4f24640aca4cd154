/* SPDX-License-Identifier: BSD-3-Clause */
/* Recording policy: every rule type, order, default, direction, and the
 * errors a bad file gets (with section and key). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_policy.h"
#include "cr_test.h"

static const char *const classes[] = {"default", "legal", "short"};

static struct cr_policy *
load(const char *text, char *err)
{
	char path[] = "/tmp/cr_policy_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	struct cr_policy *p = NULL;
	err[0] = 0;
	int r = cr_policy_load(path, classes, 3, &p, err, 256);
	unlink(path);
	return r == 0 ? p : NULL;
}

static void
expect(const struct cr_policy *p, const char *from, const char *to, const char *src,
       const char *dst, int record, int rclass, const char *rule)
{
	struct cr_addr s, d;
	CHECK_EQ(cr_addr_parse(&s, src, strlen(src)), 0);
	CHECK_EQ(cr_addr_parse(&d, dst, strlen(dst)), 0);
	struct cr_policy_decision x;
	cr_policy_decide(p, from, to, &s, &d, &x);
	if (x.record != record || x.rclass != rclass || strcmp(x.rule, rule) != 0) {
		fprintf(stderr, "%s -> %s (%s -> %s): got %s class %d by %s, want %s class %d by %s\n",
			from, to, src, dst, x.record ? "record" : "skip", x.rclass, x.rule,
			record ? "record" : "skip", rclass, rule);
		cr_test_failures++;
	}
}

int
main(void)
{
	char err[256];
	struct cr_policy *p = load("[policy]\n"
				   "default = skip\n"
				   "own_numbers = +4930*, 100*\n"
				   "trunks = 192.0.2.0/24, 2001:db8::/32\n"
				   "rule.5 = to:+493011 -> skip\n"
				   "rule.10 = group:sales -> record class=legal\n"
				   "rule.20 = from_group:support direction:inbound -> record class=short\n"
				   "rule.30 = subnet:10.9.0.0/16 -> record\n"
				   "rule.40 = direction:outbound -> record\n"
				   "rule.50 = number:999* -> record class=legal\n"
				   "[group.sales]\nmembers = 2001, 2002, +4930555*\n"
				   "[group.support]\nmembers = 3001\n",
				   err);
	CHECK(p != NULL);
	if (p == NULL) {
		fprintf(stderr, "%s\n", err);
		TEST_DONE();
	}
	CHECK_EQ(cr_policy_rules(p), 6);
	/* order: rule.5 wins over the group rule for the same call */
	expect(p, "2001", "+493011", "10.0.0.1", "10.0.0.2", 0, 0, "rule.5");
	expect(p, "2001", "777", "10.0.0.1", "10.0.0.2", 1, 1, "rule.10");
	expect(p, "777", "+4930555123", "10.0.0.1", "10.0.0.2", 1, 1, "rule.10");
	expect(p, "+49305551", "x", "10.0.0.1", "10.0.0.2", 1, 1, "rule.10");
	/* inbound: from a trunk, or a foreign caller to our number */
	expect(p, "3001", "x", "192.0.2.7", "10.0.0.2", 1, 2, "rule.20");
	expect(p, "3001", "+4930123", "10.0.0.1", "10.0.0.2", 1, 2, "rule.20");
	expect(p, "3001", "+4930123", "2001:db8::5", "::1", 1, 2, "rule.20");
	/* 3001 is not ours: to a foreign number it is neither in nor out */
	expect(p, "3001", "5", "10.0.0.1", "10.0.0.2", 0, 0, "default");
	expect(p, "x", "y", "10.1.0.1", "10.9.200.3", 1, 0, "rule.30");
	expect(p, "1001", "0800", "10.0.0.1", "10.0.0.2", 1, 0, "rule.40");
	/* internal: both ours, matches no direction rule */
	expect(p, "1001", "1002", "10.0.0.1", "10.0.0.2", 0, 0, "default");
	expect(p, "x", "99912", "10.0.0.1", "10.0.0.2", 1, 1, "rule.50");
	expect(p, "99", "x", "10.0.0.1", "10.0.0.2", 0, 0, "default");
	expect(p, "", "", "::1", "::1", 0, 0, "default");
	cr_policy_free(p);

	/* no [policy]: record everything */
	p = load("[general]\nworkers = 1\n", err);
	CHECK(p != NULL);
	if (p)
		expect(p, "a", "b", "10.0.0.1", "10.0.0.2", 1, 0, "default");
	cr_policy_free(p);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{"[policy]\nrule.1 = to:1 -> maybe\n", "[policy] rule.1: action"},
		{"[policy]\nrule.1 = to:1\n", "[policy] rule.1: expected"},
		{"[policy]\nrule.1 = group:nope -> skip\n", "unknown group"},
		{"[policy]\nrule.1 = to:1 -> record class=eternal\n", "unknown retention class"},
		{"[policy]\nrule.1 = subnet:10.0.0.0/33 -> skip\n", "bad subnet"},
		{"[policy]\nrule.1 = direction:sideways -> skip\n", "direction is"},
		{"[policy]\nrule.1 = colour:red -> skip\n", "unknown field"},
		{"[policy]\nrule.x = to:1 -> skip\n", "rule.N"},
		{"[policy]\nrule.1 = -> skip\n", "at least one condition"},
		{"[policy]\nfrobnicate = 1\n", "unknown key"},
		{"[policy]\ntrunks = 10.0.0.0/8, banana\n", "[policy] trunks"},
		{"[group.a]\nmembers = 1\n[group.a]\nmembers = 2\n", ""},
		{"[group.b]\nmembers = *\n", "bad member"},
		{"[group.c]\n", "needs members"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = load(bad[i].text, err);
		if (p != NULL || strstr(err, bad[i].want) == NULL) {
			fprintf(stderr, "bad config %zu accepted or unclear: '%s'\n", i, err);
			/* rte_cfgfile itself may refuse a duplicate section: any error is fine */
			if (!(p == NULL && bad[i].want[0] == 0))
				cr_test_failures++;
		}
		cr_policy_free(p);
	}
	TEST_DONE();
}
