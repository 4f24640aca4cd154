/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Call index: calls and their RTP streams in SQLite (WAL journal), written in
 * batched transactions by one index thread, off the packet path; read by the
 * operator tool.
 *
 * Threading: a struct cr_index is used by one thread at a time. Writers (one
 * callrecd) and readers (callrec) may run at once; WAL lets readers see the
 * last committed batch. Errors: int functions return 0 or -errno-like values
 * (-EIO for SQLite errors, with the message in cr_index_errmsg()).
 */
#ifndef CR_INDEX_H
#define CR_INDEX_H

#include <stdint.h>

#include "cr_call.h"

#define CR_STREAM_MAX_DTMF 32

/** One RTP stream as a worker reports it (a snapshot; may be sent again). */
struct cr_stream_rec {
	uint64_t uid;
	uint64_t call_uid; /**< 0: not bound to any call (RTP without signalling) */
	struct cr_addr src, dst;
	uint16_t sport, dport;
	uint32_t ssrc;
	uint8_t side; /**< enum cr_side of the sender */
	uint8_t pt;
	uint8_t n_dtmf;
	uint8_t is_srtp;
	uint32_t clock_rate;
	uint8_t channels; /**< from the SDP rtpmap (1 when absent) */
	char ptmap[120];  /**< "pt name/clock/ch;..." of every PT the SDPs gave the stream */
	char codec[16];
	uint64_t packets, out_of_order, duplicates, payload_bytes;
	int64_t lost;
	double max_jitter_ms, mean_jitter_ms, max_delta_ms, mos;
	int64_t first_ns, last_ns;
	uint64_t rtcp_packets;
	uint64_t store_lost; /**< received but not stored (overload, disk errors) */
	uint64_t jb_discards; /**< late for a simulated 60 ms playout buffer (cr_jb) */
	double silence_pct;   /**< G.711 packets that are silence, %; -1: not measured */
	double r_factor;      /**< G.107 transmission rating R behind mos */
	struct cr_dtmf dtmf[CR_STREAM_MAX_DTMF];
};

/** Where one chunk of a stream is stored. */
struct cr_chunk_rec {
	uint64_t stream_uid, call_uid;
	char segment[96]; /**< path relative to the store */
	uint64_t block_off;
	uint32_t chunk_no; /**< index of the chunk inside its block */
	uint32_t n_pkts;
	int64_t first_ns, last_ns;
};

struct cr_index;

typedef int (*cr_index_chunk_cb)(void *ctx, const struct cr_chunk_rec *c);

enum { CR_INDEX_RO = 0, CR_INDEX_RW = 1 };

/**
 * Open (RW: create) the index at path.
 * @return 0 and *out, or -errno (-ENOENT when RO and missing, -EIO on SQLite error).
 */
int cr_index_open(const char *path, int mode, struct cr_index **out);
void cr_index_close(struct cr_index *idx);
struct cr_fieldkey;
/**
 * Protect personal data (Call-ID, users, URIs) of calls written from now on
 * (fk->mode hash or encrypt), and reveal encrypted ones on reading. A
 * protected value is found only by its exact value. fk must outlive idx.
 */
void cr_index_set_fieldkey(struct cr_index *idx, const struct cr_fieldkey *fk);
/** The field key every index opened from now on starts with (set once, at start). */
void cr_index_set_default_fieldkey(const struct cr_fieldkey *fk);
const char *cr_index_errmsg(const struct cr_index *idx);

/** RW only: a number unique to this writer run, for uid bases (uid = run << 40 | n). */
uint64_t cr_index_run_id(const struct cr_index *idx);

int cr_index_begin(struct cr_index *idx);
int cr_index_commit(struct cr_index *idx);
/** Insert or replace a call snapshot. */
int cr_index_put_call(struct cr_index *idx, const struct cr_call *c);
/** Insert or replace a stream snapshot. */
int cr_index_put_stream(struct cr_index *idx, const struct cr_stream_rec *s);

/** Packets of a stream that the disk refused (they add to its store_lost). */
struct cr_loss_rec {
	uint64_t id; /**< unique per store, so replaying a record is harmless */
	uint64_t stream_uid;
	uint64_t packets;
};
int cr_index_put_loss(struct cr_index *idx, const struct cr_loss_rec *l);

/** Insert a chunk location (a location already present is left as is). */
int cr_index_put_chunk(struct cr_index *idx, const struct cr_chunk_rec *c);
/** Rows a multi-row insert of cr_index_put_chunks() carries */
#define CR_INDEX_CHUNK_ROWS 16
/**
 * cr_index_put_chunk() for n locations, CR_INDEX_CHUNK_ROWS a statement (one
 * VDBE program run, one reset and one step a row fewer). 0 or -EIO; on
 * error some rows may be in (the transaction is the unit).
 */
int cr_index_put_chunks(struct cr_index *idx, const struct cr_chunk_rec *c, uint32_t n);

/*
 * Segments. The segment files are the truth; the index is rebuilt from them
 * (cr_fsck). A segment is CR_SEG_OPEN while written, CR_SEG_SEALED once its
 * footer is durable and every chunk of it is in the index, CR_SEG_FAILED when
 * a write or fsync failed (its unindexed chunks were counted as lost).
 */
enum { CR_SEG_KIND_DATA = 0, CR_SEG_KIND_META = 1 };
enum { CR_SEG_OPEN = 0, CR_SEG_SEALED = 1, CR_SEG_FAILED = 2 };
struct cr_seg_rec {
	char rel[96]; /**< path relative to the store */
	uint8_t kind, state;
	uint8_t rclass; /**< retention class */
	int64_t first_ns, last_ns;
	uint64_t bytes;
};
int cr_index_put_segment(struct cr_index *idx, const struct cr_seg_rec *s);
typedef int (*cr_index_seg_cb)(void *ctx, const struct cr_seg_rec *s);
/** Visit segments ordered by first_ns, rel. */
int cr_index_segments(struct cr_index *idx, cr_index_seg_cb cb, void *ctx);
/** @return the state of a segment, or -ENOENT. */
int cr_index_segment_state(struct cr_index *idx, const char *rel);
/** Remove a segment and the chunk locations in it. */
int cr_index_drop_segment(struct cr_index *idx, const char *rel);
typedef int (*cr_index_uid_cb)(void *ctx, uint64_t uid);
/** Visit the distinct calls that have chunks in a segment. */
int cr_index_segment_calls(struct cr_index *idx, const char *rel, cr_index_uid_cb cb, void *ctx);
/**
 * Delete calls (with their streams and losses) that have no chunk left and
 * ended before cutoff_ns, unless keep(ctx, uid) says otherwise; likewise
 * streams of no call. *n: call rows deleted.
 */
int cr_index_purge_calls(struct cr_index *idx, int64_t cutoff_ns, cr_index_uid_cb keep, void *ctx,
			 uint64_t *n);
/** Visit every chunk location ordered by segment, block, chunk. */
int cr_index_all_chunks(struct cr_index *idx, cr_index_chunk_cb cb, void *ctx);
/** RW: make the next run id larger than run (after a rebuild). */
int cr_index_set_run_floor(struct cr_index *idx, uint64_t run);
/** Allocate the next loss record id (RW). */
uint64_t cr_index_next_loss_id(struct cr_index *idx);

/*
 * Meta records: calls, streams and losses as self-describing text
 * ("kind=...\nkey=value\n..."), written to meta segments before the index
 * commits them, so the whole index can be rebuilt from the store alone.
 * Pure functions, thread-safe.
 */
enum { CR_REC_CALL = 1, CR_REC_STREAM = 2, CR_REC_LOSS = 3 };
/** @return bytes written, -ENOSPC, -EINVAL. rec: struct cr_call / cr_stream_rec / cr_loss_rec. */
int cr_rec_encode(int kind, const void *rec, char *buf, size_t cap);
/** @return the kind decoded into rec (zeroed first), -EINVAL (malformed), -ENOSPC (rec_size). */
int cr_rec_decode(const char *buf, size_t len, void *rec, size_t rec_size);

/** Visit the chunks of a stream in time order. @return 0, cb's non-zero, or -EIO. */
int cr_index_chunks(struct cr_index *idx, uint64_t stream_uid, cr_index_chunk_cb cb, void *ctx);

/** Filters of cr_index_query(); zero/NULL fields do not filter. */
struct cr_index_filter {
	const char *call_id;
	const char *from; /**< matches from_user or from_uri, prefix */
	const char *to;
	int64_t since_ns, until_ns; /**< call start within [since, until] */
};

/** A call row of a query; streams follow in start order. */
struct cr_index_call_row {
	struct cr_call call; /**< ep[] not filled */
	uint64_t n_streams;
	int unsignalled; /**< synthetic row for RTP without signalling */
};

typedef int (*cr_index_call_cb)(void *ctx, const struct cr_index_call_row *row,
				const struct cr_stream_rec *streams, uint32_t n_streams);

/**
 * Visit matching calls ordered by start time, then Call-ID; streams without a
 * call are grouped by endpoint pair into synthetic "unsignalled" rows after
 * them (when the filter has no call_id/from/to).
 * @return 0, a non-zero value returned by cb, or -EIO.
 */
int cr_index_query(struct cr_index *idx, const struct cr_index_filter *f, cr_index_call_cb cb,
		   void *ctx);

#endif /* CR_INDEX_H */
