/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * SDP parser (RFC 4566/8866) for what a recorder binds media with: session and
 * media connection addresses, m= lines (several), rtpmap, fmtp, ptime and the
 * direction attributes (sendrecv/sendonly/recvonly/inactive), RTCP port.
 *
 * Pure function of (const char *, size_t); copies what it keeps into the
 * fixed-size struct cr_sdp, so the result outlives the input. Thread-safe.
 * Limits (CR_SDP_MAX_*) are counted, never overflowed: extra m= lines or
 * formats are skipped and n_skipped says so.
 */
#ifndef CR_SDP_H
#define CR_SDP_H

#include <stddef.h>
#include <stdint.h>

#include "cr_pkt.h"

#define CR_SDP_MAX_MEDIA 8
#define CR_SDP_MAX_FMT 16
#define CR_SDP_ENC_LEN 24
#define CR_SDP_FMTP_LEN 64

enum cr_sdp_dir { CR_SDP_SENDRECV = 0, CR_SDP_SENDONLY, CR_SDP_RECVONLY, CR_SDP_INACTIVE };
enum cr_sdp_mtype { CR_SDP_AUDIO = 0, CR_SDP_VIDEO, CR_SDP_IMAGE, CR_SDP_OTHER };

struct cr_sdp_fmt {
	uint8_t pt;
	uint8_t channels;
	uint32_t clock_rate; /**< from rtpmap, or the static table; 0 unknown */
	char enc[CR_SDP_ENC_LEN];   /**< encoding name, "" if no rtpmap for a dynamic PT */
	char fmtp[CR_SDP_FMTP_LEN]; /**< fmtp parameters, truncated */
};

struct cr_sdp_media {
	uint8_t type;	  /**< enum cr_sdp_mtype */
	uint8_t dir;	  /**< enum cr_sdp_dir (media level, else session level) */
	uint8_t has_addr; /**< c= known (media or session level) */
	uint8_t is_rtp;	  /**< proto is RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/... */
	uint8_t is_srtp;  /**< SAVP / a=crypto present */
	uint8_t hold;	  /**< c=0.0.0.0 (RFC 2543 hold) */
	uint16_t port;
	uint16_t rtcp_port; /**< a=rtcp, else port+1 */
	uint16_t ptime;
	uint8_t n_fmt;
	struct cr_addr addr;
	struct cr_sdp_fmt fmt[CR_SDP_MAX_FMT];
};

struct cr_sdp {
	uint8_t n_media;
	uint8_t n_skipped;
	struct cr_sdp_media media[CR_SDP_MAX_MEDIA];
};

/**
 * Parse an SDP body.
 * @return 0, or -EINVAL when it is not SDP (no v= line first, or no m= line
 *         parsed and no c= line seen).
 */
int cr_sdp_parse(const char *buf, size_t len, struct cr_sdp *sdp);

/** Find a payload type in a media description; NULL if not listed. */
const struct cr_sdp_fmt *cr_sdp_find_fmt(const struct cr_sdp_media *m, uint8_t pt);

#endif /* CR_SDP_H */
