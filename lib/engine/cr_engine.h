/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The recording pipeline on DPDK: RX/steer on the main lcore (which is also
 * the signalling owner), N worker lcores that own RTP streams, a media table
 * (lock-free rte_hash + RCU) that the signalling owner writes and workers read,
 * and an index thread that batches call and stream records into SQLite.
 *
 *   ports --rx_burst--> main lcore: parse, SIP -> call tracker -> media table
 *                          | RTP/RTCP: symmetric flow hash
 *                          v
 *              rte_ring per worker --> worker lcore: streams, stats, binding
 *                                          |
 *              index ring (MP/SC) <--------+---- call snapshots from main
 *                          v
 *                     index thread (SQLite, batched)
 *
 * Threading: cr_engine_run() runs on the main lcore and launches the workers;
 * cr_engine_stop() may be called from a signal handler. Everything else is
 * single-threaded set-up/tear-down. Errors: int functions return 0 or -errno;
 * cr_engine_create() returns NULL with errno set.
 */
#ifndef CR_ENGINE_H
#define CR_ENGINE_H

#include <stdint.h>
#include <stdio.h>

struct cr_keyring;
struct cr_fieldkey;
struct cr_signer;

#define CR_ENGINE_MAX_PORTS 16
#define CR_ENGINE_MAX_WORKERS 64
/** raw chunk bytes a worker batches into one block (one block message) */
#define CR_ENGINE_BATCH_BYTES (256u * 1024)

/** Where a port's packet time comes from. */
enum cr_ts_mode {
	CR_TS_LIVE = 0,	 /**< receive time from the TSC, as wall-clock ns */
	CR_TS_PCAP_US,	 /**< rx timestamp field in microseconds (pcap PMD) */
	CR_TS_MBUF_NS,	 /**< rx timestamp field already in ns (injection, NIC PTP) */
};

struct cr_engine_port {
	uint16_t port_id;
	int linktype;		/**< enum cr_linktype */
	int ts_mode;		/**< enum cr_ts_mode */
	uint64_t expect_pkts;	/**< offline ethdev: packets in the file (end detection) */
	const char *capture;	/**< offline: a pcap/pcapng file the engine reads itself
				     (no ethdev; port_id is only a label; ns timestamps) */
	const char *name;	/**< for messages */
};

struct cr_engine_cfg {
	unsigned n_workers;
	unsigned n_ports;
	struct cr_engine_port ports[CR_ENGINE_MAX_PORTS];
	const char *store_dir;
	int offline;		  /**< 1: replay files; back-pressure instead of drops */
	int capture_direct;	  /**< capture files read with O_DIRECT: 1 yes, 0 no,
				       -1 (default) from 32 MiB on; a file system that
				       refuses it is read through the page cache */
	unsigned ring_size;	  /**< per-worker ring (power of two) */
	unsigned nb_mbufs;	  /**< mbuf pool size */
	unsigned nb_rxd;	  /**< RX descriptors per queue */
	unsigned rx_queues;	  /**< live: 0/1 one queue a port, steered by the main lcore;
				       n_workers: run to completion, worker i polls queue i
				       of every port (RSS with a symmetric key where the
				       device has it) and hands the main lcore only what
				       the signalling owner needs */
	int rss_off;		  /**< several queues without asking the device for RSS */
	int promiscuous;	  /**< receive every frame the copy port sees (default 1) */
	unsigned max_streams;	  /**< per worker */
	int prefault;		  /**< 1 (default): each worker's stream state and chunk
				       buffers (max_streams of each) are faulted in at
				       create, on the worker's lcore, not by the first
				       packets; offline imports, sized to the capture,
				       touch them as streams come (0) */
	unsigned nb_msgs;	  /**< index messages in flight (a pool; offline imports wait) */
	unsigned chunk_cap;	  /**< bytes of one chunk (about a second of G.711) */
	unsigned nb_blocks;	  /**< compressed blocks in flight to the I/O thread (each
				       holds up to CR_ENGINE_BATCH_BYTES of chunks) */
	uint64_t seg_max_bytes;	  /**< rotate a segment beyond this size */
	unsigned fault_block_every; /**< test knob: every Nth block fails to store (0: off) */
	unsigned fault_write_every; /**< test knob: every Nth segment write fails (0: off) */
	int fault_write_errno;	    /**< ... with this errno (EIO, ENOSPC) */
	unsigned fault_slabs;	    /**< test knob: a worker maps at most this many chunk slabs (0: off) */
	unsigned fault_dio;	    /**< test knob: the Nth direct read of a capture fails, EIO (0: off) */
	uint64_t min_free_bytes;    /**< emergency guard: no new segment below this free space */
	struct cr_policy *policy;   /**< recording policy; the engine takes ownership (NULL: record all) */
	const char *rec_header;	    /**< on-demand SIP header (default "X-Record"; NULL: none) */
	const char *dtmf_seq[5];    /**< on-demand DTMF sequences by enum cr_rec_action */
	int64_t lookback_ns;	    /**< keep this much of a skipped call for an on-demand start */
	const struct cr_keyring *keyring;   /**< encrypt segments (NULL: plain); caller keeps it */
	const struct cr_fieldkey *fieldkey; /**< protect index fields (NULL: plain) */
	int manifest;		 /**< chain sealed segments in STORE/manifest.log */
	int lz4_accel;		 /**< LZ4 acceleration of blocks (1 default, 0 none) */
	/** a block lz4 shrinks by less than this (percent) is stored as it is, and
	 * the class's next CR_LZ4_SKIP_BLOCKS blocks are not tried (0: always try) */
	unsigned lz4_min_saving;
	struct cr_signer *signer; /**< signs its lines (NULL: unsigned); caller keeps it */
	unsigned max_calls;
	unsigned media_entries;	  /**< media table capacity */
	int64_t rtp_timeout_ns;	  /**< stream ends after this inactivity */
	int64_t setup_timeout_ns; /**< call not answered within: timeout */
	int64_t session_timeout_ns;
	uint16_t sip_ports[4];	  /**< TCP/UDP ports always treated as SIP */
	int progress;		  /**< print progress to stderr (terminal) */
	FILE *report;		  /**< final counters are printed here (NULL: none) */
};

/** Fill a configuration with defaults. */
void cr_engine_cfg_defaults(struct cr_engine_cfg *cfg);

struct cr_engine;

/**
 * Create the pipeline: mempools, rings, media table, index, and configure and
 * start the ports. EAL must be initialised with at least n_workers + 1 lcores.
 */
struct cr_engine *cr_engine_create(const struct cr_engine_cfg *cfg);

/**
 * Run until cr_engine_stop() (live) or every port reached its expected packet
 * count (offline); then drain, flush streams and calls, commit the index.
 * @return 0, or -errno if the index could not be written.
 */
int cr_engine_run(struct cr_engine *e);

/** Ask a running engine to stop (async-signal-safe). */
void cr_engine_stop(struct cr_engine *e);

/** Stop ports, free everything. */
void cr_engine_free(struct cr_engine *e);

/**
 * As cr_engine_free(), for a process about to call rte_eal_cleanup() and
 * exit: DPDK memory (pools, rings, tables) is left to EAL, because freeing
 * zeroes it (0.1 CPU-second of every import went there).
 */
void cr_engine_free_at_exit(struct cr_engine *e);

/** Counter totals, for tests and reports. */
struct cr_engine_totals {
	uint64_t rx_packets, accounted, sip_msgs, rtp_packets, rtcp_packets;
	uint64_t drops;	     /**< packets lost, every reason (the drop fates) */
	uint64_t index_lost; /**< index records lost to a full queue (live) */
	uint64_t calls, streams;
};
void cr_engine_totals(const struct cr_engine *e, struct cr_engine_totals *t);

/** Where the cycles went, by stage (for benchmarks; read after cr_engine_run). */
struct cr_engine_stages {
	uint64_t tsc_hz;
	uint64_t rx_packets, rx_busy_cycles, rx_idle_cycles;	      /**< classify + steer */
	uint64_t worker_packets, worker_busy_cycles, worker_idle_cycles; /**< summed over workers */
	uint64_t worker_lz4_cycles;				      /**< part of worker busy */
	uint64_t io_busy_cycles; /**< encrypt, stage, write, fdatasync */
	/* CPU time by thread clock (not counting time descheduled): */
	uint64_t rx_cpu_ns, worker_cpu_ns, io_cpu_ns, idx_cpu_ns;
	/** memory one stream slot costs (state, chunk buffer, hash entry): the
	 * configured bound, max_streams of them per worker */
	uint64_t mem_per_stream_bytes;
};
void cr_engine_stages(const struct cr_engine *e, struct cr_engine_stages *s);

/**
 * One counter by name, summed over the main lcore and every worker: a packet
 * fate ("RTP", "RING_FULL", ...; see the report), "rx" or "index_lost"
 * (index records lost to a full queue).
 * @return 0, or -ENOENT for an unknown name.
 */
int cr_engine_counter(const struct cr_engine *e, const char *name, uint64_t *val);

/** The i-th fate that loses packets (a drop: "STORE_FULL", "RING_FULL", ...),
 * NULL past the last: what a report lists as drops by reason. */
const char *cr_engine_drop_name(unsigned i);

/**
 * On demand: start, stop, pause or resume recording the call with this
 * Call-ID (enum cr_rec_action). Any thread; the signalling lcore applies it
 * within a millisecond or so. @return 1 changed, 0 already so, -ENOENT no
 * such call in progress, -EPERM its policy forbids it, -ETIMEDOUT.
 */
int cr_engine_control(struct cr_engine *e, const char *call_id, int action);

/**
 * Replace the recording policy (ownership passes to the engine); calls that
 * start afterwards use it. @return the previous one: the caller frees it once
 * the signalling lcore cannot be inside it (any later moment: a decision takes
 * microseconds).
 */
struct cr_policy *cr_engine_swap_policy(struct cr_engine *e, struct cr_policy *p);

/**
 * Write every metric in the Prometheus text format (0.0.4): packets by fate,
 * port and worker counters, calls, store, index and call-quality histograms.
 * Safe from any thread while the engine runs. @return 0 or -EIO.
 */
int cr_engine_metrics(const struct cr_engine *e, FILE *f);

#endif /* CR_ENGINE_H */
