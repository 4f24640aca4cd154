/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_fsck.h"
#include "cr_manifest.h"

#include <errno.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>
#include <sqlite3.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cr_store.h"

struct chunkinfo {
	uint64_t stream_uid;
	uint32_t n_pkts;
};

struct blk {
	uint64_t off;
	uint32_t first; /* into scan.c */
	uint16_t n;
};

struct segf {
	char rel[96];
	uint64_t run, seq;
	int meta;
	uint8_t rclass; /* from the name: wW-cC-rR-N.seg */
	struct cr_seg_walk w;
	struct blk *b;
	uint32_t nb, cb;
	int64_t first_ns, last_ns;
};

struct scan {
	const char *store;
	struct segf *s;
	size_t n, cap;
	struct chunkinfo *c;
	size_t nc, ccap;
	struct cr_fsck_report *r;
	struct cr_index *apply; /* enter chunks and records into this index */
	struct segf *cur;
	int keep; /* keep per-chunk info (check) */
};

static void
msg(struct cr_fsck_report *r, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
msg(struct cr_fsck_report *r, int error, const char *fmt, ...)
{
	if (error)
		r->errors++;
	if (r->n_msgs >= CR_FSCK_MAX_MSGS)
		return;
	char *m = r->msgs[r->n_msgs++];
	int k = snprintf(m, sizeof(r->msgs[0]), "%s: ", error ? "error" : "note");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m + k, sizeof(r->msgs[0]) - (size_t)k, fmt, ap);
	va_end(ap);
}

static int
list_one(void *ctx, const char *path, const char *rel)
{
	struct scan *S = ctx;
	if (cr_grow(&S->s, &S->cap, S->n, sizeof(*S->s), 256) != 0)
		return -ENOMEM;
	struct segf *f = &S->s[S->n];
	memset(f, 0, sizeof(*f));
	if (strlen(rel) >= sizeof(f->rel))
		return 0;
	snprintf(f->rel, sizeof(f->rel), "%s", rel);
	const char *base = strrchr(path, '/') + 1;
	unsigned wk, cls = 0;
	unsigned long long run = 0, seq = 0;
	if (sscanf(base, "m-r%llu-%llu.seg", &run, &seq) == 2)
		f->meta = 1;
	else if (sscanf(base, "w%u-c%u-r%llu-%llu.seg", &wk, &cls, &run, &seq) != 4 &&
		 sscanf(base, "w%u-r%llu-%llu.seg", &wk, &run, &seq) != 3)
		run = seq = 0;
	f->rclass = (uint8_t)cls;
	f->run = run;
	f->seq = seq;
	S->n++;
	return 0;
}

/* records apply in the order they were written: by run, then sequence */
static int
cmp_order(const void *a, const void *b)
{
	const struct segf *x = a, *y = b;
	if (x->run != y->run)
		return x->run < y->run ? -1 : 1;
	if (x->meta != y->meta)
		return x->meta - y->meta;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

static int
list_segments(struct scan *S)
{
	int r = cr_store_each_segment(S->store, list_one, S);
	if (r != 0)
		return r;
	if (S->n)
		qsort(S->s, S->n, sizeof(*S->s), cmp_order);
	return 0;
}

static int
on_block(void *ctx, uint64_t off, const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks)
{
	struct scan *S = ctx;
	struct segf *f = S->cur;
	struct cr_fsck_report *r = S->r;
	if (f->nb == f->cb) {
		uint32_t nc = f->cb ? f->cb * 2 : 64;
		struct blk *nb = realloc(f->b, nc * sizeof(*nb));
		if (nb == NULL)
			return -ENOMEM;
		f->b = nb;
		f->cb = nc;
	}
	struct blk *b = &f->b[f->nb++];
	b->off = off;
	b->first = (uint32_t)S->nc;
	b->n = 0;
	if (raw == NULL)
		return 0; /* encrypted, no key: its CRC was checked, its chunks cannot be */
	const uint8_t *p = raw, *end = raw + raw_len;
	static union {
		struct cr_call call;
		struct cr_stream_rec stream;
		struct cr_loss_rec loss;
	} rec;
	for (uint16_t i = 0; i < n_chunks; i++) {
		int kind = cr_chunk_kind(p, (size_t)(end - p));
		int len = -1;
		struct chunkinfo ci = {0, 0};
		if (kind == 1) {
			struct cr_chunk_reader rd;
			len = cr_chunk_open(&rd, p, (size_t)(end - p));
			struct cr_frame fr;
			int64_t last = rd.h.first_ns;
			int k;
			while (len > 0 && (k = cr_chunk_next(&rd, &fr)) == 1)
				last = fr.t_ns;
			if (len > 0 && k < 0)
				len = -1;
			if (len > 0) {
				ci.stream_uid = rd.h.stream_uid;
				ci.n_pkts = rd.h.n_pkts;
				r->chunks++;
				if (f->first_ns == 0 || rd.h.first_ns < f->first_ns)
					f->first_ns = rd.h.first_ns;
				if (last > f->last_ns)
					f->last_ns = last;
				if (S->apply) {
					struct cr_chunk_rec c;
					memset(&c, 0, sizeof(c));
					c.stream_uid = rd.h.stream_uid;
					c.call_uid = rd.h.call_uid;
					snprintf(c.segment, sizeof(c.segment), "%s", f->rel);
					c.block_off = off;
					c.chunk_no = i;
					c.n_pkts = rd.h.n_pkts;
					c.first_ns = rd.h.first_ns;
					c.last_ns = last;
					if (cr_index_put_chunk(S->apply, &c) != 0)
						return -EIO;
					r->replayed_chunks++;
				}
			}
		} else if (kind == 2) {
			const uint8_t *body;
			uint32_t bl;
			len = cr_meta_chunk_open(p, (size_t)(end - p), &body, &bl);
			int rk = len > 0 ? cr_rec_decode((const char *)body, bl, &rec, sizeof(rec)) : -1;
			if (rk < 0) {
				r->bad_records++;
				msg(r, 1, "%s: block at %" PRIu64 ": record %u does not parse", f->rel,
				    off, i);
			} else {
				r->records++;
				int64_t t = rk == CR_REC_STREAM ? rec.stream.last_ns
					    : rk == CR_REC_CALL ? rec.call.start_ns : 0;
				if (t && (f->first_ns == 0 || t < f->first_ns))
					f->first_ns = t;
				if (t > f->last_ns)
					f->last_ns = t;
				int e = 0;
				if (S->apply && rk == CR_REC_CALL)
					e = cr_index_put_call(S->apply, &rec.call);
				else if (S->apply && rk == CR_REC_STREAM)
					e = cr_index_put_stream(S->apply, &rec.stream);
				else if (S->apply && rk == CR_REC_LOSS)
					e = cr_index_put_loss(S->apply, &rec.loss);
				if (e != 0)
					return -EIO;
				if (S->apply)
					r->replayed_records++;
			}
		}
		if (len <= 0) {
			r->bad_chunks++;
			msg(r, 1, "%s: block at %" PRIu64 ": chunk %u is malformed (CRC was good)",
			    f->rel, off, i);
			break;
		}
		if (S->keep) {
			if (cr_grow(&S->c, &S->ccap, S->nc, sizeof(*S->c), 4096) != 0)
				return -ENOMEM;
			S->c[S->nc++] = ci;
			b->n++;
		}
		p += len;
	}
	return 0;
}

static int
walk_one(struct scan *S, struct segf *f)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", S->store, f->rel);
	S->cur = f;
	int rc = cr_seg_walk(path, on_block, S, &f->w);
	struct cr_fsck_report *r = S->r;
	r->segments++;
	if (f->meta)
		r->meta_segments++;
	else
		r->data_segments++;
	r->blocks += f->w.blocks;
	r->bad_blocks += f->w.bad_blocks;
	if (rc != 0) {
		msg(r, 1, "%s: cannot read: %s", f->rel, strerror(rc < 0 ? -rc : rc));
		return rc;
	}
	if (f->w.empty) {
		r->unsealed++;
		msg(r, 0, "%s: empty (created, never written)", f->rel);
		return 0;
	}
	if (f->w.bad_header) {
		r->bad_headers++;
		msg(r, 1, "%s: not a segment (bad header)", f->rel);
		return 0;
	}
	if (f->w.encrypted)
		r->encrypted++;
	if (f->w.key_rejected) {
		r->key_rejected++;
		msg(r, 1,
		    "%s: fails authentication (key slot or block altered, or moved from "
		    "another segment)",
		    f->rel);
	} else if (f->w.no_key) {
		r->locked++;
		if (r->locked == 1)
			msg(r, 0,
			    "%s: encrypted and no key given opens it (checked by CRC only; "
			    "give --key-file to check its contents)",
			    f->rel);
	}
	if (f->w.sealed) {
		r->sealed++;
		r->bad_blocks_sealed += f->w.bad_blocks;
		if (f->w.bad_blocks)
			msg(r, 1, "%s: %u damaged block(s) in sealed data, first at %" PRIu64, f->rel,
			    f->w.bad_blocks, f->w.first_bad);
		if (f->w.footer_mismatch)
			msg(r, 1, "%s: footer does not list the blocks the file holds", f->rel);
	} else {
		r->unsealed++;
		r->torn_bytes += f->w.torn_tail;
		if (f->w.bad_footer) {
			r->bad_footers++;
			msg(r, 1, "%s: damaged footer", f->rel);
		}
	}
	return 0;
}

static void
scan_free(struct scan *S)
{
	for (size_t i = 0; i < S->n; i++)
		free(S->s[i].b);
	free(S->s);
	free(S->c);
}

static int
cmp_rel(const void *a, const void *b)
{
	const struct segf *const *x = a, *const *y = b;
	return strcmp((*x)->rel, (*y)->rel);
}

struct verify {
	struct scan *S;
	struct segf **by_rel;
	struct cr_index *idx;
};

static struct segf *
find_seg(struct verify *V, const char *rel)
{
	size_t lo = 0, hi = V->S->n;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		int c = strcmp(V->by_rel[m]->rel, rel);
		if (c == 0)
			return V->by_rel[m];
		if (c < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return NULL;
}

static int
check_chunk(void *ctx, const struct cr_chunk_rec *c)
{
	struct verify *V = ctx;
	struct cr_fsck_report *r = V->S->r;
	r->index_chunks++;
	struct segf *f = find_seg(V, c->segment);
	const char *why = NULL;
	if (f == NULL) {
		why = "segment file missing";
	} else if (f->w.no_key || f->w.key_rejected) {
		r->index_unverified_chunks++;
	} else {
		uint32_t lo = 0, hi = f->nb;
		while (lo < hi) {
			uint32_t m = (lo + hi) / 2;
			if (f->b[m].off < c->block_off)
				lo = m + 1;
			else
				hi = m;
		}
		if (lo == f->nb || f->b[lo].off != c->block_off)
			why = "no intact block at that offset";
		else if (c->chunk_no >= f->b[lo].n)
			why = "no such chunk in the block";
		else if (V->S->c[f->b[lo].first + c->chunk_no].stream_uid != c->stream_uid ||
			 V->S->c[f->b[lo].first + c->chunk_no].n_pkts != c->n_pkts)
			why = "chunk belongs to another stream or differs";
	}
	if (why) {
		r->index_bad_chunks++;
		msg(r, 1, "index: chunk of stream %" PRIu64 " in %s at %" PRIu64 "/%u: %s",
		    c->stream_uid, c->segment, c->block_off, c->chunk_no, why);
	}
	return 0;
}

static int
check_seg_row(void *ctx, const struct cr_seg_rec *g)
{
	struct verify *V = ctx;
	struct cr_fsck_report *r = V->S->r;
	r->index_segments++;
	if (g->state == CR_SEG_FAILED)
		r->failed++;
	if (find_seg(V, g->rel) == NULL) {
		r->index_missing_files++;
		msg(r, 1, "index names %s, which does not exist", g->rel);
	}
	return 0;
}

int
cr_fsck_check(const char *store, struct cr_fsck_report *r)
{
	memset(r, 0, sizeof(*r));
	struct scan S = {.store = store, .r = r, .keep = 1};
	int rc = list_segments(&S);
	for (size_t i = 0; rc == 0 && i < S.n; i++)
		rc = walk_one(&S, &S.s[i]);
	struct verify V = {&S, NULL, NULL};
	V.by_rel = malloc((S.n ? S.n : 1) * sizeof(*V.by_rel));
	if (rc == 0 && V.by_rel == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		for (size_t i = 0; i < S.n; i++)
			V.by_rel[i] = &S.s[i];
		qsort(V.by_rel, S.n, sizeof(*V.by_rel), cmp_rel);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/index.sqlite", store);
		rc = cr_index_open(path, CR_INDEX_RO, &V.idx);
		if (rc == -ENOENT) {
			msg(r, 1, "no index (rebuild it with --rebuild-index)");
			rc = 0;
		} else if (rc == 0) {
			rc = cr_index_segments(V.idx, check_seg_row, &V);
			if (rc == 0)
				rc = cr_index_all_chunks(V.idx, check_chunk, &V);
			for (size_t i = 0; rc == 0 && i < S.n; i++)
				if (cr_index_segment_state(V.idx, S.s[i].rel) == -ENOENT) {
					r->unindexed_segments++;
					msg(r, 0, "%s is not in the index (recovered at the next start)",
					    S.s[i].rel);
				}
			cr_index_close(V.idx);
		}
	}
	for (size_t i = 0; i < S.n; i++)
		if (!S.s[i].w.sealed && !S.s[i].w.bad_header && !S.s[i].w.empty)
			msg(r, 0, "%s is not sealed: %u good blocks, %" PRIu64 " torn bytes after them",
			    S.s[i].rel, S.s[i].w.blocks, S.s[i].w.torn_tail);
	free(V.by_rel);
	scan_free(&S);
	return rc;
}

static int
put_seg(struct cr_index *idx, const struct segf *f, uint8_t state)
{
	struct cr_seg_rec g;
	memset(&g, 0, sizeof(g));
	snprintf(g.rel, sizeof(g.rel), "%s", f->rel);
	g.kind = f->meta ? CR_SEG_KIND_META : CR_SEG_KIND_DATA;
	g.state = state;
	g.rclass = f->rclass;
	g.first_ns = f->first_ns;
	g.last_ns = f->last_ns;
	g.bytes = f->w.valid_end; /* end of the blocks, as the writer counts it */
	return cr_index_put_segment(idx, &g);
}

int
cr_fsck_recover(const char *store, struct cr_index *idx, struct cr_fsck_report *r)
{
	memset(r, 0, sizeof(*r));
	struct scan S = {.store = store, .r = r, .apply = idx};
	int rc = list_segments(&S);
	for (size_t i = 0; rc == 0 && i < S.n; i++) {
		struct segf *f = &S.s[i];
		int st = cr_index_segment_state(idx, f->rel);
		if (st == CR_SEG_SEALED || st == CR_SEG_FAILED)
			continue;
		char path[PATH_MAX], q[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", store, f->rel);
		snprintf(q, sizeof(q), "%s/quarantine/%s.tail", store, f->rel);
		struct cr_seg_walk w;
		rc = cr_seg_recover(path, q, &w);
		if (rc == -EINVAL) {
			msg(r, 1, "%s: not a segment (bad header); left as is", f->rel);
			rc = 0;
			continue;
		}
		if (rc != 0) {
			msg(r, 1, "%s: cannot recover: %s", f->rel, strerror(-rc));
			break;
		}
		if (w.quarantined || w.removed)
			msg(r, 0, "%s: %" PRIu64 " torn bytes moved to quarantine/%s", f->rel,
			    w.quarantined, w.removed ? " (the whole file: empty)" : "");
		r->quarantined_bytes += w.quarantined;
		if (w.removed) {
			if ((rc = cr_index_drop_segment(idx, f->rel)) != 0)
				break;
			r->recovered++;
			continue;
		}
		if ((rc = cr_index_begin(idx)) != 0)
			break;
		rc = walk_one(&S, f);
		if (rc == 0 && f->w.no_key) {
			msg(r, 1, "%s: encrypted and no key given opens it: cannot recover", f->rel);
			rc = -ENOKEY;
		}
		if (rc == 0)
			rc = put_seg(idx, f, CR_SEG_SEALED);
		if (rc == 0)
			rc = cr_index_commit(idx);
		else
			cr_index_commit(idx);
		r->recovered++;
	}
	scan_free(&S);
	return rc;
}

int
cr_fsck_rebuild(const char *store, const char *index_path, struct cr_fsck_report *r)
{
	memset(r, 0, sizeof(*r));
	struct stat st;
	if (stat(index_path, &st) == 0)
		return -EEXIST;
	struct cr_index *idx;
	int rc = cr_index_open(index_path, CR_INDEX_RW, &idx);
	if (rc != 0)
		return rc;
	struct scan S = {.store = store, .r = r, .apply = idx};
	rc = list_segments(&S);
	uint64_t max_run = 0;
	if (rc == 0)
		rc = cr_index_begin(idx);
	for (size_t i = 0; rc == 0 && i < S.n; i++) {
		struct segf *f = &S.s[i];
		rc = walk_one(&S, f);
		if (rc == 0 && f->w.no_key)
			rc = -ENOKEY; /* its chunks and records cannot be read */
		if (rc == 0 && !f->w.bad_header && !f->w.empty)
			rc = put_seg(idx, f, f->w.sealed ? CR_SEG_SEALED : CR_SEG_OPEN);
		if (f->run > max_run)
			max_run = f->run;
	}
	/* later runs must not reuse a run id (segment names, uids) */
	if (rc == 0)
		rc = cr_index_set_run_floor(idx, max_run);
	if (rc == 0)
		rc = cr_index_commit(idx);
	cr_index_close(idx);
	scan_free(&S);
	return rc;
}

/* ---- verify ---- */

struct mlist {
	struct cr_manifest_entry *v;
	size_t n, cap;
	int last_stop;
};

static int
mlist_add(void *ctx, const struct cr_manifest_entry *e)
{
	struct mlist *L = ctx;
	/* deletions (retention, also offline) may follow a writer's stop */
	if (strcmp(e->op, "delete") != 0)
		L->last_stop = strcmp(e->op, "stop") == 0;
	if (strcmp(e->op, "seal") != 0 && strcmp(e->op, "delete") != 0)
		return 0;
	if (cr_grow(&L->v, &L->cap, L->n, sizeof(*L->v), 256) != 0)
		return -ENOMEM;
	L->v[L->n++] = *e;
	return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct cr_manifest_entry *x = a, *y = b;
	int c = strcmp(x->rel, y->rel);
	return c ? c : x->n < y->n ? -1 : x->n > y->n;
}

/* the last event of rel, or NULL */
static const struct cr_manifest_entry *
mlist_find(const struct mlist *L, const char *rel)
{
	size_t lo = 0, hi = L->n;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (strcmp(L->v[m].rel, rel) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	if (lo == L->n || strcmp(L->v[lo].rel, rel) != 0)
		return NULL;
	while (lo + 1 < L->n && strcmp(L->v[lo + 1].rel, rel) == 0)
		lo++;
	return &L->v[lo];
}

static int
seg_keys_open(const char *path)
{
	uint8_t h[CR_SEG_HDR_ENC_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n < CR_SEG_HDR_LEN || cr_seg_header_check(h, (size_t)n) != 0 || !cr_seg_encrypted(h))
		return 1; /* not encrypted: nothing to open (the digest covers it) */
	if (n != (ssize_t)sizeof(h))
		return 0;
	/* every slot is empty (all zero) or opens with a key given */
	static const uint8_t zero[CR_KSLOT_LEN];
	int opened = 0;
	for (int i = 0; i < 2; i++) {
		const uint8_t *slot = h + CR_SEG_HDR_LEN + i * CR_KSLOT_LEN;
		if (memcmp(slot, zero, CR_KSLOT_LEN) == 0)
			continue;
		struct cr_dkey dk = {{0}, NULL};
		int r = cr_kslot_unwrap(slot, cr_store_keyring(), &dk, h, CR_SEG_HDR_LEN);
		cr_dkey_wipe(&dk);
		if (r != 0)
			return 0;
		opened++;
	}
	return opened > 0;
}

static int
seg_sealed(const char *path)
{
	struct cr_seg_walk w;
	return cr_seg_walk(path, NULL, NULL, &w) == 0 && w.sealed;
}

/* rows of main.T that r.T lacks, and the reverse */
static int
diff_rows(sqlite3 *db, const char *t, const char *key, struct cr_fsck_report *r)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT %s, 'index' FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM r.%s) "
		 "UNION ALL SELECT %s, 'segments' FROM (SELECT * FROM r.%s EXCEPT SELECT * FROM main.%s)",
		 key, t, t, key, t, t);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		r->index_rows_differ++;
		msg(r, 1, "index: %s row %s=%s differs from what the signed segments hold (%s side)",
		    t, key, (const char *)sqlite3_column_text(q, 0),
		    (const char *)sqlite3_column_text(q, 1));
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
verify_index(const char *store, struct cr_fsck_report *r)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	/* the store may be read-only (evidence copy): rebuild elsewhere */
	const char *td = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/callrec-verify-%d.sqlite", td && *td ? td : "/tmp",
		 (int)getpid());
	snprintf(path, sizeof(path), "%s/index.sqlite", store);
	unlink(tmp);
	struct cr_fsck_report rr;
	int rc = cr_fsck_rebuild(store, tmp, &rr);
	if (rc != 0) {
		msg(r, 1, "index: cannot rebuild from the segments to compare (%s)", strerror(-rc));
		unlink(tmp);
		return 0;
	}
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		msg(r, 1, "index: cannot open %s", path);
		sqlite3_close(db);
		unlink(tmp);
		return 0;
	}
	char att[PATH_MAX + 64];
	snprintf(att, sizeof(att), "ATTACH DATABASE 'file:%s?mode=ro' AS r", tmp);
	sqlite3_close(db);
	db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, att, NULL, NULL, NULL) != SQLITE_OK) {
		msg(r, 1, "index: cannot compare (%s)", db ? sqlite3_errmsg(db) : "open");
	} else {
		static const char *const t[][2] = {
			{"calls", "uid"}, {"streams", "uid"}, {"chunks", "stream_uid"}, {"losses", "id"}};
		for (size_t i = 0; i < 4; i++)
			if (diff_rows(db, t[i][0], t[i][1], r) != 0)
				msg(r, 1, "index: cannot compare table %s (%s)", t[i][0],
				    sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	unlink(tmp);
	char w[PATH_MAX + 8];
	snprintf(w, sizeof(w), "%s-wal", tmp);
	unlink(w);
	snprintf(w, sizeof(w), "%s-shm", tmp);
	unlink(w);
	return 0;
}

int
cr_fsck_verify(const char *store, struct cr_signer *pk, int check_index, struct cr_fsck_report *r)
{
	memset(r, 0, sizeof(*r));
	struct mlist L = {NULL, 0, 0, 0};
	uint64_t lines = 0;
	int rc = cr_manifest_read(store, pk, mlist_add, &L, &lines);
	if (rc == -ENOENT) {
		msg(r, 1, "no manifest.log: this store was written without a manifest "
			  "([security] manifest = yes)");
		free(L.v);
		return 0;
	}
	if (rc == -EBADMSG || rc == -EKEYREJECTED) {
		msg(r, 1, "manifest line %" PRIu64 ": %s; nothing after it is trusted", lines,
		    rc == -EBADMSG ? "does not parse or breaks the hash chain (edited, removed "
				     "or reordered lines)"
				   : "signature missing or wrong (not signed by this key)");
		rc = 0;
	}
	if (rc != 0) {
		free(L.v);
		return rc;
	}
	r->manifest_lines = lines;
	if (pk == NULL)
		msg(r, 0, "no public key given: the chain is checked, not who wrote it (--pubkey)");
	if (L.n)
		qsort(L.v, L.n, sizeof(*L.v), cmp_entry);
	struct scan S = {.store = store, .r = r};
	rc = list_segments(&S);
	for (size_t i = 0; rc == 0 && i < S.n; i++) {
		struct segf *f = &S.s[i];
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", store, f->rel);
		r->segments++;
		const struct cr_manifest_entry *e = mlist_find(&L, f->rel);
		/* the digest leaves the key slots out (rotation rewrites them):
		 * with keys, they must still open */
		if (cr_store_keyring() && !seg_keys_open(path)) {
			r->key_rejected++;
			msg(r, 1, "%s: its key slots do not open with the keys given (altered)", f->rel);
		}
		if (e && strcmp(e->op, "seal") == 0) {
			uint8_t d[32];
			uint64_t size = 0;
			int dr = cr_seg_digest(path, d, &size);
			if (dr != 0 || size != e->size || memcmp(d, e->digest, 32) != 0) {
				r->changed_segments++;
				msg(r, 1, "%s: %s since it was sealed (manifest line %" PRIu64 ")", f->rel,
				    dr ? "unreadable"
				    : size < e->size ? "truncated"
				    : size > e->size ? "extended"
						     : "changed",
				    e->n);
			}
		} else if (e) {
			msg(r, 0, "%s: deleted by retention (line %" PRIu64 ") but still present", f->rel,
			    e->n);
		} else if (seg_sealed(path)) {
			r->unlisted_segments++;
			msg(r, 1, "%s: sealed, but not in the manifest (added, or the manifest was cut)",
			    f->rel);
		} else {
			r->unsealed++;
			msg(r, 0, "%s: not sealed (being written, or left by a crash until the next start)",
			    f->rel);
		}
	}
	/* listed, sealed, gone */
	for (size_t i = 0; i < L.n; i++) {
		if (i + 1 < L.n && strcmp(L.v[i + 1].rel, L.v[i].rel) == 0)
			continue; /* not the last event of its segment */
		if (strcmp(L.v[i].op, "seal") == 0)
			r->manifest_sealed++;
		else
			r->manifest_deleted++;
		if (strcmp(L.v[i].op, "seal") != 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", store, L.v[i].rel);
		if (access(path, F_OK) != 0) {
			r->removed_segments++;
			msg(r, 1, "%s: sealed (manifest line %" PRIu64 ") and now missing: removed "
				  "without a deletion entry",
			    L.v[i].rel, L.v[i].n);
		}
	}
	if (!L.last_stop) {
		/* a writer holds STORE/.lock while it runs */
		char lp[PATH_MAX];
		snprintf(lp, sizeof(lp), "%s/.lock", store);
		int fd = open(lp, O_RDONLY | O_CLOEXEC);
		int running = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0;
		if (fd >= 0)
			close(fd);
		if (running)
			msg(r, 0, "callrecd is writing this store: the manifest ends at its last seal");
		else
			msg(r, 1, "the manifest does not end with a clean stop and no callrecd holds the "
				  "store: its tail was cut, or callrecd crashed (its next start "
				  "recovers and continues the chain)");
	}
	if (rc == 0 && check_index) {
		if (r->errors)
			msg(r, 0, "index rows not compared: the segments already fail");
		else
			rc = verify_index(store, r);
	}
	scan_free(&S);
	free(L.v);
	return rc;
}

void
cr_fsck_print(FILE *f, const struct cr_fsck_report *r, int json)
{
	static const struct {
		const char *key;
		size_t off;
	} k[] = {
#define K(x) {#x, offsetof(struct cr_fsck_report, x)}
		K(segments), K(data_segments), K(meta_segments), K(sealed), K(unsealed),
		K(failed), K(bad_headers), K(bad_footers), K(blocks), K(bad_blocks),
		K(bad_blocks_sealed), K(chunks), K(bad_chunks), K(records), K(bad_records),
		K(torn_bytes), K(index_segments), K(index_chunks), K(index_bad_chunks),
		K(index_missing_files), K(unindexed_segments), K(recovered), K(quarantined_bytes),
		K(replayed_chunks), K(replayed_records), K(encrypted), K(locked),
		K(key_rejected), K(index_unverified_chunks), K(manifest_lines), K(manifest_sealed),
		K(manifest_deleted), K(changed_segments), K(removed_segments),
		K(unlisted_segments), K(index_rows_differ), K(errors),
#undef K
	};
	if (json) {
		fputc('{', f);
		for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
			fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", k[i].key,
				*(const uint64_t *)((const char *)r + k[i].off));
		fputs(",\"messages\":[", f);
		for (uint32_t i = 0; i < r->n_msgs; i++) {
			fputs(i ? ",\"" : "\"", f);
			for (const char *p = r->msgs[i]; *p; p++) {
				if (*p == '"' || *p == '\\')
					fprintf(f, "\\%c", *p);
				else if ((unsigned char)*p < 0x20)
					fprintf(f, "\\u%04x", *p);
				else
					fputc(*p, f);
			}
			fputc('"', f);
		}
		fprintf(f, "],\"ok\":%s}\n", r->errors ? "false" : "true");
		return;
	}
	fprintf(f,
		"%" PRIu64 " segments (%" PRIu64 " data, %" PRIu64 " meta): %" PRIu64
		" sealed, %" PRIu64 " not sealed, %" PRIu64 " marked failed\n",
		r->segments, r->data_segments, r->meta_segments, r->sealed, r->unsealed, r->failed);
	fprintf(f,
		"%" PRIu64 " blocks verified (%" PRIu64 " damaged, %" PRIu64
		" of them in sealed data), %" PRIu64 " chunks, %" PRIu64 " records\n",
		r->blocks + r->bad_blocks, r->bad_blocks, r->bad_blocks_sealed, r->chunks,
		r->records);
	if (r->index_chunks || r->index_segments)
		fprintf(f,
			"index: %" PRIu64 " chunk locations checked, %" PRIu64 " point at missing or "
			"damaged data; %" PRIu64 " segments named, %" PRIu64 " missing\n",
			r->index_chunks, r->index_bad_chunks, r->index_segments,
			r->index_missing_files);
	if (r->recovered || r->replayed_chunks || r->replayed_records)
		fprintf(f,
			"recovered %" PRIu64 " segments (%" PRIu64 " bytes quarantined), entered %" PRIu64
			" chunks and %" PRIu64 " records\n",
			r->recovered, r->quarantined_bytes, r->replayed_chunks, r->replayed_records);
	if (r->encrypted)
		fprintf(f,
			"%" PRIu64 " segments encrypted: %" PRIu64 " opened by no key given, %" PRIu64
			" fail authentication\n",
			r->encrypted, r->locked, r->key_rejected);
	for (uint32_t i = 0; i < r->n_msgs; i++)
		fprintf(f, "%s\n", r->msgs[i]);
	fprintf(f, "%s\n", r->errors ? "ERRORS FOUND" : "no errors");
}
