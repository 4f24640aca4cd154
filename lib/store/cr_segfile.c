/* SPDX-License-Identifier: BSD-3-Clause */
/* Segment files: the writer (staging, O_DIRECT, fdatasync, seal) and the
 * walker (verify, resync after damage, recover an unsealed tail). */
#include "cr_store.h"
#include "cr_mem.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WALIGN 4096

int
cr_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int r = mkdir(buf, 0750);
		*p = '/';
		if (r != 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

int
cr_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : first;
	void **a = arr;
	void *nv = realloc(*a, nc * elem);
	if (nv == NULL)
		return -ENOMEM;
	*a = nv;
	*cap = nc;
	return 0;
}

static int
each_seg(char *path, size_t prefix, cr_seg_file_cb cb, void *ctx)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	size_t l = strlen(path);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		size_t nl = strlen(de->d_name);
		if (l + 1 + nl >= PATH_MAX)
			continue;
		path[l] = '/';
		memcpy(path + l + 1, de->d_name, nl + 1);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				r = each_seg(path, prefix, cb, ctx);
			else if (S_ISREG(st.st_mode) && nl > 4 && strcmp(de->d_name + nl - 4, ".seg") == 0)
				r = cb(ctx, path, path + prefix);
		}
		path[l] = 0;
	}
	closedir(d);
	return r;
}

int
cr_store_each_segment(const char *store, cr_seg_file_cb cb, void *ctx)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/segments", store) >= sizeof(path))
		return -ENAMETOOLONG;
	return each_seg(path, strlen(store) + 1, cb, ctx);
}

static int
write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int
cr_segw_open(struct cr_segw *s, const char *store, const char *rel, uint16_t writer, uint64_t seq,
	     int64_t t_ns)
{
	if (s->fd >= 0)
		return -EBUSY;
	/* the staging buffer is one huge page (cr_mem_dense) where the kernel
	 * gives one: an O_DIRECT write pins its user pages, and in a VM each of
	 * a 4 KiB buffer's 256 pages a MiB cost a page-table walk with
	 * interrupts masked (a trap under paravirtualisation) */
	if (s->wbuf == NULL && (s->wbuf = cr_mem_dense(CR_SEGW_BUF)) == NULL)
		return -ENOMEM;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", store, rel) >= sizeof(path) ||
	    strlen(rel) >= sizeof(s->rel))
		return -ENAMETOOLONG;
	int r = cr_mkdirs(path);
	if (r != 0)
		return r;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	s->fd = fd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC); /* tmpfs etc. refuse: buffered */
	snprintf(s->rel, sizeof(s->rel), "%s", rel);
	s->enc = s->kr != NULL && s->kr->n > 0;
	s->hdr_len = s->enc ? CR_SEG_HDR_ENC_LEN : CR_SEG_HDR_LEN;
	cr_seg_header_x(s->wbuf, writer, seq, t_ns, s->enc);
	if (s->enc) {
		/* a data key of its own, wrapped by the active master key */
		memset(s->wbuf + CR_SEG_HDR_LEN, 0, 2 * CR_KSLOT_LEN);
		if (cr_dkey_new(&s->dk) != 0 ||
		    cr_kslot_wrap(s->wbuf + CR_SEG_HDR_LEN, &s->kr->k[0], &s->dk, s->wbuf,
				  CR_SEG_HDR_LEN) != 0) {
			cr_segw_close(s);
			unlink(path);
			return -EIO;
		}
	}
	/* staged with the blocks so that every full buffer is one aligned write */
	s->wlen = s->hdr_len;
	s->off = s->hdr_len;
	s->digest_ok = 0;
	s->hashing = !s->no_digest && cr_sha256_init(&s->h) == 0;
	if (s->hashing)
		cr_sha256_update(&s->h, s->wbuf, CR_SEG_HDR_LEN); /* not the key slots */
	s->flushed = 0;
	s->n_blocks = 0;
	s->durable_off = 0;
	s->durable_blocks = 0;
	s->written_off = 0;
	s->written_blocks = 0;
	s->first_ns = s->last_ns = t_ns;
	return 0;
}

int
cr_segw_append(struct cr_segw *s, const void *blk, uint32_t len, int64_t t_ns)
{
	if (s->fd < 0)
		return -EBADF;
	if (s->n_blocks == s->cap_blocks) {
		uint32_t nc = s->cap_blocks ? s->cap_blocks * 2 : 256;
		uint64_t *nb = realloc(s->blocks, nc * sizeof(*nb));
		if (nb == NULL)
			return -ENOMEM;
		s->blocks = nb;
		s->cap_blocks = nc;
	}
	uint32_t grow = s->enc ? CR_GCM_TAG : 0;
	if (len + grow > CR_SEGW_BUF - s->wlen) {
		/* larger than what is left: the caller flushes first; a block larger
		 * than the whole buffer goes straight through */
		if (s->wlen)
			return -ENOBUFS;
		const void *src = blk;
		if (s->enc) {
			uint8_t *t = realloc(s->tmp, (size_t)len + grow);
			if (t == NULL)
				return -ENOMEM;
			s->tmp = t;
			memcpy(t, blk, len);
			int n = cr_block_seal(t, len, &s->dk, s->off);
			if (n < 0)
				return n;
			len = (uint32_t)n;
			src = t;
		}
		int r = write_all(s->fd, src, len, s->off);
		if (r != 0)
			return r;
		if (s->hashing)
			cr_sha256_update(&s->h, src, len);
		s->flushed = s->off + len;
	} else {
		memcpy(s->wbuf + s->wlen, blk, len);
		if (s->enc) {
			int n = cr_block_seal(s->wbuf + s->wlen, len, &s->dk, s->off);
			if (n < 0)
				return n;
			len = (uint32_t)n;
		}
		if (s->hashing)
			cr_sha256_update(&s->h, s->wbuf + s->wlen, len);
		s->wlen += len;
	}
	s->blocks[s->n_blocks++] = s->off;
	s->off += len;
	if (t_ns > s->last_ns)
		s->last_ns = t_ns;
	return 0;
}

int
cr_segw_flush(struct cr_segw *s, int keep_tail)
{
	int r = cr_segw_write(s, keep_tail);
	return r != 0 ? r : cr_segw_sync(s);
}

/* What is staged to the file: the aligned head with O_DIRECT, the partial
 * last page through the page cache (kept staged with keep_tail, so the next
 * write starts aligned), or with head_only not written at all: between syncs
 * a partial page written through the page cache made the next O_DIRECT write
 * flush and drop that cached page first (a second device request a write).
 * written_off moves only when every staged block is in the file. */
static int
write_staged(struct cr_segw *s, int keep_tail, int head_only)
{
	if (s->fd < 0)
		return -EBADF;
	int partial = 0;
	if (s->wlen) {
		/* The aligned head bypasses the page cache. Writing the whole
		 * buffer buffered whenever its length was not a multiple of 4 KiB,
		 * as this did, sent every byte through the page cache: the copy was
		 * 10 % of all CPU at 30,000 calls. */
		uint32_t head = s->dfd >= 0 && s->flushed % WALIGN == 0 ? s->wlen - s->wlen % WALIGN : 0;
		int r = head ? write_all(s->dfd, s->wbuf, head, s->flushed) : 0;
		if (r == -EINVAL) {
			/* a file system that takes O_DIRECT opens but not these writes */
			close(s->dfd);
			s->dfd = -1;
			head = 0;
			r = 0;
		}
		partial = head_only && head > 0 && head < s->wlen;
		if (r == 0 && head < s->wlen && !partial)
			r = write_all(s->fd, s->wbuf + head, s->wlen - head, s->flushed + head);
		if (r != 0)
			return r;
		int aligned = s->wlen % WALIGN == 0;
		if (keep_tail && !aligned) {
			/* keep the unaligned tail staged so the next flush starts aligned */
			uint32_t keep = s->wlen % WALIGN;
			memmove(s->wbuf, s->wbuf + (s->wlen - keep), keep);
			s->flushed += s->wlen - keep;
			s->wlen = keep;
		} else {
			s->flushed += s->wlen;
			s->wlen = 0;
		}
	}
	if (!partial) {
		s->written_off = s->off;
		s->written_blocks = s->n_blocks;
	}
	return 0;
}

int
cr_segw_write(struct cr_segw *s, int keep_tail)
{
	return write_staged(s, keep_tail, 0);
}

int
cr_segw_write_head(struct cr_segw *s)
{
	return write_staged(s, 1, 1);
}

int
cr_segw_sync(struct cr_segw *s)
{
	if (s->fd < 0)
		return -EBADF;
	/* durable before anyone is told: no retry-and-trust after a failure */
	if (fdatasync(s->fd) != 0)
		return -errno;
	s->durable_off = s->written_off;
	s->durable_blocks = s->written_blocks;
	return 0;
}

uint32_t
cr_seg_footer(uint8_t *out, const uint64_t *blocks, uint32_t n, uint64_t footer_off)
{
	size_t fl = 8 + (size_t)n * 8 + 4;
	memcpy(out, "CRFT", 4);
	memcpy(out + 4, &n, 4);
	for (uint32_t i = 0; i < n; i++)
		memcpy(out + 8 + 8 * i, &blocks[i], 8);
	uint32_t crc = cr_crc32c(out, fl - 4, 0);
	memcpy(out + fl - 4, &crc, 4);
	memcpy(out + fl, &footer_off, 8);
	memcpy(out + fl + 8, CR_SEG_TRAILER_MAGIC, 8);
	return (uint32_t)(fl + 16);
}

static int
write_footer(int fd, const uint64_t *blocks, uint32_t n, uint64_t off, struct cr_sha256 *h)
{
	uint8_t *f = malloc(8 + (size_t)n * 8 + 4 + 16);
	if (f == NULL)
		return -ENOMEM;
	uint32_t fl = cr_seg_footer(f, blocks, n, off);
	if (h)
		cr_sha256_update(h, f, fl);
	int r = write_all(fd, f, fl, off);
	free(f);
	if (r == 0 && ftruncate(fd, (off_t)(off + fl)) != 0)
		r = -errno;
	if (r == 0 && fdatasync(fd) != 0)
		r = -errno;
	return r;
}

int
cr_segw_seal(struct cr_segw *s)
{
	if (s->fd < 0)
		return -EBADF;
	int r = cr_segw_flush(s, 0);
	if (r == 0)
		r = write_footer(s->fd, s->blocks, s->n_blocks, s->off, s->hashing ? &s->h : NULL);
	if (r == 0 && s->hashing) {
		cr_sha256_final(&s->h, s->digest);
		s->hashing = 0;
		s->digest_ok = 1;
	}
	cr_segw_close(s);
	return r;
}

int
cr_segw_abort(struct cr_segw *s)
{
	if (s->fd < 0)
		return -EBADF;
	int r = -EIO;
	s->off = s->durable_off;
	if (s->durable_off < s->hdr_len)
		r = unlink(s->path) == 0 ? 1 : -errno; /* nothing was ever durable */
	else if (ftruncate(s->fd, (off_t)s->durable_off) == 0)
		r = write_footer(s->fd, s->blocks, s->durable_blocks, s->durable_off, NULL);
	cr_segw_close(s);
	return r;
}

void
cr_segw_close(struct cr_segw *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->dfd >= 0)
		close(s->dfd);
	s->fd = s->dfd = -1;
	s->wlen = 0;
	s->n_blocks = 0;
	if (s->hashing) { /* not sealed (abort, close): the digest means nothing */
		uint8_t d[32];
		cr_sha256_final(&s->h, d);
		s->hashing = 0;
	}
	if (s->enc)
		cr_dkey_wipe(&s->dk);
	s->enc = 0;
}

void
cr_segw_free(struct cr_segw *s)
{
	cr_segw_close(s);
	cr_mem_huge_free(s->wbuf, CR_SEGW_BUF);
	free(s->blocks);
	free(s->tmp);
	s->tmp = NULL;
	s->wbuf = NULL;
	s->blocks = NULL;
	s->cap_blocks = 0;
}

/* ---- walker ---- */

static const struct cr_keyring *g_keyring;

void
cr_store_set_keyring(const struct cr_keyring *kr)
{
	g_keyring = kr;
}

const struct cr_keyring *
cr_store_keyring(void)
{
	return g_keyring;
}

int
cr_seg_dkey(const uint8_t *hdr, const struct cr_keyring *kr, struct cr_dkey *dk, uint64_t *key_id)
{
	if (!cr_seg_encrypted(hdr))
		return -EINVAL;
	int best = -ENOKEY;
	for (int i = 0; i < 2; i++) {
		const uint8_t *slot = hdr + CR_SEG_HDR_LEN + i * CR_KSLOT_LEN;
		int r = cr_kslot_unwrap(slot, kr, dk, hdr, CR_SEG_HDR_LEN);
		if (r == 0) {
			if (key_id)
				*key_id = cr_kslot_key_id(slot);
			return 0;
		}
		if (r == -EBADMSG || r == -EINVAL)
			best = -EKEYREJECTED;
	}
	return best;
}

/* Verify one block at off; on success *raw holds its chunks. An encrypted
 * block without a key (dk NULL) is checked by its CRC only: *raw_len = 0. */
static int
block_at(int fd, uint64_t off, uint64_t size, uint8_t **buf, size_t *cap, uint8_t **raw,
	 size_t *rcap, uint32_t *raw_len, uint16_t *n_chunks, uint32_t *total, struct cr_dkey *dk)
{
	uint8_t h[CR_BLOCK_HDR_LEN];
	if (off + CR_BLOCK_HDR_LEN > size || read_all(fd, h, sizeof(h), off) != 0)
		return -ENODATA;
	int t = cr_block_peek(h, sizeof(h), raw_len, n_chunks);
	if (t < 0)
		return -EINVAL;
	if (off + (uint64_t)t > size)
		return -ENODATA;
	if ((size_t)t > *cap) {
		uint8_t *nb = realloc(*buf, (size_t)t);
		if (nb == NULL)
			return -ENOMEM;
		*buf = nb;
		*cap = (size_t)t;
	}
	if (*raw_len > *rcap) {
		uint8_t *nr = realloc(*raw, *raw_len);
		if (nr == NULL)
			return -ENOMEM;
		*raw = nr;
		*rcap = *raw_len;
	}
	if (read_all(fd, *buf, (size_t)t, off) != 0)
		return -EIO;
	if (cr_block_is_sealed(*buf)) {
		if (dk == NULL) {
			int c = cr_block_decode(*buf, (size_t)t, *raw, (uint32_t)*rcap);
			if (c != -ENOKEY)
				return c < 0 ? c : -EINVAL;
			*raw_len = 0;
			*total = (uint32_t)t;
			return 0;
		}
		int u = cr_block_unseal(*buf, (size_t)t, dk, off);
		if (u < 0)
			return u;
	}
	int d = cr_block_decode(*buf, (size_t)t, *raw, (uint32_t)*rcap);
	if (d < 0)
		return d;
	*total = (uint32_t)t;
	return 0;
}

/* the footer a trailer points to, when both are intact */
static int
read_footer(int fd, uint64_t size, uint64_t **blocks, uint32_t *n, uint64_t *foff)
{
	uint8_t t[16];
	if (size < CR_SEG_HDR_LEN + 12 + 16 || read_all(fd, t, 16, size - 16) != 0 ||
	    memcmp(t + 8, CR_SEG_TRAILER_MAGIC, 8) != 0)
		return -ENOENT;
	uint64_t off;
	memcpy(&off, t, 8);
	if (off < CR_SEG_HDR_LEN || off + 12 + 16 > size)
		return -EINVAL;
	uint64_t fl = size - 16 - off;
	uint8_t *f = malloc(fl);
	if (f == NULL)
		return -ENOMEM;
	uint32_t cnt, crc;
	int r = read_all(fd, f, fl, off);
	if (r == 0) {
		memcpy(&cnt, f + 4, 4);
		if (memcmp(f, "CRFT", 4) != 0 || fl != 8 + (uint64_t)cnt * 8 + 4)
			r = -EINVAL;
	}
	if (r == 0) {
		memcpy(&crc, f + fl - 4, 4);
		if (crc != cr_crc32c(f, fl - 4, 0))
			r = -EINVAL;
	}
	if (r == 0) {
		*blocks = malloc(((size_t)cnt ? cnt : 1) * 8);
		if (*blocks == NULL)
			r = -ENOMEM;
		else
			memcpy(*blocks, f + 8, (size_t)cnt * 8);
		*n = cnt;
		*foff = off;
	}
	free(f);
	return r;
}

int
cr_seg_walk(const char *path, cr_seg_block_cb cb, void *ctx, struct cr_seg_walk *w)
{
	memset(w, 0, sizeof(*w));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	uint8_t hdr[CR_SEG_HDR_LEN];
	if (fstat(fd, &st) == 0 && st.st_size < CR_SEG_HDR_LEN) {
		/* created, killed before its first write reached the disk */
		close(fd);
		w->size = (uint64_t)st.st_size;
		w->empty = 1;
		return 0;
	}
	if (fstat(fd, &st) != 0 || read_all(fd, hdr, sizeof(hdr), 0) != 0 ||
	    cr_seg_header_check(hdr, sizeof(hdr)) != 0) {
		close(fd);
		w->bad_header = 1;
		return 0;
	}
	memcpy(&w->writer, hdr + 12, 2);
	memcpy(&w->seq, hdr + 16, 8);
	memcpy(&w->created_ns, hdr + 24, 8);
	w->size = (uint64_t)st.st_size;
	w->hdr_len = cr_seg_hdr_len(hdr);
	w->encrypted = cr_seg_encrypted(hdr);
	struct cr_dkey dkey = {{0}, NULL}, *dk = NULL;
	if (w->encrypted) {
		uint8_t full[CR_SEG_HDR_ENC_LEN];
		if (w->size < w->hdr_len || read_all(fd, full, sizeof(full), 0) != 0) {
			close(fd);
			w->empty = 1; /* killed before the key slots reached the disk */
			return 0;
		}
		int k = cr_seg_dkey(full, g_keyring, &dkey, &w->key_id);
		if (k == 0)
			dk = &dkey;
		else if (k == -EKEYREJECTED)
			w->key_rejected = 1;
		else
			w->no_key = 1;
	}
	uint64_t *fb = NULL;
	uint32_t fn = 0;
	uint64_t foff = 0;
	int fr = read_footer(fd, w->size, &fb, &fn, &foff);
	w->sealed = fr == 0;
	w->bad_footer = fr != 0 && fr != -ENOENT;
	uint64_t limit = w->sealed ? foff : w->size;
	uint8_t *buf = NULL, *raw = NULL;
	size_t cap = 0, rcap = 0;
	int ret = 0;
	uint64_t off = w->hdr_len;
	uint32_t fi = 0;
	w->valid_end = w->hdr_len;
	while (off < limit && ret == 0) {
		uint32_t raw_len, total;
		uint16_t nch;
		int r = block_at(fd, off, limit, &buf, &cap, &raw, &rcap, &raw_len, &nch, &total,
				 dk);
		if (r == -ENOMEM) {
			ret = r;
			break;
		}
		if (r == -EKEYREJECTED) {
			/* intact on disk (CRC) but fails authentication: altered with
			 * its CRC recomputed, or moved; counted damaged */
			w->key_rejected = 1;
		}
		if (w->sealed && (fi >= fn || fb[fi] != off))
			w->footer_mismatch = 1;
		if (r == 0) {
			w->blocks++;
			w->chunks += nch;
			w->valid_end = off + total;
			if (cb)
				ret = cb(ctx, off, raw_len ? raw : NULL, raw_len, nch);
			off += total;
			fi++;
			continue;
		}
		/* damaged: a sealed segment says where the next block starts;
		 * otherwise look for the next block that verifies */
		uint64_t next = 0;
		if (w->sealed) {
			w->bad_blocks++;
			if (w->first_bad == 0)
				w->first_bad = off;
			while (fi < fn && fb[fi] <= off)
				fi++;
			next = fi < fn ? fb[fi] : limit;
		} else {
			for (uint64_t o = off + 1; o + CR_BLOCK_HDR_LEN <= limit; o++) {
				uint8_t m[4];
				if (read_all(fd, m, 4, o) != 0)
					break;
				uint32_t mv = (uint32_t)m[0] | (uint32_t)m[1] << 8 |
					      (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
				if (mv != CR_BLOCK_MAGIC)
					continue;
				uint32_t rl2, t2;
				uint16_t n2;
				if (block_at(fd, o, limit, &buf, &cap, &raw, &rcap, &rl2, &n2, &t2,
					     dk) == 0) {
					next = o;
					break;
				}
			}
			if (next == 0) {
				/* nothing good after it: the tail a crash tore */
				w->torn_tail = limit - off;
				break;
			}
			w->bad_blocks++;
			if (w->first_bad == 0)
				w->first_bad = off;
			w->skipped += next - off;
		}
		off = next;
	}
	if (w->sealed && fi != fn)
		w->footer_mismatch = 1;
	cr_dkey_wipe(&dkey);
	free(fb);
	free(buf);
	free(raw);
	close(fd);
	return ret;
}

struct offs {
	uint64_t *v;
	uint32_t n, cap;
};

static int
collect_offsets(void *ctx, uint64_t off, const uint8_t *raw, uint32_t raw_len,
		       uint16_t n_chunks)
{
	(void)raw;
	(void)raw_len;
	(void)n_chunks;
	struct offs *o = ctx;
	if (o->n == o->cap) {
		uint32_t nc = o->cap ? o->cap * 2 : 256;
		uint64_t *nv = realloc(o->v, nc * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		o->v = nv;
		o->cap = nc;
	}
	o->v[o->n++] = off;
	return 0;
}

int
cr_seg_recover(const char *path, const char *quarantine_path, struct cr_seg_walk *w)
{
	int r = cr_seg_walk(path, NULL, NULL, w);
	if (r != 0)
		return r;
	if (w->bad_header)
		return -EINVAL;
	if (w->sealed)
		return 0;
	if (w->empty) {
		/* nothing was ever durable in it: keep the bytes aside, drop the name */
		if (cr_mkdirs(quarantine_path) != 0 || rename(path, quarantine_path) != 0)
			return -errno;
		w->quarantined = w->size;
		w->removed = 1;
		return 0;
	}
	/* collect the offsets of the blocks that verify */
	struct offs o = {NULL, 0, 0};
	struct cr_seg_walk w2;
	r = cr_seg_walk(path, collect_offsets, &o, &w2);
	if (r != 0) {
		free(o.v);
		return r;
	}
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		free(o.v);
		return -errno;
	}
	/* the torn tail is kept aside for inspection, never silently dropped */
	if (w->valid_end < w->size && quarantine_path) {
		uint64_t n = w->size - w->valid_end;
		uint8_t *t = malloc(n ? n : 1);
		int q = t && read_all(fd, t, n, w->valid_end) == 0 && cr_mkdirs(quarantine_path) == 0
				? open(quarantine_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)
				: -1;
		if (q >= 0) {
			if (write_all(q, t, n, 0) != 0 || fsync(q) != 0)
				r = -EIO;
			close(q);
			w->quarantined = n;
		} else if (n) {
			r = -EIO;
		}
		free(t);
	}
	if (r == 0)
		r = write_footer(fd, o.v, o.n, w->valid_end, NULL);
	close(fd);
	free(o.v);
	return r;
}

