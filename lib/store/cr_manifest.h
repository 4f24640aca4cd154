/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Manifest: an append-only, hash-chained and signed list of what happened to
 * segments (STORE/manifest.log), so that an offline verifier with only the
 * public key finds any changed, removed, reordered, truncated or added segment.
 *
 * One line per event, text:
 *   v1 N TIME_NS OP REL SIZE SHA256 CHAIN SIG
 * OP: seal (a segment became sealed: its size and digest), delete (retention
 * or a hold release removed it: its size, digest zero), start / stop (a writer run began / ended
 * cleanly; REL, SIZE and SHA256 are "-", 0, zeros). CHAIN = SHA-256 of the
 * previous line's CHAIN (32 zero bytes for line 1) and the line's first seven
 * fields; SIG = Ed25519 over CHAIN ("-" when no signing key was configured).
 *
 * A segment's digest is SHA-256 over the whole file except its key slots
 * (rotation rewrites them; the slots authenticate themselves with GCM).
 *
 * Thread- and process-safe: every append takes an exclusive flock, reads the
 * last line's chain and fdatasyncs the new line. Errors: negative errno.
 */
#ifndef CR_MANIFEST_H
#define CR_MANIFEST_H

#include <stdint.h>

#include "cr_crypt.h"

struct cr_manifest_entry {
	uint64_t n;
	int64_t t_ns;
	char op[8];
	char rel[128];
	uint64_t size;
	uint8_t digest[32];
};

/*
 * Chained logs (the manifest, the audit log): lines "v1 N REST CHAIN SIG".
 */
/** Append "v1 N rest" (no newline in rest) under an exclusive flock, fdatasync. @return N or -errno. */
int64_t cr_chainlog_append(const char *path, struct cr_signer *sk, const char *rest);
/** body: "v1 N REST" of a line whose chain (and signature, with pk) verified. */
typedef int (*cr_chainlog_cb)(void *ctx, uint64_t n, const char *body);
/**
 * Verify and visit every line. @return 0 (*lines = lines read), -EBADMSG
 * (a line does not parse or its chain does not follow: *lines = its number),
 * -EKEYREJECTED (unsigned or badly signed, with pk), -ENOENT, cb's value.
 */
int cr_chainlog_read(const char *path, struct cr_signer *pk, cr_chainlog_cb cb, void *ctx,
		     uint64_t *lines);

/** Digest of a segment file as the manifest records it. */
int cr_seg_digest(const char *path, uint8_t out[32], uint64_t *size);

/**
 * Append an event (signed with sk when not NULL). digest may be NULL (zeros);
 * t_ns 0: now (wall clock).
 * @return the line number, or -errno.
 */
int64_t cr_manifest_append(const char *store, struct cr_signer *sk, const char *op,
			   const char *rel, uint64_t size, const uint8_t *digest, int64_t t_ns);

/**
 * Visit every line in order. The chain is recomputed as it goes; a line that
 * does not parse or whose chain does not follow stops the walk with
 * -EBADMSG and *bad_line set. Signatures are checked when pk is not NULL
 * (-EKEYREJECTED on the first bad one, or a missing one).
 * @return 0, cb's non-zero value, -ENOENT (no manifest), -errno.
 */
typedef int (*cr_manifest_cb)(void *ctx, const struct cr_manifest_entry *e);
int cr_manifest_read(const char *store, struct cr_signer *pk, cr_manifest_cb cb, void *ctx,
		     uint64_t *bad_line);

/*
 * Audit log (STORE/audit.log): a chained log of who did what to recordings:
 *   v1 N TIME_NS ACTOR ACTION OBJECT DETAIL CHAIN -
 * ACTOR "user:NAME(UID)" (local user), "ctl:UID" (control socket peer) or
 * "callrecd"; ACTION export, show, hold, release, delete, keys-rotate,
 * fsck-repair, rebuild-index, config, start, ctl-*; OBJECT a call uid/Call-ID
 * or a path. Words are %-escaped (no spaces). Tools refuse to act when the
 * audit line cannot be written (fail closed).
 */
int cr_audit(const char *store, const char *actor, const char *action, const char *object,
	     const char *detail);
/** "user:NAME(UID)" of the calling process. */
void cr_audit_actor(char *out, size_t cap);

#endif /* CR_MANIFEST_H */
