/* SPDX-License-Identifier: BSD-3-Clause */
/* G.722 at 64 kbit/s (spandsp), 16 kHz output; RTP clock 8000 by RFC 3551. */
#include <stdlib.h>

#include "cr_codec_internal.h"
#include "cr_codec.h"

struct g722 {
	struct cr_plc p; /* first: shared conceal */
	g722_decode_state_t *d;
};

static void *
open_g722(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	struct g722 *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->d = g722_decode_init(CR_SPAN_NEW(g722_decode_state_t), 64000, 0);
	g->p.plc = plc_init(CR_SPAN_NEW(plc_state_t));
	*rate = 16000;
	return g;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct g722 *g = ctx;
	if (len * 2 > max)
		len = max / 2;
	return cr_plc_keep(g, out, g722_decode(g->d, out, in, (int)len));
}

static void
close_g722(void *ctx)
{
	struct g722 *g = ctx;
	g722_decode_free(g->d);
	plc_free(g->p.plc);
	free(g);
}

const struct cr_codec_ops cr_codec_g722 = {"G722", open_g722, decode, cr_plc_conceal, close_g722};
