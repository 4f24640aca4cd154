/* SPDX-License-Identifier: BSD-3-Clause */
/* The start-up shim (lib/engine/cr_eal_sysfs.c): linked like callrecd, with
 * --wrap=access, every answer equals the C library's. Static DPDK only. */
#include <errno.h>
#include <unistd.h>

#include "cr_test.h"

int __real_access(const char *path, int mode);

static int
same(const char *p, int mode)
{
	errno = 0;
	int a = access(p, mode); /* wrapped: the shim */
	int ea = errno;
	errno = 0;
	int b = __real_access(p, mode);
	int eb = errno;
	if (a != b || (a != 0 && ea != eb)) {
		fprintf(stderr, "%s (mode %d): shim %d/%d, libc %d/%d\n", p, mode, a, ea, b, eb);
		return 0;
	}
	return 1;
}

int
main(void)
{
	char p[128];
	int found = 0;
	for (int n = 0; n < 40; n++)
		for (int c = 0; c < 300; c++) {
			snprintf(p, sizeof(p), "/sys/devices/system/node/node%d/cpu%d", n, c);
			CHECK(same(p, F_OK));
			found += __real_access(p, F_OK) == 0;
		}
	for (int c = 0; c < 300; c++) {
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
		CHECK(same(p, F_OK));
		CHECK(same(p, R_OK));
	}
	/* the machine has CPUs in node directories (else nothing was compared) */
	CHECK(found > 0 || __real_access("/sys/devices/system/node", F_OK) != 0);
	static const char *const odd[] = {
		"/sys/devices/system/node/node0/cpulist",
		"/sys/devices/system/node/node0/cpu0x",
		"/sys/devices/system/node/node0/cpu",
		"/sys/devices/system/node/node/cpu0",
		"/sys/devices/system/node/node0/cpu0/",
		"/sys/devices/system/node/node99999999999/cpu0",
		"/sys/devices/system/cpu/cpu0/topology",
		"/sys/devices/system/cpu/cpu0/topology/core_idx",
		"/sys/devices/system/node/node0",
		"/tmp",
		"/nonexistent",
		"",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		CHECK(same(odd[i], F_OK));
		CHECK(same(odd[i], X_OK));
	}
	TEST_DONE();
}
