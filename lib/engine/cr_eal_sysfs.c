/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up: DPDK 22.11's EAL (linked statically) asks, for each of its 128
 * possible lcores, whether /sys/devices/system/node/node<N>/cpu<C> exists for
 * each of its 32 possible NUMA nodes until one does, and whether
 * /sys/devices/system/cpu/cpu<C>/topology/core_id exists, several times over:
 * about 5,000 access() calls on sysfs, nearly all failing, each a path walk
 * (4 ms of CPU at every start, measured: 1.3 % of a 200-call import).
 *
 * The linker's --wrap=access (meson.build, static DPDK only) sends every
 * access() of this executable's own objects here. Those two path shapes,
 * asked with F_OK, are answered from one listing of the node and CPU
 * directories; only the directories listed are probed for core_id, with the
 * real call, so every answer is what access() would say (a CPU hot-added
 * while the process starts aside). Everything else goes to the C library.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int __real_access(const char *path, int mode);
int __wrap_access(const char *path, int mode);

#define MAX_NODES 1024
#define MAX_CPUS 8192
#define NODE_DIR "/sys/devices/system/node"
#define CPU_DIR "/sys/devices/system/cpu"

static uint64_t *node_cpus[MAX_NODES];	/* bit c: node<n>/cpu<c> exists */
static uint64_t core_id[MAX_CPUS / 64]; /* bit c: cpu<c>/topology/core_id exists */
static int listed;			/* 1: both listings are complete */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* "<prefix><digits>" exactly: the number, or -1 */
static long
num_after(const char *s, const char *prefix, const char **end)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl) != 0 || s[pl] < '0' || s[pl] > '9')
		return -1;
	char *e;
	errno = 0;
	unsigned long v = strtoul(s + pl, &e, 10);
	if (errno || v > 1000000)
		return -1;
	if (end)
		*end = e;
	else if (*e)
		return -1;
	return (long)v;
}

static void
list(void)
{
	DIR *d = opendir(NODE_DIR);
	if (d == NULL)
		return;
	struct dirent *de;
	int ok = 1;
	while (ok && (de = readdir(d)) != NULL) {
		long n = num_after(de->d_name, "node", NULL);
		if (n < 0)
			continue;
		char p[sizeof(NODE_DIR) + 32];
		snprintf(p, sizeof(p), NODE_DIR "/node%ld", n);
		DIR *nd = n < MAX_NODES ? opendir(p) : NULL;
		if (nd == NULL || (node_cpus[n] = calloc(MAX_CPUS / 64, 8)) == NULL) {
			ok = 0;
		} else {
			struct dirent *ce;
			while ((ce = readdir(nd)) != NULL) {
				long c = num_after(ce->d_name, "cpu", NULL);
				if (c >= 0 && c < MAX_CPUS)
					node_cpus[n][c / 64] |= 1ull << (c % 64);
				else if (c >= MAX_CPUS)
					ok = 0;
			}
		}
		if (nd)
			closedir(nd);
	}
	closedir(d);
	if (ok && (d = opendir(CPU_DIR)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			long c = num_after(de->d_name, "cpu", NULL);
			if (c >= MAX_CPUS)
				ok = 0;
			if (c < 0 || c >= MAX_CPUS)
				continue;
			char p[sizeof(CPU_DIR) + 48];
			snprintf(p, sizeof(p), CPU_DIR "/cpu%ld/topology/core_id", c);
			if (__real_access(p, F_OK) == 0)
				core_id[c / 64] |= 1ull << (c % 64);
		}
		closedir(d);
		listed = ok;
	}
}

int
__wrap_access(const char *path, int mode)
{
	const char *e;
	long n = -1, c = -1;
	if (mode != F_OK)
		return __real_access(path, mode);
	if ((n = num_after(path, NODE_DIR "/node", &e)) >= 0 && n < MAX_NODES)
		c = num_after(e, "/cpu", NULL);
	else if ((c = num_after(path, CPU_DIR "/cpu", &e)) >= 0 &&
		 strcmp(e, "/topology/core_id") != 0)
		c = -1;
	if (c < 0 || c >= MAX_CPUS)
		return __real_access(path, mode);
	pthread_once(&once, list);
	if (!listed)
		return __real_access(path, mode);
	const uint64_t *bits = n >= 0 ? node_cpus[n] : core_id;
	if (bits && bits[c / 64] & (1ull << (c % 64)))
		return 0;
	errno = ENOENT;
	return -1;
}
