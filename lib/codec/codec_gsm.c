/* SPDX-License-Identifier: BSD-3-Clause */
/* GSM 06.10 full rate (spandsp, RFC 3551 "VoIP" packing: 33 bytes per 20 ms). */
#include <stdlib.h>

#include "cr_codec_internal.h"
#include "cr_codec.h"

struct gsm {
	struct cr_plc p; /* first: shared conceal */
	gsm0610_state_t *d;
};

static void *
open_gsm(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	struct gsm *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->d = gsm0610_init(CR_SPAN_NEW(gsm0610_state_t), GSM0610_PACKING_VOIP);
	g->p.plc = plc_init(CR_SPAN_NEW(plc_state_t));
	*rate = 8000;
	return g;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct gsm *g = ctx;
	len -= len % 33;
	if (len / 33 * 160 > max)
		len = max / 160 * 33;
	return cr_plc_keep(g, out, gsm0610_decode(g->d, out, in, (int)len));
}

static void
close_gsm(void *ctx)
{
	struct gsm *g = ctx;
	gsm0610_free(g->d);
	plc_free(g->p.plc);
	free(g);
}

const struct cr_codec_ops cr_codec_gsm = {"GSM", open_gsm, decode, cr_plc_conceal, close_gsm};
