/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * SIP message parser (RFC 3261): start line, the headers a recorder needs
 * (long and compact forms, folded lines), Content-Length framing for stream
 * transports, multipart bodies.
 *
 * Zero-copy: every struct cr_str points into the caller's buffer, which must
 * outlive the parsed message. Pure functions, no allocation, thread-safe.
 */
#ifndef CR_SIP_H
#define CR_SIP_H

#include <stddef.h>
#include <stdint.h>

/** A byte range inside the parsed buffer; not NUL-terminated. */
struct cr_str {
	const char *p;
	uint32_t len;
};

#define CR_SIP_DROP_LIST(X)                                                              \
	X(SIP_NOT_SIP, "not a SIP start line")                                          \
	X(SIP_BAD_START, "malformed SIP start line")                                    \
	X(SIP_BAD_HEADER, "malformed SIP header")                                       \
	X(SIP_NO_CALLID, "SIP message without Call-ID")                                 \
	X(SIP_BAD_CSEQ, "malformed or missing CSeq")                                    \
	X(SIP_BAD_CLEN, "malformed Content-Length")                                     \
	X(SIP_TOO_LONG, "SIP message exceeds buffer")

enum cr_sip_err {
	CR_SIP_OK = 0,
#define CR_X(n, s) CR_SIP_E_##n,
	CR_SIP_DROP_LIST(CR_X)
#undef CR_X
	CR_SIP_E_MAX
};

enum cr_sip_method {
	CR_SIP_M_UNKNOWN = 0,
	CR_SIP_M_INVITE,
	CR_SIP_M_ACK,
	CR_SIP_M_BYE,
	CR_SIP_M_CANCEL,
	CR_SIP_M_REGISTER,
	CR_SIP_M_OPTIONS,
	CR_SIP_M_PRACK,
	CR_SIP_M_UPDATE,
	CR_SIP_M_INFO,
	CR_SIP_M_SUBSCRIBE,
	CR_SIP_M_NOTIFY,
	CR_SIP_M_REFER,
	CR_SIP_M_MESSAGE,
	CR_SIP_M_PUBLISH,
};

struct cr_sip_msg {
	uint8_t is_request;
	uint8_t method;	     /**< enum cr_sip_method (request) */
	uint8_t cseq_method; /**< enum cr_sip_method of CSeq */
	uint16_t status;     /**< response code */
	uint32_t cseq;
	struct cr_str method_str, ruri, reason;
	struct cr_str call_id, from, to, from_tag, to_tag, from_uri, to_uri;
	struct cr_str content_type, body;
	struct cr_str x_record; /**< value of the configured recording-control header */
	int32_t content_length; /**< -1 when absent */
	uint32_t msg_len;	/**< bytes consumed: headers + body */
};

/**
 * Parse one SIP message at the start of buf.
 * @param stream  1 for TCP: the body length comes from Content-Length (required),
 *                and an incomplete message returns -EAGAIN.
 *                0 for UDP: the body is the rest of the datagram (Content-Length,
 *                if present, may shorten it).
 * @param ctl_hdr name of an extra header to capture into x_record (NULL: none)
 * @return 0, -EAGAIN (stream: need more bytes), or -CR_SIP_E_* (drop reason).
 */
int cr_sip_parse(const char *buf, size_t len, int stream, const char *ctl_hdr,
		 struct cr_sip_msg *m);

/** Quick check that a buffer starts like a SIP message (for classification). */
int cr_sip_looks_like(const char *buf, size_t len);

/** The user part of a SIP/SIPS/TEL URI or name-addr ("Bob" <sip:bob@h>): "bob". */
struct cr_str cr_sip_uri_user(struct cr_str uri);

/**
 * Find the SDP in a body: the body itself for application/sdp, or the
 * application/sdp part of a multipart body.
 * @return 0 and sets *sdp, or -ENOENT.
 */
int cr_sip_find_sdp(const struct cr_sip_msg *m, struct cr_str *sdp);

/**
 * DTMF digits carried by SIP INFO (application/dtmf-relay "Signal=5" or
 * application/dtmf "5"). @return the digit, or 0 if none.
 */
char cr_sip_info_dtmf(const struct cr_sip_msg *m, uint32_t *duration_ms);

/** Method name to enum. */
int cr_sip_method_from(const char *p, size_t len);
/** Enum to name. */
const char *cr_sip_method_name(int method);
const char *cr_sip_err_token(int err);

/** Case-insensitive compare of a cr_str with a C string. */
int cr_str_ieq(struct cr_str s, const char *c);

#endif /* CR_SIP_H */
