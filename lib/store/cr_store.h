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
#include <stdio.h>

#include "cr_crypt.h"
#include "cr_pkt.h"

#define CR_SEG_MAGIC "CRSEG\0\1\0"
#define CR_SEG_HDR_LEN 64
/** An encrypted segment: header, then two key slots (rotation writes one, then clears the other). */
#define CR_SEG_HDR_ENC_LEN (CR_SEG_HDR_LEN + 2 * CR_KSLOT_LEN)
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

/** Bytes a packet's record takes before its payload in the usual case (same
 * PT, length, timestamp step, next sequence): what a writer prefetches. */
#define CR_CHUNK_REC_HDR 2

/** Builds one chunk in a caller buffer. */
struct cr_chunk_writer { /* 64 bytes: a stream's hot lines hold it */
	uint8_t *buf;
	int64_t last_dt_us;
	int64_t last_ns;
	int64_t first_ns;
	uint32_t cap, len;
	uint32_t last_ts;
	int32_t last_dts;
	uint32_t last_plen;
	uint16_t last_seq;
	uint16_t n_pkts;
	uint8_t last_pt;
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
/** The same on a finished chunk's bytes. */
void cr_chunk_set_call_raw(uint8_t *chunk, uint64_t call_uid);
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

/**
 * Keep only the packets that arrived at or after from_ns (look-back cut to
 * the packet): the chunk is re-encoded in place through scratch (cap >= len).
 * @return the new length, 0 if no packet is left, -EINVAL, -ENOSPC.
 */
int cr_chunk_trim(uint8_t *chunk, uint32_t len, int64_t from_ns, uint8_t *scratch, uint32_t cap);
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
/**
 * The same with LZ4's acceleration (1 = default; higher: faster, a little
 * larger; 0: no compression attempt, chunks stored as they are).
 */
int cr_block_encode_x(const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks, uint8_t *out,
		      uint32_t out_cap, int accel);
/**
 * Pieces of cr_block_encode_x() for a writer that builds the raw chunks at
 * out + CR_BLOCK_HDR_LEN of a block buffer, so a block stored as it is needs
 * no copy. cr_block_compress: lz4 of raw into out (another buffer); the
 * block length, 0 when lz4 did not shrink it (out then holds nothing
 * useful), -ENOSPC. cr_block_seal_stored: the header of a block whose raw
 * chunks are in place at blk + CR_BLOCK_HDR_LEN; the block length.
 */
int cr_block_compress(const uint8_t *raw, uint32_t raw_len, uint16_t n_chunks, uint8_t *out,
		      uint32_t out_cap, int accel);
int cr_block_seal_stored(uint8_t *blk, uint32_t raw_len, uint16_t n_chunks);
/** Validate a block header; @return total block length or -EINVAL. */
int cr_block_peek(const uint8_t *blk, size_t len, uint32_t *raw_len, uint16_t *n_chunks);
/** Verify CRC and decompress; @return raw length, -EBADMSG (CRC), -EINVAL. */
int cr_block_decode(const uint8_t *blk, size_t len, uint8_t *out, uint32_t out_cap);

/*
 * Encrypted blocks (flag bit 1): AES-256-GCM under the segment's data key,
 * nonce = the block's offset in its segment, the header as associated data;
 * the 16-byte tag follows the payload and the CRC covers the ciphertext, so
 * damage is found without keys. cr_block_decode refuses them (-ENOKEY).
 */
/** Encrypt a block in place at its segment offset; b needs 16 bytes of room after len. @return new length. */
int cr_block_seal(uint8_t *b, uint32_t len, struct cr_dkey *dk, uint64_t off);
/**
 * Decrypt in place into a plain block (for cr_block_decode). @return its
 * length, -EBADMSG (CRC: damaged), -EKEYREJECTED (tag: wrong key, moved or
 * altered), -EINVAL. A plain block is left as it is.
 */
int cr_block_unseal(uint8_t *b, size_t len, struct cr_dkey *dk, uint64_t off);
int cr_block_is_sealed(const uint8_t *blk);

/** Segment header: fills 64 bytes. */
void cr_seg_header(uint8_t out[CR_SEG_HDR_LEN], uint16_t worker, uint64_t seg_id,
		   int64_t created_ns);
void cr_seg_header_x(uint8_t out[CR_SEG_HDR_LEN], uint16_t worker, uint64_t seg_id,
		     int64_t created_ns, int encrypted);
/** @return 0 if a valid segment header, else -EINVAL. */
int cr_seg_header_check(const uint8_t *in, size_t len);
/** Offset of the first block (64, or 256 with key slots). */
uint32_t cr_seg_hdr_len(const uint8_t *hdr);
int cr_seg_encrypted(const uint8_t *hdr);
/**
 * The data key of an encrypted segment from its key slots (header + slots:
 * CR_SEG_HDR_ENC_LEN bytes). @return 0, -ENOKEY (no master key for any
 * slot), -EKEYREJECTED (slots fail to verify), -EINVAL.
 */
int cr_seg_dkey(const uint8_t *hdr, const struct cr_keyring *kr, struct cr_dkey *dk,
		uint64_t *key_id);
/**
 * Store-wide keyring for readers (walk, export, fsck); set once before any
 * thread reads segments, never changed after. NULL: no keys.
 */
void cr_store_set_keyring(const struct cr_keyring *kr);
const struct cr_keyring *cr_store_keyring(void);

/**
 * CRC32C (Castagnoli) register update: no inversion before or after (as
 * rte_hash_crc). Thread-safe. Buffers of 256 bytes and more are folded with
 * carry-less multiplies where the CPU has VPCLMULQDQ, else three interleaved
 * crc32 lanes.
 */
uint32_t cr_crc32c(const void *p, size_t len, uint32_t init);
/**
 * Tests and benchmarks: use the carry-less fold (enable 1, the default) or
 * not. @return 1 when the CPU has it, else 0 (and it is never used).
 */
int cr_crc32c_fold(int enable);

/*
 * Segment files (cr_segfile.c): POSIX I/O, no EAL; one thread per object.
 */
#define CR_SEGW_BUF (2u << 20) /**< staging: writes go out in 2 MiB, 4 KiB aligned */

/** Writer of one segment file. Zero it and set fd = dfd = -1 before first use. */
struct cr_segw {
	int fd;	 /**< buffered: header, tails, footer */
	int dfd; /**< O_DIRECT, or -1 where the file system refuses it */
	char rel[96];
	char path[4096];
	uint64_t off;	  /**< logical end */
	uint64_t flushed; /**< bytes on disk; the staging buffer starts here */
	uint8_t *wbuf;
	uint32_t wlen;
	uint64_t *blocks; /**< block offsets, for the footer */
	uint32_t n_blocks, cap_blocks;
	const struct cr_keyring *kr; /**< set before open: encrypt with kr->k[0]; NULL: plain */
	struct cr_dkey dk;
	int enc;
	uint32_t hdr_len;
	uint8_t *tmp; /**< for blocks larger than the staging buffer */
	/* SHA-256 of the file as written (key slots left out, as the manifest
	 * wants it), so a sealed segment needs no read-back */
	struct cr_sha256 h;
	int no_digest;	   /**< set before open: no manifest wants the digest, skip it */
	int hashing;
	int digest_ok;	   /**< after a good seal: digest is the file's */
	uint8_t digest[32];
	uint64_t written_off;	 /**< end of what the last write put in the file */
	uint32_t written_blocks; /**< blocks before written_off */
	uint64_t durable_off;	 /**< end of what the last good flush made durable */
	uint32_t durable_blocks; /**< blocks before durable_off */
	int64_t first_ns, last_ns;
};
/** Create store/rel (and its directories; never an existing file), stage the header. */
int cr_segw_open(struct cr_segw *s, const char *store, const char *rel, uint16_t writer,
		 uint64_t seq, int64_t t_ns);
/** Stage a block. -ENOBUFS: flush first (staging full). Other -errno: write failed. */
int cr_segw_append(struct cr_segw *s, const void *blk, uint32_t len, int64_t t_ns);
/** @return bytes a block may have without a flush first. */
static inline uint32_t
cr_segw_room(const struct cr_segw *s)
{
	uint32_t r = CR_SEGW_BUF - s->wlen;
	return s->enc ? (r > CR_GCM_TAG ? r - CR_GCM_TAG : 0) : r;
}
/**
 * Write what is staged and fdatasync: on 0 every appended block is durable.
 * keep_tail keeps an unaligned tail staged (rewritten by the next flush).
 * On error nothing staged since the last good flush may be reported stored.
 */
int cr_segw_flush(struct cr_segw *s, int keep_tail);
/** The write half of cr_segw_flush(): staged bytes to the file, not yet durable. */
int cr_segw_write(struct cr_segw *s, int keep_tail);
/**
 * Only the whole 4 KiB pages of what is staged (O_DIRECT), the rest stays
 * staged; nothing more counts as written (written_off) until cr_segw_write().
 * For a full staging buffer between syncs: writing the partial last page
 * through the page cache each time made the next O_DIRECT write flush and
 * drop that page first (a second device request a write). Where O_DIRECT is
 * not available, the same as cr_segw_write(s, 1).
 */
int cr_segw_write_head(struct cr_segw *s);
/** The sync half: fdatasync; then everything cr_segw_write() wrote is durable. */
int cr_segw_sync(struct cr_segw *s);
/**
 * Flush, write footer and trailer, fdatasync, close. The segment is closed
 * even on error. On 0, digest holds cr_seg_digest() of the file (digest_ok).
 */
int cr_segw_seal(struct cr_segw *s);
/**
 * After a failed write or fsync: cut the file back to what the last good
 * flush made durable and seal that (footer, fdatasync), then close. What was
 * staged after it is gone and must be counted lost by the caller.
 * @return 0, 1 if nothing was durable and the file was removed, or -errno
 * (left unsealed; cr_seg_recover can finish it).
 */
int cr_segw_abort(struct cr_segw *s);
/** Close without sealing. */
void cr_segw_close(struct cr_segw *s);
void cr_segw_free(struct cr_segw *s);
/** Footer + trailer for blocks[] at footer_off into out (12 + 8n + 16 bytes). */
uint32_t cr_seg_footer(uint8_t *out, const uint64_t *blocks, uint32_t n, uint64_t footer_off);

/** What a walk over a segment file found. */
struct cr_seg_walk {
	uint16_t writer;
	uint64_t seq;
	int64_t created_ns;
	uint64_t size;
	int empty;	     /**< shorter than a header: created, never written (crash) */
	int removed;	     /**< cr_seg_recover moved an empty file to quarantine */
	int bad_header;	     /**< not a segment: nothing else is valid */
	int encrypted;
	int no_key;	     /**< encrypted, no key opens it: blocks checked by CRC only */
	int key_rejected;    /**< key slots or a block fail authentication */
	uint64_t key_id;     /**< master key that opened it */
	uint32_t hdr_len;
	int sealed;	     /**< trailer and footer intact */
	int bad_footer;	     /**< a trailer pointing at a damaged footer */
	int footer_mismatch; /**< the footer lists other blocks than the file holds */
	uint32_t blocks, bad_blocks;
	uint64_t chunks;
	uint64_t first_bad;   /**< offset of the first damaged block, 0 if none */
	uint64_t skipped;     /**< bytes skipped between damaged and next good block */
	uint64_t torn_tail;   /**< bytes after the last good block of an unsealed file */
	uint64_t valid_end;   /**< end of the last block that verifies */
	uint64_t quarantined; /**< cr_seg_recover: tail bytes moved aside */
};
/**
 * Called for every block that verifies, with its decompressed chunks; raw is
 * NULL for an encrypted block no key opens (verified by CRC only). Non-zero stops.
 */
typedef int (*cr_seg_block_cb)(void *ctx, uint64_t off, const uint8_t *raw, uint32_t raw_len,
			       uint16_t n_chunks);
/**
 * Verify every block of a segment file (CRC, lz4), in order. A sealed file is
 * read by its footer, so a damaged block costs only itself; an unsealed file
 * is resynchronised at the next block that verifies.
 * @return 0 (see *w), -errno if the file cannot be read, or cb's value.
 */
int cr_seg_walk(const char *path, cr_seg_block_cb cb, void *ctx, struct cr_seg_walk *w);
/**
 * Seal an unsealed segment after a crash: the bytes after its last good block
 * are copied to quarantine_path, then cut, and a footer listing the good
 * blocks is written (fdatasync). A sealed file is left as is.
 * @return 0, -EINVAL (not a segment), -errno.
 */
int cr_seg_recover(const char *path, const char *quarantine_path, struct cr_seg_walk *w);

/**
 * Visit every *.seg file under STORE/segments (any depth), with its path
 * relative to the store. Non-zero from cb stops. @return 0 (also without a
 * segments directory), cb's value, or -errno.
 */
typedef int (*cr_seg_file_cb)(void *ctx, const char *path, const char *rel);
int cr_store_each_segment(const char *store, cr_seg_file_cb cb, void *ctx);
/** mkdir -p of every directory in path up to its last '/' (mode 0750). @return 0 or -errno. */
int cr_mkdirs(const char *path);
/**
 * Room for one more element in a growing array: *arr holds n of cap
 * elements of elem bytes; when full it doubles (first: the initial cap).
 * @return 0 or -ENOMEM (the array is left as it was).
 */
int cr_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);

/*
 * Meta chunks: index records (text, cr_rec_encode) carried in blocks next to
 * nothing else, in meta segments. Header: magic 0xC4C8 u16, version u8 (1),
 * header length u8 (8), total length u32; then the record.
 */
#define CR_META_MAGIC 0xC4C8u
#define CR_META_HDR_LEN 8
/** @return the chunk length, or -ENOSPC. */
int cr_meta_chunk_put(uint8_t *buf, size_t cap, const void *rec, uint32_t len);
/** @return the chunk length (>0) with the record in rec and rec_len, or -EINVAL. */
int cr_meta_chunk_open(const uint8_t *buf, size_t len, const uint8_t **rec, uint32_t *rec_len);
/** @return 1 if buf starts a data chunk, 2 a meta chunk, 0 neither. */
int cr_chunk_kind(const uint8_t *buf, size_t len);

/*
 * Store keys (cr_keys.c). STORE/index.key holds the secret of the index's
 * field protection, wrapped like a segment's data key (64-byte header "CRIDXKEY"
 * as associated data, two key slots).
 */
/**
 * Read the index secret and its protection mode (enum cr_pii_mode), or make
 * one with mode create when there is none (create 0: do not). The mode is
 * fixed when the store's secret is made. @return 0, -ENOENT (none and not
 * create), -ENOKEY, -EKEYREJECTED, -errno; err in words.
 */
int cr_store_index_secret(const char *store, const struct cr_keyring *kr, int create,
			  uint8_t secret[32], int *mode, char *err, size_t errlen);

struct cr_rotate_report {
	uint64_t files;	    /**< encrypted segments and index.key seen */
	uint64_t rewrapped; /**< now wrapped by the new key */
	uint64_t already;   /**< were already */
	uint64_t failed;    /**< no key of kr opens them, or a write failed */
};
/**
 * Re-wrap every data key (and the index secret) with kr->k[0], which must be
 * the new key; the others open the old wrappings. Crash-safe: the new wrapping
 * goes to the free slot and is made durable before the old one is cleared.
 * Audio is not re-encrypted.
 */
int cr_store_rotate(const char *store, const struct cr_keyring *kr, struct cr_rotate_report *r,
		    FILE *log);
/**
 * Crypto-erasure: overwrite an encrypted segment's key slots with zeros and
 * fdatasync (before it is unlinked): its blocks can then never be decrypted,
 * even from a copy of the file. A plain segment is left as it is. @return 0, -errno.
 */
int cr_seg_shred_keys(const char *path);

#endif /* CR_STORE_H */
