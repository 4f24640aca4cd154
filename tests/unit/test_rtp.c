/* SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cr_rtp.h"
#include "cr_test.h"

static void
mk(uint8_t *b, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	b[0] = 0x80;
	b[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	b[2] = seq >> 8;
	b[3] = seq & 0xff;
	b[4] = ts >> 24;
	b[5] = (ts >> 16) & 0xff;
	b[6] = (ts >> 8) & 0xff;
	b[7] = ts & 0xff;
	b[8] = ssrc >> 24;
	b[9] = (ssrc >> 16) & 0xff;
	b[10] = (ssrc >> 8) & 0xff;
	b[11] = ssrc & 0xff;
}

static void
feed(struct cr_rtp_stats *s, uint16_t seq, uint32_t ts, int64_t t_ns)
{
	uint8_t b[172];
	memset(b, 0xff, sizeof(b));
	mk(b, 0, 0, seq, ts, 42);
	struct cr_rtp_hdr h;
	CHECK_EQ(cr_rtp_parse(b, sizeof(b), &h), 0);
	struct cr_rtp_pkt_meta m = {.t_ns = t_ns, .clock_rate = 8000};
	cr_rtp_stats_update(s, &h, &m);
}

int
main(void)
{
	uint8_t b[64];
	struct cr_rtp_hdr h;
	mk(b, 8, 1, 1000, 160, 0xdeadbeef);
	CHECK_EQ(cr_rtp_parse(b, 20, &h), 0);
	CHECK_EQ(h.pt, 8);
	CHECK_EQ(h.marker, 1);
	CHECK_EQ(h.seq, 1000);
	CHECK_EQ(h.ssrc, 0xdeadbeef);
	CHECK_EQ(h.payload_len, 8);
	CHECK_EQ(cr_rtp_parse(b, 11, &h), -CR_RTP_E_RTP_SHORT);
	b[0] = 0x40;
	CHECK_EQ(cr_rtp_parse(b, 20, &h), -CR_RTP_E_RTP_VERSION);
	b[0] = 0x90; /* extension bit with no room for it */
	CHECK_EQ(cr_rtp_parse(b, 12, &h), -CR_RTP_E_RTP_BAD_EXT);
	b[0] = 0xa0; /* padding larger than the packet */
	b[19] = 200;
	CHECK_EQ(cr_rtp_parse(b, 20, &h), -CR_RTP_E_RTP_BAD_PADDING);
	b[0] = 0x83; /* 3 CSRCs need 24 bytes */
	CHECK_EQ(cr_rtp_parse(b, 20, &h), -CR_RTP_E_RTP_SHORT);

	/* perfect 20 ms stream: no loss, zero jitter */
	struct cr_rtp_stats s;
	cr_rtp_stats_init(&s);
	for (int i = 0; i < 100; i++)
		feed(&s, (uint16_t)(65500 + i), (uint32_t)(i * 160), (int64_t)i * 20000000);
	CHECK_EQ(s.packets, 100);
	CHECK_EQ(cr_rtp_stats_lost(&s), 0); /* across the 16-bit wrap */
	CHECK(s.max_jitter_ms < 1e-9);

	/* loss: skip 3 packets; constant 5 ms late arrival on one packet */
	cr_rtp_stats_init(&s);
	for (int i = 0; i < 50; i++) {
		if (i >= 10 && i < 13)
			continue;
		int64_t t = (int64_t)i * 20000000 + (i == 30 ? 5000000 : 0);
		feed(&s, (uint16_t)i, (uint32_t)(i * 160), t);
	}
	CHECK_EQ(s.packets, 47);
	CHECK_EQ(cr_rtp_stats_lost(&s), 3);
	/* RFC 3550: J += (|D| - J)/16: the late packet moves J to 5/16 ms, the
	 * next one (early by 5 ms relative) to 5/16*15/16 + 5/16 */
	double j1 = 5.0 / 16, j2 = j1 * 15 / 16 + 5.0 / 16;
	CHECK(fabs(s.max_jitter_ms - j2) < 1e-6);

	/* duplicates and reordering */
	cr_rtp_stats_init(&s);
	feed(&s, 1, 160, 0);
	feed(&s, 3, 480, 40000000);
	feed(&s, 2, 320, 41000000); /* late */
	feed(&s, 3, 480, 42000000); /* duplicate */
	feed(&s, 4, 640, 60000000);
	CHECK_EQ(s.out_of_order, 1);
	CHECK_EQ(s.duplicates, 1);
	CHECK_EQ(s.packets, 5);
	CHECK_EQ(cr_rtp_stats_lost(&s), -1); /* expected 4, received 5: tshark's convention */

	/* RTCP compound: SR with one report block + SDES */
	uint8_t rc[64];
	memset(rc, 0, sizeof(rc));
	rc[0] = 0x81;
	rc[1] = 200;
	rc[3] = 12; /* 13 words = 52 bytes */
	rc[4] = 0x11;
	rc[28 + 4] = 25; /* fraction lost */
	rc[28 + 7] = 7;	 /* cumulative lost */
	rc[52] = 0x81;
	rc[53] = 202;
	rc[55] = 1;
	struct cr_rtcp_info ri;
	CHECK_EQ(cr_rtcp_parse(rc, 60, &ri), 0);
	CHECK_EQ(ri.n_sr, 1);
	CHECK_EQ(ri.n_sdes, 1);
	CHECK_EQ(ri.fraction_lost, 25);
	CHECK_EQ(ri.cum_lost, 7);
	CHECK(cr_rtcp_parse(rc, 40, &ri) < 0); /* truncated */
	CHECK(cr_rtcp_looks_like(rc, 60));
	CHECK(!cr_rtp_looks_like(rc, 60));

	/* RFC 4733 event */
	uint8_t ev[4] = {11, 0x80 | 10, 0x03, 0xc0};
	struct cr_rtp_event e;
	CHECK_EQ(cr_rtp_event_parse(ev, 4, &e), 0);
	CHECK_EQ(cr_rtp_event_char(e.event), '#');
	CHECK_EQ(e.end, 1);
	CHECK_EQ(e.duration, 960);

	/* E-model: clean G.711 is excellent, 10% loss is poor, G.729 below G.711 */
	double mos711 = cr_emodel_mos("PCMU", 0, 1, NULL);
	CHECK(mos711 > 4.3 && mos711 <= 4.5);
	/* G.113: G.711 with PLC (Bpl 25.1) at 10 % random loss is R ~64, MOS ~3.3 */
	double m10 = cr_emodel_mos("PCMU", 10, 1, NULL);
	CHECK(m10 > 3.0 && m10 < 3.6);
	CHECK(cr_emodel_mos("PCMU", 20, 1, NULL) < 3.0);
	CHECK(cr_emodel_mos("G729", 0, 1, NULL) < mos711);

	/* simulated 60 ms playout buffer: steady stream, one 100 ms late packet,
	 * an early one (new anchor), a 5 s pause with a timestamp jump (re-anchor) */
	struct cr_jb jb;
	memset(&jb, 0, sizeof(jb));
	int64_t t = 1000000000LL;
	for (int i = 0; i < 50; i++)
		cr_jb_update(&jb, (uint32_t)i * 160, t + i * 20000000LL, 8000, 60);
	CHECK_EQ(jb.discards, 0);
	cr_jb_update(&jb, 50 * 160, t + 50 * 20000000LL + 100000000LL, 8000, 60);
	CHECK_EQ(jb.discards, 1);
	cr_jb_update(&jb, 51 * 160, t + 51 * 20000000LL + 50000000LL, 8000, 60);
	CHECK_EQ(jb.discards, 1); /* 50 ms late: inside the buffer */
	cr_jb_update(&jb, 52 * 160, t + 52 * 20000000LL - 5000000LL, 8000, 60);
	cr_jb_update(&jb, 53 * 160, t + 53 * 20000000LL + 58000000LL, 8000, 60);
	CHECK_EQ(jb.discards, 2); /* 63 ms behind the new, earlier anchor */
	cr_jb_update(&jb, 54 * 160, t + 54 * 20000000LL + 5000000000LL, 8000, 60);
	cr_jb_update(&jb, 55 * 160, t + 55 * 20000000LL + 5000000000LL, 8000, 60);
	CHECK_EQ(jb.discards, 2); /* re-anchored after the pause */
	struct cr_jb j0;
	memset(&j0, 0, sizeof(j0));
	cr_jb_update(&j0, 0, t, 0, 60); /* no clock: nothing */
	CHECK_EQ(j0.init, 0);

	/* G.711 silence: mu-law 0xFF and A-law 0xD5 are zero; a loud tone is not */
	uint8_t quiet_u[160], quiet_a[160], loud[160];
	memset(quiet_u, 0xFF, sizeof(quiet_u));
	memset(quiet_a, 0xD5, sizeof(quiet_a));
	for (int i = 0; i < 160; i++)
		loud[i] = (uint8_t)(i & 1 ? 0x80 : 0x00); /* near full scale, both signs */
	CHECK_EQ(cr_g711_silent(0, quiet_u, 160), 1);
	CHECK_EQ(cr_g711_silent(8, quiet_a, 160), 1);
	CHECK_EQ(cr_g711_silent(0, loud, 160), 0);
	CHECK_EQ(cr_g711_silent(8, loud, 160), 0);
	CHECK_EQ(cr_g711_silent(18, loud, 160), -1);
	CHECK_EQ(cr_g711_silent(0, loud, 2), -1);
	TEST_DONE();
}
