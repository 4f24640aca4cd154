/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Export a recorded call as audio: reads the call's chunk locations from the
 * index, only those blocks from the segments, decodes each stream with its
 * codec and lays everything on one timeline built from arrival times and RTP
 * timestamps (loss concealed, gaps and holds as silence), then writes a WAV:
 * stereo with the caller left and the callee right, or a mono mix.
 *
 * Single-threaded; allocates per call. Errors: negative errno with a message
 * in err (ENOENT: no such call; ENOTSUP: no decodable stream; EBADMSG: a
 * block failed its CRC; EIO: file errors).
 */
#ifndef CR_EXPORT_H
#define CR_EXPORT_H

#include <stdint.h>

#include "cr_index.h"

struct cr_export_opts {
	const char *store_dir;
	const char *call_id;
	const char *out_path;
	int mono;	/**< 0: stereo caller/callee, 1: mono mix */
	int opus;	/**< 0: WAV (16-bit PCM), 1: Ogg Opus (libopusenc) */
	uint32_t rate;	/**< 0: the widest codec's rate */
};

struct cr_export_result {
	uint32_t rate;
	uint64_t frames;     /**< sample frames written */
	uint32_t streams_decoded, streams_skipped;
	uint64_t packets, concealed_ms;
	uint64_t cn_ms; /**< comfort noise generated from RFC 3389 CN packets */
	double duration_s;
};

int cr_export_call(struct cr_index *idx, const struct cr_export_opts *o,
		   struct cr_export_result *res, char *err, size_t errlen);

#endif
