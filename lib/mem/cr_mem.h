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
 * Memory that is used whole (staging buffers, SQLite's page cache, chunk
 * buffer slabs) can come from the kernel's reserved hugepage pool instead
 * (cr_mem_dense(), once the process says the pool is its to use): those pages
 * stay with the machine when freed, while a freed transparent huge page goes
 * back to the page allocator and, in a VM with free page reporting, to the
 * host, so the next one costs host faults: about 3.5 ms a 2 MiB page on the
 * test VM against 0.3 ms from the pool. A reserved page is also a huge page
 * however fragmented memory is. A hugetlb mapping reserves its whole length
 * at once, so a table that fills from its start takes only its first huge
 * page from the pool (cr_mem_table()), and a table filled anywhere stays with
 * cr_mem_huge().
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

/** Let cr_mem_dense() take pages from the reserved hugepage pool (off by
 * default): for a process whose operator reserved hugepages for it (callrecd
 * when DPDK runs on them). Call it once the DPDK pools exist, which it must
 * not starve. */
void cr_mem_use_reserved(int on);

/** As cr_mem_huge(), for memory that will all be touched: from 1 MiB up,
 * from the reserved hugepage pool when allowed (cr_mem_use_reserved()) and
 * the pool has enough free (the pages are reserved at once: a touch never
 * finds the pool empty; the mapping is not inherited by fork()), else
 * cr_mem_huge(). Free with cr_mem_huge_free() and the same n. */
void *cr_mem_dense(size_t n);

/** As cr_mem_huge(), for a table that fills from its start (entries handed
 * out lowest first): its first 2 MiB from the reserved pool when allowed and
 * free (an import's whole table, most of the time; a table smaller than that
 * is cr_mem_dense()), the rest transparent. Free with cr_mem_huge_free(). */
void *cr_mem_table(size_t n);

/** Return memory from cr_mem_huge(), cr_mem_dense() or cr_mem_table() (NULL
 * is ignored). */
void cr_mem_huge_free(void *p, size_t n);

/** n bytes (a positive multiple of 2 MiB) mapped twice, back to back, 2 MiB
 * aligned: p[i] and p[i + n] are the same byte, so any run of up to n bytes
 * starting in [p, p + n) is contiguous (a ring whose records may cross its
 * end). Zeroed; from the reserved pool when allowed (cr_mem_use_reserved())
 * and free (reserved at once), else shared 4 KiB pages; not inherited by
 * fork(). Free with cr_mem_mirror_free() and the same n. NULL (errno). */
void *cr_mem_mirror(size_t n);

/** Return memory from cr_mem_mirror() (NULL is ignored). */
void cr_mem_mirror_free(void *p, size_t n);

/** Fault in the pages of [p, p + n) now, in one call (MADV_POPULATE_WRITE; any
 * alignment; its contents are kept; older kernels:
 * a write a page): for memory that will be used at once, where faulting at
 * first use would land in a packet path. 0, or -errno (-ENOMEM: no memory). */
int cr_mem_prefault(void *p, size_t n);

#endif
