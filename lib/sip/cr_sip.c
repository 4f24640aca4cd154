/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_sip.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static const char *const err_tok[CR_SIP_E_MAX] = {
	[CR_SIP_OK] = "OK",
#define CR_X(n, s) [CR_SIP_E_##n] = #n,
	CR_SIP_DROP_LIST(CR_X)
#undef CR_X
};

const char *
cr_sip_err_token(int err)
{
	if (err < 0)
		err = -err;
	return err < CR_SIP_E_MAX ? err_tok[err] : "UNKNOWN";
}

static const char *const method_names[] = {
	[CR_SIP_M_UNKNOWN] = "UNKNOWN", [CR_SIP_M_INVITE] = "INVITE",
	[CR_SIP_M_ACK] = "ACK",		[CR_SIP_M_BYE] = "BYE",
	[CR_SIP_M_CANCEL] = "CANCEL",	[CR_SIP_M_REGISTER] = "REGISTER",
	[CR_SIP_M_OPTIONS] = "OPTIONS", [CR_SIP_M_PRACK] = "PRACK",
	[CR_SIP_M_UPDATE] = "UPDATE",	[CR_SIP_M_INFO] = "INFO",
	[CR_SIP_M_SUBSCRIBE] = "SUBSCRIBE", [CR_SIP_M_NOTIFY] = "NOTIFY",
	[CR_SIP_M_REFER] = "REFER",	[CR_SIP_M_MESSAGE] = "MESSAGE",
	[CR_SIP_M_PUBLISH] = "PUBLISH",
};

const char *
cr_sip_method_name(int m)
{
	if (m < 0 || m > CR_SIP_M_PUBLISH)
		return "UNKNOWN";
	return method_names[m];
}

int
cr_sip_method_from(const char *p, size_t len)
{
	for (int i = 1; i <= CR_SIP_M_PUBLISH; i++)
		if (strlen(method_names[i]) == len && memcmp(method_names[i], p, len) == 0)
			return i;
	return CR_SIP_M_UNKNOWN;
}

int
cr_str_ieq(struct cr_str s, const char *c)
{
	size_t n = strlen(c);
	return s.len == n && strncasecmp(s.p, c, n) == 0;
}

static inline int
is_token_char(unsigned char c)
{
	return isalnum(c) || strchr("-.!%*_+`'~", c) != NULL;
}

int
cr_sip_looks_like(const char *b, size_t len)
{
	if (len >= 8 && memcmp(b, "SIP/2.0 ", 8) == 0)
		return 1;
	/* METHOD SP Request-URI SP SIP/2.0 */
	size_t i = 0;
	while (i < len && i < 16 && b[i] >= 'A' && b[i] <= 'Z')
		i++;
	if (i < 3 || i >= len || b[i] != ' ')
		return 0;
	const char *eol = memchr(b, '\n', len < 1024 ? len : 1024);
	if (eol == NULL)
		return 0;
	size_t l = (size_t)(eol - b);
	if (l > 0 && b[l - 1] == '\r')
		l--;
	return l >= 8 && memcmp(b + l - 7, "SIP/2.0", 7) == 0;
}

static struct cr_str
trim(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	return (struct cr_str){p, (uint32_t)(e - p)};
}

/* Find the ;tag= parameter outside the <...> of a name-addr. */
static struct cr_str
find_tag(struct cr_str v)
{
	const char *p = v.p, *e = v.p + v.len;
	const char *gt = NULL;
	for (const char *q = p; q < e; q++)
		if (*q == '>')
			gt = q;
	const char *s = gt ? gt + 1 : p;
	while (s < e) {
		const char *semi = memchr(s, ';', (size_t)(e - s));
		if (semi == NULL)
			break;
		s = semi + 1;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (e - s > 4 && strncasecmp(s, "tag", 3) == 0) {
			const char *q = s + 3;
			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
			if (q < e && *q == '=') {
				q++;
				while (q < e && (*q == ' ' || *q == '\t'))
					q++;
				const char *te = q;
				while (te < e && *te != ';' && *te != ' ' && *te != '\t' &&
				       *te != '\r' && *te != ',')
					te++;
				return (struct cr_str){q, (uint32_t)(te - q)};
			}
		}
	}
	return (struct cr_str){NULL, 0};
}

/* The URI of a name-addr / addr-spec: inside <> if present, else up to ';'. */
static struct cr_str
find_uri(struct cr_str v)
{
	if (v.p == NULL) /* header absent */
		return v;
	const char *p = v.p, *e = v.p + v.len;
	const char *lt = memchr(p, '<', v.len);
	if (lt) {
		const char *gt = memchr(lt, '>', (size_t)(e - lt));
		if (gt)
			return (struct cr_str){lt + 1, (uint32_t)(gt - lt - 1)};
	}
	const char *q = p;
	while (q < e && *q != ';' && *q != ' ')
		q++;
	return (struct cr_str){p, (uint32_t)(q - p)};
}

struct cr_str
cr_sip_uri_user(struct cr_str v)
{
	struct cr_str u = find_uri(v);
	if (u.p == NULL)
		return u;
	const char *p = u.p, *e = u.p + u.len;
	const char *c = memchr(p, ':', u.len);
	if (c == NULL)
		return (struct cr_str){NULL, 0};
	int is_tel = (c - p == 3 && strncasecmp(p, "tel", 3) == 0);
	p = c + 1;
	if (is_tel) {
		const char *q = p;
		while (q < e && *q != ';')
			q++;
		return (struct cr_str){p, (uint32_t)(q - p)};
	}
	const char *at = memchr(p, '@', (size_t)(e - p));
	if (at == NULL)
		return (struct cr_str){NULL, 0};
	const char *q = p;
	while (q < at && *q != ';' && *q != ':')
		q++;
	return (struct cr_str){p, (uint32_t)(q - p)};
}

/* Header name -> which field; compact forms per RFC 3261 7.3.3. */
enum hdr_id {
	H_OTHER,
	H_CALLID,
	H_FROM,
	H_TO,
	H_CSEQ,
	H_CLEN,
	H_CTYPE,
	H_CTL,
};

static enum hdr_id
hdr_lookup(const char *n, size_t len, const char *ctl)
{
	if (len == 1) {
		switch (tolower((unsigned char)n[0])) {
		case 'i': return H_CALLID;
		case 'f': return H_FROM;
		case 't': return H_TO;
		case 'l': return H_CLEN;
		case 'c': return H_CTYPE;
		default: return H_OTHER;
		}
	}
#define IS(s) (len == sizeof(s) - 1 && strncasecmp(n, s, len) == 0)
	if (IS("Call-ID"))
		return H_CALLID;
	if (IS("From"))
		return H_FROM;
	if (IS("To"))
		return H_TO;
	if (IS("CSeq"))
		return H_CSEQ;
	if (IS("Content-Length"))
		return H_CLEN;
	if (IS("Content-Type"))
		return H_CTYPE;
#undef IS
	if (ctl && strlen(ctl) == len && strncasecmp(n, ctl, len) == 0)
		return H_CTL;
	return H_OTHER;
}

/* Find the end of the header block: CRLFCRLF or LFLF. Returns offset of the
 * body, or 0 if not found. */
static size_t
find_hdr_end(const char *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int
parse_uint(const char *p, const char *e, uint32_t *v)
{
	uint64_t x = 0;
	const char *s = p;
	while (p < e && *p >= '0' && *p <= '9') {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > 0xffffffffULL)
			return -1;
		p++;
	}
	if (p == s)
		return -1;
	*v = (uint32_t)x;
	return (int)(p - s);
}

int
cr_sip_parse(const char *buf, size_t len, int stream, const char *ctl_hdr, struct cr_sip_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->content_length = -1;
	if (len < 8)
		return stream ? -EAGAIN : -CR_SIP_E_SIP_NOT_SIP;

	size_t body_off = find_hdr_end(buf, len);
	if (body_off == 0) {
		if (stream)
			return len > 65536 ? -CR_SIP_E_SIP_TOO_LONG : -EAGAIN;
		body_off = len; /* UDP without blank line: headers only */
	}
	const char *e = buf + body_off;

	/* start line */
	const char *eol = memchr(buf, '\n', body_off);
	if (eol == NULL)
		return -CR_SIP_E_SIP_BAD_START;
	struct cr_str sl = trim(buf, eol);
	if (sl.len >= 12 && memcmp(sl.p, "SIP/2.0 ", 8) == 0) {
		uint32_t code;
		if (parse_uint(sl.p + 8, sl.p + sl.len, &code) != 3 || code < 100 || code > 699)
			return -CR_SIP_E_SIP_BAD_START;
		m->status = (uint16_t)code;
		m->reason = trim(sl.p + 11, sl.p + sl.len);
	} else {
		const char *sp = memchr(sl.p, ' ', sl.len);
		if (sp == NULL || sp == sl.p)
			return -CR_SIP_E_SIP_NOT_SIP;
		for (const char *q = sl.p; q < sp; q++)
			if (!is_token_char((unsigned char)*q))
				return -CR_SIP_E_SIP_NOT_SIP;
		const char *sp2 = memchr(sp + 1, ' ', (size_t)(sl.p + sl.len - sp - 1));
		if (sp2 == NULL || sl.p + sl.len - sp2 - 1 != 7 || memcmp(sp2 + 1, "SIP/2.0", 7))
			return -CR_SIP_E_SIP_NOT_SIP;
		m->is_request = 1;
		m->method_str = (struct cr_str){sl.p, (uint32_t)(sp - sl.p)};
		m->method = (uint8_t)cr_sip_method_from(sl.p, (size_t)(sp - sl.p));
		m->ruri = (struct cr_str){sp + 1, (uint32_t)(sp2 - sp - 1)};
	}

	/* headers, with folding: a line starting with SP/HT continues the last */
	const char *p = eol + 1;
	int have_cseq = 0;
	while (p < e) {
		const char *le = memchr(p, '\n', (size_t)(e - p));
		if (le == NULL)
			le = e;
		const char *ve = le;
		while (ve + 1 < e && (ve[1] == ' ' || ve[1] == '\t')) {
			const char *n = memchr(ve + 1, '\n', (size_t)(e - ve - 1));
			ve = n ? n : e;
		}
		struct cr_str line = trim(p, ve);
		p = ve < e ? ve + 1 : e;
		if (line.len == 0)
			break;
		const char *colon = memchr(line.p, ':', line.len);
		if (colon == NULL)
			return -CR_SIP_E_SIP_BAD_HEADER;
		struct cr_str name = trim(line.p, colon);
		if (name.len == 0)
			return -CR_SIP_E_SIP_BAD_HEADER;
		struct cr_str val = trim(colon + 1, line.p + line.len);
		switch (hdr_lookup(name.p, name.len, ctl_hdr)) {
		case H_CALLID:
			if (m->call_id.len == 0)
				m->call_id = val;
			break;
		case H_FROM:
			if (m->from.len == 0) {
				m->from = val;
				m->from_tag = find_tag(val);
				m->from_uri = find_uri(val);
			}
			break;
		case H_TO:
			if (m->to.len == 0) {
				m->to = val;
				m->to_tag = find_tag(val);
				m->to_uri = find_uri(val);
			}
			break;
		case H_CSEQ: {
			int n = parse_uint(val.p, val.p + val.len, &m->cseq);
			if (n < 0)
				return -CR_SIP_E_SIP_BAD_CSEQ;
			struct cr_str meth = trim(val.p + n, val.p + val.len);
			m->cseq_method = (uint8_t)cr_sip_method_from(meth.p, meth.len);
			have_cseq = 1;
			break;
		}
		case H_CLEN: {
			uint32_t v = 0;
			if (parse_uint(val.p, val.p + val.len, &v) != (int)val.len || v > (1u << 24))
				return -CR_SIP_E_SIP_BAD_CLEN;
			m->content_length = (int32_t)v;
			break;
		}
		case H_CTYPE:
			m->content_type = val;
			break;
		case H_CTL:
			m->x_record = val;
			break;
		default:
			break;
		}
	}
	if (m->call_id.len == 0)
		return -CR_SIP_E_SIP_NO_CALLID;
	if (!have_cseq)
		return -CR_SIP_E_SIP_BAD_CSEQ;

	size_t avail = len - body_off;
	size_t blen;
	if (stream) {
		if (m->content_length < 0)
			m->content_length = 0; /* RFC 3261 20.14: absent means 0 on TCP? be lenient */
		blen = (size_t)m->content_length;
		if (avail < blen)
			return body_off + blen > 65536 + 65536 ? -CR_SIP_E_SIP_TOO_LONG : -EAGAIN;
	} else {
		blen = avail;
		if (m->content_length >= 0 && (size_t)m->content_length < avail)
			blen = (size_t)m->content_length;
	}
	m->body = (struct cr_str){buf + body_off, (uint32_t)blen};
	m->msg_len = (uint32_t)(body_off + blen);
	return 0;
}

/* Case-insensitive search of n (nl bytes, may hold any byte) in h (hl bytes). */
static const char *
memmem_ci_n(const char *h, size_t hl, const char *n, size_t nl)
{
	if (nl == 0 || hl < nl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t k = 0;
		while (k < nl && tolower((unsigned char)h[i + k]) == tolower((unsigned char)n[k]))
			k++;
		if (k == nl)
			return h + i;
	}
	return NULL;
}

static const char *
memmem_ci(const char *h, size_t hl, const char *n)
{
	return memmem_ci_n(h, hl, n, strlen(n));
}

int
cr_sip_find_sdp(const struct cr_sip_msg *m, struct cr_str *sdp)
{
	if (m->body.len == 0)
		return -ENOENT;
	struct cr_str ct = m->content_type;
	if (ct.len == 0 || memmem_ci(ct.p, ct.len, "application/sdp")) {
		/* no Content-Type but a body that starts like SDP is accepted too */
		if (ct.len == 0 && !(m->body.len > 2 && m->body.p[0] == 'v' && m->body.p[1] == '='))
			return -ENOENT;
		*sdp = m->body;
		return 0;
	}
	if (!memmem_ci(ct.p, ct.len, "multipart/"))
		return -ENOENT;
	const char *b = memmem_ci(ct.p, ct.len, "boundary=");
	if (b == NULL)
		return -ENOENT;
	b += 9;
	const char *be = ct.p + ct.len;
	if (b < be && *b == '"') {
		b++;
		const char *q = memchr(b, '"', (size_t)(be - b));
		if (q)
			be = q;
	} else {
		const char *q = b;
		while (q < be && *q != ';' && *q != ' ')
			q++;
		be = q;
	}
	char delim[80];
	size_t bl = (size_t)(be - b);
	if (bl == 0 || bl + 2 >= sizeof(delim))
		return -ENOENT;
	for (size_t i = 0; i < bl; i++) /* RFC 2046 boundary: printable only */
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
			return -ENOENT;
	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, b, bl);
	delim[bl + 2] = 0;
	const char *body = m->body.p, *end = m->body.p + m->body.len;
	size_t dl = bl + 2;
	const char *part = memmem_ci_n(body, m->body.len, delim, dl);
	while (part) {
		const char *ps = part + bl + 2;
		if (ps + 2 <= end && ps[0] == '-' && ps[1] == '-')
			break;
		const char *next = memmem_ci_n(ps, (size_t)(end - ps), delim, dl);
		const char *pe = next ? next : end;
		size_t ho = find_hdr_end(ps, (size_t)(pe - ps));
		if (ho) {
			const char *hdrs = ps;
			if (memmem_ci(hdrs, ho, "application/sdp")) {
				const char *s = ps + ho;
				const char *se = pe;
				/* the CRLF before the delimiter belongs to it */
				if (se > s && se[-1] == '\n')
					se--;
				if (se > s && se[-1] == '\r')
					se--;
				*sdp = (struct cr_str){s, (uint32_t)(se - s)};
				return 0;
			}
		}
		part = next;
	}
	return -ENOENT;
}

char
cr_sip_info_dtmf(const struct cr_sip_msg *m, uint32_t *duration_ms)
{
	if (m->body.len == 0 || m->content_type.len == 0)
		return 0;
	const char *b = m->body.p;
	size_t bl = m->body.len;
	*duration_ms = 0;
	if (memmem_ci(m->content_type.p, m->content_type.len, "application/dtmf-relay")) {
		const char *s = memmem_ci(b, bl, "Signal=");
		if (s == NULL)
			return 0;
		s += 7;
		while (s < b + bl && *s == ' ')
			s++;
		if (s >= b + bl)
			return 0;
		char c = *s;
		const char *d = memmem_ci(b, bl, "Duration=");
		if (d) {
			uint32_t v = 0;
			d += 9;
			while (d < b + bl && *d == ' ')
				d++;
			if (parse_uint(d, b + bl, &v) > 0)
				*duration_ms = v;
		}
		if (isdigit((unsigned char)c) || c == '*' || c == '#' ||
		    (toupper((unsigned char)c) >= 'A' && toupper((unsigned char)c) <= 'D'))
			return (char)toupper((unsigned char)c);
		return 0;
	}
	if (memmem_ci(m->content_type.p, m->content_type.len, "application/dtmf")) {
		struct cr_str v = trim(b, b + bl);
		if (v.len == 0)
			return 0;
		uint32_t n = 0;
		if (parse_uint(v.p, v.p + v.len, &n) == (int)v.len && n <= 16)
			return "0123456789*#ABCD"[n < 16 ? n : 0];
		return 0;
	}
	return 0;
}
