/* SPDX-License-Identifier: BSD-3-Clause */
/* cr_dpbench: the real callrec pipeline (cr_engine: classify, steer, SIP/SDP,
 * stream stats, chunking, lz4, I/O thread, index) fed through a DPDK port
 * made with rte_eth_from_ring(), at 1..W workers; and, in the same process
 * on the same core, DPDK's raw receive (net_null, and the same ring port
 * with nothing behind it) for reference.
 *
 * Traffic: N calls (SIP INVITE/200/ACK with SDP, RTP both ways at each
 * codec's packet rate with advancing sequence numbers and timestamps, real
 * audio payloads for G.711, BYE/200), a codec mix, call arrival rate and
 * duration, loss, reordering and jitter. Frames are built in mbufs before
 * the clock starts, so the generator costs nothing during the measurement.
 *
 * Prints one JSON object (callrec-bench merges it into its report).
 * usage: cr_dpbench --calls N --seconds S [--workers W] [--codecs pcmu,pcma,g729,opus]
 *        [--cps R] [--loss P] [--reorder P] [--jitter MS] [--audio FILE.ul]
 *        [--store DIR] [--lz4-accel N] */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "cr_engine.h"
#include "cr_pkt.h"

struct codec {
	const char *name, *rtpmap;
	uint8_t pt;
	uint16_t bytes; /* per packet (Opus: mean of a VBR range) */
	uint16_t ts_step;
	int vbr;
};
static const struct codec codecs[] = {
	{"pcmu", "0 PCMU/8000", 0, 160, 160, 0},   {"pcma", "8 PCMA/8000", 8, 160, 160, 0},
	{"g722", "9 G722/8000", 9, 160, 160, 0},   {"g729", "18 G729/8000", 18, 20, 160, 0},
	{"opus", "111 opus/48000/2", 111, 60, 960, 1},
};

static struct {
	unsigned calls, workers, mem_mb;
	double seconds, cps, loss, reorder, jitter_ms;
	const struct codec *mix[8];
	unsigned n_mix;
	const char *audio, *store;
	int lz4_accel;
	unsigned first; /* run first..workers */
	unsigned chunk_kb;
} o = {.first = 1, .chunk_kb = 0, .calls = 200, .workers = 1, .seconds = 60, .mem_mb = 0, .n_mix = 0, .lz4_accel = 1};

struct frame {
	int64_t t;
	uint64_t off; /* into the frame arena (100,000 calls x 4 s: 8.6 GB) */
	uint16_t len;
};
static struct frame *fr;
static size_t nfr, capfr;
static uint8_t *arena;
static size_t arena_len, arena_cap;
static uint8_t *audio;
static size_t audio_len;
static uint64_t rtp_sent, sip_sent;
static uint64_t rs = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static double
urand(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint16_t
csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet/IPv4/UDP around a payload, appended to the arena */
static void
put(int64_t t, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, const uint8_t *pl,
    size_t plen)
{
	size_t len = 42 + plen;
	if (arena_len + len > arena_cap) {
		arena_cap = arena_cap ? arena_cap * 2 : (64u << 20);
		arena = realloc(arena, arena_cap);
	}
	if (nfr == capfr) {
		capfr = capfr ? capfr * 2 : (1u << 20);
		fr = realloc(fr, capfr * sizeof(*fr));
	}
	if (arena == NULL || fr == NULL) {
		fprintf(stderr, "cr_dpbench: out of memory\n");
		exit(1);
	}
	uint8_t *b = arena + arena_len;
	memset(b, 0, 42);
	b[0] = 2;
	b[6] = 2;
	b[11] = 1;
	b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((28 + plen) >> 8);
	ip[3] = (uint8_t)(28 + plen);
	ip[8] = 64;
	ip[9] = 17;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		ip[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	uint16_t c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint8_t *u = ip + 20;
	u[0] = (uint8_t)(sp >> 8);
	u[1] = (uint8_t)sp;
	u[2] = (uint8_t)(dp >> 8);
	u[3] = (uint8_t)dp;
	u[4] = (uint8_t)((8 + plen) >> 8);
	u[5] = (uint8_t)(8 + plen);
	memcpy(u + 8, pl, plen);
	fr[nfr].t = t;
	fr[nfr].off = arena_len;
	fr[nfr].len = (uint16_t)len;
	nfr++;
	arena_len += len;
}

static uint32_t
ip_of(unsigned k, int side)
{
	return 10u << 24 | ((k >> 8) & 255) << 16 | (k & 255) << 8 | (uint32_t)side;
}

static void
sip(int64_t t, unsigned k, int a2b, const char *first, const char *totag, const char *cseq,
    const struct codec *c, uint16_t port)
{
	char body[512] = "", m[1400];
	if (c) {
		uint32_t a = ip_of(k, a2b ? 1 : 2);
		char ip[20];
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", (a >> 16) & 255, (a >> 8) & 255, a & 255);
		snprintf(body, sizeof(body),
			 "v=0\r\no=- %u 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
			 "m=audio %u RTP/AVP %u 101\r\na=rtpmap:%s\r\n"
			 "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
			 k, ip, ip, port, c->pt, c->rtpmap);
	}
	int n = snprintf(m, sizeof(m),
			 "%s\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%u%s\r\n"
			 "From: <sip:+4930%06u@carrier.example>;tag=a%u\r\n"
			 "To: <sip:+4940%06u@pbx.example>%s\r\nCall-ID: bench-%u@cr-dpbench\r\n"
			 "CSeq: %s\r\nContact: <sip:10.0.0.1:5060>\r\nMax-Forwards: 70\r\n"
			 "User-Agent: cr_dpbench\r\n%sContent-Length: %zu\r\n\r\n%s",
			 first, k, cseq, k, k, k, totag, k, cseq,
			 c ? "Content-Type: application/sdp\r\n" : "", strlen(body), body);
	put(t, ip_of(k, a2b ? 1 : 2), 5060, ip_of(k, a2b ? 2 : 1), 5060, (const uint8_t *)m,
	    (size_t)n);
	sip_sent++;
}

static const int64_t T0 = 1795000000LL * 1000000000LL;
#define MS 1000000LL

/* every frame of every call, then sorted by time */
static void
generate(void)
{
	int64_t span = (int64_t)(o.seconds * 1000) * MS;
	uint8_t rtp[12 + 1500];
	for (unsigned k = 0; k < o.calls; k++) {
		const struct codec *c = o.mix[k % o.n_mix];
		int64_t start = T0 + (int64_t)((double)k / o.cps * 1e9);
		int64_t ptime = (int64_t)20 * MS;
		uint16_t pa = (uint16_t)(10000 + 2 * (k % 20000)), pb = (uint16_t)(30000 + 2 * (k % 15000));
		sip(start - 12 * MS, k, 1, "INVITE sip:+4940@pbx.example SIP/2.0", "", "1 INVITE", c, pa);
		sip(start - 8 * MS, k, 0, "SIP/2.0 200 OK", ";tag=b", "1 INVITE", c, pb);
		sip(start - 4 * MS, k, 1, "ACK sip:+4940@pbx.example SIP/2.0", ";tag=b", "1 ACK", NULL, 0);
		int64_t n = span / ptime;
		for (int d = 0; d < 2; d++) {
			uint32_t ssrc = (uint32_t)rnd();
			uint16_t seq0 = (uint16_t)rnd();
			uint32_t ts0 = (uint32_t)rnd();
			size_t ao = (size_t)(rnd() % (audio_len - 2000));
			/* every stream its own bytes (the audio under a byte mapping of
			 * its own): streams playing the same file would let lz4 find
			 * one in another, which slows it and flatters storage */
			uint8_t key = (uint8_t)rnd();
			for (int64_t i = 0; i < n; i++) {
				if (o.loss > 0 && urand() * 100 < o.loss)
					continue;
				rtp[0] = 0x80;
				rtp[1] = (uint8_t)(c->pt | (i == 0 ? 0x80 : 0));
				uint16_t seq = (uint16_t)(seq0 + i);
				uint32_t ts = ts0 + (uint32_t)(i * c->ts_step);
				rtp[2] = (uint8_t)(seq >> 8);
				rtp[3] = (uint8_t)seq;
				for (int b = 0; b < 4; b++) {
					rtp[4 + b] = (uint8_t)(ts >> (24 - 8 * b));
					rtp[8 + b] = (uint8_t)(ssrc >> (24 - 8 * b));
				}
				uint16_t plen = c->bytes;
				if (c->vbr)
					plen = (uint16_t)(c->bytes / 2 + rnd() % c->bytes);
				if (c->pt == 0 || c->pt == 8) {
					size_t at = (ao + (size_t)i * 160) % (audio_len - 160);
					for (unsigned b = 0; b < plen; b++)
						rtp[12 + b] = audio[at + b] ^ key;
				} else {
					for (unsigned b = 0; b < plen; b++)
						rtp[12 + b] = (uint8_t)rnd(); /* compressed codecs: incompressible */
				}
				int64_t t = start + i * ptime + d * MS / 2;
				if (o.jitter_ms > 0)
					t += (int64_t)(urand() * o.jitter_ms * MS);
				if (o.reorder > 0 && urand() * 100 < o.reorder)
					t += ptime + MS; /* arrives after its successor */
				put(t, ip_of(k, d ? 2 : 1), d ? pb : pa, ip_of(k, d ? 1 : 2), d ? pa : pb, rtp,
				    12 + (size_t)plen);
				rtp_sent++;
			}
		}
		sip(start + span, k, 1, "BYE sip:+4940@pbx.example SIP/2.0", ";tag=b", "2 BYE", NULL, 0);
		sip(start + span + 2 * MS, k, 0, "SIP/2.0 200 OK", ";tag=b", "2 BYE", NULL, 0);
	}
}

static int
cmp_frame(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t ? 1 : (x->off > y->off) - (x->off < y->off);
}

/* speech-like audio: pink-ish noise with a syllable envelope, mu-law */
static void
make_audio(void)
{
	if (o.audio) {
		FILE *f = fopen(o.audio, "rb");
		if (f == NULL) {
			fprintf(stderr, "cr_dpbench: cannot read %s\n", o.audio);
			exit(2);
		}
		fseek(f, 0, SEEK_END);
		audio_len = (size_t)ftell(f);
		fseek(f, 0, SEEK_SET);
		audio = malloc(audio_len);
		if (audio_len < 4000 || fread(audio, 1, audio_len, f) != audio_len) {
			fprintf(stderr, "cr_dpbench: %s: too short\n", o.audio);
			exit(2);
		}
		fclose(f);
		return;
	}
	audio_len = 8000 * 30;
	audio = malloc(audio_len);
	double b0 = 0, b1 = 0, b2 = 0;
	for (size_t i = 0; i < audio_len; i++) {
		double w = urand() * 2 - 1;
		b0 = 0.99765 * b0 + w * 0.0990460;
		b1 = 0.96300 * b1 + w * 0.2965164;
		b2 = 0.57000 * b2 + w * 1.0526913;
		double env = 0.5 + 0.5 * sin((double)i / 8000.0 * 2 * M_PI * 3.0);
		double x = (b0 + b1 + b2 + w * 0.1848) * 0.15 * env;
		int s = (int)(x * 32767);
		s = s > 32635 ? 32635 : s < -32635 ? -32635 : s;
		/* G.711 mu-law */
		int sign = s < 0 ? 0x80 : 0;
		if (s < 0)
			s = -s;
		s += 0x84;
		int exp = 7;
		for (int m = 0x4000; !(s & m) && exp > 0; m >>= 1)
			exp--;
		int mant = (s >> (exp + 3)) & 0x0f;
		audio[i] = (uint8_t) ~(sign | exp << 4 | mant);
	}
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ts_off;
static struct rte_mempool *big_mp;
#define SMALL_ROOM 256

/* mbufs for every frame, in a ring behind a new ethdev */
static int
fill(struct rte_mempool *mp, struct rte_ring **ring, const char *name)
{
	*ring = rte_ring_create(name, (unsigned)rte_align32pow2((uint32_t)nfr + 1), rte_socket_id(),
				RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*ring == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nfr; i++) {
		const struct frame *f = &fr[i];
		struct rte_mbuf *m = rte_pktmbuf_alloc(f->len <= SMALL_ROOM ? mp : big_mp);
		if (m == NULL)
			return -ENOMEM;
		memcpy(rte_pktmbuf_append(m, f->len), arena + f->off, f->len);
		*RTE_MBUF_DYNFIELD(m, ts_off, uint64_t *) = (uint64_t)f->t;
		if (rte_ring_enqueue(*ring, m) != 0)
			return -ENOSPC;
	}
	return rte_eth_from_ring(*ring);
}

/* raw receive: rx_burst and free, nothing else, on this core */
static double
raw_rx(uint16_t port, uint64_t want, uint64_t *got)
{
	struct rte_mbuf *b[32];
	uint64_t n = 0;
	double t0 = now_s();
	while (n < want) {
		uint16_t k = rte_eth_rx_burst(port, 0, b, 32);
		if (k == 0)
			break;
		rte_pktmbuf_free_bulk(b, k);
		n += k;
	}
	double dt = now_s() - t0;
	*got = n;
	return dt > 0 ? (double)n / dt / 1e6 : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cr_dpbench [EAL options] -- --calls N --seconds S [--workers W] "
			"[--codecs pcmu,pcma,g722,g729,opus] [--cps R] [--loss P] [--reorder P] "
			"[--jitter MS] [--audio FILE.ul] [--store DIR] [--lz4-accel N]\n");
	exit(2);
}

static void
parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"calls", 1, NULL, 'n'},  {"seconds", 1, NULL, 's'}, {"workers", 1, NULL, 'w'},
		{"codecs", 1, NULL, 'c'}, {"cps", 1, NULL, 'r'},     {"loss", 1, NULL, 'l'},
		{"reorder", 1, NULL, 'o'}, {"jitter", 1, NULL, 'j'}, {"audio", 1, NULL, 'a'},
		{"store", 1, NULL, 'd'},  {"lz4-accel", 1, NULL, 'z'}, {"first", 1, NULL, 'f'},
		{"chunk-kb", 1, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char mix[128] = "pcmu";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o.calls = (unsigned)atoi(optarg); break;
		case 's': o.seconds = atof(optarg); break;
		case 'w': o.workers = (unsigned)atoi(optarg); break;
		case 'c': snprintf(mix, sizeof(mix), "%s", optarg); break;
		case 'r': o.cps = atof(optarg); break;
		case 'l': o.loss = atof(optarg); break;
		case 'o': o.reorder = atof(optarg); break;
		case 'j': o.jitter_ms = atof(optarg); break;
		case 'a': o.audio = optarg; break;
		case 'd': o.store = optarg; break;
		case 'z': o.lz4_accel = atoi(optarg); break;
		case 'f': o.first = (unsigned)atoi(optarg); break;
		case 'k': o.chunk_kb = (unsigned)atoi(optarg); break;
		default: usage();
		}
	}
	if (o.calls == 0 || o.seconds <= 0 || o.workers == 0 || o.workers > 16 || o.first == 0 ||
	    o.first > o.workers)
		usage();
	if (o.cps <= 0)
		o.cps = o.calls; /* all within the first second */
	for (char *save = NULL, *t = strtok_r(mix, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct codec *found = NULL;
		for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
			if (strcasecmp(t, codecs[i].name) == 0)
				found = &codecs[i];
		if (found == NULL || o.n_mix == 8) {
			fprintf(stderr, "cr_dpbench: --codecs: '%s' is not one of pcmu pcma g722 g729 opus\n", t);
			exit(2);
		}
		o.mix[o.n_mix++] = found;
	}
}

int
main(int argc, char **argv)
{
	int eal = rte_eal_init(argc, argv);
	if (eal < 0) {
		fprintf(stderr, "cr_dpbench: EAL init failed\n");
		return 1;
	}
	parse(argc - eal, argv + eal);
	if (rte_lcore_count() < o.workers + 1) {
		fprintf(stderr, "cr_dpbench: %u workers need %u lcores (EAL --lcores)\n", o.workers,
			o.workers + 1);
		return 2;
	}
	uint64_t ts_flag;
	if (rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag) != 0)
		return 1;
	make_audio();
	double g0 = now_s();
	generate();
	qsort(fr, nfr, sizeof(*fr), cmp_frame);
	double gen_s = now_s() - g0;
	/* pools for every frame of one run: small mbufs for RTP, large for SIP */
	struct rte_mempool *mp = rte_pktmbuf_pool_create("bench_mp", (unsigned)(nfr - sip_sent) + 1024,
							  256, 0, RTE_PKTMBUF_HEADROOM + SMALL_ROOM,
							  rte_socket_id());
	big_mp = rte_pktmbuf_pool_create("bench_big", (unsigned)sip_sent + 1024, 256, 0,
					 RTE_PKTMBUF_HEADROOM + 2048, rte_socket_id());
	if (mp == NULL || big_mp == NULL) {
		fprintf(stderr, "cr_dpbench: no memory for %zu mbufs (EAL -m)\n", nfr);
		return 1;
	}
	/* reference: raw receive on this core (net_null; the ring port alone) */
	double null_mpps = 0, ring_mpps = 0;
	uint64_t got = 0;
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		char name[64];
		rte_eth_dev_get_name_by_port(pid, name);
		if (strncmp(name, "net_null", 8) != 0)
			continue;
		struct rte_eth_conf conf;
		memset(&conf, 0, sizeof(conf));
		if (rte_eth_dev_configure(pid, 1, 0, &conf) == 0 &&
		    rte_eth_rx_queue_setup(pid, 0, 1024, rte_socket_id(), NULL, mp) == 0 &&
		    rte_eth_dev_start(pid) == 0) {
			raw_rx(pid, 2000000, &got); /* warm */
			null_mpps = raw_rx(pid, 20000000, &got);
			rte_eth_dev_stop(pid);
		}
	}
	struct rte_ring *r;
	int rp = fill(mp, &r, "bench_raw");
	if (rp < 0) {
		fprintf(stderr, "cr_dpbench: cannot fill the ring: %s\n", strerror(-rp));
		return 1;
	}
	struct rte_eth_conf rconf;
	memset(&rconf, 0, sizeof(rconf));
	if (rte_eth_dev_configure((uint16_t)rp, 1, 1, &rconf) != 0 ||
	    rte_eth_rx_queue_setup((uint16_t)rp, 0, 1024, rte_socket_id(), NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup((uint16_t)rp, 0, 1024, rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start((uint16_t)rp) != 0) {
		fprintf(stderr, "cr_dpbench: cannot start the ring port\n");
		return 1;
	}
	ring_mpps = raw_rx((uint16_t)rp, nfr, &got);
	rte_eth_dev_stop((uint16_t)rp);
	rte_eth_dev_close((uint16_t)rp);
	rte_ring_free(r);
	printf("{\"calls\": %u, \"seconds\": %g, \"cps\": %g, \"codecs\": \"", o.calls, o.seconds, o.cps);
	for (unsigned i = 0; i < o.n_mix; i++)
		printf("%s%s", i ? "," : "", o.mix[i]->name);
	printf("\", \"loss_pct\": %g, \"reorder_pct\": %g, \"jitter_ms\": %g, \"packets_sent\": %zu, "
	       "\"rtp_sent\": %" PRIu64 ", \"generate_s\": %.2f, \"raw_rx_mpps\": %.2f, "
	       "\"raw_ring_rx_mpps\": %.2f, \"runs\": [",
	       o.loss, o.reorder, o.jitter_ms, nfr, rtp_sent, gen_s, null_mpps, ring_mpps);
	char store[512];
	for (unsigned w = o.first; w <= o.workers; w++) {
		char rn[32];
		snprintf(rn, sizeof(rn), "bench_r%u", w);
		rp = fill(mp, &r, rn);
		if (rp < 0) {
			fprintf(stderr, "cr_dpbench: cannot fill the ring: %s\n", strerror(-rp));
			return 1;
		}
		snprintf(store, sizeof(store), "%s/w%u", o.store ? o.store : "/tmp/cr_dpbench", w);
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", store, store);
		if (system(cmd) != 0)
			return 1;
		struct cr_engine_cfg cfg;
		cr_engine_cfg_defaults(&cfg);
		cfg.n_ports = 1;
		cfg.ports[0].port_id = (uint16_t)rp;
		cfg.ports[0].linktype = CR_LINK_ETHERNET;
		cfg.ports[0].ts_mode = CR_TS_MBUF_NS;
		cfg.ports[0].expect_pkts = nfr;
		cfg.ports[0].name = "bench";
		cfg.n_workers = w;
		cfg.store_dir = store;
		cfg.offline = 1; /* back-pressure, not drops: measures capacity */
		cfg.lz4_accel = o.lz4_accel;
		if (o.chunk_kb)
			cfg.chunk_cap = o.chunk_kb * 1024;
		cfg.nb_mbufs = 4095; /* the engine's own pool is unused: frames come from ours */
		unsigned conc = (unsigned)(o.cps * o.seconds) < o.calls ? (unsigned)(o.cps * o.seconds)
									 : o.calls;
		cfg.max_calls = conc + 1024;
		cfg.max_streams = 3 * conc / w + 1024; /* hashing is not perfectly even */
		cfg.media_entries = 2 * conc + 1024;
		struct rusage ru0, ru1;
		getrusage(RUSAGE_SELF, &ru0);
		struct cr_engine *e = cr_engine_create(&cfg);
		if (e == NULL) {
			fprintf(stderr, "cr_dpbench: engine: %s\n", strerror(errno));
			return 1;
		}
		double t0 = now_s();
		cr_engine_run(e);
		double dt = now_s() - t0;
		getrusage(RUSAGE_SELF, &ru1);
		struct cr_engine_totals t;
		struct cr_engine_stages s;
		cr_engine_totals(e, &t);
		cr_engine_stages(e, &s);
		double hz = (double)s.tsc_hz;
		double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
			     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
			     (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			     (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
		double pk = (double)(t.rx_packets ? t.rx_packets : 1);
		printf("%s{\"workers\": %u, \"packets_sent\": %zu, \"packets_received\": %" PRIu64
		       ", \"packets_recorded\": %" PRIu64 ", \"accounted\": %s, \"wall_s\": %.3f, "
		       "\"cpu_s\": %.3f, \"mpps\": %.3f, \"mpps_per_worker\": %.3f, "
		       "\"worker_capacity_mpps\": %.3f, \"ns_per_packet\": {\"rx_classify_steer\": %.1f, "
		       "\"worker\": %.1f, \"worker_lz4\": %.1f, \"io\": %.1f}, \"drops\": {",
		       w == o.first ? "" : ", ", w, nfr, t.rx_packets, t.rtp_packets,
		       t.accounted == t.rx_packets ? "true" : "false", dt, cpu, pk / dt / 1e6,
		       pk / dt / 1e6 / w,
		       s.worker_busy_cycles ? pk / ((double)s.worker_busy_cycles / hz / w) / 1e6 / w : 0,
		       (double)s.rx_busy_cycles / hz * 1e9 / pk,
		       (double)s.worker_busy_cycles / hz * 1e9 / pk, (double)s.worker_lz4_cycles / hz * 1e9 / pk,
		       (double)s.io_busy_cycles / hz * 1e9 / pk);
		uint64_t dsum = 0;
		int first = 1;
		const char *dn;
		for (unsigned i = 0; (dn = cr_engine_drop_name(i)) != NULL; i++) {
			uint64_t v = 0;
			if (cr_engine_counter(e, dn, &v) == 0 && v) {
				printf("%s\"%s\": %" PRIu64, first ? "" : ", ", dn, v);
				first = 0;
				dsum += v;
			}
		}
		printf("}, \"drops_total\": %" PRIu64 ", \"calls_indexed\": %" PRIu64
		       ", \"cpu_ns_per_packet\": {\"rx_classify_steer\": %.1f, \"worker\": %.1f, "
		       "\"io\": %.1f, \"index\": %.1f}, \"worker_cpu_capacity_mpps\": %.3f, "
		       "\"mem_per_stream_bytes\": %" PRIu64 "}",
		       dsum, t.calls, (double)s.rx_cpu_ns / pk, (double)s.worker_cpu_ns / pk,
		       (double)s.io_cpu_ns / pk, (double)s.idx_cpu_ns / pk,
		       s.worker_cpu_ns ? pk / ((double)s.worker_cpu_ns / 1e9 / w) / 1e6 / w : 0,
		       s.mem_per_stream_bytes);
		fflush(stdout);
		cr_engine_free(e); /* stops and closes its ports */
		rte_ring_free(r);
	}
	printf("]}\n");
	rte_eal_cleanup();
	return 0;
}
