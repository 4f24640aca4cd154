/* SPDX-License-Identifier: BSD-3-Clause */
/* G.729 / G.729A with Annex B SID frames (bcg729): 10-byte frames of 10 ms,
 * 2-byte SID frames; the decoder's own erasure concealment for loss. */
#include <stdlib.h>

#include <bcg729/decoder.h>

#include "cr_codec.h"

static void *
open_g729(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	*rate = 8000;
	return initBcg729DecoderChannel();
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	uint32_t n = 0;
	while (len >= 10 && n + 80 <= max) {
		bcg729Decoder(ctx, in, 10, 0, 0, 0, out + n);
		in += 10;
		len -= 10;
		n += 80;
	}
	if (len == 2 && n + 80 <= max) { /* Annex B SID */
		bcg729Decoder(ctx, in, 2, 0, 1, 0, out + n);
		n += 80;
	}
	return (int)n;
}

static int
conceal(void *ctx, int16_t *out, uint32_t n)
{
	uint32_t k = 0;
	for (; k + 80 <= n; k += 80)
		bcg729Decoder(ctx, NULL, 0, 1, 0, 0, out + k);
	return (int)k;
}

static void
close_g729(void *ctx)
{
	closeBcg729DecoderChannel(ctx);
}

const struct cr_codec_ops cr_codec_g729 = {"G729", open_g729, decode, conceal, close_g729};
