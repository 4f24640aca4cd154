/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_export.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <opus/opusenc.h>

#include "cr_codec.h"
#include "cr_store.h"

#define MAX_GAP_CONCEAL_MS 120 /* longer gaps are silence (holds, DTX, loss bursts) */

struct frame {
	int64_t t_ns;
	int64_t ext_seq;
	uint32_t ts;
	uint8_t pt;
	uint32_t plen;
	uint8_t *payload;
};

struct stream_audio {
	struct cr_stream_rec rec;
	struct frame *f;
	uint32_t n, cap;
	uint8_t **blocks; /* decompressed blocks the frames point into */
	uint32_t n_blocks, cap_blocks;
	int16_t *pcm; /* at the codec's rate, from media start */
	uint64_t pcm_len, pcm_cap;
	uint32_t rate;
};

struct loader {
	const char *store;
	struct stream_audio *sa;
	char seg[96];
	int fd;
	uint64_t blk_off;
	uint8_t *raw;
	int raw_len;
	int err;
	char *msg;
	size_t msglen;
	int32_t last_seq;
	int64_t ext;
	struct cr_dkey dk; /* of the open segment, when encrypted */
	int enc;
};

static int
load_block(struct loader *L, const struct cr_chunk_rec *c)
{
	if (L->fd >= 0 && strcmp(L->seg, c->segment) == 0 && L->blk_off == c->block_off &&
	    L->raw_len > 0)
		return 0;
	if (L->fd < 0 || strcmp(L->seg, c->segment) != 0) {
		if (L->fd >= 0)
			close(L->fd);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", L->store, c->segment);
		L->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (L->fd < 0) {
			snprintf(L->msg, L->msglen, "cannot open segment %s", c->segment);
			return -EIO;
		}
		snprintf(L->seg, sizeof(L->seg), "%s", c->segment);
		if (L->enc)
			cr_dkey_wipe(&L->dk);
		L->enc = 0;
		uint8_t h[CR_SEG_HDR_ENC_LEN];
		ssize_t hn = pread(L->fd, h, sizeof(h), 0);
		if (hn < CR_SEG_HDR_LEN || cr_seg_header_check(h, (size_t)hn) != 0) {
			snprintf(L->msg, L->msglen, "%s: not a segment (bad header)", c->segment);
			close(L->fd);
			L->fd = -1;
			return -EBADMSG;
		}
		if (cr_seg_encrypted(h)) {
			int k = hn == (ssize_t)sizeof(h)
					? cr_seg_dkey(h, cr_store_keyring(), &L->dk, NULL)
					: -EINVAL;
			if (k != 0) {
				snprintf(L->msg, L->msglen, "%s: %s", c->segment,
					 k == -ENOKEY ? "encrypted, and no key given has the id of "
							"its master key (--key-file)"
						      : "encrypted, its key slots fail authentication "
							"(altered, or a wrong key)");
				close(L->fd);
				L->fd = -1;
				return -ENOKEY;
			}
			L->enc = 1;
		}
	}
	uint8_t hdr[CR_BLOCK_HDR_LEN];
	if (pread(L->fd, hdr, sizeof(hdr), (off_t)c->block_off) != (ssize_t)sizeof(hdr)) {
		snprintf(L->msg, L->msglen, "%s: block at %llu truncated", c->segment,
			 (unsigned long long)c->block_off);
		return -EIO;
	}
	uint32_t raw_len;
	int tot = cr_block_peek(hdr, sizeof(hdr), &raw_len, NULL);
	if (tot < 0) {
		snprintf(L->msg, L->msglen, "%s: no block at %llu", c->segment,
			 (unsigned long long)c->block_off);
		return -EBADMSG;
	}
	uint8_t *blk = malloc((size_t)tot);
	uint8_t *raw = malloc(raw_len ? raw_len : 1);
	struct stream_audio *sa = L->sa;
	if (sa->n_blocks == sa->cap_blocks) {
		uint32_t nc = sa->cap_blocks ? sa->cap_blocks * 2 : 16;
		uint8_t **nb = realloc(sa->blocks, nc * sizeof(*nb));
		if (nb) {
			sa->blocks = nb;
			sa->cap_blocks = nc;
		}
	}
	if (blk == NULL || raw == NULL || sa->n_blocks == sa->cap_blocks) {
		free(blk);
		free(raw);
		return -ENOMEM;
	}
	sa->blocks[sa->n_blocks++] = raw; /* owned by the stream from now on */
	L->raw = raw;
	if (pread(L->fd, blk, (size_t)tot, (off_t)c->block_off) != tot) {
		free(blk);
		snprintf(L->msg, L->msglen, "%s: block at %llu truncated", c->segment,
			 (unsigned long long)c->block_off);
		return -EIO;
	}
	int r = 0;
	if (cr_block_is_sealed(blk))
		r = L->enc ? cr_block_unseal(blk, (size_t)tot, &L->dk, c->block_off) : -EINVAL;
	if (r >= 0)
		r = cr_block_decode(blk, (size_t)tot, L->raw, raw_len);
	free(blk);
	if (r < 0) {
		snprintf(L->msg, L->msglen, "%s: block at %llu %s", c->segment,
			 (unsigned long long)c->block_off,
			 r == -EBADMSG	      ? "fails its CRC32C"
			 : r == -EKEYREJECTED ? "fails authentication (altered or moved)"
					      : "is malformed");
		return r;
	}
	L->raw_len = r;
	L->blk_off = c->block_off;
	return 0;
}

static int
on_chunk(void *ctx, const struct cr_chunk_rec *c)
{
	struct loader *L = ctx;
	int r = load_block(L, c);
	if (r != 0)
		return r;
	const uint8_t *p = L->raw, *end = L->raw + L->raw_len;
	struct cr_chunk_reader rd;
	for (uint32_t i = 0;; i++) {
		int n = cr_chunk_open(&rd, p, (size_t)(end - p));
		if (n <= 0) {
			snprintf(L->msg, L->msglen, "%s: chunk %u of block %llu missing", c->segment,
				 c->chunk_no, (unsigned long long)c->block_off);
			return -EBADMSG;
		}
		if (i == c->chunk_no)
			break;
		p += n;
	}
	struct stream_audio *sa = L->sa;
	struct cr_frame f;
	while ((r = cr_chunk_next(&rd, &f)) == 1) {
		if (sa->n == sa->cap) {
			uint32_t nc = sa->cap ? sa->cap * 2 : 1024;
			struct frame *nf = realloc(sa->f, nc * sizeof(*nf));
			if (nf == NULL)
				return -ENOMEM;
			sa->f = nf;
			sa->cap = nc;
		}
		struct frame *x = &sa->f[sa->n++];
		if (L->last_seq < 0)
			L->ext = f.seq;
		else
			L->ext += (int16_t)(f.seq - (uint16_t)L->last_seq);
		L->last_seq = f.seq;
		x->t_ns = f.t_ns;
		x->ext_seq = L->ext;
		x->ts = f.ts;
		x->pt = f.pt;
		x->plen = f.plen;
		x->payload = (uint8_t *)(uintptr_t)f.payload;
	}
	return r < 0 ? -EBADMSG : 0;
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;
	if (x->ext_seq != y->ext_seq)
		return x->ext_seq < y->ext_seq ? -1 : 1;
	return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

/* Grow the stream's PCM to at least len samples; new space is silence.
 * Capacity doubles, so a long call costs O(log n) reallocations. */
static int
ensure(struct stream_audio *sa, uint64_t len)
{
	if (len <= sa->pcm_len)
		return 0;
	if (len > sa->pcm_cap) {
		uint64_t cap = sa->pcm_cap ? sa->pcm_cap * 2 : 8000 * 60;
		while (cap < len)
			cap *= 2;
		int16_t *n = realloc(sa->pcm, cap * sizeof(int16_t));
		if (n == NULL)
			return -ENOMEM;
		memset(n + sa->pcm_cap, 0, (cap - sa->pcm_cap) * sizeof(int16_t));
		sa->pcm = n;
		sa->pcm_cap = cap;
	}
	sa->pcm_len = len;
	return 0;
}

/* Decode one stream onto its own timeline (samples at the codec rate since
 * media_start). Positions come from RTP timestamps, re-anchored on arrival
 * time where the two disagree by more than a second (timestamp resets). */
/* Look a PT up in the stream's "pt name/clock/ch;..." map. */
static int
ptmap_find(const char *map, uint8_t pt, char *name, size_t nlen, uint32_t *clock, uint8_t *ch)
{
	const char *p = map;
	while (p && *p) {
		unsigned v, cl = 0, c = 1;
		char nm[24];
		if (sscanf(p, "%u %23[^/]/%u/%u", &v, nm, &cl, &c) >= 2 && v == pt) {
			snprintf(name, nlen, "%s", nm);
			*clock = cl;
			*ch = (uint8_t)c;
			return 0;
		}
		p = strchr(p, ';');
		if (p)
			p++;
	}
	return -ENOENT;
}

/* Decoders for the other audio PTs of a stream (codec change by re-INVITE). */
#define MAX_ALT 4
struct alt {
	uint8_t pt, tried, ok;
	struct cr_codec c;
	uint32_t clock;
};

static struct alt *
alt_for(struct alt *alts, const char *map, uint8_t pt)
{
	for (int i = 0; i < MAX_ALT; i++)
		if (alts[i].tried && alts[i].pt == pt)
			return alts[i].ok ? &alts[i] : NULL;
	for (int i = 0; i < MAX_ALT; i++) {
		if (alts[i].tried)
			continue;
		alts[i].tried = 1;
		alts[i].pt = pt;
		char name[24];
		uint32_t clock;
		uint8_t ch;
		if (ptmap_find(map, pt, name, sizeof(name), &clock, &ch) != 0 ||
		    strcasecmp(name, "telephone-event") == 0 || strcasecmp(name, "CN") == 0)
			return NULL;
		struct cr_codec_params p = {.name = name, .clock = clock, .channels = ch};
		if (cr_codec_open(&alts[i].c, &p) != 0)
			return NULL;
		alts[i].ok = 1;
		alts[i].clock = clock ? clock : alts[i].c.out_rate;
		return &alts[i];
	}
	return NULL;
}

/* RFC 3389 comfort noise: PT 13, or a dynamic PT the SDP names CN */
static int
is_cn(const char *map, uint8_t pt, uint32_t *clock)
{
	char name[24];
	uint8_t ch;
	uint32_t c = 0;
	int named = ptmap_find(map, pt, name, sizeof(name), &c, &ch) == 0;
	if (named ? strcasecmp(name, "CN") != 0 : pt != 13)
		return 0;
	if (c)
		*clock = c;
	return 1;
}

/* White noise at the level a CN packet gives (-dBov; 0 dBov is the RMS of a
 * full-scale sine). The spectral envelope of RFC 3389 is not applied. */
static void
cn_fill(int16_t *out, uint64_t n, unsigned level, uint32_t *seed)
{
	double rms = 23170.0 * pow(10.0, -(double)(level & 0x7f) / 20.0);
	double amp = rms * 1.7320508; /* uniform on [-a, a] has RMS a / sqrt(3) */
	for (uint64_t i = 0; i < n; i++) {
		*seed = *seed * 1664525u + 1013904223u;
		double u = (double)(*seed >> 8) / (double)(1u << 24) * 2.0 - 1.0;
		out[i] = (int16_t)(u * amp);
	}
}

static int
decode_stream(struct stream_audio *sa, int64_t media_start, struct cr_export_result *res)
{
	struct cr_codec c;
	struct alt alts[MAX_ALT];
	memset(alts, 0, sizeof(alts));
	if (sa->n)
		qsort(sa->f, sa->n, sizeof(*sa->f), cmp_seq);
	struct cr_codec_params p = {.name = sa->rec.codec, .clock = sa->rec.clock_rate,
				    .channels = sa->rec.channels};
	if (cr_codec_open(&c, &p) != 0)
		return -ENOTSUP;
	uint32_t clock = sa->rec.clock_rate ? sa->rec.clock_rate : 8000;
	sa->rate = c.out_rate;
	if (sa->n && sa->pcm == NULL) {
		/* the span is known: reserve once, zero pages come lazily from calloc */
		int64_t last = sa->f[0].t_ns;
		for (uint32_t i = 1; i < sa->n; i++)
			if (sa->f[i].t_ns > last)
				last = sa->f[i].t_ns;
		uint64_t want = (uint64_t)((last - media_start) / 1000000LL + 2000) * c.out_rate / 1000;
		sa->pcm = calloc(want, sizeof(int16_t));
		if (sa->pcm)
			sa->pcm_cap = want;
	}
	static int16_t buf[48000 * 2];
	int64_t anchor_pos = -1; /* sample position of anchor_ts */
	uint32_t anchor_ts = 0;
	int64_t anchor_t = 0;
	uint64_t wpos = 0; /* end of what has been written */
	int64_t last_seq = INT64_MIN;
	int cn_level = -1; /* comfort noise runs from cn_pos to the next frame */
	uint64_t cn_pos = 0;
	uint32_t cn_seed = (uint32_t)sa->rec.ssrc | 1;
	for (uint32_t i = 0; i < sa->n; i++) {
		struct frame *f = &sa->f[i];
		if (f->ext_seq == last_seq)
			continue; /* duplicate */
		last_seq = f->ext_seq;
		struct cr_codec *dc = &c;
		uint32_t fclock = clock;
		int cn = 0;
		if (f->pt != sa->rec.pt) {
			cn = is_cn(sa->rec.ptmap, f->pt, &fclock);
			struct alt *a = cn ? NULL : alt_for(alts, sa->rec.ptmap, f->pt);
			if (a == NULL && !cn)
				continue; /* events, undecodable: silence here */
			if (a) {
				dc = &a->c;
				fclock = a->clock;
			}
		}
		int64_t pos;
		if (anchor_pos < 0) {
			pos = (f->t_ns - media_start) * (int64_t)c.out_rate / 1000000000LL;
			if (pos < 0)
				pos = 0;
		} else {
			/* RTP time decides; arrival time only where the two disagree by
			 * more than a second between consecutive packets (a timestamp
			 * reset or jump). Slow drift (skew, sender pacing) follows RTP. */
			int64_t by_ts = (int64_t)(int32_t)(f->ts - anchor_ts) * (int64_t)c.out_rate /
					fclock;
			int64_t by_arr = (f->t_ns - anchor_t) * (int64_t)c.out_rate / 1000000000LL;
			pos = anchor_pos + by_ts;
			if (by_ts - by_arr > (int64_t)c.out_rate || by_arr - by_ts > (int64_t)c.out_rate)
				pos = anchor_pos + by_arr;
		}
		anchor_pos = pos;
		anchor_ts = f->ts;
		anchor_t = f->t_ns;
		if (pos < 0)
			pos = 0;
		if (cn) {
			if (f->plen >= 1 && cn_level < 0) {
				cn_level = f->payload[0] & 0x7f;
				cn_pos = (uint64_t)pos > wpos ? (uint64_t)pos : wpos;
			} else if (f->plen >= 1) {
				cn_level = f->payload[0] & 0x7f; /* a level update */
			}
			continue;
		}
		int n = dc->ops->decode(dc->ctx, f->payload, f->plen, buf,
					sizeof(buf) / sizeof(buf[0]) / 2);
		if (n <= 0)
			continue;
		if (dc->out_rate != c.out_rate) {
			/* another codec's rate: bring it to the stream's (linear) */
			static int16_t rs[48000 * 2];
			int m = (int)((int64_t)n * c.out_rate / dc->out_rate);
			if (m > (int)(sizeof(rs) / sizeof(rs[0])))
				m = (int)(sizeof(rs) / sizeof(rs[0]));
			for (int k = 0; k < m; k++) {
				double x = (double)k * dc->out_rate / c.out_rate;
				int i0 = (int)x;
				double fr = x - i0;
				rs[k] = (int16_t)(buf[i0] * (1 - fr) + (i0 + 1 < n ? buf[i0 + 1] : 0) * fr);
			}
			memcpy(buf, rs, sizeof(int16_t) * (size_t)m);
			n = m;
		}
		res->packets++;
		if (cn_level >= 0 && (uint64_t)pos > cn_pos) {
			if (ensure(sa, (uint64_t)pos) != 0)
				return -ENOMEM;
			cn_fill(sa->pcm + cn_pos, (uint64_t)pos - cn_pos, (unsigned)cn_level, &cn_seed);
			res->cn_ms += ((uint64_t)pos - cn_pos) * 1000 / c.out_rate;
			wpos = (uint64_t)pos;
		}
		cn_level = -1;
		if ((uint64_t)pos > wpos) {
			uint64_t gap = (uint64_t)pos - wpos;
			if (gap * 1000 / c.out_rate <= MAX_GAP_CONCEAL_MS && wpos > 0) {
				if (ensure(sa, wpos + gap) != 0)
					return -ENOMEM;
				int k = c.ops->conceal(c.ctx, sa->pcm + wpos, (uint32_t)gap);
				(void)k;
				res->concealed_ms += gap * 1000 / c.out_rate;
			}
		}
		if (ensure(sa, (uint64_t)pos + (uint64_t)n) != 0)
			return -ENOMEM;
		memcpy(sa->pcm + pos, buf, (size_t)n * sizeof(int16_t));
		if ((uint64_t)pos + (uint64_t)n > wpos)
			wpos = (uint64_t)pos + (uint64_t)n;
	}
	cr_codec_close(&c);
	for (int i = 0; i < MAX_ALT; i++)
		if (alts[i].ok)
			cr_codec_close(&alts[i].c);
	return 0;
}

struct finder {
	struct cr_index_call_row row;
	struct cr_stream_rec *s;
	uint32_t n;
	int found;
};

static int
find_call(void *ctx, const struct cr_index_call_row *row, const struct cr_stream_rec *s,
	  uint32_t n)
{
	struct finder *F = ctx;
	if (F->found)
		return 0;
	F->found = 1;
	F->row = *row;
	F->s = malloc((n ? n : 1) * sizeof(*s));
	if (F->s == NULL)
		return -ENOMEM;
	memcpy(F->s, s, n * sizeof(*s));
	F->n = n;
	return 0;
}

static void
le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void
le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int
write_wav(const char *path, const int16_t *pcm, uint64_t frames, unsigned ch, uint32_t rate)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -errno;
	uint8_t h[44];
	uint32_t data = (uint32_t)(frames * ch * 2);
	memcpy(h, "RIFF", 4);
	le32(h + 4, 36 + data);
	memcpy(h + 8, "WAVEfmt ", 8);
	le32(h + 16, 16);
	le16(h + 20, 1);
	le16(h + 22, (uint16_t)ch);
	le32(h + 24, rate);
	le32(h + 28, rate * ch * 2);
	le16(h + 32, (uint16_t)(ch * 2));
	le16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	le32(h + 40, data);
	int ok = fwrite(h, 1, 44, f) == 44 && fwrite(pcm, 2, frames * ch, f) == frames * ch;
	ok &= fclose(f) == 0;
	return ok ? 0 : -EIO;
}

static int
write_opus(const char *path, const int16_t *pcm, uint64_t frames, unsigned ch, uint32_t rate,
	   const char *call_id)
{
	int err;
	OggOpusComments *com = ope_comments_create();
	if (com == NULL)
		return -ENOMEM;
	ope_comments_add(com, "ENCODER", "callrec");
	ope_comments_add(com, "CALL_ID", call_id);
	OggOpusEnc *enc = ope_encoder_create_file(path, com, (opus_int32)rate, (int)ch, 0, &err);
	ope_comments_destroy(com);
	if (enc == NULL)
		return -EIO;
	ope_encoder_ctl(enc, OPUS_SET_BITRATE(ch == 2 ? 48000 : 32000));
	int r = 0;
	for (uint64_t off = 0; off < frames && r == 0;) {
		int n = frames - off > 4800 ? 4800 : (int)(frames - off);
		if (ope_encoder_write(enc, pcm + off * ch, n) != OPE_OK)
			r = -EIO;
		off += (uint64_t)n;
	}
	if (r == 0 && ope_encoder_drain(enc) != OPE_OK)
		r = -EIO;
	ope_encoder_destroy(enc);
	return r;
}

int
cr_export_call(struct cr_index *idx, const struct cr_export_opts *o, struct cr_export_result *res,
	       char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	struct finder F;
	memset(&F, 0, sizeof(F));
	struct cr_index_filter flt = {.call_id = o->call_id};
	int r = cr_index_query(idx, &flt, find_call, &F);
	if (r != 0 || !F.found) {
		snprintf(err, errlen, "no call with Call-ID '%s'", o->call_id);
		free(F.s);
		return r ? r : -ENOENT;
	}
	struct stream_audio *sa = calloc(F.n ? F.n : 1, sizeof(*sa));
	if (sa == NULL) {
		free(F.s);
		return -ENOMEM;
	}
	int64_t start = INT64_MAX, end = 0;
	uint32_t rate = 0;
	r = 0;
	for (uint32_t i = 0; i < F.n && r == 0; i++) {
		sa[i].rec = F.s[i];
		if (cr_codec_find(F.s[i].codec) == NULL) {
			res->streams_skipped++;
			continue;
		}
		struct loader L = {.store = o->store_dir, .sa = &sa[i], .fd = -1, .msg = err,
				   .msglen = errlen, .last_seq = -1};
		r = cr_index_chunks(idx, F.s[i].uid, on_chunk, &L);
		if (L.fd >= 0)
			close(L.fd);
		if (L.enc)
			cr_dkey_wipe(&L.dk);
		if (sa[i].n) {
			if (sa[i].f[0].t_ns < start)
				start = sa[i].f[0].t_ns;
			for (uint32_t k = 0; k < sa[i].n; k++)
				if (sa[i].f[k].t_ns > end)
					end = sa[i].f[k].t_ns;
		}
	}
	if (r == 0 && start == INT64_MAX) {
		snprintf(err, errlen, "call '%s' has no decodable audio stored (%u streams, %u "
				      "in codecs without a decoder)",
			 o->call_id, F.n, res->streams_skipped);
		r = -ENOTSUP;
	}
	for (uint32_t i = 0; i < F.n && r == 0; i++) {
		if (sa[i].n == 0)
			continue;
		if ((r = decode_stream(&sa[i], start, res)) == -ENOTSUP) {
			res->streams_skipped++;
			r = 0;
			continue;
		}
		res->streams_decoded++;
		if (sa[i].rate > rate)
			rate = sa[i].rate;
	}
	if (o->rate)
		rate = o->rate;
	int16_t *out = NULL;
	if (r == 0) {
		/* the last frame's own duration ends the media span */
		uint64_t frames = 0;
		for (uint32_t i = 0; i < F.n; i++) {
			if (sa[i].rate == 0 || sa[i].pcm_len == 0)
				continue;
			uint64_t fl = sa[i].pcm_len * rate / sa[i].rate;
			if (fl > frames)
				frames = fl;
		}
		uint64_t span = (uint64_t)(end - start) * rate / 1000000000ULL;
		if (span > frames)
			frames = span;
		out = calloc(frames * 2 + 2, sizeof(int16_t));
		if (out == NULL)
			r = -ENOMEM;
		for (uint32_t i = 0; i < F.n && r == 0; i++) {
			struct stream_audio *s = &sa[i];
			if (s->pcm_len == 0)
				continue;
			int ch = s->rec.side == CR_SIDE_CALLEE ? 1 : 0;
			if (s->rate == rate) {
				uint64_t m = s->pcm_len < frames ? s->pcm_len : frames;
				for (uint64_t k = 0; k < m; k++) {
					int32_t a = out[k * 2 + (unsigned)ch] + s->pcm[k];
					out[k * 2 + (unsigned)ch] =
						(int16_t)(a > 32767 ? 32767 : a < -32768 ? -32768 : a);
				}
				continue;
			}
			for (uint64_t k = 0; k < frames; k++) {
				/* linear interpolation from the stream's rate */
				double x = (double)k * s->rate / rate;
				uint64_t i0 = (uint64_t)x;
				if (i0 >= s->pcm_len)
					break;
				double fr = x - (double)i0;
				double v = s->pcm[i0] * (1 - fr) +
					   (i0 + 1 < s->pcm_len ? s->pcm[i0 + 1] : 0) * fr;
				int32_t a = out[k * 2 + (unsigned)ch] + (int32_t)v;
				out[k * 2 + (unsigned)ch] =
					(int16_t)(a > 32767 ? 32767 : a < -32768 ? -32768 : a);
			}
		}
		if (r == 0 && o->mono)
			for (uint64_t k = 0; k < frames; k++)
				out[k] = (int16_t)(((int32_t)out[2 * k] + out[2 * k + 1]) / 2);
		if (r == 0) {
			r = o->opus ? write_opus(o->out_path, out, frames, o->mono ? 1 : 2, rate,
						 o->call_id)
				    : write_wav(o->out_path, out, frames, o->mono ? 1 : 2, rate);
			if (r != 0)
				snprintf(err, errlen, "cannot write %s: %s", o->out_path, strerror(-r));
		}
		res->rate = rate;
		res->frames = frames;
		res->duration_s = rate ? (double)frames / rate : 0;
	}
	free(out);
	for (uint32_t i = 0; i < F.n; i++) {
		for (uint32_t k = 0; k < sa[i].n_blocks; k++)
			free(sa[i].blocks[k]);
		free(sa[i].blocks);
		free(sa[i].f);
		free(sa[i].pcm);
	}
	free(sa);
	free(F.s);
	return r;
}
