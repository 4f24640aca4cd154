/* SPDX-License-Identifier: BSD-3-Clause */
/* AMR-NB and AMR-WB (opencore) from RFC 4867 payloads, octet-aligned or
 * bandwidth-efficient (told apart per packet by which reading is consistent
 * with the payload length), converted to the decoders' storage format. */
#include <stdlib.h>
#include <string.h>

#include <opencore-amrnb/interf_dec.h>
#include <opencore-amrwb/dec_if.h>

#include "cr_codec.h"

static const uint8_t nb_bits[16] = {95, 103, 118, 134, 148, 159, 204, 244, 39, 0, 0, 0, 0, 0, 0, 0};
static const uint16_t wb_bits[16] = {132, 177, 253, 285, 317, 365, 397, 461, 477, 40,
				     0, 0, 0, 0, 0, 0};

struct amr {
	int wb;
	void *st;
	uint32_t frame; /* samples per 20 ms */
};

static unsigned
bits_of(const struct amr *a, unsigned ft)
{
	return a->wb ? wb_bits[ft & 15] : nb_bits[ft & 15];
}

static void *
open_common(int wb, uint32_t *rate)
{
	struct amr *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->wb = wb;
	a->st = wb ? D_IF_init() : Decoder_Interface_init();
	a->frame = wb ? 320 : 160;
	*rate = wb ? 16000 : 8000;
	return a;
}
static void *
open_nb(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	return open_common(0, rate);
}
static void *
open_wb(const struct cr_codec_params *p, uint32_t *rate)
{
	(void)p;
	return open_common(1, rate);
}

static void
dec_frame(struct amr *a, const uint8_t *storage, int16_t *out)
{
	if (a->wb)
		D_IF_decode(a->st, storage, out, 0);
	else
		Decoder_Interface_Decode(a->st, storage, out, 0);
}

static unsigned
getbits(const uint8_t *p, unsigned pos, unsigned n)
{
	unsigned v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 1 | ((p[(pos + i) >> 3] >> (7 - ((pos + i) & 7))) & 1);
	return v;
}

/* Octet-aligned: CMR byte, TOC bytes until F=0, then byte-aligned frames. */
static int
parse_oa(struct amr *a, const uint8_t *in, uint32_t len, uint8_t toc[16], unsigned *n)
{
	if (len < 2)
		return -1;
	uint32_t i = 1, need = 0;
	*n = 0;
	for (;;) {
		if (i >= len || *n >= 16)
			return -1;
		uint8_t t = in[i++];
		if (t & 0x03)
			return -1; /* padding bits must be zero */
		toc[(*n)++] = t;
		need += (bits_of(a, (t >> 3) & 15) + 7) / 8;
		if (!(t & 0x80))
			break;
	}
	return i + need == len ? (int)i : -1;
}

static int
decode(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max)
{
	struct amr *a = ctx;
	uint8_t toc[16], st[64];
	unsigned n = 0, produced = 0;
	int off = parse_oa(a, in, len, toc, &n);
	if (off > 0) {
		const uint8_t *p = in + off;
		for (unsigned k = 0; k < n && produced + a->frame <= max; k++) {
			unsigned ft = (toc[k] >> 3) & 15, bytes = (bits_of(a, ft) + 7) / 8;
			st[0] = (uint8_t)(toc[k] & 0x7c);
			memcpy(st + 1, p, bytes);
			p += bytes;
			dec_frame(a, st, out + produced);
			produced += a->frame;
		}
		return (int)produced;
	}
	/* bandwidth-efficient: 4-bit CMR, 6-bit TOCs, frames bit-packed */
	unsigned pos = 4, tb = 0;
	n = 0;
	for (;;) {
		if (pos + 6 > len * 8 || n >= 16)
			return -22;
		unsigned t = getbits(in, pos, 6);
		pos += 6;
		toc[n++] = (uint8_t)t;
		tb += bits_of(a, (t >> 1) & 15);
		if (!(t & 0x20))
			break;
	}
	if ((pos + tb + 7) / 8 != len)
		return -22;
	for (unsigned k = 0; k < n && produced + a->frame <= max; k++) {
		unsigned ft = (toc[k] >> 1) & 15, nb = bits_of(a, ft);
		memset(st, 0, sizeof(st));
		st[0] = (uint8_t)(ft << 3 | (toc[k] & 1) << 2);
		for (unsigned b = 0; b < nb; b++)
			if (getbits(in, pos + b, 1))
				st[1 + b / 8] |= (uint8_t)(0x80 >> (b & 7));
		pos += nb;
		dec_frame(a, st, out + produced);
		produced += a->frame;
	}
	return (int)produced;
}

static int
conceal(void *ctx, int16_t *out, uint32_t n)
{
	struct amr *a = ctx;
	uint8_t st[64] = {15 << 3}; /* NO_DATA frame: the decoder extrapolates */
	uint32_t k = 0;
	for (; k + a->frame <= n; k += a->frame) {
		if (a->wb)
			D_IF_decode(a->st, st, out + k, 1);
		else
			Decoder_Interface_Decode(a->st, st, out + k, 1);
	}
	return (int)k;
}

static void
close_amr(void *ctx)
{
	struct amr *a = ctx;
	if (a->wb)
		D_IF_exit(a->st);
	else
		Decoder_Interface_exit(a->st);
	free(a);
}

const struct cr_codec_ops cr_codec_amr = {"AMR", open_nb, decode, conceal, close_amr};
const struct cr_codec_ops cr_codec_amr_wb = {"AMR-WB", open_wb, decode, conceal, close_amr};
