/* SPDX-License-Identifier: BSD-3-Clause */
/* Tamper test for `callrec verify` (cr_fsck_verify): on a store callrecd
 * wrote with encryption and a signed manifest, apply N random tamperings,
 * one at a time, each undone before the next:
 *   flip  - one bit of any segment or of the manifest, at a random offset
 *   trunc - a segment or the manifest cut at a random length
 *   del   - a segment removed, or one manifest line dropped
 *   swap  - two segments' contents exchanged, two blocks of a segment
 *           exchanged, or two manifest lines exchanged
 *   add   - a copy of a sealed segment under a new name
 * and require every one to be found. Then edit index rows (a column of a
 * random calls/streams/chunks/losses row) and require verify's index
 * comparison to find every edit.
 * usage: tamper_verify STORE PUBKEY KEYFILE N SEED
 * Exit 0 when every tampering was detected; prints the counts. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cr_crypt.h"
#include "cr_fsck.h"
#include "cr_index.h"
#include "cr_store.h"

struct file {
	char path[512];
	uint8_t *b;
	size_t n;
	int seg;
};
static struct file F[256];
static int nf;
static const char *g_store;
static char g_added[600];

static int
add_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	size_t l = strlen(path);
	if (type != FTW_F || nf == 256)
		return 0;
	int seg = l > 4 && strcmp(path + l - 4, ".seg") == 0;
	if (!seg && strcmp(path + strlen(path) - 13, "/manifest.log") != 0)
		return 0;
	struct file *f = &F[nf++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->n = (size_t)st->st_size;
	f->b = malloc(f->n ? f->n : 1);
	FILE *fp = fopen(path, "rb");
	if (fp == NULL || fread(f->b, 1, f->n, fp) != f->n)
		exit(2);
	fclose(fp);
	f->seg = seg;
	return 0;
}

static void
put(const char *path, const uint8_t *b, size_t n)
{
	FILE *fp = fopen(path, "wb");
	if (fp == NULL || fwrite(b, 1, n, fp) != n)
		exit(2);
	fclose(fp);
}

/* files a tampering touched: only they are written back */
static struct file *touched[2];
static int n_touched;

static void
touch(struct file *f)
{
	touched[n_touched++] = f;
}

static void
restore(void)
{
	for (int i = 0; i < n_touched; i++)
		put(touched[i]->path, touched[i]->b, touched[i]->n);
	n_touched = 0;
}

static uint64_t rs;
static uint64_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static struct file *
pick(int seg)
{
	for (;;) {
		struct file *f = &F[rnd() % (uint64_t)nf];
		if (seg < 0 || f->seg == seg)
			return f;
	}
}

/* offsets of the lines of a buffer */
static int
lines(const uint8_t *b, size_t n, size_t *off, int max)
{
	int k = 0;
	off[k++] = 0;
	for (size_t i = 0; i + 1 < n && k < max; i++)
		if (b[i] == '\n')
			off[k++] = i + 1;
	return k;
}

/* block offsets of a sealed segment, from its footer */
static int
blocks(const struct file *f, uint64_t *off, int max)
{
	if (f->n < 16 + 12)
		return 0;
	uint64_t fo;
	memcpy(&fo, f->b + f->n - 16, 8);
	uint32_t cnt;
	if (fo + 8 > f->n)
		return 0;
	memcpy(&cnt, f->b + fo + 4, 4);
	int k = 0;
	for (uint32_t i = 0; i < cnt && k < max; i++)
		memcpy(&off[k++], f->b + fo + 8 + 8 * i, 8);
	off[k] = fo; /* the end of the last block */
	return k;
}

static const char *
tamper(void)
{
	static char what[2 * 512 + 64]; /* two paths and the words between */
	uint8_t *tmp;
	switch (rnd() % 5) {
	case 0: { /* flip */
		struct file *f = pick(-1);
		size_t at = (size_t)(rnd() % f->n);
		tmp = malloc(f->n);
		memcpy(tmp, f->b, f->n);
		tmp[at] ^= (uint8_t)(1u << (rnd() % 8));
		touch(f);
		put(f->path, tmp, f->n);
		free(tmp);
		snprintf(what, sizeof(what), "flip %s @%zu", f->path, at);
		return what;
	}
	case 1: { /* trunc */
		struct file *f = pick(-1);
		size_t at = (size_t)(rnd() % f->n);
		touch(f);
		put(f->path, f->b, at);
		snprintf(what, sizeof(what), "trunc %s @%zu", f->path, at);
		return what;
	}
	case 2: { /* del */
		struct file *f = pick(-1);
		touch(f);
		if (f->seg) {
			unlink(f->path);
			snprintf(what, sizeof(what), "del %s", f->path);
			return what;
		}
		size_t off[4096];
		int k = lines(f->b, f->n, off, 4095);
		off[k] = f->n;
		int l = (int)(rnd() % (uint64_t)k);
		tmp = malloc(f->n);
		memcpy(tmp, f->b, off[l]);
		memcpy(tmp + off[l], f->b + off[l + 1], f->n - off[l + 1]);
		put(f->path, tmp, f->n - (off[l + 1] - off[l]));
		free(tmp);
		snprintf(what, sizeof(what), "del line %d of %s", l + 1, f->path);
		return what;
	}
	case 3: { /* swap */
		struct file *f = pick(-1);
		touch(f);
		if (!f->seg) {
			size_t off[4096];
			int k = lines(f->b, f->n, off, 4095);
			off[k] = f->n;
			if (k < 2) {
				n_touched = 0;
				return NULL;
			}
			int a = (int)(rnd() % (uint64_t)(k - 1));
			size_t la = off[a + 1] - off[a], lb = off[a + 2] - off[a + 1];
			tmp = malloc(f->n);
			memcpy(tmp, f->b, f->n);
			memcpy(tmp + off[a], f->b + off[a + 1], lb);
			memcpy(tmp + off[a] + lb, f->b + off[a], la);
			put(f->path, tmp, f->n);
			free(tmp);
			snprintf(what, sizeof(what), "swap lines %d,%d of %s", a + 1, a + 2, f->path);
			return what;
		}
		if (rnd() % 2) {
			struct file *g = pick(1);
			if (g == f || (g->n == f->n && memcmp(g->b, f->b, f->n) == 0)) {
				n_touched = 0;
				return NULL;
			}
			touch(g);
			put(f->path, g->b, g->n);
			put(g->path, f->b, f->n);
			snprintf(what, sizeof(what), "swap %s and %s", f->path, g->path);
			return what;
		}
		uint64_t bo[4097];
		int k = blocks(f, bo, 4096);
		if (k < 2) {
			n_touched = 0;
			return NULL;
		}
		int a = (int)(rnd() % (uint64_t)(k - 1));
		size_t la = bo[a + 1] - bo[a], lb = bo[a + 2] - bo[a + 1];
		tmp = malloc(f->n);
		memcpy(tmp, f->b, f->n);
		memcpy(tmp + bo[a], f->b + bo[a + 1], lb);
		memcpy(tmp + bo[a] + lb, f->b + bo[a], la);
		put(f->path, tmp, f->n);
		free(tmp);
		snprintf(what, sizeof(what), "swap blocks %d,%d of %s", a, a + 1, f->path);
		return what;
	}
	default: { /* add */
		struct file *f = pick(1);
		char p[600];
		snprintf(p, sizeof(p), "%.*s-r99-%u.seg", (int)(strrchr(f->path, '/') - f->path) + 1,
			 f->path, (unsigned)(rnd() % 1000));
		put(p, f->b, f->n);
		snprintf(what, sizeof(what), "add %s", p);
		snprintf(g_added, sizeof(g_added), "%s", p);
		return what;
	}
	}
}

static void
remove_added(void)
{
	if (unlink(g_added) != 0)
		exit(2);
}

int
main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: tamper_verify STORE PUBKEY KEYFILE N SEED\n");
		return 2;
	}
	g_store = argv[1];
	char err[512], seg[600];
	struct cr_signer *pk = NULL;
	static struct cr_keyring kr;
	if (cr_sign_load(&pk, argv[2], 0, err, sizeof(err)) != 0 ||
	    cr_keyring_load(&kr, argv[3], err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	cr_store_set_keyring(&kr);
	/* the index's protected fields, as callrec does */
	uint8_t secret[32];
	int mode;
	static struct cr_fieldkey fk;
	if (cr_store_index_secret(g_store, &kr, 0, secret, &mode, err, sizeof(err)) == 0 &&
	    cr_fieldkey_init(&fk, (enum cr_pii_mode)mode, secret) == 0)
		cr_index_set_default_fieldkey(&fk);
	long n = atol(argv[4]);
	rs = (uint64_t)atoll(argv[5]) * 2654435761u + 1;
	snprintf(seg, sizeof(seg), "%s/segments", g_store);
	if (nftw(seg, add_file, 16, FTW_PHYS) != 0)
		return 2;
	snprintf(seg, sizeof(seg), "%s/manifest.log", g_store);
	struct stat st;
	if (stat(seg, &st) != 0)
		return 2;
	add_file(seg, &st, FTW_F, NULL);
	static struct cr_fsck_report r;
	if (cr_fsck_verify(g_store, pk, 1, &r) != 0 || r.errors) {
		fprintf(stderr, "the untouched store does not verify\n");
		cr_fsck_print(stderr, &r, 0);
		return 1;
	}
	long done = 0, missed = 0, kinds[8] = {0};
	while (done < n) {
		const char *what = tamper();
		if (what == NULL)
			continue;
		done++;
		kinds[what[0] == 'f' ? 0 : what[0] == 't' ? 1 : what[0] == 'd' ? 2 : what[0] == 's' ? 3 : 4]++;
		int rc = cr_fsck_verify(g_store, pk, 0, &r);
		if (rc != 0 || r.errors == 0) {
			missed++;
			if (missed <= 20)
				fprintf(stderr, "NOT DETECTED: %s (rc %d)\n", what, rc);
		}
		restore();
		if (what[0] == 'a')
			remove_added();
	}
	printf("file tamperings: %ld (flip %ld, trunc %ld, del %ld, swap %ld, add %ld), "
	       "detected %ld, missed %ld\n",
	       done, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], done - missed, missed);
	/* index rows of sealed calls */
	char ip[512];
	snprintf(ip, sizeof(ip), "%s/index.sqlite", g_store);
	static const char *const edits[] = {
		"UPDATE calls SET end_ns = end_ns + 1000000 WHERE uid = (SELECT uid FROM calls ORDER BY random() LIMIT 1)",
		"UPDATE calls SET from_user = to_user WHERE uid = (SELECT uid FROM calls ORDER BY random() LIMIT 1)",
		"UPDATE calls SET sip_status = 486 WHERE uid = (SELECT uid FROM calls ORDER BY random() LIMIT 1)",
		"DELETE FROM calls WHERE uid = (SELECT uid FROM calls ORDER BY random() LIMIT 1)",
		"UPDATE streams SET packets = packets - 1 WHERE uid = (SELECT uid FROM streams ORDER BY random() LIMIT 1)",
		"UPDATE streams SET mos = 4.4 WHERE uid = (SELECT uid FROM streams ORDER BY random() LIMIT 1)",
		"UPDATE streams SET lost = lost + 3 WHERE uid = (SELECT uid FROM streams ORDER BY random() LIMIT 1)",
		"DELETE FROM streams WHERE uid = (SELECT uid FROM streams ORDER BY random() LIMIT 1)",
		"UPDATE chunks SET n_pkts = n_pkts + 1 WHERE rowid = (SELECT rowid FROM chunks ORDER BY random() LIMIT 1)",
		"DELETE FROM chunks WHERE rowid = (SELECT rowid FROM chunks ORDER BY random() LIMIT 1)",
		"INSERT INTO calls(uid, call_id, start_ns) VALUES (424242, 'forged', 1)",
	};
	const int ne = (int)(sizeof(edits) / sizeof(edits[0]));
	int idx_missed = 0;
	char bak[2600];
	snprintf(bak, sizeof(bak), "cp %s %s.tamper-bak", ip, ip);
	if (system(bak) != 0)
		return 2;
	for (int i = 0; i < ne; i++) {
		sqlite3 *db;
		if (sqlite3_open(ip, &db) != SQLITE_OK ||
		    sqlite3_exec(db, edits[i], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_changes(db) != 1) {
			fprintf(stderr, "edit %d did not apply: %s\n", i, sqlite3_errmsg(db));
			return 2;
		}
		sqlite3_close(db);
		int rc = cr_fsck_verify(g_store, pk, 1, &r);
		if (rc != 0 || r.index_rows_differ == 0) {
			idx_missed++;
			fprintf(stderr, "NOT DETECTED: index edit %s\n", edits[i]);
		}
		snprintf(bak, sizeof(bak), "cp %s.tamper-bak %s && rm -f %s-wal %s-shm", ip, ip, ip, ip);
		if (system(bak) != 0)
			return 2;
	}
	snprintf(bak, sizeof(bak), "rm -f %s.tamper-bak", ip);
	if (system(bak) != 0)
		return 2;
	printf("index edits: %d, detected %d, missed %d\n", ne, ne - idx_missed, idx_missed);
	if (cr_fsck_verify(g_store, pk, 1, &r) != 0 || r.errors) {
		fprintf(stderr, "the restored store does not verify\n");
		return 1;
	}
	cr_sign_free(pk);
	return missed || idx_missed ? 1 : 0;
}
