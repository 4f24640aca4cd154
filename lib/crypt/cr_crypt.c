/* SPDX-License-Identifier: BSD-3-Clause */
/* Key files, key slots, AES-256-GCM blocks, index field protection, SHA-256
 * and Ed25519 over OpenSSL 3 libcrypto. */
#include "cr_crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define KEY_TAG "callrec-key-v1"

void
cr_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int
cr_random(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -EIO;
}

void
cr_hex(const uint8_t *p, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[p[i] >> 4];
		out[2 * i + 1] = h[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int
nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cr_unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int a = nib(s[2 * i]), b = nib(s[2 * i + 1]);
		if (a < 0 || b < 0)
			return -EINVAL;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return (int)(n / 2);
}

/* ---- key files ---- */

static int
parse_keys(struct cr_keyring *kr, char *text, const char *what, char *err, size_t errlen)
{
	unsigned line = 0, added = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l == '#' || *l == 0 || *l == '\r')
			continue;
		char tag[32], idh[40], keyh[80];
		if (sscanf(l, "%31s %39s %79s", tag, idh, keyh) != 3 || strcmp(tag, KEY_TAG) != 0 ||
		    strlen(idh) != 16 || strlen(keyh) != 64) {
			snprintf(err, errlen, "%s: line %u is not '" KEY_TAG " ID KEY'", what, line);
			return -EINVAL;
		}
		if (kr->n == CR_KEYRING_MAX) {
			snprintf(err, errlen, "%s: more than %d keys", what, CR_KEYRING_MAX);
			return -E2BIG;
		}
		uint8_t idb[8];
		struct cr_mkey *k = &kr->k[kr->n];
		if (cr_unhex(idh, idb, 8) != 8 || cr_unhex(keyh, k->key, CR_KEY_LEN) != CR_KEY_LEN) {
			cr_wipe(k->key, CR_KEY_LEN);
			snprintf(err, errlen, "%s: line %u: bad hex", what, line);
			return -EINVAL;
		}
		k->id = 0;
		for (int i = 0; i < 8; i++)
			k->id = k->id << 8 | idb[i];
		if (k->id == 0 || cr_keyring_find(kr, k->id) != NULL) {
			snprintf(err, errlen, "%s: line %u: key id zero or repeated", what, line);
			return -EINVAL;
		}
		kr->n++;
		added++;
	}
	if (added == 0) {
		snprintf(err, errlen, "%s: no key in it", what);
		return -EINVAL;
	}
	return 0;
}

int
cr_keyring_load(struct cr_keyring *kr, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "key file %s: not a regular file", path);
		return -EINVAL;
	}
	if ((st.st_mode & 077) != 0 || (st.st_uid != geteuid() && st.st_uid != 0)) {
		close(fd);
		snprintf(err, errlen,
			 "key file %s: mode %03o owner %u: must be readable by its owner only "
			 "(chmod 600) and owned by this user or root",
			 path, (unsigned)(st.st_mode & 0777), (unsigned)st.st_uid);
		return -EPERM;
	}
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n == (ssize_t)sizeof(buf) - 1) {
		cr_wipe(buf, sizeof(buf));
		snprintf(err, errlen, "key file %s: unreadable or too large", path);
		return -EINVAL;
	}
	buf[n] = 0;
	int r = parse_keys(kr, buf, path, err, errlen);
	cr_wipe(buf, sizeof(buf));
	return r;
}

int
cr_keyring_load_cmd(struct cr_keyring *kr, const char *cmd, char *err, size_t errlen)
{
	FILE *p = popen(cmd, "re");
	if (p == NULL) {
		snprintf(err, errlen, "key command: cannot run");
		return -errno;
	}
	char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	int st = pclose(p);
	buf[n] = 0;
	int r;
	if (st != 0) {
		snprintf(err, errlen, "key command: exited with status %d", st);
		r = -EIO;
	} else {
		r = parse_keys(kr, buf, "key command", err, errlen);
	}
	cr_wipe(buf, sizeof(buf));
	return r;
}

int
cr_key_file_new(const char *path, uint64_t *id_out)
{
	struct cr_mkey k;
	uint8_t idb[8];
	do {
		if (cr_random(idb, 8) != 0 || cr_random(k.key, CR_KEY_LEN) != 0)
			return -EIO;
	} while (!(idb[0] | idb[1] | idb[2] | idb[3] | idb[4] | idb[5] | idb[6] | idb[7]));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		cr_wipe(&k, sizeof(k));
		return -errno;
	}
	char idh[17], keyh[65], line[320];
	cr_hex(idb, 8, idh);
	cr_hex(k.key, CR_KEY_LEN, keyh);
	int n = snprintf(line, sizeof(line),
			 "# callrec master key: keep secret, keep a copy offline; losing it loses "
			 "every recording it wraps\n" KEY_TAG " %s %s\n",
			 idh, keyh);
	int r = write(fd, line, (size_t)n) == n && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	cr_wipe(keyh, sizeof(keyh));
	cr_wipe(line, sizeof(line));
	cr_wipe(&k, sizeof(k));
	if (r == 0 && id_out) {
		*id_out = 0;
		for (int i = 0; i < 8; i++)
			*id_out = *id_out << 8 | idb[i];
	}
	return r;
}

const struct cr_mkey *
cr_keyring_find(const struct cr_keyring *kr, uint64_t id)
{
	for (unsigned i = 0; kr && i < kr->n; i++)
		if (kr->k[i].id == id)
			return &kr->k[i];
	return NULL;
}

void
cr_keyring_wipe(struct cr_keyring *kr)
{
	cr_wipe(kr, sizeof(*kr));
}

/* ---- GCM ---- */

static EVP_CIPHER_CTX *
gcm_ctx(struct cr_dkey *dk)
{
	if (dk->ctx == NULL)
		dk->ctx = EVP_CIPHER_CTX_new();
	return dk->ctx;
}

int
cr_dkey_new(struct cr_dkey *dk)
{
	return cr_random(dk->key, CR_KEY_LEN);
}

void
cr_dkey_wipe(struct cr_dkey *dk)
{
	if (dk->ctx)
		EVP_CIPHER_CTX_free(dk->ctx);
	cr_wipe(dk, sizeof(*dk));
}

static int
gcm(EVP_CIPHER_CTX *c, int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
    size_t aad_len, const uint8_t *in, uint8_t *out, size_t len, uint8_t *tag)
{
	int l;
	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1)
		return -EIO;
	if (aad_len && EVP_CipherUpdate(c, NULL, &l, aad, (int)aad_len) != 1)
		return -EIO;
	while (len) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		if (EVP_CipherUpdate(c, out, &l, in, chunk) != 1)
			return -EIO;
		in += chunk;
		out += chunk;
		len -= (size_t)chunk;
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CR_GCM_TAG, tag) != 1)
		return -EIO;
	if (EVP_CipherFinal_ex(c, out, &l) != 1)
		return enc ? -EIO : -EBADMSG;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CR_GCM_TAG, tag) != 1)
		return -EIO;
	return 0;
}

int
cr_gcm_seal(struct cr_dkey *dk, const uint8_t nonce[CR_GCM_NONCE], const uint8_t *aad,
	    size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[CR_GCM_TAG])
{
	return gcm(gcm_ctx(dk), 1, dk->key, nonce, aad, aad_len, buf, buf, len, tag);
}

int
cr_gcm_open(struct cr_dkey *dk, const uint8_t nonce[CR_GCM_NONCE], const uint8_t *aad,
	    size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[CR_GCM_TAG])
{
	uint8_t t[CR_GCM_TAG];
	memcpy(t, tag, sizeof(t));
	return gcm(gcm_ctx(dk), 0, dk->key, nonce, aad, aad_len, buf, buf, len, t);
}

/* ---- key slots ---- */

static void
w64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
r64be(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

uint64_t
cr_kslot_key_id(const uint8_t slot[CR_KSLOT_LEN])
{
	return memcmp(slot, "CRKS", 4) == 0 ? r64be(slot + 8) : 0;
}

/* the slot's own fixed fields are authenticated with the header */
static int
slot_aad(uint8_t *buf, size_t cap, const uint8_t *slot, const uint8_t *aad, size_t aad_len)
{
	if (aad_len + 16 > cap)
		return -EINVAL;
	memcpy(buf, slot, 16);
	memcpy(buf + 16, aad, aad_len);
	return (int)(aad_len + 16);
}

int
cr_kslot_wrap(uint8_t slot[CR_KSLOT_LEN], const struct cr_mkey *mk, const struct cr_dkey *dk,
	      const uint8_t *aad, size_t aad_len)
{
	memset(slot, 0, CR_KSLOT_LEN);
	memcpy(slot, "CRKS", 4);
	slot[4] = 1;
	w64be(slot + 8, mk->id);
	if (cr_random(slot + 16, CR_GCM_NONCE) != 0)
		return -EIO;
	uint8_t a[512];
	int al = slot_aad(a, sizeof(a), slot, aad, aad_len);
	if (al < 0)
		return al;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int r = gcm(c, 1, mk->key, slot + 16, a, (size_t)al, dk->key, slot + 28, CR_KEY_LEN,
		    slot + 60);
	EVP_CIPHER_CTX_free(c);
	return r;
}

int
cr_kslot_unwrap(const uint8_t slot[CR_KSLOT_LEN], const struct cr_keyring *kr, struct cr_dkey *dk,
		const uint8_t *aad, size_t aad_len)
{
	static const uint8_t zero[CR_KSLOT_LEN];
	if (memcmp(slot, zero, CR_KSLOT_LEN) == 0)
		return -ENOENT;
	/* fixed fields and padding are part of the format: any other byte is an edit */
	if (memcmp(slot, "CRKS", 4) != 0 || slot[4] != 1 || slot[5] || slot[6] || slot[7] ||
	    memcmp(slot + 76, zero, CR_KSLOT_LEN - 76) != 0)
		return -EINVAL;
	const struct cr_mkey *mk = cr_keyring_find(kr, r64be(slot + 8));
	if (mk == NULL)
		return -ENOKEY;
	uint8_t a[512], tag[CR_GCM_TAG];
	int al = slot_aad(a, sizeof(a), slot, aad, aad_len);
	if (al < 0)
		return al;
	memcpy(tag, slot + 60, sizeof(tag));
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t k[CR_KEY_LEN];
	int r = gcm(c, 0, mk->key, slot + 16, a, (size_t)al, slot + 28, k, CR_KEY_LEN, tag);
	EVP_CIPHER_CTX_free(c);
	if (r == 0)
		memcpy(dk->key, k, CR_KEY_LEN);
	cr_wipe(k, sizeof(k));
	return r;
}

/* ---- index fields ---- */

int
cr_fieldkey_init(struct cr_fieldkey *fk, enum cr_pii_mode mode, const uint8_t secret[32])
{
	/* two independent keys from one secret: HMAC(secret, label) */
	unsigned l = 0;
	memset(fk, 0, sizeof(*fk));
	fk->mode = mode;
	if (HMAC(EVP_sha256(), secret, 32, (const uint8_t *)"callrec siv 1", 13, fk->enc, &l) ==
		    NULL ||
	    HMAC(EVP_sha256(), secret, 32, (const uint8_t *)"callrec siv 2", 13, fk->enc + 32,
		 &l) == NULL ||
	    HMAC(EVP_sha256(), secret, 32, (const uint8_t *)"callrec mac", 11, fk->mac, &l) ==
		    NULL)
		return -EIO;
	return 0;
}

static int
siv(const struct cr_fieldkey *fk, int enc, const uint8_t *in, size_t len, uint8_t *out,
    uint8_t tag[16])
{
	EVP_CIPHER *ci = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l, r = -EIO;
	if (ci && c && EVP_CipherInit_ex2(c, ci, fk->enc, NULL, enc, NULL) == 1 &&
	    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1) &&
	    EVP_CipherUpdate(c, out, &l, in, (int)len) == 1) {
		r = EVP_CipherFinal_ex(c, out + l, &l) == 1 ? 0 : -EBADMSG;
		if (r == 0 && enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
			r = -EIO;
	} else if (!enc) {
		r = -EBADMSG;
	}
	EVP_CIPHER_CTX_free(c);
	EVP_CIPHER_free(ci);
	return r;
}

int
cr_field_protect(const struct cr_fieldkey *fk, const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	if (fk == NULL || fk->mode == CR_PII_PLAIN || n == 0) {
		if (n >= cap)
			return -ENOSPC;
		memcpy(out, in, n + 1);
		return 0;
	}
	uint8_t b[16 + 512];
	if (fk->mode == CR_PII_HASH) {
		unsigned l = 0;
		if (cap < 3 + 32 + 1 ||
		    HMAC(EVP_sha256(), fk->mac, 32, (const uint8_t *)in, n, b, &l) == NULL)
			return cap < 36 ? -ENOSPC : -EIO;
		memcpy(out, "~h", 2);
		cr_hex(b, 16, out + 2);
		return 0;
	}
	if (n > 512 || cap < 2 + 2 * (16 + n) + 1)
		return -ENOSPC;
	int r = siv(fk, 1, (const uint8_t *)in, n, b + 16, b);
	if (r != 0)
		return r;
	memcpy(out, "~e", 2);
	cr_hex(b, 16 + n, out + 2);
	return 0;
}

int
cr_field_reveal(const struct cr_fieldkey *fk, const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	if (fk == NULL || strncmp(in, "~e", 2) != 0) {
		if (n >= cap)
			return -ENOSPC;
		memcpy(out, in, n + 1);
		return 0;
	}
	uint8_t b[16 + 512];
	int bl = cr_unhex(in + 2, b, sizeof(b));
	if (bl < 16)
		return -EBADMSG;
	if ((size_t)bl - 16 >= cap)
		return -ENOSPC;
	int r = siv(fk, 0, b + 16, (size_t)bl - 16, (uint8_t *)out, b);
	if (r != 0)
		return -EBADMSG;
	out[bl - 16] = 0;
	return 0;
}

/* ---- SHA-256 ---- */

void
cr_sha256(const void *p, size_t len, uint8_t out[32])
{
	unsigned l = 32;
	EVP_Digest(p, len, out, &l, EVP_sha256(), NULL);
}

int
cr_sha256_init(struct cr_sha256 *h)
{
	h->md = EVP_MD_CTX_new();
	if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	return 0;
}

void
cr_sha256_update(struct cr_sha256 *h, const void *p, size_t len)
{
	EVP_DigestUpdate(h->md, p, len);
}

void
cr_sha256_final(struct cr_sha256 *h, uint8_t out[32])
{
	unsigned l = 32;
	EVP_DigestFinal_ex(h->md, out, &l);
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

/* ---- Ed25519 ---- */

struct cr_signer {
	EVP_PKEY *pk;
};

int
cr_sign_new_files(const char *path)
{
	char pub[4096];
	if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", path) >= sizeof(pub))
		return -ENAMETOOLONG;
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL)
		return -EIO;
	int r = -EIO;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int pfd = fd >= 0 ? open(pub, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
	if (fd < 0 || pfd < 0) {
		r = -errno;
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		EVP_PKEY_free(pk);
		return r;
	}
	FILE *f = fdopen(fd, "w"), *pf = fdopen(pfd, "w");
	if (f && pf && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1 &&
	    PEM_write_PUBKEY(pf, pk) == 1 && fflush(f) == 0 && fflush(pf) == 0 &&
	    fsync(fileno(f)) == 0 && fsync(fileno(pf)) == 0)
		r = 0;
	if (f)
		fclose(f);
	else
		close(fd);
	if (pf)
		fclose(pf);
	else
		close(pfd);
	EVP_PKEY_free(pk);
	return r;
}

int
cr_sign_load(struct cr_signer **out, const char *path, int is_private, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (is_private && (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0 ||
			   (st.st_uid != geteuid() && st.st_uid != 0))) {
		close(fd);
		snprintf(err, errlen,
			 "signing key %s: must be readable by its owner only (chmod 600) and "
			 "owned by this user or root",
			 path);
		return -EPERM;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return -ENOMEM;
	}
	EVP_PKEY *pk = is_private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
				  : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pk);
		snprintf(err, errlen, "%s: not an Ed25519 %s key in PEM", path,
			 is_private ? "private" : "public");
		return -EINVAL;
	}
	*out = calloc(1, sizeof(**out));
	if (*out == NULL) {
		EVP_PKEY_free(pk);
		return -ENOMEM;
	}
	(*out)->pk = pk;
	return 0;
}

void
cr_sign_free(struct cr_signer *s)
{
	if (s) {
		EVP_PKEY_free(s->pk);
		free(s);
	}
}

int
cr_sign(struct cr_signer *s, const void *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t sl = 64;
	int r = c && EVP_DigestSignInit(c, NULL, NULL, NULL, s->pk) == 1 &&
			EVP_DigestSign(c, sig, &sl, msg, len) == 1 && sl == 64
		    ? 0
		    : -EIO;
	EVP_MD_CTX_free(c);
	return r;
}

int
cr_sign_verify(struct cr_signer *s, const void *msg, size_t len, const uint8_t sig[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, s->pk) == 1 &&
			EVP_DigestVerify(c, sig, 64, msg, len) == 1
		    ? 0
		    : -EBADMSG;
	EVP_MD_CTX_free(c);
	return r;
}
