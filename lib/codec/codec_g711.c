/* SPDX-License-Identifier: BSD-3-Clause */
/* G.711 mu-law and A-law (spandsp's tables), spandsp PLC for loss. */
#include <stdlib.h>

#include "cr_codec_internal.h"
#include "cr_codec.h"

struct g711 {
	struct cr_plc p; /* first: shared conceal */
	int alaw;
};

static void *
open_common(int alaw, uint32_t *rate)
{
	struct g711 *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->alaw = alaw;
	g->p.plc = plc_init(CR_SPAN_NEW(plc_state_t));
	*rate = 8000;
	return g;
}
static void *
open_u(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	return open_common(0, rate);
}
static void *
open_a(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	return open_common(1, rate);
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct g711 *g = ctx;
	uint32_t n = len < max ? len : max;
	for (uint32_t i = 0; i < n; i++)
		out[i] = g->alaw ? alaw_to_linear(in[i]) : ulaw_to_linear(in[i]);
	return cr_plc_keep(g, out, (int)n);
}

static void
close_g(void *ctx)
{
	struct g711 *g = ctx;
	plc_free(g->p.plc);
	free(g);
}

const struct cr_codec_ops cr_codec_pcmu = {"PCMU", open_u, decode, cr_plc_conceal, close_g};
const struct cr_codec_ops cr_codec_pcma = {"PCMA", open_a, decode, cr_plc_conceal, close_g};
