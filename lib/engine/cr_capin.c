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
 * its bytes in the read ring (an external buffer). The ring holds the file's
 * bytes at increasing addresses and is mapped twice back to back
 * (cr_mem_mirror), so a record across its end is contiguous and nothing is
 * ever moved. It is read a region (256 KiB) at a time; a packet counts
 * against the region its record starts in, and a region is read again only
 * when the reader has passed it and its last mbuf is freed. Regions are
 * reused in file order, so a record running into the next regions holds
 * them too. Counting references with an atomic per packet would bounce a
 * cache line between the reader and the workers, so a region starts with a
 * bias the workers' frees cannot exhaust and the reader settles it once,
 * when it passes the region (region_retire).
 *
 * A large capture is read with O_DIRECT (Linux native AIO, a few regions
 * ahead of the parser): the device writes the ring and the page cache is
 * neither filled nor copied from. The copy out of the page cache was a tenth
 * of an import's CPU (its largest single cost), and an import of a big
 * capture also evicted the page cache of a server that records live. A small
 * capture (likely cached, just written) is read through the page cache, one
 * region at a time, as is any file whose file system refuses O_DIRECT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/aio_abi.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "cr_engine_internal.h"
#include "cr_mem.h"

#define CAPIN_BUF (1u << 20)	 /* libpcap's formats: the FILE's buffer */
#define CAPIN_MAX_CAPLEN 262144u /* libpcap's limit for a record */
#define RING_REGION (256u << 10) /* one read through the page cache */
#define RING_REGIONS 32u	 /* 8 MiB: read ahead, held by mbufs, parsed */
#define RING_BYTES ((size_t)RING_REGION * RING_REGIONS) /* 2 MiB pages, whole */
/* Direct reads: one covers DIO_READ regions (a request, a doorbell and an
 * interrupt a megabyte: in a VM each doorbell is an exit, 11 us), issued to
 * keep DIO_AHEAD regions (4 MiB) beyond the parser read or in flight: with
 * 2 MiB the reader waited for the test VM's disk ~80 times an import of
 * 276 MB (wall 0.40 -> 0.50 s), with 4 MiB its wall time is the page
 * cache's */
#define DIO_READ 4u
#define DIO_AHEAD 16u
#define DIO_AUTO_BYTES (32ull << 20)   /* direct_io auto: captures from this size */
/* References: a region's count starts at CAPIN_REF_BIAS and is settled with
 * a signed 16-bit add, so it holds fewer than that many packets: a region
 * starts at most RING_REGION / 12 + 1 records (12 bytes: the smallest pcapng
 * block; a classic record is 16) */
#define CAPIN_REF_BIAS 32767
_Static_assert(RING_REGION / 12 + 1 < CAPIN_REF_BIAS, "a region's packets overflow its count");
/* a read names its first region in 8 bits of aio_data; the parser needs its
 * region, the reads ahead and a record's next regions (NG_MAX_BLOCK) */
_Static_assert(RING_REGIONS <= 256 && DIO_AHEAD + 4 < RING_REGIONS, "read ring too small");

enum { REGION_READING = 1, REGION_READY };

struct capin_region {
	/* written by the workers' frees */
	struct rte_mbuf_ext_shared_info shinfo; /* freed by the last mbuf */
	int busy; /* read or parsed, or mbufs still point into it */
	/* the reader's, on a line of its own: counted next to the workers'
	 * atomic decrements, it made every free wait for the line (6 % of an
	 * import in rte_pktmbuf_detach) */
	uint32_t refs __rte_cache_aligned; /* mbufs attached while the reader was in it */
	int state;			   /* REGION_READING, REGION_READY */
	int direct;			   /* read with O_DIRECT */
	int64_t got;			   /* bytes read, or -errno */
	struct iocb cb;
} __rte_cache_aligned;

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
	/* classic pcap and pcapng, parsed here from the read ring */
	int fd;	 /* through the page cache */
	int dfd; /* O_DIRECT (-1: none), read ahead with native AIO */
	aio_context_t aio;
	unsigned inflight;
	int swapped, nsec;
	uint8_t *ring;		  /* cr_mem_mirror(RING_BYTES) */
	struct capin_region *rg;  /* RING_REGIONS, DPDK memory: mbufs may outlive us */
	unsigned cur;		  /* the region of raw[0]: every record raw[] starts there */
	uint8_t *raw;		  /* the file's bytes from offset base */
	uint64_t base;
	size_t pos, len;	  /* unparsed bytes raw[pos..len) */
	uint64_t skip;		  /* bytes after raw[len] to pass over (a block too large) */
	size_t pf;		  /* raw[..pf) is prefetched */
	uint64_t next;		  /* file offset of the next region to read */
	uint64_t filled;	  /* the file's bytes before this are in the ring */
	uint64_t retired;	  /* regions before this offset are passed */
	int eof;		  /* a read came back short: the file ends at filled */
	uint64_t direct_bytes;	  /* read with O_DIRECT */
	unsigned dio_reads, fault_dio; /* test knob: read fault_dio fails */
	uint64_t size;		  /* of the file at open (progress) */
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

/* the last mbuf attached to a region was freed (on a worker) */
static void
region_free_cb(void *addr, void *opaque)
{
	RTE_SET_USED(addr);
	__atomic_store_n(&((struct capin_region *)opaque)->busy, 0, __ATOMIC_RELEASE);
}

/* n packets of a region were freed */
static void
region_settle(struct rte_mbuf_ext_shared_info *sh, uint16_t n)
{
	if (rte_mbuf_ext_refcnt_update(sh, (int16_t)-(int)n) == 0)
		sh->free_cb(NULL, sh->fcb_opaque);
}

/* what cr_capin_free_bulk gathered: to the pool, the region settled */
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
		region_settle(f->sh, f->n_sh);
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
		 * and rte_pktmbuf_detach do, but the region's count */
		if (!RTE_MBUF_HAS_EXTBUF(m) || m->shinfo->free_cb != region_free_cb ||
		    rte_mbuf_refcnt_read(m) != 1 || m->nb_segs != 1 || m->next != NULL ||
		    (f.np && m->pool != f.mp)) {
			f.rest[f.nr++] = m;
			continue;
		}
		if (m->shinfo != f.sh) {
			if (f.sh)
				region_settle(f.sh, f.n_sh);
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
region_take(struct capin_region *g)
{
	g->busy = 1;
	g->refs = 0;
	rte_mbuf_ext_refcnt_set(&g->shinfo, CAPIN_REF_BIAS);
}

/* The reader passed the region: its count becomes the mbufs still attached
 * (the bias minus the frees so far, plus the attached ones minus the bias). */
static void
region_retire(struct capin_region *g)
{
	if (rte_mbuf_ext_refcnt_update(&g->shinfo, (int16_t)((int)g->refs - CAPIN_REF_BIAS)) == 0)
		__atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);
}

static struct capin_region *
region_at(struct cr_capin *c, uint64_t off)
{
	return &c->rg[(off / RING_REGION) % RING_REGIONS];
}

/* where the file's byte off lies in the ring (the next RING_BYTES bytes
 * from there are contiguous: the second view) */
static uint8_t *
ring_at(const struct cr_capin *c, uint64_t off)
{
	return c->ring + off % RING_BYTES;
}

static void
aio_reaped(struct cr_capin *c, const struct io_event *ev, long n)
{
	for (long i = 0; i < n; i++) {
		/* a read of k regions from the first: each its share */
		unsigned first = (unsigned)(ev[i].data & 0xff), k = (unsigned)(ev[i].data >> 8);
		int64_t res = ++c->dio_reads == c->fault_dio ? -EIO : ev[i].res;
		for (unsigned j = 0; j < k; j++) {
			struct capin_region *g = &c->rg[(first + j) % RING_REGIONS];
			int64_t rest = res - (int64_t)j * RING_REGION;
			g->got = res < 0 ? res
				 : rest < 0    ? 0
				 : rest > RING_REGION ? RING_REGION
						      : rest;
			g->state = REGION_READY;
		}
		c->inflight -= k;
	}
}

/* The kernel's completion ring, mapped where the context id points (its
 * layout is ABI: libaio reads it the same way): an empty one is seen
 * without a system call. */
struct aio_ring_head {
	unsigned id, nr, head, tail, magic;
};
#define AIO_RING_MAGIC 0xa10a10a1u

static int
aio_none_done(const struct cr_capin *c)
{
	const struct aio_ring_head *h = (const void *)(uintptr_t)c->aio;
	return h->magic == AIO_RING_MAGIC &&
	       __atomic_load_n(&h->head, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
}

/* completed direct reads: wait for one or not; 0 or -errno */
static int
aio_reap(struct cr_capin *c, int wait)
{
	struct io_event ev[DIO_AHEAD];
	struct timespec zero = {0, 0};
	if (!wait && aio_none_done(c))
		return 0;
	for (;;) {
		long n = syscall(SYS_io_getevents, c->aio, wait ? 1 : 0, (long)DIO_AHEAD, ev,
				 wait ? NULL : &zero);
		if (n >= 0) {
			aio_reaped(c, ev, n);
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

/* the region at file offset off read through the page cache, now */
static void
read_buffered(struct cr_capin *c, struct capin_region *g, uint64_t off)
{
	ssize_t r;
	do
		r = pread(c->fd, ring_at(c, off), RING_REGION, (off_t)off);
	while (r < 0 && errno == EINTR);
	g->got = r < 0 ? -errno : r;
	g->direct = 0;
	g->state = REGION_READY;
}

/* Stop reading directly (the file system refused an aligned read, or AIO
 * failed): reads in flight complete first, the rest go through the page
 * cache. */
static void
direct_off(struct cr_capin *c, int err)
{
	CR_LOG(WARNING, "capture: direct read failed (%s); reading through the page cache",
	       strerror(-err));
	while (c->inflight && aio_reap(c, 1) == 0)
		;
	syscall(SYS_io_destroy, c->aio); /* waits for any read still in flight */
	c->inflight = 0;
	close(c->dfd);
	c->dfd = -1;
	/* a read whose completion was not reaped: read again */
	for (unsigned i = 0; i < RING_REGIONS; i++)
		if (c->rg[i].state == REGION_READING) {
			c->rg[i].state = REGION_READY;
			c->rg[i].got = -ECANCELED;
		}
}

/* k free regions from c->next, each read directly, up to DIO_READ and
 * below the file's size at open */
static unsigned
direct_free(struct cr_capin *c)
{
	unsigned k = 0;
	while (k < DIO_READ && c->next + (uint64_t)k * RING_REGION < c->size &&
	       !__atomic_load_n(&region_at(c, c->next + (uint64_t)k * RING_REGION)->busy,
				__ATOMIC_ACQUIRE))
		k++;
	return k;
}

/* Read regions into free slots: direct reads ahead of the parser, below the
 * file's size at open; else one region, through the page cache, when
 * nothing is pending (parsed while the copy is in the cache). 1: a read was
 * issued or is pending, 0: every slot is still held (mbufs point into it). */
static int
read_more(struct cr_capin *c)
{
	while (!c->eof) {
		int direct = c->dfd >= 0 && c->next < c->size;
		int pending = c->filled < c->next;
		if (!direct) {
			if (pending)
				return 1; /* direct reads first: the page cache after them */
			struct capin_region *g = region_at(c, c->next);
			if (__atomic_load_n(&g->busy, __ATOMIC_ACQUIRE))
				return 0;
			region_take(g);
			read_buffered(c, g, c->next);
			c->next += RING_REGION;
			return 1;
		}
		/* taken from the parser's region on: it and those ahead */
		if ((c->next - c->retired) / RING_REGION + DIO_READ > DIO_AHEAD + 1)
			return 1;
		unsigned k = direct_free(c);
		/* a whole read while others are pending; any when none is */
		if (k == 0 || (pending && k < DIO_READ && c->next + (uint64_t)k * RING_REGION < c->size))
			return pending;
		struct capin_region *g0 = region_at(c, c->next);
		for (uint64_t o = c->next; o < c->next + (uint64_t)k * RING_REGION; o += RING_REGION) {
			struct capin_region *g = region_at(c, o);
			region_take(g);
			g->state = REGION_READING;
			g->direct = 1;
		}
		memset(&g0->cb, 0, sizeof(g0->cb));
		g0->cb.aio_data = (uint64_t)(g0 - c->rg) | (uint64_t)k << 8;
		g0->cb.aio_lio_opcode = IOCB_CMD_PREAD;
		g0->cb.aio_fildes = (uint32_t)c->dfd;
		g0->cb.aio_buf = (uint64_t)(uintptr_t)ring_at(c, c->next);
		g0->cb.aio_nbytes = (uint64_t)k * RING_REGION;
		g0->cb.aio_offset = (int64_t)c->next;
		struct iocb *cb = &g0->cb;
		if (syscall(SYS_io_submit, c->aio, 1L, &cb) == 1) {
			c->inflight += k;
		} else {
			direct_off(c, -errno);
			for (uint64_t o = c->next; o < c->next + (uint64_t)k * RING_REGION;
			     o += RING_REGION)
				read_buffered(c, region_at(c, o), o);
		}
		c->next += (uint64_t)k * RING_REGION;
	}
	return 1;
}

/* Records ahead of the parser into the cache: a direct read leaves them in
 * memory only (their headers' misses were 60 % of the reader's time), and
 * the worker copies their payloads next */
#define PF_AHEAD 1536u
static inline void
prefetch_ahead(struct cr_capin *c)
{
	size_t to = c->pos + PF_AHEAD < c->len ? c->pos + PF_AHEAD : c->len;
	for (; c->pf < to; c->pf += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(c->raw + c->pf);
}

/* Make n bytes available at raw[pos]: 1, 0 at the end of the file, -EAGAIN
 * when no slot is free yet (the workers hold its mbufs) or, unless the
 * caller may wait, a read is still in flight; other <0: read error. The
 * window raw[0..len) ends at its region's end or at the n bytes' end, so
 * every record parsed in it starts in region cur. */
static int
classic_need(struct cr_capin *c, size_t n, int may_wait)
{
	if (likely(c->len - c->pos >= n))
		return 1;
	/* the window starts where the parser is (bytes to pass over passed):
	 * a return before the data is there keeps the place */
	uint64_t at = c->base + c->pos + c->skip;
	c->base = at;
	c->pos = c->len = c->pf = 0;
	c->skip = 0;
	for (;;) {
		if (c->inflight) {
			int r = aio_reap(c, 0);
			if (r < 0)
				direct_off(c, r);
		}
		/* completed regions, in file order */
		while (c->filled < c->next && !c->eof) {
			struct capin_region *g = region_at(c, c->filled);
			if (g->state != REGION_READY)
				break;
			if (g->got < 0 && g->direct) {
				if (c->dfd >= 0)
					direct_off(c, (int)g->got);
				read_buffered(c, g, c->filled); /* once more, through the page cache */
			}
			if (g->got < 0)
				return (int)g->got;
			if (g->direct)
				c->direct_bytes += (uint64_t)g->got;
			c->filled += (uint64_t)g->got;
			if (g->got < (int64_t)RING_REGION)
				c->eof = 1; /* regions read after it hold nothing */
		}
		/* regions the reader has passed: free once their mbufs are */
		while (c->retired + RING_REGION <= at && c->retired < c->filled) {
			region_retire(region_at(c, c->retired));
			c->retired += RING_REGION;
		}
		if (at >= c->next && c->filled == c->next && !c->eof) {
			/* passing over unread bytes: whole regions stay unread */
			c->next = c->filled = c->retired = at - at % RING_REGION;
		}
		int more = read_more(c); /* keep the direct reads ahead */
		if (c->filled >= at + n || c->eof) {
			uint64_t end = at - at % RING_REGION + RING_REGION;
			if (end < at + n)
				end = at + n;
			if (end > c->filled)
				end = c->filled;
			c->raw = ring_at(c, at);
			c->cur = (unsigned)(at / RING_REGION % RING_REGIONS);
			c->len = end > at ? (size_t)(end - at) : 0;
			return c->len >= n;
		}
		if (more == 0)
			return -EAGAIN;
		if (region_at(c, c->filled)->state == REGION_READING) {
			if (!may_wait)
				return -EAGAIN;
			int r = aio_reap(c, 1);
			if (r < 0)
				direct_off(c, r);
		}
	}
}

/* The classic pcap header (24 bytes) or a pcapng section header: 1 and the
 * read ring set up (O_DIRECT when asked: direct > 0, or < 0 and the file is
 * large), 0 when the file is something else (left for libpcap), <0 on an
 * error. */
static int
classic_open(struct cr_capin *c, const char *path, int direct)
{
	uint8_t h[24];
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(c->fd, &sb) == 0)
		c->size = (uint64_t)sb.st_size; /* what was opened */
	ssize_t n = pread(c->fd, h, sizeof(h), 0);
	uint32_t magic;
	memcpy(&magic, h, 4);
	int ok = n == (ssize_t)sizeof(h);
	uint32_t bom;
	memcpy(&bom, h + 8, 4);
	int r = -ENOMEM;
	if (ok && (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)) {
		c->nsec = magic == 0xa1b23c4d;
	} else if (ok && (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)) {
		c->swapped = 1;
		c->nsec = magic == 0x4d3cb2a1;
	} else if (ok && magic == NG_SHB && (bom == NG_BOM || bom == __builtin_bswap32(NG_BOM))) {
		c->ng = 1; /* parsed from its first block: each section says its byte order */
		c->link0 = -1;
		c->ifs = calloc(NG_MAX_IFS, sizeof(*c->ifs));
		if (c->ifs == NULL)
			goto fail;
	} else {
		r = 0;
		goto fail;
	}
	c->ring = cr_mem_mirror(RING_BYTES);
	c->rg = rte_zmalloc("cr_capin", sizeof(*c->rg) * RING_REGIONS, RTE_CACHE_LINE_SIZE);
	if (c->ring == NULL || c->rg == NULL)
		goto fail;
	for (unsigned i = 0; i < RING_REGIONS; i++) {
		c->rg[i].shinfo.free_cb = region_free_cb;
		c->rg[i].shinfo.fcb_opaque = &c->rg[i];
	}
	if (direct > 0 || (direct < 0 && c->size >= DIO_AUTO_BYTES)) {
		c->dfd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
		if (c->dfd >= 0 && syscall(SYS_io_setup, DIO_AHEAD, &c->aio) != 0) {
			close(c->dfd);
			c->dfd = -1;
		}
		if (c->dfd < 0 && direct > 0)
			CR_LOG(WARNING, "capture %s: no direct reads (%s); through the page cache",
			       path, strerror(errno));
	}
	if (c->dfd < 0)
		posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	c->skip = c->ng ? 0 : 24; /* past the header; the first need reads */
	return 1;
fail:
	cr_mem_mirror_free(c->ring, RING_BYTES);
	c->ring = NULL;
	rte_free(c->rg);
	c->rg = NULL;
	close(c->fd);
	c->fd = -1;
	free(c->ifs);
	c->ifs = NULL;
	return r;
}

int
cr_capin_open(const char *path, int direct, struct cr_capin **out, char *err, size_t errlen)
{
	struct cr_capin *c = calloc(1, sizeof(*c));
	char perr[PCAP_ERRBUF_SIZE] = "";
	if (c == NULL)
		return -ENOMEM;
	c->fd = c->dfd = -1;
	struct stat sb;
	if (stat(path, &sb) == 0)
		c->size = (uint64_t)sb.st_size;
	int r = classic_open(c, path, direct);
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
		if (c->dfd >= 0) {
			syscall(SYS_io_destroy, c->aio); /* waits for the reads in flight */
			close(c->dfd);
		}
		close(c->fd);
		/* every region read is passed; one mbufs still point into (IP
		 * reassembly may hold some at exit) keeps the ring mapped and its
		 * count in DPDK memory (rte_eal_cleanup() frees it) */
		for (; c->retired < c->next; c->retired += RING_REGION)
			region_retire(region_at(c, c->retired));
		int busy = 0;
		for (unsigned i = 0; i < RING_REGIONS; i++)
			busy |= __atomic_load_n(&c->rg[i].busy, __ATOMIC_ACQUIRE);
		if (!busy) {
			cr_mem_mirror_free(c->ring, RING_BYTES);
			rte_free(c->rg);
		}
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

uint64_t
cr_capin_direct_bytes(const struct cr_capin *c)
{
	return c->direct_bytes;
}

void
cr_capin_fault_dio(struct cr_capin *c, unsigned nth)
{
	c->fault_dio = nth;
}

long long
cr_capin_offset(const struct cr_capin *c)
{
	return c->fd >= 0 ? (long long)(c->base + c->pos + c->skip) : ftello(c->fp);
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

/* one segment of a packet attached to its bytes in the ring, counted in
 * the region its record starts in */
static void
attach(struct cr_capin *c, struct rte_mbuf *m, uint8_t *d, uint16_t len)
{
	rte_pktmbuf_attach_extbuf(m, d, RTE_BAD_IOVA, len, &c->rg[c->cur].shinfo);
	c->rg[c->cur].refs++;
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
		int r = classic_need(c, 16, got == 0);
		if (r == -EAGAIN)
			break; /* the record stays unread until a region is free or read */
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
		r = classic_need(c, 16 + (size_t)cap, got == 0);
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
		prefetch_ahead(c);
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
		int r = classic_need(c, 12, got == 0);
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
			size_t have = c->len - c->pos; /* skipped, whole regions unread */
			if (have >= len) {
				c->pos += len;
			} else {
				c->skip = len - have;
				c->pos = c->len;
			}
			continue;
		}
		r = classic_need(c, len, got == 0);
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
		prefetch_ahead(c);
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
