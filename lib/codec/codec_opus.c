/* SPDX-License-Identifier: BSD-3-Clause */
/* Opus (libopus): RTP clock is always 48000 (RFC 7587); decoded mono at 48 kHz
 * whatever the sender's internal bandwidth; loss concealed by Opus PLC. */
#include <stdlib.h>

#include <opus/opus.h>

#include "cr_codec.h"

static void *
open_opus(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	int err;
	OpusDecoder *d = opus_decoder_create(48000, 1, &err);
	*rate = 48000;
	return err == OPUS_OK ? d : NULL;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	int n = opus_decode(ctx, in, (opus_int32)len, out, (int)max, 0);
	return n < 0 ? -22 : n;
}

static int
conceal(void *ctx, int16_t *out, uint32_t n)
{
	n -= n % 120; /* whole 2.5 ms steps */
	if (n == 0)
		return 0;
	int r = opus_decode(ctx, NULL, 0, out, (int)n, 0);
	return r < 0 ? 0 : r;
}

static void
close_opus(void *ctx)
{
	opus_decoder_destroy(ctx);
}

const struct cr_codec_ops cr_codec_opus = {"opus", open_opus, decode, conceal, close_opus};
