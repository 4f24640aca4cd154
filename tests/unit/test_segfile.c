/* SPDX-License-Identifier: BSD-3-Clause */
/* Segment files and store consistency: a sealed segment of known blocks;
 * every truncation (at each block boundary, one byte either side, and inside
 * each block) walks to exactly the complete blocks and recovers to a sealed
 * file holding them; a flipped byte costs only its block, sealed or not;
 * meta records round-trip; fsck rebuilds an index equal to the one written. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cr_fsck.h"
#include "cr_index.h"
#include "cr_manifest.h"
#include "cr_store.h"
#include "cr_test.h"

#include <sqlite3.h>

#define NBLK 12

static uint64_t blk_end[NBLK + 1]; /* blk_end[k]: end of block k-1; [0] header */

static void
write_segment(const char *store, const char *rel)
{
	struct cr_segw w;
	memset(&w, 0, sizeof(w));
	w.fd = w.dfd = -1;
	CHECK_EQ(cr_segw_open(&w, store, rel, 3, 1, 1700000000000000000LL), 0);
	CHECK_EQ(cr_segw_open(&w, store, rel, 3, 1, 0), -EBUSY);
	struct cr_segw w2;
	memset(&w2, 0, sizeof(w2));
	w2.fd = w2.dfd = -1;
	CHECK_EQ(cr_segw_open(&w2, store, rel, 3, 1, 0), -EEXIST); /* never over a file */
	cr_segw_free(&w2);
	static uint8_t chunk[4096], raw[16384], blk[20000];
	blk_end[0] = CR_SEG_HDR_LEN;
	for (int b = 0; b < NBLK; b++) {
		uint32_t rl = 0;
		for (int c = 0; c < 3; c++) {
			struct cr_chunk_hdr h = {.stream_uid = (uint64_t)(b * 3 + c + 1), .call_uid = 9};
			struct cr_chunk_writer cw;
			CHECK_EQ(cr_chunk_begin(&cw, chunk, sizeof(chunk), &h), 0);
			uint8_t pl[160];
			for (int i = 0; i < 10; i++) {
				for (int k = 0; k < 160; k++)
					pl[k] = (uint8_t)(k * 31 + i + b);
				CHECK_EQ(cr_chunk_add(&cw, (uint16_t)i, (uint32_t)i * 160,
						      1700000000000000000LL + (b * 10 + i) * 20000000LL, 0, 0,
						      pl, 160),
					 0);
			}
			uint32_t l = cr_chunk_finish(&cw);
			memcpy(raw + rl, chunk, l);
			rl += l;
		}
		int bl = cr_block_encode(raw, rl, 3, blk, sizeof(blk));
		CHECK(bl > 0);
		if (bl > (int)cr_segw_room(&w))
			CHECK_EQ(cr_segw_flush(&w, 1), 0);
		CHECK_EQ(cr_segw_append(&w, blk, (uint32_t)bl, 0), 0);
		blk_end[b + 1] = w.off;
	}
	CHECK_EQ(cr_segw_seal(&w), 0);
	/* the writer's digest is the file's (manifest), with no read-back */
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", store, rel);
	uint8_t df[32];
	uint64_t size = 0;
	CHECK(w.digest_ok);
	CHECK_EQ(cr_seg_digest(path, df, &size), 0);
	CHECK(memcmp(w.digest, df, 32) == 0);
	CHECK_EQ(size, blk_end[NBLK] + 12 + 8 * NBLK + 16);
	cr_segw_free(&w);
}

/* pages of the file at path now in the page cache: bit i of *res = page i */
static int
cached_pages(const char *path, uint64_t *res, unsigned *npages)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0)
		return -1;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	unsigned char v[64];
	*npages = (unsigned)((st.st_size + 4095) / 4096);
	int r = *npages <= sizeof(v) ? mincore(m, (size_t)st.st_size, v) : -1;
	*res = 0;
	for (unsigned i = 0; r == 0 && i < *npages; i++)
		*res |= (uint64_t)(v[i] & 1) << i;
	munmap(m, (size_t)st.st_size);
	return r;
}

/* Staged bytes reach the file with O_DIRECT, all but the last partial page
 * (the kernel keeps no copy of them: not in the page cache afterwards); the
 * writer used to send the whole buffer through the page cache whenever its
 * length was not a multiple of 4 KiB, which is almost always. */
static void
direct_writes(const char *store)
{
	const char *rel = "segments/d/w1-r1-1.seg";
	struct cr_segw w;
	memset(&w, 0, sizeof(w));
	w.fd = w.dfd = -1;
	CHECK_EQ(cr_segw_open(&w, store, rel, 1, 1, 1700000000000000000LL), 0);
	if (w.dfd < 0) {
		printf("direct_writes: %s takes no O_DIRECT: skipped\n", store);
		cr_segw_free(&w);
		return;
	}
	static uint8_t chunk[8192], blk[20000];
	uint32_t x = 12345;
	for (int b = 0; b < 8; b++) {
		struct cr_chunk_hdr h = {.stream_uid = (uint64_t)b + 1, .call_uid = 9};
		struct cr_chunk_writer cw;
		CHECK_EQ(cr_chunk_begin(&cw, chunk, sizeof(chunk), &h), 0);
		uint8_t pl[160];
		for (int i = 0; i < 30; i++) {
			for (int k = 0; k < 160; k++) /* noise: lz4 keeps its size */
				pl[k] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
			CHECK_EQ(cr_chunk_add(&cw, (uint16_t)i, (uint32_t)i * 160,
					      1700000000000000000LL + i * 20000000LL, 0, 0, pl, 160),
				 0);
		}
		uint32_t l = cr_chunk_finish(&cw);
		int bl = cr_block_encode(chunk, l, 1, blk, sizeof(blk));
		CHECK(bl > 4096);
		CHECK_EQ(cr_segw_append(&w, blk, (uint32_t)bl, 0), 0);
		if (b != 3)
			continue;
		/* a group commit in the middle: head direct, tail through the cache */
		uint64_t end = w.off;
		CHECK(end % 4096 != 0);
		CHECK_EQ(cr_segw_flush(&w, 1), 0);
		if (w.dfd < 0) { /* opened, then refused the writes (EINVAL) */
			printf("direct_writes: %s refused O_DIRECT writes: skipped\n", store);
			continue;
		}
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", store, rel);
		uint64_t res = 0;
		unsigned np = 0;
		CHECK_EQ(cached_pages(path, &res, &np), 0);
		CHECK_EQ(np, (end + 4095) / 4096);
		CHECK_EQ(res, 1ull << (np - 1)); /* only the partial last page */
	}
	CHECK_EQ(cr_segw_seal(&w), 0);
	cr_segw_free(&w);
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", store, rel);
	struct cr_seg_walk sw;
	CHECK_EQ(cr_seg_walk(path, NULL, NULL, &sw), 0);
	CHECK(sw.sealed);
	CHECK_EQ(sw.blocks, 8);
	CHECK_EQ(sw.bad_blocks, 0);
}

static uint8_t *
slurp(const char *p, size_t *n)
{
	int fd = open(p, O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	uint8_t *b = malloc((size_t)st.st_size);
	CHECK_EQ(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return b;
}

static void
spit(const char *p, const uint8_t *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	CHECK_EQ(write(fd, b, n), (long long)n);
	close(fd);
}

static int
complete_blocks(uint64_t cut)
{
	int k = 0;
	while (k < NBLK && blk_end[k + 1] <= cut)
		k++;
	return k;
}

static void
records(void)
{
	struct cr_call c;
	memset(&c, 0, sizeof(c));
	c.uid = 77;
	snprintf(c.call_id, sizeof(c.call_id), "a=b\n%%c@host");
	snprintf(c.from_user, sizeof(c.from_user), "+4930123");
	c.start_ns = -5;
	c.state = 3;
	c.sip_status = 487;
	c.n_dtmf = 2;
	c.dtmf[0].digit = '5';
	c.dtmf[1].digit = '#';
	c.dtmf[1].t_ns = 123;
	char buf[8192];
	int n = cr_rec_encode(CR_REC_CALL, &c, buf, sizeof(buf));
	CHECK(n > 0);
	struct cr_call d;
	CHECK_EQ(cr_rec_decode(buf, (size_t)n, &d, sizeof(d)), CR_REC_CALL);
	CHECK(strcmp(d.call_id, c.call_id) == 0 && strcmp(d.from_user, c.from_user) == 0);
	CHECK_EQ(d.start_ns, -5);
	CHECK_EQ(d.sip_status, 487);
	CHECK_EQ(d.n_dtmf, 2);
	CHECK_EQ(d.dtmf[1].digit, '#');
	CHECK_EQ(d.dtmf[1].t_ns, 123);
	/* integers as printf writes them (records written before are read the
	 * same way), extremes too */
	CHECK(strstr(buf, "kind=call\nuid=77\n") == buf);
	CHECK(strstr(buf, "\nstart_ns=-5\n") != NULL);
	CHECK(strstr(buf, "\nsip_status=487\n") != NULL);
	c.uid = UINT64_MAX;
	c.start_ns = INT64_MIN;
	c.end_ns = INT64_MAX;
	n = cr_rec_encode(CR_REC_CALL, &c, buf, sizeof(buf));
	CHECK(n > 0);
	char want[64];
	snprintf(want, sizeof(want), "\nuid=%" PRIu64 "\n", c.uid);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof(want), "\nstart_ns=%" PRId64 "\n", c.start_ns);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof(want), "\nend_ns=%" PRId64 "\n", c.end_ns);
	CHECK(strstr(buf, want) != NULL);
	CHECK_EQ(cr_rec_decode(buf, (size_t)n, &d, sizeof(d)), CR_REC_CALL);
	CHECK(d.uid == UINT64_MAX && d.start_ns == INT64_MIN && d.end_ns == INT64_MAX);
	struct cr_stream_rec s;
	memset(&s, 0, sizeof(s));
	s.uid = 5;
	s.mean_jitter_ms = 0.1 + 0.2;
	s.lost = -3;
	snprintf(s.ptmap, sizeof(s.ptmap), "0 PCMU/8000/1;101 telephone-event/8000/1");
	n = cr_rec_encode(CR_REC_STREAM, &s, buf, sizeof(buf));
	struct cr_stream_rec t;
	CHECK_EQ(cr_rec_decode(buf, (size_t)n, &t, sizeof(t)), CR_REC_STREAM);
	CHECK(t.mean_jitter_ms == s.mean_jitter_ms); /* exact: a hexadecimal float */
	CHECK(strstr(buf, "\nmean_jitter_ms=0x1.3333333333334p-2\n") != NULL);
	CHECK_EQ(t.lost, -3);
	CHECK(strcmp(t.ptmap, s.ptmap) == 0);
	/* every double comes back bit for bit: signed zero, subnormals, the
	 * extremes, infinities; a NaN stays a NaN; decimal text (records
	 * written before) still reads */
	static const double vals[] = {0.0,	-0.0,	  1.0,	   -2.5,     0.1,	 1e-310,
				      -4.9e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
				      123456.789, 1.0 / 0.0, -1.0 / 0.0};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		s.max_delta_ms = vals[i];
		n = cr_rec_encode(CR_REC_STREAM, &s, buf, sizeof(buf));
		CHECK(n > 0);
		CHECK_EQ(cr_rec_decode(buf, (size_t)n, &t, sizeof(t)), CR_REC_STREAM);
		CHECK(memcmp(&t.max_delta_ms, &vals[i], 8) == 0);
	}
	s.max_delta_ms = 0.0 / 0.0;
	n = cr_rec_encode(CR_REC_STREAM, &s, buf, sizeof(buf));
	CHECK_EQ(cr_rec_decode(buf, (size_t)n, &t, sizeof(t)), CR_REC_STREAM);
	CHECK(t.max_delta_ms != t.max_delta_ms);
	CHECK_EQ(cr_rec_decode("kind=stream\nmax_delta_ms=0.30000000000000004\n", 45, &t, sizeof(t)),
		 CR_REC_STREAM);
	CHECK(t.max_delta_ms == 0.1 + 0.2);
	s.max_delta_ms = 0;
	/* too small a buffer, a record type bigger than the target, damage */
	CHECK_EQ(cr_rec_encode(CR_REC_STREAM, &s, buf, 20), -ENOSPC);
	CHECK_EQ(cr_rec_decode(buf, (size_t)n, &c, 16), -ENOSPC);
	for (int cut = 0; cut < n; cut++)
		(void)cr_rec_decode(buf, (size_t)cut, &t, sizeof(t)); /* no crash, any answer */
	CHECK(cr_rec_decode("kind=what\n", 10, &t, sizeof(t)) < 0);
	CHECK(cr_rec_decode("kind=stream\nuid=x1\n", 19, &t, sizeof(t)) < 0);
	CHECK(cr_rec_decode("kind=stream\ncodec=4g\n", 21, &t, sizeof(t)) < 0);
	CHECK_EQ(cr_rec_decode("kind=stream\nfuture=1\nuid=9\n", 27, &t, sizeof(t)), CR_REC_STREAM);
	CHECK_EQ(t.uid, 9);
}

/* chunk rows read back, in (segment, block_off, chunk_no) order */
struct rows {
	struct cr_chunk_rec r[64];
	int n;
};

static int
keep_row(void *ctx, const struct cr_chunk_rec *c)
{
	struct rows *v = ctx;
	if (v->n < 64)
		v->r[v->n] = *c;
	v->n++;
	return 0;
}

/* cr_index_put_chunks: whole multi-row statements and single rows, rows
 * already present left as they are (recovery replays), each field kept */
static void
put_chunks(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/chunks.sqlite", dir);
	struct cr_index *idx;
	CHECK_EQ(cr_index_open(path, CR_INDEX_RW, &idx), 0);
	static struct cr_chunk_rec c[2 * CR_INDEX_CHUNK_ROWS + 5];
	const uint32_t n = sizeof(c) / sizeof(c[0]);
	for (uint32_t i = 0; i < n; i++) {
		c[i] = (struct cr_chunk_rec){.stream_uid = 100 + i % 3, .call_uid = 7,
					     .block_off = 4096 + 8192 * (i / 4), .chunk_no = i % 4,
					     .n_pkts = 50 + i, .first_ns = 1000 * (int64_t)i,
					     .last_ns = 1000 * (int64_t)i + 999};
		snprintf(c[i].segment, sizeof(c[i].segment), "segments/x/w0-r1-%u.seg", 1 + i / 20);
	}
	CHECK_EQ(cr_index_put_chunks(idx, c, 20), 0);
	struct cr_chunk_rec changed = c[3];
	changed.n_pkts = 1; /* the same location again: ignored */
	CHECK_EQ(cr_index_put_chunk(idx, &changed), 0);
	CHECK_EQ(cr_index_put_chunks(idx, c, n), 0);
	struct rows v = {.n = 0};
	CHECK_EQ(cr_index_all_chunks(idx, keep_row, &v), 0);
	CHECK_EQ(v.n, (int)n);
	for (int i = 0; i < v.n && i < (int)n; i++)
		CHECK(memcmp(&v.r[i], &c[i], sizeof(c[i])) == 0);
	cr_index_close(idx);
}

/* the schema as "table|col:type,col:type...;index|table|cols|unique;...", and
 * the store's user_version */
static void
schema_of(const char *path, char *out, size_t cap, int *level)
{
	sqlite3 *db;
	out[0] = 0;
	CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *t, *c;
	size_t n = 0;
	CHECK_EQ(sqlite3_prepare_v2(db,
				    "SELECT m.type, m.name, m.tbl_name, p.name, p.type, p.cid FROM sqlite_master m, "
				    "pragma_table_info(m.name) p WHERE m.type='table' UNION ALL "
				    "SELECT 'index', m.name, m.tbl_name, i.name, "
				    "(SELECT \"unique\" FROM pragma_index_list(m.tbl_name) l WHERE l.name=m.name), i.seqno "
				    "FROM sqlite_master m, pragma_index_info(m.name) i WHERE m.type='index' "
				    "ORDER BY 1, 2, 6",
				    -1, &t, NULL),
		 SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW && n + 200 < cap)
		n += (size_t)snprintf(out + n, cap - n, "%s|%s|%s|%s|%s;", sqlite3_column_text(t, 0),
				      sqlite3_column_text(t, 1), sqlite3_column_text(t, 2),
				      sqlite3_column_text(t, 3), sqlite3_column_text(t, 4));
	sqlite3_finalize(t);
	CHECK_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &c, NULL), SQLITE_OK);
	*level = sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int(c, 0) : -1;
	sqlite3_finalize(c);
	sqlite3_close(db);
}

/* A new store gets the whole schema at once (no migrations), a store from
 * before every migration is brought to the same columns and indexes, and
 * both say so in user_version. */
static void
schema_levels(const char *dir)
{
	char fresh[512], old[512];
	snprintf(fresh, sizeof(fresh), "%s/fresh.sqlite", dir);
	snprintf(old, sizeof(old), "%s/old.sqlite", dir);
	struct cr_index *idx;
	CHECK_EQ(cr_index_open(fresh, CR_INDEX_RW, &idx), 0);
	cr_index_close(idx);
	/* the oldest layout: no policy columns, no stream quality, losses
	 * without id, no unique chunk location */
	sqlite3 *db;
	CHECK_EQ(sqlite3_open(old, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(db,
			      "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER);"
			      "CREATE TABLE calls(uid INTEGER PRIMARY KEY, call_id TEXT NOT NULL,"
			      " from_user TEXT, to_user TEXT, from_uri TEXT, to_uri TEXT, start_ns INTEGER,"
			      " answer_ns INTEGER, end_ns INTEGER, state INTEGER, sip_status INTEGER,"
			      " dtmf BLOB);"
			      "CREATE TABLE streams(uid INTEGER PRIMARY KEY, call_uid INTEGER, src BLOB,"
			      " sport INTEGER, dst BLOB, dport INTEGER, ssrc INTEGER, side INTEGER,"
			      " pt INTEGER, clock_rate INTEGER, codec TEXT, packets INTEGER, lost INTEGER,"
			      " out_of_order INTEGER, duplicates INTEGER, payload_bytes INTEGER,"
			      " max_jitter_ms REAL, mean_jitter_ms REAL, max_delta_ms REAL, mos REAL,"
			      " first_ns INTEGER, last_ns INTEGER, rtcp_packets INTEGER, is_srtp INTEGER,"
			      " dtmf BLOB);"
			      "CREATE TABLE chunks(stream_uid INTEGER, call_uid INTEGER, segment TEXT,"
			      " block_off INTEGER, chunk_no INTEGER, n_pkts INTEGER, first_ns INTEGER,"
			      " last_ns INTEGER);"
			      "CREATE INDEX chunks_call ON chunks(call_uid);",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ(cr_index_open(old, CR_INDEX_RW, &idx), 0);
	cr_index_close(idx);
	static char a[8192], b[8192];
	int la, lb;
	schema_of(fresh, a, sizeof(a), &la);
	schema_of(old, b, sizeof(b), &lb);
	CHECK(strstr(a, "streams|streams|r_factor|REAL") != NULL);
	CHECK(strstr(a, "chunks_loc|chunks|block_off|1") != NULL);
	CHECK(strcmp(a, b) == 0);
	if (strcmp(a, b) != 0)
		fprintf(stderr, "new store:\n%s\nmigrated store:\n%s\n", a, b);
	CHECK(la >= 1);
	CHECK_EQ(lb, la);
	/* opened again: still the same */
	CHECK_EQ(cr_index_open(old, CR_INDEX_RW, &idx), 0);
	cr_index_close(idx);
	schema_of(old, b, sizeof(b), &lb);
	CHECK(strcmp(a, b) == 0);
}

int
main(void)
{
	char store[] = "/tmp/cr_segfile_XXXXXX";
	CHECK(mkdtemp(store) != NULL);
	char path[512], cut_path[512], q[512];
	write_segment(store, "segments/a/w0-r1-1.seg");
	char dstore[] = "/tmp/cr_segdirect_XXXXXX";
	CHECK(mkdtemp(dstore) != NULL);
	direct_writes(dstore);
	put_chunks(dstore);
	schema_levels(dstore);
	snprintf(path, sizeof(path), "%s/segments/a/w0-r1-1.seg", store);
	struct cr_seg_walk w;
	CHECK_EQ(cr_seg_walk(path, NULL, NULL, &w), 0);
	CHECK(w.sealed);
	CHECK_EQ(w.blocks, NBLK);
	CHECK_EQ(w.chunks, 3 * NBLK);
	CHECK_EQ(w.bad_blocks, 0);
	CHECK(!w.footer_mismatch);
	size_t n;
	uint8_t *file = slurp(path, &n);
	snprintf(cut_path, sizeof(cut_path), "%s/cut.seg", store);
	snprintf(q, sizeof(q), "%s/quarantine/cut.seg.tail", store);

	/* truncations: every boundary, one byte either side, 7 points inside */
	int cuts = 0;
	for (int b = 0; b <= NBLK; b++) {
		uint64_t pts[11] = {blk_end[b], blk_end[b] - 1, blk_end[b] + 1};
		int np = 3;
		if (b < NBLK)
			for (int k = 1; k <= 7; k++)
				pts[np++] = blk_end[b] + (blk_end[b + 1] - blk_end[b]) * (uint64_t)k / 8;
		for (int i = 0; i < np; i++) {
			uint64_t cut = pts[i];
			if (cut > n || cut < 1)
				continue;
			spit(cut_path, file, cut);
			CHECK_EQ(cr_seg_walk(cut_path, NULL, NULL, &w), 0);
			if (cut < CR_SEG_HDR_LEN) {
				CHECK(w.empty);
				continue;
			}
			int want = complete_blocks(cut);
			if (w.sealed) { /* only the whole file is sealed */
				CHECK_EQ(cut, n);
				continue;
			}
			CHECK_EQ(w.blocks, want);
			CHECK_EQ(w.bad_blocks, 0);
			CHECK_EQ(w.valid_end, blk_end[want]);
			CHECK_EQ(cr_seg_recover(cut_path, q, &w), 0);
			CHECK_EQ(w.quarantined, cut - blk_end[want]);
			CHECK_EQ(cr_seg_walk(cut_path, NULL, NULL, &w), 0);
			CHECK(w.sealed);
			CHECK_EQ(w.blocks, want);
			CHECK(!w.footer_mismatch);
			cuts++;
		}
	}
	CHECK(cuts > 100);
	/* whole file minus the trailer, the footer, part of it */
	for (uint64_t cut = blk_end[NBLK]; cut < n; cut++) {
		spit(cut_path, file, cut);
		CHECK_EQ(cr_seg_walk(cut_path, NULL, NULL, &w), 0);
		CHECK(!w.sealed);
		CHECK_EQ(w.blocks, NBLK);
	}

	/* one flipped byte inside block k: sealed, and unsealed (no trailer) */
	for (int k = 0; k < NBLK; k++) {
		uint64_t at = (blk_end[k] + blk_end[k + 1]) / 2;
		for (int sealed = 1; sealed >= 0; sealed--) {
			file[at] ^= 0x5a;
			spit(cut_path, file, sealed ? n : blk_end[NBLK]);
			file[at] ^= 0x5a;
			CHECK_EQ(cr_seg_walk(cut_path, NULL, NULL, &w), 0);
			CHECK_EQ(w.sealed, sealed);
			CHECK_EQ(w.blocks, NBLK - 1);
			if (!sealed && k == NBLK - 1) {
				/* damage with nothing good after it is a torn tail */
				CHECK_EQ(w.bad_blocks, 0);
				CHECK_EQ(w.torn_tail, blk_end[NBLK] - blk_end[k]);
				continue;
			}
			CHECK_EQ(w.bad_blocks, 1);
			CHECK_EQ(w.first_bad, blk_end[k]);
		}
	}
	/* a damaged header: not a segment */
	file[20] ^= 1;
	spit(cut_path, file, n);
	file[20] ^= 1;
	CHECK_EQ(cr_seg_walk(cut_path, NULL, NULL, &w), 0);
	CHECK(w.bad_header);
	CHECK_EQ(cr_seg_recover(cut_path, q, &w), -EINVAL);
	unlink(cut_path);

	records();

	/* fsck: check finds the damage it should; rebuild = what was written */
	struct cr_fsck_report *r = calloc(1, sizeof(*r));
	CHECK_EQ(cr_fsck_check(store, r), 0);
	CHECK_EQ(r->segments, 1);
	CHECK_EQ(r->chunks, 3 * NBLK);
	char idx_path[600];
	snprintf(idx_path, sizeof(idx_path), "%s/rebuilt.sqlite", store);
	CHECK_EQ(cr_fsck_rebuild(store, idx_path, r), 0);
	CHECK_EQ(r->replayed_chunks, 3 * NBLK);
	CHECK_EQ(cr_fsck_rebuild(store, idx_path, r), -EEXIST);
	file[(blk_end[4] + blk_end[5]) / 2] ^= 1;
	spit(path, file, n);
	CHECK_EQ(cr_fsck_check(store, r), 0);
	CHECK_EQ(r->bad_blocks_sealed, 1);
	CHECK(r->errors > 0);
	free(r);
	free(file);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", store, dstore);
	if (cr_test_failures == 0 && system(cmd) != 0)
		return 1;
	TEST_DONE();
}
