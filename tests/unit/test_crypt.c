/* SPDX-License-Identifier: BSD-3-Clause */
/* Protection of the store: AES-256-GCM known answers; the encrypted block
 * format (a known answer for a fixed key, and every flipped byte, moved
 * block or altered header refused); key slots (wrong key, wrong id, moved
 * slot); key files (permissions, malformed lines); index field protection;
 * Ed25519 and chained logs (edits, reorders, truncation found); an
 * encrypted segment written, walked with and without keys, its keys rotated
 * and shredded. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cr_crypt.h"
#include "cr_manifest.h"
#include "cr_store.h"
#include "cr_test.h"

/* CRBK, lengths 80/64, CRC32C of the ciphertext, flags 3 (stored, encrypted),
 * AES-256-GCM of 00..3f under key 00..1f with nonce = offset 4096 LE, tag
 * (checked against the Python cryptography package's AESGCM) */
#define BLOCK_KAT                                                                          \
	"4352424b50000000400000006c1a8c370000030000000000b6184d3813b08319945f3b4d14404203c88c11d4" \
	"9d2ca539a61e31dcc82235ee115de234d6e91f6f9ea3e585918eddbd3010b0a749fb2398a5be29d6b2f75281" \
	"acfdc1105849b7278fd828e58a53af41"

static char dir[] = "/tmp/cr-test-crypt-XXXXXX";

static void
put_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void
test_gcm_kat(void)
{
	/* GCM specification (McGrew & Viega), test case 14: AES-256, K = IV = P = 0 */
	struct cr_dkey dk;
	memset(&dk, 0, sizeof(dk));
	uint8_t nonce[12] = {0}, buf[16] = {0}, tag[16];
	CHECK_EQ(cr_gcm_seal(&dk, nonce, NULL, 0, buf, sizeof(buf), tag), 0);
	uint8_t c[16], t[16];
	CHECK_EQ(cr_unhex("cea7403d4d606b6e074ec5d3baf39d18", c, 16), 16);
	CHECK_EQ(cr_unhex("d0d1c8a799996bf0265b98b5d48ab919", t, 16), 16);
	CHECK(memcmp(buf, c, 16) == 0);
	CHECK(memcmp(tag, t, 16) == 0);
	CHECK_EQ(cr_gcm_open(&dk, nonce, NULL, 0, buf, sizeof(buf), tag), 0);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(buf[i], 0);
	tag[3] ^= 1;
	CHECK_EQ(cr_gcm_open(&dk, nonce, NULL, 0, buf, sizeof(buf), tag), -EBADMSG);
	cr_dkey_wipe(&dk);
}

/* a block of two chunks of known content */
static int
make_block(uint8_t *blk, size_t cap)
{
	static uint8_t chunk[2048], raw[4096];
	uint32_t rl = 0;
	for (int c = 0; c < 2; c++) {
		struct cr_chunk_hdr h = {.stream_uid = (uint64_t)c + 1, .call_uid = 7, .ssrc = 0x1234};
		struct cr_chunk_writer cw;
		CHECK_EQ(cr_chunk_begin(&cw, chunk, sizeof(chunk), &h), 0);
		uint8_t pl[160];
		for (int i = 0; i < 8; i++) {
			for (int k = 0; k < 160; k++)
				pl[k] = (uint8_t)(k * 7 + i * 13 + c);
			CHECK_EQ(cr_chunk_add(&cw, (uint16_t)i, (uint32_t)i * 160,
					      1700000000000000000LL + i * 20000000LL, 0, 0, pl, 160),
				 0);
		}
		uint32_t l = cr_chunk_finish(&cw);
		memcpy(raw + rl, chunk, l);
		rl += l;
	}
	return cr_block_encode(raw, rl, 2, blk, (uint32_t)cap);
}

static void
test_block_format(void)
{
	static uint8_t blk[8192], sealed[8192], work[8192], raw[8192], plain_raw[8192];
	int bl = make_block(blk, sizeof(blk) - 16);
	CHECK(bl > 0);
	int pr = cr_block_decode(blk, (size_t)bl, plain_raw, sizeof(plain_raw));
	CHECK(pr > 0);
	struct cr_dkey dk;
	memset(&dk, 0, sizeof(dk));
	for (int i = 0; i < 32; i++)
		dk.key[i] = (uint8_t)i;
	memcpy(sealed, blk, (size_t)bl);
	int sl = cr_block_seal(sealed, (uint32_t)bl, &dk, 4096);
	CHECK_EQ(sl, bl + 16);
	CHECK(cr_block_is_sealed(sealed));
	/* known answer: a hand-made stored block (no lz4 in it) sealed with a
	 * fixed key at a fixed offset: the on-disk format does not drift */
	uint8_t kb[24 + 64 + 16];
	memset(kb, 0, sizeof(kb));
	memcpy(kb, "CRBK", 4);
	kb[4] = 64;		  /* stored length */
	kb[8] = 64;		  /* raw length */
	kb[18] = 1;		  /* flags: stored as is */
	for (int i = 0; i < 64; i++)
		kb[24 + i] = (uint8_t)i;
	uint32_t kc = cr_crc32c(kb, 24, 0);
	kc = cr_crc32c(kb + 24, 64, kc);
	memcpy(kb + 12, &kc, 4);
	CHECK_EQ(cr_block_seal(kb, 88, &dk, 4096), 104);
	char kh[2 * sizeof(kb) + 1];
	cr_hex(kb, sizeof(kb), kh);
	CHECK(strcmp(kh, BLOCK_KAT) == 0);
	if (strcmp(kh, BLOCK_KAT) != 0)
		fprintf(stderr, "sealed block: %s\n", kh);
	/* without a key: the CRC still verifies, the content is refused */
	CHECK_EQ(cr_block_decode(sealed, (size_t)sl, raw, sizeof(raw)), -ENOKEY);
	CHECK(memmem(sealed, (size_t)sl, plain_raw + 80, 16) == NULL);
	/* open: back to the plain block */
	memcpy(work, sealed, (size_t)sl);
	CHECK_EQ(cr_block_unseal(work, (size_t)sl, &dk, 4096), bl);
	CHECK_EQ(cr_block_decode(work, (size_t)bl, raw, sizeof(raw)), pr);
	CHECK(memcmp(raw, plain_raw, (size_t)pr) == 0);
	/* moved to another offset: authentication fails */
	memcpy(work, sealed, (size_t)sl);
	CHECK_EQ(cr_block_unseal(work, (size_t)sl, &dk, 4096 + 64), -EKEYREJECTED);
	/* every flipped byte is refused (CRC, or tag when the CRC is recomputed) */
	int refused = 0;
	for (int i = 0; i < sl; i++) {
		memcpy(work, sealed, (size_t)sl);
		work[i] ^= (uint8_t)(1u << (i % 8));
		int r = cr_block_unseal(work, (size_t)sl, &dk, 4096);
		refused += r < 0;
	}
	CHECK_EQ(refused, sl);
	/* an attacker who recomputes the CRC after changing the ciphertext */
	memcpy(work, sealed, (size_t)sl);
	work[40] ^= 0x55;
	uint32_t crc;
	memset(work + 12, 0, 4);
	crc = cr_crc32c(work, CR_BLOCK_HDR_LEN, 0);
	crc = cr_crc32c(work + CR_BLOCK_HDR_LEN, (size_t)sl - CR_BLOCK_HDR_LEN, crc);
	memcpy(work + 12, &crc, 4);
	CHECK_EQ(cr_block_unseal(work, (size_t)sl, &dk, 4096), -EKEYREJECTED);
	/* another data key */
	memcpy(work, sealed, (size_t)sl);
	dk.key[0] ^= 1;
	CHECK_EQ(cr_block_unseal(work, (size_t)sl, &dk, 4096), -EKEYREJECTED);
	cr_dkey_wipe(&dk);
}

static void
test_key_files(void)
{
	char p[256], err[512];
	struct cr_keyring kr;
	memset(&kr, 0, sizeof(kr));
	snprintf(p, sizeof(p), "%s/mk", dir);
	uint64_t id = 0;
	CHECK_EQ(cr_key_file_new(p, &id), 0);
	CHECK(id != 0);
	CHECK_EQ(cr_key_file_new(p, &id), -EEXIST); /* never over a key */
	struct stat st;
	CHECK_EQ(stat(p, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(cr_keyring_load(&kr, p, err, sizeof(err)), 0);
	CHECK_EQ(kr.n, 1);
	CHECK(kr.k[0].id == id);
	/* loose permissions: refused, and said so */
	chmod(p, 0640);
	struct cr_keyring k2;
	memset(&k2, 0, sizeof(k2));
	CHECK_EQ(cr_keyring_load(&k2, p, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "chmod 600") != NULL);
	CHECK(strstr(err, "callrec-key-v1 ") == NULL);
	chmod(p, 0600);
	/* malformed files */
	static const char *const badf[] = {
		"", "# only a comment\n", "callrec-key-v1 0011\n",
		"callrec-key-v1 00112233445566zz 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n",
		"callrec-key-v0 0011223344556677 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n",
		"callrec-key-v1 0000000000000000 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n",
	};
	char q[256];
	snprintf(q, sizeof(q), "%s/bad", dir);
	for (size_t i = 0; i < sizeof(badf) / sizeof(badf[0]); i++) {
		put_file(q, badf[i], 0600);
		memset(&k2, 0, sizeof(k2));
		CHECK_EQ(cr_keyring_load(&k2, q, err, sizeof(err)), -EINVAL);
	}
	memset(&k2, 0, sizeof(k2));
	CHECK_EQ(cr_keyring_load(&k2, "/nonexistent/key", err, sizeof(err)), -ENOENT);
	/* the KMS hook */
	memset(&k2, 0, sizeof(k2));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "cat %s", p);
	CHECK_EQ(cr_keyring_load_cmd(&k2, cmd, err, sizeof(err)), 0);
	CHECK(k2.n == 1 && memcmp(k2.k[0].key, kr.k[0].key, 32) == 0);
	memset(&k2, 0, sizeof(k2));
	CHECK(cr_keyring_load_cmd(&k2, "exit 3", err, sizeof(err)) < 0);

	/* key slots */
	struct cr_dkey dk, out;
	memset(&dk, 0, sizeof(dk));
	memset(&out, 0, sizeof(out));
	CHECK_EQ(cr_dkey_new(&dk), 0);
	uint8_t hdr[64], hdr2[64], slot[CR_KSLOT_LEN];
	memset(hdr, 1, sizeof(hdr));
	memset(hdr2, 2, sizeof(hdr2));
	CHECK_EQ(cr_kslot_wrap(slot, &kr.k[0], &dk, hdr, 64), 0);
	CHECK(cr_kslot_key_id(slot) == id);
	CHECK(memmem(slot, sizeof(slot), dk.key, 8) == NULL);
	CHECK_EQ(cr_kslot_unwrap(slot, &kr, &out, hdr, 64), 0);
	CHECK(memcmp(out.key, dk.key, 32) == 0);
	CHECK_EQ(cr_kslot_unwrap(slot, &kr, &out, hdr2, 64), -EBADMSG); /* moved */
	struct cr_keyring other;
	memset(&other, 0, sizeof(other));
	other.n = 1;
	other.k[0].id = id; /* same id, other key */
	CHECK_EQ(cr_kslot_unwrap(slot, &other, &out, hdr, 64), -EBADMSG);
	other.k[0].id = id + 1;
	CHECK_EQ(cr_kslot_unwrap(slot, &other, &out, hdr, 64), -ENOKEY);
	uint8_t empty[CR_KSLOT_LEN] = {0};
	CHECK_EQ(cr_kslot_unwrap(empty, &kr, &out, hdr, 64), -ENOENT);
	cr_dkey_wipe(&dk);
	cr_dkey_wipe(&out);
	cr_keyring_wipe(&kr);
}

static void
test_fields(void)
{
	uint8_t secret[32];
	memset(secret, 9, sizeof(secret));
	struct cr_fieldkey fe, fh;
	CHECK_EQ(cr_fieldkey_init(&fe, CR_PII_ENCRYPT, secret), 0);
	CHECK_EQ(cr_fieldkey_init(&fh, CR_PII_HASH, secret), 0);
	char a[600], b[600], v[300];
	CHECK_EQ(cr_field_protect(&fe, "sip:+4930123456@example.org", a, sizeof(a)), 0);
	CHECK_EQ(cr_field_protect(&fe, "sip:+4930123456@example.org", b, sizeof(b)), 0);
	CHECK(strcmp(a, b) == 0); /* deterministic: searchable by value */
	CHECK(strncmp(a, "~e", 2) == 0 && strstr(a, "4930") == NULL);
	CHECK_EQ(cr_field_reveal(&fe, a, v, sizeof(v)), 0);
	CHECK(strcmp(v, "sip:+4930123456@example.org") == 0);
	CHECK_EQ(cr_field_protect(&fe, "sip:+4930123457@example.org", b, sizeof(b)), 0);
	CHECK(strcmp(a, b) != 0);
	a[10] ^= 1;
	CHECK_EQ(cr_field_reveal(&fe, a, v, sizeof(v)), -EBADMSG);
	CHECK_EQ(cr_field_protect(&fh, "alice", a, sizeof(a)), 0);
	CHECK(strncmp(a, "~h", 2) == 0 && strlen(a) == 34);
	CHECK_EQ(cr_field_reveal(&fh, a, v, sizeof(v)), 0);
	CHECK(strcmp(v, a) == 0); /* a hash stays a hash */
	CHECK_EQ(cr_field_protect(&fe, "", a, sizeof(a)), 0);
	CHECK_EQ(a[0], 0);
	CHECK_EQ(cr_field_protect(&fe, "x", a, 8), -ENOSPC);
}

static int
count_lines(void *ctx, uint64_t n, const char *body)
{
	(void)n;
	(void)body;
	(*(int *)ctx)++;
	return 0;
}

static void
test_chainlog(void)
{
	char sk[256], pub[300], log[256], err[512];
	snprintf(sk, sizeof(sk), "%s/sign", dir);
	snprintf(pub, sizeof(pub), "%s/sign.pub", dir);
	snprintf(log, sizeof(log), "%s/chain.log", dir);
	CHECK_EQ(cr_sign_new_files(sk), 0);
	struct cr_signer *s = NULL, *p = NULL, *p2 = NULL;
	CHECK_EQ(cr_sign_load(&s, sk, 1, err, sizeof(err)), 0);
	CHECK_EQ(cr_sign_load(&p, pub, 0, err, sizeof(err)), 0);
	CHECK_EQ(cr_sign_load(&p2, log, 0, err, sizeof(err)), -ENOENT);
	for (int i = 0; i < 20; i++) {
		char rest[64];
		snprintf(rest, sizeof(rest), "event %d", i);
		CHECK_EQ(cr_chainlog_append(log, s, rest), i + 1);
	}
	CHECK(cr_chainlog_append(log, s, "two\nlines") < 0);
	int n = 0;
	uint64_t ln = 0;
	CHECK_EQ(cr_chainlog_read(log, p, count_lines, &n, &ln), 0);
	CHECK_EQ(n, 20);
	size_t len;
	FILE *f = fopen(log, "r");
	static char orig[65536], buf[65536];
	len = fread(orig, 1, sizeof(orig), f);
	fclose(f);
	/* any flipped byte, dropped line, swapped lines or cut is found */
	int found = 0, tries = 0;
	for (size_t i = 0; i < len; i += 7) {
		memcpy(buf, orig, len);
		buf[i] ^= 0x01;
		if (buf[i] == '\n' || orig[i] == '\n')
			continue;
		tries++;
		f = fopen(log, "w");
		fwrite(buf, 1, len, f);
		fclose(f);
		found += cr_chainlog_read(log, p, NULL, NULL, &ln) < 0;
	}
	CHECK_EQ(found, tries);
	char *l2 = strchr(orig, '\n') + 1, *l3 = strchr(l2, '\n') + 1, *l4 = strchr(l3, '\n') + 1;
	/* swap lines 2 and 3 */
	size_t a = (size_t)(l2 - orig), b = (size_t)(l3 - orig), c = (size_t)(l4 - orig);
	memcpy(buf, orig, a);
	memcpy(buf + a, l3, c - b);
	memcpy(buf + a + (c - b), l2, b - a);
	memcpy(buf + c, orig + c, len - c);
	f = fopen(log, "w");
	fwrite(buf, 1, len, f);
	fclose(f);
	CHECK_EQ(cr_chainlog_read(log, p, NULL, NULL, &ln), -EBADMSG);
	CHECK_EQ(ln, 2);
	/* drop line 3 */
	f = fopen(log, "w");
	fwrite(orig, 1, b, f);
	fwrite(orig + c, 1, len - c, f);
	fclose(f);
	CHECK_EQ(cr_chainlog_read(log, p, NULL, NULL, &ln), -EBADMSG);
	/* another signer's key */
	char sk2[256], pub2[300];
	snprintf(sk2, sizeof(sk2), "%s/sign2", dir);
	snprintf(pub2, sizeof(pub2), "%s/sign2.pub", dir);
	CHECK_EQ(cr_sign_new_files(sk2), 0);
	CHECK_EQ(cr_sign_load(&p2, pub2, 0, err, sizeof(err)), 0);
	f = fopen(log, "w");
	fwrite(orig, 1, len, f);
	fclose(f);
	CHECK_EQ(cr_chainlog_read(log, p2, NULL, NULL, &ln), -EKEYREJECTED);
	/* a torn last line (crash) is cut by the next append, which chains on */
	f = fopen(log, "a");
	fputs("v1 21 torn", f);
	fclose(f);
	CHECK_EQ(cr_chainlog_append(log, s, "after a crash"), 21);
	CHECK_EQ(cr_chainlog_read(log, p, NULL, NULL, &ln), 0);
	CHECK_EQ(ln, 21);
	cr_sign_free(s);
	cr_sign_free(p);
	cr_sign_free(p2);
}

static int
count_raw(void *ctx, uint64_t off, const uint8_t *raw, uint32_t raw_len, uint16_t n)
{
	(void)off;
	(void)n;
	int *c = ctx;
	c[0]++;
	c[1] += raw != NULL && raw_len > 0;
	return 0;
}

static void
test_segment(void)
{
	char store[256], err[512], kf[300], kf2[300];
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(kf, sizeof(kf), "%s/mk", dir);
	snprintf(kf2, sizeof(kf2), "%s/mk2", dir);
	struct cr_keyring kr, kr2, both;
	memset(&kr, 0, sizeof(kr));
	memset(&kr2, 0, sizeof(kr2));
	memset(&both, 0, sizeof(both));
	CHECK_EQ(cr_keyring_load(&kr, kf, err, sizeof(err)), 0);
	CHECK_EQ(cr_key_file_new(kf2, NULL), 0);
	CHECK_EQ(cr_keyring_load(&kr2, kf2, err, sizeof(err)), 0);
	CHECK_EQ(cr_keyring_load(&both, kf2, err, sizeof(err)), 0); /* new first */
	CHECK_EQ(cr_keyring_load(&both, kf, err, sizeof(err)), 0);
	struct cr_segw w;
	memset(&w, 0, sizeof(w));
	w.fd = w.dfd = -1;
	w.kr = &kr;
	const char *rel = "segments/x/w0-r1-1.seg";
	CHECK_EQ(cr_segw_open(&w, store, rel, 0, 1, 1700000000000000000LL), 0);
	static uint8_t blk[8192];
	uint8_t known[16];
	for (int b = 0; b < 20; b++) {
		int bl = make_block(blk, sizeof(blk) - 16);
		if (b == 0)
			memcpy(known, blk + 100, 16);
		if ((uint32_t)bl > cr_segw_room(&w))
			CHECK_EQ(cr_segw_flush(&w, 1), 0);
		CHECK_EQ(cr_segw_append(&w, blk, (uint32_t)bl, 0), 0);
	}
	CHECK_EQ(cr_segw_seal(&w), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", store, rel);
	/* the writer's digest is the file's, as the manifest computes it */
	uint8_t dw[32], df[32];
	CHECK(w.digest_ok);
	memcpy(dw, w.digest, 32);
	cr_segw_free(&w);
	CHECK_EQ(cr_seg_digest(path, df, NULL), 0);
	CHECK(memcmp(dw, df, 32) == 0);
	/* with the key: every block opens */
	struct cr_seg_walk sw;
	int cnt[2] = {0, 0};
	cr_store_set_keyring(&kr);
	CHECK_EQ(cr_seg_walk(path, count_raw, cnt, &sw), 0);
	CHECK(sw.sealed && sw.encrypted && !sw.no_key && !sw.key_rejected);
	CHECK_EQ(sw.bad_blocks, 0);
	CHECK_EQ(cnt[0], 20);
	CHECK_EQ(cnt[1], 20);
	/* without: blocks verified by CRC, no content */
	cr_store_set_keyring(NULL);
	cnt[0] = cnt[1] = 0;
	CHECK_EQ(cr_seg_walk(path, count_raw, cnt, &sw), 0);
	CHECK(sw.sealed && sw.no_key);
	CHECK_EQ(sw.bad_blocks, 0);
	CHECK_EQ(cnt[0], 20);
	CHECK_EQ(cnt[1], 0);
	/* no known plaintext in the file */
	int fd = open(path, O_RDONLY);
	static uint8_t file[1 << 20];
	ssize_t fl = read(fd, file, sizeof(file));
	close(fd);
	CHECK(fl > 0 && memmem(file, (size_t)fl, known, sizeof(known)) == NULL);
	uint8_t d0[32], d1[32];
	uint64_t sz0, sz1;
	CHECK_EQ(cr_seg_digest(path, d0, &sz0), 0);
	/* rotation: the new key alone opens it afterwards, the audio untouched */
	struct cr_rotate_report rep;
	CHECK_EQ(cr_store_rotate(store, &both, &rep, NULL), 0);
	CHECK_EQ(rep.files, 1);
	CHECK_EQ(rep.rewrapped, 1);
	CHECK_EQ(cr_store_rotate(store, &both, &rep, NULL), 0);
	CHECK_EQ(rep.already, 1);
	CHECK_EQ(cr_seg_digest(path, d1, &sz1), 0);
	CHECK(sz0 == sz1 && memcmp(d0, d1, 32) == 0); /* the manifest digest holds */
	cr_store_set_keyring(&kr2);
	cnt[0] = cnt[1] = 0;
	CHECK_EQ(cr_seg_walk(path, count_raw, cnt, &sw), 0);
	CHECK_EQ(cnt[1], 20);
	cr_store_set_keyring(&kr);
	CHECK_EQ(cr_seg_walk(path, NULL, NULL, &sw), 0);
	CHECK(sw.no_key); /* the old key's slot was cleared */
	/* crypto-erasure: nothing opens it any more */
	CHECK_EQ(cr_seg_shred_keys(path), 0);
	cr_store_set_keyring(&both);
	CHECK_EQ(cr_seg_walk(path, NULL, NULL, &sw), 0);
	CHECK(sw.no_key);
	CHECK_EQ(sw.bad_blocks, 0);
	/* the index secret */
	uint8_t s1[32], s2[32];
	int mode = 0;
	CHECK_EQ(cr_store_index_secret(store, &kr, 0, s1, &mode, err, sizeof(err)), -ENOENT);
	CHECK_EQ(cr_store_index_secret(store, &kr, CR_PII_ENCRYPT, s1, &mode, err, sizeof(err)), 0);
	CHECK_EQ(mode, CR_PII_ENCRYPT);
	CHECK_EQ(cr_store_index_secret(store, &kr2, 0, s2, &mode, err, sizeof(err)), -ENOKEY);
	CHECK_EQ(cr_store_rotate(store, &both, &rep, NULL), 0);
	CHECK_EQ(cr_store_index_secret(store, &kr2, 0, s2, &mode, err, sizeof(err)), 0);
	CHECK(memcmp(s1, s2, 32) == 0);
	cr_store_set_keyring(NULL);
	cr_keyring_wipe(&kr);
	cr_keyring_wipe(&kr2);
	cr_keyring_wipe(&both);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_gcm_kat();
	test_block_format();
	test_key_files();
	test_fields();
	test_chainlog();
	test_segment();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	TEST_DONE();
}
