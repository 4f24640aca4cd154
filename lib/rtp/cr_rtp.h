/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * RTP and RTCP: header parsing, per-stream statistics (RFC 3550 loss and
 * interarrival jitter, reordering, duplicates), RFC 4733 telephone events, and
 * the ITU-T G.107 E-model estimate.
 *
 * Pure functions and plain structs: no EAL, no globals, no allocation. A
 * struct cr_rtp_stats belongs to exactly one thread (the worker owning the
 * stream); nothing here is thread-safe by itself and nothing needs to be.
 *
 * Loss and jitter follow the arithmetic of Wireshark's RTP stream analysis
 * (expected = last seq + cycles*65536 - first seq + 1; jitter per RFC 3550 with
 * the clock rate of the payload type, telephone-event and CN excluded), so an
 * operator who checks a recording against tshark sees the same numbers.
 */
#ifndef CR_RTP_H
#define CR_RTP_H

#include <stddef.h>
#include <stdint.h>

struct cr_rtp_hdr {
	uint8_t version, padding, extension, cc, marker, pt;
	uint16_t seq;
	uint32_t ts, ssrc;
	uint32_t hdr_len;     /**< fixed header + CSRCs + extension */
	uint32_t payload_len; /**< excluding padding */
};

#define CR_RTP_DROP_LIST(X)                                                              \
	X(RTP_SHORT, "RTP packet shorter than its header")                              \
	X(RTP_VERSION, "RTP version is not 2")                                          \
	X(RTP_BAD_PADDING, "RTP padding larger than payload")                           \
	X(RTP_BAD_EXT, "RTP extension beyond packet")

enum cr_rtp_err {
	CR_RTP_OK = 0,
#define CR_X(n, s) CR_RTP_E_##n,
	CR_RTP_DROP_LIST(CR_X)
#undef CR_X
	CR_RTP_E_MAX
};

/**
 * Parse an RTP header.
 * @return 0 or -CR_RTP_E_*.
 */
int cr_rtp_parse(const uint8_t *p, size_t len, struct cr_rtp_hdr *h);

/** 1 if the first two bytes look like RTCP (v2, packet type 200..207). */
static inline int
cr_rtcp_looks_like(const uint8_t *p, size_t len)
{
	return len >= 8 && (p[0] >> 6) == 2 && p[1] >= 200 && p[1] <= 207;
}

/** 1 if it may be RTP: version 2 and not an RTCP packet type. */
static inline int
cr_rtp_looks_like(const uint8_t *p, size_t len)
{
	if (len < 12 || (p[0] >> 6) != 2)
		return 0;
	uint8_t pt = p[1] & 0x7f;
	return !(pt >= 72 && pt <= 76); /* RTCP SR..APP with the marker bit */
}

/** Counts of a compound RTCP packet. */
struct cr_rtcp_info {
	uint8_t n_sr, n_rr, n_sdes, n_bye, n_app, n_other;
	uint32_t ssrc; /**< sender SSRC of the first report */
	uint8_t fraction_lost; /**< from the first report block, if any */
	int32_t cum_lost;
	uint32_t jitter; /**< first report block, in timestamp units */
};

/** Walk a compound RTCP packet. @return 0, or -EINVAL if malformed. */
int cr_rtcp_parse(const uint8_t *p, size_t len, struct cr_rtcp_info *info);

/** RFC 3551 clock rate of a static payload type, 0 if unknown or dynamic. */
uint32_t cr_rtp_static_clock(uint8_t pt);
/** RFC 3551 encoding name of a static payload type ("PCMU", ...), NULL if none. */
const char *cr_rtp_static_name(uint8_t pt);

/** Per-stream statistics, updated once per packet in arrival order. */
struct cr_rtp_stats {
	/* Wireshark-compatible part (what the stream records report; its
	 * sequence-error count and minimum/mean delta are not kept: nothing
	 * reported them, and every packet paid for them) */
	uint64_t packets;
	uint16_t start_seq, stop_seq;
	uint32_t seq_cycles;
	uint8_t under, first_done;
	uint8_t pt, reg_pt;
	uint32_t first_ts;	/**< RTP timestamp of the first packet */
	double last_nominal_ms; /**< RTP time of the last in-time packet with a clock */
	double t_last_ms;	/**< arrival of the last in-time packet, ms since t0 */
	int64_t t0_ns;	   /**< arrival of the first packet */
	double jitter_ms, max_jitter_ms, mean_jitter_ms;
	double delta_ms, max_delta_ms;
	uint32_t clock_rate; /**< last clock rate used for jitter */
	/* RFC 3550 part, independent of the above */
	uint32_t max_seq_ext; /**< highest extended sequence number */
	uint64_t out_of_order, duplicates;
	uint64_t win[8]; /**< seen-bitmap of the last 512 sequence numbers */
	uint64_t payload_bytes;
	int64_t first_ns, last_ns;
};

/** Flags describing a packet to cr_rtp_stats_update(). */
struct cr_rtp_pkt_meta {
	int64_t t_ns;	     /**< arrival time (packet time) */
	uint32_t clock_rate; /**< 0: do not compute jitter (unknown, events, CN) */
	uint8_t is_cn;	     /**< comfort noise payload */
};

void cr_rtp_stats_init(struct cr_rtp_stats *s);
void cr_rtp_stats_update(struct cr_rtp_stats *s, const struct cr_rtp_hdr *h,
			 const struct cr_rtp_pkt_meta *m);
/** Expected minus received, as Wireshark reports it (negative: duplicates). */
int64_t cr_rtp_stats_lost(const struct cr_rtp_stats *s);

/** RFC 4733 telephone-event payload. */
struct cr_rtp_event {
	uint8_t event, end, volume;
	uint16_t duration;
};
/** @return 0 or -EINVAL (shorter than 4 bytes). */
int cr_rtp_event_parse(const uint8_t *p, size_t len, struct cr_rtp_event *ev);
/** '0'..'9', '*', '#', 'A'..'D', 'F' (flash), or '?' for other events. */
char cr_rtp_event_char(uint8_t event);

/**
 * ITU-T G.107 E-model, simplified to what a passive probe sees: codec
 * impairment Ie and robustness Bpl per codec (G.113 Appendix I), random loss,
 * and a delay term from the jitter buffer a receiver would need.
 * @param codec     encoding name as in SDP ("PCMU", "G729", ...), may be NULL
 * @param loss_pct  packet loss in percent (0..100)
 * @param jitter_ms mean interarrival jitter
 * @param r_out     optional: the R factor
 * @return MOS-CQE in [1, 4.5]
 */
double cr_emodel_mos(const char *codec, double loss_pct, double jitter_ms, double *r_out);

/**
 * A receiver's fixed playout buffer, simulated: a packet arriving more than
 * buffer_ms after the earliest transit seen (arrival minus RTP time) would be
 * discarded by it; a packet a second or more late re-anchors the buffer (a
 * pause, hold or timestamp jump, as receivers do). Discards count as loss in
 * the E-model (G.107 Ppl).
 */
struct cr_jb {
	int64_t ts_ext;	     /**< extended RTP timestamp of the last packet */
	uint32_t last_ts;
	uint8_t init;
	int64_t min_transit_ns;
	uint64_t discards;
};
void cr_jb_update(struct cr_jb *j, uint32_t ts, int64_t t_ns, uint32_t clock, uint32_t buffer_ms);

/**
 * Whether a G.711 payload is silence (mean magnitude of every 4th sample
 * under about -50 dBov). pt: 0 PCMU, 8 PCMA; other PTs: -1 (cannot tell).
 */
int cr_g711_silent(uint8_t pt, const uint8_t *p, uint32_t n);

#endif /* CR_RTP_H */
