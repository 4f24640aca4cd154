/* SPDX-License-Identifier: BSD-3-Clause */
/* AMR-NB through both RFC 4867 framings: opencore's own encoder makes
 * storage-format frames of a test signal at every mode; each frame is packed
 * octet-aligned and bandwidth-efficient; both must decode through our ops to
 * the same PCM, and the decoded audio must carry the signal's energy. */
#include <math.h>
#include <string.h>

#include <opencore-amrnb/interf_enc.h>

#include "cr_codec.h"
#include "cr_test.h"

static const int bits[8] = {95, 103, 118, 134, 148, 159, 204, 244};

static void
putbits(uint8_t *p, unsigned *pos, unsigned v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, (*pos)++)
		if ((v >> (n - 1 - i)) & 1)
			p[*pos >> 3] |= (uint8_t)(0x80 >> (*pos & 7));
}

int
main(void)
{
	for (int mode = 0; mode < 8; mode++) {
		void *enc = Encoder_Interface_init(0);
		struct cr_codec oa, be;
		struct cr_codec_params p = {.name = "AMR", .clock = 8000};
		CHECK_EQ(cr_codec_open(&oa, &p), 0);
		CHECK_EQ(cr_codec_open(&be, &p), 0);
		double eo = 0, ei = 0;
		int same = 1;
		for (int f = 0; f < 150; f++) {
			short in[160];
			for (int i = 0; i < 160; i++) {
				double t = (f * 160 + i) / 8000.0;
				in[i] = (short)(8000 * sin(2 * M_PI * (300 + 200 * sin(t)) * t) *
						(0.6 + 0.4 * sin(2 * M_PI * 3 * t)));
			}
			uint8_t st[64];
			int n = Encoder_Interface_Encode(enc, (enum Mode)mode, in, st, 0);
			int ft = (st[0] >> 3) & 15;
			CHECK(n == 1 + (bits[mode] + 7) / 8 && ft == mode);
			/* octet-aligned: CMR byte (15 = none), TOC, speech bytes */
			uint8_t po[64] = {0xf0, (uint8_t)(st[0] & 0x7c)};
			memcpy(po + 2, st + 1, (size_t)(n - 1));
			/* bandwidth-efficient: CMR(4) TOC(6: F FT Q) speech bits */
			uint8_t pb[64] = {0};
			unsigned pos = 0;
			putbits(pb, &pos, 15, 4);
			putbits(pb, &pos, (unsigned)(ft << 1 | ((st[0] >> 2) & 1)), 6);
			for (int b = 0; b < bits[mode]; b++)
				putbits(pb, &pos, (st[1 + b / 8] >> (7 - (b & 7))) & 1, 1);
			int16_t o1[320], o2[320];
			int k1 = oa.ops->decode(oa.ctx, po, (uint32_t)(n + 1), o1, 320);
			int k2 = be.ops->decode(be.ctx, pb, (pos + 7) / 8, o2, 320);
			CHECK_EQ(k1, 160);
			CHECK_EQ(k2, 160);
			if (k1 == 160 && k2 == 160 && memcmp(o1, o2, sizeof(int16_t) * 160) != 0)
				same = 0;
			if (f > 5)
				for (int i = 0; i < 160; i++) {
					eo += (double)o1[i] * o1[i];
					ei += (double)in[i] * in[i];
				}
		}
		CHECK(same);
		/* a speech codec keeps the level of the signal within a few dB */
		CHECK(eo > ei * 0.25 && eo < ei * 4);
		cr_codec_close(&oa);
		cr_codec_close(&be);
		Encoder_Interface_exit(enc);
	}
	TEST_DONE();
}
