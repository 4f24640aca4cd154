/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to lib/codec: decoders that conceal loss with spandsp's PLC keep a
 * struct cr_plc as the first member of their context and share these. */
#ifndef CR_CODEC_INTERNAL_H
#define CR_CODEC_INTERNAL_H

#include <stdlib.h>

/* spandsp's *_init(NULL, ...) leave parts of the state they malloc
 * uninitialised (decoded audio then depends on heap contents: found by
 * MALLOC_PERTURB_); the structures are exposed so we allocate them zeroed. */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <spandsp.h>

/* calloc a spandsp state, or NULL */
#define CR_SPAN_NEW(type) ((type *)calloc(1, sizeof(type)))

struct cr_plc {
	plc_state_t *plc;
};

/* conceal op for any context that starts with struct cr_plc */
static inline int
cr_plc_conceal(void *ctx, int16_t *out, uint32_t n)
{
	return plc_fillin(((struct cr_plc *)ctx)->plc, out, (int)n);
}

/* remember decoded audio so a later loss can be concealed from it */
static inline int
cr_plc_keep(void *ctx, int16_t *pcm, int n)
{
	if (n > 0)
		plc_rx(((struct cr_plc *)ctx)->plc, pcm, n);
	return n;
}

#endif
