/* SPDX-License-Identifier: BSD-3-Clause */
/* Set-up, the RX/steer loop of the main lcore, shutdown and the report. */
/* rte_ip_frag_table_del_expired_entries is experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API 1
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mbuf_dyn.h>

#include "cr_engine_internal.h"
#include "cr_fsck.h"
#include "cr_mem.h"
#include "cr_policy.h"

RTE_LOG_REGISTER_DEFAULT(cr_engine_logtype, INFO);

const char *const cr_fate_names[CR_FATE_MAX] = {
#define CR_X(n, d, s) #n,
	CR_FATE_LIST(CR_X)
#undef CR_X
};
const char *const cr_fate_desc[CR_FATE_MAX] = {
#define CR_X(n, d, s) s,
	CR_FATE_LIST(CR_X)
#undef CR_X
};
const uint8_t cr_fate_drop[CR_FATE_MAX] = {
#define CR_X(n, d, s) d,
	CR_FATE_LIST(CR_X)
#undef CR_X
};

const char *
cr_engine_drop_name(unsigned i)
{
	for (int f = 0; f < CR_FATE_MAX; f++)
		if (cr_fate_drop[f] && i-- == 0)
			return cr_fate_names[f];
	return NULL;
}

#define BURST 32
#define TICK_NS (100LL * 1000000LL)
#define NS 1000000000LL

void
cr_engine_cfg_defaults(struct cr_engine_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->n_workers = 1;
	c->ring_size = 4096;
	c->nb_mbufs = 16383;
	c->nb_rxd = 1024;
	c->promiscuous = 1;
	c->capture_direct = -1;
	c->max_streams = 16384;
	c->prefault = 1;
	c->chunk_cap = 16384; /* 2 s of G.711: a quarter of the index rows of 4 KB (cr_dpbench) */
	c->nb_blocks = 63;
	c->seg_max_bytes = 256ULL << 20;
	c->lz4_accel = 1;
	c->lz4_min_saving = 12; /* ZFS's early-abort threshold (1/8) */
	c->max_calls = 16384;
	c->rec_header = "X-Record";
	c->media_entries = 65536;
	c->nb_msgs = 4095;
	c->rtp_timeout_ns = 300 * NS;
	c->setup_timeout_ns = 300 * NS;
	c->session_timeout_ns = 3600 * NS; /* answered, neither SIP nor RTP for an hour */
	c->sip_ports[0] = 5060;
	c->sip_ports[1] = 5080;
}

static int
port_setup(struct cr_engine *e, uint16_t port)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	uint16_t nq = e->rss ? (uint16_t)e->cfg.n_workers : 1;
	/* The symmetric Toeplitz key (0x6d5a repeated) sends both directions of
	 * a flow to one queue; a device without RSS (af_packet's fanout, a ring)
	 * spreads flows its own way: any flow-consistent spread is correct,
	 * since a stream is processed where its packets arrive. */
	uint8_t key[64];
	struct rte_eth_dev_info di;
	if (nq > 1 && rte_eth_dev_info_get(port, &di) == 0) {
		if (di.max_rx_queues < nq) {
			CR_LOG(ERR, "port %u has %u RX queues, %u workers need one each", port,
			       di.max_rx_queues, nq);
			return -EINVAL;
		}
		uint64_t hf = e->cfg.rss_off ? 0
					     : (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
		if (hf) {
			uint8_t kl = di.hash_key_size && di.hash_key_size <= sizeof(key)
					     ? di.hash_key_size : 40;
			for (unsigned i = 0; i < kl; i++)
				key[i] = i & 1 ? 0x5a : 0x6d;
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_key = key;
			conf.rx_adv_conf.rss_conf.rss_key_len = kl;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
		}
	}
	int r = rte_eth_dev_configure(port, nq, 1, &conf);
	if (r < 0)
		return r;
	uint16_t nb_rxd = (uint16_t)e->cfg.nb_rxd, nb_txd = 64;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < nq; q++) {
		r = rte_eth_rx_queue_setup(port, q, nb_rxd, rte_eth_dev_socket_id(port), NULL,
					   e->mbufs);
		if (r < 0)
			return r;
	}
	r = rte_eth_tx_queue_setup(port, 0, nb_txd, rte_eth_dev_socket_id(port), NULL);
	if (r < 0)
		return r;
	if (e->cfg.promiscuous)
		rte_eth_promiscuous_enable(port); /* a copy of the network: take everything */
	return rte_eth_dev_start(port);
}

/* Where a pool's objects live. Offline without hugepages, in process memory
 * rather than EAL's 4 KiB memfd pages: their first touches were 7,000 faults
 * (~14 us each in a VM, a sixth of a 200-call import), and nothing DMAs into
 * an import's objects (no IOVA). Dense objects take transparent huge pages;
 * objects of many pages (blocks) that are used one by one stay on 4 KiB pages
 * and are faulted in as they are first filled (cr_block_warm): a huge page
 * would zero them all at start (in a VM whose host takes free memory back,
 * ~4 ms a 2 MiB page). */
enum pool_mem { POOL_EAL, POOL_DENSE, POOL_SPARSE };

static void
pool_mem_free(struct rte_mempool_memhdr *mh, void *opaque)
{
	RTE_SET_USED(opaque);
	cr_mem_huge_free(mh->addr, mh->len);
}

static int
pool_populate(struct rte_mempool *mp, enum pool_mem where)
{
	if (where == POOL_EAL)
		return rte_mempool_populate_default(mp) < 0 ? -ENOMEM : 0;
	size_t obj = (size_t)mp->header_size + mp->elt_size + mp->trailer_size;
	/* one chunk of what the objects take; a handler that places them with
	 * gaps gets the rest in further chunks */
	for (int chunks = 0; mp->populated_size < mp->size; chunks++) {
		size_t len = (size_t)(mp->size - mp->populated_size) * obj + RTE_CACHE_LINE_SIZE;
		char *p = chunks < 4 ? cr_mem_huge(len) : NULL;
		if (p == NULL)
			return -ENOMEM;
		if (where == POOL_SPARSE)
			madvise(p, len, MADV_NOHUGEPAGE);
		int r = rte_mempool_populate_iova(mp, p, RTE_BAD_IOVA, len, pool_mem_free, NULL);
		if (r <= 0) { /* not registered: ours to free */
			cr_mem_huge_free(p, len);
			return r < 0 ? r : -ENOMEM;
		}
	}
	return 0;
}

/* A pool of n objects of elt bytes */
static struct rte_mempool *
pool_create(const char *name, unsigned n, unsigned elt, unsigned cache, enum pool_mem where)
{
	if (where == POOL_EAL)
		return rte_mempool_create(name, n, elt, cache, 0, NULL, NULL, NULL, NULL,
					  (int)rte_socket_id(), 0);
	struct rte_mempool *mp = rte_mempool_create_empty(name, n, elt, cache, 0, (int)rte_socket_id(),
							  RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == NULL)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, "ring_mp_mc", NULL) != 0 || pool_populate(mp, where) != 0) {
		rte_mempool_free(mp);
		return NULL;
	}
	return mp;
}

/* Without hugepages (offline imports, tests, virtual devices) nothing DMAs
 * into mbufs, so an mbuf may straddle two 4 KiB pages: otherwise the pool
 * leaves 1.7 KiB of each page empty and start-up faults in 64 MiB, not 38. */
static struct rte_mempool *
mbuf_pool_create(unsigned n, enum pool_mem where, uint16_t room)
{
	if (rte_eal_has_hugepages())
		return rte_pktmbuf_pool_create("cr_mbufs", n, 256, 0, room, (int)rte_socket_id());
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = room,
	};
	struct rte_mempool *mp = rte_mempool_create_empty(
		"cr_mbufs", n, sizeof(struct rte_mbuf) + room, 256,
		sizeof(priv), (int)rte_socket_id(), RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == NULL)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (pool_populate(mp, where) != 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

struct cr_engine *
cr_engine_create(const struct cr_engine_cfg *cfg)
{
	if (cfg->n_workers == 0 || cfg->n_workers > CR_ENGINE_MAX_WORKERS ||
	    cfg->n_ports == 0 || cfg->n_ports > CR_ENGINE_MAX_PORTS) {
		errno = EINVAL;
		return NULL;
	}
	if (rte_lcore_count() < cfg->n_workers + 1) {
		CR_LOG(ERR, "%u workers need %u lcores, EAL has %u", cfg->n_workers,
		       cfg->n_workers + 1, rte_lcore_count());
		errno = EINVAL;
		return NULL;
	}
	if (cfg->rx_queues > 1 && (cfg->rx_queues != cfg->n_workers || cfg->offline)) {
		CR_LOG(ERR, "rx_queues %u: a live engine takes 1, or one per worker (%u)",
		       cfg->rx_queues, cfg->n_workers);
		errno = EINVAL;
		return NULL;
	}
	struct cr_engine *e = rte_zmalloc("cr_engine", sizeof(*e), RTE_CACHE_LINE_SIZE);
	if (e == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	e->cfg = *cfg;
	e->rss = cfg->rx_queues > 1;
	(void)cr_live_now(); /* its base, before any worker reads it */
	e->policy = cfg->policy;
	e->workers = rte_zmalloc("cr_workers", sizeof(struct cr_worker) * cfg->n_workers,
				 RTE_CACHE_LINE_SIZE);
	if (e->workers == NULL) {
		rte_free(e);
		errno = ENOMEM;
		return NULL;
	}
	int r;
	char path[PATH_MAX];
	if (mkdir(cfg->store_dir, 0750) != 0 && errno != EEXIST) {
		CR_LOG(ERR, "cannot create store %s: %s", cfg->store_dir, strerror(errno));
		goto fail;
	}
	/* one writer per store: a second callrecd would corrupt the first's segments */
	snprintf(path, sizeof(path), "%s/.lock", cfg->store_dir);
	e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		CR_LOG(ERR, "store %s is in use by another process (%s)", cfg->store_dir,
		       strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/index.sqlite", cfg->store_dir);
	if ((r = cr_index_open(path, CR_INDEX_RW, &e->idx)) == 0)
		cr_index_set_fieldkey(e->idx, cfg->fieldkey);
	if (r != 0) {
		CR_LOG(ERR, "cannot open index %s: %s", path,
		       e->idx ? cr_index_errmsg(e->idx) : strerror(-r));
		errno = -r;
		goto fail;
	}
	e->uid_base = cr_index_run_id(e->idx) << 40;
	for (e->rec_mask = 1; e->rec_mask < 2ull * cfg->max_calls; e->rec_mask <<= 1)
		;
	e->rec_state = rte_zmalloc("cr_rec_state", e->rec_mask * sizeof(uint64_t), RTE_CACHE_LINE_SIZE);
	e->rec_mask--;
	if (e->rec_state == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	e->ctl_ring = rte_ring_create("cr_ctl", 64, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (e->ctl_ring == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	/* a previous run that crashed left segments unsealed: seal them up to
	 * their last good block and index what they hold, before writing */
	{
		struct cr_fsck_report *fr = calloc(1, sizeof(*fr));
		r = fr ? cr_fsck_recover(cfg->store_dir, e->idx, fr) : -ENOMEM;
		if (r != 0) {
			CR_LOG(ERR, "store %s: recovery failed: %s", cfg->store_dir, strerror(-r));
			free(fr);
			errno = -r;
			goto fail;
		}
		if (fr->recovered)
			CR_LOG(WARNING,
			       "store %s: recovered %" PRIu64 " unsealed segment(s), %" PRIu64
			       " chunks and %" PRIu64 " records indexed, %" PRIu64
			       " bytes quarantined",
			       cfg->store_dir, fr->recovered, fr->replayed_chunks,
			       fr->replayed_records, fr->quarantined_bytes);
		e->recovered_segments = fr->recovered;
		free(fr);
	}

	/* Capture files first: when every packet is attached to the reader's
	 * buffer (classic pcap, pcapng: cr_capin_copies), an import's mbufs need
	 * no data room of their own: 4,095 of them take 1 MB, not 9.4 MB of
	 * hugepages the kernel zeroes at start (~1.5 ms). */
	int attached = cfg->offline;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		if (!cfg->ports[i].capture) {
			attached = 0;
			continue;
		}
		char err[256];
		if ((r = cr_capin_open(cfg->ports[i].capture, cfg->capture_direct, &e->capin[i], err,
					 sizeof(err))) != 0) {
			CR_LOG(ERR, "cannot read capture %s: %s", cfg->ports[i].capture, err);
			errno = -r;
			goto fail;
		}
		if (cr_capin_copies(e->capin[i]))
			attached = 0;
		if (cfg->fault_dio)
			cr_capin_fault_dio(e->capin[i], cfg->fault_dio);
	}
	uint16_t room = attached ? RTE_PKTMBUF_HEADROOM : RTE_MBUF_DEFAULT_BUF_SIZE;
	int own = cr_offline_small_pages(e); /* pools in process memory */
	e->mbufs = mbuf_pool_create(cfg->nb_mbufs, own ? POOL_DENSE : POOL_EAL, room);
	e->msgs = pool_create("cr_msgs", cfg->nb_msgs, sizeof(struct cr_msg), 64,
			      own ? POOL_DENSE : POOL_EAL);
	e->idx_ring = rte_ring_create("cr_idx", 4096, (int)rte_socket_id(), RING_F_SC_DEQ);
	/* in flight, and one a worker's batch class builds in */
	e->blocks = pool_create("cr_blocks", cfg->nb_blocks + cfg->n_workers * CR_MAX_RCLASS,
				sizeof(struct cr_block_msg) + cr_block_bound(CR_BATCH_RAW), 0,
				own ? POOL_SPARSE : POOL_EAL);
	e->io_ring = rte_ring_create("cr_io", 64, (int)rte_socket_id(), RING_F_SC_DEQ);
	/* offline consumers sleep until this much waits (cr_bell): below what
	 * the pools hold, so producers never wait on a sleeping consumer */
	if (cfg->offline) {
		cr_bell_arm(&e->io_bell, e->io_ring, cfg->nb_blocks / 2, &e->io_stop);
		cr_gate_arm(&e->blocks_gate, e->blocks, cfg->nb_blocks / 4);
		cr_bell_arm(&e->idx_bell, e->idx_ring, cfg->nb_msgs / 4, &e->idx_stop);
	}
	if (e->mbufs == NULL || e->msgs == NULL || e->idx_ring == NULL || e->blocks == NULL ||
	    e->io_ring == NULL) {
		CR_LOG(ERR, "cannot allocate pools: %s", rte_strerror(rte_errno));
		errno = ENOMEM;
		goto fail;
	}
	/* packet time lives in the standard rx timestamp field, always in ns */
	e->ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	if (e->ts_off < 0) {
		int off;
		if (rte_mbuf_dyn_rx_timestamp_register(&off, &e->ts_flag) != 0) {
			errno = ENOMEM;
			goto fail;
		}
		e->ts_off = off;
	}
	static const struct rte_mbuf_dynfield l4_desc = {
		.name = "callrec_dynfield_l4info",
		.size = sizeof(struct cr_l4info),
		.align = __alignof__(struct cr_l4info),
	};
	if ((e->l4_off = rte_mbuf_dynfield_register(&l4_desc)) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	if ((r = cr_sig_init(e)) != 0) {
		errno = -r;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->n_workers; i++) {
		if ((r = cr_worker_init(e, &e->workers[i], i)) != 0) {
			CR_LOG(ERR, "worker %u: %s", i, strerror(-r));
			errno = -r;
			goto fail;
		}
		/* offline, an idle worker sleeps until its ring holds 4 bursts
		 * (its 20 us naps were ~2,500 sleeps an import with 2 workers;
		 * waking it for every burst, ~4,000 wake-ups), or the RX
		 * thread waits for it (sync_workers, no mbuf free: cr_bell_ring) */
		if (cfg->offline)
			cr_bell_arm(&e->workers[i].bell, e->workers[i].ring, 4 * BURST, &e->eof);
	}
	/* each worker's lcore: the workers run there (cr_engine_run) */
	for (unsigned i = 0, lc = -1u; i < cfg->n_workers; i++)
		e->workers[i].lcore = lc = rte_get_next_lcore(lc, 1, 0);
	if (cfg->prefault) {
		/* there too: the pages come from the worker's NUMA node */
		for (unsigned i = 0; i < cfg->n_workers; i++)
			if (e->workers[i].lcore >= RTE_MAX_LCORE ||
			    rte_eal_remote_launch(cr_worker_prefault, &e->workers[i],
						  e->workers[i].lcore) != 0)
				cr_worker_prefault(&e->workers[i]);
		rte_eal_mp_wait_lcore();
	}
	e->import = cfg->offline && cfg->n_ports > 0; /* until a port is not a capture file */
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].capture)
			continue; /* opened above */
		e->import = 0;
		if ((r = port_setup(e, cfg->ports[i].port_id)) != 0) {
			CR_LOG(ERR, "port %u (%s): %s", cfg->ports[i].port_id,
			       cfg->ports[i].name ? cfg->ports[i].name : "?", strerror(-r));
			errno = -r;
			goto fail;
		}
	}
	cr_metrics_telemetry(e);
	return e;
fail:;
	int saved = errno;
	cr_engine_free(e);
	errno = saved;
	return NULL;
}

void
cr_engine_stop(struct cr_engine *e)
{
	e->stop = 1;
}

/* Wall-clock ns for ports without capture timestamps (live). The first call
 * (cr_engine_create) sets the base; workers call it after that. */
int64_t
cr_live_now(void)
{
	static uint64_t tsc0, hz;
	static int64_t wall0;
	if (hz == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		wall0 = ts.tv_sec * NS + ts.tv_nsec;
		tsc0 = rte_rdtsc();
		hz = rte_get_tsc_hz();
	}
	uint64_t d = rte_rdtsc() - tsc0;
	return wall0 + (int64_t)(d / hz) * NS + (int64_t)((d % hz) * NS / hz);
}

struct steer {
	void *objs[CR_ENGINE_MAX_WORKERS][BURST * 2];
	unsigned n[CR_ENGINE_MAX_WORKERS];
	uint64_t enq[CR_ENGINE_MAX_WORKERS]; /* entries handed to each worker */
};

static void
flush_worker(struct cr_engine *e, struct steer *st, unsigned w)
{
	unsigned n = st->n[w], done = 0;
	if (e->inline_worker) {
		if (n) {
			uint64_t t0 = rte_rdtsc();
			cr_worker_consume(&e->workers[w], st->objs[w], n);
			e->workers[w].busy_cycles += rte_rdtsc() - t0;
			st->enq[w] += n;
			st->n[w] = 0;
		}
		return;
	}
	for (unsigned spins = 0; done < n; spins++) {
		done += rte_ring_sp_enqueue_burst(e->workers[w].ring, st->objs[w] + done, n - done,
						  NULL);
		cr_bell_nudge(&e->workers[w].bell);
		if (done < n && !e->cfg.offline)
			break;
		if (done < n)
			cr_offline_backoff(spins);
	}
	st->enq[w] += done;
	for (unsigned i = done; i < n; i++) {
		if (!cr_is_tick(st->objs[w][i])) {
			rte_pktmbuf_free(st->objs[w][i]);
			e->fate[CR_FATE_RING_FULL]++;
			e->ring_drops[w]++; /* which ring: where loss starts */
		}
	}
	st->n[w] = 0;
}

static void
steer_to(struct cr_engine *e, struct steer *st, unsigned w, void *obj)
{
	st->objs[w][st->n[w]++] = obj;
	if (st->n[w] == RTE_DIM(st->objs[w]))
		flush_worker(e, st, w);
}

static void
send_ticks(struct cr_engine *e, struct steer *st, int64_t now)
{
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		steer_to(e, st, w, cr_tick_encode(now));
	cr_sig_drain_activity(e);
	cr_call_tick(e->calls, now);
	cr_media_reap(e, 0);
	e->last_tick_ns = now;
}

static int
is_sip_port(const struct cr_engine *e, uint16_t port)
{
	for (unsigned i = 0; i < RTE_DIM(e->cfg.sip_ports); i++)
		if (e->cfg.sip_ports[i] && e->cfg.sip_ports[i] == port)
			return 1;
	return 0;
}

/* Offline imports: before a SIP message changes what workers read (an
 * endpoint announced again, a call's recording state), let every worker
 * finish the packets that precede it, so binding and on-demand boundaries
 * see that state exactly as it was at that point of the capture, whatever
 * the worker count or speed. Called by the signalling code at the first such
 * change of a message (cr_engine_sync_workers), not before every message: a
 * capture of many short calls was paced by these waits. A new endpoint needs
 * none (its version starts at the message's packet time). Live ports never
 * wait: there the packet-time versions in the table apply. */
static void
sync_workers(struct cr_engine *e, struct steer *st)
{
	if (!e->cfg.offline)
		return;
	e->synced = 1;
	for (unsigned w = 0; w < e->cfg.n_workers; w++) {
		flush_worker(e, st, w);
		for (unsigned spins = 0;
		     __atomic_load_n(&e->workers[w].done_objs, __ATOMIC_ACQUIRE) < st->enq[w];
		     spins++) {
			cr_bell_ring(&e->workers[w].bell);
			cr_offline_backoff(spins);
		}
	}
}

void
cr_engine_sync_workers(struct cr_engine *e)
{
	if (e->cfg.offline && !e->synced && e->rx_steer)
		sync_workers(e, e->rx_steer);
}

static void classify(struct cr_engine *e, struct steer *st, struct rte_mbuf *m,
		     const uint8_t *data, size_t len, int depth);

/* SIP over UDP: it looks like SIP, or it is on a SIP port and not RTP */
static int
is_sip_udp(const struct cr_engine *e, const struct cr_pkt *p, const uint8_t *data)
{
	const char *pl = (const char *)data + p->payload_off;
	return cr_sip_looks_like(pl, p->payload_len) ||
	       ((is_sip_port(e, p->sport) || is_sip_port(e, p->dport)) && p->payload_len > 0 &&
		((uint8_t)pl[0] & 0xc0) != 0x80);
}

/* what the parse found, for the worker (valid: offsets are into m's data) */
static void
set_l4info(const struct cr_engine *e, struct rte_mbuf *m, const struct cr_pkt *p, int direct)
{
	struct cr_l4info *li = RTE_MBUF_DYNFIELD(m, e->l4_off, struct cr_l4info *);
	li->valid = direct && p->payload_off + p->payload_len <= UINT16_MAX;
	li->l3_off = p->l2_len;
	li->payload_off = (uint16_t)p->payload_off;
	li->payload_len = (uint16_t)p->payload_len;
	li->ip_ver = p->ip_ver;
}

/* n fragments went to the death row: the held ones among them are dropped
 * now (they were counted FRAG_HELD); @return how many were held */
static uint64_t
frag_held_dropped(struct cr_engine *e, uint32_t n)
{
	uint64_t mv = n < e->fate[CR_FATE_FRAG_HELD] ? n : e->fate[CR_FATE_FRAG_HELD];
	e->fate[CR_FATE_FRAG_HELD] -= mv;
	e->fate[CR_FATE_FRAG_DROP] += mv;
	rte_ip_frag_free_death_row(&e->frag_dr, 0);
	return mv;
}

/* drop every datagram IP reassembly holds (their mbufs are needed) */
static void
frag_release_all(struct cr_engine *e)
{
	if (e->frag_tbl == NULL)
		return;
	uint32_t before = e->frag_dr.cnt;
	rte_ip_frag_table_del_expired_entries(e->frag_tbl, &e->frag_dr, UINT64_MAX / 2);
	uint32_t n = e->frag_dr.cnt - before;
	frag_held_dropped(e, n);
	if (n)
		CR_LOG(WARNING, "mbufs exhausted: dropped %u held IP fragments", n);
}

/* IP fragments: reassembled here on the main lcore (rte_ip_frag), then
 * classified like any packet. Fragments absorbed count as FRAG_HELD; the one
 * that completes the datagram takes the datagram's fate. */
static void
handle_frag(struct cr_engine *e, struct steer *st, struct rte_mbuf *m, const struct cr_pkt *p)
{
	if (unlikely(e->frag_tbl == NULL) && cr_sig_frag_table(e) != 0) {
		/* an import's first fragment, and no memory for the table */
		e->fate[CR_FATE_FRAG_DROP]++;
		rte_pktmbuf_free(m);
		return;
	}
	m->l2_len = p->l2_len;
	m->l3_len = p->l3_len;
	uint32_t dr_before = e->frag_dr.cnt;
	struct rte_mbuf *r;
	uint64_t tms = rte_rdtsc();
	rte_pktmbuf_adj(m, 0);
	if (p->ip_ver == 4) {
		struct rte_ipv4_hdr *ip =
			rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, p->l2_len);
		r = rte_ipv4_frag_reassemble_packet(e->frag_tbl, &e->frag_dr, m, tms, ip);
	} else {
		struct rte_ipv6_hdr *ip =
			rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, p->l2_len);
		struct rte_ipv6_fragment_ext *fh =
			rte_pktmbuf_mtod_offset(m, struct rte_ipv6_fragment_ext *, p->frag_hdr_off);
		if (p->frag_hdr_off != p->l2_len + 40) {
			/* DPDK reassembles only when the fragment header follows the fixed header */
			e->fate[CR_FATE_FRAG_DROP]++;
			rte_pktmbuf_free(m);
			return;
		}
		m->l3_len = 40 + 8;
		r = rte_ipv6_frag_reassemble_packet(e->frag_tbl, &e->frag_dr, m, tms, ip, fh);
	}
	uint32_t dropped = e->frag_dr.cnt - dr_before;
	if (dropped) {
		/* already-held fragments moved to the death row: re-account them;
		 * one that was not held is this fragment itself */
		uint64_t mv = frag_held_dropped(e, dropped);
		e->fate[CR_FATE_FRAG_DROP] += dropped - mv;
		if (r == NULL && mv < dropped)
			return; /* this fragment itself was dropped and counted */
	}
	if (r == NULL) {
		e->fate[CR_FATE_FRAG_HELD]++;
		return;
	}
	size_t len = rte_pktmbuf_pkt_len(r);
	if (len > 65535) {
		e->fate[CR_FATE_FRAG_DROP]++;
		rte_pktmbuf_free(r);
		return;
	}
	const uint8_t *data = rte_pktmbuf_read(r, 0, (uint32_t)len, e->scratch);
	classify(e, st, r, data, len, 1);
}

static void
classify(struct cr_engine *e, struct steer *st, struct rte_mbuf *m, const uint8_t *data,
	 size_t len, int depth)
{
	struct cr_pkt p;
	int link = e->cfg.ports[m->hash.usr].linktype;
	int r = cr_pkt_parse(data, len, link, &p);
	if (r != 0) {
		e->pkt_err[-r]++;
		e->fate[r == -CR_PKT_E_NOT_IP ? CR_FATE_NOT_IP
			: r == -CR_PKT_E_NOT_UDP_TCP ? CR_FATE_NOT_UDP_TCP
						     : CR_FATE_BAD_L2_L4]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (p.is_frag) {
		if (depth == 0)
			handle_frag(e, st, m, &p);
		else {
			e->fate[CR_FATE_FRAG_DROP]++;
			rte_pktmbuf_free(m);
		}
		return;
	}
	if (p.l4_proto == IPPROTO_TCP) {
		const char *pl = (const char *)data + p.payload_off;
		if (is_sip_port(e, p.sport) || is_sip_port(e, p.dport) ||
		    cr_sip_looks_like(pl, p.payload_len)) {
			e->synced = 0; /* the signalling code syncs before a change */
			cr_sig_handle_tcp(e, &p, data);
		}
		else
			e->fate[CR_FATE_TCP_OTHER]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (is_sip_udp(e, &p, data)) {
		e->synced = 0; /* the signalling code syncs before a change */
		cr_sig_handle(e, m, &p, data, len);
		rte_pktmbuf_free(m);
		return;
	}
	/* RTP and its RTCP (port+1) hash together: ports with the low bit cleared */
	unsigned w = e->cfg.n_workers == 1 ? 0 :
		cr_flow_hash_sym(&p.src, p.sport & 0xfffe, &p.dst, p.dport & 0xfffe) %
			e->cfg.n_workers;
	set_l4info(e, m, &p, m->nb_segs == 1 && data == rte_pktmbuf_mtod(m, const uint8_t *));
	steer_to(e, st, w, m);
}

int
cr_rx_media_local(const struct cr_engine *e, struct rte_mbuf *m)
{
	if (m->nb_segs != 1)
		return 0;
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	struct cr_pkt p;
	if (cr_pkt_parse(data, rte_pktmbuf_data_len(m), e->cfg.ports[m->hash.usr].linktype, &p) !=
		    0 ||
	    p.is_frag || p.l4_proto != IPPROTO_UDP || is_sip_udp(e, &p, data))
		return 0;
	set_l4info(e, m, &p, 1);
	return 1;
}

/* One received packet of a burst, its time in ns: the clock, then classify. */
static void
rx_one(struct cr_engine *e, struct steer *st, struct rte_mbuf **pkts, uint16_t i, uint16_t n,
       int64_t t, int64_t *tick_base)
{
	struct rte_mbuf *m = pkts[i];
	/* Packet time drives ticks; a timestamp far ahead of the clock
	 * (broken capture) does not drag every timeout with it. */
	if (*tick_base == INT64_MIN) {
		*tick_base = t;
		e->now_ns = t;
		e->last_tick_ns = t;
	} else if (t > e->now_ns && t - e->now_ns < 3600 * NS) {
		e->now_ns = t;
	}
	if (i + 1 < n)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
	if (likely(m->nb_segs == 1)) {
		classify(e, st, m, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			 0);
	} else {
		/* a frame larger than an mbuf (jumbo, GRO'd TCP in a host
		 * capture) arrives chained: parse it whole */
		uint32_t l = rte_pktmbuf_pkt_len(m) < 65536 ? rte_pktmbuf_pkt_len(m) : 65536;
		classify(e, st, m, rte_pktmbuf_read(m, 0, l, e->scratch), l, 0);
	}
	if (e->now_ns - e->last_tick_ns >= TICK_NS)
		send_ticks(e, st, e->now_ns);
}

/* Live ports are quiet: time still passes (wall clock) for timeouts and
 * chunk flushing. init: start the clock here when no packet has yet. */
static void
idle_tick(struct cr_engine *e, struct steer *st, int64_t *tick_base, int init)
{
	int64_t now = cr_live_now();
	if (*tick_base == INT64_MIN) {
		if (!init)
			return;
		*tick_base = now;
		e->last_tick_ns = now;
	}
	if (now > e->now_ns)
		e->now_ns = now;
	if (e->now_ns - e->last_tick_ns >= TICK_NS)
		send_ticks(e, st, e->now_ns);
}

/* Run to completion: what worker w passed on (received and time stamped
 * there), through classify. @return packets taken */
static uint16_t
drain_to_main(struct cr_engine *e, struct steer *st, unsigned w, struct rte_mbuf **pkts,
	      int64_t *tick_base)
{
	uint16_t k = (uint16_t)rte_ring_sc_dequeue_burst(e->workers[w].to_main, (void **)pkts,
							 BURST, NULL);
	for (uint16_t i = 0; i < k; i++)
		rx_one(e, st, pkts, i, k, *RTE_MBUF_DYNFIELD(pkts[i], e->ts_off, int64_t *),
		       tick_base);
	return k;
}

static void
print_progress(const struct cr_engine *e, uint64_t total, int final)
{
	if (!e->cfg.progress)
		return;
	/* capture files: how far into them, by bytes */
	uint64_t at = 0, size = 0;
	for (unsigned i = 0; i < e->cfg.n_ports; i++) {
		if (e->capin[i] == NULL)
			continue;
		long long o = cr_capin_offset(e->capin[i]);
		uint64_t sz = cr_capin_size(e->capin[i]);
		size += sz;
		at += cr_capin_done(e->capin[i]) ? sz : o > 0 ? (uint64_t)o : 0;
	}
	if (size)
		fprintf(stderr, "\rcallrecd: %" PRIu64 " packets (%.0f%%)%s", e->rx,
			100.0 * (double)(at < size ? at : size) / (double)size, final ? "\n" : "");
	else if (total)
		fprintf(stderr, "\rcallrecd: %" PRIu64 "/%" PRIu64 " packets (%.0f%%)%s", e->rx,
			total, 100.0 * (double)e->rx / (double)total, final ? "\n" : "");
	else
		fprintf(stderr, "\rcallrecd: %" PRIu64 " packets%s", e->rx, final ? "\n" : "");
}

int
cr_engine_run(struct cr_engine *e)
{
	struct steer *st = rte_zmalloc("cr_steer", sizeof(*st), RTE_CACHE_LINE_SIZE);
	if (st == NULL)
		return -ENOMEM;
	e->rx_steer = st;
	int r = cr_idx_start(e);
	if (r != 0) {
		rte_free(st);
		return r;
	}
	if ((r = cr_io_start(e)) != 0) {
		cr_idx_stop(e);
		rte_free(st);
		return r;
	}
	/* An offline import with one worker runs it on this lcore, between
	 * reads: the reader waits for the worker before each SIP message that
	 * changes what workers read (sync_workers), so two lcores would take
	 * turns anyway, paying for the hand-over (ring, mbufs moving between
	 * caches, sleeps and wake-ups) in CPU time and in wall time. */
	e->inline_worker = e->import && !e->rss && e->cfg.n_workers == 1;
	for (unsigned i = 0; i < e->cfg.n_workers && !e->inline_worker; i++)
		rte_eal_remote_launch(cr_worker_main, &e->workers[i], e->workers[i].lcore);
	if (e->inline_worker)
		cr_worker_start(&e->workers[0]);
	uint64_t total = 0;
	for (unsigned i = 0; i < e->cfg.n_ports; i++)
		total += e->cfg.ports[i].expect_pkts;

	struct rte_mbuf *pkts[BURST];
	unsigned cur = 0; /* offline: files are read one after another */
	uint64_t port_rx[CR_ENGINE_MAX_PORTS] = {0};
	unsigned stalls = 0;
	uint64_t last_progress = rte_rdtsc(), hz = rte_get_tsc_hz();
	int64_t tick_base = INT64_MIN;
	int wall_ports = !e->cfg.offline;
	for (unsigned i = 0; i < e->cfg.n_ports; i++)
		wall_ports &= e->cfg.ports[i].ts_mode == CR_TS_LIVE;

	uint64_t c_loop = rte_rdtsc(), rx_cpu0 = cr_thread_cpu_ns(), rx_tsc0 = c_loop;
	int got = 0; /* the previous iteration received packets */
	while (!e->stop) {
		/* busy/idle by burst: where the RX lcore's time goes */
		uint64_t c_now = rte_rdtsc();
		if (got)
			e->rx_busy_cycles += c_now - c_loop;
		else
			e->rx_idle_cycles += c_now - c_loop;
		c_loop = c_now;
		got = 0;
		if (unlikely(!rte_ring_empty(e->ctl_ring)))
			cr_engine_drain_control(e);
		if (e->rss) {
			/* run to completion: the workers poll the ports and pass on
			 * what the signalling owner needs (received, time stamped) */
			unsigned wi = cur++ % e->cfg.n_workers;
			if (drain_to_main(e, st, wi, pkts, &tick_base)) {
				got = 1;
			} else if (wi + 1 == e->cfg.n_workers) {
				for (unsigned w = 0; w < e->cfg.n_workers; w++)
					flush_worker(e, st, w);
				if (wall_ports)
					idle_tick(e, st, &tick_base, 1);
			}
			continue;
		}
		unsigned pi = e->cfg.offline ? cur : cur % e->cfg.n_ports;
		if (e->cfg.offline && pi >= e->cfg.n_ports)
			break;
		uint16_t port = e->cfg.ports[pi].port_id, n;
		if (e->capin[pi]) {
			n = cr_capin_rx(e->capin[pi], e->mbufs, e->ts_off, pkts, BURST,
					&e->capture_errors);
			if (n == 0) {
				/* no mbuf free (the workers hold them) or the file is done */
				for (unsigned w = 0; w < e->cfg.n_workers; w++) {
					flush_worker(e, st, w);
					cr_bell_ring(&e->workers[w].bell);
				}
				if (cr_capin_done(e->capin[pi])) {
					cur++;
				} else if (++stalls > 20000) {
					/* a second and nothing freed them: IP reassembly
					 * holds the pool (datagrams that never complete) */
					frag_release_all(e);
					stalls = 0;
				} else {
					cr_offline_backoff(stalls);
				}
				continue;
			}
			stalls = 0;
			goto received;
		}
		/* the pcap PMD loses a packet it read when no mbuf is free: wait */
		if (e->cfg.offline && rte_mempool_avail_count(e->mbufs) < BURST * 2) {
			for (unsigned w = 0; w < e->cfg.n_workers; w++)
				flush_worker(e, st, w);
			rte_pause();
			continue;
		}
		n = rte_eth_rx_burst(port, 0, pkts, BURST);
		if (n == 0) {
			for (unsigned w = 0; w < e->cfg.n_workers; w++)
				flush_worker(e, st, w);
			if (e->cfg.offline) {
				/* the file ended early only if nothing came while the pool was
				 * all but full: mbufs held by workers (their rings and caches)
				 * also make the pcap PMD return 0 */
				int idle_pool = rte_mempool_avail_count(e->mbufs) + 2 * BURST +
							RTE_MEMPOOL_CACHE_MAX_SIZE * e->cfg.n_workers >=
						e->cfg.nb_mbufs;
				stalls = idle_pool ? stalls + 1 : 0;
				if (port_rx[pi] >= e->cfg.ports[pi].expect_pkts || stalls > 100000) {
					if (stalls > 100000)
						CR_LOG(WARNING, "%s: read %" PRIu64 " of %" PRIu64
								" packets, file ends early",
						       e->cfg.ports[pi].name, port_rx[pi],
						       e->cfg.ports[pi].expect_pkts);
					cur++;
					stalls = 0;
				}
			} else {
				cur++;
				/* a quiet link: time still passes for timeouts and chunk
				 * flushing, when the ports' time is the wall clock */
				if (wall_ports && cur % e->cfg.n_ports == 0)
					idle_tick(e, st, &tick_base, 0);
			}
			continue;
		}
		stalls = 0;
	received:
		got = 1;
		port_rx[pi] += n;
		e->rx += n;
		int live_ts = e->cfg.ports[pi].ts_mode == CR_TS_LIVE;
		for (uint16_t i = 0; i < n; i++) {
			int64_t t = cr_rx_stamp(e, pkts[i], pi, live_ts ? cr_live_now() : 0);
			rx_one(e, st, pkts, i, n, t, &tick_base);
		}
		for (unsigned w = 0; w < e->cfg.n_workers; w++)
			if (st->n[w] >= BURST)
				flush_worker(e, st, w);
		if (e->cfg.progress && rte_rdtsc() - last_progress > hz) {
			last_progress = rte_rdtsc();
			print_progress(e, total, 0);
		}
	}
	if (e->rss) {
		/* run to completion: the workers stop receiving; what they passed
		 * on is handled before the end (received == accounted) */
		__atomic_store_n(&e->rx_stop, 1, __ATOMIC_RELEASE);
		for (unsigned w = 0; w < e->cfg.n_workers; w++)
			while (!__atomic_load_n(&e->workers[w].rx_quiet, __ATOMIC_ACQUIRE))
				rte_pause();
		for (unsigned w = 0; w < e->cfg.n_workers; w++)
			while (drain_to_main(e, st, w, pkts, &tick_base))
				;
	}
	e->rx_cpu_ns = cr_thread_cpu_ns() - rx_cpu0;
	uint64_t rx_tsc = rte_rdtsc() - rx_tsc0;
	/* drain: last tick, flush rings, let workers report every stream */
	send_ticks(e, st, e->now_ns);
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		flush_worker(e, st, w);
	__atomic_store_n(&e->eof, 1, __ATOMIC_RELEASE);
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		cr_bell_ring(&e->workers[w].bell);
	rte_eal_mp_wait_lcore();
	if (e->inline_worker) {
		/* The thread clock counts reader and worker: split in the share
		 * of the loop's time the worker was busy. Busy TSC cycles also
		 * count time the thread was descheduled (a VM's host), and so
		 * does the loop's: the share holds where the cycles would not. */
		struct cr_worker *w = &e->workers[0];
		cr_worker_finish(w);
		double share = rx_tsc ? (double)w->busy_cycles / (double)rx_tsc : 0;
		w->cpu_ns = (uint64_t)((double)e->rx_cpu_ns * (share < 1 ? share : 1));
		e->rx_cpu_ns -= w->cpu_ns;
	}
	cr_io_stop(e); /* every block written, segments sealed, chunk records queued */
	/* what the workers found after the last tick (RFC 4733 digits that
	 * paused or resumed a call: the span reaches the call's record) */
	cr_sig_drain_activity(e);
	cr_call_flush_all(e->calls);
	cr_media_reap(e, 1);
	cr_idx_stop(e);
	print_progress(e, total, 1);
	e->rx_steer = NULL;
	rte_free(st);
	return e->idx_err;
}

/* a request of another thread, carried out by the signalling lcore */
struct cr_ctl_req {
	char call_id[CR_CALL_ID_LEN];
	int action;
	int result;
	int done;
};

int
cr_engine_control(struct cr_engine *e, const char *call_id, int action)
{
	struct cr_ctl_req *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	snprintf(q->call_id, sizeof(q->call_id), "%s", call_id);
	q->action = action;
	if (rte_ring_mp_enqueue(e->ctl_ring, q) != 0) {
		free(q);
		return -EBUSY;
	}
	for (int i = 0; i < 2000; i++) { /* up to 2 s */
		if (__atomic_load_n(&q->done, __ATOMIC_ACQUIRE)) {
			int r = q->result;
			free(q);
			return r;
		}
		usleep(1000);
	}
	/* the signalling lcore still owns q: it frees it when done (result unread) */
	__atomic_store_n(&q->done, -1, __ATOMIC_RELEASE);
	return -ETIMEDOUT;
}

void
cr_engine_drain_control(struct cr_engine *e)
{
	void *o;
	while (rte_ring_sc_dequeue(e->ctl_ring, &o) == 0) {
		struct cr_ctl_req *q = o;
		int r = cr_call_control(e->calls, q->call_id, q->action, CR_REC_SRC_CTL, e->now_ns);
		q->result = r;
		int expect = 0;
		if (!__atomic_compare_exchange_n(&q->done, &expect, 1, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			free(q); /* the requester gave up */
	}
}

struct cr_policy *
cr_engine_swap_policy(struct cr_engine *e, struct cr_policy *p)
{
	return __atomic_exchange_n(&e->policy, p, __ATOMIC_ACQ_REL);
}

void
cr_engine_fates(const struct cr_engine *e, uint64_t fate[CR_FATE_MAX])
{
	memcpy(fate, e->fate, sizeof(uint64_t) * CR_FATE_MAX);
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		for (int i = 0; i < CR_FATE_MAX; i++)
			fate[i] += e->workers[w].fate[i];
	/* packets a worker stored but the disk refused are not recorded */
	uint64_t le = __atomic_load_n(&e->io_lost_error, __ATOMIC_RELAXED);
	uint64_t ln = __atomic_load_n(&e->io_lost_nospace, __ATOMIC_RELAXED);
	fate[CR_FATE_RTP] -= le + ln;
	fate[CR_FATE_STORE_IO_ERROR] += le;
	fate[CR_FATE_STORE_DISK_FULL] += ln;
}

uint64_t
cr_engine_index_lost(const struct cr_engine *e)
{
	uint64_t n = __atomic_load_n(&e->idx_lost_sig, __ATOMIC_RELAXED) +
		     __atomic_load_n(&e->idx_lost_io, __ATOMIC_RELAXED);
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		n += __atomic_load_n(&e->workers[w].idx_lost, __ATOMIC_RELAXED);
	return n;
}

uint64_t
cr_engine_received(const struct cr_engine *e)
{
	uint64_t n = e->rx;
	for (unsigned w = 0; w < e->cfg.n_workers; w++)
		n += __atomic_load_n(&e->workers[w].nic_rx, __ATOMIC_RELAXED);
	return n;
}

void
cr_engine_totals(const struct cr_engine *e, struct cr_engine_totals *t)
{
	memset(t, 0, sizeof(*t));
	uint64_t fate[CR_FATE_MAX];
	cr_engine_fates(e, fate);
	t->rx_packets = cr_engine_received(e);
	for (int i = 0; i < CR_FATE_MAX; i++)
		t->accounted += fate[i];
	t->sip_msgs = fate[CR_FATE_SIP];
	t->rtp_packets = fate[CR_FATE_RTP];
	t->rtcp_packets = fate[CR_FATE_RTCP];
	t->index_lost = cr_engine_index_lost(e);
	for (int i = 0; i < CR_FATE_MAX; i++)
		if (cr_fate_drop[i])
			t->drops += fate[i];
	t->calls = e->idx_calls;
	t->streams = e->idx_streams;
	if (e->cfg.report) {
		FILE *f = e->cfg.report;
		fprintf(f, "received %" PRIu64 " packets, accounted %" PRIu64 "\n", t->rx_packets,
			t->accounted);
		for (int i = 0; i < CR_FATE_MAX; i++)
			if (fate[i])
				fprintf(f, "  %-20s %12" PRIu64 "  %s\n", cr_fate_names[i], fate[i],
					cr_fate_desc[i]);
		for (int i = 1; i < CR_PKT_E_MAX; i++)
			if (e->pkt_err[i])
				fprintf(f, "  pkt.%-16s %12" PRIu64 "  %s\n", cr_pkt_err_token(i),
					e->pkt_err[i], cr_pkt_err_str(i));
		for (int i = 1; i < CR_SIP_E_MAX; i++)
			if (e->sip_err[i])
				fprintf(f, "  sip.%-16s %12" PRIu64 "\n", cr_sip_err_token(i),
					e->sip_err[i]);
		const struct cr_call_stats *cs = cr_call_stats(e->calls);
		for (int i = 1; i < CR_CALL_E_MAX; i++)
			if (cs->drops[i])
				fprintf(f, "  call.%-15s %12" PRIu64 "\n", cr_call_err_token(i),
					cs->drops[i]);
		if (e->calls_skipped)
			fprintf(f, "policy: %" PRIu64 " calls not recorded\n", e->calls_skipped);
		fprintf(f, "calls %" PRIu64 " (records %" PRIu64 "), stream records %" PRIu64
			   ", chunks %" PRIu64 ", index batches %" PRIu64 ", index errors %" PRIu64
			   "\n",
			cs->calls_created, e->idx_calls, e->idx_streams, e->idx_chunks,
			e->idx_batches, e->idx_errors);
		if (t->index_lost)
			fprintf(f, "index: %" PRIu64 " records lost, queue full\n", t->index_lost);
		fprintf(f, "store: %" PRIu64 " segments, %" PRIu64 " blocks, %" PRIu64
			   " bytes in %" PRIu64 " writes, %" PRIu64 " write errors\n",
			e->io_segments, e->io_blocks, e->io_bytes, e->io_writes, e->io_errors);
		uint64_t cap_bytes = 0, cap_direct = 0;
		for (unsigned i = 0; i < e->cfg.n_ports; i++)
			if (e->capin[i]) {
				cap_bytes += cr_capin_size(e->capin[i]);
				cap_direct += cr_capin_direct_bytes(e->capin[i]);
			}
		if (cap_bytes)
			fprintf(f, "capture: %" PRIu64 " bytes, %" PRIu64 " read with O_DIRECT\n",
				cap_bytes, cap_direct);
		struct cr_engine_stages sg;
		cr_engine_stages(e, &sg);
		/* where an import's CPU went, by thread (sizing, regressions) */
		fprintf(f, "cpu ms: rx %.1f, workers %.1f, io %.1f, index %.1f\n", sg.rx_cpu_ns / 1e6,
			sg.worker_cpu_ns / 1e6, sg.io_cpu_ns / 1e6, sg.idx_cpu_ns / 1e6);
	}
}

int
cr_engine_counter(const struct cr_engine *e, const char *name, uint64_t *val)
{
	if (strcmp(name, "rx") == 0) {
		*val = cr_engine_received(e);
		return 0;
	}
	if (strcmp(name, "index_lost") == 0) {
		*val = cr_engine_index_lost(e);
		return 0;
	}
	uint64_t fate[CR_FATE_MAX];
	cr_engine_fates(e, fate);
	for (int i = 0; i < CR_FATE_MAX; i++) {
		if (strcmp(name, cr_fate_names[i]) == 0) {
			*val = fate[i];
			return 0;
		}
	}
	return -ENOENT;
}

void
cr_engine_free(struct cr_engine *e)
{
	if (e == NULL)
		return;
	cr_metrics_telemetry(NULL);
	cr_policy_free(e->policy);
	e->policy = NULL;
	if (!e->at_exit) {
		rte_free(e->rec_state);
		rte_ring_free(e->ctl_ring);
	}
	for (unsigned i = 0; i < e->cfg.n_ports; i++) {
		if (e->cfg.ports[i].capture) {
			cr_capin_close(e->capin[i]);
			continue;
		}
		rte_eth_dev_stop(e->cfg.ports[i].port_id);
		rte_eth_dev_close(e->cfg.ports[i].port_id);
	}
	for (unsigned i = 0; i < e->cfg.n_workers; i++)
		cr_worker_free(&e->workers[i]);
	cr_sig_free(e);
	if (!e->at_exit) {
		rte_ring_free(e->idx_ring);
		rte_ring_free(e->io_ring);
		rte_mempool_free(e->blocks);
		rte_mempool_free(e->msgs);
		rte_mempool_free(e->mbufs);
	}
	cr_index_close(e->idx);
	if (e->lock_fd > 0)
		close(e->lock_fd);
	rte_free(e->workers);
	rte_free(e);
}

void
cr_engine_free_at_exit(struct cr_engine *e)
{
	if (e == NULL)
		return;
	e->at_exit = 1;
	cr_engine_free(e);
}
