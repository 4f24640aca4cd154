/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_crypt.h"
#include "cr_index.h"
#include "cr_mem.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM_COLS                                                                        \
	"uid,call_uid,src,sport,dst,dport,ssrc,side,pt,clock_rate,codec,packets,lost,"     \
	"out_of_order,duplicates,payload_bytes,max_jitter_ms,mean_jitter_ms,max_delta_ms," \
	"mos,first_ns,last_ns,rtcp_packets,is_srtp,dtmf,channels,ptmap,store_lost,jb_discards,"   \
	"silence_pct,r_factor"

struct cr_index {
	char stream_sel[512]; /* stream columns to SELECT; NULL for ones an old store lacks */
	sqlite3 *db;
	int mode;
	int has_policy; /* calls has record/rclass/rule (stores from before lack them) */
	uint64_t run_id;
	sqlite3_stmt *put_call, *put_stream, *put_chunk, *put_chunks, *put_seg;
	uint64_t loss_seq;
	const struct cr_fieldkey *fk; /* personal data protected in calls (NULL: plain) */
	char err[256];
};

static const struct cr_fieldkey *g_default_fk;

void
cr_index_set_fieldkey(struct cr_index *idx, const struct cr_fieldkey *fk)
{
	idx->fk = fk;
}

void
cr_index_set_default_fieldkey(const struct cr_fieldkey *fk)
{
	g_default_fk = fk;
}

/* the stored form of a personal-data value, or the value itself */
static const char *
protect(const struct cr_index *idx, const char *v, char *buf, size_t cap)
{
	if (idx->fk == NULL || idx->fk->mode == CR_PII_PLAIN || v == NULL)
		return v;
	return cr_field_protect(idx->fk, v, buf, cap) == 0 ? buf : "~?";
}

/* DTMF digits (card numbers, PINs) are personal data: protected as text */
static void
bind_dtmf(const struct cr_index *idx, sqlite3_stmt *s, int col, const void *b, size_t n)
{
	char hex[2 * 64 * 16 + 1], out[1200];
	if (idx->fk == NULL || idx->fk->mode == CR_PII_PLAIN || n == 0 || 2 * n >= sizeof(hex)) {
		sqlite3_bind_blob(s, col, b, (int)n, SQLITE_STATIC);
		return;
	}
	cr_hex(b, n, hex);
	if (cr_field_protect(idx->fk, hex, out, sizeof(out)) == 0)
		sqlite3_bind_text(s, col, out, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, col); /* never the digits in clear */
}

/* the same value protected as the other modes would, for searches */
static const char *
protect_as(const struct cr_index *idx, enum cr_pii_mode mode, const char *v, char *buf,
	   size_t cap)
{
	if (idx->fk == NULL || v == NULL)
		return v;
	struct cr_fieldkey k = *idx->fk;
	k.mode = mode;
	int r = cr_field_protect(&k, v, buf, cap);
	cr_wipe(&k, sizeof(k));
	return r == 0 ? buf : v;
}

static const char pragmas[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	/* a small WAL: the free-space guard keeps room for it (cr_io.c) */
	"PRAGMA wal_autocheckpoint=256;";

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
	"CREATE TABLE IF NOT EXISTS calls("
	" uid INTEGER PRIMARY KEY, call_id TEXT NOT NULL, from_user TEXT, to_user TEXT,"
	" from_uri TEXT, to_uri TEXT, start_ns INTEGER, answer_ns INTEGER, end_ns INTEGER,"
	" state INTEGER, sip_status INTEGER, dtmf BLOB, record INTEGER, rclass INTEGER,"
	" rule TEXT, spans BLOB);"
	"CREATE INDEX IF NOT EXISTS calls_start ON calls(start_ns);"
	"CREATE INDEX IF NOT EXISTS calls_callid ON calls(call_id);"
	"CREATE TABLE IF NOT EXISTS streams("
	" uid INTEGER PRIMARY KEY, call_uid INTEGER, src BLOB, sport INTEGER, dst BLOB,"
	" dport INTEGER, ssrc INTEGER, side INTEGER, pt INTEGER, clock_rate INTEGER,"
	" codec TEXT, packets INTEGER, lost INTEGER, out_of_order INTEGER,"
	" duplicates INTEGER, payload_bytes INTEGER, max_jitter_ms REAL,"
	" mean_jitter_ms REAL, max_delta_ms REAL, mos REAL, first_ns INTEGER,"
	" last_ns INTEGER, rtcp_packets INTEGER, is_srtp INTEGER, dtmf BLOB,"
	/* added by migrations to older stores, in the order they add them */
	" channels INTEGER, ptmap TEXT, store_lost INTEGER, jb_discards INTEGER,"
	" silence_pct REAL, r_factor REAL);"
	"CREATE INDEX IF NOT EXISTS streams_call ON streams(call_uid);"
	"CREATE TABLE IF NOT EXISTS chunks(stream_uid INTEGER, call_uid INTEGER, segment TEXT,"
	" block_off INTEGER, chunk_no INTEGER, n_pkts INTEGER, first_ns INTEGER, last_ns INTEGER);"
	"CREATE INDEX IF NOT EXISTS chunks_stream ON chunks(stream_uid, first_ns);"
	"CREATE TABLE IF NOT EXISTS losses(stream_uid INTEGER, packets INTEGER, id INTEGER);"
	"CREATE INDEX IF NOT EXISTS losses_stream ON losses(stream_uid);"
	"CREATE TABLE IF NOT EXISTS segments(rel TEXT PRIMARY KEY, kind INTEGER, state INTEGER,"
	" rclass INTEGER, first_ns INTEGER, last_ns INTEGER, bytes INTEGER);";

/* The indexes the migrations below add, for a new store (not in the schema:
 * losses_id is on a column older stores lack, and the schema runs on them
 * before their migrations); and the level a store's user_version says its
 * migrations reached (raise it with a new migration). */
static const char fresh_indexes[] =
	"CREATE UNIQUE INDEX IF NOT EXISTS chunks_loc ON chunks(segment, block_off, chunk_no);"
	"CREATE UNIQUE INDEX IF NOT EXISTS losses_id ON losses(id);";
#define SCHEMA_LEVEL 1
#define LEVEL_STR_(x) #x
#define LEVEL_STR(x) LEVEL_STR_(x)

/* the first column of the first row of sql, an integer; -1 on error or
 * without a row */
static int64_t
int_query(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
fail(struct cr_index *idx)
{
	snprintf(idx->err, sizeof(idx->err), "%s", sqlite3_errmsg(idx->db));
	return -EIO;
}

const char *
cr_index_errmsg(const struct cr_index *idx)
{
	return idx->err;
}

uint64_t
cr_index_run_id(const struct cr_index *idx)
{
	return idx->run_id;
}

/* SQLite's page cache in huge pages (cr_mem_dense: SQLite threads every
 * slot on a free list at once, so all of it is touched): in 4 KiB pages each
 * cost a fault (about 12 us in a VM: a seventh of an import's index thread),
 * a 2 MiB page one. Process-wide, before the first connection (SQLite takes
 * it only while uninitialised); pages past it come from malloc as before. */
#define PCACHE_BYTES (4u << 20)
static void
pcache_init(void)
{
	int hdr = 0;
	if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK || hdr <= 0)
		return;
	void *p = cr_mem_dense(PCACHE_BYTES);
	int sz = 4096 + ((hdr + 7) & ~7); /* the default page size, 8-byte aligned slots */
	if (p && sqlite3_config(SQLITE_CONFIG_PAGECACHE, p, sz, (int)(PCACHE_BYTES / (unsigned)sz)) !=
		     SQLITE_OK)
		cr_mem_huge_free(p, PCACHE_BYTES);
}

int
cr_index_open(const char *path, int mode, struct cr_index **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, pcache_init);
	struct cr_index *idx = calloc(1, sizeof(*idx));
	if (idx)
		idx->fk = g_default_fk;
	if (idx == NULL)
		return -ENOMEM;
	idx->mode = mode;
	if (mode == CR_INDEX_RO && access(path, R_OK) != 0) {
		free(idx);
		return -ENOENT;
	}
	int fl = mode == CR_INDEX_RW ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
				     : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &idx->db, fl | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		int r = fail(idx);
		sqlite3_close(idx->db);
		free(idx);
		return r;
	}
	sqlite3_busy_timeout(idx->db, 5000);
	if (mode == CR_INDEX_RW) {
		/* the schema, its migrations and the run counter in one
		 * transaction: a commit each was a third of an empty import */
		if (sqlite3_exec(idx->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(idx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			goto err;
		int fresh = int_query(idx->db, "SELECT count(*) FROM sqlite_master") == 0;
		int64_t level = int_query(idx->db, "PRAGMA user_version");
		if (sqlite3_exec(idx->db, schema, NULL, NULL, NULL) != SQLITE_OK)
			goto err;
		/* Columns added after a store was created: add what is missing
		 * (an existing column makes ALTER fail harmlessly). A new store
		 * gets them from the schema and a store the migrations have seen
		 * says so in user_version: neither pays for them again (15
		 * failing ALTERs, ~1 ms of every open). */
		static const char *const migrations[] = {
			"ALTER TABLE streams ADD COLUMN channels INTEGER",
			"ALTER TABLE streams ADD COLUMN ptmap TEXT",
			"ALTER TABLE streams ADD COLUMN store_lost INTEGER",
			"CREATE TABLE IF NOT EXISTS losses(stream_uid INTEGER, packets INTEGER)",
			"ALTER TABLE losses ADD COLUMN id INTEGER",
			/* replaying a segment (recovery) must not duplicate rows */
			"CREATE UNIQUE INDEX IF NOT EXISTS chunks_loc ON chunks(segment, block_off, chunk_no)",
			"CREATE UNIQUE INDEX IF NOT EXISTS losses_id ON losses(id)",
			/* an index a chunk row paid for (an eighth of an import's
			 * index thread) for retention alone, which finds a call's
			 * chunks through its streams instead */
			"DROP INDEX IF EXISTS chunks_call",
			"ALTER TABLE calls ADD COLUMN record INTEGER",
			"ALTER TABLE calls ADD COLUMN rclass INTEGER",
			"ALTER TABLE calls ADD COLUMN rule TEXT",
			"ALTER TABLE calls ADD COLUMN spans BLOB",
			"ALTER TABLE streams ADD COLUMN jb_discards INTEGER",
			"ALTER TABLE streams ADD COLUMN silence_pct REAL",
			"ALTER TABLE streams ADD COLUMN r_factor REAL",
		};
		if (fresh) {
			if (sqlite3_exec(idx->db, fresh_indexes, NULL, NULL, NULL) != SQLITE_OK)
				goto err;
		} else if (level < SCHEMA_LEVEL) {
			for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++)
				sqlite3_exec(idx->db, migrations[i], NULL, NULL, NULL);
		}
		if (level < SCHEMA_LEVEL &&
		    sqlite3_exec(idx->db, "PRAGMA user_version=" LEVEL_STR(SCHEMA_LEVEL), NULL, NULL,
				 NULL) != SQLITE_OK)
			goto err;
		sqlite3_exec(idx->db,
			     "INSERT INTO meta VALUES('run',1) ON CONFLICT(key) DO UPDATE SET "
			     "value=value+1;",
			     NULL, NULL, NULL);
		int64_t run = int_query(idx->db, "SELECT value FROM meta WHERE key='run'");
		if (run < 0)
			goto err;
		idx->run_id = (uint64_t)run;
		if (sqlite3_exec(idx->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto err;
		if (sqlite3_prepare_v2(idx->db,
				       "INSERT OR REPLACE INTO calls(uid,call_id,from_user,to_user,"
				       "from_uri,to_uri,start_ns,answer_ns,end_ns,state,sip_status,dtmf,"
				       "record,rclass,rule,spans) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				       -1, &idx->put_call, NULL) != SQLITE_OK)
			goto err;
		if (sqlite3_prepare_v2(idx->db,
				       "INSERT OR REPLACE INTO streams(" STREAM_COLS ") VALUES(?,?,?,?,?,"
				       "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				       -1, &idx->put_stream, NULL) != SQLITE_OK)
			goto err;
		char many[64 + CR_INDEX_CHUNK_ROWS * 20] = "INSERT OR IGNORE INTO chunks VALUES";
		for (int i = 0; i < CR_INDEX_CHUNK_ROWS; i++)
			strcat(many, i ? ",(?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?)");
		if (sqlite3_prepare_v2(idx->db, "INSERT OR IGNORE INTO chunks VALUES(?,?,?,?,?,?,?,?)",
				       -1, &idx->put_chunk, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(idx->db, many, -1, &idx->put_chunks, NULL) != SQLITE_OK)
			goto err;
		if (sqlite3_prepare_v2(idx->db,
				       "INSERT OR REPLACE INTO segments(rel,kind,state,rclass,first_ns,"
				       "last_ns,bytes) VALUES(?,?,?,?,?,?,?)",
				       -1, &idx->put_seg, NULL) != SQLITE_OK)
			goto err;
	}
	/* columns added after a store was created read as NULL from older stores */
	int has_ch = 0, has_pm = 0, has_sl = 0, has_loss = 0, has_q = 0;
	sqlite3_stmt *ti;
	if (sqlite3_prepare_v2(idx->db, "PRAGMA table_info(streams)", -1, &ti, NULL) == SQLITE_OK) {
		while (sqlite3_step(ti) == SQLITE_ROW) {
			const char *n = (const char *)sqlite3_column_text(ti, 1);
			has_ch |= n && strcmp(n, "channels") == 0;
			has_pm |= n && strcmp(n, "ptmap") == 0;
			has_sl |= n && strcmp(n, "store_lost") == 0;
			has_q |= n && strcmp(n, "r_factor") == 0;
		}
		sqlite3_finalize(ti);
	}
	if (sqlite3_prepare_v2(idx->db, "PRAGMA table_info(calls)", -1, &ti, NULL) == SQLITE_OK) {
		while (sqlite3_step(ti) == SQLITE_ROW) {
			const char *n = (const char *)sqlite3_column_text(ti, 1);
			idx->has_policy |= n && strcmp(n, "spans") == 0;
		}
		sqlite3_finalize(ti);
	}
	if (sqlite3_prepare_v2(idx->db, "SELECT 1 FROM sqlite_master WHERE name='losses'", -1, &ti,
			       NULL) == SQLITE_OK) {
		has_loss = sqlite3_step(ti) == SQLITE_ROW;
		sqlite3_finalize(ti);
	}
	char lost_expr[160];
	snprintf(lost_expr, sizeof(lost_expr), "%s%s",
		 has_sl ? "IFNULL(store_lost,0)" : "0",
		 has_loss ? "+IFNULL((SELECT SUM(packets) FROM losses l WHERE l.stream_uid=uid),0)"
			  : "");
	snprintf(idx->stream_sel, sizeof(idx->stream_sel),
		 "uid,call_uid,src,sport,dst,dport,ssrc,side,pt,clock_rate,codec,packets,lost,"
		 "out_of_order,duplicates,payload_bytes,max_jitter_ms,mean_jitter_ms,max_delta_ms,"
		 "mos,first_ns,last_ns,rtcp_packets,is_srtp,dtmf,%s,%s,%s,%s",
		 has_ch ? "channels" : "NULL", has_pm ? "ptmap" : "NULL", lost_expr,
		 has_q ? "IFNULL(jb_discards,0),silence_pct,IFNULL(r_factor,0)" : "0,NULL,0");
	*out = idx;
	return 0;
err:;
	int r = fail(idx);
	cr_index_close(idx);
	return r;
}

void
cr_index_close(struct cr_index *idx)
{
	if (idx == NULL)
		return;
	sqlite3_finalize(idx->put_call);
	sqlite3_finalize(idx->put_stream);
	sqlite3_finalize(idx->put_chunk);
	sqlite3_finalize(idx->put_chunks);
	sqlite3_finalize(idx->put_seg);
	sqlite3_close(idx->db);
	free(idx);
}

int
cr_index_begin(struct cr_index *idx)
{
	return sqlite3_exec(idx->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(idx);
}

int
cr_index_commit(struct cr_index *idx)
{
	return sqlite3_exec(idx->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(idx);
}

int
cr_index_put_call(struct cr_index *idx, const struct cr_call *c)
{
	sqlite3_stmt *s = idx->put_call;
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)c->uid);
	char pb[5][1200];
	sqlite3_bind_text(s, 2, protect(idx, c->call_id, pb[0], sizeof(pb[0])), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, protect(idx, c->from_user, pb[1], sizeof(pb[1])), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 4, protect(idx, c->to_user, pb[2], sizeof(pb[2])), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, protect(idx, c->from_uri, pb[3], sizeof(pb[3])), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 6, protect(idx, c->to_uri, pb[4], sizeof(pb[4])), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, c->start_ns);
	sqlite3_bind_int64(s, 8, c->answer_ns);
	sqlite3_bind_int64(s, 9, c->end_ns);
	sqlite3_bind_int(s, 10, c->state);
	sqlite3_bind_int(s, 11, c->sip_status);
	bind_dtmf(idx, s, 12, c->dtmf, c->n_dtmf * sizeof(struct cr_dtmf));
	sqlite3_bind_int(s, 13, c->record);
	sqlite3_bind_int(s, 14, c->rclass);
	sqlite3_bind_text(s, 15, c->rule, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 16, c->spans, (int)(c->n_spans * sizeof(struct cr_rec_span)),
			  SQLITE_STATIC);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : fail(idx);
}

int
cr_index_put_stream(struct cr_index *idx, const struct cr_stream_rec *r)
{
	sqlite3_stmt *s = idx->put_stream;
	int i = 1;
	sqlite3_reset(s);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->uid);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->call_uid);
	sqlite3_bind_blob(s, i++, r->src.b, 16, SQLITE_STATIC);
	sqlite3_bind_int(s, i++, r->sport);
	sqlite3_bind_blob(s, i++, r->dst.b, 16, SQLITE_STATIC);
	sqlite3_bind_int(s, i++, r->dport);
	sqlite3_bind_int64(s, i++, r->ssrc);
	sqlite3_bind_int(s, i++, r->side);
	sqlite3_bind_int(s, i++, r->pt);
	sqlite3_bind_int64(s, i++, r->clock_rate);
	sqlite3_bind_text(s, i++, r->codec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->packets);
	sqlite3_bind_int64(s, i++, r->lost);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->out_of_order);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->duplicates);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->payload_bytes);
	sqlite3_bind_double(s, i++, r->max_jitter_ms);
	sqlite3_bind_double(s, i++, r->mean_jitter_ms);
	sqlite3_bind_double(s, i++, r->max_delta_ms);
	sqlite3_bind_double(s, i++, r->mos);
	sqlite3_bind_int64(s, i++, r->first_ns);
	sqlite3_bind_int64(s, i++, r->last_ns);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->rtcp_packets);
	sqlite3_bind_int(s, i++, r->is_srtp);
	bind_dtmf(idx, s, i++, r->dtmf, r->n_dtmf * sizeof(struct cr_dtmf));
	sqlite3_bind_int(s, i++, r->channels ? r->channels : 1);
	/* the payload map is SDP text: encrypted with the other personal data */
	char pm[600];
	sqlite3_bind_text(s, i++,
			  idx->fk && idx->fk->mode == CR_PII_ENCRYPT
				  ? protect(idx, r->ptmap, pm, sizeof(pm))
				  : r->ptmap,
			  -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->store_lost);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)r->jb_discards);
	sqlite3_bind_double(s, i++, r->silence_pct);
	sqlite3_bind_double(s, i++, r->r_factor);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : fail(idx);
}

static void
bind_chunk(sqlite3_stmt *s, int k, const struct cr_chunk_rec *c)
{
	sqlite3_bind_int64(s, k + 1, (sqlite3_int64)c->stream_uid);
	sqlite3_bind_int64(s, k + 2, (sqlite3_int64)c->call_uid);
	sqlite3_bind_text(s, k + 3, c->segment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, k + 4, (sqlite3_int64)c->block_off);
	sqlite3_bind_int(s, k + 5, (int)c->chunk_no);
	sqlite3_bind_int(s, k + 6, (int)c->n_pkts);
	sqlite3_bind_int64(s, k + 7, c->first_ns);
	sqlite3_bind_int64(s, k + 8, c->last_ns);
}

int
cr_index_put_chunk(struct cr_index *idx, const struct cr_chunk_rec *c)
{
	sqlite3_stmt *s = idx->put_chunk;
	sqlite3_reset(s);
	bind_chunk(s, 0, c);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : fail(idx);
}

int
cr_index_put_chunks(struct cr_index *idx, const struct cr_chunk_rec *c, uint32_t n)
{
	uint32_t i = 0;
	for (; i + CR_INDEX_CHUNK_ROWS <= n; i += CR_INDEX_CHUNK_ROWS) {
		sqlite3_stmt *s = idx->put_chunks;
		sqlite3_reset(s);
		for (int k = 0; k < CR_INDEX_CHUNK_ROWS; k++)
			bind_chunk(s, 8 * k, &c[i + (uint32_t)k]);
		if (sqlite3_step(s) != SQLITE_DONE)
			return fail(idx);
	}
	for (; i < n; i++)
		if (cr_index_put_chunk(idx, &c[i]) != 0)
			return -EIO;
	return 0;
}

int
cr_index_put_loss(struct cr_index *idx, const struct cr_loss_rec *l)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(idx->db, "INSERT OR IGNORE INTO losses(stream_uid,packets,id) "
			       "VALUES(?1,?2,?3)", -1, &s, NULL) != SQLITE_OK)
		return fail(idx);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)l->stream_uid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)l->packets);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)l->id);
	int r = sqlite3_step(s) == SQLITE_DONE ? 0 : fail(idx);
	sqlite3_finalize(s);
	return r;
}

int
cr_index_set_run_floor(struct cr_index *idx, uint64_t run)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(idx->db, "UPDATE meta SET value=MAX(value, ?1) WHERE key='run'", -1,
			       &q, NULL) != SQLITE_OK)
		return fail(idx);
	sqlite3_bind_int64(q, 1, (sqlite3_int64)run);
	int r = sqlite3_step(q) == SQLITE_DONE ? 0 : fail(idx);
	sqlite3_finalize(q);
	return r;
}

uint64_t
cr_index_next_loss_id(struct cr_index *idx)
{
	return idx->run_id << 40 | ++idx->loss_seq;
}

int
cr_index_put_segment(struct cr_index *idx, const struct cr_seg_rec *g)
{
	sqlite3_stmt *s = idx->put_seg;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, g->rel, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, g->kind);
	sqlite3_bind_int(s, 3, g->state);
	sqlite3_bind_int(s, 4, g->rclass);
	sqlite3_bind_int64(s, 5, g->first_ns);
	sqlite3_bind_int64(s, 6, g->last_ns);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)g->bytes);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : fail(idx);
}

static int
has_table(struct cr_index *idx, const char *name)
{
	sqlite3_stmt *t;
	int r = 0;
	if (sqlite3_prepare_v2(idx->db, "SELECT 1 FROM sqlite_master WHERE name=?1", -1, &t, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(t, 1, name, -1, SQLITE_STATIC);
		r = sqlite3_step(t) == SQLITE_ROW;
		sqlite3_finalize(t);
	}
	return r;
}

int
cr_index_segments(struct cr_index *idx, cr_index_seg_cb cb, void *ctx)
{
	if (!has_table(idx, "segments"))
		return 0;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(idx->db, "SELECT rel,kind,state,rclass,first_ns,last_ns,bytes FROM "
			       "segments ORDER BY first_ns, rel", -1, &q, NULL) != SQLITE_OK)
		return fail(idx);
	int rc, ret = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct cr_seg_rec g;
		memset(&g, 0, sizeof(g));
		const unsigned char *t = sqlite3_column_text(q, 0);
		snprintf(g.rel, sizeof(g.rel), "%s", t ? (const char *)t : "");
		g.kind = (uint8_t)sqlite3_column_int(q, 1);
		g.state = (uint8_t)sqlite3_column_int(q, 2);
		g.rclass = (uint8_t)sqlite3_column_int(q, 3);
		g.first_ns = sqlite3_column_int64(q, 4);
		g.last_ns = sqlite3_column_int64(q, 5);
		g.bytes = (uint64_t)sqlite3_column_int64(q, 6);
		if ((ret = cb(ctx, &g)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(idx);
	sqlite3_finalize(q);
	return ret;
}

int
cr_index_segment_state(struct cr_index *idx, const char *rel)
{
	if (!has_table(idx, "segments"))
		return -ENOENT;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(idx->db, "SELECT state FROM segments WHERE rel=?1", -1, &q, NULL) !=
	    SQLITE_OK)
		return fail(idx);
	sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
	int r = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -ENOENT;
	sqlite3_finalize(q);
	return r;
}

int
cr_index_segment_calls(struct cr_index *idx, const char *rel, cr_index_uid_cb cb, void *ctx)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(idx->db, "SELECT DISTINCT call_uid FROM chunks WHERE segment=?1", -1,
			       &q, NULL) != SQLITE_OK)
		return fail(idx);
	sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
	int rc, ret = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((ret = cb(ctx, (uint64_t)sqlite3_column_int64(q, 0))) != 0)
			break;
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(idx);
	sqlite3_finalize(q);
	return ret;
}

static int
exec1(struct cr_index *idx, const char *sql, int64_t a)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(idx->db, sql, -1, &q, NULL) != SQLITE_OK)
		return fail(idx);
	sqlite3_bind_int64(q, 1, a);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(idx);
}

int
cr_index_purge_calls(struct cr_index *idx, int64_t cutoff_ns, cr_index_uid_cb keep, void *ctx,
		     uint64_t *n)
{
	*n = 0;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(idx->db,
			       "SELECT uid FROM calls c WHERE MAX(IFNULL(end_ns,0), IFNULL(start_ns,0)) "
			       "< ?1 AND NOT EXISTS (SELECT 1 FROM streams s JOIN chunks k ON "
			       "k.stream_uid=s.uid WHERE s.call_uid=c.uid)",
			       -1, &q, NULL) != SQLITE_OK)
		return fail(idx);
	sqlite3_bind_int64(q, 1, cutoff_ns);
	uint64_t *v = NULL;
	size_t nv = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		uint64_t uid = (uint64_t)sqlite3_column_int64(q, 0);
		if (keep && keep(ctx, uid))
			continue;
		if (nv == cap) {
			cap = cap ? cap * 2 : 256;
			uint64_t *nvv = realloc(v, cap * sizeof(*v));
			if (nvv == NULL) {
				free(v);
				sqlite3_finalize(q);
				return -ENOMEM;
			}
			v = nvv;
		}
		v[nv++] = uid;
	}
	sqlite3_finalize(q);
	int r = rc == SQLITE_DONE ? 0 : fail(idx);
	for (size_t i = 0; r == 0 && i < nv; i++) {
		r = exec1(idx, "DELETE FROM losses WHERE stream_uid IN (SELECT uid FROM streams WHERE "
			       "call_uid=?1)", (int64_t)v[i]);
		if (r == 0)
			r = exec1(idx, "DELETE FROM streams WHERE call_uid=?1", (int64_t)v[i]);
		if (r == 0)
			r = exec1(idx, "DELETE FROM calls WHERE uid=?1", (int64_t)v[i]);
	}
	free(v);
	*n = nv;
	/* RTP of no call: its own last packet decides */
	if (r == 0)
		r = exec1(idx, "DELETE FROM streams WHERE call_uid=0 AND last_ns < ?1 AND NOT EXISTS "
			       "(SELECT 1 FROM chunks k WHERE k.stream_uid=streams.uid)", cutoff_ns);
	return r;
}

int
cr_index_drop_segment(struct cr_index *idx, const char *rel)
{
	static const char *const sql[] = {"DELETE FROM chunks WHERE segment=?1",
					  "DELETE FROM segments WHERE rel=?1"};
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(idx->db, sql[i], -1, &q, NULL) != SQLITE_OK)
			return fail(idx);
		sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
		int rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			return fail(idx);
	}
	return 0;
}

static void
col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void
col_blob(sqlite3_stmt *st, int i, void *dst, size_t n)
{
	const void *b = sqlite3_column_blob(st, i);
	int l = sqlite3_column_bytes(st, i);
	memset(dst, 0, n);
	if (b && l > 0)
		memcpy(dst, b, (size_t)l < n ? (size_t)l : n);
}

/* a DTMF column into dst; @return its bytes (0 for a hashed one) */
static int
col_dtmf(const struct cr_index *idx, sqlite3_stmt *st, int col, void *dst, size_t n)
{
	memset(dst, 0, n);
	if (sqlite3_column_type(st, col) != SQLITE_TEXT) {
		int l = sqlite3_column_bytes(st, col);
		col_blob(st, col, dst, n);
		return l;
	}
	const char *t = (const char *)sqlite3_column_text(st, col);
	char hex[1200];
	if (idx == NULL || idx->fk == NULL || t == NULL || strncmp(t, "~e", 2) != 0 ||
	    cr_field_reveal(idx->fk, t, hex, sizeof(hex)) != 0)
		return 0;
	int b = cr_unhex(hex, dst, n);
	return b > 0 ? b : 0;
}

/* a protected column as the value (decrypted with the key, else as stored) */
static void
col_pii(const struct cr_index *idx, sqlite3_stmt *q, int col, char *out, size_t cap)
{
	col_text(q, col, out, cap);
	if (idx->fk && out[0] == '~') {
		char v[1200];
		snprintf(v, sizeof(v), "%s", (const char *)sqlite3_column_text(q, col));
		if (cr_field_reveal(idx->fk, v, out, cap) != 0)
			snprintf(out, cap, "%.*s", (int)(cap > 1 ? cap - 1 : 0), v);
	}
}

static void
read_stream(const struct cr_index *idx, sqlite3_stmt *st, struct cr_stream_rec *r)
{
	int i = 0;
	memset(r, 0, sizeof(*r));
	r->uid = (uint64_t)sqlite3_column_int64(st, i++);
	r->call_uid = (uint64_t)sqlite3_column_int64(st, i++);
	col_blob(st, i++, r->src.b, 16);
	r->sport = (uint16_t)sqlite3_column_int(st, i++);
	col_blob(st, i++, r->dst.b, 16);
	r->dport = (uint16_t)sqlite3_column_int(st, i++);
	r->ssrc = (uint32_t)sqlite3_column_int64(st, i++);
	r->side = (uint8_t)sqlite3_column_int(st, i++);
	r->pt = (uint8_t)sqlite3_column_int(st, i++);
	r->clock_rate = (uint32_t)sqlite3_column_int64(st, i++);
	col_text(st, i++, r->codec, sizeof(r->codec));
	r->packets = (uint64_t)sqlite3_column_int64(st, i++);
	r->lost = sqlite3_column_int64(st, i++);
	r->out_of_order = (uint64_t)sqlite3_column_int64(st, i++);
	r->duplicates = (uint64_t)sqlite3_column_int64(st, i++);
	r->payload_bytes = (uint64_t)sqlite3_column_int64(st, i++);
	r->max_jitter_ms = sqlite3_column_double(st, i++);
	r->mean_jitter_ms = sqlite3_column_double(st, i++);
	r->max_delta_ms = sqlite3_column_double(st, i++);
	r->mos = sqlite3_column_double(st, i++);
	r->first_ns = sqlite3_column_int64(st, i++);
	r->last_ns = sqlite3_column_int64(st, i++);
	r->rtcp_packets = (uint64_t)sqlite3_column_int64(st, i++);
	r->is_srtp = (uint8_t)sqlite3_column_int(st, i++);
	int nb = col_dtmf(idx, st, i++, r->dtmf, sizeof(r->dtmf));
	r->n_dtmf = (uint8_t)((size_t)nb / sizeof(struct cr_dtmf));
	if (r->n_dtmf > CR_STREAM_MAX_DTMF)
		r->n_dtmf = CR_STREAM_MAX_DTMF;
	r->channels = (uint8_t)sqlite3_column_int(st, i++);
	if (idx)
		col_pii(idx, st, i++, r->ptmap, sizeof(r->ptmap));
	else
		col_text(st, i++, r->ptmap, sizeof(r->ptmap));
	r->store_lost = (uint64_t)sqlite3_column_int64(st, i++);
	r->jb_discards = (uint64_t)sqlite3_column_int64(st, i++);
	r->silence_pct = sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
	i++;
	r->r_factor = sqlite3_column_double(st, i++);
}

static int
visit_chunks(struct cr_index *idx, const uint64_t *stream_uid, cr_index_chunk_cb cb, void *ctx)
{
	if (!has_table(idx, "chunks"))
		return 0; /* created, killed before its schema was committed */
	sqlite3_stmt *q;
	const char *sql = stream_uid
				  ? "SELECT stream_uid,call_uid,segment,block_off,chunk_no,n_pkts,first_ns,"
				    "last_ns FROM chunks WHERE stream_uid=?1 ORDER BY first_ns, segment, "
				    "block_off, chunk_no"
				  : "SELECT stream_uid,call_uid,segment,block_off,chunk_no,n_pkts,first_ns,"
				    "last_ns FROM chunks ORDER BY segment, block_off, chunk_no";
	if (sqlite3_prepare_v2(idx->db, sql, -1, &q, NULL) != SQLITE_OK)
		return fail(idx);
	if (stream_uid)
		sqlite3_bind_int64(q, 1, (sqlite3_int64)*stream_uid);
	int rc, ret = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct cr_chunk_rec c;
		memset(&c, 0, sizeof(c));
		c.stream_uid = (uint64_t)sqlite3_column_int64(q, 0);
		c.call_uid = (uint64_t)sqlite3_column_int64(q, 1);
		col_text(q, 2, c.segment, sizeof(c.segment));
		c.block_off = (uint64_t)sqlite3_column_int64(q, 3);
		c.chunk_no = (uint32_t)sqlite3_column_int(q, 4);
		c.n_pkts = (uint32_t)sqlite3_column_int(q, 5);
		c.first_ns = sqlite3_column_int64(q, 6);
		c.last_ns = sqlite3_column_int64(q, 7);
		if ((ret = cb(ctx, &c)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = fail(idx);
	sqlite3_finalize(q);
	return ret;
}

int
cr_index_chunks(struct cr_index *idx, uint64_t stream_uid, cr_index_chunk_cb cb, void *ctx)
{
	return visit_chunks(idx, &stream_uid, cb, ctx);
}

int
cr_index_all_chunks(struct cr_index *idx, cr_index_chunk_cb cb, void *ctx)
{
	return visit_chunks(idx, NULL, cb, ctx);
}



/* Streams of one call (or the unbound ones, call_uid 0), in a growable array. */
static int
load_streams(struct cr_index *idx, sqlite3_stmt *st, uint64_t call_uid,
	     struct cr_stream_rec **arr, uint32_t *n, uint32_t *cap)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)call_uid);
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == *cap) {
			uint32_t nc = *cap ? *cap * 2 : 16;
			struct cr_stream_rec *na = realloc(*arr, nc * sizeof(**arr));
			if (na == NULL)
				return -ENOMEM;
			*arr = na;
			*cap = nc;
		}
		read_stream(idx, st, &(*arr)[(*n)++]);
	}
	return rc == SQLITE_DONE ? 0 : fail(idx);
}

static int
pair_cmp(const struct cr_stream_rec *a, const struct cr_stream_rec *b)
{
	/* unordered endpoint pair, smaller endpoint first */
	const struct cr_stream_rec *x[2] = {a, b};
	uint8_t k[2][2][18];
	for (int i = 0; i < 2; i++) {
		uint8_t e1[18], e2[18];
		memcpy(e1, x[i]->src.b, 16);
		e1[16] = (uint8_t)(x[i]->sport >> 8);
		e1[17] = (uint8_t)x[i]->sport;
		memcpy(e2, x[i]->dst.b, 16);
		e2[16] = (uint8_t)(x[i]->dport >> 8);
		e2[17] = (uint8_t)x[i]->dport;
		int lt = memcmp(e1, e2, 18) <= 0;
		memcpy(k[i][0], lt ? e1 : e2, 18);
		memcpy(k[i][1], lt ? e2 : e1, 18);
	}
	return memcmp(k[0], k[1], 36);
}

int
cr_index_query(struct cr_index *idx, const struct cr_index_filter *f, cr_index_call_cb cb,
	       void *ctx)
{
	char sql[1024];
	int n = snprintf(sql, sizeof(sql),
			 "SELECT uid,call_id,from_user,to_user,from_uri,to_uri,start_ns,"
			 "answer_ns,end_ns,state,sip_status,dtmf,%s FROM calls WHERE 1",
			 idx->has_policy ? "IFNULL(record,1),IFNULL(rclass,0),IFNULL(rule,''),spans"
					 : "1,0,'',NULL");
	/* protected values match by their exact value only (?6-?11) */
	if (f->call_id)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND call_id IN (?1,?6,?7)");
	if (f->from)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n,
			      " AND (from_user LIKE ?2||'%%' OR from_uri LIKE ?2||'%%'"
			      " OR from_user IN (?8,?9) OR from_uri IN (?8,?9))");
	if (f->to)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n,
			      " AND (to_user LIKE ?3||'%%' OR to_uri LIKE ?3||'%%'"
			      " OR to_user IN (?10,?11) OR to_uri IN (?10,?11))");
	if (f->since_ns)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND start_ns>=?4");
	if (f->until_ns)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, " AND start_ns<=?5");
	snprintf(sql + n, sizeof(sql) - (size_t)n, " ORDER BY start_ns, call_id, uid");

	sqlite3_stmt *q = NULL, *sst = NULL;
	struct cr_stream_rec *arr = NULL;
	uint32_t ns = 0, cap = 0;
	int ret = 0;
	char ssql[768];
	snprintf(ssql, sizeof(ssql),
		 "SELECT %s FROM streams WHERE call_uid=?1 "
		 "ORDER BY first_ns, src, sport, dst, dport, ssrc, uid",
		 idx->stream_sel);
	if (sqlite3_prepare_v2(idx->db, sql, -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(idx->db, ssql, -1, &sst, NULL) != SQLITE_OK) {
		ret = fail(idx);
		goto out;
	}
	char pv[6][1200];
	const char *fv[3] = {f->call_id, f->from, f->to};
	for (int i = 0; i < 3; i++) {
		if (fv[i] == NULL)
			continue;
		sqlite3_bind_text(q, 1 + i, fv[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6 + 2 * i,
				  protect_as(idx, CR_PII_ENCRYPT, fv[i], pv[2 * i], sizeof(pv[0])),
				  -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7 + 2 * i,
				  protect_as(idx, CR_PII_HASH, fv[i], pv[2 * i + 1], sizeof(pv[0])),
				  -1, SQLITE_STATIC);
	}
	if (f->since_ns)
		sqlite3_bind_int64(q, 4, f->since_ns);
	if (f->until_ns)
		sqlite3_bind_int64(q, 5, f->until_ns);

	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct cr_index_call_row row;
		memset(&row, 0, sizeof(row));
		struct cr_call *c = &row.call;
		c->uid = (uint64_t)sqlite3_column_int64(q, 0);
		col_pii(idx, q, 1, c->call_id, sizeof(c->call_id));
		col_pii(idx, q, 2, c->from_user, sizeof(c->from_user));
		col_pii(idx, q, 3, c->to_user, sizeof(c->to_user));
		col_pii(idx, q, 4, c->from_uri, sizeof(c->from_uri));
		col_pii(idx, q, 5, c->to_uri, sizeof(c->to_uri));
		c->start_ns = sqlite3_column_int64(q, 6);
		c->answer_ns = sqlite3_column_int64(q, 7);
		c->end_ns = sqlite3_column_int64(q, 8);
		c->state = (uint8_t)sqlite3_column_int(q, 9);
		c->sip_status = (uint16_t)sqlite3_column_int(q, 10);
		int nb = col_dtmf(idx, q, 11, c->dtmf, sizeof(c->dtmf));
		c->n_dtmf = (uint8_t)((size_t)nb / sizeof(struct cr_dtmf));
		if (c->n_dtmf > CR_CALL_MAX_DTMF)
			c->n_dtmf = CR_CALL_MAX_DTMF;
		c->record = (uint8_t)sqlite3_column_int(q, 12);
		c->rclass = (uint8_t)sqlite3_column_int(q, 13);
		col_text(q, 14, c->rule, sizeof(c->rule));
		nb = sqlite3_column_bytes(q, 15);
		c->n_spans = (uint8_t)((size_t)nb / sizeof(struct cr_rec_span));
		if (c->n_spans > CR_CALL_MAX_SPANS)
			c->n_spans = CR_CALL_MAX_SPANS;
		col_blob(q, 15, c->spans, sizeof(c->spans));
		if ((ret = load_streams(idx, sst, c->uid, &arr, &ns, &cap)) != 0)
			goto out;
		row.n_streams = ns;
		if ((ret = cb(ctx, &row, arr, ns)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		ret = fail(idx);
		goto out;
	}
	/* RTP without signalling: group by endpoint pair, in first-seen order;
	 * a Call-ID filter "rtp:A-B" names one such group (show, export) */
	int rtp_id = f->call_id && strncmp(f->call_id, "rtp:", 4) == 0;
	if ((f->call_id && !rtp_id) || f->from || f->to)
		goto out;
	if ((ret = load_streams(idx, sst, 0, &arr, &ns, &cap)) != 0)
		goto out;
	uint8_t *done = calloc(ns ? ns : 1, 1);
	struct cr_stream_rec *grp = malloc((ns ? ns : 1) * sizeof(*grp));
	if (done == NULL || grp == NULL) {
		free(done);
		free(grp);
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < ns && ret == 0; i++) {
		if (done[i])
			continue;
		uint32_t g = 0;
		for (uint32_t j = i; j < ns; j++) {
			if (!done[j] && pair_cmp(&arr[i], &arr[j]) == 0) {
				done[j] = 1;
				grp[g++] = arr[j];
			}
		}
		if (f->since_ns && grp[0].first_ns < f->since_ns)
			continue;
		if (f->until_ns && grp[0].first_ns > f->until_ns)
			continue;
		struct cr_index_call_row row;
		memset(&row, 0, sizeof(row));
		row.unsignalled = 1;
		char a[56], b[56];
		cr_addr_port_fmt(a, sizeof(a), &grp[0].src, grp[0].sport);
		cr_addr_port_fmt(b, sizeof(b), &grp[0].dst, grp[0].dport);
		snprintf(row.call.call_id, sizeof(row.call.call_id), "rtp:%s-%s", a, b);
		if (rtp_id && strcmp(row.call.call_id, f->call_id) != 0)
			continue;
		row.call.start_ns = grp[0].first_ns;
		int64_t last = 0;
		for (uint32_t k = 0; k < g; k++)
			if (grp[k].last_ns > last)
				last = grp[k].last_ns;
		row.call.end_ns = last;
		row.n_streams = g;
		ret = cb(ctx, &row, grp, g);
	}
	free(done);
	free(grp);
out:
	free(arr);
	sqlite3_finalize(q);
	sqlite3_finalize(sst);
	return ret;
}
