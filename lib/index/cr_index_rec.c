/* SPDX-License-Identifier: BSD-3-Clause */
/* Index rows as self-describing text records ("key=value" lines) for the meta
 * segments: one table per row type drives both directions, so a field added
 * to a table is stored and rebuilt without further code. Unknown keys are
 * skipped (newer writers), missing keys stay zero (older writers). */
#include "cr_index.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ft { U64, I64, U32, U16, U8, F64, STR, HEX };

struct field {
	const char *key;
	enum ft t;
	size_t off, size;
	size_t count_off; /* HEX of an array: the byte holding the element count */
	size_t elem;	  /* ... and the element size */
};

#define F(s, k, t, m) {k, t, offsetof(struct s, m), sizeof(((struct s *)0)->m), 0, 0}
#define FD(s, k, m, cnt, el) {k, HEX, offsetof(struct s, m), sizeof(((struct s *)0)->m), \
			      offsetof(struct s, cnt), el}

static const struct field call_fields[] = {
	F(cr_call, "uid", U64, uid),
	F(cr_call, "call_id", STR, call_id),
	F(cr_call, "from_user", STR, from_user),
	F(cr_call, "to_user", STR, to_user),
	F(cr_call, "from_uri", STR, from_uri),
	F(cr_call, "to_uri", STR, to_uri),
	F(cr_call, "start_ns", I64, start_ns),
	F(cr_call, "answer_ns", I64, answer_ns),
	F(cr_call, "end_ns", I64, end_ns),
	F(cr_call, "state", U8, state),
	F(cr_call, "sip_status", U16, sip_status),
	F(cr_call, "record", U8, record),
	F(cr_call, "rclass", U8, rclass),
	F(cr_call, "rule", STR, rule),
	FD(cr_call, "spans", spans, n_spans, sizeof(struct cr_rec_span)),
	FD(cr_call, "dtmf", dtmf, n_dtmf, sizeof(struct cr_dtmf)),
	{NULL, U8, 0, 0, 0, 0},
};

static const struct field stream_fields[] = {
	F(cr_stream_rec, "uid", U64, uid),
	F(cr_stream_rec, "call_uid", U64, call_uid),
	F(cr_stream_rec, "src", HEX, src),
	F(cr_stream_rec, "sport", U16, sport),
	F(cr_stream_rec, "dst", HEX, dst),
	F(cr_stream_rec, "dport", U16, dport),
	F(cr_stream_rec, "ssrc", U32, ssrc),
	F(cr_stream_rec, "side", U8, side),
	F(cr_stream_rec, "pt", U8, pt),
	F(cr_stream_rec, "is_srtp", U8, is_srtp),
	F(cr_stream_rec, "clock_rate", U32, clock_rate),
	F(cr_stream_rec, "channels", U8, channels),
	F(cr_stream_rec, "ptmap", STR, ptmap),
	F(cr_stream_rec, "codec", STR, codec),
	F(cr_stream_rec, "packets", U64, packets),
	F(cr_stream_rec, "out_of_order", U64, out_of_order),
	F(cr_stream_rec, "duplicates", U64, duplicates),
	F(cr_stream_rec, "payload_bytes", U64, payload_bytes),
	F(cr_stream_rec, "lost", I64, lost),
	F(cr_stream_rec, "max_jitter_ms", F64, max_jitter_ms),
	F(cr_stream_rec, "mean_jitter_ms", F64, mean_jitter_ms),
	F(cr_stream_rec, "max_delta_ms", F64, max_delta_ms),
	F(cr_stream_rec, "mos", F64, mos),
	F(cr_stream_rec, "first_ns", I64, first_ns),
	F(cr_stream_rec, "last_ns", I64, last_ns),
	F(cr_stream_rec, "rtcp_packets", U64, rtcp_packets),
	F(cr_stream_rec, "store_lost", U64, store_lost),
	F(cr_stream_rec, "jb_discards", U64, jb_discards),
	F(cr_stream_rec, "silence_pct", F64, silence_pct),
	F(cr_stream_rec, "r_factor", F64, r_factor),
	FD(cr_stream_rec, "dtmf", dtmf, n_dtmf, sizeof(struct cr_dtmf)),
	{NULL, U8, 0, 0, 0, 0},
};

static const struct field loss_fields[] = {
	F(cr_loss_rec, "id", U64, id),
	F(cr_loss_rec, "stream_uid", U64, stream_uid),
	F(cr_loss_rec, "packets", U64, packets),
	{NULL, U8, 0, 0, 0, 0},
};

static const struct field *const tables[] = {
	[CR_REC_CALL] = call_fields, [CR_REC_STREAM] = stream_fields, [CR_REC_LOSS] = loss_fields,
};
static const char *const kind_names[] = {
	[CR_REC_CALL] = "call", [CR_REC_STREAM] = "stream", [CR_REC_LOSS] = "loss",
};

struct out {
	char *p;
	size_t len, cap;
	int err;
};

/* not put("%02x") a byte: a printf call per byte was most of encoding */
static void
put_hex(struct out *o, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (o->err)
		return;
	if (o->len + 2 * n >= o->cap) {
		o->err = -ENOSPC;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		o->p[o->len++] = hex[b[i] >> 4];
		o->p[o->len++] = hex[b[i] & 15];
	}
	o->p[o->len] = '\0';
}

/* "key=" and "\n" around what follows, without printf: most of a record is
 * integers, and a vsnprintf each was a tenth of the index thread's CPU */
static void
put_str(struct out *o, const char *a, size_t n)
{
	if (o->err)
		return;
	if (o->len + n >= o->cap) {
		o->err = -ENOSPC;
		return;
	}
	memcpy(o->p + o->len, a, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
put_key(struct out *o, const char *key)
{
	put_str(o, key, strlen(key));
	put_str(o, "=", 1);
}

static void
put_u64(struct out *o, const char *key, uint64_t u, int neg)
{
	char d[24];
	size_t i = sizeof(d);
	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (neg)
		d[--i] = '-';
	put_key(o, key);
	put_str(o, d + i, sizeof(d) - i);
	put_str(o, "\n", 1);
}

/* A double as a C99 hexadecimal float ("0x1.8p+3"), which strtod reads back
 * bit for bit, as it reads the "%.17g" text earlier records hold: printf of
 * a double in decimal (glibc's multi-precision digits) was the index
 * thread's largest libc cost, several per stream record. */
static void
put_f64(struct out *o, const char *key, double v)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t b;
	memcpy(&b, &v, 8);
	char d[40];
	size_t n = 0;
	if (b >> 63)
		d[n++] = '-';
	int e = (int)((b >> 52) & 0x7ff);
	uint64_t m = b & ((1ull << 52) - 1);
	if (e == 0x7ff) {
		memcpy(d + n, m ? "nan" : "inf", 3);
		n += 3;
	} else {
		/* normal: 1.m x 2^(e-1023); subnormal and zero: 0.m x 2^-1022 */
		d[n++] = '0';
		d[n++] = 'x';
		d[n++] = e ? '1' : '0';
		if (m) {
			d[n++] = '.';
			for (int sh = 48; sh >= 0 && m; sh -= 4) {
				d[n++] = hex[(m >> sh) & 15];
				m &= (1ull << sh) - 1;
			}
		}
		int x = e ? e - 1023 : (b << 1) ? -1022 : 0;
		d[n++] = 'p';
		d[n++] = x < 0 ? '-' : '+';
		unsigned ax = (unsigned)(x < 0 ? -x : x);
		char t[8];
		size_t k = 0;
		do {
			t[k++] = (char)('0' + ax % 10);
			ax /= 10;
		} while (ax);
		while (k)
			d[n++] = t[--k];
	}
	put_key(o, key);
	put_str(o, d, n);
	put_str(o, "\n", 1);
}

int
cr_rec_encode(int kind, const void *rec, char *buf, size_t cap)
{
	if (kind < CR_REC_CALL || kind > CR_REC_LOSS)
		return -EINVAL;
	struct out o = {buf, 0, cap, 0};
	put_key(&o, "kind");
	put_str(&o, kind_names[kind], strlen(kind_names[kind]));
	put_str(&o, "\n", 1);
	const uint8_t *r = rec;
	for (const struct field *f = tables[kind]; f->key && !o.err; f++) {
		const void *p = r + f->off;
		uint64_t u = 0;
		switch (f->t) {
		case U64: memcpy(&u, p, 8); put_u64(&o, f->key, u, 0); break;
		case I64: {
			int64_t v;
			memcpy(&v, p, 8);
			put_u64(&o, f->key, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
			break;
		}
		case U32: { uint32_t v; memcpy(&v, p, 4); put_u64(&o, f->key, v, 0); break; }
		case U16: { uint16_t v; memcpy(&v, p, 2); put_u64(&o, f->key, v, 0); break; }
		case U8: put_u64(&o, f->key, *(const uint8_t *)p, 0); break;
		case F64: { double v; memcpy(&v, p, 8); put_f64(&o, f->key, v); break; }
		case STR: {
			/* strings as hex keep any byte a SIP header may carry */
			size_t n = strnlen(p, f->size);
			put_key(&o, f->key);
			put_hex(&o, p, n);
			put_str(&o, "\n", 1);
			break;
		}
		case HEX: {
			size_t n = f->size;
			if (f->count_off)
				n = (size_t)r[f->count_off] * f->elem;
			if (n > f->size)
				n = f->size;
			put_key(&o, f->key);
			put_hex(&o, p, n);
			put_str(&o, "\n", 1);
			break;
		}
		}
	}
	return o.err ? o.err : (int)o.len;
}

static int
unhex(const char *s, size_t n, uint8_t *dst, size_t cap)
{
	if (n % 2 || n / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		char b[3] = {s[2 * i], s[2 * i + 1], 0};
		char *e;
		v = (unsigned)strtoul(b, &e, 16);
		if (*e)
			return -EINVAL;
		dst[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

int
cr_rec_decode(const char *buf, size_t len, void *rec, size_t rec_size)
{
	const char *p = buf, *end = buf + len;
	int kind = 0;
	const struct field *tab = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return -EINVAL;
		const char *eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL)
			return -EINVAL;
		size_t kl = (size_t)(eq - p), vl = (size_t)(nl - eq - 1);
		const char *v = eq + 1;
		char num[40];
		if (kind == 0) {
			if (kl != 4 || memcmp(p, "kind", 4) != 0)
				return -EINVAL;
			for (int k = CR_REC_CALL; k <= CR_REC_LOSS; k++)
				if (strlen(kind_names[k]) == vl && memcmp(v, kind_names[k], vl) == 0)
					kind = k;
			if (kind == 0)
				return -EINVAL;
			size_t need = kind == CR_REC_CALL	? sizeof(struct cr_call)
				      : kind == CR_REC_STREAM ? sizeof(struct cr_stream_rec)
							      : sizeof(struct cr_loss_rec);
			if (rec_size < need)
				return -ENOSPC;
			memset(rec, 0, need);
			tab = tables[kind];
			p = nl + 1;
			continue;
		}
		const struct field *f = tab;
		while (f->key && !(strlen(f->key) == kl && memcmp(f->key, p, kl) == 0))
			f++;
		p = nl + 1;
		if (f->key == NULL)
			continue;
		uint8_t *dst = (uint8_t *)rec + f->off;
		if (f->t == STR || f->t == HEX) {
			size_t cap = f->t == STR ? f->size - 1 : f->size;
			int n = unhex(v, vl, dst, cap);
			if (n < 0)
				return -EINVAL;
			if (f->t == STR)
				dst[n] = 0;
			if (f->count_off)
				((uint8_t *)rec)[f->count_off] = (uint8_t)((size_t)n / f->elem);
			continue;
		}
		if (vl == 0 || vl >= sizeof(num))
			return -EINVAL;
		memcpy(num, v, vl);
		num[vl] = 0;
		char *e;
		if (f->t == F64) {
			double d = strtod(num, &e);
			if (*e)
				return -EINVAL;
			memcpy(dst, &d, 8);
			continue;
		}
		errno = 0;
		uint64_t u = f->t == I64 ? (uint64_t)strtoll(num, &e, 10) : strtoull(num, &e, 10);
		if (*e || errno)
			return -EINVAL;
		if (f->t == U64 || f->t == I64) {
			memcpy(dst, &u, 8);
		} else if (f->t == U32) {
			uint32_t x = (uint32_t)u;
			memcpy(dst, &x, 4);
		} else if (f->t == U16) {
			uint16_t x = (uint16_t)u;
			memcpy(dst, &x, 2);
		} else {
			*dst = (uint8_t)u;
		}
	}
	return kind ? kind : -EINVAL;
}
