/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Store consistency: verify, recover after a crash, rebuild the index.
 *
 * The segment files are the truth: data segments hold every chunk (with its
 * stream and call ids), meta segments every call, stream and loss record the
 * index committed. The index is a cache of both, and can be rebuilt from them.
 *
 * Not thread-safe per store: run while no other process writes the store
 * (callrecd runs cr_fsck_recover() itself before it starts writing).
 * Errors: 0 or -errno; findings are counted in the report, not returned.
 */
#ifndef CR_FSCK_H
#define CR_FSCK_H

#include <stdint.h>
#include <stdio.h>

#include "cr_index.h"

#define CR_FSCK_MAX_MSGS 64

struct cr_fsck_report {
	/* segment files */
	uint64_t segments, data_segments, meta_segments;
	uint64_t sealed, unsealed; /**< unsealed: crashed writer, recoverable */
	uint64_t failed;	   /**< marked failed by the writer (write/fsync error) */
	uint64_t bad_headers, bad_footers;
	uint64_t blocks, bad_blocks, bad_blocks_sealed;
	uint64_t chunks, bad_chunks, records, bad_records;
	uint64_t torn_bytes; /**< after the last good block of unsealed segments */
	uint64_t encrypted;    /**< segments with key slots */
	uint64_t locked;       /**< encrypted segments no given key opens */
	uint64_t key_rejected; /**< key slots or blocks that fail authentication (errors) */
	uint64_t index_unverified_chunks; /**< rows in locked segments */
	/* index against segments */
	uint64_t index_segments, index_chunks;
	uint64_t index_bad_chunks;    /**< rows whose chunk is missing or damaged */
	uint64_t index_missing_files; /**< segments the index names that do not exist */
	uint64_t unindexed_segments;  /**< segment files the index does not name */
	/* recovery / rebuild */
	uint64_t recovered, quarantined_bytes, replayed_chunks, replayed_records;
	/* verify (tamper evidence) */
	uint64_t manifest_lines, manifest_sealed, manifest_deleted;
	uint64_t changed_segments;  /**< digest or size differs from the manifest */
	uint64_t removed_segments;  /**< in the manifest, sealed, file gone */
	uint64_t unlisted_segments; /**< sealed files the manifest does not list */
	uint64_t index_rows_differ; /**< index rows that differ from the signed segments */
	/** errors: damage in sealed data or index rows that point nowhere */
	uint64_t errors;
	uint32_t n_msgs;
	char msgs[CR_FSCK_MAX_MSGS][240];
};

/** Verify every segment and every index row (read-only). */
int cr_fsck_check(const char *store, struct cr_fsck_report *r);

/**
 * Crash recovery: every segment the index does not know as sealed or failed
 * is sealed up to its last good block (the rest quarantined under
 * STORE/quarantine/), and its chunks and records are (re)entered into idx.
 * Idempotent.
 */
int cr_fsck_recover(const char *store, struct cr_index *idx, struct cr_fsck_report *r);

/** Build a new index at index_path (must not exist) from the segments alone. */
int cr_fsck_rebuild(const char *store, const char *index_path, struct cr_fsck_report *r);

struct cr_signer;
/**
 * Tamper evidence: the manifest's chain (and every line's signature with
 * pk), every segment file against the manifest (digest, size; listed ones
 * removed, sealed ones unlisted), and, when check_index and the files are
 * clean, every calls/streams/chunks/losses row of the index against an index
 * rebuilt from the segments (needs the keys of an encrypted store).
 */
int cr_fsck_verify(const char *store, struct cr_signer *pk, int check_index,
		   struct cr_fsck_report *r);

/** Print the report in plain words (json = 0) or as one JSON object. */
void cr_fsck_print(FILE *f, const struct cr_fsck_report *r, int json);

#endif /* CR_FSCK_H */
