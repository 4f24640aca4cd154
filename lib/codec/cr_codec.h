/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Audio decoders behind one ops table. One file per codec; adding a codec is
 * adding a file and a line in cr_codec.c's registry, never a switch.
 *
 * Each decoder turns one RTP payload into mono 16-bit PCM at its own output
 * rate (cr_codec_open() tells it) and conceals a lost frame with the codec's
 * own PLC or spandsp's plc. A codec context belongs to one thread.
 * Errors: open returns NULL (unknown codec or bad parameters); decode returns
 * the number of samples, or a negative errno (the frame is then concealed).
 */
#ifndef CR_CODEC_H
#define CR_CODEC_H

#include <stdint.h>

struct cr_codec_params {
	const char *name;   /**< SDP encoding name (case-insensitive) */
	uint32_t clock;	    /**< RTP clock rate from rtpmap (0: codec default) */
	uint8_t channels;   /**< from rtpmap (0/1 mono) */
	const char *fmtp;   /**< fmtp parameters, may be NULL */
};

struct cr_codec_ops {
	const char *name;
	/** @return a context and the output rate, or NULL. */
	void *(*open)(const struct cr_codec_params *p, uint32_t *out_rate);
	/** Decode one payload into out (max samples). @return samples or -errno. */
	int (*decode)(void *ctx, const uint8_t *in, uint32_t len, int16_t *out, uint32_t max);
	/** Synthesise n samples for lost audio. @return samples written (0: caller zero-fills). */
	int (*conceal)(void *ctx, int16_t *out, uint32_t n);
	void (*close)(void *ctx);
};

struct cr_codec {
	const struct cr_codec_ops *ops;
	void *ctx;
	uint32_t out_rate; /**< PCM samples per second produced */
	uint32_t clock;	   /**< RTP clock of the stream */
};

/** Find a decoder by encoding name; NULL if we store it but cannot decode it. */
const struct cr_codec_ops *cr_codec_find(const char *name);
/** Open a decoder. @return 0, -ENOTSUP (no decoder for that name), -EINVAL. */
int cr_codec_open(struct cr_codec *c, const struct cr_codec_params *p);
void cr_codec_close(struct cr_codec *c);

/* registry entries, one per codec file */
extern const struct cr_codec_ops cr_codec_pcmu, cr_codec_pcma, cr_codec_l16, cr_codec_g722,
	cr_codec_g726_16, cr_codec_g726_24, cr_codec_g726_32, cr_codec_g726_40,
	cr_codec_aal2_g726_16, cr_codec_aal2_g726_24, cr_codec_aal2_g726_32,
	cr_codec_aal2_g726_40, cr_codec_gsm, cr_codec_opus, cr_codec_g729, cr_codec_amr,
	cr_codec_amr_wb;

#endif
