/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include "cr_sdp.h"
#include "cr_sip.h"
#include "cr_test.h"

static const char invite[] =
	"INVITE sip:bob@198.51.100.20 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK1\r\n"
	"f: \"Alice\" <sip:alice@198.51.100.10>;tag=a1\r\n"
	"t: <sip:bob@198.51.100.20>\r\n"
	"i: abc@host\r\n"
	"CSeq: 1 INVITE\r\n"
	"X-Long: first\r\n second\r\n"
	"c: multipart/mixed;boundary=\"b1\"\r\n"
	"l: 240\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: application/sdp\r\n"
	"\r\n"
	"v=0\r\n"
	"o=- 1 1 IN IP4 198.51.100.10\r\n"
	"s=-\r\n"
	"c=IN IP4 198.51.100.10\r\n"
	"t=0 0\r\n"
	"m=audio 4000 RTP/AVP 0 101\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=sendonly\r\n"
	"--b1--\r\n";

int
main(void)
{
	struct cr_sip_msg m;
	size_t len = strlen(invite);
	CHECK(cr_sip_looks_like(invite, len));
	CHECK_EQ(cr_sip_parse(invite, len, 0, NULL, &m), 0);
	CHECK_EQ(m.is_request, 1);
	CHECK_EQ(m.method, CR_SIP_M_INVITE);
	CHECK_STR(m.call_id, "abc@host");
	CHECK_STR(m.from_tag, "a1");
	CHECK_EQ(m.to_tag.len, 0);
	CHECK_STR(cr_sip_uri_user(m.from), "alice");
	CHECK_STR(cr_sip_uri_user(m.to), "bob");
	CHECK_EQ(m.cseq, 1);
	CHECK_EQ(m.cseq_method, CR_SIP_M_INVITE);
	struct cr_str sdp;
	CHECK_EQ(cr_sip_find_sdp(&m, &sdp), 0);
	struct cr_sdp d;
	CHECK_EQ(cr_sdp_parse(sdp.p, sdp.len, &d), 0);
	CHECK_EQ(d.n_media, 1);
	CHECK_EQ(d.media[0].port, 4000);
	CHECK_EQ(d.media[0].dir, CR_SDP_SENDONLY);
	CHECK_EQ(d.media[0].n_fmt, 2);
	CHECK(strcmp(d.media[0].fmt[0].enc, "PCMU") == 0);
	CHECK_EQ(d.media[0].fmt[0].clock_rate, 8000);
	CHECK(strcmp(d.media[0].fmt[1].enc, "telephone-event") == 0);

	/* TCP framing: two messages back to back, the second incomplete */
	static const char two[] = "SIP/2.0 200 OK\r\ni: x\r\nCSeq: 2 BYE\r\nContent-Length: 4\r\n\r\nabcd"
				  "BYE sip:a@b SIP/2.0\r\ni: x\r\nCSeq: 3 BYE\r\nl: 10\r\n\r\n12345";
	CHECK_EQ(cr_sip_parse(two, strlen(two), 1, NULL, &m), 0);
	CHECK_EQ(m.status, 200);
	CHECK_EQ(m.msg_len, strlen(two) - strlen("BYE sip:a@b SIP/2.0\r\ni: x\r\nCSeq: 3 BYE\r\nl: 10\r\n\r\n12345"));
	CHECK_EQ(cr_sip_parse(two + m.msg_len, strlen(two) - m.msg_len, 1, NULL, &m), -EAGAIN);
	/* every prefix of a TCP message is either incomplete or an error, never out of bounds */
	for (size_t i = 0; i < len; i++) {
		int r = cr_sip_parse(invite, i, 1, NULL, &m);
		CHECK(r == -EAGAIN || r < 0);
	}
	/* malformed */
	CHECK(cr_sip_parse("HELLO WORLD\r\n\r\n", 15, 0, NULL, &m) < 0);
	CHECK_EQ(cr_sip_parse("SIP/2.0 999 X\r\ni: a\r\nCSeq: 1 INVITE\r\n\r\n", 38, 0, NULL, &m),
		 -CR_SIP_E_SIP_BAD_START);
	CHECK_EQ(cr_sip_parse("BYE sip:a SIP/2.0\r\nCSeq: 1 BYE\r\n\r\n", 33, 0, NULL, &m),
		 -CR_SIP_E_SIP_NO_CALLID);
	/* regression (fuzzer, UBSan): no From header, then asking for its user */
	CHECK_EQ(cr_sip_parse("BYE sip:a SIP/2.0\r\ni: z\r\nCSeq: 1 BYE\r\n\r\n", 39, 0, NULL, &m), 0);
	CHECK_EQ(cr_sip_uri_user(m.from).len, 0);
	CHECK_EQ(cr_sip_uri_user(m.to).len, 0);
	/* SIP INFO DTMF */
	static const char info[] = "INFO sip:a@b SIP/2.0\r\ni: x\r\nCSeq: 5 INFO\r\n"
				   "Content-Type: application/dtmf-relay\r\n\r\nSignal=#\r\nDuration=250\r\n";
	CHECK_EQ(cr_sip_parse(info, strlen(info), 0, NULL, &m), 0);
	uint32_t dur = 0;
	CHECK_EQ(cr_sip_info_dtmf(&m, &dur), '#');
	CHECK_EQ(dur, 250);
	/* tel: URI user */
	struct cr_str tel = {"<tel:+4930123;phone-context=x>", 30};
	CHECK_STR(cr_sip_uri_user(tel), "+4930123");

	/* SDP: hold, IPv6, several m= lines, session-level direction */
	static const char s2[] = "v=0\r\nc=IN IP6 2001:db8::5\r\na=recvonly\r\nm=audio 5000 RTP/SAVP 8\r\n"
				 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"
				 "m=video 0 RTP/AVP 96\r\nm=image 6000 udptl t38\r\n"
				 "m=audio 7000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n";
	CHECK_EQ(cr_sdp_parse(s2, strlen(s2), &d), 0);
	CHECK_EQ(d.n_media, 4);
	CHECK_EQ(d.media[0].is_srtp, 1);
	CHECK_EQ(d.media[0].dir, CR_SDP_RECVONLY);
	CHECK_EQ(cr_addr_is_v4(&d.media[0].addr), 0);
	CHECK_EQ(d.media[1].port, 0);
	CHECK_EQ(d.media[2].type, CR_SDP_IMAGE);
	CHECK_EQ(d.media[2].is_rtp, 0);
	CHECK_EQ(d.media[3].hold, 1);
	CHECK(cr_sdp_parse("x=1\r\n", 5, &d) < 0);
	/* every prefix parses or fails cleanly */
	for (size_t i = 0; i < strlen(s2); i++)
		(void)cr_sdp_parse(s2, i, &d);
	TEST_DONE();
}
