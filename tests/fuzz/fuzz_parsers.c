/* SPDX-License-Identifier: BSD-3-Clause */
/* One fuzz entry per parser, selected at build time by CR_FUZZ_TARGET:
 * 1 L2-L4, 2 SIP (UDP and TCP framing), 3 SDP, 4 RTP/RTCP (+ stats, events).
 * Built for libFuzzer with clang (-Dfuzz=true), or with replay_main.c as a
 * plain program that replays a corpus (what CI does on every run). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cr_pkt.h"
#include "cr_rtp.h"
#include "cr_sdp.h"
#include "cr_sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
#if CR_FUZZ_TARGET == 1
	static const int links[] = {CR_LINK_ETHERNET, CR_LINK_LINUX_SLL, CR_LINK_LINUX_SLL2,
				    CR_LINK_RAW};
	struct cr_pkt p;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (cr_pkt_parse(d, n, links[i], &p) == 0 && p.payload_off + p.payload_len > n)
			__builtin_trap(); /* payload must lie inside the frame */
#elif CR_FUZZ_TARGET == 2
	struct cr_sip_msg m;
	for (int stream = 0; stream < 2; stream++) {
		if (cr_sip_parse((const char *)d, n, stream, "X-Record", &m) == 0) {
			if (m.msg_len > n)
				__builtin_trap();
			struct cr_str sdp;
			(void)cr_sip_find_sdp(&m, &sdp);
			uint32_t dur;
			(void)cr_sip_info_dtmf(&m, &dur);
			(void)cr_sip_uri_user(m.from);
		}
	}
	(void)cr_sip_looks_like((const char *)d, n);
#elif CR_FUZZ_TARGET == 3
	struct cr_sdp s;
	(void)cr_sdp_parse((const char *)d, n, &s);
#elif CR_FUZZ_TARGET == 4
	struct cr_rtp_hdr h;
	struct cr_rtcp_info ri;
	static struct cr_rtp_stats st;
	if (cr_rtp_parse(d, n, &h) == 0) {
		if (h.hdr_len + h.payload_len > n)
			__builtin_trap();
		struct cr_rtp_pkt_meta meta = {.t_ns = (int64_t)h.ts * 1000, .clock_rate = 8000};
		cr_rtp_stats_update(&st, &h, &meta);
		struct cr_rtp_event ev;
		(void)cr_rtp_event_parse(d + h.hdr_len, h.payload_len, &ev);
	}
	(void)cr_rtcp_parse(d, n, &ri);
#endif
	return 0;
}
