/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cr_store.h"
#include "cr_test.h"

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
	uint8_t sh[CR_SEG_HDR_LEN];
	cr_seg_header(sh, 1, 42, t0);
	CHECK_EQ(cr_seg_header_check(sh, sizeof(sh)), 0);
	sh[20] ^= 1;
	CHECK(cr_seg_header_check(sh, sizeof(sh)) < 0);
	TEST_DONE();
}
