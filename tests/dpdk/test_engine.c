/* SPDX-License-Identifier: BSD-3-Clause */
/* Layer 2: the real pipeline in-process over virtual devices.
 *  A. a scripted call injected through rte_eth_from_ring(), 2 workers
 *  B. the same call written to a pcap file and read by net_pcap, 1 worker
 *  C. live mode (drop policy) on a ring port with a tiny worker ring:
 *     received == accounted, and RTP recorded + RING_FULL == RTP sent
 *  E. run to completion: one RX queue per worker, same call as A
 *  F. a single call of a minute, live at 10x: its audio is in the index
 *     while the call goes on (durable within 100 ms, not when 2 MiB filled)
 * Checked through the index, as callrec reads it. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "cr_engine.h"
#include "cr_index.h"
#include "../unit/cr_test.h"

#define MAXF 8192
struct frame {
	int64_t t;
	uint16_t len;
	uint8_t b[1500];
};
static struct frame *frames;
static int nframes;
static const int64_t T0 = 1700000000LL * 1000000000LL;
#define MS 1000000LL

static void
udp(int64_t t, const uint8_t src[4], uint16_t sp, const uint8_t dst[4], uint16_t dp,
    const void *pl, size_t plen)
{
	struct frame *f = &frames[nframes++];
	uint8_t *b = f->b;
	memset(b, 0, 42);
	b[0] = 2;
	b[6] = 2;
	b[11] = 1;
	b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	size_t tot = 28 + plen;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	uint8_t *u = ip + 20;
	u[0] = sp >> 8;
	u[1] = (uint8_t)sp;
	u[2] = dp >> 8;
	u[3] = (uint8_t)dp;
	u[4] = (uint8_t)((8 + plen) >> 8);
	u[5] = (uint8_t)(8 + plen);
	memcpy(u + 8, pl, plen);
	f->len = (uint16_t)(42 + plen);
	f->t = t;
}

static const uint8_t A[4] = {10, 0, 0, 1}, B[4] = {10, 0, 0, 2};

static void
sip(int64_t t, int from_a, const char *fmt, const char *sdp)
{
	char msg[1400];
	int n = snprintf(msg, sizeof(msg), "%s", fmt);
	if (sdp)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n,
			      "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
			      strlen(sdp), sdp);
	else
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "Content-Length: 0\r\n\r\n");
	udp(t, from_a ? A : B, 5060, from_a ? B : A, 5060, msg, (size_t)n);
}

static void
rtp(int64_t t, int from_a, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc,
    const uint8_t *pl, size_t plen)
{
	uint8_t p[12 + 172];
	p[0] = 0x80;
	p[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	p[2] = seq >> 8;
	p[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	memcpy(p + 12, pl, plen);
	udp(t, from_a ? A : B, from_a ? 4000 : 5000, from_a ? B : A, from_a ? 5000 : 4000, p,
	    12 + plen);
}

#define H(m, cseq, totag)                                                                    \
	"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK" cseq "\r\nFrom: <sip:alice@10.0.0.1>;tag=fa\r\n" \
	"To: <sip:bob@10.0.0.2>" totag "\r\nCall-ID: c1@test\r\nCSeq: " cseq " " m "\r\n"

static int rtp_sent;

/* The scripted call of n 20 ms packets each way (>= 303); frames sorted by
 * time at the end. */
static void
script(int n)
{
	nframes = 0;
	rtp_sent = 0;
	static const char sdp_a[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
				    "t=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n"
				    "a=rtpmap:101 telephone-event/8000\r\n";
	static const char sdp_b[] = "v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n"
				    "t=0 0\r\nm=audio 5000 RTP/AVP 0 101\r\n"
				    "a=rtpmap:101 telephone-event/8000\r\n";
	uint8_t pl[160];
	memset(pl, 0xff, sizeof(pl));
	/* B's first 5 packets come before any SIP (tap latency): recorded, bound later */
	for (int i = 0; i < 5; i++) {
		rtp(T0 - 100 * MS + i * 20 * MS, 0, 0, 0, (uint16_t)(65400 + i), (uint32_t)(i * 160),
		    0x2222, pl, 160);
		rtp_sent++;
	}
	sip(T0, 1, "INVITE sip:bob@10.0.0.2 SIP/2.0\r\n" H("INVITE", "1", ""), sdp_a);
	sip(T0 + 10 * MS, 0, "SIP/2.0 180 Ringing\r\n" H("INVITE", "1", ";tag=tb"), NULL);
	sip(T0 + 1000 * MS, 0, "SIP/2.0 200 OK\r\n" H("INVITE", "1", ";tag=tb"), sdp_b);
	sip(T0 + 1010 * MS, 1, "ACK sip:bob@10.0.0.2 SIP/2.0\r\n" H("ACK", "1", ";tag=tb"), NULL);
	int64_t ts0 = T0 + 1020 * MS;
	for (int i = 0; i < n; i++) {
		int64_t t = ts0 + i * 20 * MS;
		/* A -> B: 3 lost (seq 1100-1102), a DTMF '5' at packets 300-302 */
		if (!(i >= 100 && i < 103)) {
			if (i >= 300 && i < 303) {
				uint8_t ev[4] = {5, (uint8_t)(i == 302 ? 0x8a : 0x0a), 0x01,
						 (uint8_t)(0xe0 + (i - 300) * 0x10)};
				rtp(t, 1, 101, i == 300, (uint16_t)(1000 + i), 300 * 160, 0x1111, ev,
				    4);
			} else {
				rtp(t, 1, 0, i == 0, (uint16_t)(1000 + i), (uint32_t)(i * 160),
				    0x1111, pl, 160);
			}
			rtp_sent++;
		}
		/* B -> A: continues its sequence (wraps 65535 -> 0); 200/201 swapped */
		if (i >= 5) {
			int k = i == 200 ? 201 : i == 201 ? 200 : i;
			rtp(t + 3 * MS, 0, 0, 0, (uint16_t)(65400 + k), (uint32_t)(k * 160), 0x2222,
			    pl, 160);
			rtp_sent++;
		}
	}
	int64_t te = ts0 + n * 20 * MS;
	sip(te, 0, "BYE sip:alice@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n"
		   "From: <sip:bob@10.0.0.2>;tag=tb\r\nTo: <sip:alice@10.0.0.1>;tag=fa\r\n"
		   "Call-ID: c1@test\r\nCSeq: 1 BYE\r\n",
	    NULL);
	sip(te + 5 * MS, 1, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n"
			    "From: <sip:bob@10.0.0.2>;tag=tb\r\nTo: <sip:alice@10.0.0.1>;tag=fa\r\n"
			    "Call-ID: c1@test\r\nCSeq: 1 BYE\r\n",
	    NULL);
}

struct seen {
	int calls;
	struct cr_call call;
	struct cr_stream_rec s[4];
	uint32_t ns;
};

static int
collect(void *ctx, const struct cr_index_call_row *row, const struct cr_stream_rec *s, uint32_t n)
{
	struct seen *v = ctx;
	v->calls++;
	v->call = row->call;
	v->ns = n < 4 ? n : 4;
	memcpy(v->s, s, v->ns * sizeof(*s));
	return 0;
}

static int
count_chunk(void *ctx, const struct cr_chunk_rec *c)
{
	*(uint64_t *)ctx += c->n_pkts;
	return 0;
}

static void
check_store(const char *store, struct seen *v)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.sqlite", store);
	struct cr_index *idx;
	CHECK_EQ(cr_index_open(path, CR_INDEX_RO, &idx), 0);
	struct cr_index_filter f;
	memset(&f, 0, sizeof(f));
	memset(v, 0, sizeof(*v));
	CHECK_EQ(cr_index_query(idx, &f, collect, v), 0);
	/* every recorded packet is in a stored chunk */
	for (uint32_t i = 0; i < v->ns; i++) {
		uint64_t stored = 0;
		CHECK_EQ(cr_index_chunks(idx, v->s[i].uid, count_chunk, &stored), 0);
		CHECK_EQ(stored, v->s[i].packets);
	}
	cr_index_close(idx);
	CHECK_EQ(v->calls, 1);
	CHECK(strcmp(v->call.call_id, "c1@test") == 0);
	CHECK_EQ(v->call.state, CR_CALL_COMPLETED);
	CHECK(strcmp(v->call.from_user, "alice") == 0 && strcmp(v->call.to_user, "bob") == 0);
	CHECK_EQ(v->ns, 2);
	for (uint32_t i = 0; i < v->ns; i++) {
		const struct cr_stream_rec *s = &v->s[i];
		CHECK(strcmp(s->codec, "PCMU") == 0);
		if (s->ssrc == 0x1111) {
			CHECK_EQ(s->packets, 497);
			CHECK_EQ(s->lost, 3);
			CHECK_EQ(s->side, CR_SIDE_CALLER);
			CHECK_EQ(s->n_dtmf, 1);
			CHECK_EQ(s->dtmf[0].digit, '5');
		} else {
			CHECK_EQ(s->ssrc, 0x2222);
			CHECK_EQ(s->packets, 500); /* incl. the 5 before any SIP */
			CHECK_EQ(s->lost, 0);
			CHECK_EQ(s->out_of_order, 1);
			CHECK_EQ(s->side, CR_SIDE_CALLEE);
		}
	}
}

/* frame i in an mbuf with its time, or NULL */
static struct rte_mbuf *
frame_mbuf(struct rte_mempool *mp, int ts_off, int i)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (m == NULL)
		return NULL;
	memcpy(rte_pktmbuf_append(m, frames[i].len), frames[i].b, frames[i].len);
	*RTE_MBUF_DYNFIELD(m, ts_off, uint64_t *) = (uint64_t)frames[i].t;
	return m;
}

/* the injector's end: stop the engine once every frame is accounted */
static void
stop_when_accounted(struct cr_engine *e)
{
	struct cr_engine_totals t;
	for (int k = 0; k < 10000; k++) {
		cr_engine_totals(e, &t);
		if (t.accounted >= (uint64_t)nframes)
			break;
		usleep(1000);
	}
	cr_engine_stop(e);
}

static void
to_mbufs(struct rte_mempool *mp, struct rte_ring *r, int ts_off)
{
	for (int i = 0; i < nframes; i++) {
		struct rte_mbuf *m = frame_mbuf(mp, ts_off, i);
		CHECK(m != NULL);
		if (m == NULL)
			return;
		CHECK_EQ(rte_ring_enqueue(r, m), 0);
	}
}

static int
cmp_frame(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

static struct cr_engine *live_engine;

/* E's wire: frames in time order into the queue of their direction; each SIP
 * message is let through before what follows it (the media after a 200 OK
 * arrives milliseconds later on a real link); stop once all are accounted. */
struct inject {
	struct cr_engine *e;
	struct rte_ring **rq;
	struct rte_mempool *mp;
	int ts_off;
};

static void *
inject_main(void *arg)
{
	struct inject *in = arg;
	uint64_t sips = 0, v = 0;
	usleep(100000); /* the engine is running */
	for (int i = 0; i < nframes; i++) {
		const uint8_t *u = frames[i].b + 34;
		uint16_t sp = (uint16_t)(u[0] << 8 | u[1]), dp = (uint16_t)(u[2] << 8 | u[3]);
		struct rte_mbuf *m = frame_mbuf(in->mp, in->ts_off, i);
		if (m == NULL)
			break;
		while (rte_ring_enqueue(in->rq[sp < dp ? 0 : 1], m) != 0)
			usleep(100);
		if (sp == 5060) {
			sips++;
			for (int k = 0; k < 2000 && (cr_engine_counter(in->e, "SIP", &v) != 0 ||
						      v < sips); k++)
				usleep(1000);
		}
	}
	stop_when_accounted(in->e);
	return NULL;
}
/* F's wire: frames at ten times their packet-time pace; at 30 s into the
 * call the index (read as callrec reads it, beside the running engine) is
 * asked how many chunks it names; stop once all are accounted. */
struct pace {
	struct cr_engine *e;
	struct rte_ring *r;
	struct rte_mempool *mp;
	int ts_off;
	const char *store;
	long mid_chunks;
};

static int
count_rows(void *ctx, const struct cr_chunk_rec *c)
{
	(void)c;
	(*(long *)ctx)++;
	return 0;
}

static void *
pace_main(void *arg)
{
	struct pace *p = arg;
	usleep(100000); /* the engine is running */
	struct timespec w0;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	int asked = 0;
	for (int i = 0; i < nframes; i++) {
		int64_t due = (frames[i].t - frames[0].t) / 10;
		for (;;) {
			struct timespec w;
			clock_gettime(CLOCK_MONOTONIC, &w);
			int64_t el = (w.tv_sec - w0.tv_sec) * 1000000000LL + w.tv_nsec - w0.tv_nsec;
			if (el >= due)
				break;
			usleep((useconds_t)((due - el) / 1000 + 1));
		}
		if (!asked && frames[i].t >= T0 + 31 * 1000 * MS) {
			asked = 1;
			char path[PATH_MAX + 16];
			snprintf(path, sizeof(path), "%s/index.sqlite", p->store);
			struct cr_index *idx;
			p->mid_chunks = 0;
			if (cr_index_open(path, CR_INDEX_RO, &idx) == 0) {
				cr_index_all_chunks(idx, count_rows, &p->mid_chunks);
				cr_index_close(idx);
			}
		}
		struct rte_mbuf *m = frame_mbuf(p->mp, p->ts_off, i);
		if (m == NULL)
			break;
		while (rte_ring_enqueue(p->r, m) != 0)
			usleep(100);
	}
	stop_when_accounted(p->e);
	return NULL;
}

static void
on_alarm(int s)
{
	(void)s;
	if (live_engine)
		cr_engine_stop(live_engine);
}

/* resident set of this process, KiB */
static long
rss_kb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = -1;
	if (f)
		fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* one Ethernet port into an engine of W workers */
static void
test_cfg(struct cr_engine_cfg *cfg, uint16_t port, int ts_mode, uint64_t expect, unsigned workers,
	 const char *store, int offline)
{
	cr_engine_cfg_defaults(cfg);
	cfg->n_ports = 1;
	cfg->ports[0].port_id = port;
	cfg->ports[0].linktype = CR_LINK_ETHERNET;
	cfg->ports[0].ts_mode = ts_mode;
	cfg->ports[0].expect_pkts = expect;
	cfg->ports[0].name = "test";
	cfg->n_workers = workers;
	cfg->store_dir = store;
	cfg->offline = offline;
	cfg->nb_mbufs = 8191;
}

static struct cr_engine *
start(uint16_t port, int ts_mode, uint64_t expect, unsigned workers, const char *store, int offline)
{
	struct cr_engine_cfg cfg;
	test_cfg(&cfg, port, ts_mode, expect, workers, store, offline);
	if (!offline)
		cfg.ring_size = 64; /* small: let the drop policy act */
	struct cr_engine *e = cr_engine_create(&cfg);
	CHECK(e != NULL);
	return e;
}

int
main(int argc, char **argv)
{
	(void)argc;
	char dir[] = "/tmp/cr_test_engineXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	frames = calloc(MAXF, sizeof(*frames));
	script(500);
	qsort(frames, (size_t)nframes, sizeof(*frames), cmp_frame);

	/* the same scenario as a pcap file, for net_pcap */
	char pcapf[PATH_MAX], vdev[PATH_MAX + 64], pfx[64];
	snprintf(pcapf, sizeof(pcapf), "%s/scenario.pcap", dir);
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *dp = pcap_dump_open(pd, pcapf);
	for (int i = 0; i < nframes; i++) {
		struct pcap_pkthdr h = {.caplen = frames[i].len, .len = frames[i].len};
		h.ts.tv_sec = frames[i].t / 1000000000LL;
		h.ts.tv_usec = frames[i].t % 1000000000LL / 1000;
		pcap_dump((u_char *)dp, &h, frames[i].b);
	}
	pcap_dump_close(dp);
	pcap_close(pd);

	snprintf(vdev, sizeof(vdev), "--vdev=net_pcap0,rx_pcap=%s", pcapf);
	snprintf(pfx, sizeof(pfx), "--file-prefix=crtest%d", (int)getpid());
	char *eal[] = {argv[0], "--no-huge", "--no-shconf", "--no-pci", "-m", "512",
		       "--lcores", "(0-2)@(0,1)", pfx, "--no-telemetry",
		       "--log-level=user1:error", vdev, NULL};
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	CHECK_EQ(rte_eth_dev_count_avail(), 1);
	int ts_off;
	uint64_t ts_flag;
	CHECK_EQ(rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag), 0);
	struct rte_mempool *mp = rte_pktmbuf_pool_create("test_mp", 16383, 256, 0,
							  RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	struct seen a, b;
	char store[PATH_MAX];

	/* A: ring port, 2 workers */
	struct rte_ring *ra = rte_ring_create("test_ra", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	int pa = rte_eth_from_ring(ra);
	CHECK(pa >= 0);
	to_mbufs(mp, ra, ts_off);
	snprintf(store, sizeof(store), "%s/a", dir);
	struct cr_engine *e = start((uint16_t)pa, CR_TS_MBUF_NS, (uint64_t)nframes, 2, store, 1);
	CHECK_EQ(cr_engine_run(e), 0);
	struct cr_engine_totals t;
	cr_engine_totals(e, &t);
	CHECK_EQ(t.rx_packets, (uint64_t)nframes);
	CHECK_EQ(t.accounted, t.rx_packets);
	CHECK_EQ(t.sip_msgs, 6);
	CHECK_EQ(t.rtp_packets, (uint64_t)rtp_sent);
	cr_engine_free(e);
	check_store(store, &a);

	/* B: net_pcap, 1 worker: same result */
	uint16_t pp = 0;
	RTE_ETH_FOREACH_DEV(pp) {
		char name[64];
		rte_eth_dev_get_name_by_port(pp, name);
		if (strncmp(name, "net_pcap", 8) == 0)
			break;
	}
	snprintf(store, sizeof(store), "%s/b", dir);
	e = start(pp, CR_TS_PCAP_US, (uint64_t)nframes, 1, store, 1);
	CHECK_EQ(cr_engine_run(e), 0);
	cr_engine_totals(e, &t);
	CHECK_EQ(t.rx_packets, (uint64_t)nframes);
	CHECK_EQ(t.accounted, t.rx_packets);
	cr_engine_free(e);
	check_store(store, &b);
	for (uint32_t i = 0; i < a.ns && i < b.ns; i++) {
		CHECK_EQ(a.s[i].packets, b.s[i].packets);
		CHECK(a.s[i].max_jitter_ms == b.s[i].max_jitter_ms);
		CHECK(a.s[i].mean_jitter_ms == b.s[i].mean_jitter_ms);
	}

	/* C: live drop policy, 12 copies of the RTP at once through a 64-slot ring */
	struct rte_ring *rc = rte_ring_create("test_rc", 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	int pc = rte_eth_from_ring(rc);
	CHECK(pc >= 0);
	uint64_t sent = 0;
	for (int k = 0; k < 12; k++) {
		to_mbufs(mp, rc, ts_off);
		sent += (uint64_t)nframes;
	}
	snprintf(store, sizeof(store), "%s/c", dir);
	live_engine = start((uint16_t)pc, CR_TS_LIVE, 0, 1, store, 0);
	signal(SIGALRM, on_alarm);
	alarm(3);
	CHECK_EQ(cr_engine_run(live_engine), 0);
	cr_engine_totals(live_engine, &t);
	uint64_t rtp_rec = 0, ring_full = 0, store_full = 0;
	CHECK_EQ(cr_engine_counter(live_engine, "RTP", &rtp_rec), 0);
	CHECK_EQ(cr_engine_counter(live_engine, "RING_FULL", &ring_full), 0);
	CHECK_EQ(cr_engine_counter(live_engine, "STORE_FULL", &store_full), 0);
	CHECK(cr_engine_counter(live_engine, "NO_SUCH", &rtp_rec) == -ENOENT);
	CHECK_EQ(cr_engine_counter(live_engine, "RTP", &rtp_rec), 0);
	printf("live: sent %lu, received %lu, RTP recorded %lu, RING_FULL %lu\n",
	       (unsigned long)sent, (unsigned long)t.rx_packets, (unsigned long)rtp_rec,
	       (unsigned long)ring_full);
	CHECK_EQ(t.rx_packets, sent);
	CHECK_EQ(t.accounted, t.rx_packets);
	/* every RTP packet sent is either recorded or counted as dropped */
	/* SIP is never queued, so ring drops are RTP; RTP recorded is RTP stored */
	CHECK_EQ(rtp_rec + ring_full + store_full, (uint64_t)rtp_sent * 12);
	/* the metrics name the ring that dropped, and the stages' cycles */
	char *mt = NULL;
	size_t ml = 0;
	FILE *mf = open_memstream(&mt, &ml);
	cr_engine_metrics(live_engine, mf);
	fclose(mf);
	char want[96];
	snprintf(want, sizeof(want), "callrec_worker_ring_drops_total{worker=\"0\"} %lu\n",
		 (unsigned long)ring_full);
	CHECK(ring_full > 0 && strstr(mt, want) != NULL);
	CHECK(strstr(mt, "callrec_rx_cycles_total{state=\"busy\"} ") != NULL);
	CHECK(strstr(mt, "callrec_worker_compress_cycles_total{worker=\"0\"} ") != NULL);
	free(mt);
	struct cr_engine_stages sg;
	cr_engine_stages(live_engine, &sg);
	CHECK(sg.rx_packets == t.rx_packets && sg.rx_busy_cycles > 0 && sg.worker_busy_cycles > 0);
	cr_engine_free(live_engine);
	live_engine = NULL;

	/* E: run to completion: a port with one RX queue per worker (2). Each
	 * worker polls its queue, processes the media and hands SIP to the main
	 * lcore. The queues are filled by direction (A->B on 0, B->A and SIP on
	 * 1: flow-consistent, so each stream stays on one worker while the call
	 * spans both), SIP shortly before the media that follows it, as on a
	 * wire. Same call, same streams, same counts as A. */
	{
		struct rte_ring *rq[2];
		rq[0] = rte_ring_create("test_rq0", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		rq[1] = rte_ring_create("test_rq1", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		CHECK(rq[0] != NULL && rq[1] != NULL);
		int pe = rte_eth_from_rings("net_rtc", rq, 2, rq, 1, 0);
		CHECK(pe >= 0);
		snprintf(store, sizeof(store), "%s/e", dir);
		struct cr_engine_cfg cfg;
		test_cfg(&cfg, (uint16_t)pe, CR_TS_MBUF_NS, 0, 2, store, 0);
		cfg.rx_queues = 2;
		struct cr_engine_cfg bad = cfg;
		bad.rx_queues = 3; /* not one per worker: refused */
		CHECK(cr_engine_create(&bad) == NULL && errno == EINVAL);
		live_engine = cr_engine_create(&cfg);
		CHECK(live_engine != NULL);
		struct inject in = {live_engine, rq, mp, ts_off};
		pthread_t th;
		CHECK_EQ(pthread_create(&th, NULL, inject_main, &in), 0);
		CHECK_EQ(cr_engine_run(live_engine), 0);
		pthread_join(th, NULL);
		cr_engine_totals(live_engine, &t);
		uint64_t rtp = 0;
		cr_engine_counter(live_engine, "RTP", &rtp);
		printf("run to completion: received %lu, accounted %lu, SIP %lu, RTP %lu of %d\n",
		       (unsigned long)t.rx_packets, (unsigned long)t.accounted,
		       (unsigned long)t.sip_msgs, (unsigned long)rtp, rtp_sent);
		CHECK_EQ(t.rx_packets, (uint64_t)nframes);
		CHECK_EQ(t.accounted, t.rx_packets);
		CHECK_EQ(t.sip_msgs, 6);
		CHECK_EQ(rtp, (uint64_t)rtp_sent);
		char *mt = NULL;
		size_t ml = 0;
		FILE *mf = open_memstream(&mt, &ml);
		cr_engine_metrics(live_engine, mf);
		fclose(mf);
		/* both workers received from their own queue; the main lcore none */
		unsigned long r0 = 0, r1 = 0;
		const char *q0 = strstr(mt, "callrec_worker_rx_packets_total{worker=\"0\"} ");
		const char *q1 = strstr(mt, "callrec_worker_rx_packets_total{worker=\"1\"} ");
		CHECK(q0 && q1);
		if (q0 && q1) {
			r0 = strtoul(strchr(q0, '}') + 2, NULL, 10);
			r1 = strtoul(strchr(q1, '}') + 2, NULL, 10);
		}
		CHECK(r0 > 0 && r1 > 0 && r0 + r1 == (unsigned long)nframes);
		free(mt);
		cr_engine_free(live_engine);
		live_engine = NULL;
		struct seen v;
		check_store(store, &v);
		for (uint32_t i = 0; i < a.ns && i < v.ns; i++)
			CHECK_EQ(a.s[i].packets, v.s[i].packets);
	}

	/* D: fault injection: every 2nd block cannot be stored. The streams and
	 * the call say incomplete; stored + not stored = recorded + STORE_FULL. */
	struct rte_ring *rd = rte_ring_create("test_rd", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	int pd2 = rte_eth_from_ring(rd);
	CHECK(pd2 >= 0);
	to_mbufs(mp, rd, ts_off);
	snprintf(store, sizeof(store), "%s/d", dir);
	{
		struct cr_engine_cfg cfg;
		test_cfg(&cfg, (uint16_t)pd2, CR_TS_MBUF_NS, (uint64_t)nframes, 1, store, 1);
		cfg.fault_block_every = 2;
		e = cr_engine_create(&cfg);
		CHECK(e != NULL);
		CHECK_EQ(cr_engine_run(e), 0);
		uint64_t rtp = 0, sf = 0;
		cr_engine_counter(e, "RTP", &rtp);
		cr_engine_counter(e, "STORE_FULL", &sf);
		cr_engine_totals(e, &t);
		CHECK_EQ(t.accounted, t.rx_packets);
		CHECK(sf > 0);
		CHECK_EQ(rtp + sf, (uint64_t)rtp_sent);
		/* the drops by reason add up to the total, STORE_FULL among them */
		uint64_t dsum = 0;
		int has_sf = 0;
		const char *dn;
		for (unsigned i = 0; (dn = cr_engine_drop_name(i)) != NULL; i++) {
			uint64_t v = 0;
			CHECK_EQ(cr_engine_counter(e, dn, &v), 0);
			dsum += v;
			has_sf |= strcmp(dn, "STORE_FULL") == 0;
		}
		CHECK(has_sf);
		CHECK_EQ(dsum, t.drops);
		uint64_t ixl = 1;
		CHECK_EQ(cr_engine_counter(e, "index_lost", &ixl), 0);
		CHECK_EQ(ixl, t.index_lost);
		cr_engine_free(e);
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/index.sqlite", store);
		struct cr_index *idx;
		CHECK_EQ(cr_index_open(path, CR_INDEX_RO, &idx), 0);
		struct cr_index_filter f;
		memset(&f, 0, sizeof(f));
		struct seen v;
		memset(&v, 0, sizeof(v));
		CHECK_EQ(cr_index_query(idx, &f, collect, &v), 0);
		uint64_t lost_total = 0, stored_total = 0;
		for (uint32_t i = 0; i < v.ns; i++) {
			uint64_t stored = 0;
			cr_index_chunks(idx, v.s[i].uid, count_chunk, &stored);
			CHECK_EQ(stored + v.s[i].store_lost, v.s[i].packets);
			lost_total += v.s[i].store_lost;
			stored_total += stored;
		}
		CHECK_EQ(lost_total, sf);
		CHECK_EQ(stored_total, rtp);
		cr_index_close(idx);
		printf("fault: %lu RTP stored, %lu not stored (STORE_FULL), marked on the streams\n",
		       (unsigned long)rtp, (unsigned long)sf);
	}

	/* F: one call of 60 s, played at 10x its packet time into a live
	 * engine. Its chunks close every 2 s and reach the I/O thread as blocks
	 * every second; half-way through the call the index must name some:
	 * blocks were written only when 1 MiB was staged or after a second
	 * with none, so at low traffic audio stayed undurable for minutes. */
	{
		script(3000);
		qsort(frames, (size_t)nframes, sizeof(*frames), cmp_frame);
		struct rte_ring *rf = rte_ring_create("test_rf", 8192, 0,
						      RING_F_SP_ENQ | RING_F_SC_DEQ);
		int pf = rte_eth_from_ring(rf);
		CHECK(pf >= 0);
		snprintf(store, sizeof(store), "%s/f", dir);
		struct cr_engine_cfg cfg;
		test_cfg(&cfg, (uint16_t)pf, CR_TS_MBUF_NS, 0, 1, store, 0);
		live_engine = cr_engine_create(&cfg);
		CHECK(live_engine != NULL);
		struct pace pc = {live_engine, rf, mp, ts_off, store, -1};
		pthread_t th;
		CHECK_EQ(pthread_create(&th, NULL, pace_main, &pc), 0);
		CHECK_EQ(cr_engine_run(live_engine), 0);
		pthread_join(th, NULL);
		cr_engine_totals(live_engine, &t);
		printf("low traffic: %ld chunks in the index 30 s into a 60 s call\n",
		       (long)pc.mid_chunks);
		CHECK(pc.mid_chunks >= 10); /* 2 streams, 2 s chunks, 28 s durable */
		CHECK_EQ(t.accounted, t.rx_packets);
		CHECK_EQ(t.rx_packets, (uint64_t)nframes);
		cr_engine_free(live_engine);
		live_engine = NULL;
	}

	/* G: prefault: a live engine holds its workers' stream memory from the
	 * start (max_streams x (stream + chunk_cap)), faulted in; an engine
	 * told not to touches none of it until streams come */
	long grew[2] = {0, 0};
	for (int pf = 1; pf >= 0; pf--) {
		/* a port of its own: freeing an engine closes its ports */
		char rn[32];
		snprintf(rn, sizeof(rn), "test_rg%d", pf);
		int pg = rte_eth_from_ring(rte_ring_create(rn, 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
		CHECK(pg >= 0);
		struct cr_engine_cfg cfg;
		snprintf(store, sizeof(store), "%s/g%d", dir, pf);
		test_cfg(&cfg, (uint16_t)pg, CR_TS_LIVE, 0, 1, store, 0);
		cfg.max_streams = 4096;
		cfg.chunk_cap = 16384; /* 64 MiB of chunk buffers */
		cfg.prefault = pf;
		long before = rss_kb();
		e = cr_engine_create(&cfg);
		CHECK(e != NULL);
		grew[pf] = rss_kb() - before;
		printf("prefault=%d: resident memory grew by %ld KiB at create\n", pf, grew[pf]);
		cr_engine_free(e);
	}
	/* (the rest of create's memory is touched or not depending on the
	 * environment: meson's MALLOC_PERTURB_ fills every malloc) */
	CHECK(grew[1] - grew[0] >= 64 * 1024);

	rte_mempool_free(mp);
	rte_eal_cleanup();
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (cr_test_failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	TEST_DONE();
}
