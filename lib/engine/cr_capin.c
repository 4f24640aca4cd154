/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Capture files read by the engine itself (offline import).
 *
 * Why not the pcap PMD: it reads through libpcap's FILE with the stdio
 * default buffer (one 4 KiB read() per few packets: 67,000 syscalls for a
 * 276 MB capture), takes a packet it has read only if an mbuf is free (so the
 * importer had to poll the pool's occupancy before every burst), and cannot
 * say when the file ends (the importer counted the packets in a first pass
 * over the whole file). Here packets go straight into mbufs taken in bulk
 * before a record is read, and the end of the file is known. Classic pcap
 * and pcapng, the usual formats of a large capture, are parsed here from
 * 256 KiB reads: libpcap's fread per header and per packet (a lock and a copy
 * each) was a tenth of an import's CPU, and libpcap stops at a pcapng
 * interface whose snapshot length differs from the first one's (what
 * mergecap makes of captures from two taps). Anything else goes through
 * libpcap, over a FILE with a 1 MiB buffer; packet time is delivered in ns
 * either way.
 *
 * Packets of the formats parsed here are not copied: each mbuf is attached to
 * its bytes in the read buffer (an external buffer), so an import moves each byte once
 * from the page cache instead of twice (the copy into mbufs was an eighth of
 * an import's CPU). The read buffer is a set of slabs: the reader fills one;
 * when it needs more bytes and mbufs still point into it, the unparsed tail
 * moves to a free slab and the old one is freed by the last mbuf's free.
 * Counting references with an atomic per packet would bounce a cache line
 * between the reader and the workers, so a slab starts with a bias the
 * workers' frees cannot exhaust and the reader settles it once, at the
 * switch (slab_retire).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "cr_engine_internal.h"
#include "cr_mem.h"

#define CAPIN_BUF (1u << 20)	 /* pcapng: the FILE's buffer */
#define CAPIN_MAX_CAPLEN 262144u /* libpcap's limit for a record */
#define CAPIN_READ (256u << 10)	 /* classic pcap: bytes a read asks for */
#define CAPIN_SLABS 8		 /* ~4 mbuf pools' worth of G.711 packets */
/* References: a slab's count starts at CAPIN_REF_BIAS and is settled with a
 * signed 16-bit add, so it holds at most CAPIN_SLAB_REFS packets */
#define CAPIN_REF_BIAS 32767
#define CAPIN_SLAB_REFS 30000

struct capin_slab {
	/* written by the workers' frees */
	struct rte_mbuf_ext_shared_info shinfo; /* freed by the last mbuf */
	int busy; /* the reader's, or mbufs still point into it */
	/* the reader's, on a line of its own: counted next to the workers'
	 * atomic decrements, it made every free wait for the line (6 % of an
	 * import in rte_pktmbuf_detach) */
	uint32_t refs __rte_cache_aligned; /* mbufs attached while it was the reader's */
	uint8_t data[] __rte_cache_aligned; /* CAPIN_READ + CAPIN_MAX_CAPLEN */
};

/* pcapng blocks */
#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_OPB 2u /* obsolete packet block */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1A2B3C4Du
/* a block the parser holds whole: a packet of the largest record and its
 * headers and options (larger blocks of other kinds are skipped unread) */
#define NG_MAX_BLOCK (CAPIN_MAX_CAPLEN + 4096u)
#define NG_MAX_IFS 1024u
/* packet times past classic pcap's (32-bit seconds, up to 2106) are damage:
 * below it any two packet times subtract without overflow */
#define NG_MAX_NS (4294967296LL * 1000000000LL)

struct capin_if {
	uint64_t units;	   /* timestamp units a second (if_tsresol) */
	uint64_t ns_per_unit; /* 10^9 / units when whole (us, ns, ms...), else 0 */
	int64_t offset_ns; /* if_tsoffset */
	uint32_t snaplen;
	uint16_t link;
	uint8_t warned;
};

struct cr_capin {
	FILE *fp;
	pcap_t *p;  /* anything but classic pcap and pcapng: libpcap parses */
	char *buf;
	const struct pcap_pkthdr *ph; /* read, not yet delivered (no mbuf was free) */
	const u_char *pd;
	int done;
	/* classic pcap, parsed here */
	int fd;
	int swapped, nsec;
	struct capin_slab *slab[CAPIN_SLABS]; /* DPDK memory: mbufs may outlive us */
	unsigned cur;	   /* the slab being parsed */
	uint8_t *raw;	   /* its data */
	size_t pos, len;   /* unparsed bytes raw[pos..len) */
	long long offset;  /* file offset of raw[len] */
	int eof;
	uint64_t size;	   /* of the file at open (progress) */
	/* pcapng, parsed here: the current section's interfaces */
	int ng;
	struct capin_if *ifs;
	unsigned n_ifs;
	int link0;	 /* the file's first interface's link type: the port's */
	int64_t last_ns; /* simple packet blocks carry no time */
};

static uint32_t
rd32(const struct cr_capin *c, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return c->swapped ? __builtin_bswap32(v) : v;
}

static uint16_t
rd16(const struct cr_capin *c, const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return c->swapped ? __builtin_bswap16(v) : v;
}

/* the last mbuf attached to a slab was freed (on a worker) */
static void
slab_free_cb(void *addr, void *opaque)
{
	RTE_SET_USED(addr);
	__atomic_store_n(&((struct capin_slab *)opaque)->busy, 0, __ATOMIC_RELEASE);
}

/* n packets of a slab were freed */
static void
slab_settle(struct rte_mbuf_ext_shared_info *sh, uint16_t n)
{
	if (rte_mbuf_ext_refcnt_update(sh, (int16_t)-(int)n) == 0)
		sh->free_cb(NULL, sh->fcb_opaque);
}

/* what cr_capin_free_bulk gathered: to the pool, the slab settled */
struct free_run {
	struct rte_mempool *mp;
	struct rte_mbuf_ext_shared_info *sh;
	uint16_t n_sh;
	unsigned np, nr;
	struct rte_mbuf *put[64], *rest[64];
};

static void
free_run_flush(struct free_run *f)
{
	if (f->sh)
		slab_settle(f->sh, f->n_sh);
	f->sh = NULL;
	f->n_sh = 0;
	if (f->np)
		rte_mempool_put_bulk(f->mp, (void **)f->put, f->np);
	if (f->nr)
		rte_pktmbuf_free_bulk(f->rest, f->nr);
	f->np = f->nr = 0;
}

void
cr_capin_free_bulk(struct rte_mbuf **ms, unsigned n)
{
	struct free_run f;
	f.mp = NULL;
	f.sh = NULL;
	f.n_sh = 0;
	f.np = f.nr = 0;
	uint16_t priv = 0, room = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		if (f.np == RTE_DIM(f.put) || f.nr == RTE_DIM(f.rest))
			free_run_flush(&f);
		/* one of ours, held by nothing else: what rte_pktmbuf_prefree_seg
		 * and rte_pktmbuf_detach do, but the slab's count */
		if (!RTE_MBUF_HAS_EXTBUF(m) || m->shinfo->free_cb != slab_free_cb ||
		    rte_mbuf_refcnt_read(m) != 1 || m->nb_segs != 1 || m->next != NULL ||
		    (f.np && m->pool != f.mp)) {
			f.rest[f.nr++] = m;
			continue;
		}
		if (m->shinfo != f.sh) {
			if (f.sh)
				slab_settle(f.sh, f.n_sh);
			f.sh = m->shinfo;
			f.n_sh = 0;
		}
		f.n_sh++;
		if (m->pool != f.mp) {
			f.mp = m->pool;
			priv = rte_pktmbuf_priv_size(f.mp);
			room = rte_pktmbuf_data_room_size(f.mp);
		}
		uint32_t hdr = (uint32_t)sizeof(struct rte_mbuf) + priv;
		m->priv_size = priv;
		m->buf_addr = (char *)m + hdr;
		rte_mbuf_iova_set(m, rte_mempool_virt2iova(m) + hdr);
		m->buf_len = room;
		rte_pktmbuf_reset_headroom(m);
		m->data_len = 0;
		m->ol_flags = 0;
		f.put[f.np++] = m;
	}
	free_run_flush(&f);
}

static void
slab_take(struct capin_slab *s)
{
	s->busy = 1;
	s->refs = 0;
	rte_mbuf_ext_refcnt_set(&s->shinfo, CAPIN_REF_BIAS);
}

/* The reader leaves the slab: its count becomes the mbufs still attached
 * (the bias minus the frees so far, plus the attached ones minus the bias). */
static void
slab_retire(struct capin_slab *s)
{
	if (rte_mbuf_ext_refcnt_update(&s->shinfo, (int16_t)((int)s->refs - CAPIN_REF_BIAS)) == 0)
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
}

/* Continue in a free slab, taking the unparsed bytes along: 0, or -EAGAIN
 * when every slab is still pointed into (the workers hold its mbufs). The
 * lowest free one: when workers keep up, two slabs take turns and stay in
 * the cache the read copies into (a micro-benchmark of 256 KiB preads of a
 * 276 MB capture, each read over: 44-45 ms into 2 buffers, 47-48 into 8). */
static int
slab_next(struct cr_capin *c)
{
	for (unsigned i = 0; i < CAPIN_SLABS; i++) {
		struct capin_slab *t = c->slab[i];
		if (i == c->cur)
			continue;
		if (__atomic_load_n(&t->busy, __ATOMIC_ACQUIRE))
			continue;
		slab_take(t);
		memcpy(t->data, c->raw + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
		slab_retire(c->slab[c->cur]);
		c->cur = i;
		c->raw = t->data;
		return 0;
	}
	return -EAGAIN;
}

/* The classic pcap header (24 bytes): 1 and the stream positioned after it,
 * 0 when the file is something else (left for libpcap), <0 on a read error. */
static int
classic_open(struct cr_capin *c, const char *path)
{
	uint8_t h[24];
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ssize_t n = pread(c->fd, h, sizeof(h), 0);
	uint32_t magic;
	memcpy(&magic, h, 4);
	int ok = n == (ssize_t)sizeof(h);
	uint32_t bom;
	memcpy(&bom, h + 8, 4);
	if (ok && (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)) {
		c->nsec = magic == 0xa1b23c4d;
	} else if (ok && (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)) {
		c->swapped = 1;
		c->nsec = magic == 0x4d3cb2a1;
	} else if (ok && magic == NG_SHB && (bom == NG_BOM || bom == __builtin_bswap32(NG_BOM))) {
		c->ng = 1; /* parsed from its first block: each section says its byte order */
		c->link0 = -1;
		c->ifs = calloc(NG_MAX_IFS, sizeof(*c->ifs));
		if (c->ifs == NULL) {
			close(c->fd);
			c->fd = -1;
			return -ENOMEM;
		}
	} else {
		close(c->fd);
		c->fd = -1;
		return 0;
	}
	for (unsigned i = 0; i < CAPIN_SLABS; i++) {
		c->slab[i] = rte_malloc("cr_capin", sizeof(struct capin_slab) + CAPIN_READ +
						    CAPIN_MAX_CAPLEN, RTE_CACHE_LINE_SIZE);
		if (c->slab[i] == NULL) {
			while (i--)
				rte_free(c->slab[i]);
			close(c->fd);
			c->fd = -1;
			free(c->ifs);
			c->ifs = NULL;
			return -ENOMEM;
		}
		/* EAL's 4 KiB pages: fault the slab in with one call, not a
		 * fault a page inside the reads (cr_mem.h) */
		if (!rte_eal_has_hugepages())
			cr_mem_prefault(c->slab[i], sizeof(struct capin_slab) + CAPIN_READ +
							 CAPIN_MAX_CAPLEN);
		c->slab[i]->shinfo.free_cb = slab_free_cb;
		c->slab[i]->shinfo.fcb_opaque = c->slab[i];
		c->slab[i]->busy = 0;
	}
	slab_take(c->slab[0]);
	c->raw = c->slab[0]->data;
	posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	c->offset = c->ng ? 0 : 24;
	return 1;
}

/* make n bytes available at raw[pos]: 1, 0 at the end of the file, -EAGAIN
 * when no slab is free yet, other <0: error */
static int
classic_need(struct cr_capin *c, size_t n)
{
	while (c->len - c->pos < n) {
		if (c->eof)
			return 0;
		if (c->slab[c->cur]->refs) {
			int r = slab_next(c);
			if (r != 0)
				return r;
		} else if (c->pos) {
			memmove(c->raw, c->raw + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
		ssize_t r = pread(c->fd, c->raw + c->len, CAPIN_READ + CAPIN_MAX_CAPLEN - c->len,
				  (off_t)c->offset);
		if (r < 0)
			return -errno;
		if (r == 0)
			c->eof = 1;
		c->len += (size_t)r;
		c->offset += r;
	}
	return 1;
}

int
cr_capin_open(const char *path, struct cr_capin **out, char *err, size_t errlen)
{
	struct cr_capin *c = calloc(1, sizeof(*c));
	char perr[PCAP_ERRBUF_SIZE] = "";
	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	struct stat sb;
	if (stat(path, &sb) == 0)
		c->size = (uint64_t)sb.st_size;
	int r = classic_open(c, path);
	if (r != 0) {
		if (r > 0) {
			*out = c;
			return 0;
		}
		snprintf(err, errlen, "%s", strerror(-r));
		free(c);
		return r;
	}
	c->fp = fopen(path, "rb");
	if (c->fp == NULL) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		free(c);
		return r;
	}
	c->buf = malloc(CAPIN_BUF);
	if (c->buf)
		setvbuf(c->fp, c->buf, _IOFBF, CAPIN_BUF);
	posix_fadvise(fileno(c->fp), 0, 0, POSIX_FADV_SEQUENTIAL);
	c->p = pcap_fopen_offline_with_tstamp_precision(c->fp, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (c->p == NULL) {
		snprintf(err, errlen, "%s", perr[0] ? perr : "not a pcap or pcapng file");
		fclose(c->fp);
		free(c->buf);
		free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

void
cr_capin_close(struct cr_capin *c)
{
	if (c == NULL)
		return;
	if (c->p)
		pcap_close(c->p); /* closes the FILE */
	if (c->fd >= 0) {
		close(c->fd);
		slab_retire(c->slab[c->cur]);
		/* a slab mbufs still point into (IP reassembly may hold some at
		 * exit) is left to rte_eal_cleanup() */
		for (unsigned i = 0; i < CAPIN_SLABS; i++)
			if (!__atomic_load_n(&c->slab[i]->busy, __ATOMIC_ACQUIRE))
				rte_free(c->slab[i]);
	}
	free(c->buf);
	free(c->ifs);
	free(c);
}

int
cr_capin_done(const struct cr_capin *c)
{
	return c->done;
}

uint64_t
cr_capin_size(const struct cr_capin *c)
{
	return c->size;
}

long long
cr_capin_offset(const struct cr_capin *c)
{
	return c->fd >= 0 ? c->offset - (long long)(c->len - c->pos) : ftello(c->fp);
}

/* one packet into mbufs: a chain when it is larger than a data room */
static struct rte_mbuf *
fill(struct rte_mempool *mp, struct rte_mbuf *head, uint32_t len, const u_char *d)
{
	uint32_t room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
	uint32_t off = 0;
	struct rte_mbuf *seg = head, *last = NULL;
	for (;;) {
		uint32_t n = len - off < room ? len - off : room;
		memcpy(rte_pktmbuf_mtod(seg, void *), d + off, n);
		seg->data_len = (uint16_t)n;
		off += n;
		if (last)
			last->next = seg;
		last = seg;
		if (off >= len)
			break;
		seg = rte_pktmbuf_alloc(mp);
		if (seg == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		head->nb_segs++;
	}
	head->pkt_len = len;
	return head;
}

/* one segment of a packet attached to its bytes in the current slab */
static void
attach(struct cr_capin *c, struct rte_mbuf *m, uint8_t *d, uint16_t len)
{
	rte_pktmbuf_attach_extbuf(m, d, RTE_BAD_IOVA, len, &c->slab[c->cur]->shinfo);
	c->slab[c->cur]->refs++;
	m->data_len = len;
	m->pkt_len = len;
}

/* A packet's bytes d[0..cap) of the read buffer into m, with its time:
 * attached, not copied; past an mbuf's 16-bit length, as a chain of
 * segments each attached to its part (a GRO'd capture's 64 KiB+ frames), so
 * an import's mbufs need no data room of their own (cr_capin_copies). NULL:
 * no mbuf for the chain (the record stays unread). */
static struct rte_mbuf *
take_packet(struct cr_capin *c, struct rte_mempool *mp, struct rte_mbuf *m, uint8_t *d,
	    uint32_t cap, int ts_off, int64_t t)
{
	uint16_t seg = cap <= UINT16_MAX ? (uint16_t)cap : UINT16_MAX;
	attach(c, m, d, seg);
	for (uint32_t off = seg; off < cap; off += seg) {
		struct rte_mbuf *n = rte_pktmbuf_alloc(mp);
		if (n == NULL) {
			rte_pktmbuf_free(m); /* the segments so far: their references go */
			return NULL;
		}
		seg = cap - off <= UINT16_MAX ? (uint16_t)(cap - off) : UINT16_MAX;
		attach(c, n, d + off, seg);
		if (rte_pktmbuf_chain(m, n) != 0) {
			rte_pktmbuf_free(n);
			rte_pktmbuf_free(m);
			return NULL;
		}
	}
	*RTE_MBUF_DYNFIELD(m, ts_off, uint64_t *) = (uint64_t)t;
	return m;
}

int
cr_capin_copies(const struct cr_capin *c)
{
	return c->fd < 0; /* libpcap's formats: fill() copies each packet */
}

/* The file ends (r 0), cannot be read (r < 0), or ends inside a record */
static void
read_end(struct cr_capin *c, int r, const char *cut, uint64_t *errors)
{
	if (r < 0 || c->len > c->pos) {
		(*errors)++;
		CR_LOG(WARNING, "capture: %s at offset %lld; the rest is skipped",
		       r < 0 ? strerror(-r) : cut, cr_capin_offset(c));
	}
	c->done = 1;
}

static uint16_t
classic_rx(struct cr_capin *c, struct rte_mempool *mp, int ts_off, struct rte_mbuf **pkts,
	   uint16_t n, uint64_t *errors)
{
	uint16_t got = 0;
	while (got < n) {
		if (c->slab[c->cur]->refs >= CAPIN_SLAB_REFS && slab_next(c) != 0)
			break;
		int r = classic_need(c, 16);
		if (r == -EAGAIN)
			break; /* the record stays unread until a slab is free */
		if (r <= 0)
			goto end;
		const uint8_t *h = c->raw + c->pos;
		uint32_t sec = rd32(c, h), frac = rd32(c, h + 4), cap = rd32(c, h + 8);
		if (cap > CAPIN_MAX_CAPLEN) {
			(*errors)++;
			CR_LOG(WARNING, "capture: record of %u bytes at offset %lld: corrupt; the "
					"rest of the file is skipped", cap, cr_capin_offset(c));
			c->done = 1;
			break;
		}
		r = classic_need(c, 16 + (size_t)cap);
		if (r == -EAGAIN)
			break;
		if (r <= 0)
			goto end;
		int64_t t = (int64_t)((uint64_t)sec * 1000000000ull +
				      (uint64_t)frac * (c->nsec ? 1 : 1000));
		if (take_packet(c, mp, pkts[got], c->raw + c->pos + 16, cap, ts_off, t) == NULL) {
			pkts[got] = NULL; /* the record stays unread for the next call */
			break;
		}
		c->pos += 16 + (size_t)cap;
		got++;
		continue;
	end:
		read_end(c, r, "the last record is cut short", errors);
		break;
	}
	return got;
}

/* An interface description: its link type, snapshot length and timestamp
 * unit and offset (options if_tsresol, if_tsoffset). 0, or -EINVAL. */
static int
ng_idb(struct cr_capin *c, const uint8_t *b, uint32_t len)
{
	if (len < 20 || c->n_ifs == NG_MAX_IFS)
		return -EINVAL;
	struct capin_if *f = &c->ifs[c->n_ifs];
	memset(f, 0, sizeof(*f));
	f->link = rd16(c, b + 8);
	f->snaplen = rd32(c, b + 12);
	f->units = 1000000;
	for (const uint8_t *o = b + 16, *end = b + len - 4; o + 4 <= end;) {
		uint16_t code = rd16(c, o), olen = rd16(c, o + 2);
		const uint8_t *v = o + 4;
		if (code == 0 || v + olen > end)
			break;
		if (code == 9 && olen >= 1) { /* if_tsresol: 10^-v, or 2^-v with the top bit */
			unsigned e = v[0] & 0x7f;
			if (v[0] & 0x80) {
				if (e > 63)
					return -EINVAL;
				f->units = 1ull << e;
			} else {
				if (e > 19)
					return -EINVAL;
				f->units = 1;
				while (e--)
					f->units *= 10;
			}
		} else if (code == 14 && olen >= 8) { /* if_tsoffset: seconds */
			uint64_t lo = rd32(c, v), hi = rd32(c, v + 4);
			if (c->swapped) {
				uint64_t t = lo;
				lo = hi;
				hi = t;
			}
			int64_t sec = (int64_t)(hi << 32 | lo);
			if (sec > 4000000000LL || sec < -4000000000LL) /* 127 years */
				return -EINVAL;
			f->offset_ns = sec * 1000000000LL;
		}
		o = v + ((olen + 3u) & ~3u);
	}
	f->ns_per_unit = 1000000000ull % f->units == 0 ? 1000000000ull / f->units : 0;
	if (c->link0 < 0)
		c->link0 = f->link;
	c->n_ifs++;
	return 0;
}

/* a timestamp in an interface's unit, in ns */
static int64_t
ng_time(const struct capin_if *f, uint64_t ts)
{
	/* the usual units (us, ns) without a division a packet; a time past
	 * NG_MAX_NS is damage, so a product that could wrap is refused */
	if (f->ns_per_unit)
		return ts > (uint64_t)NG_MAX_NS / f->ns_per_unit
			       ? -1
			       : (int64_t)(ts * f->ns_per_unit) + f->offset_ns;
	uint64_t sec = ts / f->units, frac = ts % f->units;
	/* unsigned: a damaged timestamp wraps instead of overflowing */
	return (int64_t)(sec * 1000000000ull +
			 (uint64_t)((unsigned __int128)frac * 1000000000u / f->units) +
			 (uint64_t)f->offset_ns);
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A packet of link type `from` rewritten as one of `to` (the port's), in
 * place: its link header is replaced by one of the port's type carrying the
 * same protocol, written into the `room` bytes before it (its block's own
 * header, parsed already). @return the new start (*len updated), or NULL
 * when the port's type cannot carry it (not IP for a raw IP port, IPv6 for
 * an IPv4 one, a link type callrec does not parse). */
static uint8_t *
relink(uint8_t *d, uint32_t *len, int from, int to, uint32_t room)
{
	uint32_t hl;
	uint16_t et;
	switch (from) {
	case CR_LINK_ETHERNET:
		hl = 14;
		et = *len >= hl ? be16(d + 12) : 0;
		break;
	case CR_LINK_LINUX_SLL:
		hl = 16;
		et = *len >= hl ? be16(d + 14) : 0;
		break;
	case CR_LINK_LINUX_SLL2:
		hl = 20;
		et = *len >= hl ? be16(d) : 0;
		break;
	case CR_LINK_RAW:
	case CR_LINK_IPV4:
	case CR_LINK_IPV6:
		hl = 0;
		et = *len && d[0] >> 4 == 6 ? 0x86DD : *len && d[0] >> 4 == 4 ? 0x0800 : 0;
		break;
	default:
		return NULL;
	}
	if (*len < hl || et == 0)
		return NULL;
	if (to == CR_LINK_RAW || to == CR_LINK_IPV4 || to == CR_LINK_IPV6) {
		/* down to the IP header, past VLAN tags, MPLS, PPPoE; what is not
		 * IP (ARP) goes as it is after its link headers: the port counts
		 * it NOT_IP, as the interface's own type would have */
		struct cr_pkt p;
		int r = cr_pkt_parse(d, *len, from, &p);
		if (r == -CR_PKT_E_TRUNC_L2 || r == -CR_PKT_E_BAD_LINKTYPE)
			return NULL;
		uint8_t v = *len > p.l2_len ? d[p.l2_len] >> 4 : 0;
		if ((to == CR_LINK_IPV4 && v != 4) || (to == CR_LINK_IPV6 && v != 6))
			return NULL;
		*len -= p.l2_len;
		return d + p.l2_len;
	}
	static const uint8_t sll[14] = {0, 0, 0, 1, 0, 6};	/* to us, ARPHRD_ETHER */
	static const uint8_t sll2[18] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 6};
	uint32_t nh = to == CR_LINK_ETHERNET ? 14 : to == CR_LINK_LINUX_SLL ? 16
		    : to == CR_LINK_LINUX_SLL2	   ? 20
						   : 0;
	if (nh == 0 || nh > hl + room)
		return NULL;
	uint8_t *n = d + hl - nh;
	if (to == CR_LINK_ETHERNET) {
		memset(n, 0, 12);
		n[12] = (uint8_t)(et >> 8);
		n[13] = (uint8_t)et;
	} else if (to == CR_LINK_LINUX_SLL) {
		memcpy(n, sll, 14);
		n[14] = (uint8_t)(et >> 8);
		n[15] = (uint8_t)et;
	} else {
		n[0] = (uint8_t)(et >> 8);
		n[1] = (uint8_t)et;
		memcpy(n + 2, sll2, 18);
	}
	*len = *len - hl + nh;
	return n;
}

/* pcapng, block by block: packets of the sections' interfaces; blocks of
 * other kinds are skipped (larger ones unread). A packet of an interface of
 * another link type than the file's first (the port's) is rewritten as the
 * port's type (relink); one that cannot be is a capture error, and the
 * interface is named in a warning. */
static uint16_t
ng_rx(struct cr_capin *c, struct rte_mempool *mp, int ts_off, struct rte_mbuf **pkts, uint16_t n,
      uint64_t *errors)
{
	uint16_t got = 0;
	const char *what = NULL;
	while (got < n) {
		if (c->slab[c->cur]->refs >= CAPIN_SLAB_REFS && slab_next(c) != 0)
			break;
		int r = classic_need(c, 12);
		if (r == -EAGAIN)
			break;
		if (r <= 0)
			goto end;
		const uint8_t *b = c->raw + c->pos;
		uint32_t type = rd32(c, b);
		if (type == NG_SHB) { /* a section says its byte order */
			uint32_t bom;
			memcpy(&bom, b + 8, 4);
			if (bom != NG_BOM && bom != __builtin_bswap32(NG_BOM)) {
				what = "section header without a byte-order magic";
				goto corrupt;
			}
			c->swapped = bom != NG_BOM;
		}
		uint32_t len = rd32(c, b + 4);
		if (len < 12 || len % 4) {
			what = "block length";
			goto corrupt;
		}
		if (len > NG_MAX_BLOCK) {
			if (type == NG_SHB || type == NG_IDB || type == NG_EPB || type == NG_SPB ||
			    type == NG_OPB) {
				what = "block length";
				goto corrupt;
			}
			size_t have = c->len - c->pos; /* skipped, what is not read yet unread */
			if (have >= len) {
				c->pos += len;
			} else {
				c->offset += (long long)(len - have);
				c->pos = c->len;
			}
			continue;
		}
		r = classic_need(c, len);
		if (r == -EAGAIN)
			break;
		if (r <= 0)
			goto end;
		b = c->raw + c->pos;
		uint32_t ifid = 0, cap = 0, hdr = 0;
		int64_t t = c->last_ns;
		if (type == NG_SHB) {
			c->n_ifs = 0; /* interface ids are per section */
		} else if (type == NG_IDB) {
			if (ng_idb(c, b, len) != 0) {
				what = "interface description";
				goto corrupt;
			}
		} else if (type == NG_EPB || type == NG_OPB) {
			if (len < 32)
				goto bad_block;
			ifid = type == NG_EPB ? rd32(c, b + 8) : rd16(c, b + 8);
			cap = rd32(c, b + 20);
			hdr = 28;
			if (ifid >= c->n_ifs || cap > len - 32)
				goto bad_block;
			t = ng_time(&c->ifs[ifid], (uint64_t)rd32(c, b + 12) << 32 | rd32(c, b + 16));
			if (t < 0 || t >= NG_MAX_NS)
				goto bad_block;
		} else if (type == NG_SPB) {
			if (len < 16 || c->n_ifs == 0)
				goto bad_block;
			cap = rd32(c, b + 8); /* the original length, cut to the snapshot */
			if (c->ifs[0].snaplen && cap > c->ifs[0].snaplen)
				cap = c->ifs[0].snaplen;
			if (cap > len - 16)
				cap = len - 16;
			hdr = 12;
		}
		if (hdr) {
			struct capin_if *f = &c->ifs[ifid];
			uint8_t *d = c->raw + c->pos + hdr;
			/* rewritten in place: a record copied into a chain (over
			 * 64 KiB once the port's header, up to 20 bytes, is on) may
			 * find no mbufs and be parsed again, so it is not */
			if (f->link != c->link0 &&
			    (cap > UINT16_MAX - 20 ||
			     (d = relink(d, &cap, f->link, c->link0, hdr)) == NULL)) {
				if (!f->warned)
					CR_LOG(WARNING, "capture: interface %u is link type %u, the "
							"file's first %d: its packets that type cannot "
							"carry are skipped (capture errors)",
					       ifid, f->link, c->link0);
				f->warned = 1;
				goto bad_block;
			}
			if (take_packet(c, mp, pkts[got], d, cap, ts_off, t) == NULL) {
				pkts[got] = NULL; /* the block stays unread for the next call */
				break;
			}
			c->last_ns = t;
			got++;
		}
		c->pos += len;
		continue;
	bad_block:
		(*errors)++; /* this block only: the next one is where its length says */
		c->pos += len;
		continue;
	corrupt:
		(*errors)++;
		CR_LOG(WARNING, "capture: corrupt pcapng (%s) at offset %lld; the rest of the file "
				"is skipped", what, cr_capin_offset(c));
		c->done = 1;
		break;
	end:
		read_end(c, r, "the last block is cut short", errors);
		break;
	}
	return got;
}

uint16_t
cr_capin_rx(struct cr_capin *c, struct rte_mempool *mp, int ts_off, struct rte_mbuf **pkts,
	    uint16_t n, uint64_t *errors)
{
	if (c->done || rte_pktmbuf_alloc_bulk(mp, pkts, n) != 0)
		return 0; /* no mbuf free: nothing is read until there are */
	uint16_t got = 0;
	if (c->fd >= 0) {
		got = c->ng ? ng_rx(c, mp, ts_off, pkts, n, errors)
			    : classic_rx(c, mp, ts_off, pkts, n, errors);
		goto out;
	}
	while (got < n) {
		if (c->ph == NULL) {
			struct pcap_pkthdr *h;
			const u_char *d;
			int r = pcap_next_ex(c->p, &h, &d);
			if (r != 1) {
				/* -2: end of file; -1: a record cut short or corrupt, and
				 * libpcap cannot resynchronise: the rest is unreadable */
				if (r == PCAP_ERROR) {
					(*errors)++;
					CR_LOG(WARNING, "capture: %s; the rest of the file is skipped",
					       pcap_geterr(c->p));
				}
				c->done = 1;
				break;
			}
			c->ph = h;
			c->pd = d;
		}
		struct rte_mbuf *m = fill(mp, pkts[got], c->ph->caplen, c->pd);
		if (m == NULL) {
			/* a chain found no mbuf (fill freed the head): the packet
			 * stays pending for the next call */
			pkts[got] = NULL;
			break;
		}
		*RTE_MBUF_DYNFIELD(m, ts_off, uint64_t *) =
			(uint64_t)c->ph->ts.tv_sec * 1000000000ull + (uint64_t)c->ph->ts.tv_usec;
		c->ph = NULL;
		got++;
	}
out:
	for (uint16_t i = got; i < n; i++)
		if (pkts[i])
			rte_pktmbuf_free(pkts[i]);
	return got;
}
