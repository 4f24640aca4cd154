/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "cr_store.h"
#include "cr_test.h"

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int
main(void)
{
	static uint8_t chunk[8192], raw[65536], blk[70000], out[65536];
	struct cr_chunk_hdr h = {.stream_uid = 77, .call_uid = 5, .sport = 4000, .dport = 5000,
				 .ssrc = 0x1234};
	cr_addr_parse(&h.src, "10.0.0.1", 8);
	cr_addr_parse(&h.dst, "2001:db8::2", 11);
	struct cr_chunk_writer w;
	CHECK_EQ(cr_chunk_begin(&w, chunk, sizeof(chunk), &h), 0);
	uint8_t pl[160];
	int n = 0;
	int64_t t0 = 1700000000123456000LL;
	for (;; n++) {
		for (int i = 0; i < 160; i++)
			pl[i] = (uint8_t)(i * 7 + n);
		/* wrap seq and ts, jitter the arrival, marker on the first */
		int r = cr_chunk_add(&w, (uint16_t)(65530 + n), 0xfffffe00u + (uint32_t)n * 160,
				     t0 + n * 20000000LL + (n % 3) * 1000, n == 0, n % 5 ? 0 : 101, pl,
				     n % 5 ? 160 : 4);
		if (r == -ENOSPC)
			break;
		CHECK_EQ(r, 0);
	}
	CHECK(n > 40);
	uint32_t clen = cr_chunk_finish(&w);
	/* read back exactly */
	struct cr_chunk_reader rd;
	CHECK_EQ(cr_chunk_open(&rd, chunk, clen), (int)clen);
	CHECK_EQ(rd.h.stream_uid, 77);
	CHECK_EQ(rd.h.n_pkts, n);
	CHECK_EQ(rd.h.dport, 5000);
	struct cr_frame f;
	int k = 0;
	while (cr_chunk_next(&rd, &f) == 1) {
		CHECK_EQ(f.seq, (uint16_t)(65530 + k));
		CHECK_EQ(f.ts, 0xfffffe00u + (uint32_t)k * 160);
		CHECK_EQ(f.t_ns, t0 + k * 20000000LL + (k % 3) * 1000);
		CHECK_EQ(f.marker, k == 0);
		CHECK_EQ(f.pt, k % 5 ? 0 : 101);
		CHECK_EQ(f.plen, k % 5 ? 160 : 4);
		CHECK_EQ(f.payload[1], (uint8_t)(7 + k));
		k++;
	}
	CHECK_EQ(k, n);
	/* every truncation of a chunk is rejected or reads fewer packets, never past the end */
	for (uint32_t cut = 0; cut < clen; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, chunk, cut);
		if (cr_chunk_open(&rd, c, cut) > 0)
			while (cr_chunk_next(&rd, &f) == 1)
				;
		free(c);
	}
	/* block: three chunk copies, compressed, CRC-checked */
	for (int i = 0; i < 3; i++)
		memcpy(raw + i * clen, chunk, clen);
	int bl = cr_block_encode(raw, 3 * clen, 3, blk, sizeof(blk));
	CHECK(bl > 0 && (uint32_t)bl < 3 * clen); /* lz4 squeezes the repeats */
	uint16_t nch;
	uint32_t rl;
	CHECK_EQ(cr_block_peek(blk, (size_t)bl, &rl, &nch), bl);
	CHECK_EQ(nch, 3);
	CHECK_EQ(cr_block_decode(blk, (size_t)bl, out, sizeof(out)), (int)(3 * clen));
	CHECK(memcmp(out, raw, 3 * clen) == 0);
	/* every truncation point of a block is an error */
	for (int cut = 0; cut < bl; cut++)
		CHECK(cr_block_decode(blk, (size_t)cut, out, sizeof(out)) < 0);
	/* any single bit flip is detected (CRC32C) or rejected */
	for (int i = 0; i < bl; i += 7) {
		blk[i] ^= 0x10;
		CHECK(cr_block_decode(blk, (size_t)bl, out, sizeof(out)) < 0);
		blk[i] ^= 0x10;
	}
	/* every packet form: jitter of each size and sign, VBR lengths, seq
	 * jumps and reorders, timestamp jumps (DTX), PT changes, markers */
	uint64_t rng = 88172645463325252ull;
#define RND() xorshift(&rng)
	static struct cr_frame want[4096];
	static uint8_t pay[4096][64];
	CHECK_EQ(cr_chunk_begin(&w, chunk, sizeof(chunk), &h), 0);
	uint16_t seq = 100;
	uint32_t ts = 5;
	int64_t t = t0;
	for (n = 0; n < 4096; n++) {
		unsigned kind = (unsigned)(RND() % 16);
		int64_t jit[] = {0, 13, -64, 63, 64, -65, 8191, -8192, 8192, -8193, 400000, -19000};
		t += 20000000LL + jit[RND() % 12] * 1000 + (int64_t)(RND() % 1000); /* sub-us kept out */
		t -= t % 1000;
		seq = (uint16_t)(seq + (kind == 0 ? 3 : kind == 1 ? (uint16_t)-1 : 1));
		ts += kind == 2 ? 19200 : 160;
		struct cr_frame *e = &want[n];
		e->seq = seq, e->ts = ts, e->t_ns = t, e->marker = kind == 3;
		e->pt = kind == 4 ? 13 : 111;
		e->plen = kind < 8 ? 40 : (uint32_t)(RND() % 64);
		for (uint32_t i = 0; i < e->plen; i++)
			pay[n][i] = (uint8_t)RND();
		int r = cr_chunk_add(&w, e->seq, e->ts, e->t_ns, e->marker, e->pt, pay[n], e->plen);
		if (r == -ENOSPC)
			break;
		CHECK_EQ(r, 0);
	}
	CHECK(n > 100);
	clen = cr_chunk_finish(&w);
	CHECK_EQ(cr_chunk_open(&rd, chunk, clen), (int)clen);
	for (k = 0; cr_chunk_next(&rd, &f) == 1; k++) {
		CHECK_EQ(f.seq, want[k].seq);
		CHECK_EQ(f.ts, want[k].ts);
		CHECK_EQ(f.t_ns, want[k].t_ns);
		CHECK_EQ(f.marker, want[k].marker);
		CHECK_EQ(f.pt, want[k].pt);
		CHECK_EQ(f.plen, want[k].plen);
		CHECK(memcmp(f.payload, pay[k], f.plen) == 0);
	}
	CHECK_EQ(k, n);
	/* incompressible chunks are stored as they are, not expanded by lz4 */
	bl = cr_block_encode(chunk, clen, 1, blk, sizeof(blk));
	CHECK(bl > 0 && (uint32_t)bl <= clen + CR_BLOCK_HDR_LEN);
	CHECK_EQ(cr_block_decode(blk, (size_t)bl, out, sizeof(out)), (int)clen);
	CHECK(memcmp(out, chunk, clen) == 0);
	for (int cut = 0; cut < bl; cut++)
		CHECK(cr_block_decode(blk, (size_t)cut, out, sizeof(out)) < 0);
	/* a block sealed in place (the worker builds its batch after the header
	 * room) is the same block, byte for byte; lz4 that cannot shrink it says
	 * so instead of copying */
	{
		static uint8_t noise[4096], inplace[sizeof(blk)], whole[sizeof(blk)];
		for (size_t i = 0; i < sizeof(noise); i++)
			noise[i] = (uint8_t)RND();
		int wl = cr_block_encode(noise, sizeof(noise), 2, whole, sizeof(whole));
		CHECK_EQ(wl, (int)(sizeof(noise) + CR_BLOCK_HDR_LEN)); /* stored */
		memcpy(inplace + CR_BLOCK_HDR_LEN, noise, sizeof(noise));
		CHECK_EQ(cr_block_compress(noise, sizeof(noise), 2, out, sizeof(out), 1), 0);
		CHECK_EQ(cr_block_seal_stored(inplace, sizeof(noise), 2), wl);
		CHECK(memcmp(inplace, whole, (size_t)wl) == 0);
		CHECK_EQ(cr_block_decode(inplace, (size_t)wl, out, sizeof(out)), (int)sizeof(noise));
		CHECK(memcmp(out, noise, sizeof(noise)) == 0);
		/* a compressible one comes back compressed, the same as encode's */
		int cl = cr_block_compress(raw, 3 * 512, 3, inplace, sizeof(inplace), 1);
		CHECK(cl > 0 && cl == cr_block_encode(raw, 3 * 512, 3, whole, sizeof(whole)));
		CHECK(memcmp(inplace, whole, (size_t)(cl > 0 ? cl : 0)) == 0);
		CHECK_EQ(cr_block_compress(raw, 3 * 512, 3, inplace, 16, 1), -ENOSPC);
	}
	blk[18] |= 0x80; /* unknown block flag */
	CHECK(cr_block_decode(blk, (size_t)bl, out, sizeof(out)) < 0);

	uint8_t sh[CR_SEG_HDR_LEN];
	cr_seg_header(sh, 1, 42, t0);
	CHECK_EQ(cr_seg_header_check(sh, sizeof(sh)), 0);
	sh[20] ^= 1;
	CHECK(cr_seg_header_check(sh, sizeof(sh)) < 0);

	/* look-back cut: only the packets from a time on stay, re-encoded */
	{
		static uint8_t c[4096], scratch[4096];
		struct cr_chunk_hdr h = {.stream_uid = 5, .call_uid = 6, .ssrc = 77};
		struct cr_chunk_writer w;
		CHECK_EQ(cr_chunk_begin(&w, c, sizeof(c), &h), 0);
		uint8_t pl[20][40];
		for (int i = 0; i < 20; i++) {
			for (int k = 0; k < 40; k++)
				pl[i][k] = (uint8_t)(i * 11 + k);
			CHECK_EQ(cr_chunk_add(&w, (uint16_t)(100 + i), 5000u + (uint32_t)i * 160,
					      t0 + i * 20000000LL + (i % 3) * 1000, i == 7, 0, pl[i],
					      i == 12 ? 20 : 40),
				 0);
		}
		uint32_t cl = cr_chunk_finish(&w);
		int nl = cr_chunk_trim(c, cl, t0 + 7 * 20000000LL, scratch, sizeof(scratch));
		CHECK(nl > 0 && (uint32_t)nl < cl);
		struct cr_chunk_reader rd;
		CHECK(cr_chunk_open(&rd, c, (size_t)nl) > 0);
		CHECK_EQ(rd.h.n_pkts, 13);
		CHECK_EQ(rd.h.stream_uid, 5);
		CHECK_EQ(rd.h.first_seq, 107);
		struct cr_frame f;
		for (int i = 7; i < 20; i++) {
			CHECK_EQ(cr_chunk_next(&rd, &f), 1);
			CHECK_EQ(f.seq, 100 + i);
			CHECK_EQ(f.ts, 5000 + i * 160);
			CHECK_EQ(f.t_ns, t0 + i * 20000000LL + (i % 3) * 1000);
			CHECK_EQ(f.marker, i == 7);
			CHECK_EQ(f.plen, i == 12 ? 20u : 40u);
			CHECK(memcmp(f.payload, pl[i], f.plen) == 0);
		}
		CHECK_EQ(cr_chunk_next(&rd, &f), 0);
		/* nothing cut, everything cut, a malformed chunk */
		CHECK_EQ(cr_chunk_trim(c, (uint32_t)nl, 0, scratch, sizeof(scratch)), nl);
		CHECK_EQ(cr_chunk_trim(c, (uint32_t)nl, t0 + 3600 * 1000000000LL, scratch,
				       sizeof(scratch)),
			 0);
		c[0] ^= 1;
		CHECK_EQ(cr_chunk_trim(c, (uint32_t)nl, 0, scratch, sizeof(scratch)), -EINVAL);
	}
	{
		/* cr_crc32c equals the byte-at-a-time CRC: any length, offset
		 * and initial value, with the carry-less fold (where the CPU has
		 * it) and with three interleaved crc32 lanes */
		static uint8_t buf[40000];
		uint64_t rs = 99;
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)xorshift(&rs);
		const size_t lens[] = {0,    1,	   7,	 8,    127,  128,   255,   256,	  257,
				       271,  383,  384,	 400,  1023, 1024,  1025,  6143,  6144,
				       6145, 8191, 8192, 8193, 12288, 20000, 39990};
		int has_fold = cr_crc32c_fold(1);
		printf("crc32c: carry-less fold %s\n", has_fold ? "on this CPU" : "not on this CPU");
		for (int fold = 1; fold >= 0; fold--) {
			cr_crc32c_fold(fold);
			for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
				for (size_t off = 0; off < 9; off += 3) {
					uint32_t init = (uint32_t)xorshift(&rs), ref = init;
					for (size_t i = 0; i < lens[li]; i++)
						ref = rte_hash_crc_1byte(buf[off + i], ref);
					CHECK_EQ(cr_crc32c(buf + off, lens[li], init), ref);
				}
			/* every length across the fold's edges (256..) and tails */
			for (size_t len = 200; len < 700; len++) {
				uint32_t ref = 0x12345678u;
				for (size_t i = 0; i < len; i++)
					ref = rte_hash_crc_1byte(buf[5 + i], ref);
				CHECK_EQ(cr_crc32c(buf + 5, len, 0x12345678u), ref);
			}
		}
		cr_crc32c_fold(1);
	}
	TEST_DONE();
}
