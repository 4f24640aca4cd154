/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_sdp.h"
#include "cr_rtp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int
parse_u32(const char **pp, const char *e, uint32_t *v)
{
	const char *p = *pp;
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
	*pp = p;
	*v = (uint32_t)x;
	return 0;
}

static void
skip_sp(const char **pp, const char *e)
{
	while (*pp < e && (**pp == ' ' || **pp == '\t'))
		(*pp)++;
}

static const char *
next_tok(const char **pp, const char *e, size_t *len)
{
	skip_sp(pp, e);
	const char *s = *pp;
	while (*pp < e && **pp != ' ' && **pp != '\t')
		(*pp)++;
	*len = (size_t)(*pp - s);
	return s;
}

/* c=IN IP4 1.2.3.4[/ttl] */
static int
parse_conn(const char *p, const char *e, struct cr_addr *a, uint8_t *hold)
{
	size_t l;
	const char *t = next_tok(&p, e, &l);
	if (l != 2 || strncmp(t, "IN", 2) != 0)
		return -1;
	next_tok(&p, e, &l); /* IP4 / IP6 */
	t = next_tok(&p, e, &l);
	const char *slash = memchr(t, '/', l);
	if (slash)
		l = (size_t)(slash - t);
	if (cr_addr_parse(a, t, l) != 0)
		return -1;
	*hold = (l == 7 && memcmp(t, "0.0.0.0", 7) == 0) || (l == 2 && memcmp(t, "::", 2) == 0);
	return 0;
}

static struct cr_sdp_fmt *
fmt_of(struct cr_sdp_media *m, uint32_t pt)
{
	for (int i = 0; i < m->n_fmt; i++)
		if (m->fmt[i].pt == pt)
			return &m->fmt[i];
	return NULL;
}

const struct cr_sdp_fmt *
cr_sdp_find_fmt(const struct cr_sdp_media *m, uint8_t pt)
{
	for (int i = 0; i < m->n_fmt; i++)
		if (m->fmt[i].pt == pt)
			return &m->fmt[i];
	return NULL;
}

static void
copy_bounded(char *dst, size_t dsz, const char *s, size_t l)
{
	if (l >= dsz)
		l = dsz - 1;
	memcpy(dst, s, l);
	dst[l] = 0;
}

int
cr_sdp_parse(const char *buf, size_t len, struct cr_sdp *sdp)
{
	memset(sdp, 0, sizeof(*sdp));
	const char *p = buf, *end = buf + len;
	struct cr_addr sess_addr;
	uint8_t sess_has_addr = 0, sess_hold = 0, sess_dir = CR_SDP_SENDRECV;
	struct cr_sdp_media *cur = NULL;
	int skipping = 0, seen_v = 0, seen_c = 0;
	uint8_t dir_set[CR_SDP_MAX_MEDIA] = {0};

	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		const char *ne = le ? le + 1 : end;
		if (le == NULL)
			le = end;
		const char *lend = le;
		if (lend > p && lend[-1] == '\r')
			lend--;
		if (lend - p < 2 || p[1] != '=') {
			p = ne;
			continue;
		}
		char type = p[0];
		const char *v = p + 2;
		p = ne;
		if (!seen_v) {
			if (type != 'v')
				return -EINVAL;
			seen_v = 1;
			continue;
		}
		if (type == 'm') {
			if (sdp->n_media >= CR_SDP_MAX_MEDIA) {
				sdp->n_skipped++;
				skipping = 1;
				cur = NULL;
				continue;
			}
			skipping = 0;
			cur = &sdp->media[sdp->n_media];
			memset(cur, 0, sizeof(*cur));
			size_t l;
			const char *t = next_tok(&v, lend, &l);
			if (l == 5 && strncmp(t, "audio", 5) == 0)
				cur->type = CR_SDP_AUDIO;
			else if (l == 5 && strncmp(t, "video", 5) == 0)
				cur->type = CR_SDP_VIDEO;
			else if (l == 5 && strncmp(t, "image", 5) == 0)
				cur->type = CR_SDP_IMAGE;
			else
				cur->type = CR_SDP_OTHER;
			skip_sp(&v, lend);
			uint32_t port;
			if (parse_u32(&v, lend, &port) != 0 || port > 65535) {
				cur = NULL;
				skipping = 1;
				sdp->n_skipped++;
				continue;
			}
			if (v < lend && *v == '/') { /* port/count */
				uint32_t cnt;
				v++;
				(void)parse_u32(&v, lend, &cnt);
			}
			cur->port = (uint16_t)port;
			cur->rtcp_port = port ? (uint16_t)(port + 1) : 0;
			const char *proto = next_tok(&v, lend, &l);
			cur->is_rtp = memmem(proto, l, "RTP", 3) != NULL;
			cur->is_srtp = memmem(proto, l, "SAVP", 4) != NULL;
			while (v < lend) {
				t = next_tok(&v, lend, &l);
				if (l == 0)
					break;
				const char *q = t;
				uint32_t pt;
				if (!cur->is_rtp || parse_u32(&q, t + l, &pt) != 0 || q != t + l ||
				    pt > 127)
					continue;
				if (cur->n_fmt >= CR_SDP_MAX_FMT) {
					sdp->n_skipped++;
					continue;
				}
				struct cr_sdp_fmt *f = &cur->fmt[cur->n_fmt++];
				f->pt = (uint8_t)pt;
				f->clock_rate = cr_rtp_static_clock((uint8_t)pt);
				f->channels = 1;
				const char *sn = cr_rtp_static_name((uint8_t)pt);
				if (sn)
					copy_bounded(f->enc, sizeof(f->enc), sn, strlen(sn));
				if (pt == 10)
					f->channels = 2;
			}
			sdp->n_media++;
			continue;
		}
		if (skipping)
			continue;
		if (type == 'c') {
			struct cr_addr a;
			uint8_t hold;
			if (parse_conn(v, lend, &a, &hold) != 0)
				continue;
			seen_c = 1;
			if (cur) {
				cur->addr = a;
				cur->has_addr = 1;
				cur->hold = hold;
			} else {
				sess_addr = a;
				sess_has_addr = 1;
				sess_hold = hold;
			}
			continue;
		}
		if (type != 'a')
			continue;
		size_t alen = (size_t)(lend - v);
		uint8_t d = 0xff;
		if (alen == 8 && strncmp(v, "sendrecv", 8) == 0)
			d = CR_SDP_SENDRECV;
		else if (alen == 8 && strncmp(v, "sendonly", 8) == 0)
			d = CR_SDP_SENDONLY;
		else if (alen == 8 && strncmp(v, "recvonly", 8) == 0)
			d = CR_SDP_RECVONLY;
		else if (alen == 8 && strncmp(v, "inactive", 8) == 0)
			d = CR_SDP_INACTIVE;
		if (d != 0xff) {
			if (cur) {
				cur->dir = d;
				dir_set[cur - sdp->media] = 1;
			} else {
				sess_dir = d;
			}
			continue;
		}
		if (cur == NULL)
			continue;
		if (alen > 7 && strncmp(v, "rtpmap:", 7) == 0) {
			const char *q = v + 7;
			uint32_t pt;
			if (parse_u32(&q, lend, &pt) != 0 || pt > 127)
				continue;
			struct cr_sdp_fmt *f = fmt_of(cur, pt);
			if (f == NULL)
				continue;
			size_t l;
			const char *t = next_tok(&q, lend, &l);
			const char *s1 = memchr(t, '/', l);
			size_t nl = s1 ? (size_t)(s1 - t) : l;
			copy_bounded(f->enc, sizeof(f->enc), t, nl);
			if (s1) {
				const char *r = s1 + 1;
				uint32_t rate;
				if (parse_u32(&r, t + l, &rate) == 0)
					f->clock_rate = rate;
				if (r < t + l && *r == '/') {
					uint32_t ch;
					r++;
					if (parse_u32(&r, t + l, &ch) == 0 && ch > 0 && ch < 256)
						f->channels = (uint8_t)ch;
				}
			}
			continue;
		}
		if (alen > 5 && strncmp(v, "fmtp:", 5) == 0) {
			const char *q = v + 5;
			uint32_t pt;
			if (parse_u32(&q, lend, &pt) != 0 || pt > 127)
				continue;
			struct cr_sdp_fmt *f = fmt_of(cur, pt);
			if (f == NULL)
				continue;
			skip_sp(&q, lend);
			copy_bounded(f->fmtp, sizeof(f->fmtp), q, (size_t)(lend - q));
			continue;
		}
		if (alen > 6 && strncmp(v, "ptime:", 6) == 0) {
			const char *q = v + 6;
			uint32_t pt;
			skip_sp(&q, lend);
			if (parse_u32(&q, lend, &pt) == 0 && pt < 65536)
				cur->ptime = (uint16_t)pt;
			continue;
		}
		if (alen > 5 && strncmp(v, "rtcp:", 5) == 0) {
			const char *q = v + 5;
			uint32_t port;
			if (parse_u32(&q, lend, &port) == 0 && port < 65536)
				cur->rtcp_port = (uint16_t)port;
			continue;
		}
		if (alen > 7 && strncmp(v, "crypto:", 7) == 0) {
			cur->is_srtp = 1;
			continue;
		}
	}
	if (!seen_v)
		return -EINVAL;
	for (int i = 0; i < sdp->n_media; i++) {
		struct cr_sdp_media *m = &sdp->media[i];
		if (!m->has_addr && sess_has_addr) {
			m->addr = sess_addr;
			m->has_addr = 1;
			m->hold = sess_hold;
		}
		if (!dir_set[i])
			m->dir = sess_dir;
	}
	if (sdp->n_media == 0 && !seen_c)
		return -EINVAL;
	return 0;
}
