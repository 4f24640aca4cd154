/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Keys and primitives that protect the store (OpenSSL libcrypto):
 *  - master keys (AES-256) in key files or from a KMS command; a keyring's
 *    first key wraps new data keys, the others only unwrap (rotation);
 *  - per-segment data keys wrapped in 96-byte key slots (AES-256-GCM, the
 *    segment header as associated data, so a slot cannot move to another
 *    segment);
 *  - AES-256-GCM sealing of blocks in place;
 *  - deterministic protection of index fields (AES-256-SIV: equal values
 *    give equal text, so exact search still works) or keyed hashes;
 *  - SHA-256 and Ed25519 for the manifest chain and the audit log.
 *
 * Ownership: a keyring owns its key bytes and wipes them in cr_keyring_wipe.
 * Thread-safety: keyrings are read-only after loading and may be shared;
 * every other object here is used by one thread at a time.
 * Errors: negative errno; messages for people go to the caller's err buffer
 * and never contain key material.
 */
#ifndef CR_CRYPT_H
#define CR_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#define CR_KEY_LEN 32
#define CR_KEYRING_MAX 16
#define CR_KSLOT_LEN 96
#define CR_GCM_TAG 16
#define CR_GCM_NONCE 12

struct cr_mkey {
	uint64_t id; /**< random, written in key slots; never secret */
	uint8_t key[CR_KEY_LEN];
};

struct cr_keyring {
	struct cr_mkey k[CR_KEYRING_MAX];
	unsigned n; /**< k[0] wraps new data keys */
};

/**
 * Load a key file: lines "callrec-key-v1 ID-HEX16 KEY-HEX64", '#' comments.
 * The file must be a regular file owned by this user (or root), with no
 * group or other permission bits. Keys are appended to kr.
 * @return 0, -EPERM (loose permissions or wrong owner), -EINVAL (malformed),
 * -ENOENT, -E2BIG (too many keys); err says which in words.
 */
int cr_keyring_load(struct cr_keyring *kr, const char *path, char *err, size_t errlen);
/** The same from the standard output of a command (KMS hook, via /bin/sh -c). */
int cr_keyring_load_cmd(struct cr_keyring *kr, const char *cmd, char *err, size_t errlen);
/** Create a key file with one new random key (mode 0600, never over a file). */
int cr_key_file_new(const char *path, uint64_t *id_out);
const struct cr_mkey *cr_keyring_find(const struct cr_keyring *kr, uint64_t id);
void cr_keyring_wipe(struct cr_keyring *kr);

/** A data key with its cipher context (reused across blocks). */
struct cr_dkey {
	uint8_t key[CR_KEY_LEN];
	void *ctx; /**< EVP_CIPHER_CTX, made on first use */
};
/** Fill dk with a new random key. */
int cr_dkey_new(struct cr_dkey *dk);
void cr_dkey_wipe(struct cr_dkey *dk);

/**
 * Key slot: "CRKS", version u8 (1), pad 3, master key id u64, nonce 12,
 * wrapped key 32, tag 16, zero padding to 96. An all-zero slot is empty.
 */
int cr_kslot_wrap(uint8_t slot[CR_KSLOT_LEN], const struct cr_mkey *mk, const struct cr_dkey *dk,
		  const uint8_t *aad, size_t aad_len);
/**
 * @return 0 and dk, -ENOENT (empty slot), -ENOKEY (no master key with the
 * slot's id), -EBADMSG (wrong key or slot/header altered), -EINVAL.
 */
int cr_kslot_unwrap(const uint8_t slot[CR_KSLOT_LEN], const struct cr_keyring *kr,
		    struct cr_dkey *dk, const uint8_t *aad, size_t aad_len);
/** @return the master key id a slot names (0 for an empty slot). */
uint64_t cr_kslot_key_id(const uint8_t slot[CR_KSLOT_LEN]);

/** AES-256-GCM in place; the tag goes to tag. @return 0 or -EIO. */
int cr_gcm_seal(struct cr_dkey *dk, const uint8_t nonce[CR_GCM_NONCE], const uint8_t *aad,
		size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[CR_GCM_TAG]);
/** @return 0, or -EBADMSG when the tag does not verify (buf is then garbage). */
int cr_gcm_open(struct cr_dkey *dk, const uint8_t nonce[CR_GCM_NONCE], const uint8_t *aad,
		size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[CR_GCM_TAG]);

/*
 * Index field protection. Text values become "~e" + hex (AES-256-SIV of the
 * value: deterministic, so equal values stay equal and searchable by
 * exact value) or "~h" + hex (HMAC-SHA-256, first 16 bytes: not reversible).
 * The field key is derived from a per-store secret that is itself stored
 * wrapped by the master key (STORE/index.key), so rotation re-wraps it.
 */
enum cr_pii_mode { CR_PII_PLAIN = 0, CR_PII_HASH = 1, CR_PII_ENCRYPT = 2 };
struct cr_fieldkey {
	enum cr_pii_mode mode;
	uint8_t enc[64]; /**< AES-256-SIV key (two halves) */
	uint8_t mac[32];
};
/** Derive field keys from a 32-byte secret. */
int cr_fieldkey_init(struct cr_fieldkey *fk, enum cr_pii_mode mode, const uint8_t secret[32]);
/** in (NUL-terminated) -> out. Empty strings stay empty. @return 0, -ENOSPC, -EIO. */
int cr_field_protect(const struct cr_fieldkey *fk, const char *in, char *out, size_t cap);
/**
 * out = the value: decrypted ("~e"), left as it is ("~h", plain text).
 * @return 0, -EBADMSG (does not decrypt), -ENOSPC.
 */
int cr_field_reveal(const struct cr_fieldkey *fk, const char *in, char *out, size_t cap);

/** SHA-256. */
void cr_sha256(const void *p, size_t len, uint8_t out[32]);
struct cr_sha256 {
	void *md; /**< EVP_MD_CTX */
};
int cr_sha256_init(struct cr_sha256 *h);
void cr_sha256_update(struct cr_sha256 *h, const void *p, size_t len);
void cr_sha256_final(struct cr_sha256 *h, uint8_t out[32]);
void cr_hex(const uint8_t *p, size_t n, char *out); /**< out: 2n + 1 bytes */
/** @return bytes decoded, or -EINVAL. */
int cr_unhex(const char *s, uint8_t *out, size_t cap);

/*
 * Ed25519 signing keys: PEM files (private 0600, public world-readable).
 */
struct cr_signer;
/** Write a new key pair to path and path.pub (never over a file). */
int cr_sign_new_files(const char *path);
/** Load a private key (same permission rule as key files) or a public key. */
int cr_sign_load(struct cr_signer **out, const char *path, int is_private, char *err, size_t errlen);
void cr_sign_free(struct cr_signer *s);
/** Signature of msg (64 bytes). */
int cr_sign(struct cr_signer *s, const void *msg, size_t len, uint8_t sig[64]);
/** @return 0 if valid, -EBADMSG otherwise. */
int cr_sign_verify(struct cr_signer *s, const void *msg, size_t len, const uint8_t sig[64]);

/** Random bytes from the OpenSSL DRBG. @return 0 or -EIO. */
int cr_random(void *p, size_t n);
/** Overwrite secrets (not optimised away). */
void cr_wipe(void *p, size_t n);

#endif /* CR_CRYPT_H */
