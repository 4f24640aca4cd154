/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_codec.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct cr_codec_ops *const registry[] = {
	&cr_codec_pcmu,	       &cr_codec_pcma,	      &cr_codec_l16,	      &cr_codec_g722,
	&cr_codec_g726_16,     &cr_codec_g726_24,     &cr_codec_g726_32,      &cr_codec_g726_40,
	&cr_codec_aal2_g726_16, &cr_codec_aal2_g726_24, &cr_codec_aal2_g726_32,
	&cr_codec_aal2_g726_40, &cr_codec_gsm,	      &cr_codec_opus,	      &cr_codec_g729,
	&cr_codec_amr,	       &cr_codec_amr_wb,
};

const struct cr_codec_ops *
cr_codec_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (strcasecmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

int
cr_codec_open(struct cr_codec *c, const struct cr_codec_params *p)
{
	memset(c, 0, sizeof(*c));
	c->ops = cr_codec_find(p->name);
	if (c->ops == NULL)
		return -ENOTSUP;
	c->ctx = c->ops->open(p, &c->out_rate);
	if (c->ctx == NULL)
		return -EINVAL;
	c->clock = p->clock;
	return 0;
}

void
cr_codec_close(struct cr_codec *c)
{
	if (c->ops && c->ctx)
		c->ops->close(c->ctx);
	c->ctx = NULL;
}
