/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_pkt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const char *const err_str[CR_PKT_E_MAX] = {
	[CR_PKT_OK] = "ok",
#define CR_X(n, s) [CR_PKT_E_##n] = s,
	CR_PKT_DROP_LIST(CR_X)
#undef CR_X
};

static const char *const err_tok[CR_PKT_E_MAX] = {
	[CR_PKT_OK] = "ok",
#define CR_X(n, s) [CR_PKT_E_##n] = #n,
	CR_PKT_DROP_LIST(CR_X)
#undef CR_X
};

const char *
cr_pkt_err_str(int err)
{
	if (err < 0)
		err = -err;
	return err < CR_PKT_E_MAX ? err_str[err] : "unknown";
}

const char *
cr_pkt_err_token(int err)
{
	if (err < 0)
		err = -err;
	return err < CR_PKT_E_MAX ? err_tok[err] : "UNKNOWN";
}

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
cr_addr_set_v4(struct cr_addr *a, const uint8_t v4[4])
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(&a->b[12], v4, 4);
}

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100
#define ETH_P_PPPOE_SESS 0x8864
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848

static int parse_l4(const uint8_t *d, size_t len, size_t off, size_t end, uint8_t proto,
		    struct cr_pkt *o);

static int
parse_ipv4(const uint8_t *d, size_t len, size_t off, struct cr_pkt *o)
{
	if (len < off + 20)
		return -CR_PKT_E_TRUNC_L3;
	const uint8_t *ip = d + off;
	if ((ip[0] >> 4) != 4)
		return -CR_PKT_E_BAD_IP_HDR;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20)
		return -CR_PKT_E_BAD_IP_HDR;
	if (len < off + ihl)
		return -CR_PKT_E_TRUNC_L3;
	size_t tot = rd16(ip + 2);
	if (tot < ihl)
		return -CR_PKT_E_BAD_IP_HDR;
	if (off + tot > len)
		return -CR_PKT_E_BAD_IP_LEN;
	o->ip_ver = 4;
	o->l3_len = (uint16_t)ihl;
	cr_addr_set_v4(&o->src, ip + 12);
	cr_addr_set_v4(&o->dst, ip + 16);
	uint16_t fo = rd16(ip + 6);
	uint8_t proto = ip[9];
	if ((fo & 0x3fff) != 0) { /* MF set or offset != 0 */
		o->is_frag = 1;
		o->l4_proto = (fo & 0x1fff) == 0 ? proto : 0;
		o->payload_off = (uint32_t)(off + ihl);
		o->payload_len = (uint32_t)(tot - ihl);
		return 0;
	}
	return parse_l4(d, len, off + ihl, off + tot, proto, o);
}

static int
parse_ipv6(const uint8_t *d, size_t len, size_t off, struct cr_pkt *o)
{
	if (len < off + 40)
		return -CR_PKT_E_TRUNC_L3;
	const uint8_t *ip = d + off;
	if ((ip[0] >> 4) != 6)
		return -CR_PKT_E_BAD_IP_HDR;
	size_t plen = rd16(ip + 4);
	size_t end = off + 40 + plen;
	if (plen == 0) /* jumbogram: not for VoIP; bound by capture */
		end = len;
	if (end > len)
		return -CR_PKT_E_BAD_IP_LEN;
	o->ip_ver = 6;
	memcpy(o->src.b, ip + 8, 16);
	memcpy(o->dst.b, ip + 24, 16);
	uint8_t nh = ip[6];
	size_t p = off + 40;
	/* Walk extension headers; bounded by the packet, each at least 8 bytes. */
	for (int guard = 0; guard < 16; guard++) {
		switch (nh) {
		case 0:	  /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
			if (p + 8 > end)
				return -CR_PKT_E_BAD_IPV6_EXT;
			nh = d[p];
			p += ((size_t)d[p + 1] + 1) * 8;
			if (p > end)
				return -CR_PKT_E_BAD_IPV6_EXT;
			continue;
		case 51: /* AH: length in 4-byte units minus 2 */
			if (p + 8 > end)
				return -CR_PKT_E_BAD_IPV6_EXT;
			nh = d[p];
			p += ((size_t)d[p + 1] + 2) * 4;
			if (p > end)
				return -CR_PKT_E_BAD_IPV6_EXT;
			continue;
		case 44: { /* fragment */
			if (p + 8 > end)
				return -CR_PKT_E_BAD_IPV6_EXT;
			uint16_t fo = rd16(d + p + 2);
			o->is_frag = 1;
			o->frag_hdr_off = (uint16_t)p;
			o->l4_proto = (fo & 0xfff8) == 0 ? d[p] : 0;
			o->l3_len = (uint16_t)(p + 8 - off);
			o->payload_off = (uint32_t)(p + 8);
			o->payload_len = (uint32_t)(end - (p + 8));
			return 0;
		}
		default:
			break;
		}
		break;
	}
	if (nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 51)
		return -CR_PKT_E_BAD_IPV6_EXT; /* too many extension headers */
	o->l3_len = (uint16_t)(p - off);
	return parse_l4(d, len, p, end, nh, o);
}

static int
parse_l4(const uint8_t *d, size_t len, size_t off, size_t end, uint8_t proto, struct cr_pkt *o)
{
	(void)len;
	o->l4_proto = proto;
	if (proto == IPPROTO_UDP) {
		if (off + 8 > end)
			return -CR_PKT_E_TRUNC_L4;
		const uint8_t *u = d + off;
		size_t ulen = rd16(u + 4);
		if (ulen < 8)
			return -CR_PKT_E_BAD_L4_LEN;
		if (off + ulen > end)
			return -CR_PKT_E_BAD_L4_LEN;
		o->sport = rd16(u);
		o->dport = rd16(u + 2);
		o->payload_off = (uint32_t)(off + 8);
		o->payload_len = (uint32_t)(ulen - 8);
		return 0;
	}
	if (proto == IPPROTO_TCP) {
		if (off + 20 > end)
			return -CR_PKT_E_TRUNC_L4;
		const uint8_t *t = d + off;
		size_t doff = (size_t)(t[12] >> 4) * 4;
		if (doff < 20 || off + doff > end)
			return -CR_PKT_E_BAD_L4_LEN;
		o->sport = rd16(t);
		o->dport = rd16(t + 2);
		o->tcp_seq = rd32(t + 4);
		o->tcp_flags = t[13];
		o->payload_off = (uint32_t)(off + doff);
		o->payload_len = (uint32_t)(end - off - doff);
		return 0;
	}
	return -CR_PKT_E_NOT_UDP_TCP;
}

static int
parse_ethertype(const uint8_t *d, size_t len, size_t off, uint16_t et, struct cr_pkt *o)
{
	/* 802.1Q / 802.1ad / old QinQ; any depth, the first two recorded. */
	for (int guard = 0; guard < 8; guard++) {
		if (et != ETH_P_8021Q && et != ETH_P_8021AD && et != ETH_P_QINQ1)
			break;
		if (len < off + 4)
			return -CR_PKT_E_TRUNC_L2;
		if (o->n_vlan < 2)
			o->vlan[o->n_vlan] = rd16(d + off) & 0x0fff;
		o->n_vlan++;
		et = rd16(d + off + 2);
		off += 4;
	}
	if (et == ETH_P_PPPOE_SESS) {
		/* ver/type(1) code(1) session(2) length(2), then the PPP protocol */
		if (len < off + 8)
			return -CR_PKT_E_TRUNC_L2;
		uint16_t proto = rd16(d + off + 6);
		off += 8;
		et = proto == 0x0021 ? ETH_P_IPV4 : proto == 0x0057 ? ETH_P_IPV6 : 0;
	} else if (et == ETH_P_MPLS_UC || et == ETH_P_MPLS_MC) {
		/* label stack down to bottom-of-stack, then IP by its version nibble */
		for (int guard = 0;; guard++) {
			if (len < off + 4 || guard > 8)
				return -CR_PKT_E_TRUNC_L2;
			int bos = d[off + 2] & 1;
			off += 4;
			if (bos)
				break;
		}
		if (len < off + 1)
			return -CR_PKT_E_TRUNC_L2;
		et = (d[off] >> 4) == 4 ? ETH_P_IPV4 : (d[off] >> 4) == 6 ? ETH_P_IPV6 : 0;
	}
	o->l2_len = (uint16_t)off;
	if (et == ETH_P_IPV4)
		return parse_ipv4(d, len, off, o);
	if (et == ETH_P_IPV6)
		return parse_ipv6(d, len, off, o);
	return -CR_PKT_E_NOT_IP;
}

static int
parse_raw(const uint8_t *d, size_t len, size_t off, struct cr_pkt *o)
{
	if (len < off + 1)
		return -CR_PKT_E_TRUNC_L3;
	o->l2_len = (uint16_t)off;
	switch (d[off] >> 4) {
	case 4:
		return parse_ipv4(d, len, off, o);
	case 6:
		return parse_ipv6(d, len, off, o);
	default:
		return -CR_PKT_E_NOT_IP;
	}
}

int
cr_pkt_parse(const uint8_t *d, size_t len, int link, struct cr_pkt *o)
{
	memset(o, 0, sizeof(*o));
	switch (link) {
	case CR_LINK_ETHERNET:
		if (len < 14)
			return -CR_PKT_E_TRUNC_L2;
		return parse_ethertype(d, len, 14, rd16(d + 12), o);
	case CR_LINK_LINUX_SLL:
		/* type(2) arphrd(2) addrlen(2) addr(8) protocol(2) */
		if (len < 16)
			return -CR_PKT_E_TRUNC_L2;
		return parse_ethertype(d, len, 16, rd16(d + 14), o);
	case CR_LINK_LINUX_SLL2:
		/* protocol(2) reserved(2) ifindex(4) arphrd(2) type(1) addrlen(1) addr(8) */
		if (len < 20)
			return -CR_PKT_E_TRUNC_L2;
		return parse_ethertype(d, len, 20, rd16(d), o);
	case CR_LINK_RAW:
		return parse_raw(d, len, 0, o);
	case CR_LINK_IPV4:
		o->l2_len = 0;
		return parse_ipv4(d, len, 0, o);
	case CR_LINK_IPV6:
		o->l2_len = 0;
		return parse_ipv6(d, len, 0, o);
	default:
		return -CR_PKT_E_BAD_LINKTYPE;
	}
}

int
cr_addr_fmt(char *buf, size_t size, const struct cr_addr *a)
{
	char tmp[INET6_ADDRSTRLEN];
	if (cr_addr_is_v4(a))
		inet_ntop(AF_INET, &a->b[12], tmp, sizeof(tmp));
	else
		inet_ntop(AF_INET6, a->b, tmp, sizeof(tmp));
	return snprintf(buf, size, "%s", tmp);
}

int
cr_addr_port_fmt(char *buf, size_t size, const struct cr_addr *a, uint16_t port)
{
	char tmp[INET6_ADDRSTRLEN];
	cr_addr_fmt(tmp, sizeof(tmp), a);
	if (cr_addr_is_v4(a))
		return snprintf(buf, size, "%s:%u", tmp, port);
	return snprintf(buf, size, "[%s]:%u", tmp, port);
}

int
cr_addr_parse(struct cr_addr *a, const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	uint8_t v4[4];
	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	if (inet_pton(AF_INET, tmp, v4) == 1) {
		cr_addr_set_v4(a, v4);
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, a->b) == 1)
		return 0;
	return -EINVAL;
}

/* Direction-free mix: order the two endpoints, then run a 64-bit mixer over
 * both. Cheap (about 10 ns) and independent of which side sent the packet. */
static inline uint64_t
mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

uint32_t
cr_flow_hash_sym(const struct cr_addr *a, uint16_t pa, const struct cr_addr *b, uint16_t pb)
{
	int c = memcmp(a->b, b->b, 16);
	if (c > 0 || (c == 0 && pa > pb)) {
		const struct cr_addr *t = a;
		a = b;
		b = t;
		uint16_t tp = pa;
		pa = pb;
		pb = tp;
	}
	uint64_t w[4], h = 0;
	memcpy(w, a->b, 16);
	memcpy(w + 2, b->b, 16);
	for (int i = 0; i < 4; i++)
		h = mix64(h, w[i]);
	h = mix64(h, (uint64_t)pa << 16 | pb);
	return (uint32_t)(h ^ (h >> 32));
}
