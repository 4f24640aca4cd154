/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Segment store format: lossless wire frames of RTP streams.
 *
 *  segment = header (64 B) | block* | footer (when sealed) | trailer (16 B)
 *  block   = header (24 B: magic, len, raw_len, CRC32C, n_chunks, flags) |
 *            lz4(chunks), or the chunks as they are when lz4 cannot shrink them
 *  chunk   = header (80 B, one stream: ids, 5-tuple, first seq/ts/time) | packets
 *  packet  = a packet that repeats the predictable fields (seq+1, same ts
 *            step, PT and length, no marker) is 1 byte (2 when jitter is
 *            above 64 us) holding the change of its inter-arrival gap; any
 *            other packet has a flags byte and only the fields that differ;
 *            then the payload. Format: docs/formats.md.
 *
 * A chunk holds a few seconds of one stream, so a call's audio is read
 * without touching other calls' data; the 5-tuple in every chunk lets the
 * index be rebuilt from segments alone. All integers little-endian.
 *
 * Pure functions over caller buffers: no EAL, no allocation, thread-safe.
 * Errors: -ENOSPC (buffer full), -EINVAL (malformed), -EBADMSG (CRC).
 */
#ifndef CR_STORE_H
#define CR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cr_pkt.h"

#define CR_SEG_MAGIC "CRSEG\0\1\0"
#define CR_SEG_HDR_LEN 64
#define CR_BLOCK_MAGIC 0x4b425243u /* "CRBK" */
#define CR_BLOCK_HDR_LEN 24
#define CR_CHUNK_MAGIC 0xC4C7u
#define CR_SEG_TRAILER_MAGIC "CRSEGEND"

struct cr_chunk_hdr {
	uint64_t stream_uid, call_uid;
	struct cr_addr src, dst;
	uint16_t sport, dport;
	uint32_t ssrc;
	uint16_t first_seq;
	uint16_t n_pkts;
	uint32_t first_ts;
	int64_t first_ns;
	uint32_t len; /**< whole chunk, header included */
};

/** Builds one chunk in a caller buffer. */
struct cr_chunk_writer {
	uint8_t *buf;
	uint32_t cap, len;
	uint16_t last_seq;
	uint32_t last_ts;
	int32_t last_dts;
	int64_t last_dt_us;
	uint8_t last_pt;
	uint32_t last_plen;
	int64_t last_ns;
	int64_t first_ns;
	uint16_t n_pkts;
};

/** Start a chunk for the stream described by h (n_pkts/len/first_* are set by add). */
int cr_chunk_begin(struct cr_chunk_writer *w, uint8_t *buf, uint32_t cap,
		   const struct cr_chunk_hdr *h);
/**
 * Append one packet. @return 0, or -ENOSPC (chunk full: finish it and start
 * another; the packet was not added).
 */
int cr_chunk_add(struct cr_chunk_writer *w, uint16_t seq, uint32_t ts, int64_t t_ns,
		 uint8_t marker, uint8_t pt, const uint8_t *payload, uint32_t plen);
/** Set the call a chunk belongs to (streams may bind after their first packet). */
void cr_chunk_set_call(struct cr_chunk_writer *w, uint64_t call_uid);
/** Finish: writes the header fields; @return the chunk length. */
uint32_t cr_chunk_finish(struct cr_chunk_writer *w);

/** One packet read back from a chunk. payload points into the chunk. */
struct cr_frame {
	uint16_t seq;
	uint32_t ts;
	int64_t t_ns;
	uint8_t marker, pt;
	uint32_t plen;
	const uint8_t *payload;
};

struct cr_chunk_reader {
	struct cr_chunk_hdr h;
	const uint8_t *p, *end;
	uint16_t left;
	int32_t last_dts;
	int64_t last_dt_us;
	struct cr_frame cur;
};

/** Parse a chunk header at buf; @return chunk length (>0) or -EINVAL. */
int cr_chunk_open(struct cr_chunk_reader *r, const uint8_t *buf, size_t len);
/** Next packet: 1 and *f, 0 at the end, -EINVAL if malformed. */
int cr_chunk_next(struct cr_chunk_reader *r, struct cr_frame *f);

/**
 * Compress raw chunks into a block (header + lz4 payload).
 * @return block length, or -ENOSPC if out is too small (use cr_block_bound()).
 */
int cr_block_encode(const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks, uint8_t *out,
		    uint32_t out_cap);
uint32_t cr_block_bound(uint32_t raw_len);
/** Validate a block header; @return total block length or -EINVAL. */
int cr_block_peek(const uint8_t *blk, size_t len, uint32_t *raw_len, uint16_t *n_chunks);
/** Verify CRC and decompress; @return raw length, -EBADMSG (CRC), -EINVAL. */
int cr_block_decode(const uint8_t *blk, size_t len, uint8_t *out, uint32_t out_cap);

/** Segment header: fills 64 bytes. */
void cr_seg_header(uint8_t out[CR_SEG_HDR_LEN], uint16_t worker, uint64_t seg_id,
		   int64_t created_ns);
/** @return 0 if a valid segment header, else -EINVAL. */
int cr_seg_header_check(const uint8_t *in, size_t len);

uint32_t cr_crc32c(const void *p, size_t len, uint32_t init);

#endif /* CR_STORE_H */
