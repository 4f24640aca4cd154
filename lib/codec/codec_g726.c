/* SPDX-License-Identifier: BSD-3-Clause */
/* G.726 16/24/32/40 kbit/s: spandsp's ADPCM decoder fed with code words we
 * unpack ourselves, LSB-first as RFC 3551 4.5.4 specifies for "G726-nn", or
 * MSB-first as ITU-T I.366.2 (AAL2) does.
 *
 * Real devices (baresip/spandsp among them) send MSB-first under the RFC
 * name, so for RFC names both orders are decoded for the first frames and the
 * order whose output has less energy near the Nyquist frequency is kept (see
 * hf_energy and decide). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cr_codec_internal.h"
#include "cr_codec.h"

#define PROBE_FRAMES 50 /* packets with signal (1 s of speech) */
#define PROBE_MAX 200   /* more when those 50 do not tell the orders apart */

struct g726 {
	struct cr_plc p; /* first: shared conceal */
	int bits;
	int order; /* 0 undecided, 1 LSB-first (RFC), 2 MSB-first (AAL2) */
	g726_state_t *d[2];
	float lr[PROBE_MAX]; /* per frame: log(MSB-first HF share / LSB-first's) */
	double lsum;         /* their running sum: which order to output meanwhile */
	int probe;           /* frames with signal counted so far */
	int frames; /* frames seen while undecided */
};

static void *
open_rate(int bitrate, int order, uint32_t *rate)
{
	struct g726 *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->bits = bitrate / 8000;
	g->order = order;
	for (int i = 0; i < 2; i++)
		g->d[i] = g726_init(CR_SPAN_NEW(g726_state_t), bitrate, G726_ENCODING_LINEAR,
				     G726_PACKING_NONE);
	g->p.plc = plc_init(CR_SPAN_NEW(plc_state_t));
	*rate = 8000;
	return g;
}

#define OPEN(fn, br, order)                                                                \
	static void *fn(const struct cr_codec_params *p, uint32_t *rate)                   \
	{                                                                                  \
		(void)p;                                                                   \
		return open_rate(br, order, rate);                                         \
	}
OPEN(open16, 16000, 0)
OPEN(open24, 24000, 0)
OPEN(open32, 32000, 0)
OPEN(open40, 40000, 0)
OPEN(open16a, 16000, 2)
OPEN(open24a, 24000, 2)
OPEN(open32a, 32000, 2)
OPEN(open40a, 40000, 2)

/* Unpack k-bit code words, one per output byte. @return code words. */
static int
unpack(const uint8_t *in, uint32_t len, int k, int msb_first, uint8_t *codes, int max)
{
	uint32_t acc = 0;
	int nb = 0, n = 0;
	uint8_t mask = (uint8_t)((1u << k) - 1);
	for (uint32_t i = 0; i < len && n < max; i++) {
		if (msb_first) {
			acc = (acc << 8) | in[i];
			nb += 8;
			while (nb >= k && n < max) {
				codes[n++] = (uint8_t)((acc >> (nb - k)) & mask);
				nb -= k;
			}
		} else {
			acc |= (uint32_t)in[i] << nb;
			nb += 8;
			while (nb >= k && n < max) {
				codes[n++] = (uint8_t)(acc & mask);
				acc >>= k;
				nb -= k;
			}
		}
	}
	return n;
}

/* Energy of the second difference (a high-pass near the Nyquist frequency)
 * and of the signal. Decoding with the wrong bit order exchanges adjacent
 * code words (or scrambles them at 24/40 kbit/s), which puts error energy
 * near Nyquist: measured 1.2x (a chirp at 32 kbit/s) to 4.7x (speech) the
 * right order's share, summed over a second. */
static void
hf_energy(const int16_t *x, int n, double *err, double *sig)
{
	for (int i = 2; i < n; i++) {
		double d2 = (double)x[i] - 2.0 * x[i - 1] + x[i - 2];
		*err += d2 * d2;
		*sig += (double)x[i] * x[i];
	}
}

static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Mean of the per-frame log ratios without their top and bottom tenth.
 * Summed energies let one burst decide: spandsp's decoder can swing to full
 * scale for a few frames where another decoder stays smooth (seen on an
 * ffmpeg-encoded 32 kbit/s chirp: 100x the HF energy of the right order
 * in 3 of 50 frames, which made the summed test pick the wrong order). */
static double
trimmed_mean(const float *v, int n)
{
	float t[PROBE_MAX];
	memcpy(t, v, sizeof(float) * (size_t)n);
	qsort(t, (size_t)n, sizeof(float), cmp_float);
	int lo = n / 10, hi = n - n / 10;
	double s = 0;
	for (int i = lo; i < hi; i++)
		s += t[i];
	return hi > lo ? s / (hi - lo) : 0;
}

/* Settle the order once the probe tells: over 50 frames with signal the
 * trimmed mean was >= 0.25 for the right order on 600 dithered chirps at 16,
 * 24 and 32 kbit/s (0.003 at 25 frames); below 0.05 probe on up to 200. */
static void
decide(struct g726 *g)
{
	int enough = g->probe >= PROBE_FRAMES;
	/* a quiet source decides on what it has after 30 s; silence never does */
	int last = g->probe >= PROBE_MAX || (g->frames >= 30 * PROBE_FRAMES && g->probe > 0);
	if (!enough && !last)
		return;
	double tm = trimmed_mean(g->lr, g->probe);
	if (last || tm >= 0.05 || tm <= -0.05)
		g->order = tm >= 0 ? 1 : 2;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct g726 *g = ctx;
	uint8_t codes[4096] = {0};
	int cap = max < sizeof(codes) ? (int)max : (int)sizeof(codes);
	int n;
	if (g->order == 0) {
		int16_t alt[4096];
		int nl = unpack(in, len, g->bits, 0, codes, cap);
		nl = g726_decode(g->d[0], out, codes, nl);
		int nm = unpack(in, len, g->bits, 1, codes, cap);
		nm = g726_decode(g->d[1], alt, codes, nm);
		/* only frames with signal decide: silence and comfort noise say nothing */
		double e0 = 0, s0 = 0, e1 = 0, s1 = 0;
		hf_energy(out, nl, &e0, &s0);
		hf_energy(alt, nm, &e1, &s1);
		if (s0 > (double)nl * 200.0 * 200.0) {
			/* high-frequency share: smaller is the right order */
			double q0 = e0 / (s0 + 1), q1 = e1 / (s1 + 1);
			double lr = log((q1 + 1e-9) / (q0 + 1e-9));
			g->lr[g->probe++] = (float)lr;
			g->lsum += lr;
		}
		g->frames++;
		decide(g);
		if (g->lsum < 0) {
			memcpy(out, alt, sizeof(int16_t) * (size_t)nm);
			nl = nm;
		}
		n = nl;
	} else {
		int msb = g->order == 2;
		n = unpack(in, len, g->bits, msb, codes, cap);
		n = g726_decode(g->d[msb], out, codes, n);
	}
	return cr_plc_keep(g, out, n);
}

static void
close_g726(void *ctx)
{
	struct g726 *g = ctx;
	g726_free(g->d[0]);
	g726_free(g->d[1]);
	plc_free(g->p.plc);
	free(g);
}

const struct cr_codec_ops cr_codec_g726_16 = {"G726-16", open16, decode, cr_plc_conceal, close_g726};
const struct cr_codec_ops cr_codec_g726_24 = {"G726-24", open24, decode, cr_plc_conceal, close_g726};
const struct cr_codec_ops cr_codec_g726_32 = {"G726-32", open32, decode, cr_plc_conceal, close_g726};
const struct cr_codec_ops cr_codec_g726_40 = {"G726-40", open40, decode, cr_plc_conceal, close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_16 = {"AAL2-G726-16", open16a, decode, cr_plc_conceal,
						   close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_24 = {"AAL2-G726-24", open24a, decode, cr_plc_conceal,
						   close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_32 = {"AAL2-G726-32", open32a, decode, cr_plc_conceal,
						   close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_40 = {"AAL2-G726-40", open40a, decode, cr_plc_conceal,
						   close_g726};
