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
#include <time.h>
#include <unistd.h>

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
emit_block(struct cr_worker *w)
{
	struct cr_engine *e = w->e;
	if (w->batch_n == 0)
		return;
	void *obj = NULL;
	unsigned every = e->cfg.fault_block_every;
	int inject = every && ++w->blocks_emitted % every == 0;
	while (!inject && rte_mempool_get(e->blocks, &obj) != 0) {
		if (!e->cfg.offline) {
			obj = NULL;
			break;
		}
		rte_pause();
	}
	struct cr_block_msg *b = obj;
	int len = b ? cr_block_encode(w->batch, w->batch_len, (uint16_t)w->batch_n, b->data,
				      cr_block_bound(CR_BATCH_RAW))
		    : -ENOBUFS;
	if (b && len > 0) {
		b->worker = (uint16_t)w->id;
		b->n_chunks = (uint16_t)w->batch_n;
		b->len = (uint32_t)len;
		b->first_ns = w->batch_first_ns;
		b->pkts = w->batch_pkts;
		memcpy(b->meta, w->batch_meta, sizeof(b->meta[0]) * w->batch_n);
		while (rte_ring_mp_enqueue(e->io_ring, b) != 0) {
			if (!e->cfg.offline) {
				rte_mempool_put(e->blocks, b);
				b = NULL;
				break;
			}
			rte_pause();
		}
	} else if (b) {
		rte_mempool_put(e->blocks, b);
		b = NULL;
	}
	if (b == NULL) {
		w->fate[CR_FATE_RTP] -= w->batch_pkts;
		w->fate[CR_FATE_STORE_FULL] += w->batch_pkts;
		/* the streams are incomplete now: say so in their records */
		for (uint32_t i = 0; i < w->batch_n; i++) {
			struct cr_stream *s = &w->pool[w->batch_meta[i].pool_idx];
			if (s->uid == w->batch_meta[i].stream_uid) {
				s->store_lost += w->batch_meta[i].n_pkts;
				s->dirty = 1;
			} else {
				/* ended and reported already: the index adds the loss */
				report_loss(e, &w->batch_meta[i], 1);
			}
		}
	}
	w->batch_len = 0;
	w->batch_n = 0;
	w->batch_pkts = 0;
}

void
cr_store_close_chunk(struct cr_worker *w, struct cr_stream *s)
{
	if (!s->cw_open)
		return;
	s->cw_open = 0;
	cr_chunk_set_call(&s->cw, s->call_uid);
	uint32_t len = cr_chunk_finish(&s->cw);
	if (w->batch_len + len > CR_BATCH_RAW || w->batch_n == CR_BLOCK_MAX_CHUNKS)
		emit_block(w);
	if (w->batch_n == 0)
		w->batch_first_ns = s->cw.first_ns;
	memcpy(w->batch + w->batch_len, s->cw.buf, len);
	struct cr_chunk_meta *m = &w->batch_meta[w->batch_n++];
	m->stream_uid = s->uid;
	m->call_uid = s->call_uid;
	m->first_ns = s->cw.first_ns;
	m->last_ns = s->cw_last_ns;
	m->n_pkts = s->cw.n_pkts;
	m->pool_idx = (uint32_t)(s - w->pool);
	w->batch_len += len;
	w->batch_pkts += s->cw.n_pkts;
}

static void
open_chunk(struct cr_worker *w, struct cr_stream *s)
{
	struct cr_chunk_hdr h;
	memset(&h, 0, sizeof(h));
	h.stream_uid = s->uid;
	h.call_uid = s->call_uid;
	h.src = s->key.src;
	h.dst = s->key.dst;
	h.sport = s->key.sport;
	h.dport = s->key.dport;
	h.ssrc = s->key.ssrc;
	uint8_t *buf = w->chunk_arena + (size_t)(s - w->pool) * w->e->cfg.chunk_cap;
	cr_chunk_begin(&s->cw, buf, w->e->cfg.chunk_cap, &h);
	s->cw_open = 1;
}

void
cr_store_pkt(struct cr_worker *w, struct cr_stream *s, const struct cr_rtp_hdr *h,
	     const uint8_t *rtp, int64_t t)
{
	if (!s->cw_open)
		open_chunk(w, s);
	const uint8_t *pl = rtp + h->hdr_len;
	int r = cr_chunk_add(&s->cw, h->seq, h->ts, t, h->marker, h->pt, pl, h->payload_len);
	if (r == -ENOSPC) {
		int was_empty = s->cw.n_pkts == 0;
		if (!was_empty) {
			cr_store_close_chunk(w, s);
			open_chunk(w, s);
			r = cr_chunk_add(&s->cw, h->seq, h->ts, t, h->marker, h->pt, pl,
					 h->payload_len);
		}
		if (r != 0) {
			w->fate[CR_FATE_RTP]--;
			w->fate[CR_FATE_STORE_OVERSIZE]++;
			s->store_lost++;
			return;
		}
	}
	s->cw_last_ns = t;
}

void
cr_store_tick(struct cr_worker *w, int final)
{
	if (w->batch_n && (final || w->now_ns - w->batch_first_ns >= BATCH_SPAN_NS))
		emit_block(w);
}

/* chunk age is checked per stream in the worker's tick walk */
int cr_store_chunk_due(const struct cr_worker *w, const struct cr_stream *s);
int
cr_store_chunk_due(const struct cr_worker *w, const struct cr_stream *s)
{
	return s->cw_open && w->now_ns - s->cw.first_ns >= CHUNK_SPAN_NS;
}

/* ---- I/O thread ---- */

#define WBUF (1u << 20) /* writes go out in 1 MiB, aligned for O_DIRECT */
#define WALIGN 4096

/* chunk records waiting for their bytes to reach the file */
struct pending {
	struct cr_chunk_meta meta;
	uint64_t block_off;
	uint32_t chunk_no;
};

struct seg {
	int fd;	 /* buffered: header, tails, footer */
	int dfd; /* O_DIRECT, or -1 where the file system refuses it */
	char rel[96];
	uint64_t off;	  /* logical end of the segment */
	uint64_t flushed; /* bytes on disk (wbuf starts here) */
	uint8_t *wbuf;	  /* WBUF bytes, WALIGN-aligned */
	uint32_t wlen;
	uint64_t seq;
	int hour; /* YYYYMMDDHH of the segment's packet time */
	uint32_t n_blocks, cap_blocks;
	uint64_t *blocks;
	struct pending *pend;
	uint32_t n_pend, cap_pend;
	uint64_t pend_pkts;
	int64_t last_flush_ns;
};

static int
mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int r = mkdir(path, 0750);
		*p = '/';
		if (r != 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int
write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void send_pending(struct cr_engine *e, struct seg *s);

/* Write the staged bytes. Full, aligned buffers go through O_DIRECT; a
 * partial tail goes through the page cache (and is rewritten in place when
 * more data follows, since wbuf keeps it). */
static int
flush_seg(struct cr_engine *e, struct seg *s, int keep_tail)
{
	if (s->fd < 0 || s->wlen == 0)
		return 0;
	int r;
	int aligned = (s->flushed % WALIGN) == 0 && (s->wlen % WALIGN) == 0;
	if (s->dfd >= 0 && aligned)
		r = write_all(s->dfd, s->wbuf, s->wlen, s->flushed);
	else
		r = write_all(s->fd, s->wbuf, s->wlen, s->flushed);
	if (r != 0)
		return r;
	e->io_writes++;
	send_pending(e, s);
	if (keep_tail && !aligned) {
		/* keep the unaligned tail staged so the next flush starts aligned */
		uint32_t keep = s->wlen % WALIGN;
		uint32_t drop = s->wlen - keep;
		memmove(s->wbuf, s->wbuf + drop, keep);
		s->flushed += drop;
		s->wlen = keep;
	} else {
		s->flushed += s->wlen;
		s->wlen = 0;
	}
	return 0;
}

static void
seal(struct cr_engine *e, struct seg *s)
{
	if (s->fd < 0)
		return;
	if (flush_seg(e, s, 0) != 0) {
		e->io_errors++;
		e->io_lost_pkts += s->pend_pkts;
		for (uint32_t i = 0; i < s->n_pend; i++)
			report_loss(e, &s->pend[i].meta, 1);
		s->n_pend = 0;
		s->pend_pkts = 0;
	}
	/* footer: "CRFT" n_blocks offsets[] crc; trailer: footer_off "CRSEGEND" */
	size_t fl = 8 + (size_t)s->n_blocks * 8 + 4;
	uint8_t *f = malloc(fl + 16);
	if (f) {
		memcpy(f, "CRFT", 4);
		memcpy(f + 4, &s->n_blocks, 4);
		memcpy(f + 8, s->blocks, (size_t)s->n_blocks * 8);
		uint32_t crc = cr_crc32c(f, fl - 4, 0);
		memcpy(f + fl - 4, &crc, 4);
		memcpy(f + fl, &s->off, 8);
		memcpy(f + fl + 8, CR_SEG_TRAILER_MAGIC, 8);
		if (write_all(s->fd, f, fl + 16, s->off) != 0)
			e->io_errors++;
		free(f);
	}
	if (fdatasync(s->fd) != 0)
		e->io_errors++;
	close(s->fd);
	if (s->dfd >= 0)
		close(s->dfd);
	s->fd = -1;
	s->dfd = -1;
	s->n_blocks = 0;
}

static int
open_seg(struct cr_engine *e, struct seg *s, unsigned worker, int64_t t)
{
	time_t sec = (time_t)(t / NS);
	struct tm tm;
	gmtime_r(&sec, &tm);
	s->seq++;
	snprintf(s->rel, sizeof(s->rel), "segments/%04d/%02d/%02d/%02d/w%u-r%llu-%llu.seg",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, worker,
		 (unsigned long long)(e->uid_base >> 40), (unsigned long long)s->seq);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", e->cfg.store_dir, s->rel);
	int r = mkdirs(path);
	if (r != 0)
		return r;
	s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (s->fd < 0)
		return -errno;
	s->dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC); /* tmpfs etc. refuse: buffered */
	if (s->wbuf == NULL && posix_memalign((void **)&s->wbuf, WALIGN, WBUF) != 0) {
		close(s->fd);
		s->fd = -1;
		return -ENOMEM;
	}
	s->wlen = 0;
	uint8_t hdr[CR_SEG_HDR_LEN];
	cr_seg_header(hdr, (uint16_t)worker, s->seq, t);
	s->off = CR_SEG_HDR_LEN;
	/* staged with the blocks so that every full buffer is one aligned write */
	memcpy(s->wbuf, hdr, sizeof(hdr));
	s->wlen = CR_SEG_HDR_LEN;
	s->flushed = 0;
	s->hour = (tm.tm_year + 1900) * 1000000 + (tm.tm_mon + 1) * 10000 + tm.tm_mday * 100 +
		  tm.tm_hour;
	s->n_blocks = 0;
	e->io_segments++;
	return 0;
}

static int
hour_of(int64_t t)
{
	time_t sec = (time_t)(t / NS);
	struct tm tm;
	gmtime_r(&sec, &tm);
	return (tm.tm_year + 1900) * 1000000 + (tm.tm_mon + 1) * 10000 + tm.tm_mday * 100 +
	       tm.tm_hour;
}

static void
send_pending(struct cr_engine *e, struct seg *s)
{
	for (uint32_t i = 0; i < s->n_pend;) {
		struct cr_msg *m = cr_idx_msg_get(e);
		if (m == NULL) {
			e->fate[CR_FATE_INDEX_FULL]++;
			break;
		}
		m->type = CR_MSG_CHUNKS;
		m->n = 0;
		for (; i < s->n_pend && m->n < CR_MSG_MAX_CHUNKS; i++) {
			const struct pending *p = &s->pend[i];
			struct cr_chunk_rec *c = &m->chunks[m->n++];
			memset(c, 0, sizeof(*c));
			c->stream_uid = p->meta.stream_uid;
			c->call_uid = p->meta.call_uid;
			snprintf(c->segment, sizeof(c->segment), "%s", s->rel);
			c->block_off = p->block_off;
			c->chunk_no = p->chunk_no;
			c->n_pkts = p->meta.n_pkts;
			c->first_ns = p->meta.first_ns;
			c->last_ns = p->meta.last_ns;
		}
		cr_idx_send(e, m);
	}
	s->n_pend = 0;
	s->pend_pkts = 0;
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
stage(struct seg *s, const struct cr_block_msg *b)
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
		p->block_off = s->off;
		p->chunk_no = i;
	}
	s->pend_pkts += b->pkts;
	return 0;
}

static void
write_block(struct cr_engine *e, struct seg *s, struct cr_block_msg *b)
{
	int r = 0;
	if (s->fd >= 0 && (s->off + b->len > e->cfg.seg_max_bytes || hour_of(b->first_ns) != s->hour))
		seal(e, s);
	if (s->fd < 0)
		r = open_seg(e, s, b->worker, b->first_ns);
	if (r == 0 && s->wlen + b->len > WBUF)
		r = flush_seg(e, s, 1);
	if (r == 0 && b->len > WBUF - s->wlen) {
		/* larger than the staging buffer: straight through */
		r = write_all(s->fd, b->data, b->len, s->off);
		if (r == 0) {
			s->flushed = s->off + b->len;
			r = stage(s, b);
			send_pending(e, s);
		}
	} else if (r == 0) {
		memcpy(s->wbuf + s->wlen, b->data, b->len);
		s->wlen += b->len;
		r = stage(s, b);
	}
	if (r != 0) {
		/* never report a failed segment durable: close it, count the loss */
		e->io_errors++;
		e->io_lost_pkts += b->pkts + s->pend_pkts;
		report_loss(e, b->meta, b->n_chunks);
		for (uint32_t i = 0; i < s->n_pend; i++)
			report_loss(e, &s->pend[i].meta, 1);
		s->n_pend = 0;
		s->pend_pkts = 0;
		s->wlen = 0;
		if (s->fd >= 0) {
			close(s->fd);
			if (s->dfd >= 0)
				close(s->dfd);
			s->fd = s->dfd = -1;
		}
		return;
	}
	if (s->n_blocks == s->cap_blocks) {
		uint32_t nc = s->cap_blocks ? s->cap_blocks * 2 : 256;
		uint64_t *nb = realloc(s->blocks, nc * sizeof(*nb));
		if (nb) {
			s->blocks = nb;
			s->cap_blocks = nc;
		}
	}
	if (s->n_blocks < s->cap_blocks)
		s->blocks[s->n_blocks++] = s->off;
	s->off += b->len;
	e->io_blocks++;
	e->io_bytes += b->len;
}

static void *
io_main(void *arg)
{
	struct cr_engine *e = arg;
	struct seg *segs = calloc(e->cfg.n_workers, sizeof(*segs));
	for (unsigned i = 0; i < e->cfg.n_workers; i++)
		segs[i].fd = segs[i].dfd = -1;
	unsigned idle = 0;
	void *objs[16];
	for (;;) {
		unsigned n = rte_ring_sc_dequeue_burst(e->io_ring, objs, RTE_DIM(objs), NULL);
		if (n == 0) {
			if (__atomic_load_n(&e->io_stop, __ATOMIC_ACQUIRE) &&
			    rte_ring_empty(e->io_ring))
				break;
			/* quiet for ~1 s: push staged tails out (bounded loss on a crash) */
			if (++idle == 1000)
				for (unsigned i = 0; i < e->cfg.n_workers; i++)
					if (flush_seg(e, &segs[i], 1) != 0)
						e->io_errors++;
			usleep(1000);
			continue;
		}
		idle = 0;
		for (unsigned i = 0; i < n; i++) {
			struct cr_block_msg *b = objs[i];
			write_block(e, &segs[b->worker], b);
			rte_mempool_put(e->blocks, b);
		}
	}
	for (unsigned i = 0; i < e->cfg.n_workers; i++) {
		seal(e, &segs[i]);
		free(segs[i].blocks);
		free(segs[i].pend);
		free(segs[i].wbuf);
	}
	free(segs);
	return NULL;
}

int
cr_io_start(struct cr_engine *e)
{
	return -pthread_create(&e->io_thread, NULL, io_main, e);
}

void
cr_io_stop(struct cr_engine *e)
{
	__atomic_store_n(&e->io_stop, 1, __ATOMIC_RELEASE);
	pthread_join(e->io_thread, NULL);
}
