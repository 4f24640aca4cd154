/* SPDX-License-Identifier: BSD-3-Clause */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "cr_pkt.h"
#include "cr_test.h"

/* Build Ethernet [+ tags] + IPv4 + UDP with a payload. */
static size_t
build_udp4(uint8_t *b, const uint16_t *tags, int ntags, uint16_t sport, uint16_t dport,
	   const char *pl)
{
	size_t o = 12, plen = strlen(pl);
	memset(b, 0, 12);
	for (int i = 0; i < ntags; i++) {
		b[o++] = tags[i] >> 8;
		b[o++] = tags[i] & 0xff;
		b[o++] = 0;
		b[o++] = (uint8_t)(100 + i);
	}
	b[o++] = 0x08;
	b[o++] = 0x00;
	uint8_t *ip = b + o;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	uint16_t tot = (uint16_t)(20 + 8 + plen);
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	uint8_t *u = ip + 20;
	u[0] = sport >> 8;
	u[1] = sport & 0xff;
	u[2] = dport >> 8;
	u[3] = dport & 0xff;
	u[4] = (uint8_t)((8 + plen) >> 8);
	u[5] = (uint8_t)((8 + plen) & 0xff);
	u[6] = u[7] = 0;
	memcpy(u + 8, pl, plen);
	return o + 28 + plen;
}

int
main(void)
{
	uint8_t b[256];
	struct cr_pkt p;

	size_t n = build_udp4(b, NULL, 0, 5060, 5062, "hello");
	CHECK_EQ(cr_pkt_parse(b, n, CR_LINK_ETHERNET, &p), 0);
	CHECK_EQ(p.ip_ver, 4);
	CHECK_EQ(p.l4_proto, IPPROTO_UDP);
	CHECK_EQ(p.sport, 5060);
	CHECK_EQ(p.dport, 5062);
	CHECK_EQ(p.payload_len, 5);
	CHECK(memcmp(b + p.payload_off, "hello", 5) == 0);
	CHECK(cr_addr_is_v4(&p.src));
	char s[64];
	cr_addr_port_fmt(s, sizeof(s), &p.src, p.sport);
	CHECK(strcmp(s, "10.0.0.1:5060") == 0);

	/* 802.1Q and QinQ */
	uint16_t q1[] = {0x8100}, q2[] = {0x88a8, 0x8100};
	n = build_udp4(b, q1, 1, 1000, 2000, "x");
	CHECK_EQ(cr_pkt_parse(b, n, CR_LINK_ETHERNET, &p), 0);
	CHECK_EQ(p.n_vlan, 1);
	CHECK_EQ(p.vlan[0], 100);
	n = build_udp4(b, q2, 2, 1000, 2000, "x");
	CHECK_EQ(cr_pkt_parse(b, n, CR_LINK_ETHERNET, &p), 0);
	CHECK_EQ(p.n_vlan, 2);
	CHECK_EQ(p.vlan[1], 101);
	CHECK_EQ(p.sport, 1000);

	/* every truncation of a valid frame is rejected with a reason, never read past */
	n = build_udp4(b, q2, 2, 1000, 2000, "payload");
	for (size_t cut = 0; cut < n - 7; cut++) {
		int r = cr_pkt_parse(b, cut, CR_LINK_ETHERNET, &p);
		CHECK(r < 0);
	}

	/* IPv4 fragment: flagged, not parsed as UDP */
	n = build_udp4(b, NULL, 0, 1, 2, "frag");
	b[14 + 6] = 0x20; /* MF */
	CHECK_EQ(cr_pkt_parse(b, n, CR_LINK_ETHERNET, &p), 0);
	CHECK_EQ(p.is_frag, 1);

	/* Linux SLL v1: 16-byte header, protocol at 14 */
	uint8_t sll[256];
	n = build_udp4(b, NULL, 0, 7000, 7002, "abc");
	memset(sll, 0, 16);
	sll[14] = 0x08;
	memcpy(sll + 16, b + 14, n - 14);
	CHECK_EQ(cr_pkt_parse(sll, n + 2, CR_LINK_LINUX_SLL, &p), 0);
	CHECK_EQ(p.sport, 7000);
	/* raw IP */
	CHECK_EQ(cr_pkt_parse(b + 14, n - 14, CR_LINK_RAW, &p), 0);
	CHECK_EQ(p.dport, 7002);

	/* IPv6 with a destination-options extension header, then UDP */
	uint8_t v6[128];
	memset(v6, 0, sizeof(v6));
	v6[12] = 0x86;
	v6[13] = 0xdd;
	uint8_t *ip6 = v6 + 14;
	ip6[0] = 0x60;
	ip6[4] = 0;
	ip6[5] = 8 + 8 + 2;
	ip6[6] = 60; /* dest opts */
	ip6[7] = 64;
	ip6[23] = 1;
	ip6[39] = 2;
	uint8_t *ext = ip6 + 40;
	ext[0] = IPPROTO_UDP;
	ext[1] = 0;
	uint8_t *u = ext + 8;
	u[0] = 0x13;
	u[1] = 0xc4; /* 5060 */
	u[3] = 9;
	u[5] = 10;
	u[8] = 'o';
	u[9] = 'k';
	CHECK_EQ(cr_pkt_parse(v6, 14 + 40 + 8 + 10, CR_LINK_ETHERNET, &p), 0);
	CHECK_EQ(p.ip_ver, 6);
	CHECK_EQ(p.sport, 5060);
	CHECK_EQ(p.payload_len, 2);
	/* IPv6 fragment header */
	ext[0] = 44;
	ip6[6] = 44;
	ext[0] = IPPROTO_UDP;
	ext[3] = 1; /* M flag */
	CHECK_EQ(cr_pkt_parse(v6, 14 + 40 + 8 + 10, CR_LINK_ETHERNET, &p), 0);
	CHECK_EQ(p.is_frag, 1);
	CHECK_EQ(p.frag_hdr_off, 14 + 40);

	/* ARP is not IP: a named reason */
	n = build_udp4(b, NULL, 0, 1, 2, "x");
	b[12] = 0x08;
	b[13] = 0x06;
	CHECK_EQ(cr_pkt_parse(b, n, CR_LINK_ETHERNET, &p), -CR_PKT_E_NOT_IP);
	CHECK(strcmp(cr_pkt_err_token(CR_PKT_E_NOT_IP), "NOT_IP") == 0);

	/* symmetric hash: both directions equal */
	struct cr_addr a, c;
	cr_addr_parse(&a, "192.0.2.1", 9);
	cr_addr_parse(&c, "2001:db8::1", 11);
	CHECK_EQ(cr_flow_hash_sym(&a, 4000, &c, 5000), cr_flow_hash_sym(&c, 5000, &a, 4000));
	CHECK(cr_flow_hash_sym(&a, 4000, &c, 5000) != cr_flow_hash_sym(&a, 4002, &c, 5000));
	TEST_DONE();
}
