/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_call.h"
#include "cr_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cr_call_tracker {
	struct cr_call_cfg cfg;
	struct cr_call_ops ops;
	void *ctx;
	struct cr_call *pool;
	struct cr_call *free_list;
	struct cr_call **buckets;
	uint32_t n_buckets; /* power of two */
	struct cr_call **by_uid; /* n_buckets slots, uid & mask; collisions resolved by checking */
	uint32_t n_fresh;	 /* pool entries never used yet: [n_fresh, max_calls) */
	uint32_t n_active;
	/* the live calls, dense: ticks walk them, not every bucket (a tick
	 * every 100 ms over 2^18 buckets was 2 % of an import's CPU) */
	struct cr_call **live;
	uint64_t next_uid;
	struct cr_call_stats stats;
};

static const char *const state_names[] = {
	[CR_CALL_ACTIVE] = "active",	   [CR_CALL_ANSWERED] = "answered",
	[CR_CALL_COMPLETED] = "completed", [CR_CALL_CANCELLED] = "cancelled",
	[CR_CALL_FAILED] = "failed",	   [CR_CALL_TIMEOUT] = "timeout",
};

const char *
cr_call_state_name(int s)
{
	if (s < 0 || s > CR_CALL_TIMEOUT)
		return "unknown";
	return state_names[s];
}

static const char *const err_tok[CR_CALL_E_MAX] = {
	[CR_CALL_E_OK] = "OK",
#define CR_X(n, s) [CR_CALL_E_##n] = #n,
	CR_CALL_DROP_LIST(CR_X)
#undef CR_X
};

const char *
cr_call_err_token(int err)
{
	if (err < 0)
		err = -err;
	return err < CR_CALL_E_MAX ? err_tok[err] : "UNKNOWN";
}

static uint32_t
fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 16777619u;
	}
	return h;
}

struct cr_call_tracker *
cr_call_tracker_create(const struct cr_call_cfg *cfg, const struct cr_call_ops *ops, void *ctx)
{
	if (cfg == NULL || cfg->max_calls == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct cr_call_tracker *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	if (ops)
		t->ops = *ops;
	t->ctx = ctx;
	t->next_uid = cfg->uid_base + 1;
	t->pool = cr_mem_table(sizeof(struct cr_call) * cfg->max_calls);
	t->n_buckets = 1;
	while (t->n_buckets < cfg->max_calls)
		t->n_buckets <<= 1;
	/* hashed: each new call touches a page anywhere in it */
	t->buckets = cr_mem_huge(sizeof(*t->buckets) * t->n_buckets);
	t->by_uid = calloc(t->n_buckets, sizeof(*t->by_uid));
	t->live = malloc(sizeof(*t->live) * cfg->max_calls);
	if (t->pool == NULL || t->buckets == NULL || t->by_uid == NULL || t->live == NULL) {
		cr_call_tracker_free(t);
		errno = ENOMEM;
		return NULL;
	}
	/* the pool is handed out in order before the free list is used: its
	 * pages are touched only as calls arrive (a large table costs nothing
	 * until it is needed, e.g. for a short import), a fault per 2 MiB
	 * (cr_mem.h) */
	return t;
}

void
cr_call_tracker_free(struct cr_call_tracker *t)
{
	if (t == NULL)
		return;
	cr_mem_huge_free(t->pool, sizeof(struct cr_call) * t->cfg.max_calls);
	cr_mem_huge_free(t->buckets, sizeof(*t->buckets) * t->n_buckets);
	free(t->by_uid);
	free(t->live);
	free(t);
}

const struct cr_call_stats *
cr_call_stats(const struct cr_call_tracker *t)
{
	return &t->stats;
}

uint32_t
cr_call_active_count(const struct cr_call_tracker *t)
{
	return t->n_active;
}

static struct cr_call *
lookup(const struct cr_call_tracker *t, const char *id, size_t len, uint32_t h)
{
	for (struct cr_call *c = t->buckets[h & (t->n_buckets - 1)]; c; c = c->next)
		if (c->hash == h && strlen(c->call_id) == len && memcmp(c->call_id, id, len) == 0)
			return c;
	return NULL;
}

const struct cr_call *
cr_call_find(const struct cr_call_tracker *t, const char *call_id)
{
	size_t n = strlen(call_id);
	if (n >= CR_CALL_ID_LEN)
		n = CR_CALL_ID_LEN - 1;
	return lookup(t, call_id, n, fnv1a(call_id, n));
}

const char *
cr_rec_action_name(int a)
{
	static const char *const n[] = {"?", "start", "stop", "pause", "resume"};
	return a >= CR_REC_START && a <= CR_REC_RESUME ? n[a] : "?";
}

int
cr_rec_action_parse(const char *s, size_t n)
{
	static const struct {
		const char *w;
		int a;
	} m[] = {{"start", CR_REC_START}, {"on", CR_REC_START},	  {"stop", CR_REC_STOP},
		 {"off", CR_REC_STOP},	   {"pause", CR_REC_PAUSE}, {"resume", CR_REC_RESUME}};
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strlen(m[i].w) == n && strncasecmp(s, m[i].w, n) == 0)
			return m[i].a;
	return -EINVAL;
}

/* Apply an on-demand action: spans record what was not recorded, and why. */
static int
control(struct cr_call_tracker *t, struct cr_call *c, int action, int source, int64_t now)
{
	if (!c->ondemand) {
		t->stats.ondemand_refused++;
		return -EPERM;
	}
	struct cr_rec_span *open = c->n_spans && c->spans[c->n_spans - 1].to_ns == 0
					   ? &c->spans[c->n_spans - 1]
					   : NULL;
	int on = action == CR_REC_START || action == CR_REC_RESUME;
	if (on == c->rec_on)
		return 0;
	/* a resume does not undo a stop; a start ends either */
	if (action == CR_REC_RESUME && open && open->stop)
		return 0;
	if (on) {
		if (open)
			open->to_ns = now;
	} else if (c->n_spans < CR_CALL_MAX_SPANS) {
		struct cr_rec_span *sp = &c->spans[c->n_spans++];
		memset(sp, 0, sizeof(*sp));
		sp->from_ns = now;
		sp->source = (uint8_t)source;
		sp->stop = action == CR_REC_STOP;
	}
	c->rec_on = (uint8_t)on;
	t->stats.ondemand[source - 1]++;
	if (t->ops.rec_change)
		t->ops.rec_change(t->ctx, c);
	return 1;
}

int
cr_call_control(struct cr_call_tracker *t, const char *call_id, int action, int source,
		int64_t now)
{
	struct cr_call *c = (struct cr_call *)cr_call_find(t, call_id);
	if (c == NULL || c->state == CR_CALL_COMPLETED || c->state == CR_CALL_FAILED ||
	    c->state == CR_CALL_CANCELLED)
		return -ENOENT;
	int r = control(t, c, action, source, now);
	if (r > 0 && t->ops.call_update)
		t->ops.call_update(t->ctx, c);
	return r;
}

int
cr_rec_dtmf_match(char hist[8], char d, const char *const seq[5])
{
	size_t n = strnlen(hist, 7);
	if (n == 7) {
		memmove(hist, hist + 1, n - 1);
		n--;
	}
	hist[n] = d;
	hist[n + 1] = 0;
	for (int a = CR_REC_START; a <= CR_REC_RESUME; a++) {
		size_t l = seq[a] ? strlen(seq[a]) : 0;
		if (l && l <= n + 1 && strcmp(hist + n + 1 - l, seq[a]) == 0) {
			hist[0] = 0;
			return a;
		}
	}
	return 0;
}

/* a digit of the call: does it complete a configured on-demand sequence? */
static int
dtmf_action(struct cr_call_tracker *t, struct cr_call *c, char d)
{
	return cr_rec_dtmf_match(c->dtmf_hist, d, t->cfg.dtmf_seq);
}

int
cr_call_dtmf(struct cr_call_tracker *t, uint64_t call_uid, char digit, int64_t now)
{
	struct cr_call *c = t->by_uid[call_uid & (t->n_buckets - 1)];
	if (c == NULL || c->uid != call_uid)
		return -ENOENT;
	int a = dtmf_action(t, c, digit);
	int r = a ? control(t, c, a, CR_REC_SRC_DTMF, now) : 0;
	if (r > 0 && t->ops.call_update)
		t->ops.call_update(t->ctx, c);
	return r;
}

static void
copy_str(char *dst, size_t dsz, struct cr_str s)
{
	size_t n = s.len < dsz - 1 ? s.len : dsz - 1;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = 0;
}

static void
unlink_call(struct cr_call_tracker *t, struct cr_call *c)
{
	struct cr_call **pp = &t->buckets[c->hash & (t->n_buckets - 1)];
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
}

static void
release(struct cr_call_tracker *t, struct cr_call *c)
{
	for (int i = 0; i < c->n_ep; i++)
		if (t->ops.media_unpublish)
			t->ops.media_unpublish(t->ctx, &c->ep[i]);
	unlink_call(t, c);
	if (t->by_uid[c->uid & (t->n_buckets - 1)] == c)
		t->by_uid[c->uid & (t->n_buckets - 1)] = NULL;
	c->next = t->free_list;
	t->free_list = c;
	t->n_active--;
	t->live[c->live_pos] = t->live[t->n_active];
	t->live[c->live_pos]->live_pos = c->live_pos;
}

static void
emit(struct cr_call_tracker *t, const struct cr_call *c)
{
	if (t->ops.call_update)
		t->ops.call_update(t->ctx, c);
}

static int
is_ended(const struct cr_call *c)
{
	return c->state >= CR_CALL_COMPLETED;
}

static void
end_call(struct cr_call_tracker *t, struct cr_call *c, int state, int64_t now)
{
	if (is_ended(c))
		return;
	c->state = (uint8_t)state;
	c->end_ns = now;
	t->stats.calls_ended++;
}

/* Which party sent a message: requests are sent by the From party, responses
 * by the To party. The caller is the From party of the first INVITE. */
static uint8_t
sender_side(const struct cr_call *c, const struct cr_sip_msg *m)
{
	int from_is_caller = c->caller_tag[0] == 0 ||
			     (m->from_tag.len == strlen(c->caller_tag) &&
			      memcmp(m->from_tag.p, c->caller_tag, m->from_tag.len) == 0);
	if (m->is_request)
		return from_is_caller ? CR_SIDE_CALLER : CR_SIDE_CALLEE;
	return from_is_caller ? CR_SIDE_CALLEE : CR_SIDE_CALLER;
}

static void
apply_sdp(struct cr_call_tracker *t, struct cr_call *c, const struct cr_sip_msg *m,
	  uint8_t side, int64_t now)
{
	struct cr_str body;
	if (cr_sip_find_sdp(m, &body) != 0)
		return;
	struct cr_sdp sdp;
	if (cr_sdp_parse(body.p, body.len, &sdp) != 0) {
		t->stats.drops[CR_CALL_E_SDP_INVALID]++;
		return;
	}
	t->stats.sdp_parsed++;
	for (int i = 0; i < sdp.n_media; i++) {
		const struct cr_sdp_media *md = &sdp.media[i];
		/* RTP audio only (and image, where T.38 may come back as RTP); port 0 rejects */
		if (!md->is_rtp || md->port == 0 || !md->has_addr || md->hold)
			continue;
		struct cr_media_ep ep;
		memset(&ep, 0, sizeof(ep));
		ep.addr = md->addr;
		ep.port = md->port;
		ep.side = side;
		ep.call_uid = c->uid;
		ep.valid_from_ns = now;
		ep.is_srtp = md->is_srtp;
		ep.skip = !c->record;
		ep.rclass = c->rclass;
		for (int k = 0; k < md->n_fmt && ep.n_pt < CR_MEDIA_MAX_PT; k++) {
			struct cr_media_pt *p = &ep.pt[ep.n_pt++];
			p->pt = md->fmt[k].pt;
			p->clock_rate = md->fmt[k].clock_rate;
			p->channels = md->fmt[k].channels;
			strncpy(p->enc, md->fmt[k].enc, sizeof(p->enc) - 1);
			p->kind = strcasecmp(p->enc, "telephone-event") == 0 ? CR_PT_EVENT
				  : strcasecmp(p->enc, "CN") == 0	   ? CR_PT_CN
									   : CR_PT_AUDIO;
		}
		/* replace the same address/port of this call, else append (bounded) */
		int slot = -1;
		for (int k = 0; k < c->n_ep; k++)
			if (c->ep[k].port == ep.port && memcmp(&c->ep[k].addr, &ep.addr, 16) == 0)
				slot = k;
		if (slot < 0) {
			if (c->n_ep < CR_CALL_MAX_EP)
				slot = c->n_ep++;
			else
				slot = CR_CALL_MAX_EP - 1; /* oldest kept, newest wins the last slot */
		}
		c->ep[slot] = ep;
		if (t->ops.media_publish)
			t->ops.media_publish(t->ctx, &ep);
	}
}

static struct cr_call *
create(struct cr_call_tracker *t, const struct cr_sip_msg *m, uint32_t h, int64_t now)
{
	struct cr_call *c = t->free_list;
	if (c == NULL && t->n_fresh < t->cfg.max_calls) {
		c = &t->pool[t->n_fresh++];
		c->next = NULL;
	} else if (c != NULL) {
		t->free_list = c->next;
	}
	if (c == NULL) {
		t->stats.drops[CR_CALL_E_TABLE_FULL]++;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->uid = t->next_uid++;
	c->hash = h;
	copy_str(c->call_id, sizeof(c->call_id), m->call_id);
	copy_str(c->from_uri, sizeof(c->from_uri), m->from_uri);
	copy_str(c->to_uri, sizeof(c->to_uri), m->to_uri);
	copy_str(c->from_user, sizeof(c->from_user), cr_sip_uri_user(m->from));
	copy_str(c->to_user, sizeof(c->to_user), cr_sip_uri_user(m->to));
	copy_str(c->caller_tag, sizeof(c->caller_tag), m->from_tag);
	c->start_ns = now;
	c->invite_cseq = m->cseq;
	c->state = CR_CALL_ACTIVE;
	c->next = t->buckets[h & (t->n_buckets - 1)];
	t->buckets[h & (t->n_buckets - 1)] = c;
	/* uids are sequential, so uid & mask is a perfect index while fewer than
	 * n_buckets calls are live; a stale slot only loses an activity hint */
	t->by_uid[c->uid & (t->n_buckets - 1)] = c;
	c->live_pos = t->n_active;
	t->live[t->n_active++] = c;
	t->stats.calls_created++;
	return c;
}

int
cr_call_on_sip(struct cr_call_tracker *t, const struct cr_sip_msg *m, const struct cr_addr *src,
	       const struct cr_addr *dst, int64_t now)
{
	t->stats.sip_msgs++;
	size_t idlen = m->call_id.len < CR_CALL_ID_LEN ? m->call_id.len : CR_CALL_ID_LEN - 1;
	uint32_t h = fnv1a(m->call_id.p, idlen);
	struct cr_call *c = lookup(t, m->call_id.p, idlen, h);
	int created = 0;

	if (c == NULL) {
		/* Only an INVITE starts a call; a re-INVITE of a dialog we joined
		 * late (to-tag present) is taken as an answered call. */
		if (!(m->is_request && m->method == CR_SIP_M_INVITE)) {
			if (m->cseq_method == CR_SIP_M_INVITE || m->method == CR_SIP_M_BYE)
				t->stats.drops[CR_CALL_E_NO_DIALOG]++;
			return m->cseq_method == CR_SIP_M_INVITE ? -CR_CALL_E_NO_DIALOG : 0;
		}
		c = create(t, m, h, now);
		if (c == NULL)
			return -CR_CALL_E_TABLE_FULL;
		created = 1;
		c->record = 1;
		c->ondemand = 1;
		memcpy(c->rule, "default", 8);
		if (t->ops.call_start)
			t->ops.call_start(t->ctx, c, src, dst);
		c->rec_on = c->record;
		if (m->to_tag.len) {
			c->state = CR_CALL_ANSWERED;
			c->answer_ns = now;
		}
	}
	c->last_sip_ns = now;
	uint8_t side = sender_side(c, m);
	int changed = created;
	/* on-demand control by a header of an in-dialog request (re-INVITE, INFO, UPDATE) */
	if (m->is_request && m->x_record.len && !created &&
	    (m->method == CR_SIP_M_INVITE || m->method == CR_SIP_M_INFO ||
	     m->method == CR_SIP_M_UPDATE)) {
		int a = cr_rec_action_parse(m->x_record.p, m->x_record.len);
		if (a > 0 && control(t, c, a, CR_REC_SRC_SIP, now) > 0)
			changed = 1;
	}

	if (m->is_request) {
		switch (m->method) {
		case CR_SIP_M_INVITE:
			if (m->to_tag.len == 0 && c->state != CR_CALL_ANSWERED &&
			    c->state != CR_CALL_COMPLETED) {
				/* new initial INVITE transaction (e.g. after a 401/407
				 * challenge, or a retry after failure) restarts setup */
				if (c->state != CR_CALL_ACTIVE) {
					c->state = CR_CALL_ACTIVE;
					c->end_ns = 0;
					c->cancel_seen = 0;
					changed = 1;
				}
				c->invite_cseq = m->cseq;
			}
			apply_sdp(t, c, m, side, now);
			break;
		case CR_SIP_M_ACK:
		case CR_SIP_M_PRACK:
		case CR_SIP_M_UPDATE:
			apply_sdp(t, c, m, side, now);
			break;
		case CR_SIP_M_CANCEL:
			c->cancel_seen = 1;
			break;
		case CR_SIP_M_BYE:
			if (c->state == CR_CALL_ANSWERED || c->state == CR_CALL_ACTIVE) {
				end_call(t, c, c->state == CR_CALL_ANSWERED ? CR_CALL_COMPLETED
									    : CR_CALL_CANCELLED,
					 now);
				changed = 1;
			}
			break;
		case CR_SIP_M_INFO: {
			uint32_t dur = 0;
			char d = cr_sip_info_dtmf(m, &dur);
			if (d && c->n_dtmf < CR_CALL_MAX_DTMF) {
				struct cr_dtmf *x = &c->dtmf[c->n_dtmf++];
				x->digit = d;
				x->source = 1;
				x->duration_ms = (uint16_t)(dur > 65535 ? 65535 : dur);
				x->t_ns = now;
				t->stats.dtmf_info++;
				changed = 1;
				int a = dtmf_action(t, c, d);
				if (a)
					control(t, c, a, CR_REC_SRC_DTMF, now);
			}
			break;
		}
		default:
			break;
		}
	} else if (m->cseq_method == CR_SIP_M_INVITE) {
		uint16_t code = m->status;
		int initial = (c->state == CR_CALL_ACTIVE || c->state == CR_CALL_FAILED ||
			       c->state == CR_CALL_CANCELLED);
		if (code < 200) {
			apply_sdp(t, c, m, side, now); /* early media */
		} else if (code < 300) {
			apply_sdp(t, c, m, side, now);
			if (initial) {
				c->state = CR_CALL_ANSWERED;
				c->answer_ns = now;
				c->sip_status = code;
				c->end_ns = 0;
				changed = 1;
			}
		} else if (initial && c->state == CR_CALL_ACTIVE) {
			c->sip_status = code;
			if (code == 401 || code == 407) {
				changed = 1; /* challenge: the UAC retries with credentials */
			} else if (code == 487 || c->cancel_seen) {
				end_call(t, c, CR_CALL_CANCELLED, now);
				changed = 1;
			} else {
				end_call(t, c, CR_CALL_FAILED, now);
				changed = 1;
			}
		}
	} else if (m->cseq_method == CR_SIP_M_PRACK || m->cseq_method == CR_SIP_M_UPDATE) {
		if (m->status >= 200 && m->status < 300)
			apply_sdp(t, c, m, side, now);
	} else if (m->cseq_method == CR_SIP_M_CANCEL && m->status >= 200 && m->status < 300) {
		c->cancel_seen = 1;
	}
	if (changed)
		emit(t, c);
	return 0;
}

void
cr_call_media_activity(struct cr_call_tracker *t, uint64_t call_uid, int64_t t_ns)
{
	struct cr_call *c = t->by_uid[call_uid & (t->n_buckets - 1)];
	if (c && c->uid == call_uid && t_ns > c->last_media_ns)
		c->last_media_ns = t_ns;
}

void
cr_call_tick(struct cr_call_tracker *t, int64_t now)
{
	/* backwards: a release moves the last live call (seen already) here */
	for (uint32_t i = t->n_active; i-- > 0;) {
		struct cr_call *c = t->live[i];
		if (is_ended(c)) {
			if (now - c->end_ns > t->cfg.linger_ns)
				release(t, c);
		} else {
			int64_t lim = c->state == CR_CALL_ANSWERED ? t->cfg.session_timeout_ns
								   : t->cfg.setup_timeout_ns;
			int64_t last = c->last_sip_ns;
			if (c->state == CR_CALL_ANSWERED && c->last_media_ns > last)
				last = c->last_media_ns;
			if (lim > 0 && now - last > lim) {
				end_call(t, c, CR_CALL_TIMEOUT, now);
				emit(t, c);
			}
		}
	}
}

void
cr_call_flush_all(struct cr_call_tracker *t)
{
	for (uint32_t b = 0; b < t->n_buckets; b++) {
		while (t->buckets[b]) {
			struct cr_call *c = t->buckets[b];
			emit(t, c);
			release(t, c);
		}
	}
}
