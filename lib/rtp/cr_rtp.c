/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_rtp.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
cr_rtp_parse(const uint8_t *p, size_t len, struct cr_rtp_hdr *h)
{
	if (len < 12)
		return -CR_RTP_E_RTP_SHORT;
	h->version = p[0] >> 6;
	if (h->version != 2)
		return -CR_RTP_E_RTP_VERSION;
	h->padding = (p[0] >> 5) & 1;
	h->extension = (p[0] >> 4) & 1;
	h->cc = p[0] & 0x0f;
	h->marker = p[1] >> 7;
	h->pt = p[1] & 0x7f;
	h->seq = rd16(p + 2);
	h->ts = rd32(p + 4);
	h->ssrc = rd32(p + 8);
	size_t off = 12 + (size_t)h->cc * 4;
	if (off > len)
		return -CR_RTP_E_RTP_SHORT;
	if (h->extension) {
		if (off + 4 > len)
			return -CR_RTP_E_RTP_BAD_EXT;
		off += 4 + (size_t)rd16(p + off + 2) * 4;
		if (off > len)
			return -CR_RTP_E_RTP_BAD_EXT;
	}
	size_t pad = 0;
	if (h->padding) {
		if (len == off)
			return -CR_RTP_E_RTP_BAD_PADDING;
		pad = p[len - 1];
		if (pad == 0 || off + pad > len)
			return -CR_RTP_E_RTP_BAD_PADDING;
	}
	h->hdr_len = (uint32_t)off;
	h->payload_len = (uint32_t)(len - off - pad);
	return 0;
}

int
cr_rtcp_parse(const uint8_t *p, size_t len, struct cr_rtcp_info *info)
{
	memset(info, 0, sizeof(*info));
	size_t off = 0;
	int n = 0;
	while (off + 4 <= len) {
		const uint8_t *q = p + off;
		if ((q[0] >> 6) != 2)
			return -EINVAL;
		size_t plen = ((size_t)rd16(q + 2) + 1) * 4;
		if (off + plen > len)
			return -EINVAL;
		uint8_t rc = q[0] & 0x1f;
		switch (q[1]) {
		case 200: /* SR: ssrc, 20 bytes sender info, then blocks */
		case 201: /* RR: ssrc, blocks */
		{
			size_t hdr = q[1] == 200 ? 28 : 8;
			if (plen < hdr + (size_t)rc * 24)
				return -EINVAL;
			if (n == 0)
				info->ssrc = rd32(q + 4);
			if (rc > 0 && info->n_sr + info->n_rr == 0) {
				const uint8_t *b = q + hdr;
				info->fraction_lost = b[4];
				int32_t cl = (int32_t)(rd32(b + 4) & 0xffffff);
				if (cl & 0x800000)
					cl -= 0x1000000;
				info->cum_lost = cl;
				info->jitter = rd32(b + 12);
			}
			if (q[1] == 200)
				info->n_sr++;
			else
				info->n_rr++;
			break;
		}
		case 202:
			info->n_sdes++;
			break;
		case 203:
			info->n_bye++;
			break;
		case 204:
			info->n_app++;
			break;
		default:
			info->n_other++;
			break;
		}
		off += plen;
		n++;
	}
	return n > 0 ? 0 : -EINVAL;
}

uint32_t
cr_rtp_static_clock(uint8_t pt)
{
	/* RFC 3551 table 4/5, as Wireshark's analysis uses it. */
	switch (pt) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 7: case 8: case 9:
	case 12: case 13: case 15: case 18: case 19:
		return 8000;
	case 6:
		return 16000;
	case 10: case 11:
		return 44100;
	case 16:
		return 11025;
	case 17:
		return 22050;
	case 14: case 25: case 26: case 28: case 31: case 32: case 33: case 34:
		return 90000;
	default:
		return 0;
	}
}

const char *
cr_rtp_static_name(uint8_t pt)
{
	static const char *const n[35] = {
		[0] = "PCMU", [3] = "GSM",   [4] = "G723", [5] = "DVI4", [6] = "DVI4",
		[7] = "LPC",  [8] = "PCMA",  [9] = "G722", [10] = "L16", [11] = "L16",
		[12] = "QCELP", [13] = "CN", [14] = "MPA", [15] = "G728", [18] = "G729",
		[19] = "CN",  [26] = "JPEG", [31] = "H261", [32] = "MPV", [34] = "H263",
	};
	return pt < 35 ? n[pt] : NULL;
}

void
cr_rtp_stats_init(struct cr_rtp_stats *s)
{
	memset(s, 0, sizeof(*s));
}

/* RFC 3550 A.1-style extended sequence with a 512-entry seen window for
 * duplicates; independent of the Wireshark-compatible counters. */
static void
rfc3550_update(struct cr_rtp_stats *s, uint16_t seq)
{
	if (s->packets == 0) {
		s->max_seq_ext = seq;
		memset(s->win, 0, sizeof(s->win));
		s->win[(seq & 511) >> 6] |= 1ULL << (seq & 63);
		return;
	}
	uint16_t max16 = (uint16_t)s->max_seq_ext;
	int16_t d = (int16_t)(seq - max16);
	uint32_t ext = s->max_seq_ext + (uint32_t)(int32_t)d;
	if (d > 0) {
		/* clear the window slots we skip over */
		uint32_t steps = (uint32_t)d > 512 ? 512 : (uint32_t)d;
		for (uint32_t i = 1; i <= steps; i++) {
			uint16_t q = (uint16_t)(max16 + i);
			s->win[(q & 511) >> 6] &= ~(1ULL << (q & 63));
		}
		s->max_seq_ext = ext;
		s->win[(seq & 511) >> 6] |= 1ULL << (seq & 63);
		return;
	}
	if (d == 0) {
		s->duplicates++;
		return;
	}
	if (-d < 512) {
		uint64_t bit = 1ULL << (seq & 63);
		uint64_t *w = &s->win[(seq & 511) >> 6];
		if (*w & bit) {
			s->duplicates++;
			return;
		}
		*w |= bit;
	}
	s->out_of_order++;
}

void
cr_rtp_stats_update(struct cr_rtp_stats *s, const struct cr_rtp_hdr *h,
		    const struct cr_rtp_pkt_meta *m)
{
	rfc3550_update(s, h->seq);
	s->payload_bytes += h->payload_len;
	s->last_ns = m->t_ns;

	if (!s->first_done) {
		s->first_done = 1;
		s->t0_ns = m->t_ns;
		s->first_ns = m->t_ns;
		s->start_seq = s->stop_seq = h->seq;
		s->first_ts = h->ts;
		s->last_nominal_ms = 0;
		s->t_last_ms = 0;
		s->pt = s->reg_pt = h->pt;
		s->packets = 1;
		return;
	}

	double now_ms = (double)(m->t_ns - s->t0_ns) / 1e6;
	/* "In time" is judged against the stream's first timestamp (half the
	 * 32-bit range forward, wrap allowed), as Wireshark 4.0 does; a packet
	 * behind it is late and moves neither the jitter nor the references. */
	uint32_t f = s->first_ts;
	int in_time = (f <= h->ts && h->ts - f < 0x80000000u) ||
		      (f > h->ts && (uint64_t)(0xffffffffu - f) + h->ts < 0x80000000u);
	int wrong_ts = !in_time;

	if (h->seq < s->start_seq && in_time && !s->under) {
		s->seq_cycles++;
		s->under = 1;
	} else if (h->seq == 0 && s->stop_seq == 65535 && in_time && !s->under) {
		s->seq_cycles++;
		s->under = 1;
	} else if (h->seq > s->start_seq && in_time && s->under) {
		s->under = 0;
	}

	int is_cn = m->is_cn || h->pt == 13 || h->pt == 19;
	int follow_cn = s->pt == 13 || s->pt == 19;
	s->pt = h->pt;

	double cur_jitter = 0;
	if (in_time) {
		if (m->clock_rate != 0) {
			/* nominal time in ms since the first packet; the integer
			 * samples-per-ms divisor is what Wireshark uses (44100 -> 44) */
			uint32_t per_ms = m->clock_rate / 1000;
			double d = (double)(uint32_t)(h->ts - f);
			/* 8 and 16 kHz: a power of two, so the product is the
			 * quotient, bit for bit, without a divide's latency */
			double nominal = per_ms == 8    ? d * 0.125
					 : per_ms == 16 ? d * 0.0625
					 : d / (per_ms ? (double)per_ms : (double)m->clock_rate / 1000.0);
			double expected = s->t_last_ms + (nominal - s->last_nominal_ms);
			double diff = fabs(now_ms - expected);
			cur_jitter = (15 * s->jitter_ms + diff) / 16;
			s->jitter_ms = cur_jitter;
			s->last_nominal_ms = nominal;
			s->clock_rate = m->clock_rate;
		}
		s->delta_ms = now_ms - s->t_last_ms;
	}

	if (!h->marker && !is_cn && !wrong_ts && !follow_cn) {
		double n = (double)s->packets;
		if (s->delta_ms > s->max_delta_ms)
			s->max_delta_ms = s->delta_ms;
		if (m->clock_rate != 0) {
			if (s->jitter_ms > s->max_jitter_ms)
				s->max_jitter_ms = s->jitter_ms;
			s->mean_jitter_ms = (s->mean_jitter_ms * (n - 1) + cur_jitter) / n;
		}
	}
	if (!is_cn)
		s->reg_pt = s->pt;
	if (in_time)
		s->t_last_ms = now_ms;
	s->stop_seq = h->seq;
	s->packets++;
}

int64_t
cr_rtp_stats_lost(const struct cr_rtp_stats *s)
{
	if (s->packets == 0)
		return 0;
	int64_t expected = ((int64_t)s->stop_seq + (int64_t)s->seq_cycles * 65536) -
			   (int64_t)s->start_seq + 1;
	return expected - (int64_t)s->packets;
}

int
cr_rtp_event_parse(const uint8_t *p, size_t len, struct cr_rtp_event *ev)
{
	if (len < 4)
		return -EINVAL;
	ev->event = p[0];
	ev->end = p[1] >> 7;
	ev->volume = p[1] & 0x3f;
	ev->duration = rd16(p + 2);
	return 0;
}

char
cr_rtp_event_char(uint8_t e)
{
	static const char map[] = "0123456789*#ABCD";
	if (e < 16)
		return map[e];
	if (e == 16)
		return 'F';
	return '?';
}

/* G.113 Appendix I: equipment impairment Ie and packet-loss robustness Bpl. */
struct emodel_codec {
	const char *name;
	double ie, bpl;
};
static const struct emodel_codec emodel_tab[] = {
	{"PCMU", 0, 25.1},   {"PCMA", 0, 25.1},	   {"G722", 0, 25.1},
	{"G729", 11, 19.0},  {"G729A", 11, 19.0},  {"G723", 15, 16.1},
	{"GSM", 20, 10.0},   {"G726-32", 7, 10.0}, {"G726-24", 25, 10.0},
	{"G726-16", 50, 10.0}, {"G726-40", 2, 10.0}, {"AMR", 5, 10.0},
	{"AMR-WB", 0, 10.0}, {"opus", 0, 20.0},	   {"iLBC", 11, 32.0},
	{"L16", 0, 25.1},    {"speex", 11, 10.0},
};

double
cr_emodel_mos(const char *codec, double loss_pct, double jitter_ms, double *r_out)
{
	double ie = 0, bpl = 25.1;
	if (codec != NULL) {
		for (size_t i = 0; i < sizeof(emodel_tab) / sizeof(emodel_tab[0]); i++) {
			if (strcasecmp(codec, emodel_tab[i].name) == 0) {
				ie = emodel_tab[i].ie;
				bpl = emodel_tab[i].bpl;
				break;
			}
		}
	}
	if (loss_pct < 0)
		loss_pct = 0;
	if (loss_pct > 100)
		loss_pct = 100;
	/* Mouth-to-ear delay a passive probe can only estimate: a 20 ms frame,
	 * a jitter buffer of twice the mean jitter plus 20 ms, 30 ms network. */
	double ta = 20 + 30 + (2 * jitter_ms + 20);
	double id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
	double ie_eff = ie + (95 - ie) * loss_pct / (loss_pct + bpl);
	double r = 93.2 - id - ie_eff;
	if (r_out)
		*r_out = r;
	if (r <= 0)
		return 1.0;
	if (r >= 100)
		return 4.5;
	double mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	return mos < 1 ? 1 : (mos > 4.5 ? 4.5 : mos);
}

void
cr_jb_update(struct cr_jb *j, uint32_t ts, int64_t t_ns, uint32_t clock, uint32_t buffer_ms)
{
	if (clock == 0)
		return;
	if (!j->init) {
		j->init = 1;
		j->ts_ext = 0;
		j->last_ts = ts;
		j->min_transit_ns = t_ns;
		return;
	}
	j->ts_ext += (int32_t)(ts - j->last_ts);
	j->last_ts = ts;
	int64_t transit = t_ns - j->ts_ext * 1000000000LL / (int64_t)clock;
	int64_t late = transit - j->min_transit_ns;
	/* a second or more: the stream paused or its clock jumped (hold,
	 * re-INVITE, a new talkspurt after DTX): a receiver re-anchors */
	if (transit < j->min_transit_ns || late > 1000000000LL)
		j->min_transit_ns = transit;
	else if (late > (int64_t)buffer_ms * 1000000LL)
		j->discards++;
}

/* |sample| of a G.711 byte, from the decoding rules (ITU-T G.711) */
static uint16_t
ulaw_mag(uint8_t b)
{
	b = (uint8_t)~b;
	int e = (b >> 4) & 7, m = b & 15;
	return (uint16_t)((((m << 3) + 0x84) << e) - 0x84);
}

static uint16_t
alaw_mag(uint8_t b)
{
	b ^= 0x55;
	int e = (b >> 4) & 7, m = b & 15;
	return (uint16_t)(e ? ((m << 4) + 0x108) << (e - 1) : (m << 4) + 8);
}

int
cr_g711_silent(uint8_t pt, const uint8_t *p, uint32_t n)
{
	static uint16_t mag[2][256];
	static int ready;
	if (pt != 0 && pt != 8)
		return -1;
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) { /* racing threads write the same values */
		for (int i = 0; i < 256; i++) {
			mag[0][i] = ulaw_mag((uint8_t)i);
			mag[1][i] = alaw_mag((uint8_t)i);
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	if (n < 4)
		return -1;
	const uint16_t *t = mag[pt == 8];
	uint32_t sum = 0, k = 0;
	for (uint32_t i = 0; i < n; i += 4, k++)
		sum += t[p[i]];
	return sum / k < 100; /* ~ -50 dBov for a full-scale 32767 sine */
}
