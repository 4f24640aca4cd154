/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * callrec packet classifier: link layer (Ethernet, 802.1Q/QinQ, PPPoE, MPLS,
 * Linux SLL v1/v2, raw IP) down to UDP/TCP payload.
 *
 * Pure functions of (const uint8_t *, size_t): no EAL, no globals, no allocation,
 * so unit tests and fuzzers link this module alone. Thread-safe (no state).
 * The parser never reads outside [data, data + len); anything it cannot accept
 * returns a negative CR_PKT_E_* reason that the caller counts.
 */
#ifndef CR_PKT_H
#define CR_PKT_H

#include <stddef.h>
#include <stdint.h>

/** Link types, numbered as LINKTYPE_* in pcap files. */
enum cr_linktype {
	CR_LINK_ETHERNET = 1,
	CR_LINK_RAW = 101,	 /**< raw IPv4/IPv6 */
	CR_LINK_LINUX_SLL = 113, /**< Linux cooked v1 */
	CR_LINK_IPV4 = 228,
	CR_LINK_IPV6 = 229,
	CR_LINK_LINUX_SLL2 = 276, /**< Linux cooked v2 */
};

/**
 * Why a packet was not classified. One list drives the enum, the names and the
 * telemetry, so a new reason is added in exactly one place.
 */
#define CR_PKT_DROP_LIST(X)                                                              \
	X(TRUNC_L2, "truncated link-layer header")                                     \
	X(BAD_LINKTYPE, "unsupported link type")                                       \
	X(NOT_IP, "not IPv4/IPv6")                                                     \
	X(TRUNC_L3, "truncated IP header")                                             \
	X(BAD_IP_HDR, "malformed IP header")                                           \
	X(BAD_IP_LEN, "IP length beyond capture")                                      \
	X(BAD_IPV6_EXT, "malformed IPv6 extension header")                             \
	X(NOT_UDP_TCP, "neither UDP nor TCP")                                          \
	X(TRUNC_L4, "truncated UDP/TCP header")                                        \
	X(BAD_L4_LEN, "malformed UDP/TCP length")

enum cr_pkt_err {
	CR_PKT_OK = 0,
#define CR_X(n, s) CR_PKT_E_##n,
	CR_PKT_DROP_LIST(CR_X)
#undef CR_X
	CR_PKT_E_MAX
};

/** Human name of a CR_PKT_E_* value (positive index), "ok" for 0. */
const char *cr_pkt_err_str(int err);
/** Short snake_case token of a CR_PKT_E_* value, for metric labels. */
const char *cr_pkt_err_token(int err);

/** An IP address in one 16-byte form: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d). */
struct cr_addr {
	uint8_t b[16];
};

/** Result of cr_pkt_parse(). Offsets are from the start of the frame. */
struct cr_pkt {
	uint8_t ip_ver;	  /**< 4 or 6 */
	uint8_t l4_proto; /**< IPPROTO_UDP / IPPROTO_TCP; 0 for a non-first fragment */
	uint8_t is_frag;  /**< 1: an IP fragment, payload needs reassembly */
	uint8_t n_vlan;	  /**< VLAN tags seen (0..2 recorded) */
	uint16_t vlan[2];
	uint16_t l2_len; /**< bytes before the IP header */
	uint16_t l3_len; /**< IP header incl. IPv6 extension headers */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t tcp_seq;
	uint32_t payload_off; /**< L4 payload (or fragment data) offset */
	uint32_t payload_len;
	uint16_t frag_hdr_off; /**< IPv6 fragment header offset (is_frag && ip_ver 6) */
	struct cr_addr src, dst;
};

/**
 * Classify one frame.
 * @param data  frame bytes (not modified)
 * @param len   captured length
 * @param link  link type of the capture (enum cr_linktype)
 * @param out   filled on success; undefined on error
 * @return 0, or -CR_PKT_E_* (a drop reason)
 */
int cr_pkt_parse(const uint8_t *data, size_t len, int link, struct cr_pkt *out);

/** 1 if the address is IPv4-mapped. */
static inline int
cr_addr_is_v4(const struct cr_addr *a)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	for (int i = 0; i < 12; i++)
		if (a->b[i] != pfx[i])
			return 0;
	return 1;
}

/** Set an IPv4-mapped address from 4 network-order bytes. */
void cr_addr_set_v4(struct cr_addr *a, const uint8_t v4[4]);

/**
 * Format "ip:port" (IPv6 as "[ip]:port") into buf.
 * @return the length written (truncated to size-1), like snprintf.
 */
int cr_addr_port_fmt(char *buf, size_t size, const struct cr_addr *a, uint16_t port);
/** Format the address alone. */
int cr_addr_fmt(char *buf, size_t size, const struct cr_addr *a);
/** Parse a textual IPv4/IPv6 address. @return 0 or -EINVAL. */
int cr_addr_parse(struct cr_addr *a, const char *s, size_t len);

/**
 * Symmetric flow hash: the same value for (a:pa -> b:pb) and (b:pb -> a:pa), so
 * both directions of a media session are steered to the same worker. Same
 * result as the NIC's symmetric Toeplitz key would give in spirit (direction-free),
 * computed in software where the port cannot do RSS.
 */
uint32_t cr_flow_hash_sym(const struct cr_addr *a, uint16_t pa, const struct cr_addr *b,
			  uint16_t pb);

#endif /* CR_PKT_H */
