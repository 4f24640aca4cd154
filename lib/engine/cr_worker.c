/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker lcore: owns its RTP streams. Reads packets and ticks from its ring,
 * updates per-stream statistics, binds streams to calls through the media
 * table, reports stream snapshots to the index. Nothing here is shared with
 * another worker; the media table is only read (under RCU). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "cr_engine_internal.h"
#include "cr_mem.h"

#define BURST 32
#define REPORT_INTERVAL_NS (10LL * 1000000000LL)
#define CR_JB_MS 60 /* the fixed playout buffer the quality figures assume */

static uint32_t
stream_hash(const void *key, uint32_t len, uint32_t init)
{
	return rte_hash_crc(key, len, init);
}

int
cr_worker_prefault(void *arg)
{
	struct cr_worker *w = arg;
	/* at 30,000 calls of a fresh run, zeroing the pages the new streams
	 * touched was the largest item of a worker's profile (and a recorder at
	 * its peak must not find out then that memory is short) */
	cr_mem_prefault(w->pool, w->pool_bytes);
	for (unsigned i = 0; i < w->n_slabs; i++)
		cr_mem_prefault(w->chunk_slab[i], w->slab_bytes);
	return 0;
}

uint8_t *
cr_worker_chunk_slab(struct cr_worker *w, unsigned slab)
{
	if (w->chunk_slab[slab] == NULL && (w->e->cfg.fault_slabs == 0 || slab < w->e->cfg.fault_slabs))
		w->chunk_slab[slab] = cr_mem_dense(w->slab_bytes);
	return w->chunk_slab[slab];
}

int
cr_worker_init(struct cr_engine *e, struct cr_worker *w, unsigned id)
{
	char name[RTE_MEMZONE_NAMESIZE];
	w->id = id;
	w->e = e;
	snprintf(name, sizeof(name), "cr_wring%u", id);
	w->ring = rte_ring_create(name, e->cfg.ring_size, rte_socket_id(),
				  RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->ring == NULL)
		return -rte_errno;
	/* rte_pktmbuf_read() of a packet in several segments, one at a time */
	w->scratch = rte_malloc("cr_wscratch", 65536, 0);
	if (w->scratch == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "cr_streams%u", id);
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = e->cfg.max_streams,
		.key_len = sizeof(struct cr_stream_key),
		.hash_func = stream_hash,
		.socket_id = (int)rte_socket_id(),
	};
	w->streams = rte_hash_create(&hp);
	if (e->rss) {
		snprintf(name, sizeof(name), "cr_tomain%u", id);
		w->to_main = rte_ring_create(name, 4096, rte_socket_id(),
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->to_main == NULL)
			return -rte_errno;
	}
	snprintf(name, sizeof(name), "cr_act%u", id);
	w->act = rte_ring_create_elem(name, sizeof(struct cr_activity), 4096, rte_socket_id(),
				      RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->act == NULL)
		return -ENOMEM;
	/* Process memory, not DPDK's: nothing here is DMA'd or shared, pages are
	 * faulted in on the worker's lcore (cfg.prefault) or by its first touch
	 * (either way NUMA-local), and freeing does not zero them (rte_free would: 64 MiB of page faults
	 * at every exit). An entry is cleared when a stream takes it. */
	w->pool_bytes = sizeof(struct cr_stream) * e->cfg.max_streams;
	w->pool = cr_mem_table(w->pool_bytes);
	w->free_idx = malloc(sizeof(uint32_t) * e->cfg.max_streams);
	w->live = malloc(sizeof(uint32_t) * e->cfg.max_streams);
	/* Chunk buffers in slabs of a huge page: streams take the lowest free
	 * slot (free_idx below), so an import maps slabs only up to its peak of
	 * concurrent streams, and each slab it maps is used whole (reserved
	 * hugepages where allowed: cr_mem.h). A live recorder maps them all
	 * now: at its peak it must not find memory short. */
	w->slab_chunks = RTE_MAX(1u, (2u << 20) / e->cfg.chunk_cap);
	w->slab_bytes = (size_t)w->slab_chunks * e->cfg.chunk_cap;
	w->n_slabs = (e->cfg.max_streams + w->slab_chunks - 1) / w->slab_chunks;
	w->chunk_slab = calloc(w->n_slabs, sizeof(*w->chunk_slab));
	if (w->chunk_slab == NULL)
		return -ENOMEM;
	for (unsigned i = 0; e->cfg.prefault && i < w->n_slabs; i++)
		if (cr_worker_chunk_slab(w, i) == NULL)
			return -ENOMEM;
	/* each class's batch in a block message of its own (the pool counts
	 * them: cr_engine_create) */
	for (unsigned c = 0; c < CR_MAX_RCLASS; c++) {
		void *m = NULL;
		if (rte_mempool_get(e->blocks, &m) != 0)
			return -ENOMEM;
		w->batch[c].msg = m;
	}
	if (w->streams == NULL || w->pool == NULL || w->free_idx == NULL || w->live == NULL)
		return -ENOMEM;
	w->n_free = e->cfg.max_streams;
	for (uint32_t i = 0; i < e->cfg.max_streams; i++)
		w->free_idx[i] = e->cfg.max_streams - 1 - i;
	/* uid: run (index) | worker | counter, unique across runs on one store */
	w->next_uid = e->uid_base | ((uint64_t)id << 32);
	return 0;
}

void
cr_worker_free(struct cr_worker *w)
{
	if (!w->e->at_exit) { /* else left to rte_eal_cleanup(): freeing zeroes it */
		rte_ring_free(w->ring);
		rte_ring_free(w->act);
		rte_ring_free(w->to_main);
		rte_hash_free(w->streams);
		rte_free(w->scratch);
		for (unsigned c = 0; c < CR_MAX_RCLASS; c++)
			if (w->batch[c].msg)
				rte_mempool_put(w->e->blocks, w->batch[c].msg);
	}
	if (w->pool)
		cr_mem_huge_free(w->pool, w->pool_bytes);
	free(w->free_idx);
	free(w->live);
	for (unsigned i = 0; w->chunk_slab && i < w->n_slabs; i++)
		cr_mem_huge_free(w->chunk_slab[i], w->slab_bytes);
	free(w->chunk_slab);
}

static const struct cr_media_pt *
pt_lookup(const struct cr_stream *s, uint8_t pt)
{
	for (int i = 0; i < s->n_pt; i++)
		if (s->pt[i].pt == pt)
			return &s->pt[i];
	return NULL;
}

void
cr_worker_report(struct cr_worker *w, struct cr_stream *s)
{
	struct cr_msg *m = cr_idx_msg_get(w->e);
	if (m == NULL) {
		cr_count(&w->idx_lost);
		return;
	}
	m->type = CR_MSG_STREAM;
	struct cr_stream_rec *r = &m->stream;
	memset(r, 0, sizeof(*r));
	r->uid = s->uid;
	r->call_uid = s->call_uid;
	r->src = s->key.src;
	r->dst = s->key.dst;
	r->sport = s->key.sport;
	r->dport = s->key.dport;
	r->ssrc = s->key.ssrc;
	r->side = s->side;
	r->is_srtp = s->is_srtp;
	uint8_t pt = s->main_pt != 255 ? s->main_pt : s->st.pt;
	r->pt = pt;
	const struct cr_media_pt *mp = pt_lookup(s, pt);
	if (mp && mp->enc[0]) {
		snprintf(r->codec, sizeof(r->codec), "%s", mp->enc);
		r->clock_rate = mp->clock_rate;
		r->channels = mp->channels;
	} else if (cr_rtp_static_name(pt)) {
		snprintf(r->codec, sizeof(r->codec), "%s", cr_rtp_static_name(pt));
		r->clock_rate = cr_rtp_static_clock(pt);
		r->channels = pt == 10 ? 2 : 1;
	} else {
		snprintf(r->codec, sizeof(r->codec), "PT%u", pt);
		r->clock_rate = s->st.clock_rate;
	}
	r->packets = s->st.packets;
	r->lost = cr_rtp_stats_lost(&s->st);
	r->out_of_order = s->st.out_of_order;
	r->duplicates = s->st.duplicates;
	r->payload_bytes = s->st.payload_bytes;
	r->max_jitter_ms = s->st.max_jitter_ms;
	r->mean_jitter_ms = s->st.mean_jitter_ms;
	r->max_delta_ms = s->st.max_delta_ms;
	r->first_ns = s->st.first_ns;
	r->last_ns = s->st.last_ns;
	r->rtcp_packets = s->rtcp_packets;
	r->store_lost = s->store_lost;
	r->jb_discards = s->jb.discards;
	r->silence_pct = s->g711_pkts ? 100.0 * (double)s->silent_pkts / (double)s->g711_pkts : -1;
	int64_t expected = (int64_t)s->st.packets + r->lost;
	/* what a listener lost: the network's losses and the packets too late
	 * for the playout buffer (G.107 Ppl) */
	int64_t gone = (r->lost > 0 ? r->lost : 0) + (int64_t)s->jb.discards;
	double loss = expected > 0 && gone > 0 ? 100.0 * (double)gone / (double)expected : 0;
	r->mos = cr_emodel_mos(r->codec, loss, s->st.mean_jitter_ms, &r->r_factor);
	s->mos = (float)r->mos;
	size_t pl = 0;
	for (int i = 0; i < s->n_pt && pl < sizeof(r->ptmap); i++) {
		int k = snprintf(r->ptmap + pl, sizeof(r->ptmap) - pl, "%s%u %s/%u/%u", i ? ";" : "",
				 s->pt[i].pt, s->pt[i].enc, s->pt[i].clock_rate,
				 s->pt[i].channels ? s->pt[i].channels : 1);
		if (k < 0 || (size_t)k >= sizeof(r->ptmap) - pl) {
			r->ptmap[pl] = 0; /* keep whole entries only */
			break;
		}
		pl += (size_t)k;
	}
	r->n_dtmf = s->n_dtmf;
	memcpy(r->dtmf, s->dtmf, sizeof(struct cr_dtmf) * s->n_dtmf);
	s->dirty = 0;
	s->last_report_ns = w->now_ns;
	s->reported_call = s->call_uid + 1;
	cr_idx_send(w->e, m);
}

int cr_store_chunk_due(const struct cr_worker *w, const struct cr_stream *s);

const double cr_mos_le[CR_MOS_BUCKETS] = {2.0, 2.5, 3.0, 3.5, 4.0, 4.2, 4.4};
const double cr_jit_le[CR_JIT_BUCKETS] = {1, 2, 5, 10, 20, 50, 100};

/* an ended stream's quality into this worker's histograms (metrics) */
static void
quality(struct cr_worker *w, const struct cr_stream *s)
{
	if (s->st.packets < 2)
		return;
	unsigned i = 0;
	while (i < CR_MOS_BUCKETS && s->mos > cr_mos_le[i])
		i++;
	w->mos_hist[i]++;
	double j = s->st.mean_jitter_ms;
	for (i = 0; i < CR_JIT_BUCKETS && j > cr_jit_le[i]; i++)
		;
	w->jit_hist[i]++;
	w->mos_sum += s->mos;
	w->jit_sum += j;
	w->streams_ended++;
}

static void
stream_free(struct cr_worker *w, struct cr_stream *s)
{
	cr_lookback_release(w, s, 0, 0); /* never started: its look-back goes */
	rte_hash_del_key(w->streams, &s->key); /* its uid went at its final record */
	uint32_t last = w->live[--w->n_live];
	w->live[s->live_pos] = last;
	w->pool[last].live_pos = s->live_pos;
	w->free_idx[w->n_free++] = (uint32_t)(s - w->pool);
}

static void
on_tick(struct cr_worker *w, int final)
{
	/* Freeing reorders the live list: collect, then free. */
	uint32_t victims[256];
	unsigned nv = 0;
	do {
		nv = 0;
		/* a full victim list ends the pass: an expired stream is reported
		 * (and its quality counted) once, in the pass that frees it */
		for (uint32_t li = 0; li < w->n_live && nv < RTE_DIM(victims); li++) {
			uint32_t idx = w->live[li];
			struct cr_stream *s = &w->pool[idx];
			if (li + 4 < w->n_live)
				rte_prefetch0(&w->pool[w->live[li + 4]].st);
			int expired = final || w->now_ns - s->st.last_ns > w->e->cfg.rtp_timeout_ns;
			if (expired || cr_store_chunk_due(w, s))
				cr_store_close_chunk(w, s);
			if (expired) {
				cr_worker_report(w, s);
				quality(w, s);
				/* its record is final: chunks still batched find
				 * their stream gone, and a batch that fails reports
				 * the loss on its own (cr_io.c), not into a record
				 * never sent again (the slot is freed below) */
				s->uid = 0;
				victims[nv++] = idx;
			} else if (s->dirty && !w->e->import &&
				   w->now_ns - s->last_report_ns >= REPORT_INTERVAL_NS) {
				/* live: a search sees how a long call's streams are going; an
				 * import reports a stream before its first chunk (what a crash
				 * needs, cr_io.c) and when it ends: the updates between were
				 * 5 of every 7 stream records (200 calls x 60 s) */
				cr_worker_report(w, s);
			}
			/* tell the signalling owner the call's media is alive (a hint:
			 * a full ring just loses it, the next tick sends another) */
			if (!expired && s->bound && s->st.last_ns - s->last_act_ns >= 1000000000LL) {
				struct cr_activity a = {s->call_uid, s->st.last_ns};
				if (rte_ring_sp_enqueue_elem(w->act, &a, sizeof(a)) == 0)
					s->last_act_ns = s->st.last_ns;
			}
		}
		for (unsigned i = 0; i < nv; i++)
			stream_free(w, &w->pool[victims[i]]);
	} while (nv == RTE_DIM(victims));
	cr_store_tick(w, final);
}

/* @return 1 when a new digit started */
static int
dtmf_event(struct cr_stream *s, const struct cr_rtp_hdr *h, const uint8_t *pl, int64_t t,
	   uint32_t clock)
{
	struct cr_rtp_event ev;
	if (cr_rtp_event_parse(pl, h->payload_len, &ev) != 0)
		return 0;
	if (s->n_dtmf > 0 && s->dtmf_last_ts == h->ts) {
		struct cr_dtmf *d = &s->dtmf[s->n_dtmf - 1];
		uint32_t ms = clock ? (uint32_t)ev.duration * 1000 / clock : 0;
		if (ms > d->duration_ms)
			d->duration_ms = (uint16_t)(ms > 65535 ? 65535 : ms);
		return 0;
	}
	if (s->n_dtmf >= CR_STREAM_MAX_DTMF)
		return 0;
	struct cr_dtmf *d = &s->dtmf[s->n_dtmf++];
	d->digit = cr_rtp_event_char(ev.event);
	d->source = 0;
	d->duration_ms = (uint16_t)(clock ? (uint32_t)ev.duration * 1000 / clock : 0);
	d->t_ns = t;
	s->dtmf_last_ts = h->ts;
	return 1;
}

/* A digit of a bound stream: the signalling owner matches the call's
 * on-demand sequences (authoritative: spans, index). This worker matches the
 * stream's own digits too and applies the change at once, so the boundary is
 * the digit's packet, not the moment the hint is read. */
static void
ondemand_digit(struct cr_worker *w, struct cr_stream *s, int64_t t)
{
	struct cr_engine *e = w->e;
	if (!s->bound || s->n_dtmf == 0)
		return;
	char d = s->dtmf[s->n_dtmf - 1].digit;
	int a = cr_rec_dtmf_match(s->dtmf_hist, d, e->cfg.dtmf_seq);
	if (a) {
		int st = cr_rec_state_get(e, s->call_uid);
		int ondemand = st < 0 || (st & CR_REC_ST_ONDEMAND);
		int stopped = st >= 0 && (st & CR_REC_ST_STOP);
		/* refused, or a resume that does not end a stop: nothing here */
		if (ondemand && !(a == CR_REC_RESUME && stopped))
			cr_rec_state_set(e, s->call_uid, a == CR_REC_START || a == CR_REC_RESUME,
					 a == CR_REC_STOP, 1);
	}
	/* never wait here: the owner may be waiting for this worker (offline sync) */
	struct cr_activity act = {s->call_uid, t, d};
	if (rte_ring_sp_enqueue_elem(w->act, &act, sizeof(act)) != 0)
		w->digits_lost++;
}

/* A packet of a burst between the phases of burst_run(). */
struct wpkt {
	struct cr_stream_key k;
	struct cr_rtp_hdr h;
	const uint8_t *pl; /* UDP payload */
	int64_t t;
	int kind;	   /* WP_* */
};
enum { WP_DONE = 0, WP_RTP, WP_RTCP };

/* Phase 1: parse, classify, the stream key. WP_DONE: counted, nothing more. */
static int
pkt_prepare(struct cr_worker *w, struct rte_mbuf *m, struct wpkt *wp)
{
	struct cr_engine *e = w->e;
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_pkt_len(m);
	if (m->nb_segs > 1) { /* reassembled fragments */
		if (len > 65535)
			len = 65535;
		data = rte_pktmbuf_read(m, 0, (uint32_t)len, w->scratch);
	}
	wp->t = cr_mbuf_time(e, m);
	struct cr_pkt p;
	const struct cr_l4info *li = RTE_MBUF_DYNFIELD(m, e->l4_off, const struct cr_l4info *);
	memset(&wp->k, 0, sizeof(wp->k));
	if (likely(li->valid)) {
		/* the RX lcore parsed it: addresses and ports from known offsets */
		const uint8_t *ip = data + li->l3_off, *udp = data + li->payload_off - 8;
		if (li->ip_ver == 4) {
			cr_addr_set_v4(&wp->k.src, ip + 12);
			cr_addr_set_v4(&wp->k.dst, ip + 16);
		} else {
			memcpy(wp->k.src.b, ip + 8, 16);
			memcpy(wp->k.dst.b, ip + 24, 16);
		}
		p.sport = (uint16_t)(udp[0] << 8 | udp[1]);
		p.dport = (uint16_t)(udp[2] << 8 | udp[3]);
		p.payload_off = li->payload_off;
		p.payload_len = li->payload_len;
	} else {
		int link = e->cfg.ports[m->hash.usr].linktype;
		if (cr_pkt_parse(data, len, link, &p) != 0 || p.l4_proto != IPPROTO_UDP) {
			w->fate[CR_FATE_BAD_L2_L4]++; /* RX parsed it already: cannot happen */
			return WP_DONE;
		}
		wp->k.src = p.src;
		wp->k.dst = p.dst;
	}
	const uint8_t *pl = data + p.payload_off;
	wp->pl = pl;
	if (cr_rtcp_looks_like(pl, p.payload_len)) {
		struct cr_rtcp_info ri;
		if (cr_rtcp_parse(pl, p.payload_len, &ri) != 0) {
			w->fate[CR_FATE_UDP_OTHER]++;
			return WP_DONE;
		}
		w->fate[CR_FATE_RTCP]++;
		/* attributed to the RTP stream of the same sender SSRC */
		wp->k.sport = (uint16_t)(p.sport - 1);
		wp->k.dport = (uint16_t)(p.dport - 1);
		wp->k.ssrc = ri.ssrc;
		return WP_RTCP;
	}
	if (!cr_rtp_looks_like(pl, p.payload_len)) {
		w->fate[CR_FATE_UDP_OTHER]++;
		return WP_DONE;
	}
	if (cr_rtp_parse(pl, p.payload_len, &wp->h) != 0) {
		w->fate[CR_FATE_RTP_BAD]++;
		return WP_DONE;
	}
	wp->k.sport = p.sport;
	wp->k.dport = p.dport;
	wp->k.ssrc = wp->h.ssrc;
	return WP_RTP;
}

static void
pkt_rtcp(struct cr_worker *w, const struct wpkt *wp, int32_t idx)
{
	void *d;
	if (idx < 0 && rte_hash_lookup_data(w->streams, &wp->k, &d) >= 0)
		idx = (int32_t)(uintptr_t)d;
	if (idx >= 0)
		w->pool[idx].rtcp_packets++;
}

/* Phase 3: one RTP packet, its stream found by the bulk lookup (or -1). */
static void
pkt_rtp(struct cr_worker *w, struct wpkt *wp, int32_t idx)
{
	struct cr_engine *e = w->e;
	const struct cr_stream_key *k = &wp->k; /* padding zeroed: hashed as bytes */
	struct cr_rtp_hdr h = wp->h;
	const uint8_t *pl = wp->pl;
	int64_t t = wp->t;
	void *d;
	struct cr_stream *s;
	if (idx >= 0) {
		s = &w->pool[idx];
	} else if (rte_hash_lookup_data(w->streams, k, &d) >= 0) {
		s = &w->pool[(uintptr_t)d]; /* created by a packet earlier in the burst */
	} else {
		if (w->n_free == 0) {
			w->fate[CR_FATE_STREAM_TABLE_FULL]++;
			return;
		}
		uint32_t i = w->free_idx[--w->n_free];
		s = &w->pool[i];
		memset(s, 0, sizeof(*s));
		s->key = *k;
		s->uid = ++w->next_uid;
		s->main_pt = 255;
		s->last_report_ns = t;
		cr_rtp_stats_init(&s->st);
		if (rte_hash_add_key_data(w->streams, k, (void *)(uintptr_t)i) < 0) {
			w->free_idx[w->n_free++] = i;
			w->fate[CR_FATE_STREAM_TABLE_FULL]++;
			return;
		}
		s->live_pos = w->n_live;
		w->live[w->n_live++] = i;
	}
	/* RTP may precede its SDP: keep trying to bind, every 8th packet */
	if (!s->bound && (s->bind_tries++ & 7) == 0)
		cr_media_lookup(e, k, t, s);

	struct cr_rtp_pkt_meta meta = {.t_ns = t};
	const struct cr_media_pt *mp = pt_lookup(s, h.pt);
	if (mp == NULL && s->bound && h.pt >= 96 &&
	    !(s->pt_asked[h.pt >> 6 & 1] & (1ULL << (h.pt & 63)))) {
		/* a PT a later offer/answer introduced (re-INVITE): ask once */
		s->pt_asked[h.pt >> 6 & 1] |= 1ULL << (h.pt & 63);
		cr_media_lookup(e, k, t, s);
		mp = pt_lookup(s, h.pt);
	}
	int is_event = mp && mp->kind == CR_PT_EVENT;
	if (h.pt < 96)
		meta.clock_rate = cr_rtp_static_clock(h.pt);
	else if (mp && !is_event)
		meta.clock_rate = mp->clock_rate;
	meta.is_cn = h.pt == 13 || h.pt == 19 || (mp && mp->kind == CR_PT_CN);
	if (is_event && dtmf_event(s, &h, pl + h.hdr_len, t, mp->clock_rate ? mp->clock_rate : 8000))
		ondemand_digit(w, s, t);
	else if (!meta.is_cn && s->main_pt == 255)
		s->main_pt = h.pt;
	cr_rtp_stats_update(&s->st, &h, &meta);
	if (meta.clock_rate && !meta.is_cn) {
		cr_jb_update(&s->jb, h.ts, t, meta.clock_rate, CR_JB_MS);
		/* every 4th packet is sample enough for a percentage */
		int sil = (h.seq & 3) ? -1 : cr_g711_silent(h.pt, pl + h.hdr_len, h.payload_len);
		if (sil >= 0) {
			s->g711_pkts++;
			s->silent_pkts += (uint32_t)sil;
		}
	}
	s->dirty = 1;
	int rs = s->bound ? cr_rec_state_get(e, s->call_uid) : -1;
	if (s->skip && rs < 0 && e->cfg.lookback_ns) {
		/* skipped by the policy, but it may be started on demand: kept in
		 * memory (look-back), counted NOT_RECORDED until then */
		if (!s->held) {
			s->held = 1;
			if (s->cw_open) { /* RTP from before binding, counted recorded */
				w->fate[CR_FATE_RTP] -= s->cw.n_pkts;
				w->fate[CR_FATE_NOT_RECORDED] += s->cw.n_pkts;
				s->cw_held = s->cw.n_pkts;
			}
		}
		w->fate[CR_FATE_NOT_RECORDED]++;
		if (cr_store_pkt(w, s, &h, pl, t) == 0)
			s->cw_held++;
		return;
	}
	if (s->held)
		cr_lookback_release(w, s, rs >= 0 && (rs & 1), t);
	if (rs >= 0 ? !(rs & 1) : s->skip) {
		/* the policy skips its call (no audio, and none from before its
		 * binding either), or it is stopped or paused on demand (what was
		 * recorded before stays: the open chunk is kept) */
		if (s->skip && !s->od_rec && s->cw_open) {
			s->cw_open = 0;
			w->fate[CR_FATE_RTP] -= s->cw.n_pkts;
			w->fate[CR_FATE_NOT_RECORDED] += s->cw.n_pkts;
		}
		w->fate[CR_FATE_NOT_RECORDED]++;
		return;
	}
	s->od_rec |= s->skip; /* recorded although the policy skips: started on demand */
	w->fate[CR_FATE_RTP]++;
	cr_store_pkt(w, s, &h, pl, t);
}

/* Phase 3 of a prepared packet; idx: its stream slot if the lookup found it */
static void
pkt_process(struct cr_worker *w, struct wpkt *wp, int32_t idx)
{
	if (wp->kind == WP_RTP)
		pkt_rtp(w, wp, idx);
	else if (wp->kind == WP_RTCP)
		pkt_rtcp(w, wp, idx);
}

/* The packets of a burst up to the next tick: parsed, their streams looked
 * up together (rte_hash's bulk lookup pipelines the bucket reads) and
 * prefetched, then processed in order. With tens of thousands of streams a
 * worker's state does not fit in cache: this hides the misses. */
static void
burst_run(struct cr_worker *w, struct rte_mbuf **ms, unsigned n)
{
	struct wpkt wp[BURST];
	const void *keys[BURST];
	void *data[BURST];
	uint8_t key_pkt[BURST];
	unsigned nk = 0;
	/* the RX lcore wrote these on another core: start every miss at once
	 * (the second mbuf line holds the parse result and packet time) */
	for (unsigned i = 0; i < n; i++) {
		rte_prefetch0(RTE_PTR_ADD(ms[i], RTE_CACHE_LINE_SIZE));
		rte_prefetch0(rte_pktmbuf_mtod(ms[i], void *));
	}
	for (unsigned i = 0; i < n; i++) {
		if (ms[i]->nb_segs > 1) {
			/* the scratch buffer holds one packet at a time */
			wp[i].kind = WP_DONE;
			continue;
		}
		wp[i].kind = pkt_prepare(w, ms[i], &wp[i]);
		if (wp[i].kind != WP_DONE) {
			key_pkt[nk] = (uint8_t)i;
			keys[nk++] = &wp[i].k;
			/* the rest of the payload, copied into the chunk in the last
			 * phase (its first line came with the headers) */
			const uint8_t *p = RTE_PTR_ALIGN_FLOOR(wp[i].pl, RTE_CACHE_LINE_SIZE);
			const uint8_t *end = wp[i].pl + (wp[i].kind == WP_RTP
							     ? wp[i].h.hdr_len + wp[i].h.payload_len
							     : 0);
			for (p += RTE_CACHE_LINE_SIZE; p < end; p += RTE_CACHE_LINE_SIZE)
				rte_prefetch0(p);
		}
	}
	uint64_t hits = 0;
	if (nk && rte_hash_lookup_bulk_data(w->streams, keys, nk, &hits, data) > 0) {
		/* line by line across the burst: every first line (the chunk
		 * writer's position, read next) is asked for before any other */
		for (unsigned l = 0; l < CR_STREAM_HOT_LINES; l++)
			for (unsigned j = 0; j < nk; j++)
				if (hits >> j & 1)
					rte_prefetch0((const uint8_t *)&w->pool[(uintptr_t)data[j]] +
						      l * RTE_CACHE_LINE_SIZE);
		/* where each packet goes in its stream's chunk buffer: 30,000
		 * streams write to 30,000 places, each cold for every packet.
		 * Fetched for writing now, the copy does not wait for them one
		 * after the other (the first line of each stream is arriving) */
		for (unsigned j = 0; j < nk; j++) {
			if (!(hits >> j & 1))
				continue;
			const struct cr_stream *s = &w->pool[(uintptr_t)data[j]];
			if (!s->cw_open || wp[key_pkt[j]].kind != WP_RTP)
				continue;
			const uint8_t *p = s->cw.buf + s->cw.len;
			const uint8_t *end = p + CR_CHUNK_REC_HDR + wp[key_pkt[j]].h.payload_len;
			if (end > s->cw.buf + s->cw.cap)
				end = s->cw.buf + s->cw.cap;
			for (p = RTE_PTR_ALIGN_FLOOR(p, RTE_CACHE_LINE_SIZE); p < end;
			     p += RTE_CACHE_LINE_SIZE)
				__builtin_prefetch(p, 1, 3); /* rte_prefetch0_write: experimental in 22.11 */
		}
	}
	unsigned j = 0;
	for (unsigned i = 0; i < n; i++) {
		w->rx++;
		if (ms[i]->nb_segs > 1) {
			struct wpkt one;
			one.kind = pkt_prepare(w, ms[i], &one);
			pkt_process(w, &one, -1);
		} else if (wp[i].kind != WP_DONE) {
			/* a stream created by an earlier packet of this burst is
			 * looked up again in pkt_rtp (a miss here) */
			pkt_process(w, &wp[i], (hits >> j & 1) ? (int32_t)(uintptr_t)data[j] : -1);
			j++;
		}
	}
	cr_capin_free_bulk(ms, n);
}

/* Run to completion: this worker's queue of every port. Media is processed
 * here; what the signalling owner needs goes to it (a full ring drops and
 * counts RING_FULL: the owner is behind). @return packets received */
static unsigned
poll_queues(struct cr_worker *w)
{
	struct cr_engine *e = w->e;
	struct rte_mbuf *pkts[BURST], *local[BURST];
	unsigned total = 0;
	for (unsigned pi = 0; pi < e->cfg.n_ports; pi++) {
		uint16_t n = rte_eth_rx_burst(e->cfg.ports[pi].port_id, (uint16_t)w->id, pkts, BURST);
		if (n == 0)
			continue;
		total += n;
		__atomic_store_n(&w->nic_rx, w->nic_rx + n, __ATOMIC_RELAXED);
		int64_t now = e->cfg.ports[pi].ts_mode == CR_TS_LIVE ? cr_live_now() : 0;
		unsigned nl = 0, nm = 0;
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			cr_rx_stamp(e, m, pi, now);
			if (cr_rx_media_local(e, m))
				local[nl++] = m;
			else
				pkts[nm++] = m; /* for the main lcore: pkts[0..i) are free */
		}
		unsigned sent = nm ? rte_ring_sp_enqueue_burst(w->to_main, (void **)pkts, nm, NULL) : 0;
		if (sent < nm) {
			w->fate[CR_FATE_RING_FULL] += nm - sent;
			rte_pktmbuf_free_bulk(pkts + sent, nm - sent);
		}
		if (nl)
			burst_run(w, local, nl);
	}
	return total;
}

/* what a worker does before its first packet, on the thread that runs it */
void
cr_worker_start(struct cr_worker *w)
{
	struct cr_engine *e = w->e;
	w->lcore = rte_lcore_id();
	w->cpu0 = cr_thread_cpu_ns();
	rte_rcu_qsbr_thread_register(e->qsbr, w->id);
	rte_rcu_qsbr_thread_online(e->qsbr, w->id);
}

/* ring entries (packets, ticks) in order: packets in runs of up to a burst
 * between ticks, since a tick may end streams */
void
cr_worker_consume(struct cr_worker *w, void **objs, unsigned n)
{
	for (unsigned i = 0; i < n;) {
		if (cr_is_tick(objs[i])) {
			__atomic_store_n(&w->now_ns, cr_tick_decode(objs[i]), __ATOMIC_RELEASE);
			on_tick(w, 0);
			i++;
			continue;
		}
		unsigned j = i;
		while (j < n && j - i < BURST && !cr_is_tick(objs[j]))
			j++;
		burst_run(w, (struct rte_mbuf **)&objs[i], j - i);
		i = j;
	}
	__atomic_store_n(&w->done_objs, w->done_objs + n, __ATOMIC_RELEASE);
	rte_rcu_qsbr_quiescent(w->e->qsbr, w->id);
}

/* the last tick (every stream reported) and the thread's leave */
void
cr_worker_finish(struct cr_worker *w)
{
	struct cr_engine *e = w->e;
	on_tick(w, 1);
	w->cpu_ns = cr_thread_cpu_ns() - w->cpu0;
	__atomic_store_n(&w->now_ns, INT64_MAX, __ATOMIC_RELEASE);
	rte_rcu_qsbr_thread_offline(e->qsbr, w->id);
	rte_rcu_qsbr_thread_unregister(e->qsbr, w->id);
}

int
cr_worker_main(void *arg)
{
	struct cr_worker *w = arg;
	struct cr_engine *e = w->e;
	void *objs[BURST];
	unsigned idle = 0;
	cr_worker_start(w);
	for (;;) {
		uint64_t t0 = rte_rdtsc();
		unsigned n = rte_ring_dequeue_burst(w->ring, objs, BURST, NULL), n_nic = 0;
		if (e->rss && !__atomic_load_n(&e->rx_stop, __ATOMIC_ACQUIRE)) {
			n_nic = poll_queues(w);
		} else if (e->rss && !w->rx_quiet) {
			/* the main lcore drains to_main once every worker stopped */
			__atomic_store_n(&w->rx_quiet, 1, __ATOMIC_RELEASE);
		}
		if (n_nic) {
			idle = 0;
			if (n == 0) {
				rte_rcu_qsbr_quiescent(e->qsbr, w->id);
				w->busy_cycles += rte_rdtsc() - t0;
				continue;
			}
		}
		if (n == 0) {
			rte_rcu_qsbr_quiescent(e->qsbr, w->id);
			if (__atomic_load_n(&e->eof, __ATOMIC_ACQUIRE) && rte_ring_empty(w->ring))
				break;
			/* Offline imports share cores with the RX thread: yield when
			 * idle, until the RX thread enqueues (cr_bell) */
			if (e->cfg.offline && idle++ >= 64) {
				/* asleep it reads nothing: the media table's
				 * reclamation need not wait for it */
				rte_rcu_qsbr_thread_offline(e->qsbr, w->id);
				cr_bell_idle(&w->bell, 20);
				rte_rcu_qsbr_thread_online(e->qsbr, w->id);
			} else {
				rte_pause();
			}
			w->idle_cycles += rte_rdtsc() - t0;
			continue;
		}
		idle = 0;
		cr_worker_consume(w, objs, n);
		w->busy_cycles += rte_rdtsc() - t0;
	}
	cr_worker_finish(w);
	return 0;
}
