/* SPDX-License-Identifier: BSD-3-Clause */
/* Storage: workers batch per-stream chunks into lz4 blocks (cr_store_*, run
 * on the worker); one I/O thread appends blocks to each worker's current
 * segment file, laid out by packet time as segments/YYYY/MM/DD/HH/, seals
 * segments (footer + trailer + fdatasync) on rotation and at exit, and sends
 * chunk locations to the index.
 *
 * Overload policy: a worker that finds no free block buffer or a full I/O
 * queue drops the batch in live mode and moves its packets from RTP to
 * STORE_FULL (offline imports wait). A failed write counts STORE_IO_ERROR
 * packets and the segment is closed and never reported durable. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "cr_engine_internal.h"

#define NS 1000000000LL
/* a chunk holds at most this much of a stream (less when its buffer fills):
 * longer chunks amortise the 80-byte chunk header over more packets (1.5 % of
 * a 20 ms G.729 stream at 4 s); shorter ones lose less on a crash */
#define CHUNK_SPAN_NS (4 * NS)
#define BATCH_SPAN_NS (1 * NS) /* a batch waits at most this long (packet time) */

/* ---- worker side ---- */

static void report_loss(struct cr_engine *e, const struct cr_chunk_meta *meta, uint32_t n);

static void
emit_block(struct cr_worker *w, unsigned cls)
{
	struct cr_engine *e = w->e;
	struct cr_batch *bt = &w->batch[cls];
	if (bt->n == 0)
		return;
	void *obj = NULL;
	unsigned every = e->cfg.fault_block_every;
	int inject = every && ++w->blocks_emitted % every == 0;
	for (unsigned spins = 0; !inject && rte_mempool_get(e->blocks, &obj) != 0; spins++) {
		if (!e->cfg.offline) {
			obj = NULL;
			break;
		}
		cr_bell_ring(&e->io_bell); /* every block is queued: write them */
		if (spins < 64)
			rte_pause();
		else
			cr_gate_wait(&e->blocks_gate);
	}
	struct cr_block_msg *b = obj;
	if (b)
		cr_block_warm(e, b); /* lz4's output */
	uint64_t c0 = rte_rdtsc();
	int accel = e->cfg.lz4_accel;
	if (accel > 0 && bt->lz4_skip > 0 && b) {
		accel = 0;
		bt->lz4_skip--;
		w->blocks_raw++;
	}
	int len = !b ? -ENOBUFS
		  : accel > 0 ? cr_block_compress(cr_batch_raw(bt), bt->len, (uint16_t)bt->n, b->data,
						 cr_block_bound(CR_BATCH_RAW), accel)
			      : 0;
	if (len == 0) {
		/* stored as it is: the batch's own message is the block, and the
		 * one taken for the compressed block holds the next batch */
		len = cr_block_seal_stored(bt->msg->data, bt->len, (uint16_t)bt->n);
		struct cr_block_msg *t = bt->msg;
		bt->msg = b;
		b = t;
	}
	/* saved less than lz4_min_saving percent: not worth its CPU for a while */
	if (accel > 0 && len > 0 && e->cfg.lz4_min_saving) {
		if ((uint64_t)(len - CR_BLOCK_HDR_LEN) * 100 >
		    (uint64_t)bt->len * (100 - e->cfg.lz4_min_saving)) {
			bt->lz4_rest = !bt->lz4_rest ? CR_LZ4_SKIP_BLOCKS
				       : bt->lz4_rest < CR_LZ4_SKIP_MAX ? bt->lz4_rest * 2
									 : CR_LZ4_SKIP_MAX;
			bt->lz4_skip = bt->lz4_rest;
		} else {
			bt->lz4_rest = 0;
		}
	}
	w->lz4_cycles += rte_rdtsc() - c0;
	if (b && len > 0) {
		b->worker = (uint16_t)w->id;
		b->rclass = (uint8_t)cls;
		b->n_chunks = (uint16_t)bt->n;
		b->len = (uint32_t)len;
		b->first_ns = bt->first_ns;
		b->pkts = bt->pkts;
		memcpy(b->meta, bt->meta, sizeof(b->meta[0]) * bt->n);
		for (unsigned spins = 0; rte_ring_mp_enqueue(e->io_ring, b) != 0; spins++) {
			if (!e->cfg.offline) {
				rte_mempool_put(e->blocks, b);
				b = NULL;
				break;
			}
			cr_bell_ring(&e->io_bell);
			cr_offline_backoff(spins);
		}
		if (b)
			cr_bell_nudge(&e->io_bell);
	} else if (b) {
		rte_mempool_put(e->blocks, b);
		b = NULL;
	}
	if (b == NULL) {
		w->fate[CR_FATE_RTP] -= bt->pkts;
		w->fate[CR_FATE_STORE_FULL] += bt->pkts;
		/* the streams are incomplete now: say so in their records */
		for (uint32_t i = 0; i < bt->n; i++) {
			struct cr_stream *s = &w->pool[bt->meta[i].pool_idx];
			if (s->uid == bt->meta[i].stream_uid) {
				s->store_lost += bt->meta[i].n_pkts;
				s->dirty = 1;
			} else {
				/* ended and reported already: the index adds the loss */
				report_loss(e, &bt->meta[i], 1);
			}
		}
	}
	bt->len = 0;
	bt->n = 0;
	bt->pkts = 0;
}

/* Append a finished chunk to the batch of its stream's class. */
static void
batch_add(struct cr_worker *w, const struct cr_stream *s, const uint8_t *chunk, uint32_t len,
	  uint32_t n_pkts, int64_t first_ns, int64_t last_ns)
{
	struct cr_batch *bt = &w->batch[s->rclass];
	if (bt->len + len > CR_BATCH_RAW || bt->n == CR_BLOCK_MAX_CHUNKS)
		emit_block(w, s->rclass);
	if (bt->n == 0) {
		bt->first_ns = first_ns;
		cr_block_warm(w->e, bt->msg);
	}
	memcpy(cr_batch_raw(bt) + bt->len, chunk, len);
	struct cr_chunk_meta *m = &bt->meta[bt->n++];
	m->stream_uid = s->uid;
	m->call_uid = s->call_uid;
	m->first_ns = first_ns;
	m->last_ns = last_ns;
	m->n_pkts = n_pkts;
	m->pool_idx = (uint32_t)(s - w->pool);
	bt->len += len;
	bt->pkts += n_pkts;
}

/* Look-back: chunks of a call the policy skips, kept in memory for
 * lookback_ns in case it is started on demand; its packets count
 * NOT_RECORDED until then (and stay so if they age out). */
#define LB_MAX 128
static void
lookback_push(struct cr_worker *w, struct cr_stream *s, uint32_t len)
{
	int64_t limit = w->e->cfg.lookback_ns;
	if (s->lb == NULL && (s->lb = calloc(LB_MAX, sizeof(*s->lb))) == NULL)
		return; /* no memory: the chunk is simply not kept */
	while (s->n_lb && (s->n_lb == LB_MAX || s->cw_last_ns - s->lb[0].last_ns > limit)) {
		free(s->lb[0].buf);
		memmove(s->lb, s->lb + 1, sizeof(*s->lb) * --s->n_lb);
	}
	struct cr_lb *b = &s->lb[s->n_lb];
	if ((b->buf = malloc(len)) == NULL)
		return;
	memcpy(b->buf, s->cw.buf, len);
	b->len = len;
	b->n_pkts = s->cw.n_pkts;
	b->first_ns = s->cw.first_ns;
	b->last_ns = s->cw_last_ns;
	s->n_lb++;
}

void
cr_lookback_release(struct cr_worker *w, struct cr_stream *s, int keep, int64_t now_ns)
{
	/* exactly lookback_ns before the start, to the packet: a kept chunk
	 * that begins earlier is cut (chunks are up to 4 s long) */
	int64_t from = now_ns - w->e->cfg.lookback_ns;
	/* an open chunk that began earlier joins the kept ones to be cut too */
	if (keep && s->held && s->cw_open && s->cw.first_ns < from)
		cr_store_close_chunk(w, s);
	for (uint32_t i = 0; i < s->n_lb; i++) {
		struct cr_lb *b = &s->lb[i];
		if (keep && b->last_ns >= from && b->first_ns < from) {
			uint8_t *tmp = malloc(b->len);
			int nl = tmp ? cr_chunk_trim(b->buf, b->len, from, tmp, b->len) : -ENOMEM;
			free(tmp);
			if (nl > 0) {
				struct cr_chunk_reader rd;
				cr_chunk_open(&rd, b->buf, (size_t)nl);
				b->len = (uint32_t)nl;
				b->n_pkts = rd.h.n_pkts;
				b->first_ns = rd.h.first_ns;
			} else {
				b->last_ns = INT64_MIN; /* nothing left in the window */
			}
		}
		if (keep && b->last_ns >= from) { /* started on demand: its past is recorded */
			cr_chunk_set_call_raw(b->buf, s->call_uid);
			w->fate[CR_FATE_NOT_RECORDED] -= b->n_pkts;
			w->fate[CR_FATE_RTP] += b->n_pkts;
			batch_add(w, s, b->buf, b->len, b->n_pkts, b->first_ns, b->last_ns);
		}
		free(b->buf);
	}
	free(s->lb);
	s->lb = NULL;
	s->n_lb = 0;
	if (s->held && !keep && s->cw_open) {
		/* every packet of the open chunk was held: they stay NOT_RECORDED */
		s->cw_open = 0;
		s->cw_held = 0;
	}
	s->held = 0;
}

void
cr_store_close_chunk(struct cr_worker *w, struct cr_stream *s)
{
	if (!s->cw_open)
		return;
	s->cw_open = 0;
	cr_chunk_set_call(&s->cw, s->call_uid);
	uint32_t len = cr_chunk_finish(&s->cw);
	if (s->held) {
		lookback_push(w, s, len);
		s->cw_held = 0;
		return;
	}
	/* packets held before an on-demand start are recorded now */
	w->fate[CR_FATE_NOT_RECORDED] -= s->cw_held;
	w->fate[CR_FATE_RTP] += s->cw_held;
	s->cw_held = 0;
	/* the stream's record (codec, call) reaches the index before any of its
	 * chunks can, so audio found after a crash is always exportable */
	if (s->reported_call != s->call_uid + 1)
		cr_worker_report(w, s);
	batch_add(w, s, s->cw.buf, len, s->cw.n_pkts, s->cw.first_ns, s->cw_last_ns);
}

static int
open_chunk(struct cr_worker *w, struct cr_stream *s)
{
	uint32_t slot = (uint32_t)(s - w->pool);
	uint8_t *slab = cr_worker_chunk_slab(w, slot / w->slab_chunks);
	if (slab == NULL)
		return -ENOMEM;
	struct cr_chunk_hdr h;
	memset(&h, 0, sizeof(h));
	h.stream_uid = s->uid;
	h.call_uid = s->call_uid;
	h.src = s->key.src;
	h.dst = s->key.dst;
	h.sport = s->key.sport;
	h.dport = s->key.dport;
	h.ssrc = s->key.ssrc;
	uint8_t *buf = slab + (size_t)(slot % w->slab_chunks) * w->e->cfg.chunk_cap;
	cr_chunk_begin(&s->cw, buf, w->e->cfg.chunk_cap, &h);
	s->cw_open = 1;
	return 0;
}

/* the packet (counted RTP, or NOT_RECORDED while held) is not stored */
static int
store_drop(struct cr_worker *w, struct cr_stream *s, enum cr_fate why)
{
	w->fate[s->held ? CR_FATE_NOT_RECORDED : CR_FATE_RTP]--;
	w->fate[why]++;
	s->store_lost++;
	return -1;
}

int
cr_store_pkt(struct cr_worker *w, struct cr_stream *s, const struct cr_rtp_hdr *h,
	     const uint8_t *rtp, int64_t t)
{
	if (!s->cw_open && open_chunk(w, s) != 0)
		return store_drop(w, s, CR_FATE_STORE_NOMEM);
	const uint8_t *pl = rtp + h->hdr_len;
	int r = cr_chunk_add(&s->cw, h->seq, h->ts, t, h->marker, h->pt, pl, h->payload_len);
	if (r == -ENOSPC) {
		int was_empty = s->cw.n_pkts == 0;
		if (!was_empty) {
			cr_store_close_chunk(w, s);
			if (open_chunk(w, s) != 0) /* cannot fail: the slab is mapped */
				return store_drop(w, s, CR_FATE_STORE_NOMEM);
			r = cr_chunk_add(&s->cw, h->seq, h->ts, t, h->marker, h->pt, pl,
					 h->payload_len);
		}
		if (r != 0)
			return store_drop(w, s, CR_FATE_STORE_OVERSIZE);
	}
	s->cw_last_ns = t;
	return 0;
}

void
cr_store_tick(struct cr_worker *w, int final)
{
	for (unsigned c = 0; c < CR_MAX_RCLASS; c++)
		if (w->batch[c].n && (final || w->now_ns - w->batch[c].first_ns >= BATCH_SPAN_NS))
			emit_block(w, c);
}

/* chunk age is checked per stream in the worker's tick walk */
int cr_store_chunk_due(const struct cr_worker *w, const struct cr_stream *s);
int
cr_store_chunk_due(const struct cr_worker *w, const struct cr_stream *s)
{
	return s->cw_open && w->now_ns - s->cw.first_ns >= CHUNK_SPAN_NS;
}

/* ---- I/O thread ---- */

/* chunk records waiting for their bytes to be durable */
struct pending {
	struct cr_chunk_meta meta;
	uint64_t block_off;
	uint32_t chunk_no;
};

/* at most this long between a block's write and its fdatasync (and index rows) */
#define SYNC_NS (100 * 1000000ULL)

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct ioseg {
	struct cr_segw w;
	uint64_t synced_ns; /* monotonic time of its last fdatasync */
	uint8_t rclass; /* retention class of every block in it */
	uint64_t seq;
	int hour; /* YYYYMMDDHH of the segment's packet time */
	struct pending *pend;
	uint32_t n_pend, cap_pend;
	uint64_t pend_pkts;
};

static int
hour_of(int64_t t, struct tm *tm)
{
	time_t sec = (time_t)(t / NS);
	gmtime_r(&sec, tm);
	return (tm->tm_year + 1900) * 1000000 + (tm->tm_mon + 1) * 10000 + tm->tm_mday * 100 +
	       tm->tm_hour;
}

static void
send_segment(struct cr_engine *e, const struct cr_segw *w, uint8_t kind, uint8_t state,
	     uint8_t rclass)
{
	struct cr_msg *m = cr_idx_msg_get(e);
	if (m == NULL) {
		cr_count(&e->idx_lost_io);
		return;
	}
	m->type = CR_MSG_SEGMENT;
	memset(&m->seg, 0, sizeof(m->seg));
	snprintf(m->seg.rel, sizeof(m->seg.rel), "%s", w->rel);
	m->seg.kind = kind;
	m->seg.state = state;
	m->seg.rclass = rclass;
	m->seg.first_ns = w->first_ns;
	m->seg.last_ns = w->last_ns;
	m->seg.bytes = w->off;
	m->has_digest = state == CR_SEG_SEALED && w->digest_ok;
	if (m->has_digest)
		memcpy(m->digest, w->digest, 32);
	cr_idx_send(e, m);
}

/* The blocks staged so far are durable: their chunks may now be found. */
static void
send_pending(struct cr_engine *e, struct ioseg *s)
{
	/* only chunks of durable blocks; blocks still staged wait for their sync
	 * (pending is in block order) */
	uint32_t n_dur = 0;
	while (n_dur < s->n_pend && s->pend[n_dur].block_off < s->w.durable_off)
		n_dur++;
	uint32_t keep = s->n_pend - n_dur;
	s->n_pend = n_dur;
	/* the segment's name in every row, measured once (an snprintf a row was
	 * 1 % of an import) */
	size_t rl = strnlen(s->w.rel, sizeof(((struct cr_chunk_rec *)0)->segment) - 1);
	for (uint32_t i = 0; i < s->n_pend;) {
		struct cr_msg *m = cr_idx_msg_get(e);
		if (m == NULL) {
			cr_count(&e->idx_lost_io);
			break; /* recovery re-indexes from the segment */
		}
		m->type = CR_MSG_CHUNKS;
		m->n = 0;
		for (; i < s->n_pend && m->n < CR_MSG_MAX_CHUNKS; i++) {
			const struct pending *p = &s->pend[i];
			struct cr_chunk_rec *c = &m->chunks[m->n++];
			memset(c, 0, sizeof(*c));
			c->stream_uid = p->meta.stream_uid;
			c->call_uid = p->meta.call_uid;
			memcpy(c->segment, s->w.rel, rl); /* zero-terminated by the memset */
			c->block_off = p->block_off;
			c->chunk_no = p->chunk_no;
			c->n_pkts = p->meta.n_pkts;
			c->first_ns = p->meta.first_ns;
			c->last_ns = p->meta.last_ns;
		}
		cr_idx_send(e, m);
	}
	memmove(s->pend, s->pend + n_dur, keep * sizeof(*s->pend));
	s->n_pend = keep;
	s->pend_pkts = 0;
	for (uint32_t i = 0; i < keep; i++)
		s->pend_pkts += s->pend[i].meta.n_pkts;
}

/* Packets the disk refused: recorded against their streams in the index. */
static void
report_loss(struct cr_engine *e, const struct cr_chunk_meta *meta, uint32_t n)
{
	for (uint32_t i = 0; i < n;) {
		struct cr_msg *m = cr_idx_msg_get(e);
		if (m == NULL)
			return;
		m->type = CR_MSG_LOSS;
		m->n = 0;
		for (; i < n && m->n < CR_MSG_MAX_CHUNKS; i++) {
			struct cr_chunk_rec *c = &m->chunks[m->n++];
			memset(c, 0, sizeof(*c));
			c->stream_uid = meta[i].stream_uid;
			c->call_uid = meta[i].call_uid;
			c->n_pkts = meta[i].n_pkts;
		}
		cr_idx_send(e, m);
	}
}

static int
is_nospace(int err)
{
	return err == -ENOSPC || err == -EDQUOT;
}

/* Count packets the store could not keep, by reason, and raise the alarm
 * once per episode (cleared when a segment is written again). */
static void
lose(struct cr_engine *e, int err, uint64_t pkts)
{
	int ns = is_nospace(err);
	__atomic_fetch_add(ns ? &e->io_lost_nospace : &e->io_lost_error, pkts, __ATOMIC_RELAXED);
	if (!e->io_alarm) {
		e->io_alarm = ns ? CR_IO_ALARM_DISK_FULL : CR_IO_ALARM_IO_ERROR;
		CR_LOG(ERR, "store %s: %s; packets are counted as not stored until it recovers",
		       e->cfg.store_dir, ns ? "file system full" : strerror(-err));
	}
}

/* A write or fsync failed: nothing since the last durable flush is reported
 * stored (no retry-and-trust); the segment is closed and marked failed. */
static void
fail_seg(struct cr_engine *e, struct ioseg *s, int err)
{
	e->io_errors++;
	lose(e, err, s->pend_pkts);
	for (uint32_t i = 0; i < s->n_pend; i++)
		report_loss(e, &s->pend[i].meta, 1);
	s->n_pend = 0;
	s->pend_pkts = 0;
	/* keep (sealed) what was durable; its chunks are indexed already */
	int r = cr_segw_abort(&s->w);
	send_segment(e, &s->w, CR_SEG_KIND_DATA, r == 1 ? CR_SEG_GONE : CR_SEG_FAILED, s->rclass);
}

/* Emergency guard: no audio write may leave less than min_free_bytes free
 * (and nothing is deleted to make room: that is retention's job), so the
 * index and the meta segments, which keep writing, never meet a full disk
 * first. 0 in the configuration means 1 % of the file system, 64 MiB-4 GiB.
 * need: the bytes about to be written (the guard once checked only what was
 * free before a write: one 2 MiB staging buffer could eat the reserve, and
 * whether it did depended on timing, seen as a flaky e2e_disk_full). */
static int
space_ok(struct cr_engine *e, uint64_t need)
{
	struct statvfs v;
	if (statvfs(e->cfg.store_dir, &v) != 0)
		return 1;
	uint64_t guard = e->cfg.min_free_bytes;
	if (guard == 0) {
		guard = (uint64_t)v.f_blocks * v.f_frsize / 100;
		guard = guard < (64u << 20) ? (64u << 20) : guard > (4ull << 30) ? (4ull << 30) : guard;
	}
	return (uint64_t)v.f_bavail * v.f_frsize >= guard + need;
}

/* make what was written durable, then let the index name its chunks */
static int
sync_seg(struct cr_engine *e, struct ioseg *s, uint64_t now)
{
	int r = cr_segw_sync(&s->w);
	if (r != 0) {
		fail_seg(e, s, r);
		return r;
	}
	s->synced_ns = now;
	send_pending(e, s);
	return 0;
}

static int
flush_seg(struct cr_engine *e, struct ioseg *s, int force)
{
	if (s->w.fd < 0 || (s->w.wlen == 0 && s->n_pend == 0))
		return 0;
	/* Group commit: one fdatasync per SYNC_NS, not per staging buffer
	 * written (it also journals the file's new size: 0.7 ms each here). The
	 * chunks wait for it: the index names only durable audio. Between syncs
	 * only whole pages are written. */
	uint64_t now = mono_ns();
	int due = force || now - s->synced_ns >= SYNC_NS;
	int r = !space_ok(e, s->w.wlen) ? -ENOSPC
		: e->cfg.fault_write_every && ++e->io_write_calls % e->cfg.fault_write_every == 0
			? -e->cfg.fault_write_errno /* test knob */
		: due ? cr_segw_write(&s->w, 1)
		      : cr_segw_write_head(&s->w);
	if (r != 0) {
		fail_seg(e, s, r);
		return r;
	}
	e->io_writes++;
	return due ? sync_seg(e, s, now) : 0;
}

static void
seal_seg(struct cr_engine *e, struct ioseg *s)
{
	if (s->w.fd < 0)
		return;
	/* everything durable and indexed first (a failure aborts the segment) */
	if (flush_seg(e, s, 1) != 0)
		return;
	int r = cr_segw_seal(&s->w);
	if (r != 0) {
		/* only the footer is missing: left open for recovery to seal */
		e->io_errors++;
		CR_LOG(ERR, "segment %s: cannot write its footer: %s (recovered at next start)",
		       s->w.rel, strerror(-r));
		return;
	}
	send_segment(e, &s->w, CR_SEG_KIND_DATA, CR_SEG_SEALED, s->rclass);
}

static int
open_seg(struct cr_engine *e, struct ioseg *s, unsigned worker, int64_t t)
{
	if (!space_ok(e, CR_SEG_HDR_ENC_LEN))
		return -ENOSPC;
	struct tm tm;
	int hour = hour_of(t, &tm);
	char rel[96];
	char cls[8] = "";
	if (s->rclass)
		snprintf(cls, sizeof(cls), "-c%u", s->rclass);
	snprintf(rel, sizeof(rel), "segments/%04d/%02d/%02d/%02d/w%u%s-r%llu-%llu.seg",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, worker, cls,
		 (unsigned long long)(e->uid_base >> 40), (unsigned long long)s->seq + 1);
	s->w.kr = e->cfg.keyring;
	s->w.no_digest = !e->cfg.manifest; /* SHA-256 only for the manifest */
	int r = cr_segw_open(&s->w, e->cfg.store_dir, rel, (uint16_t)worker, s->seq + 1, t);
	if (r != 0)
		return r;
	s->seq++;
	s->hour = hour;
	e->io_segments++;
	send_segment(e, &s->w, CR_SEG_KIND_DATA, CR_SEG_OPEN, s->rclass);
	return 0;
}

static int
stage(struct ioseg *s, const struct cr_block_msg *b, uint64_t off)
{
	if (s->n_pend + b->n_chunks > s->cap_pend) {
		uint32_t nc = s->cap_pend ? s->cap_pend * 2 : 1024;
		while (nc < s->n_pend + b->n_chunks)
			nc *= 2;
		struct pending *np = realloc(s->pend, nc * sizeof(*np));
		if (np == NULL)
			return -ENOMEM;
		s->pend = np;
		s->cap_pend = nc;
	}
	for (unsigned i = 0; i < b->n_chunks; i++) {
		struct pending *p = &s->pend[s->n_pend++];
		p->meta = b->meta[i];
		p->block_off = off;
		p->chunk_no = i;
	}
	s->pend_pkts += b->pkts;
	return 0;
}

static void
write_block(struct cr_engine *e, struct ioseg *s, struct cr_block_msg *b)
{
	struct tm tm;
	if (s->w.fd >= 0 &&
	    (s->w.off + b->len > e->cfg.seg_max_bytes || hour_of(b->first_ns, &tm) != s->hour))
		seal_seg(e, s);
	int r = 0;
	if (s->w.fd < 0 && (r = open_seg(e, s, b->worker, b->first_ns)) != 0) {
		lose(e, r, b->pkts);
		report_loss(e, b->meta, b->n_chunks);
		return;
	}
	if (b->len > cr_segw_room(&s->w) && s->w.wlen && (r = flush_seg(e, s, 0)) != 0) {
		lose(e, r, b->pkts);
		report_loss(e, b->meta, b->n_chunks);
		return;
	}
	uint64_t off = s->w.off;
	r = cr_segw_append(&s->w, b->data, b->len, b->first_ns);
	if (r == 0)
		r = stage(s, b, off);
	if (r == 0 && s->w.n_blocks == 1)
		s->w.first_ns = INT64_MAX;
	for (unsigned i = 0; r == 0 && i < b->n_chunks; i++) {
		/* the segment's packet-time span, as a rebuild computes it */
		if (b->meta[i].first_ns < s->w.first_ns)
			s->w.first_ns = b->meta[i].first_ns;
		if (b->meta[i].last_ns > s->w.last_ns)
			s->w.last_ns = b->meta[i].last_ns;
	}
	if (r != 0) {
		lose(e, r, b->pkts);
		report_loss(e, b->meta, b->n_chunks);
		fail_seg(e, s, r);
		return;
	}
	if (e->io_alarm) {
		CR_LOG(NOTICE, "store %s: writing again", e->cfg.store_dir);
		e->io_alarm = 0;
	}
	e->io_blocks++;
	e->io_bytes += b->len;
}

/* Blocks appended SYNC_NS ago or more and not yet durable are written and
 * synced now, staged or not: a crash loses at most that much audio at any
 * traffic (before, a staging buffer that filled slowly was written only when
 * full or after a second without blocks: at a few calls, many seconds). */
static void
sync_due(struct cr_engine *e, struct ioseg *segs, unsigned n)
{
	uint64_t now = mono_ns();
	for (unsigned i = 0; i < n; i++)
		if (segs[i].w.fd >= 0 && segs[i].w.off > segs[i].w.durable_off &&
		    now - segs[i].synced_ns >= SYNC_NS)
			flush_seg(e, &segs[i], 1);
}

static void *
io_main(void *arg)
{
	struct cr_engine *e = arg;
	uint64_t cpu0 = cr_thread_cpu_ns();
	unsigned n_segs = e->cfg.n_workers * CR_MAX_RCLASS;
	struct ioseg *segs = calloc(n_segs, sizeof(*segs));
	for (unsigned i = 0; i < n_segs; i++) {
		segs[i].w.fd = segs[i].w.dfd = -1;
		segs[i].rclass = (uint8_t)(i % CR_MAX_RCLASS);
	}
	void *objs[16];
	for (;;) {
		unsigned n = rte_ring_sc_dequeue_burst(e->io_ring, objs, RTE_DIM(objs), NULL);
		if (n == 0) {
			if (__atomic_load_n(&e->io_stop, __ATOMIC_ACQUIRE) &&
			    rte_ring_empty(e->io_ring))
				break;
			sync_due(e, segs, n_segs);
			cr_bell_idle(&e->io_bell, 1000);
			continue;
		}
		uint64_t c0 = rte_rdtsc();
		for (unsigned i = 0; i < n; i++) {
			struct cr_block_msg *b = objs[i];
			write_block(e, &segs[b->worker * CR_MAX_RCLASS + b->rclass], b);
			rte_mempool_put(e->blocks, b);
			cr_gate_put(&e->blocks_gate);
		}
		sync_due(e, segs, n_segs);
		e->io_busy_cycles += rte_rdtsc() - c0;
	}
	for (unsigned i = 0; i < n_segs; i++) {
		seal_seg(e, &segs[i]);
		cr_segw_free(&segs[i].w);
		free(segs[i].pend);
	}
	free(segs);
	e->io_cpu_ns = cr_thread_cpu_ns() - cpu0;
	return NULL;
}

int
cr_io_start(struct cr_engine *e)
{
	int r = pthread_create(&e->io_thread, NULL, io_main, e);
	if (r == 0)
		pthread_setname_np(e->io_thread, "cr-io");
	return -r;
}

void
cr_io_stop(struct cr_engine *e)
{
	__atomic_store_n(&e->io_stop, 1, __ATOMIC_RELEASE);
	cr_bell_ring(&e->io_bell);
	pthread_join(e->io_thread, NULL);
}
