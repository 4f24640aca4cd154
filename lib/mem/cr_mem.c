/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define HUGE (2u << 20)
#define PAGE 4096u
/* 2 MiB pages of the pool whatever its default size: with 1 GiB pages by
 * default, MAP_HUGETLB alone would round a 2 MiB buffer up to 1 GiB */
#define HUGETLB_2M (MAP_HUGETLB | (21 << MAP_HUGE_SHIFT)) /* log2(2 MiB) */
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif

/* from 1 MiB up, whole huge pages (at most twice the memory asked for, and
 * only where touched); below, 4 KiB pages */
static size_t
map_len(size_t n)
{
	size_t unit = n >= HUGE / 2 ? HUGE : PAGE;
	return (n + unit - 1) & ~(size_t)(unit - 1);
}

/* len bytes of anonymous memory at addr (NULL: anywhere; else exactly
 * there, never over another mapping), from the reserved pool or advised for
 * transparent huge pages; NULL when the kernel says no */
static void *
map_anon(void *addr, size_t len, int reserved)
{
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | (reserved ? HUGETLB_2M : 0) |
		 (addr ? MAP_FIXED_NOREPLACE : 0);
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE, fl, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (addr && p != addr) { /* a kernel before 4.17 took NOREPLACE as a hint */
		munmap(p, len);
		return NULL;
	}
	/* a child of fork() (popen of a KMS hook) would share reserved pages
	 * copy-on-write, which needs pages of the pool; the THP advice is only
	 * advice (EINVAL without THP) */
	madvise(p, len, reserved ? MADV_DONTFORK : MADV_HUGEPAGE);
	return p;
}

void *
cr_mem_huge(size_t n)
{
	if (n == 0 || n > SIZE_MAX - 2 * HUGE) {
		errno = EINVAL;
		return NULL;
	}
	n = map_len(n);
	/* over-map by 2 MiB and trim: mmap aligns to 4 KiB only, and a huge
	 * page fits only a 2 MiB-aligned range */
	uint8_t *p = map_anon(NULL, n + HUGE, 0);
	if (p == NULL)
		return NULL;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + n, (size_t)(p + HUGE - a));
	return a;
}

static atomic_int use_reserved;

void
cr_mem_use_reserved(int on)
{
	atomic_store_explicit(&use_reserved, on != 0, memory_order_relaxed);
}

static int
reserved_ok(void)
{
	return atomic_load_explicit(&use_reserved, memory_order_relaxed);
}

void *
cr_mem_dense(size_t n)
{
	/* reserves map_len(n) of the pool now (ENOMEM when it has fewer free:
	 * then transparent pages), so no later touch can find the pool empty */
	void *p = n >= HUGE / 2 && n <= SIZE_MAX - 2 * HUGE && reserved_ok()
			  ? map_anon(NULL, map_len(n), 1)
			  : NULL;
	return p ? p : cr_mem_huge(n);
}

void *
cr_mem_table(size_t n)
{
	if (n < HUGE || !reserved_ok())
		return n >= HUGE / 2 ? cr_mem_dense(n) : cr_mem_huge(n);
	uint8_t *a = cr_mem_huge(n);
	if (a == NULL)
		return NULL;
	/* swap the untouched first 2 MiB for a reserved page (or, when the
	 * pool has none free, put the transparent one back); NOREPLACE never
	 * clobbers a mapping another thread put into the hole meanwhile: then
	 * the table is mapped again, transparent throughout */
	munmap(a, HUGE);
	if (map_anon(a, HUGE, 1) || map_anon(a, HUGE, 0))
		return a;
	munmap(a + HUGE, map_len(n) - HUGE);
	return cr_mem_huge(n);
}

void
cr_mem_huge_free(void *p, size_t n)
{
	if (p != NULL && n != 0)
		munmap(p, map_len(n));
}

/* the file both views map: a hugetlb one (reserves its pages at the first
 * shared mapping) or, without, shared memory */
static int
mirror_file(size_t n, int reserved)
{
	int fd = reserved ? memfd_create("cr_mirror", MFD_CLOEXEC | MFD_HUGETLB |
							      (21u << MFD_HUGE_SHIFT))
			  : memfd_create("cr_mirror", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)n) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void *
cr_mem_mirror(size_t n)
{
	if (n == 0 || n % HUGE || n > SIZE_MAX / 4) {
		errno = EINVAL;
		return NULL;
	}
	for (int reserved = reserved_ok(); reserved >= 0; reserved--) {
		int fd = mirror_file(n, reserved);
		if (fd < 0)
			continue;
		/* 2n of address space, 2 MiB aligned, then the two views over it */
		uint8_t *r = mmap(NULL, 2 * n + HUGE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r == MAP_FAILED) {
			close(fd);
			return NULL;
		}
		uint8_t *a = (uint8_t *)(((uintptr_t)r + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
		if (a > r)
			munmap(r, (size_t)(a - r));
		munmap(a + 2 * n, (size_t)(r + HUGE - a));
		int ok = mmap(a, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == a &&
			 mmap(a + n, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
				 a + n;
		close(fd); /* the mappings hold the file */
		if (ok) {
			madvise(a, 2 * n, MADV_DONTFORK);
			return a;
		}
		munmap(a, 2 * n); /* the pool had too few pages free: shared memory */
	}
	return NULL;
}

void
cr_mem_mirror_free(void *p, size_t n)
{
	if (p != NULL && n != 0)
		munmap(p, 2 * n);
}

int
cr_mem_prefault(void *p, size_t n)
{
	if (n == 0)
		return 0;
	/* madvise takes whole pages: the ones [p, p + n) lies in */
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
	size_t len = (uintptr_t)p + n - a;
	if (madvise((void *)a, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno == ENOMEM || errno == EFAULT)
		return -errno;
	/* EINVAL: a kernel before 5.14; a write a page, inside [p, p + n) */
	for (uint8_t *q = p; q < (uint8_t *)p + n;
	     q = (uint8_t *)(((uintptr_t)q + PAGE) & ~(uintptr_t)(PAGE - 1)))
		*(volatile uint8_t *)q = *(volatile uint8_t *)q;
	return 0;
}
