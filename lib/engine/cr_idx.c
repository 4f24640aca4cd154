/* SPDX-License-Identifier: BSD-3-Clause */
/* Index thread: drains the index ring and writes SQLite in batched
 * transactions (one per drain, at most every 200 ms), never on the packet
 * path. Overload policy: producers in live mode drop the record and count
 * it (cr_engine_index_lost) when the message pool or ring is exhausted;
 * offline imports wait. */
#include <errno.h>
#include <sys/stat.h>
#include <limits.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "cr_engine_internal.h"
#include "cr_mem.h"
#include "cr_manifest.h"

struct cr_msg *
cr_idx_msg_get(struct cr_engine *e)
{
	void *obj;
	for (unsigned spins = 0; rte_mempool_get(e->msgs, &obj) != 0; spins++) {
		if (!e->cfg.offline)
			return NULL;
		cr_bell_ring(&e->idx_bell); /* every message is queued: index them */
		cr_offline_backoff(spins);
	}
	return obj;
}

int
cr_idx_send(struct cr_engine *e, struct cr_msg *m)
{
	for (unsigned spins = 0; rte_ring_mp_enqueue(e->idx_ring, m) != 0; spins++) {
		if (!e->cfg.offline) {
			rte_mempool_put(e->msgs, m);
			return -ENOBUFS;
		}
		cr_bell_ring(&e->idx_bell);
		cr_offline_backoff(spins);
	}
	cr_bell_nudge(&e->idx_bell);
	return 0;
}

/* Meta segment: every record the index commits is first made durable here,
 * so the index can be rebuilt from the store alone (cr_fsck). */
#define META_RAW (256 * 1024)
struct meta {
	struct cr_segw w;
	uint64_t seq;
	int hour;
	int64_t clock; /* latest packet time seen in a record */
	uint8_t *raw, *blk;
	uint32_t raw_len;
	uint16_t n;
	int failed;
};

static int
meta_hour(int64_t t, struct tm *tm)
{
	time_t sec = (time_t)(t / 1000000000LL);
	gmtime_r(&sec, tm);
	return (tm->tm_year + 1900) * 1000000 + (tm->tm_mon + 1) * 10000 + tm->tm_mday * 100 +
	       tm->tm_hour;
}

static void
meta_mark(struct cr_engine *e, struct meta *m, uint8_t state)
{
	if (state == CR_SEG_SEALED && e->idx_failed)
		state = CR_SEG_OPEN; /* see idx_main */
	struct cr_seg_rec g;
	memset(&g, 0, sizeof(g));
	snprintf(g.rel, sizeof(g.rel), "%s", m->w.rel);
	g.kind = CR_SEG_KIND_META;
	g.state = state;
	g.first_ns = m->w.first_ns;
	g.last_ns = m->w.last_ns;
	g.bytes = m->w.off;
	if (cr_index_put_segment(e->idx, &g) != 0)
		e->idx_errors++;
}

static void
meta_fail(struct cr_engine *e, struct meta *m, int r)
{
	e->idx_meta_errors++;
	if (!m->failed)
		CR_LOG(ERR, "meta segment %s: %s; the index holds records the store lacks",
		       m->w.rel[0] ? m->w.rel : "(new)", strerror(-r));
	m->failed = 1;
	if (m->w.fd >= 0) {
		meta_mark(e, m, CR_SEG_FAILED);
		cr_segw_close(&m->w);
	}
}

/* a sealed segment goes into the manifest chain (off the packet path) */
static void
manifest_seal(struct cr_engine *e, const char *rel, const uint8_t *digest)
{
	if (!e->cfg.manifest)
		return;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", e->cfg.store_dir, rel);
	uint8_t d[32];
	uint64_t size = 0;
	int r = 0;
	struct stat st;
	if (digest && stat(path, &st) == 0) {
		/* hashed by the writer as it wrote: no read-back */
		memcpy(d, digest, 32);
		size = (uint64_t)st.st_size;
	} else {
		r = cr_seg_digest(path, d, &size); /* recovered or adopted segments */
	}
	int64_t m = r == 0 ? cr_manifest_append(e->cfg.store_dir, e->cfg.signer, "seal", rel, size,
						 d, 0)
			   : r;
	if (m < 0 && e->manifest_errors++ == 0)
		CR_LOG(ERR, "manifest: cannot enter %s: %s (verify will report it)", rel,
		       strerror((int)-m));
	if (m > 0)
		__atomic_store_n(&e->manifest_lines, (uint64_t)m, __ATOMIC_RELAXED);
}

struct known {
	char (*rel)[128];
	size_t n, cap;
};

static int
known_add(void *ctx, const struct cr_manifest_entry *me)
{
	struct known *k = ctx;
	if (strcmp(me->op, "seal") != 0)
		return 0;
	if (cr_grow(&k->rel, &k->cap, k->n, sizeof(*k->rel), 256) != 0)
		return -ENOMEM;
	memcpy(k->rel[k->n++], me->rel, 128);
	return 0;
}

static int
known_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
adopt_one(void *ctx, const struct cr_seg_rec *g)
{
	void **a = ctx;
	struct cr_engine *e = a[0];
	struct known *k = a[1];
	if (g->state != CR_SEG_SEALED)
		return 0;
	char key[128];
	snprintf(key, sizeof(key), "%s", g->rel);
	if (k->n && bsearch(key, k->rel, k->n, sizeof(*k->rel), known_cmp))
		return 0;
	manifest_seal(e, g->rel, NULL);
	return 0;
}

/* Sealed segments the manifest lacks (recovered after a crash, or sealed
 * before the manifest was turned on) are entered at start. */
static void
manifest_start(struct cr_engine *e)
{
	if (!e->cfg.manifest)
		return;
	struct known k = {NULL, 0, 0};
	uint64_t bad = 0;
	int r = cr_manifest_read(e->cfg.store_dir, NULL, known_add, &k, &bad);
	if (r != 0 && r != -ENOENT)
		CR_LOG(ERR, "manifest: line %" PRIu64 " does not verify (%s); appending anyway",
		       bad, strerror(-r));
	if (k.n)
		qsort(k.rel, k.n, sizeof(*k.rel), known_cmp);
	void *a[2] = {e, &k};
	cr_index_segments(e->idx, adopt_one, a);
	free(k.rel);
	int64_t m = cr_manifest_append(e->cfg.store_dir, e->cfg.signer, "start", NULL, 0, NULL,
				       0);
	if (m < 0)
		e->manifest_errors++;
	else
		__atomic_store_n(&e->manifest_lines, (uint64_t)m, __ATOMIC_RELAXED);
}

static void
meta_seal(struct cr_engine *e, struct meta *m)
{
	if (m->w.fd < 0)
		return;
	int r = cr_segw_seal(&m->w);
	if (r != 0) {
		meta_fail(e, m, r);
		return;
	}
	meta_mark(e, m, CR_SEG_SEALED);
	manifest_seal(e, m->w.rel, m->w.digest_ok ? m->w.digest : NULL);
}

/* the staged records as one block of the current meta segment */
static void
meta_block(struct cr_engine *e, struct meta *m)
{
	if (m->n == 0)
		return;
	struct tm tm;
	int hour = meta_hour(m->clock, &tm);
	if (m->w.fd >= 0 && (hour != m->hour || m->w.off > e->cfg.seg_max_bytes))
		meta_seal(e, m);
	int r = 0;
	if (m->w.fd < 0) {
		char rel[96];
		snprintf(rel, sizeof(rel), "segments/%04d/%02d/%02d/%02d/m-r%llu-%llu.seg",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 (unsigned long long)(e->uid_base >> 40), (unsigned long long)m->seq + 1);
		m->w.kr = e->cfg.keyring;
		m->w.no_digest = !e->cfg.manifest;
		r = cr_segw_open(&m->w, e->cfg.store_dir, rel, 0xffff, m->seq + 1, m->clock);
		if (r == 0) {
			m->seq++;
			m->hour = hour;
			m->failed = 0;
			meta_mark(e, m, CR_SEG_OPEN);
		}
	}
	int len = r ? r : cr_block_encode(m->raw, m->raw_len, m->n, m->blk, cr_block_bound(META_RAW));
	if (len > 0 && (uint32_t)len > cr_segw_room(&m->w))
		r = cr_segw_flush(&m->w, 1);
	if (len > 0 && r == 0)
		r = cr_segw_append(&m->w, m->blk, (uint32_t)len, m->clock);
	if (len < 0 || r != 0)
		meta_fail(e, m, len < 0 ? len : r);
	m->raw_len = 0;
	m->n = 0;
}

static void
meta_add(struct cr_engine *e, struct meta *m, int kind, const void *rec, int64_t t)
{
	if (m->raw == NULL)
		return;
	char txt[8192];
	int n = cr_rec_encode(kind, rec, txt, sizeof(txt));
	if (n < 0) {
		e->idx_meta_errors++;
		return;
	}
	if (m->raw_len + CR_META_HDR_LEN + (uint32_t)n > META_RAW || m->n == UINT16_MAX)
		meta_block(e, m);
	if (t > m->clock)
		m->clock = t;
	int c = cr_meta_chunk_put(m->raw + m->raw_len, META_RAW - m->raw_len, txt, (uint32_t)n);
	if (c > 0) {
		m->raw_len += (uint32_t)c;
		m->n++;
	}
}

static void
meta_sync(struct cr_engine *e, struct meta *m)
{
	meta_block(e, m);
	if (m->w.fd >= 0) {
		int r = cr_segw_flush(&m->w, 1);
		if (r != 0)
			meta_fail(e, m, r);
	}
}

static void *
idx_main(void *arg)
{
	struct cr_engine *e = arg;
	uint64_t cpu0 = cr_thread_cpu_ns();
	struct meta mt;
	memset(&mt, 0, sizeof(mt));
	mt.w.fd = mt.w.dfd = -1;
	/* both buffers fill at once: faulted in with one call (cr_mem.h; if
	 * that fails, page by page as they fill) */
	const size_t meta_bytes = META_RAW + cr_block_bound(META_RAW);
	mt.raw = cr_mem_dense(meta_bytes);
	if (mt.raw == NULL) {
		e->idx_meta_errors++;
	} else {
		cr_mem_prefault(mt.raw, meta_bytes);
		mt.blk = mt.raw + META_RAW;
	}
	manifest_start(e);
	void *objs[256];
	for (;;) {
		unsigned n = rte_ring_sc_dequeue_burst(e->idx_ring, objs, RTE_DIM(objs), NULL);
		if (n == 0) {
			if (__atomic_load_n(&e->idx_stop, __ATOMIC_ACQUIRE) &&
			    rte_ring_empty(e->idx_ring))
				break;
			cr_bell_idle(&e->idx_bell, 2000);
			continue;
		}
		if (cr_index_begin(e->idx) != 0)
			e->idx_errors++;
		/* Keep draining into this transaction for up to 250 ms: a commit
		 * rewrites every page it touched (each stream's leaf of the chunk
		 * index) and syncs the meta segment, so committing whatever came in
		 * 2 ms wrote 35 MB of WAL for a 100 MB import. A search sees a
		 * record at most this much later. */
		uint64_t t_begin = rte_get_timer_cycles(), hz = rte_get_timer_hz();
		unsigned total = 0;
		for (;;) {
			for (unsigned i = 0; i < n; i++) {
				struct cr_msg *m = objs[i];
				int r = 0;
				if (m->type == CR_MSG_CALL) {
					int64_t t = m->call.end_ns > m->call.start_ns ? m->call.end_ns
										      : m->call.start_ns;
					meta_add(e, &mt, CR_REC_CALL, &m->call, t);
					r = cr_index_put_call(e->idx, &m->call);
					e->idx_calls++;
				} else if (m->type == CR_MSG_STREAM) {
					meta_add(e, &mt, CR_REC_STREAM, &m->stream, m->stream.last_ns);
					r = cr_index_put_stream(e->idx, &m->stream);
					e->idx_streams++;
				} else if (m->type == CR_MSG_LOSS) {
					for (uint32_t c = 0; c < m->n && r == 0; c++) {
						struct cr_loss_rec l = {cr_index_next_loss_id(e->idx),
									m->chunks[c].stream_uid,
									m->chunks[c].n_pkts};
						meta_add(e, &mt, CR_REC_LOSS, &l, 0);
						r = cr_index_put_loss(e->idx, &l);
					}
				} else if (m->type == CR_MSG_CHUNKS) {
					r = cr_index_put_chunks(e->idx, m->chunks, m->n);
					e->idx_chunks += m->n;
				} else if (m->type == CR_MSG_SEGMENT) {
					/* after a failed commit the index lacks rows: every
					 * segment stays unsealed in it, so the next start
					 * re-enters them from the segments (recovery) */
					if (m->seg.state == CR_SEG_SEALED)
						manifest_seal(e, m->seg.rel,
							      m->has_digest ? m->digest : NULL);
					if (e->idx_failed && m->seg.state == CR_SEG_SEALED)
						m->seg.state = CR_SEG_OPEN;
					r = m->seg.state == CR_SEG_GONE
						    ? cr_index_drop_segment(e->idx, m->seg.rel)
						    : cr_index_put_segment(e->idx, &m->seg);
				}
				if (r != 0) {
					e->idx_errors++;
					e->idx_err = r;
				}
				rte_mempool_put(e->msgs, m);
			}
			total += n;
			if (total >= 16384)
				break;
			n = rte_ring_sc_dequeue_burst(e->idx_ring, objs, RTE_DIM(objs), NULL);
			if (n == 0) {
				if (__atomic_load_n(&e->idx_stop, __ATOMIC_ACQUIRE) ||
				    rte_get_timer_cycles() - t_begin > hz / 4)
					break;
				cr_bell_idle(&e->idx_bell, 2000);
			}
		}
		/* the store holds every record before the index says so */
		meta_sync(e, &mt);
		if (cr_index_commit(e->idx) != 0) {
			e->idx_errors++;
			e->idx_err = -EIO;
			if (!e->idx_failed)
				CR_LOG(ERR, "index commit failed (%s): the next start re-indexes from "
					    "the segments", cr_index_errmsg(e->idx));
			e->idx_failed = 1;
		}
		e->idx_batches++;
	}
	if (mt.w.fd >= 0) {
		meta_sync(e, &mt);
		if (cr_index_begin(e->idx) != 0)
			e->idx_errors++;
		meta_seal(e, &mt);
		if (cr_index_commit(e->idx) != 0)
			e->idx_errors++;
	}
	cr_segw_free(&mt.w);
	cr_mem_huge_free(mt.raw, meta_bytes);
	if (e->cfg.manifest &&
	    cr_manifest_append(e->cfg.store_dir, e->cfg.signer, "stop", NULL, 0, NULL, 0) < 0)
		e->manifest_errors++;
	e->idx_cpu_ns = cr_thread_cpu_ns() - cpu0;
	return NULL;
}

int
cr_idx_start(struct cr_engine *e)
{
	int r = pthread_create(&e->idx_thread, NULL, idx_main, e);
	if (r == 0)
		pthread_setname_np(e->idx_thread, "cr-index"); /* for top, perf */
	return -r;
}

void
cr_idx_stop(struct cr_engine *e)
{
	__atomic_store_n(&e->idx_stop, 1, __ATOMIC_RELEASE);
	cr_bell_ring(&e->idx_bell);
	pthread_join(e->idx_thread, NULL);
}
