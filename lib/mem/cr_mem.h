/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Process memory for large tables that are filled as they are used (stream,
 * call and media pools, chunk buffers, SQLite's page cache, staging buffers).
 *
 * Why: the first touch of a 4 KiB page is a fault; in a virtual machine
 * with shadow page tables one costs about 12 us, and an import touched some
 * 2,500 of them. A transparent huge page costs one fault per 2 MiB. Memory
 * from cr_mem_huge() is 2 MiB aligned and advised for huge pages (advice:
 * where THP is off, or no huge page is free, the kernel uses 4 KiB pages);
 * it is zero and reserves no physical memory until touched.
 *
 * Threading: all functions are thread-safe (they only call the kernel).
 * Errors: NULL with errno set, or a negative errno.
 */
#ifndef CR_MEM_H
#define CR_MEM_H

#include <stddef.h>

/** n bytes of zeroed memory, 2 MiB aligned, advised for huge pages (from
 * 1 MiB up the mapping is rounded up to whole huge pages); NULL (errno) when
 * the address space is exhausted. Free with cr_mem_huge_free() and the same
 * n. */
void *cr_mem_huge(size_t n);

/** Return memory from cr_mem_huge() (NULL is ignored). */
void cr_mem_huge_free(void *p, size_t n);

/** Fault in the pages of [p, p + n) now, in one call (MADV_POPULATE_WRITE; any
 * alignment; its contents are kept; older kernels:
 * a write a page): for memory that will be used at once, where faulting at
 * first use would land in a packet path. 0, or -errno (-ENOMEM: no memory). */
int cr_mem_prefault(void *p, size_t n);

#endif
