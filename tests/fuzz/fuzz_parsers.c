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
#include "cr_index.h"
#include "cr_crypt.h"
#include "cr_store.h"
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
#elif CR_FUZZ_TARGET == 5
	/* what fsck and export do with the chunks of a block whose CRC was good:
	 * a corrupt or hostile store gets errors, never a read out of bounds */
	const uint8_t *p = d, *end = d + n;
	static union {
		struct cr_call call;
		struct cr_stream_rec stream;
		struct cr_loss_rec loss;
	} rec;
	while (p < end) {
		int kind = cr_chunk_kind(p, (size_t)(end - p)), len = -1;
		if (kind == 1) {
			struct cr_chunk_reader rd;
			struct cr_frame f;
			len = cr_chunk_open(&rd, p, (size_t)(end - p));
			while (len > 0 && cr_chunk_next(&rd, &f) == 1)
				if (f.payload < p || f.payload + f.plen > p + len)
					__builtin_trap();
		} else if (kind == 2) {
			const uint8_t *body;
			uint32_t bl;
			len = cr_meta_chunk_open(p, (size_t)(end - p), &body, &bl);
			if (len > 0)
				(void)cr_rec_decode((const char *)body, bl, &rec, sizeof(rec));
		}
		if (len <= 0)
			break;
		p += len;
	}
	(void)cr_rec_decode((const char *)d, n, &rec, sizeof(rec));
	static uint8_t out[1 << 16];
	uint32_t rl;
	uint16_t nc;
	if (cr_block_peek(d, n, &rl, &nc) > 0)
		(void)cr_block_decode(d, n, out, sizeof(out));
	/* encrypted blocks: open with a fixed key (a copy: unseal works in place) */
	static uint8_t blk[1 << 16];
	static struct cr_dkey dk;
	if (n <= sizeof(blk) && cr_block_peek(d, n, &rl, &nc) > 0) {
		memcpy(blk, d, n);
		int u = cr_block_unseal(blk, n, &dk, 4096);
		if (u > 0)
			(void)cr_block_decode(blk, (size_t)u, out, sizeof(out));
	}
	/* key slots and index fields */
	if (n >= CR_KSLOT_LEN) {
		static struct cr_keyring kr = {.n = 1};
		kr.k[0].id = cr_kslot_key_id(d);
		struct cr_dkey o = {{0}, NULL};
		(void)cr_kslot_unwrap(d, &kr, &o, d, n > 160 ? 64 : 0);
		cr_dkey_wipe(&o);
	}
	static char txt[1024], val[1024];
	static struct cr_fieldkey fk;
	if (fk.mode == CR_PII_PLAIN)
		cr_fieldkey_init(&fk, CR_PII_ENCRYPT, (const uint8_t[32]){1});
	size_t tl = n < sizeof(txt) - 1 ? n : sizeof(txt) - 1;
	memcpy(txt, d, tl);
	txt[tl] = 0;
	(void)cr_field_reveal(&fk, txt, val, sizeof(val));
#endif
	return 0;
}
