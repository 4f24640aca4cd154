/* SPDX-License-Identifier: BSD-3-Clause */
/* cr_mem: alignment, rounding, zeroed memory, huge-page advice, prefault and
 * free, checked against what the kernel reports for the mapping. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cr_mem.h"
#include "cr_test.h"

#define MIB (1ul << 20)

/* the VMA holding p: its length, THPeligible (-1: not reported), its
 * KernelPageSize in KiB and whether fork() leaves it out (VmFlags dc) */
static long
vma_info(const void *p, int *thp, int *kps, int *dontfork)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long len = -1;
	*thp = *kps = *dontfork = -1;
	if (f == NULL)
		return -1;
	int in = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && line[0] != ' ') {
			in = (uintptr_t)p >= a && (uintptr_t)p < b;
			if (in)
				len = (long)(b - a);
		} else if (in) {
			if (sscanf(line, "THPeligible: %d", thp) == 1 ||
			    sscanf(line, "KernelPageSize: %d", kps) == 1)
				continue;
			if (strncmp(line, "VmFlags:", 8) == 0) {
				*dontfork = strstr(line, " dc") != NULL;
				in = 0;
			}
		}
	}
	fclose(f);
	return len;
}

static long
vma_len(const void *p, int *thp)
{
	int kps, dc;
	return vma_info(p, thp, &kps, &dc);
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

/* free 2 MiB pages of the pool (what cr_mem takes, whatever the default size) */
static long
hugepages_free(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long n = 0;
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

/* cr_mem_dense(): transparent pages until the reserved pool is allowed,
 * then the pool's pages when it has them free, and transparent ones when not
 * (both branches are checked here: a machine without free hugepages runs the
 * second only) */
static void
check_dense(void)
{
	int thp, kps, dc;
	size_t n = 3 * MIB;
	uint8_t *p = cr_mem_dense(n); /* not allowed yet */
	CHECK(p != NULL);
	if (p) {
		CHECK_EQ(vma_info(p, &thp, &kps, &dc), 4 * MIB);
		CHECK_EQ(kps, 4);
		cr_mem_huge_free(p, n);
	}
	cr_mem_use_reserved(1);
	long free0 = hugepages_free();
	p = cr_mem_dense(n);
	CHECK(p != NULL);
	if (p) {
		CHECK(((uintptr_t)p & (2 * MIB - 1)) == 0);
		CHECK_EQ(vma_info(p, &thp, &kps, &dc), 4 * MIB);
		if (free0 >= 2) {
			CHECK_EQ(kps, 2048); /* from the pool */
			CHECK_EQ(dc, 1);
			CHECK_EQ(hugepages_free(), free0); /* reserved, not taken yet */
		} else {
			CHECK_EQ(kps, 4);
		}
		CHECK(p[0] == 0 && p[n - 1] == 0);
		p[0] = 1;
		CHECK_EQ(cr_mem_prefault(p, n), 0);
		CHECK(p[0] == 1 && p[n - 1] == 0);
		if (free0 >= 2)
			CHECK_EQ(hugepages_free(), free0 - 2);
		cr_mem_huge_free(p, n);
		CHECK_EQ(vma_len(p, &thp), -1);
		if (free0 >= 2)
			CHECK_EQ(hugepages_free(), free0);
	}
	/* more than the pool has free: transparent pages, never a later SIGBUS */
	size_t big = (size_t)(hugepages_free() + 1) * 2 * MIB;
	p = cr_mem_dense(big);
	CHECK(p != NULL);
	if (p) {
		CHECK(vma_info(p, &thp, &kps, &dc) >= (long)big);
		CHECK_EQ(kps, 4);
		cr_mem_huge_free(p, big);
	}
	/* a table filling from its start: its first huge page from the pool,
	 * the rest transparent, one range, freed whole */
	free0 = hugepages_free();
	size_t tn = 5 * MIB;
	p = cr_mem_table(tn);
	CHECK(p != NULL);
	if (p) {
		CHECK(((uintptr_t)p & (2 * MIB - 1)) == 0);
		long l0 = vma_info(p, &thp, &kps, &dc);
		if (free0 >= 1) {
			CHECK_EQ(l0, 2 * MIB);
			CHECK_EQ(kps, 2048);
			CHECK_EQ(dc, 1);
		} else {
			CHECK(l0 >= 6 * (long)MIB);
			CHECK_EQ(kps, 4);
		}
		CHECK(vma_info(p + 2 * MIB, &thp, &kps, &dc) >= 4 * (long)MIB);
		CHECK_EQ(kps, 4);
		if (!thp_off())
			CHECK_EQ(thp, 1);
		CHECK(p[0] == 0 && p[2 * MIB] == 0 && p[tn - 1] == 0);
		p[0] = 1;
		p[tn - 1] = 2;
		CHECK(p[0] == 1 && p[tn - 1] == 2);
		cr_mem_huge_free(p, tn);
		CHECK_EQ(vma_len(p, &thp), -1);
		CHECK_EQ(vma_len(p + 2 * MIB, &thp), -1);
		CHECK_EQ(hugepages_free(), free0);
	}
	/* below 1 MiB: never the pool */
	p = cr_mem_dense(4096);
	CHECK(p != NULL);
	if (p) {
		vma_info(p, &thp, &kps, &dc);
		CHECK_EQ(kps, 4);
		cr_mem_huge_free(p, 4096);
	}
	cr_mem_use_reserved(0);
	p = cr_mem_table(5 * MIB); /* not allowed: transparent throughout */
	CHECK(p != NULL);
	if (p) {
		CHECK(vma_info(p, &thp, &kps, &dc) >= 6 * (long)MIB);
		CHECK_EQ(kps, 4);
		cr_mem_huge_free(p, 5 * MIB);
	}
}

/* cr_mem_mirror(): the second view is the first (both ways, across the
 * seam), zeroed, aligned; from the pool when allowed and free, else shared
 * 4 KiB pages; freed whole; bad sizes refused */
static void
check_mirror(int reserved)
{
	int thp, kps, dc;
	size_t n = 4 * MIB;
	cr_mem_use_reserved(reserved);
	long free0 = hugepages_free();
	/* volatile: the compiler cannot know the two views alias */
	volatile uint8_t *p = cr_mem_mirror(n);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(((uintptr_t)p & (2 * MIB - 1)) == 0);
	CHECK(p[0] == 0 && p[n - 1] == 0 && p[2 * n - 1] == 0);
	vma_info((void *)p, &thp, &kps, &dc);
	CHECK_EQ(kps, reserved && free0 >= 2 ? 2048 : 4);
	CHECK_EQ(dc, 1);
	p[n - 3] = 11; /* a record across the seam */
	p[n + 2] = 22;
	CHECK(p[2 * n - 3] == 11 && p[2] == 22);
	for (size_t i = 0; i < n; i += 4096 + 7)
		p[i] = (uint8_t)(i * 31);
	int same = 1;
	for (size_t i = 0; i < n; i += 4096 + 7)
		same &= p[i + n] == (uint8_t)(i * 31);
	CHECK(same);
	cr_mem_mirror_free((void *)p, n);
	CHECK_EQ(vma_len((void *)p, &thp), -1);
	CHECK_EQ(vma_len((void *)(p + n), &thp), -1);
	CHECK_EQ(hugepages_free(), free0);
	errno = 0;
	CHECK(cr_mem_mirror(n + 4096) == NULL && errno == EINVAL);
	CHECK(cr_mem_mirror(0) == NULL);
	cr_mem_mirror_free(NULL, n); /* ignored */
	cr_mem_use_reserved(0);
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
	check_dense();
	check_mirror(0);
	check_mirror(1);
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
