/* SPDX-License-Identifier: BSD-3-Clause */
/* G.722 at 64 kbit/s (spandsp), 16 kHz output; RTP clock 8000 by RFC 3551. */
#include <stdlib.h>

#include <spandsp.h>

#include "cr_codec.h"

struct g722 {
	g722_decode_state_t *d;
	plc_state_t *plc;
};

static void *
open_g722(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	struct g722 *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->d = g722_decode_init(NULL, 64000, 0);
	g->plc = plc_init(NULL);
	*rate = 16000;
	return g;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct g722 *g = ctx;
	if (len * 2 > max)
		len = max / 2;
	int n = g722_decode(g->d, out, in, (int)len);
	if (n > 0)
		plc_rx(g->plc, out, n);
	return n;
}

static int
conceal(void *ctx, int16_t *out, uint32_t n)
{
	struct g722 *g = ctx;
	return plc_fillin(g->plc, out, (int)n);
}

static void
close_g722(void *ctx)
{
	struct g722 *g = ctx;
	g722_decode_free(g->d);
	plc_free(g->plc);
	free(g);
}

const struct cr_codec_ops cr_codec_g722 = {"G722", open_g722, decode, conceal, close_g722};
