/* SPDX-License-Identifier: BSD-3-Clause */
/* L16 (RFC 3551): big-endian 16-bit PCM at the rtpmap rate, any channel count
 * (mixed down to mono), spandsp PLC. */
#include <stdlib.h>

#include "cr_codec_internal.h"
#include "cr_codec.h"

struct l16 {
	struct cr_plc p; /* first: shared conceal */
	unsigned ch;
};

static void *
open_l16(const struct cr_codec_params *p, uint32_t *rate)
{
	struct l16 *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->ch = p->channels ? p->channels : 1;
	l->p.plc = plc_init(CR_SPAN_NEW(plc_state_t));
	*rate = p->clock ? p->clock : 44100;
	return l;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct l16 *l = ctx;
	uint32_t frames = len / (2 * l->ch), n = 0;
	for (uint32_t i = 0; i < frames && n < max; i++) {
		int32_t acc = 0;
		for (unsigned c = 0; c < l->ch; c++) {
			const uint8_t *s = in + 2 * (i * l->ch + c);
			acc += (int16_t)(s[0] << 8 | s[1]);
		}
		out[n++] = (int16_t)(acc / (int32_t)l->ch);
	}
	return cr_plc_keep(l, out, (int)n);
}

static void
close_l16(void *ctx)
{
	struct l16 *l = ctx;
	plc_free(l->p.plc);
	free(l);
}

const struct cr_codec_ops cr_codec_l16 = {"L16", open_l16, decode, cr_plc_conceal, close_l16};
