/* SPDX-License-Identifier: BSD-3-Clause */
/* The signed, hash-chained manifest of segment events (cr_manifest.h). */
#include "cr_manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <pwd.h>
#include <unistd.h>

#include "cr_store.h"

#define LINE_MAX_LEN 1024

int
cr_seg_digest(const char *path, uint8_t out[32], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct cr_sha256 h;
	if (cr_sha256_init(&h) != 0) {
		close(fd);
		return -ENOMEM;
	}
	static __thread uint8_t buf[1 << 16];
	uint64_t off = 0, skip_lo = 0, skip_hi = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (off == 0 && n >= CR_SEG_HDR_LEN && cr_seg_header_check(buf, (size_t)n) == 0 &&
		    cr_seg_encrypted(buf)) {
			skip_lo = CR_SEG_HDR_LEN;
			skip_hi = CR_SEG_HDR_ENC_LEN;
		}
		/* hash [off, off+n) minus [skip_lo, skip_hi) */
		uint64_t a = off, b = off + (uint64_t)n;
		if (skip_hi > a && skip_lo < b) {
			if (skip_lo > a)
				cr_sha256_update(&h, buf, skip_lo - a);
			if (b > skip_hi)
				cr_sha256_update(&h, buf + (skip_hi - a), b - skip_hi);
		} else {
			cr_sha256_update(&h, buf, (size_t)n);
		}
		off = b;
	}
	int r = n < 0 ? -errno : 0;
	close(fd);
	cr_sha256_final(&h, out);
	if (size)
		*size = off;
	return r;
}

static void
chain_of(const uint8_t prev[32], const char *body, uint8_t out[32])
{
	struct cr_sha256 h;
	if (cr_sha256_init(&h) != 0) {
		memset(out, 0, 32);
		return;
	}
	cr_sha256_update(&h, prev, 32);
	cr_sha256_update(&h, body, strlen(body));
	cr_sha256_final(&h, out);
}

/* A chained log: every line is "v1 N REST CHAIN SIG", CHAIN = SHA-256 of
 * the previous CHAIN and "v1 N REST". The manifest and the audit log are two. */

/* hex as written (lower case): another spelling of the same bytes is an edit */
static int
canon_hex(const char *s, uint8_t *out, size_t n)
{
	char back[129];
	if (n > 64 || cr_unhex(s, out, n) != (int)n)
		return 0;
	cr_hex(out, n, back);
	return strcmp(back, s) == 0;
}

/* split a line into its body and the chain/sig fields */
static int
split_line(char *line, char **chain, char **sig, uint64_t *n)
{
	size_t l = strlen(line);
	if (l == 0 || line[l - 1] != '\n')
		return -EINVAL;
	line[l - 1] = 0;
	char *s2 = strrchr(line, ' ');
	if (s2 == NULL)
		return -EINVAL;
	*s2 = 0;
	char *s1 = strrchr(line, ' ');
	if (s1 == NULL)
		return -EINVAL;
	*s1 = 0;
	*chain = s1 + 1;
	*sig = s2 + 1;
	unsigned long long nn;
	char v[4];
	if (sscanf(line, "%3s %llu", v, &nn) != 2 || strcmp(v, "v1") != 0)
		return -EINVAL;
	*n = nn;
	return 0;
}

/* the chain and number of the last line (zeros, 0 for an empty log) */
static int
last_line(int fd, uint8_t chain[32], uint64_t *n)
{
	memset(chain, 0, 32);
	*n = 0;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	char buf[LINE_MAX_LEN + 2];
	off_t from = st.st_size > LINE_MAX_LEN ? st.st_size - LINE_MAX_LEN : 0;
	ssize_t got = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (got <= 0)
		return -EIO;
	buf[got] = 0;
	if (buf[got - 1] != '\n') {
		/* a line torn by a crash was never confirmed: cut it */
		char *nl = strrchr(buf, '\n');
		if (nl == NULL && from != 0)
			return -EBADMSG;
		off_t keep = nl ? from + (nl - buf) + 1 : 0;
		if (ftruncate(fd, keep) != 0)
			return -errno;
		return last_line(fd, chain, n);
	}
	buf[got - 1] = 0;
	char *l = strrchr(buf, '\n');
	l = l ? l + 1 : buf;
	size_t ll = strlen(l);
	l[ll] = '\n';
	l[ll + 1] = 0;
	char *ch, *sg;
	if (split_line(l, &ch, &sg, n) != 0 || cr_unhex(ch, chain, 32) != 32)
		return -EBADMSG;
	return 0;
}

int64_t
cr_chainlog_append(const char *path, struct cr_signer *sk, const char *rest)
{
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	uint8_t prev[32], chain[32], sig[64];
	uint64_t n;
	int r = last_line(fd, prev, &n);
	char body[LINE_MAX_LEN], line[LINE_MAX_LEN + 300];
	if (r == 0 && (size_t)snprintf(body, sizeof(body), "v1 %" PRIu64 " %s", n + 1, rest) >=
			      sizeof(body))
		r = -ENAMETOOLONG;
	if (r == 0 && strchr(body, '\n'))
		r = -EINVAL;
	if (r == 0) {
		chain_of(prev, body, chain);
		char ch[65], sh[129] = "-";
		cr_hex(chain, 32, ch);
		if (sk) {
			r = cr_sign(sk, chain, 32, sig);
			cr_hex(sig, 64, sh);
		}
		int l = snprintf(line, sizeof(line), "%s %s %s\n", body, ch, sh);
		if (r == 0 && write(fd, line, (size_t)l) != l)
			r = -EIO;
		if (r == 0 && fdatasync(fd) != 0)
			r = -errno;
	}
	close(fd); /* releases the lock */
	return r == 0 ? (int64_t)(n + 1) : r;
}

int
cr_chainlog_read(const char *path, struct cr_signer *pk, cr_chainlog_cb cb, void *ctx,
		 uint64_t *bad_line)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	char line[LINE_MAX_LEN + 300];
	uint8_t prev[32] = {0}, want[32], chain[32], sig[64];
	uint64_t ln = 0, n;
	int r = 0;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		ln++;
		char *ch, *sg;
		int is_signed = 0;
		if (split_line(line, &ch, &sg, &n) != 0 || n != ln || !canon_hex(ch, chain, 32) ||
		    (strcmp(sg, "-") != 0 && !(is_signed = canon_hex(sg, sig, 64)))) {
			r = -EBADMSG;
			break;
		}
		chain_of(prev, line, want);
		if (memcmp(want, chain, 32) != 0) {
			r = -EBADMSG;
			break;
		}
		if (pk && (!is_signed || cr_sign_verify(pk, chain, 32, sig) != 0)) {
			r = -EKEYREJECTED;
			break;
		}
		memcpy(prev, chain, 32);
		if (cb)
			r = cb(ctx, n, line);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if ((r == -EBADMSG || r == -EKEYREJECTED) && bad_line)
		*bad_line = ln;
	if (r == 0 && bad_line)
		*bad_line = ln; /* lines read */
	return r;
}

/* ---- the manifest ---- */

static int64_t
wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
cr_manifest_append(const char *store, struct cr_signer *sk, const char *op, const char *rel,
		   uint64_t size, const uint8_t *digest, int64_t t_ns)
{
	if (t_ns == 0)
		t_ns = wall_ns();
	char path[PATH_MAX], rest[LINE_MAX_LEN], dh[65];
	static const uint8_t zero[32];
	snprintf(path, sizeof(path), "%s/manifest.log", store);
	cr_hex(digest ? digest : zero, 32, dh);
	if ((size_t)snprintf(rest, sizeof(rest), "%" PRId64 " %s %s %" PRIu64 " %s", t_ns, op,
			     rel && *rel ? rel : "-", size, dh) >= sizeof(rest) ||
	    strchr(rel ? rel : "", ' '))
		return -EINVAL;
	return cr_chainlog_append(path, sk, rest);
}

struct mread {
	cr_manifest_cb cb;
	void *ctx;
};

static int
manifest_line(void *ctx, uint64_t n, const char *body)
{
	struct mread *m = ctx;
	struct cr_manifest_entry e;
	memset(&e, 0, sizeof(e));
	char op[16], rel[256], dh[80];
	unsigned long long nn, size;
	long long t;
	if (sscanf(body, "v1 %llu %lld %15s %255s %llu %79s", &nn, &t, op, rel, &size, dh) != 6 ||
	    strlen(rel) >= sizeof(e.rel) || strlen(op) >= sizeof(e.op) ||
	    cr_unhex(dh, e.digest, 32) != 32)
		return -EBADMSG;
	e.n = n;
	e.t_ns = t;
	/* lengths checked above; memcpy, as snprintf warns at -O0 where gcc
	 * cannot see the checks */
	memcpy(e.op, op, strlen(op) + 1);
	memcpy(e.rel, rel, strlen(rel) + 1);
	e.size = size;
	return m->cb ? m->cb(m->ctx, &e) : 0;
}

int
cr_manifest_read(const char *store, struct cr_signer *pk, cr_manifest_cb cb, void *ctx,
		 uint64_t *bad_line)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/manifest.log", store);
	struct mread m = {cb, ctx};
	return cr_chainlog_read(path, pk, manifest_line, &m, bad_line);
}

/* ---- the audit log ---- */

/* words without spaces: %XX for space, %, control bytes */
static void
esc(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	if (in == NULL || *in == 0)
		in = "-";
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
		if (*p <= ' ' || *p == '%' || *p == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = 0;
}

int
cr_audit(const char *store, const char *actor, const char *action, const char *object,
	 const char *detail)
{
	char path[PATH_MAX], rest[LINE_MAX_LEN], a[128], ob[256], d[512];
	esc(actor, a, sizeof(a));
	esc(object, ob, sizeof(ob));
	esc(detail, d, sizeof(d));
	snprintf(path, sizeof(path), "%s/audit.log", store);
	snprintf(rest, sizeof(rest), "%" PRId64 " %s %s %s %s",
		 wall_ns(), a, action, ob, d);
	int64_t r = cr_chainlog_append(path, NULL, rest);
	return r < 0 ? (int)r : 0;
}

void
cr_audit_actor(char *out, size_t cap)
{
	uid_t u = getuid();
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(u, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, cap, "user:%s(%u)", res->pw_name, (unsigned)u);
	else
		snprintf(out, cap, "user:%u", (unsigned)u);
}
