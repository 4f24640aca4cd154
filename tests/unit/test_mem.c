/* SPDX-License-Identifier: BSD-3-Clause */
/* cr_mem: alignment, rounding, zeroed memory, huge-page advice, prefault and
 * free, checked against what the kernel reports for the mapping. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cr_mem.h"
#include "cr_test.h"

#define MIB (1ul << 20)

/* the VMA holding p: its length, and THPeligible (-1: not reported) */
static long
vma_len(const void *p, int *thp)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long len = -1;
	*thp = -1;
	if (f == NULL)
		return -1;
	int in = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && line[0] != ' ') {
			in = (uintptr_t)p >= a && (uintptr_t)p < b;
			if (in)
				len = (long)(b - a);
		} else if (in && sscanf(line, "THPeligible: %d", thp) == 1) {
			in = 0;
		}
	}
	fclose(f);
	return len;
}

static int
thp_off(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char b[128] = "";
	if (f) {
		if (fgets(b, sizeof(b), f) == NULL)
			b[0] = 0;
		fclose(f);
	}
	return f == NULL || strstr(b, "[never]") != NULL;
}

int
main(void)
{
	int thp;
	errno = 0;
	CHECK(cr_mem_huge(0) == NULL && errno == EINVAL);
	CHECK(cr_mem_huge(SIZE_MAX) == NULL);

	/* from 1 MiB up: whole 2 MiB pages, aligned, zero, advised */
	size_t n = 3 * MIB + 5;
	uint8_t *p = cr_mem_huge(n);
	CHECK(p != NULL);
	if (p) {
		CHECK(((uintptr_t)p & (2 * MIB - 1)) == 0);
		CHECK_EQ(vma_len(p, &thp), 4 * MIB);
		if (!thp_off())
			CHECK_EQ(thp, 1);
		CHECK(p[0] == 0 && p[n / 2] == 0 && p[n - 1] == 0 && p[4 * MIB - 1] == 0);
		p[0] = 1;
		p[n - 1] = 2;
		CHECK_EQ(cr_mem_prefault(p, n), 0);
		CHECK(p[0] == 1 && p[n - 1] == 2); /* prefault keeps what is there */
		unsigned char vec[1024];
		CHECK_EQ(mincore(p, 4 * MIB, vec), 0);
		int resident = 0;
		for (int i = 0; i < 1024; i++)
			resident += vec[i] & 1;
		CHECK_EQ(resident, 1024);
		cr_mem_huge_free(p, n);
		CHECK_EQ(vma_len(p, &thp), -1); /* the whole mapping is gone */
	}

	/* below 1 MiB: 4 KiB pages, the size rounded to them */
	uint8_t *q = cr_mem_huge(10000);
	CHECK(q != NULL);
	if (q) {
		CHECK(((uintptr_t)q & (2 * MIB - 1)) == 0);
		long l = vma_len(q, &thp);
		CHECK(l >= 12288); /* an adjacent mapping may have merged with it */
		CHECK(q[9999] == 0);
		q[9999] = 7;
		cr_mem_huge_free(q, 10000);
	}
	/* any alignment: the pages the range lies in, contents kept */
	uint8_t *r = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r != MAP_FAILED) {
		madvise(r, 8 * 4096, MADV_NOHUGEPAGE);
		r[4096] = 9; /* page 1 already there */
		CHECK_EQ(cr_mem_prefault(r + 4096 + 100, 2 * 4096), 0); /* pages 1-3 */
		unsigned char v[8];
		CHECK_EQ(mincore(r, 8 * 4096, v), 0);
		CHECK(!(v[0] & 1) && (v[1] & 1) && (v[2] & 1) && (v[3] & 1) && !(v[4] & 1));
		CHECK(r[4096] == 9);
		munmap(r, 8 * 4096);
	}
	cr_mem_huge_free(NULL, 100); /* ignored */
	CHECK_EQ(cr_mem_prefault(NULL, 0), 0);
	/* an address that is not mapped: an error, not a crash */
	void *hole = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole != MAP_FAILED) {
		munmap(hole, 8192);
		CHECK(cr_mem_prefault(hole, 8192) < 0);
	}
	TEST_DONE();
}
