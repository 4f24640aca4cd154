/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_store.h"

#include <errno.h>
#include <pthread.h>
#include <lz4.h>
#include <string.h>

#include <rte_hash_crc.h>

#ifdef __SSE4_2__
#include <immintrin.h>
/* One crc32 instruction waits for the previous one (3 cycles for 8 bytes):
 * three lanes of CRC_LANE bytes run interleaved and are joined with
 * crc(A||B) = crc(A) * x^(8|B|) ^ crc0(B) over GF(2) (the register CRC is
 * linear). A block's CRC was 8 % of a worker's time at 30,000 streams. */
#define CRC_LANE 2048
#define CRC32C_POLY 0x82f63b78u /* reflected */

/* a * b mod P, reflected (bit 31 is x^0) */
static uint32_t
gf2_mulmod(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;
	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

/* x^(8 * CRC_LANE) mod P, reflected (x^(2^14): x squared 14 times with
 * gf2_mulmod; test_store checks every lane join against the byte-wise CRC) */
#define CRC_LANE_SHIFT 0x0d65762au

/* x^n mod P, reflected */
static uint32_t
gf2_xpow(uint64_t n)
{
	uint32_t r = 1u << 31, sq = 1u << 30; /* x^0, x^1 */
	for (; n; n >>= 1) {
		if (n & 1)
			r = gf2_mulmod(r, sq);
		sq = gf2_mulmod(sq, sq);
	}
	return r;
}

static uint32_t
crc_lanes(const uint8_t *b, size_t len, uint32_t init)
{
	while (len >= 3 * CRC_LANE) {
		const uint64_t *w = (const uint64_t *)(const void *)b;
		uint64_t c0 = init, c1 = 0, c2 = 0;
		for (unsigned i = 0; i < CRC_LANE / 8; i++) {
			c0 = _mm_crc32_u64(c0, w[i]);
			c1 = _mm_crc32_u64(c1, w[i + CRC_LANE / 8]);
			c2 = _mm_crc32_u64(c2, w[i + 2 * CRC_LANE / 8]);
		}
		const uint32_t k = CRC_LANE_SHIFT;
		init = gf2_mulmod(k, gf2_mulmod(k, (uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
		b += 3 * CRC_LANE;
		len -= 3 * CRC_LANE;
	}
	return rte_hash_crc(b, (uint32_t)len, init);
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * Carry-less multiply folding (VPCLMULQDQ on 256-bit registers: Ice Lake and
 * Zen 3 on; no AVX-512, so no frequency licence): about four times the crc32
 * instruction's 8 bytes a cycle (measured 24-32 GB/s against ~8). The data
 * is the polynomial M; a 128-bit piece X = H x^64 + L (H: its first 8 bytes)
 * that lies d bits before the next piece is replaced by
 * H (x^(d+63) mod P) x + L (x^(d-1) mod P) x, which is what PCLMULQDQ of the
 * bit-reflected halves with those constants yields (its product of reflected
 * operands comes out one bit up: the x). What remains is one 128-bit piece
 * congruent to M; crc32 over its 16 bytes from 0 gives M x^32 mod P. The
 * constants are computed with gf2_mulmod, not written down.
 */
#define CRC_FOLD_MIN 256

struct crc_fold_k {
	uint64_t k1024[2], k256[2], k128[2];
};
static struct crc_fold_k crc_k;
static int crc_fold_cpu; /* the CPU has it (crc_fold_init) */
static int crc_fold_off;      /* cr_crc32c_fold(0) */

static void
fold_const(uint64_t k[2], unsigned d)
{
	k[0] = (uint64_t)gf2_xpow(d + 63) << 32;
	k[1] = (uint64_t)gf2_xpow(d - 1) << 32;
}

__attribute__((target("avx2,pclmul,vpclmulqdq,sse4.2"))) static uint32_t
crc_fold(const uint8_t *b, size_t len, uint32_t init)
{
#define CRC_FOLD256(x, k, y)                                                                       \
	x = _mm256_xor_si256(_mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00),                \
					      _mm256_clmulepi64_epi128(x, k, 0x11)),               \
			     y)
#define CRC_FOLD128(x, k, y)                                                                       \
	x = _mm_xor_si128(                                                                         \
		_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), \
		y)
#define LD(o) _mm256_loadu_si256((const void *)(b + (o)))
	const __m128i k128 = _mm_loadu_si128((const void *)crc_k.k128);
	const __m256i k256 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)crc_k.k256));
	const __m256i k1024 =
		_mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)crc_k.k1024));
	/* the register's initial value adds to the first 4 bytes */
	__m256i x0 = _mm256_xor_si256(LD(0), _mm256_set_epi32(0, 0, 0, 0, 0, 0, 0, (int)init));
	__m256i x1 = LD(32), x2 = LD(64), x3 = LD(96);
	b += 128;
	len -= 128;
	for (; len >= 128; b += 128, len -= 128) {
		CRC_FOLD256(x0, k1024, LD(0));
		CRC_FOLD256(x1, k1024, LD(32));
		CRC_FOLD256(x2, k1024, LD(64));
		CRC_FOLD256(x3, k1024, LD(96));
	}
	CRC_FOLD256(x0, k256, x1);
	CRC_FOLD256(x0, k256, x2);
	CRC_FOLD256(x0, k256, x3);
	for (; len >= 32; b += 32, len -= 32)
		CRC_FOLD256(x0, k256, LD(0));
	__m128i x = _mm256_castsi256_si128(x0);
	CRC_FOLD128(x, k128, _mm256_extracti128_si256(x0, 1));
	if (len >= 16) {
		CRC_FOLD128(x, k128, _mm_loadu_si128((const void *)b));
		b += 16;
		len -= 16;
	}
#undef LD
#undef CRC_FOLD128
#undef CRC_FOLD256
	uint32_t c = (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
	c = (uint32_t)_mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(x, 1));
	while (len--) /* under 16 bytes */
		c = rte_hash_crc_1byte(*b++, c);
	return c;
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_fold_init(void)
{
	__builtin_cpu_init();
	crc_fold_cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
		       __builtin_cpu_supports("vpclmulqdq");
	if (crc_fold_cpu) {
		fold_const(crc_k.k1024, 1024);
		fold_const(crc_k.k256, 256);
		fold_const(crc_k.k128, 128);
	}
}

static int
crc_fold_cpu_has(void)
{
	pthread_once(&crc_once, crc_fold_init);
	return crc_fold_cpu;
}
#endif
#endif

int
cr_crc32c_fold(int enable)
{
#if defined(__SSE4_2__) && defined(__x86_64__) && defined(__GNUC__)
	__atomic_store_n(&crc_fold_off, !enable, __ATOMIC_RELAXED);
	return crc_fold_cpu_has();
#else
	(void)enable;
	return 0;
#endif
}

uint32_t
cr_crc32c(const void *p, size_t len, uint32_t init)
{
	const uint8_t *b = p;
#ifdef __SSE4_2__
#if defined(__x86_64__) && defined(__GNUC__)
	if (len >= CRC_FOLD_MIN && crc_fold_cpu_has() &&
	    !__atomic_load_n(&crc_fold_off, __ATOMIC_RELAXED))
		return crc_fold(b, len, init);
#endif
	/* rte_hash_crc loads 8 bytes at a time: reach an aligned address first
	 * (blocks are sealed at any offset of the staging buffer) */
	while (len && ((uintptr_t)b & 7)) {
		init = rte_hash_crc_1byte(*b++, init);
		len--;
	}
	return crc_lanes(b, len, init);
#else
	return rte_hash_crc(b, (uint32_t)len, init);
#endif
}

static inline void
w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void
w32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void
w64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t
r16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t
r32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t
r64(const uint8_t *p)
{
	return (uint64_t)r32(p) | (uint64_t)r32(p + 4) << 32;
}

/* chunk header layout (80 bytes; readers honour a longer header length) */
#define CH_LEN 80
#define CH_VERSION 3
enum {
	CH_MAGIC = 0, CH_VER = 2, CH_HLEN = 3, CH_TOTAL = 4, CH_SUID = 8, CH_CUID = 16,
	CH_SRC = 24, CH_DST = 40, CH_SPORT = 56, CH_DPORT = 58, CH_SSRC = 60, CH_FSEQ = 64,
	CH_NPKT = 66, CH_FTS = 68, CH_FNS = 72,
};

static int
put_varint(uint8_t *p, uint8_t *end, uint64_t v)
{
	int n = 0;
	do {
		if (p + n >= end)
			return -1;
		uint8_t b = v & 0x7f;
		v >>= 7;
		p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
	return n;
}

static int
get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (int s = 0; s < 64; s += 7) {
		if (*pp >= end)
			return -1;
		uint8_t b = *(*pp)++;
		x |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static inline uint64_t
zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t
unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int
cr_chunk_begin(struct cr_chunk_writer *w, uint8_t *buf, uint32_t cap, const struct cr_chunk_hdr *h)
{
	if (cap < CH_LEN + 16)
		return -ENOSPC;
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->len = CH_LEN;
	memset(buf, 0, CH_LEN);
	w16(buf + CH_MAGIC, CR_CHUNK_MAGIC);
	buf[CH_VER] = CH_VERSION;
	buf[CH_HLEN] = CH_LEN;
	w64(buf + CH_SUID, h->stream_uid);
	w64(buf + CH_CUID, h->call_uid);
	memcpy(buf + CH_SRC, h->src.b, 16);
	memcpy(buf + CH_DST, h->dst.b, 16);
	w16(buf + CH_SPORT, h->sport);
	w16(buf + CH_DPORT, h->dport);
	w32(buf + CH_SSRC, h->ssrc);
	return 0;
}

int
cr_chunk_trim(uint8_t *chunk, uint32_t len, int64_t from_ns, uint8_t *scratch, uint32_t cap)
{
	struct cr_chunk_reader rd;
	if (cr_chunk_open(&rd, chunk, len) <= 0 || cap < len)
		return -EINVAL;
	struct cr_chunk_writer w;
	struct cr_chunk_hdr h = rd.h;
	if (cr_chunk_begin(&w, scratch, cap, &h) != 0)
		return -ENOSPC;
	struct cr_frame f;
	int r, kept = 0;
	while ((r = cr_chunk_next(&rd, &f)) == 1) {
		if (f.t_ns < from_ns)
			continue;
		/* a kept tail is never larger than the whole: add cannot run out */
		if (cr_chunk_add(&w, f.seq, f.ts, f.t_ns, f.marker, f.pt, f.payload, f.plen) != 0)
			return -ENOSPC;
		kept++;
	}
	if (r < 0)
		return -EINVAL;
	if (kept == 0)
		return 0;
	uint32_t nl = cr_chunk_finish(&w);
	memcpy(chunk, scratch, nl);
	return (int)nl;
}

/*
 * Packet record. The common packet (seq + 1, same timestamp step, PT and
 * length, no marker) is one or two bytes holding only the change of the
 * inter-arrival gap, which is all a steady stream leaves to store:
 *   0xxxxxxx            common, gap change zz7 (-64..63 us)
 *   10xxxxxx xxxxxxxx   common, gap change zz14 (-8192..8191 us), high bits first
 *   110MSDPL            other: marker, then which fields repeat (seq+1, ts
 *                       step, PT, length); then PT byte, zz varints of seq and
 *                       ts deltas, length varint, gap change zz varint
 * then the payload bytes. The first packet of a chunk is always 110....
 */
#define PF_LONG 0xC0
#define PF_MARKER 0x10
#define PF_SEQ1 0x08 /* seq = previous + 1 */
#define PF_DTS 0x04  /* ts step = previous step */
#define PF_PT 0x02   /* same payload type */
#define PF_LEN 0x01  /* same payload length */
#define PF_COMMON (PF_SEQ1 | PF_DTS | PF_PT | PF_LEN)
#define MAX_GAP_US (1LL << 40)

int
cr_chunk_add(struct cr_chunk_writer *w, uint16_t seq, uint32_t ts, int64_t t_ns, uint8_t marker,
	     uint8_t pt, const uint8_t *payload, uint32_t plen)
{
	if (w->n_pkts == UINT16_MAX)
		return -ENOSPC;
	uint8_t *p = w->buf + w->len, *end = w->buf + w->cap;
	uint8_t fl = marker ? PF_MARKER : 0;
	int32_t dts = 0;
	int64_t dt_us = 0;
	uint64_t dgap = 0;
	if (w->n_pkts == 0) {
		w16(w->buf + CH_FSEQ, seq);
		w32(w->buf + CH_FTS, ts);
		w64(w->buf + CH_FNS, (uint64_t)t_ns);
		w->first_ns = t_ns;
		fl |= PF_SEQ1 | PF_DTS; /* first packet: nothing to encode but pt/len */
	} else {
		dts = (int32_t)(ts - w->last_ts);
		dt_us = (t_ns - w->last_ns) / 1000; /* microseconds: what captures carry */
		if (dt_us > MAX_GAP_US || dt_us < -MAX_GAP_US ||
		    dt_us - w->last_dt_us > MAX_GAP_US || dt_us - w->last_dt_us < -MAX_GAP_US)
			return -ENOSPC; /* a clock jump: the packet starts a new chunk */
		dgap = zz(dt_us - w->last_dt_us);
		if ((uint16_t)(w->last_seq + 1) == seq)
			fl |= PF_SEQ1;
		if (dts == w->last_dts)
			fl |= PF_DTS;
		if (pt == w->last_pt)
			fl |= PF_PT;
		if (plen == w->last_plen)
			fl |= PF_LEN;
	}
	int n = 0, k;
	if (p + 2 > end)
		return -ENOSPC;
	if (w->n_pkts && fl == PF_COMMON && dgap < 0x80) {
		p[n++] = (uint8_t)dgap;
	} else if (w->n_pkts && fl == PF_COMMON && dgap < 0x4000) {
		p[n++] = (uint8_t)(0x80 | dgap >> 8);
		p[n++] = (uint8_t)dgap;
	} else {
		p[n++] = PF_LONG | fl;
		if (!(fl & PF_PT))
			p[n++] = pt & 0x7f;
		if (!(fl & PF_SEQ1)) {
			if ((k = put_varint(p + n, end, zz((int16_t)(seq - w->last_seq)))) < 0)
				return -ENOSPC;
			n += k;
		}
		if (!(fl & PF_DTS)) {
			if ((k = put_varint(p + n, end, zz(dts))) < 0)
				return -ENOSPC;
			n += k;
		}
		if (!(fl & PF_LEN)) {
			if ((k = put_varint(p + n, end, plen)) < 0)
				return -ENOSPC;
			n += k;
		}
		if (w->n_pkts) {
			if ((k = put_varint(p + n, end, dgap)) < 0)
				return -ENOSPC;
			n += k;
		}
	}
	if (p + n + plen > end)
		return -ENOSPC;
	memcpy(p + n, payload, plen);
	w->len += (uint32_t)n + plen;
	w->last_seq = seq;
	w->last_ts = ts;
	w->last_pt = pt;
	w->last_plen = plen;
	if (w->n_pkts) {
		w->last_dts = dts;
		w->last_dt_us = dt_us;
		/* keep the rounding of the stored delta so reads reproduce times exactly */
		w->last_ns += dt_us * 1000;
	} else {
		w->last_ns = t_ns;
	}
	w->n_pkts++;
	return 0;
}

void
cr_chunk_set_call(struct cr_chunk_writer *w, uint64_t call_uid)
{
	w64(w->buf + CH_CUID, call_uid);
}

void
cr_chunk_set_call_raw(uint8_t *chunk, uint64_t call_uid)
{
	w64(chunk + CH_CUID, call_uid);
}

uint32_t
cr_chunk_finish(struct cr_chunk_writer *w)
{
	w16(w->buf + CH_NPKT, w->n_pkts);
	w32(w->buf + CH_TOTAL, w->len);
	return w->len;
}

int
cr_chunk_open(struct cr_chunk_reader *r, const uint8_t *b, size_t len)
{
	memset(r, 0, sizeof(*r));
	if (len < CH_LEN || r16(b + CH_MAGIC) != CR_CHUNK_MAGIC || b[CH_VER] != CH_VERSION ||
	    b[CH_HLEN] < CH_LEN)
		return -EINVAL;
	uint32_t total = r32(b + CH_TOTAL);
	if (total < b[CH_HLEN] || total > len)
		return -EINVAL;
	struct cr_chunk_hdr *h = &r->h;
	h->stream_uid = r64(b + CH_SUID);
	h->call_uid = r64(b + CH_CUID);
	memcpy(h->src.b, b + CH_SRC, 16);
	memcpy(h->dst.b, b + CH_DST, 16);
	h->sport = r16(b + CH_SPORT);
	h->dport = r16(b + CH_DPORT);
	h->ssrc = r32(b + CH_SSRC);
	h->first_seq = r16(b + CH_FSEQ);
	h->n_pkts = r16(b + CH_NPKT);
	h->first_ts = r32(b + CH_FTS);
	h->first_ns = (int64_t)r64(b + CH_FNS);
	h->len = total;
	r->p = b + b[CH_HLEN];
	r->end = b + total;
	r->left = h->n_pkts;
	r->cur.seq = h->first_seq;
	r->cur.ts = h->first_ts;
	r->cur.t_ns = h->first_ns;
	return (int)total;
}

int
cr_chunk_next(struct cr_chunk_reader *r, struct cr_frame *f)
{
	if (r->left == 0)
		return 0;
	if (r->p >= r->end)
		return -EINVAL;
	int first = r->left == r->h.n_pkts;
	uint8_t b = *r->p++;
	uint8_t fl;
	uint64_t v, dgap = 0;
	if ((b & PF_LONG) != PF_LONG) {
		if (first)
			return -EINVAL;
		fl = PF_COMMON;
		dgap = b;
		if (b & 0x80) {
			if (r->p >= r->end)
				return -EINVAL;
			dgap = (uint64_t)(b & 0x3f) << 8 | *r->p++;
		}
	} else {
		fl = b & 0x3f;
		if (fl & 0x20)
			return -EINVAL; /* reserved bit */
	}
	if (!(fl & PF_PT)) {
		if (r->p >= r->end)
			return -EINVAL;
		r->cur.pt = *r->p++ & 0x7f;
	} else if (first) {
		return -EINVAL;
	}
	if (!(fl & PF_SEQ1)) {
		if (first || get_varint(&r->p, r->end, &v))
			return -EINVAL;
		r->cur.seq = (uint16_t)(r->cur.seq + unzz(v));
	} else if (!first) {
		r->cur.seq++;
	}
	int32_t dts = r->last_dts;
	if (!(fl & PF_DTS)) {
		if (first || get_varint(&r->p, r->end, &v))
			return -EINVAL;
		dts = (int32_t)unzz(v);
	}
	if (!(fl & PF_LEN)) {
		if (get_varint(&r->p, r->end, &v) || v > (uint64_t)(r->end - r->p))
			return -EINVAL;
		r->cur.plen = (uint32_t)v;
	} else if (first) {
		return -EINVAL;
	}
	if (!first) {
		if ((b & PF_LONG) == PF_LONG && get_varint(&r->p, r->end, &dgap))
			return -EINVAL;
		/* a gap beyond ~12 days is no stream's: damaged (and no overflow) */
		int64_t g = unzz(dgap);
		if (g > MAX_GAP_US || g < -MAX_GAP_US)
			return -EINVAL;
		int64_t dt = r->last_dt_us + g;
		if (dt > MAX_GAP_US || dt < -MAX_GAP_US)
			return -EINVAL;
		r->cur.ts += (uint32_t)dts;
		r->cur.t_ns = (int64_t)((uint64_t)r->cur.t_ns + (uint64_t)(dt * 1000));
		r->last_dts = dts;
		r->last_dt_us = dt;
	}
	if (r->cur.plen > (uint32_t)(r->end - r->p))
		return -EINVAL;
	r->cur.marker = (fl & PF_MARKER) != 0;
	r->cur.payload = r->p;
	r->p += r->cur.plen;
	r->left--;
	*f = r->cur;
	return 1;
}

uint32_t
cr_block_bound(uint32_t raw_len)
{
	return CR_BLOCK_HDR_LEN + (uint32_t)LZ4_compressBound((int)raw_len);
}

/* header: magic(4) len(4) raw_len(4) crc(4) n_chunks(2) flags(2) reserved(4);
 * the CRC covers the header with crc=0, then the payload. Flag BF_STORED: the
 * payload is the raw chunks, because lz4 could not make them smaller (Opus,
 * G.729, encrypted-looking payloads): saves lz4's expansion on such data. */
#define BF_STORED 0x0001
#define BF_ENC 0x0002 /* AES-256-GCM: payload encrypted, 16-byte tag after it */

int
cr_block_encode(const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks, uint8_t *out,
		uint32_t out_cap)
{
	return cr_block_encode_x(raw, raw_len, n_chunks, out, out_cap, 1);
}

/* the CRC of a block of tot bytes: its header with crc=0, then its payload */
static void
block_set_crc(uint8_t *b, uint32_t tot)
{
	w32(b + 12, 0);
	uint32_t crc = cr_crc32c(b, CR_BLOCK_HDR_LEN, 0);
	w32(b + 12, cr_crc32c(b + CR_BLOCK_HDR_LEN, tot - CR_BLOCK_HDR_LEN, crc));
}

/* header of a block of c payload bytes at blk + CR_BLOCK_HDR_LEN */
static int
block_header(uint8_t *blk, uint32_t c, uint32_t raw_len, uint16_t n_chunks, uint16_t flags)
{
	memset(blk, 0, CR_BLOCK_HDR_LEN);
	w32(blk, CR_BLOCK_MAGIC);
	w32(blk + 4, c);
	w32(blk + 8, raw_len);
	w16(blk + 16, n_chunks);
	w16(blk + 18, flags);
	block_set_crc(blk, CR_BLOCK_HDR_LEN + c);
	return (int)(CR_BLOCK_HDR_LEN + c);
}

int
cr_block_compress(const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks, uint8_t *out,
		  uint32_t out_cap, int accel)
{
	if (out_cap < cr_block_bound(raw_len))
		return -ENOSPC;
	int c = LZ4_compress_fast((const char *)raw, (char *)out + CR_BLOCK_HDR_LEN, (int)raw_len,
				  (int)(out_cap - CR_BLOCK_HDR_LEN), accel > 0 ? accel : 1);
	if (c <= 0)
		return -ENOSPC;
	if ((uint32_t)c >= raw_len)
		return 0;
	return block_header(out, (uint32_t)c, raw_len, n_chunks, 0);
}

int
cr_block_seal_stored(uint8_t *blk, uint32_t raw_len, uint16_t n_chunks)
{
	return block_header(blk, raw_len, raw_len, n_chunks, BF_STORED);
}

int
cr_block_encode_x(const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks, uint8_t *out,
		  uint32_t out_cap, int accel)
{
	if (out_cap < cr_block_bound(raw_len))
		return -ENOSPC;
	int len = accel > 0 ? cr_block_compress(raw, raw_len, n_chunks, out, out_cap, accel) : 0;
	if (len != 0)
		return len;
	memcpy(out + CR_BLOCK_HDR_LEN, raw, raw_len);
	return cr_block_seal_stored(out, raw_len, n_chunks);
}

int
cr_block_peek(const uint8_t *b, size_t len, uint32_t *raw_len, uint16_t *n_chunks)
{
	if (len < CR_BLOCK_HDR_LEN || r32(b) != CR_BLOCK_MAGIC)
		return -EINVAL;
	uint32_t c = r32(b + 4), raw = r32(b + 8);
	uint16_t fl = r16(b + 18);
	if (c == 0 || c > (1u << 26) || raw > (1u << 26) || (fl & ~(BF_STORED | BF_ENC)) ||
	    ((fl & BF_ENC) && c < CR_GCM_TAG))
		return -EINVAL;
	if (raw_len)
		*raw_len = raw;
	if (n_chunks)
		*n_chunks = r16(b + 16);
	return (int)(CR_BLOCK_HDR_LEN + c);
}

int
cr_block_decode(const uint8_t *b, size_t len, uint8_t *out, uint32_t out_cap)
{
	uint32_t raw;
	int tot = cr_block_peek(b, len, &raw, NULL);
	if (tot < 0 || (size_t)tot > len)
		return -EINVAL;
	uint8_t hdr[CR_BLOCK_HDR_LEN];
	memcpy(hdr, b, sizeof(hdr));
	w32(hdr + 12, 0);
	uint32_t crc = cr_crc32c(hdr, sizeof(hdr), 0);
	crc = cr_crc32c(b + CR_BLOCK_HDR_LEN, (size_t)tot - CR_BLOCK_HDR_LEN, crc);
	if (crc != r32(b + 12))
		return -EBADMSG;
	if (r16(b + 18) & BF_ENC)
		return -ENOKEY; /* cr_block_unseal first */
	if (raw > out_cap)
		return -ENOSPC;
	if (r16(b + 18) & BF_STORED) {
		if ((uint32_t)tot - CR_BLOCK_HDR_LEN != raw)
			return -EINVAL;
		memcpy(out, b + CR_BLOCK_HDR_LEN, raw);
		return (int)raw;
	}
	int d = LZ4_decompress_safe((const char *)b + CR_BLOCK_HDR_LEN, (char *)out,
				    tot - CR_BLOCK_HDR_LEN, (int)out_cap);
	if (d < 0 || (uint32_t)d != raw)
		return -EINVAL;
	return d;
}

static int
block_crc_ok(const uint8_t *b, uint32_t tot)
{
	uint8_t hdr[CR_BLOCK_HDR_LEN];
	memcpy(hdr, b, sizeof(hdr));
	w32(hdr + 12, 0);
	uint32_t crc = cr_crc32c(hdr, sizeof(hdr), 0);
	return cr_crc32c(b + CR_BLOCK_HDR_LEN, tot - CR_BLOCK_HDR_LEN, crc) == r32(b + 12);
}

/* the nonce is the block's offset: unique within a segment, and a segment
 * has a data key of its own; the header (CRC zero) is associated data */
static void
block_nonce(uint8_t n[CR_GCM_NONCE], uint64_t off)
{
	memset(n, 0, CR_GCM_NONCE);
	w64(n, off);
}

int
cr_block_seal(uint8_t *b, uint32_t len, struct cr_dkey *dk, uint64_t off)
{
	int tot = cr_block_peek(b, len, NULL, NULL);
	if (tot < 0 || (uint32_t)tot != len || (r16(b + 18) & BF_ENC))
		return -EINVAL;
	uint32_t c = len - CR_BLOCK_HDR_LEN;
	w32(b + 4, c + CR_GCM_TAG);
	w16(b + 18, r16(b + 18) | BF_ENC);
	w32(b + 12, 0);
	uint8_t n[CR_GCM_NONCE];
	block_nonce(n, off);
	int r = cr_gcm_seal(dk, n, b, CR_BLOCK_HDR_LEN, b + CR_BLOCK_HDR_LEN, c, b + len);
	if (r != 0)
		return r;
	block_set_crc(b, len + CR_GCM_TAG);
	return (int)(len + CR_GCM_TAG);
}

int
cr_block_unseal(uint8_t *b, size_t len, struct cr_dkey *dk, uint64_t off)
{
	int tot = cr_block_peek(b, len, NULL, NULL);
	if (tot < 0 || (size_t)tot > len)
		return -EINVAL;
	if (!(r16(b + 18) & BF_ENC))
		return tot;
	if (!block_crc_ok(b, (uint32_t)tot))
		return -EBADMSG;
	uint32_t c = (uint32_t)tot - CR_BLOCK_HDR_LEN - CR_GCM_TAG;
	uint8_t aad[CR_BLOCK_HDR_LEN], n[CR_GCM_NONCE];
	memcpy(aad, b, sizeof(aad));
	w32(aad + 12, 0);
	block_nonce(n, off);
	if (cr_gcm_open(dk, n, aad, sizeof(aad), b + CR_BLOCK_HDR_LEN, c, b + tot - CR_GCM_TAG))
		return -EKEYREJECTED;
	w32(b + 4, c);
	w16(b + 18, r16(b + 18) & ~BF_ENC);
	block_set_crc(b, c + CR_BLOCK_HDR_LEN);
	return (int)(c + CR_BLOCK_HDR_LEN);
}

int
cr_block_is_sealed(const uint8_t *b)
{
	return (r16(b + 18) & BF_ENC) != 0;
}

void
cr_seg_header(uint8_t out[CR_SEG_HDR_LEN], uint16_t worker, uint64_t seg_id, int64_t created_ns)
{
	cr_seg_header_x(out, worker, seg_id, created_ns, 0);
}

void
cr_seg_header_x(uint8_t out[CR_SEG_HDR_LEN], uint16_t worker, uint64_t seg_id, int64_t created_ns,
		int encrypted)
{
	memset(out, 0, CR_SEG_HDR_LEN);
	memcpy(out, CR_SEG_MAGIC, 8);
	w16(out + 8, 1); /* version */
	w16(out + 10, encrypted ? 1 : 0); /* flags: bit 0 = encrypted */
	w16(out + 12, worker);
	/* header length: key slots follow an encrypted segment's header */
	w16(out + 14, encrypted ? CR_SEG_HDR_ENC_LEN : CR_SEG_HDR_LEN);
	w64(out + 16, seg_id);
	w64(out + 24, (uint64_t)created_ns);
	w32(out + 60, cr_crc32c(out, 60, 0));
}

int
cr_seg_header_check(const uint8_t *in, size_t len)
{
	if (len < CR_SEG_HDR_LEN || memcmp(in, CR_SEG_MAGIC, 8) != 0)
		return -EINVAL;
	if (cr_crc32c(in, 60, 0) != r32(in + 60))
		return -EINVAL;
	uint16_t fl = r16(in + 10), hl = r16(in + 14);
	if (fl & ~1u)
		return -EINVAL;
	/* version-1 files written before the length field have 0 there */
	if ((fl & 1) ? hl != CR_SEG_HDR_ENC_LEN : (hl != 0 && hl != CR_SEG_HDR_LEN))
		return -EINVAL;
	return 0;
}

uint32_t
cr_seg_hdr_len(const uint8_t *hdr)
{
	return (r16(hdr + 10) & 1) ? CR_SEG_HDR_ENC_LEN : CR_SEG_HDR_LEN;
}

int
cr_seg_encrypted(const uint8_t *hdr)
{
	return r16(hdr + 10) & 1;
}

int
cr_meta_chunk_put(uint8_t *buf, size_t cap, const void *rec, uint32_t len)
{
	if (cap < CR_META_HDR_LEN || len > cap - CR_META_HDR_LEN)
		return -ENOSPC;
	w16(buf, CR_META_MAGIC);
	buf[2] = 1;
	buf[3] = CR_META_HDR_LEN;
	w32(buf + 4, CR_META_HDR_LEN + len);
	memcpy(buf + CR_META_HDR_LEN, rec, len);
	return (int)(CR_META_HDR_LEN + len);
}

int
cr_meta_chunk_open(const uint8_t *b, size_t len, const uint8_t **rec, uint32_t *rec_len)
{
	if (len < CR_META_HDR_LEN || r16(b) != CR_META_MAGIC || b[2] != 1 ||
	    b[3] < CR_META_HDR_LEN)
		return -EINVAL;
	uint32_t total = r32(b + 4);
	if (total < b[3] || total > len)
		return -EINVAL;
	*rec = b + b[3];
	*rec_len = total - b[3];
	return (int)total;
}

int
cr_chunk_kind(const uint8_t *b, size_t len)
{
	if (len < 2)
		return 0;
	return r16(b) == CR_CHUNK_MAGIC ? 1 : r16(b) == CR_META_MAGIC ? 2 : 0;
}
