/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to lib/engine: shared between the RX/signalling, worker and index
 * parts. Ownership is noted on every field group. */
#ifndef CR_ENGINE_INTERNAL_H
#define CR_ENGINE_INTERNAL_H

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_pause.h>
#include <rte_errno.h>
#include <rte_mbuf_dyn.h>
#include <rte_hash.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "cr_call.h"
#include "cr_engine.h"
#include "cr_index.h"
#include "cr_pkt.h"
#include "cr_rtp.h"
#include "cr_store.h"
#include "cr_mem.h"

extern int cr_engine_logtype;
#define CR_LOG(level, fmt, ...)                                                            \
	rte_log(RTE_LOG_##level, cr_engine_logtype, "callrec: " fmt "\n", ##__VA_ARGS__)

/* Every packet ends in exactly one of these (received = sum). One list drives
 * the enum, the names, the report and which fates lose a packet (1: a drop,
 * counted in drops and reported by callrec-bench). Index records lost to a
 * full queue are not packets: cr_engine_index_lost(). */
#define CR_FATE_LIST(X)                                                                    \
	X(SIP, 0, "SIP message processed")                                                  \
	X(SIP_BAD, 0, "SIP that does not parse")                                            \
	X(SIP_TCP_PENDING, 0, "TCP segment held for SIP stream reassembly")                \
	X(TCP_OTHER, 0, "TCP that is not SIP")                                              \
	X(TCP_DUP, 0, "TCP retransmission of SIP already seen")                            \
	X(SIP_TCP_GAP, 1, "SIP over TCP lost: segment gap, stream resynchronised")         \
	X(NOT_RECORDED, 0, "RTP not recorded: policy skips the call, or stopped/paused on demand") \
	X(STORE_FULL, 1, "RTP not stored: block pool or I/O queue full")                   \
	X(STORE_OVERSIZE, 1, "RTP payload larger than a chunk")                             \
	X(STORE_NOMEM, 1, "RTP not stored: no memory for its stream's chunk buffer")        \
	X(STORE_IO_ERROR, 1, "RTP not stored: segment write or fsync failed")              \
	X(STORE_DISK_FULL, 1, "RTP not stored: file system full or below the free-space guard") \
	X(FRAG_HELD, 0, "IP fragment held for reassembly")                                  \
	X(FRAG_DROP, 1, "IP fragment dropped by reassembly")                                \
	X(RTP, 0, "RTP recorded")                                                           \
	X(RTCP, 0, "RTCP processed")                                                        \
	X(RTP_BAD, 0, "RTP header invalid")                                                 \
	X(UDP_OTHER, 0, "UDP that is neither SIP nor RTP/RTCP")                            \
	X(STREAM_TABLE_FULL, 1, "RTP dropped: worker stream table full")                   \
	X(RING_FULL, 1, "dropped: worker ring full")                                        \
	X(NOT_IP, 0, "not IP (ARP, LLDP, ...)")                                             \
	X(BAD_L2_L4, 0, "malformed or truncated L2-L4 headers")                             \
	X(NOT_UDP_TCP, 0, "IP but neither UDP nor TCP (ICMP, ...)")

enum cr_fate {
#define CR_X(n, d, s) CR_FATE_##n,
	CR_FATE_LIST(CR_X)
#undef CR_X
	CR_FATE_MAX
};
extern const char *const cr_fate_names[CR_FATE_MAX];
extern const char *const cr_fate_desc[CR_FATE_MAX];
extern const uint8_t cr_fate_drop[CR_FATE_MAX];

/* Index thread messages (from an rte_mempool; producer fills, index frees). */
enum { CR_MSG_CALL = 1, CR_MSG_STREAM, CR_MSG_CHUNKS, CR_MSG_LOSS, CR_MSG_SEGMENT };
#define CR_MSG_MAX_CHUNKS 16
struct cr_msg {
	uint32_t type;
	uint32_t n; /* CR_MSG_CHUNKS: records used */
	union {
		struct cr_call call;
		struct cr_stream_rec stream;
		struct cr_chunk_rec chunks[CR_MSG_MAX_CHUNKS];
		struct cr_seg_rec seg;
	};
	uint8_t has_digest; /* CR_MSG_SEGMENT sealed: the writer's digest of the file */
	uint8_t digest[32];
};

/* A compressed block on its way from a worker to the I/O thread. */
#define CR_BATCH_RAW CR_ENGINE_BATCH_BYTES
#define CR_BLOCK_MAX_CHUNKS 512
struct cr_chunk_meta {
	uint64_t stream_uid, call_uid;
	int64_t first_ns, last_ns;
	uint32_t n_pkts;
	uint32_t pool_idx; /* worker-local stream slot, to charge a loss back */
};
/* Quality histogram buckets (upper bounds; one more bucket for +Inf). */
#define CR_MOS_BUCKETS 7
#define CR_JIT_BUCKETS 7
extern const double cr_mos_le[CR_MOS_BUCKETS], cr_jit_le[CR_JIT_BUCKETS];

/* Raw chunks of a worker's next block, for one retention class. */
#define CR_MAX_RCLASS 8
/* Incompressible traffic (noise, SRTP, G.729/AMR/Opus) costs lz4 a third of
 * a worker for nothing: after a block saved too little, this many blocks of
 * the class are stored as they are before lz4 is tried again, twice as many
 * after each further such block, up to CR_LZ4_SKIP_MAX (64 MiB of a class:
 * at a fixed 16 the tries were still 1.2 % of an import of G.711 noise); a
 * block that saves enough starts over. */
#define CR_LZ4_SKIP_BLOCKS 16
#define CR_LZ4_SKIP_MAX 256

struct cr_block_msg;
struct cr_batch {
	/* the raw chunks are built in a block message after its header room
	 * (cr_batch_raw): stored as they are, the message is sent as is */
	struct cr_block_msg *msg;
	uint32_t len, n;
	uint32_t lz4_skip; /* blocks still to store without trying lz4 */
	uint32_t lz4_rest; /* the last rest given (0: the last try saved enough) */
	uint64_t pkts;
	int64_t first_ns;
	struct cr_chunk_meta meta[CR_BLOCK_MAX_CHUNKS];
};

struct cr_block_msg {
	uint16_t worker;
	uint8_t rclass;
	uint8_t warm; /* faulted in (cr_block_warm) */
	uint16_t n_chunks;
	uint32_t len;
	int64_t first_ns;
	uint64_t pkts;
	struct cr_chunk_meta meta[CR_BLOCK_MAX_CHUNKS];
	uint8_t data[];
};

static inline uint8_t *
cr_batch_raw(const struct cr_batch *bt)
{
	return bt->msg->data + CR_BLOCK_HDR_LEN;
}

/* A chunk kept for look-back. */
struct cr_lb {
	uint8_t *buf;
	uint32_t len, n_pkts;
	int64_t first_ns, last_ns;
};

/* Per-worker stream state: owned by that worker only. */
struct cr_stream_key {
	struct cr_addr src, dst;
	uint16_t sport, dport;
	uint32_t ssrc;
	/* to 48 bytes (zeroed): rte_hash compares 48-byte keys with SSE, a
	 * 40-byte key through memcmp (7 % of a worker at 30,000 streams) */
	uint8_t pad[8];
} __rte_packed;

/* The first CR_STREAM_HOT_LINES cache lines hold what every RTP packet reads
 * or writes (pkt_rtp): the worker prefetches them together after its bulk
 * lookup. With tens of thousands of streams none of this is in cache when a
 * packet arrives, so every field a packet touches outside them is one more
 * serial miss. Everything else (identity, reporting, DTMF, look-back) after. */
#define CR_STREAM_HOT_LINES 6
struct cr_stream {
	uint64_t call_uid;
	uint8_t bound;
	uint8_t skip;	/* its call's policy says: do not record */
	uint8_t held;	/* skipped, kept in memory for an on-demand start (look-back) */
	uint8_t od_rec; /* recorded on demand although the policy skips its call */
	uint8_t cw_open; /* a chunk is being filled */
	uint8_t main_pt; /**< first audio PT seen (255: none yet) */
	uint8_t n_pt;
	uint8_t dirty;
	uint16_t bind_tries;
	uint8_t n_dtmf;
	uint8_t side;
	uint32_t cw_held; /* packets of the open chunk counted NOT_RECORDED while held */
	struct cr_chunk_writer cw;
	int64_t cw_last_ns;
	struct cr_jb jb; /* simulated playout buffer: late packets (quality) */
	uint32_t g711_pkts, silent_pkts; /* every 4th packet: 2^32 is 2.7 years at 50/s */
	struct cr_rtp_stats st;
	struct cr_media_pt pt[CR_MEDIA_MAX_PT]; /* the first ones in the hot lines */
	/* cold */
	struct cr_stream_key key;
	uint64_t uid;
	uint8_t is_srtp;
	uint8_t rclass; /* its call's retention class */
	float mos;	/* as last reported */
	char dtmf_hist[8]; /* its last RFC 4733 digits, for on-demand sequences */
	uint32_t live_pos; /* in the worker's live list */
	struct cr_lb *lb;     /* look-back chunks, oldest first (malloc'd, LB_MAX) */
	uint32_t n_lb;
	uint64_t pt_asked[2]; /* dynamic PTs already looked up again after binding */
	uint64_t rtcp_packets;
	int64_t last_report_ns;
	uint64_t reported_call; /* call_uid + 1 of the last record sent, 0: none yet */
	int64_t last_act_ns; /* last activity hint sent for this stream */
	uint64_t store_lost; /* packets received but not stored (overload, oversize) */
	uint32_t dtmf_last_ts;
	struct cr_dtmf dtmf[CR_STREAM_MAX_DTMF];
} __rte_cache_aligned;
_Static_assert(offsetof(struct cr_stream, pt) + sizeof(struct cr_media_pt) <=
		       CR_STREAM_HOT_LINES * RTE_CACHE_LINE_SIZE,
	       "the hot lines of a stream hold its state and its first payload type");

/* a producer's wait for a pool object (cr_gate_wait below): offline only */
struct cr_gate {
	uint32_t seq;	  /* futex word: bumped by each wake-up */
	uint32_t waiters; /* producers inside cr_gate_wait */
	unsigned want;	  /* free objects worth waking for */
	const struct rte_mempool *mp;
};

/* a consumer thread's wake-up (cr_bell_idle below): armed offline only */
struct cr_bell {
	int sleeping;
	unsigned want;		   /* entries worth waking for */
	const struct rte_ring *ring; /* NULL: live, the consumer polls */
	const volatile int *stop;
};

struct cr_worker {
	unsigned id;
	unsigned lcore; /* where it runs (cr_engine_create; an inline worker: the main lcore's) */
	struct cr_engine *e;
	struct rte_ring *ring;	 /* RX -> worker, SP/SC */
	struct cr_bell bell;	 /* offline: the worker sleeps while its ring is empty */
	struct rte_hash *streams; /* private: key -> index in pool */
	struct cr_stream *pool;
	uint32_t *free_idx;
	uint32_t n_free;
	uint32_t *live;	/* pool indices of the streams in the table (ticks walk them) */
	uint32_t n_live;
	uint64_t next_uid;
	int64_t now_ns; /* packet time from ticks */
	uint64_t fate[CR_FATE_MAX];
	uint64_t idx_lost; /* index records lost: queue full (live) */
	uint64_t rx;
	uint64_t busy_cycles, idle_cycles;
	uint64_t lz4_cycles; /* inside busy: compressing blocks (per block, not per packet) */
	uint64_t blocks_raw; /* stored without an lz4 attempt (CR_LZ4_SKIP_BLOCKS) */
	uint64_t cpu_ns;     /* CPU time of this worker's run (thread clock: not time descheduled) */
	uint64_t cpu0;	     /* thread clock at cr_worker_start() */
	uint8_t *scratch;    /* a multi-segment packet read whole (rte_malloc) */
	uint64_t done_objs; /* ring entries fully processed (read by main lcore) */
	struct rte_ring *act; /* worker -> main: media activity hints (call uid, time) */
	struct rte_ring *to_main; /* run to completion: what the signalling owner needs */
	uint64_t nic_rx;	  /* run to completion: packets this worker received */
	int rx_quiet;		  /* run to completion: stopped polling (after rx_stop) */
	/* chunk buffers: stream slot i's is chunk i % slab_chunks of slab i /
	 * slab_chunks; slabs are mapped at start (cfg.prefault) or when a slot
	 * of theirs first opens a chunk, each used whole (cr_mem_dense) */
	uint8_t **chunk_slab;
	unsigned slab_chunks, n_slabs;
	size_t slab_bytes;
	size_t pool_bytes; /* the stream pool, mmap'd (huge pages where allowed) */
	uint64_t blocks_emitted;
	uint64_t digits_lost; /* on-demand DTMF hints the owner did not get (ring full) */
	/* call quality of the streams that ended: MOS and mean jitter (ms) */
	uint64_t mos_hist[CR_MOS_BUCKETS + 1], jit_hist[CR_JIT_BUCKETS + 1];
	double mos_sum, jit_sum;
	uint64_t streams_ended;
	/* one batch per retention class: classes never share a block or segment */
	struct cr_batch batch[CR_MAX_RCLASS];
} __rte_cache_aligned;

/* TCP SIP reassembly: a few connections, owned by the main lcore. */
#define CR_TCP_CONNS 256
#define CR_TCP_BUF 32768
struct cr_tcp_conn {
	struct cr_addr src, dst;
	uint16_t sport, dport;
	uint8_t used;
	uint32_t next_seq;
	uint32_t len;
	int64_t last_ns;
	char *buf;
};

#define CR_UNPUB_MAX 65536
struct cr_unpub {
	struct cr_addr addr;
	uint16_t port;
	uint64_t call_uid;
	int64_t t_ns;
};

/* CR_MSG_SEGMENT state: the writer removed the file (nothing durable in it) */
#define CR_SEG_GONE 255

enum { CR_IO_ALARM_NONE = 0, CR_IO_ALARM_DISK_FULL, CR_IO_ALARM_IO_ERROR };

struct cr_engine {
	struct cr_engine_cfg cfg;
	int lock_fd; /* flock on STORE/.lock while the engine lives */
	struct cr_policy *policy; /* current recording policy (NULL: record all); swapped on reload */
	/* Recording state of live calls, written by the signalling owner (and by a
	 * worker that sees an on-demand DTMF sequence first), read by workers per
	 * packet: uid << 3 | ondemand << 2 | on. A slot of another uid means "no
	 * state": the stream's binding decides. */
	uint64_t *rec_state;
	uint64_t rec_mask;
	struct rte_ring *ctl_ring; /* cr_engine_control() -> signalling lcore */
	uint64_t calls_skipped;
	uint64_t recovered_segments;
	volatile int stop;
	volatile int eof; /* set by RX after the last enqueue */
	struct rte_mempool *mbufs;
	struct rte_mempool *msgs;
	struct rte_ring *idx_ring; /* MP/SC to the index thread */
	struct rte_hash *media;	   /* lock-free, written by main only */
	struct cr_media_entry *media_slab; /* media_entries, used in order, then recycled */
	uint32_t *media_free, n_media_free, media_fresh;
	struct rte_rcu_qsbr *qsbr;
	struct cr_index *idx;
	uint64_t uid_base;
	int ts_off;		/* mbuf timestamp dynfield offset */
	int l4_off;		/* struct cr_l4info dynfield offset */
	uint64_t ts_flag;
	/* main lcore (RX + signalling) */
	struct cr_call_tracker *calls;
	/* IP reassembly: made at start live (a recorder's memory is fixed
	 * then), at the first fragment offline (most captures hold none; its
	 * 4 MB of hugepages the kernel zeroes were 1 ms of every import) */
	struct rte_ip_frag_tbl *frag_tbl;
	struct rte_ip_frag_death_row frag_dr;
	struct cr_tcp_conn tcp[CR_TCP_CONNS];
	uint64_t fate[CR_FATE_MAX];
	/* index records lost, queue full (live), each counted by one thread:
	 * the signalling lcore's and the I/O thread's */
	uint64_t idx_lost_sig, idx_lost_io;
	uint64_t pkt_err[CR_PKT_E_MAX];
	uint64_t sip_err[16];
	uint64_t rx;
	uint64_t media_full; /* SDP endpoints not published: media table full */
	struct cr_unpub *unpub; /* FIFO of endpoints waiting for workers to pass them */
	uint64_t unpub_head, unpub_tail, unpub_early;
	int64_t now_ns;
	int64_t last_tick_ns;
	uint8_t *scratch; /* 64 KiB for reassembled/segmented packets */
	/* I/O thread: segments */
	struct rte_mempool *blocks;
	struct rte_ring *io_ring;
	pthread_t io_thread;
	volatile int io_stop;
	struct cr_bell io_bell; /* offline: blocks to write (cr_bell) */
	struct cr_gate blocks_gate; /* offline: free blocks for a waiting worker */
	uint64_t io_blocks, io_bytes, io_writes, io_errors, io_segments;
	uint64_t io_lost_error, io_lost_nospace; /* packets workers stored, the disk refused */
	uint64_t io_write_calls;
	int io_alarm; /* CR_IO_ALARM_*: raised once per episode, cleared by a good write */
	/* index thread */
	pthread_t idx_thread;
	volatile int idx_stop;
	struct cr_bell idx_bell; /* offline: messages to index */
	uint64_t idx_calls, idx_streams, idx_chunks, idx_batches, idx_errors;
	uint64_t idx_meta_errors; /* records the meta segments could not keep */
	uint64_t manifest_errors;  /* manifest lines that could not be written */
	uint64_t rx_busy_cycles, rx_idle_cycles; /* RX/signalling lcore, by burst */
	uint64_t rx_cpu_ns, io_cpu_ns, idx_cpu_ns; /* thread CPU time of each stage's run */
	uint64_t ring_drops[CR_ENGINE_MAX_WORKERS]; /* RING_FULL by worker ring */
	uint64_t io_busy_cycles;		 /* I/O thread: encrypt, stage, write, fsync */
	uint64_t manifest_lines;   /* number of the last line written */
	int idx_failed;		  /* a commit failed: segments are left for recovery */
	int idx_err;
	struct cr_worker *workers; /* n_workers of them */
	struct cr_capin *capin[CR_ENGINE_MAX_PORTS]; /* offline capture files (else NULL) */
	int at_exit; /* cr_engine_free_at_exit(): pools are left to EAL */
	int rss;     /* run to completion: worker i polls queue i of every port */
	/* every port is a capture file: an import (an offline port, like the
	 * bench's, is the live pipeline with back-pressure instead of drops) */
	int import;
	int inline_worker; /* an import with one worker: the main lcore runs it (cr_engine_run) */
	int rx_stop; /* run to completion: workers stop polling the ports */
	struct steer *rx_steer; /* the RX loop's worker buffers (during cr_engine_run) */
	int synced;		/* offline: workers caught up for the current SIP message */
	uint64_t capture_errors; /* capture files that ended in a corrupt or cut record */
};

/* An offline engine on EAL's 4 KiB pages: its pools are in process memory
 * (cr_engine.c, pool_populate) */
static inline int
cr_offline_small_pages(const struct cr_engine *e)
{
	return e->cfg.offline && !rte_eal_has_hugepages();
}

/* A block message about to be filled: offline on 4 KiB pages, its pages in
 * one call the first time (a fault a page cost ~14 us in a VM: 4,600 of
 * them in a 200-call import); messages never used are never touched. */
static inline void
cr_block_warm(const struct cr_engine *e, struct cr_block_msg *b)
{
	if (!b->warm && cr_offline_small_pages(e)) {
		cr_mem_prefault(b, e->blocks->elt_size);
		b->warm = 1;
	}
}

/* What the RX lcore's parse found, for the worker that gets the packet (an
 * mbuf dynfield): it need not parse L2-L4 again. valid = 0: parse. */
struct cr_l4info {
	uint16_t l3_off;
	uint16_t payload_off;
	uint16_t payload_len;
	uint8_t ip_ver;
	uint8_t valid;
};

/* Wall-clock ns (TSC-based; the base is set in cr_engine_create). */
int64_t cr_live_now(void);
/* A received packet's time in ns, written back to its timestamp field, and
 * its port index (hash.usr) for the parse: live ports take now (the
 * caller's clock reading), capture ports their timestamp in the port's unit. */
static inline int64_t
cr_rx_stamp(const struct cr_engine *e, struct rte_mbuf *m, unsigned pi, int64_t now)
{
	uint64_t *ts = RTE_MBUF_DYNFIELD(m, e->ts_off, uint64_t *);
	int mode = e->cfg.ports[pi].ts_mode;
	int64_t t = mode == CR_TS_PCAP_US ? (int64_t)*ts * 1000
		    : mode == CR_TS_MBUF_NS ? (int64_t)*ts : now;
	*ts = (uint64_t)t;
	m->hash.usr = pi;
	return t;
}
/* Run to completion: 1 if the worker that received m processes it (media;
 * its L2-L4 result left in the l4info dynfield), 0 if the main lcore must
 * (SIP, TCP, fragments, chains, what does not parse). */
int cr_rx_media_local(const struct cr_engine *e, struct rte_mbuf *m);
/* Packets received on every port: by the RX lcore and, run to completion,
 * by the workers. */
uint64_t cr_engine_received(const struct cr_engine *e);

/* Offline waits (a file can wait, never drop): a short spin, then the core is
 * given away. An import is judged by its CPU time, and on a machine with
 * fewer cores than threads a spin takes the CPU the awaited thread needs
 * (at 30,000 streams half a worker's samples were such a spin). */
static inline void
cr_offline_backoff(unsigned spins)
{
	if (spins < 64)
		rte_pause();
	else
		usleep(20);
}

/*
 * Offline wake-ups of the I/O and index threads. Polling every 1-2 ms woke
 * each of them some 300 times an import, and in a VM a wake-up costs tens of
 * microseconds of the woken thread's CPU time (a sixth of the index thread's
 * and a third of the I/O thread's samples were the switch back in). Offline,
 * an idle consumer sleeps on a futex until its ring holds `want` entries
 * (half the blocks, a quarter of the messages), a producer waits for a free
 * one (cr_offline_backoff's callers ring first), the stop flag is set, or a
 * timeout passes. Live recorders keep polling: no worker makes a syscall.
 * Dekker-style: the sleeper publishes `sleeping` then rechecks the ring; a
 * producer publishes its entry, fences, then reads `sleeping`.
 */
static inline void
cr_bell_ring(struct cr_bell *b)
{
	if (__atomic_load_n(&b->sleeping, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&b->sleeping, 0, __ATOMIC_ACQ_REL))
		syscall(SYS_futex, &b->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* offline: the consumer of ring sleeps until it holds want entries or *stop */
static inline void
cr_bell_arm(struct cr_bell *b, const struct rte_ring *ring, unsigned want, const volatile int *stop)
{
	b->ring = ring;
	b->want = want > 0 ? want : 1;
	b->stop = stop;
}

/* after an enqueue: wake the consumer when its ring holds what it waits for */
static inline void
cr_bell_nudge(struct cr_bell *b)
{
	if (b->ring == NULL)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&b->sleeping, __ATOMIC_RELAXED) && rte_ring_count(b->ring) >= b->want)
		cr_bell_ring(b);
}

/* the consumer found its ring empty: live, a nap of live_us; offline, until
 * the ring holds want entries, stop is set, someone rings, or 50 ms pass */
static inline void
cr_bell_idle(struct cr_bell *b, unsigned live_us)
{
	if (b->ring == NULL) {
		usleep(live_us);
		return;
	}
	__atomic_store_n(&b->sleeping, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* rte_ring_count's loads after it */
	if (rte_ring_count(b->ring) < b->want && !__atomic_load_n(b->stop, __ATOMIC_ACQUIRE)) {
		struct timespec ts = {0, 50 * 1000000L};
		syscall(SYS_futex, &b->sleeping, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
	}
	__atomic_store_n(&b->sleeping, 0, __ATOMIC_RELAXED);
}

/*
 * Offline, a worker out of block buffers waited in cr_offline_backoff's
 * 20 us naps while the I/O thread was behind (its writes waiting for the
 * disk): up to 500 sleeps and wake-ups an import in the test VM's slow
 * phases, each tens of microseconds of CPU. It now sleeps on an eventcount
 * until the I/O thread has put back `want` blocks (a quarter of them), or
 * 5 ms pass (a missed wake-up costs no more). Dekker-style as cr_bell: the
 * waiter announces itself, then checks the pool; the consumer puts, fences,
 * then reads `waiters`.
 */
static inline void
cr_gate_arm(struct cr_gate *g, const struct rte_mempool *mp, unsigned want)
{
	g->mp = mp;
	g->want = want > 0 ? want : 1;
}

static inline void
cr_gate_wait(struct cr_gate *g)
{
	uint32_t s = __atomic_load_n(&g->seq, __ATOMIC_ACQUIRE);
	__atomic_fetch_add(&g->waiters, 1, __ATOMIC_SEQ_CST);
	if (rte_mempool_avail_count(g->mp) < g->want) {
		struct timespec ts = {0, 5 * 1000000L};
		syscall(SYS_futex, &g->seq, FUTEX_WAIT_PRIVATE, s, &ts, NULL, 0);
	}
	__atomic_fetch_sub(&g->waiters, 1, __ATOMIC_RELAXED);
}

/* after putting objects back (any mode: nobody waits live) */
static inline void
cr_gate_put(struct cr_gate *g)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g->waiters, __ATOMIC_RELAXED) && g->mp &&
	    rte_mempool_avail_count(g->mp) >= g->want) {
		__atomic_fetch_add(&g->seq, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &g->seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
	}
}

/* Offline: before the first change workers can see that the current SIP
 * message makes, wait until they processed every packet before it. Every
 * write of the signalling code to state workers read (a media entry that
 * exists, rec_state) must come after this call: offline determinism rests on
 * it. New endpoints need none (their version starts at the message's time). */
void cr_engine_sync_workers(struct cr_engine *e);

/* Capture files read by the engine (cr_capin.c); main lcore only. */
struct cr_capin;
/* direct: read with O_DIRECT (1), through the page cache (0), or by size
 * (-1: from 32 MiB); a file system that refuses O_DIRECT reads through the
 * page cache either way */
int cr_capin_open(const char *path, int direct, struct cr_capin **out, char *err, size_t errlen);
/* Up to n packets into mbufs of mp, packet time (ns) in the ts_off dynfield;
 * 0 when no mbuf is free (nothing read) or the file is done (cr_capin_done) */
uint16_t cr_capin_rx(struct cr_capin *c, struct rte_mempool *mp, int ts_off,
		     struct rte_mbuf **pkts, uint16_t n, uint64_t *errors);
int cr_capin_done(const struct cr_capin *c);
/* 1: packets are copied into the mbufs' own data room (formats libpcap
 * reads); 0: attached to the read buffer (classic pcap, pcapng) */
int cr_capin_copies(const struct cr_capin *c);
long long cr_capin_offset(const struct cr_capin *c);
uint64_t cr_capin_size(const struct cr_capin *c); /* bytes, at open */
uint64_t cr_capin_direct_bytes(const struct cr_capin *c); /* read with O_DIRECT */
/* test knob: the nth direct read completes with EIO (then reads go through
 * the page cache: the same bytes) */
void cr_capin_fault_dio(struct cr_capin *c, unsigned nth);
void cr_capin_close(struct cr_capin *c);
/* Free n mbufs (any thread, like rte_pktmbuf_free_bulk). Those attached to
 * a capture's read ring are detached here, the region's count settled once for a run
 * of its packets instead of with an atomic each (rte_pktmbuf_detach was 4 %
 * of an import); the rest go to rte_pktmbuf_free_bulk. */
void cr_capin_free_bulk(struct rte_mbuf **ms, unsigned n);

/* Media table value: the current announcement of an endpoint and the one it
 * replaced, so a worker that is behind the signalling owner still binds a
 * packet to the call that owned the endpoint at that packet's time. */
struct cr_media_entry {
	struct cr_media_ep cur;
	struct cr_media_ep prev;
	uint8_t has_prev;
};

/* media table keys */
struct cr_media_key {
	struct cr_addr addr;
	uint16_t port;
	uint16_t pad;
} __rte_packed;

/* worker side */
int cr_worker_main(void *arg); /* a worker lcore: its ring until eof */
/* The same work run by another thread (offline imports with one worker run
 * it on the main lcore, cr_engine.c): start on that thread, consume ring
 * entries in order, finish once after the last. */
void cr_worker_start(struct cr_worker *w);
void cr_worker_consume(struct cr_worker *w, void **objs, unsigned n);
void cr_worker_finish(struct cr_worker *w);
int cr_worker_init(struct cr_engine *e, struct cr_worker *w, unsigned id);
int cr_worker_prefault(void *w); /* lcore function: fault in pool and chunk slabs */
uint8_t *cr_worker_chunk_slab(struct cr_worker *w, unsigned slab); /* map it (NULL: no memory) */
void cr_worker_free(struct cr_worker *w);

/* signalling side (main lcore) */
void cr_sig_handle(struct cr_engine *e, struct rte_mbuf *m, const struct cr_pkt *p,
		   const uint8_t *data, size_t len);
void cr_sig_handle_tcp(struct cr_engine *e, const struct cr_pkt *p, const uint8_t *data);
int cr_sig_init(struct cr_engine *e);
int cr_sig_frag_table(struct cr_engine *e); /* 0, or -ENOMEM (signalling lcore) */
/* Remove released endpoints every worker has passed (all: regardless). */
void cr_media_reap(struct cr_engine *e, int all);
void cr_sig_free(struct cr_engine *e);
void cr_media_lookup(struct cr_engine *e, const struct cr_stream_key *k, int64_t t_ns,
		     struct cr_stream *s);

struct cr_activity {
	uint64_t call_uid;
	int64_t t_ns;
	char digit; /* 0: media activity; else an RFC 4733 digit of the call (on-demand) */
};
/* main lcore: apply the workers' media activity hints to the call tracker */
void cr_sig_drain_activity(struct cr_engine *e);

/* I/O thread */
int cr_io_start(struct cr_engine *e);
void cr_io_stop(struct cr_engine *e);
/* worker: store one RTP packet of a stream / close its chunk */
int cr_store_pkt(struct cr_worker *w, struct cr_stream *s, const struct cr_rtp_hdr *h,
		  const uint8_t *rtp, int64_t t);
void cr_store_close_chunk(struct cr_worker *w, struct cr_stream *s);
/* Look-back chunks of a held stream: into the store (keep) or dropped. */
/* keep: started on demand at packet time now_ns: what arrived from
 * now_ns - lookback_ns on is recorded, cut to the packet */
void cr_lookback_release(struct cr_worker *w, struct cr_stream *s, int keep, int64_t now_ns);
void cr_store_tick(struct cr_worker *w, int final);

/* index thread */
int cr_idx_start(struct cr_engine *e);
void cr_idx_stop(struct cr_engine *e);
/* Send a message to the index; offline waits for room, live drops and counts. */
int cr_idx_send(struct cr_engine *e, struct cr_msg *m);
#define CR_REC_ST_ON 1
#define CR_REC_ST_STOP 2 /* off by a stop (only a start ends it), not a pause */
#define CR_REC_ST_ONDEMAND 4
static inline void
cr_rec_state_set(struct cr_engine *e, uint64_t uid, int on, int stop, int ondemand)
{
	__atomic_store_n(&e->rec_state[uid & e->rec_mask],
			 uid << 3 | (uint64_t)(ondemand ? CR_REC_ST_ONDEMAND : 0) |
				 (uint64_t)(stop ? CR_REC_ST_STOP : 0) | (uint64_t)(on ? CR_REC_ST_ON : 0),
			 __ATOMIC_RELEASE);
}
/* @return -1 (no state for uid), else CR_REC_ST_* bits */
static inline int
cr_rec_state_get(const struct cr_engine *e, uint64_t uid)
{
	uint64_t v = __atomic_load_n(&e->rec_state[uid & e->rec_mask], __ATOMIC_ACQUIRE);
	return v >> 3 == (uid & (UINT64_MAX >> 3)) ? (int)(v & 7) : -1;
}

void cr_engine_drain_control(struct cr_engine *e);
/* Publish e (NULL: none) to the /callrec/... telemetry commands. */
void cr_metrics_telemetry(const struct cr_engine *e);

/* Every packet fate summed over the main lcore and the workers, with the
 * packets the disk refused moved from RTP to their STORE_* fate. */
void cr_engine_fates(const struct cr_engine *e, uint64_t fate[CR_FATE_MAX]);
/* index records (calls, streams, chunks, segments) lost to a full message
 * pool or ring (live; imports wait), every thread's */
uint64_t cr_engine_index_lost(const struct cr_engine *e);
/* a counter of one writer thread, readable from any */
static inline void
cr_count(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

#include <time.h>
/* CPU time of the calling thread, ns: unlike the TSC it does not count the
 * time the thread was descheduled (threads sharing a core) */
static inline uint64_t
cr_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
/* Send the stream's record to the index now. */
void cr_worker_report(struct cr_worker *w, struct cr_stream *s);
struct cr_msg *cr_idx_msg_get(struct cr_engine *e);

/* Tagged ring entries: an mbuf pointer, or a tick (packet time, low bit set). */
static inline void *
cr_tick_encode(int64_t ns)
{
	return (void *)(uintptr_t)(((uint64_t)ns << 1) | 1);
}
static inline int
cr_is_tick(const void *p)
{
	return ((uintptr_t)p & 1) != 0;
}
static inline int64_t
cr_tick_decode(const void *p)
{
	return (int64_t)((uintptr_t)p >> 1);
}

static inline int64_t
cr_mbuf_time(const struct cr_engine *e, const struct rte_mbuf *m)
{
	return (int64_t)*RTE_MBUF_DYNFIELD(m, e->ts_off, const uint64_t *);
}

#endif
