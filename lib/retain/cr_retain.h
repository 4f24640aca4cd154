/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Retention: whole sealed segments are deleted when their retention class
 * says so, and the index rows they held with them; calls left without audio
 * are deleted once past retention too (their numbers are personal data).
 *
 * - A segment expires when its last packet is older than its class's days.
 * - A disk quota deletes the oldest segments first, but never one younger
 *   than its class's min_days: then the free-space guard of the writer stops
 *   new audio instead (nothing inside minimum retention is ever deleted).
 * - A legal hold on a call keeps every segment holding any of its audio, and
 *   its index rows, whatever the age. Holds live in STORE/holds (append-only
 *   text, fsync'd), so they survive an index rebuild.
 *
 * The clock is a parameter: callrecd passes the wall clock, tests a
 * simulated one. Not thread-safe per index handle; may run while callrecd
 * writes (it never touches an open segment). Errors: 0 or -errno.
 */
#ifndef CR_RETAIN_H
#define CR_RETAIN_H

#include <stdint.h>
#include <stdio.h>

#include "cr_index.h"

#define CR_RETAIN_MAX_CLASSES 8

struct cr_retain_class {
	char name[32];
	uint32_t days;	   /**< delete after this many days */
	uint32_t min_days; /**< the quota may delete after this many (<= days) */
};

struct cr_retain_policy {
	struct cr_retain_class cls[CR_RETAIN_MAX_CLASSES]; /**< [0] is the default class */
	unsigned n;
	uint64_t quota_bytes; /**< 0: no quota */
	/** deletions are entered in the store's manifest (when it has one), signed
	 * with this key (NULL: unsigned, which verify reports); not owned */
	struct cr_signer *signer;
};

struct cr_retain_report {
	uint64_t segments, bytes;	    /**< segments known, their bytes before */
	uint64_t expired, expired_bytes; /**< deleted: past retention */
	uint64_t quota, quota_bytes;	    /**< deleted: over quota (past min_days) */
	uint64_t held;			    /**< kept: legal hold */
	uint64_t calls;			    /**< call rows deleted */
	int over_quota;			    /**< still over quota: nothing more may go */
};

/** Defaults: one class "default" of 90 days (min 90), no quota. */
void cr_retain_defaults(struct cr_retain_policy *p);

/**
 * Parse "[retention]" keys: default = DAYS[/MIN_DAYS], NAME = DAYS[/MIN_DAYS]
 * (another class), quota = SIZE (K, M, G or T suffix). @return 0 or -EINVAL with a message in err.
 */
int cr_retain_set(struct cr_retain_policy *p, const char *key, const char *value, char *err,
		  size_t errlen);

/** Read the [retention] section of an INI file into p (on top of what p holds). */
int cr_retain_load(struct cr_retain_policy *p, const char *path, char *err, size_t errlen);
struct rte_cfgfile;
/** The same from a parsed configuration (after command-line overrides). */
int cr_retain_load_cfg(struct cr_retain_policy *p, struct rte_cfgfile *cf, char *err,
		       size_t errlen);

/** One pass at time now_ns. log (may be NULL) gets a line per deletion. */
int cr_retain_run(const char *store, struct cr_index *idx, const struct cr_retain_policy *p,
		  int64_t now_ns, int dry_run, struct cr_retain_report *r, FILE *log);

/** Put (hold = 1) or release (0) a legal hold on a call. */
int cr_hold_set(const char *store, uint64_t call_uid, const char *call_id, int hold,
		int64_t now_ns);
/** @return 1 if the call is held, 0 if not, -errno. */
int cr_hold_get(const char *store, uint64_t call_uid);

#endif /* CR_RETAIN_H */
