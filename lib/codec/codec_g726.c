/* SPDX-License-Identifier: BSD-3-Clause */
/* G.726 16/24/32/40 (spandsp). RFC 3551 names ("G726-32") specify LSB-first
 * packing, AAL2 names MSB-first. Real devices (baresip/spandsp among them)
 * send MSB-first under the RFC name, so for RFC names the first frames are
 * decoded both ways and the packing whose output is smoother (less
 * high-frequency energy: wrong bit order decodes to noise) is kept. */
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#include "cr_codec.h"

struct g726 {
	int rate;
	int packing; /* G726_PACKING_LEFT/RIGHT, 0 = not decided yet */
	g726_state_t *left, *right;
	plc_state_t *plc;
	double hf[2], lf[2];
	int probe;
};

static void *
open_rate(int bitrate, int packing, uint32_t *rate)
{
	struct g726 *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->rate = bitrate;
	g->packing = packing;
	g->left = g726_init(NULL, bitrate, G726_ENCODING_LINEAR, G726_PACKING_LEFT);
	g->right = g726_init(NULL, bitrate, G726_ENCODING_LINEAR, G726_PACKING_RIGHT);
	g->plc = plc_init(NULL);
	*rate = 8000;
	return g;
}

#define OPEN(fn, br, pk)                                                                   \
	static void *fn(const struct cr_codec_params *p, uint32_t *rate)                   \
	{                                                                                  \
		(void)p;                                                                   \
		return open_rate(br, pk, rate);                                            \
	}
OPEN(open16, 16000, 0)
OPEN(open24, 24000, 0)
OPEN(open32, 32000, 0)
OPEN(open40, 40000, 0)
OPEN(open16a, 16000, G726_PACKING_LEFT)
OPEN(open24a, 24000, G726_PACKING_LEFT)
OPEN(open32a, 32000, G726_PACKING_LEFT)
OPEN(open40a, 40000, G726_PACKING_LEFT)

static void
energy(const int16_t *x, int n, double *hf, double *lf)
{
	for (int i = 1; i < n; i++) {
		double d = (double)x[i] - x[i - 1], s = (double)x[i] + x[i - 1];
		*hf += d * d;
		*lf += s * s;
	}
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct g726 *g = ctx;
	int bits = g->rate / 8000;
	if (len * 8 / (uint32_t)bits > max)
		len = max * (uint32_t)bits / 8;
	int n;
	if (g->packing == 0) {
		/* decide on the first ~50 frames of speech-bearing audio */
		int16_t tmp[2048];
		int nl = g726_decode(g->left, out, in, (int)len);
		int nr = g726_decode(g->right, tmp, in, (int)len < 2048 ? (int)len : 2048);
		energy(out, nl, &g->hf[0], &g->lf[0]);
		energy(tmp, nr, &g->hf[1], &g->lf[1]);
		if (++g->probe >= 50) {
			double rl = g->hf[0] / (g->lf[0] + 1), rr = g->hf[1] / (g->lf[1] + 1);
			g->packing = rl <= rr ? G726_PACKING_LEFT : G726_PACKING_RIGHT;
		}
		double rl = g->hf[0] / (g->lf[0] + 1), rr = g->hf[1] / (g->lf[1] + 1);
		if (rr < rl) {
			memcpy(out, tmp, sizeof(int16_t) * (size_t)nr);
			nl = nr;
		}
		n = nl;
	} else {
		n = g726_decode(g->packing == G726_PACKING_LEFT ? g->left : g->right, out, in,
				(int)len);
	}
	if (n > 0)
		plc_rx(g->plc, out, n);
	return n;
}

static int
conceal(void *ctx, int16_t *out, uint32_t n)
{
	struct g726 *g = ctx;
	return plc_fillin(g->plc, out, (int)n);
}

static void
close_g726(void *ctx)
{
	struct g726 *g = ctx;
	g726_free(g->left);
	g726_free(g->right);
	plc_free(g->plc);
	free(g);
}

const struct cr_codec_ops cr_codec_g726_16 = {"G726-16", open16, decode, conceal, close_g726};
const struct cr_codec_ops cr_codec_g726_24 = {"G726-24", open24, decode, conceal, close_g726};
const struct cr_codec_ops cr_codec_g726_32 = {"G726-32", open32, decode, conceal, close_g726};
const struct cr_codec_ops cr_codec_g726_40 = {"G726-40", open40, decode, conceal, close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_16 = {"AAL2-G726-16", open16a, decode, conceal,
						   close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_24 = {"AAL2-G726-24", open24a, decode, conceal,
						   close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_32 = {"AAL2-G726-32", open32a, decode, conceal,
						   close_g726};
const struct cr_codec_ops cr_codec_aal2_g726_40 = {"AAL2-G726-40", open40a, decode, conceal,
						   close_g726};
