/* SPDX-License-Identifier: BSD-3-Clause */
/* Decode a raw codec byte stream, cut into RTP-sized payloads, with our
 * decoder ops; write s16le. Used by codec_vectors.sh against ffmpeg.
 * usage: codec_vec CODEC CLOCK PAYLOAD_BYTES IN OUT */
#include <stdio.h>
#include <stdlib.h>

#include "cr_codec.h"

int
main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: codec_vec CODEC CLOCK PAYLOAD_BYTES IN OUT\n");
		return 2;
	}
	struct cr_codec c;
	struct cr_codec_params p = {.name = argv[1], .clock = (uint32_t)atoi(argv[2])};
	if (cr_codec_open(&c, &p) != 0) {
		fprintf(stderr, "no decoder for %s\n", argv[1]);
		return 1;
	}
	size_t fb = (size_t)atoi(argv[3]);
	FILE *in = fopen(argv[4], "rb"), *out = fopen(argv[5], "wb");
	if (in == NULL || out == NULL || fb == 0 || fb > 4096)
		return 1;
	unsigned char buf[4096];
	static int16_t pcm[48000];
	size_t n;
	long total = 0;
	while ((n = fread(buf, 1, fb, in)) == fb) {
		int k = c.ops->decode(c.ctx, buf, (uint32_t)n, pcm, 48000);
		if (k < 0) {
			fprintf(stderr, "decode error %d\n", k);
			return 1;
		}
		fwrite(pcm, 2, (size_t)k, out);
		total += k;
	}
	fclose(in);
	fclose(out);
	cr_codec_close(&c);
	printf("%s: %ld samples at %u Hz\n", argv[1], total, c.out_rate);
	return 0;
}
