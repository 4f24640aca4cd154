/* SPDX-License-Identifier: BSD-3-Clause */
/* Signalling owner (main lcore): SIP over UDP and TCP, IP fragment
 * reassembly, the call tracker, and the media table it publishes to.
 *
 * The media table is an rte_hash in lock-free read mode: the main lcore is
 * its only writer; workers look endpoints up and copy what they need. A
 * replaced or removed entry is returned to its mempool only after every
 * worker has passed a quiescent state (rte_hash_rcu_qsbr_add, DQ mode). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "cr_engine_internal.h"
#include "cr_mem.h"
#include "cr_policy.h"

static uint32_t
media_hash(const void *key, uint32_t len, uint32_t init)
{
	return rte_hash_crc(key, len, init);
}

/* Media entries: a slab handed out in order, then recycled through a free
 * stack; pages are touched only as endpoints arrive. The signalling owner is
 * the only user (RCU reclamation runs inside its hash calls). */
static void *
media_get(struct cr_engine *e)
{
	if (e->n_media_free)
		return &e->media_slab[e->media_free[--e->n_media_free]];
	if (e->media_fresh < e->cfg.media_entries)
		return &e->media_slab[e->media_fresh++];
	return NULL;
}

static void
media_put(struct cr_engine *e, void *p)
{
	e->media_free[e->n_media_free++] = (uint32_t)((struct cr_media_entry *)p - e->media_slab);
}

static void
media_free_entry(void *p, void *key_data)
{
	media_put(p, key_data);
}

static void
media_publish(void *ctx, const struct cr_media_ep *ep)
{
	struct cr_engine *e = ctx;
	struct cr_media_key k;
	memset(&k, 0, sizeof(k));
	k.addr = ep->addr;
	k.port = ep->port;
	void *obj = media_get(e), *old;
	if (obj == NULL) {
		e->media_full++;
		return;
	}
	struct cr_media_entry *ne = obj;
	ne->cur = *ep;
	ne->has_prev = 0;
	if (rte_hash_lookup_data(e->media, &k, &old) >= 0) {
		cr_engine_sync_workers(e); /* replaced: a version a late worker needs */
		const struct cr_media_entry *oe = old;
		if (oe->cur.call_uid != ep->call_uid || oe->cur.valid_from_ns < ep->valid_from_ns) {
			ne->prev = oe->cur;
			ne->has_prev = 1;
		}
		/* delete first so the old entry goes through RCU reclamation */
		rte_hash_del_key(e->media, &k);
	}
	if (rte_hash_add_key_data(e->media, &k, obj) < 0)
		media_put(e, obj);
}

/* Workers may be behind the signalling owner in packet time (in offline
 * replays by a whole ring). An endpoint is removed only once every worker's
 * clock has passed the moment its call let it go; until then it waits here. */
static void
media_remove(struct cr_engine *e, const struct cr_addr *addr, uint16_t port, uint64_t call_uid)
{
	struct cr_media_key k;
	memset(&k, 0, sizeof(k));
	k.addr = *addr;
	k.port = port;
	void *d;
	if (rte_hash_lookup_data(e->media, &k, &d) >= 0 &&
	    ((const struct cr_media_entry *)d)->cur.call_uid == call_uid)
		rte_hash_del_key(e->media, &k);
}

void
cr_media_reap(struct cr_engine *e, int all)
{
	int64_t horizon = INT64_MAX;
	for (unsigned w = 0; w < e->cfg.n_workers; w++) {
		int64_t t = __atomic_load_n(&e->workers[w].now_ns, __ATOMIC_ACQUIRE);
		if (t < horizon)
			horizon = t;
	}
	while (e->unpub_head != e->unpub_tail) {
		struct cr_unpub *u = &e->unpub[e->unpub_head % CR_UNPUB_MAX];
		if (!all && u->t_ns >= horizon)
			break;
		media_remove(e, &u->addr, u->port, u->call_uid);
		e->unpub_head++;
	}
}

static void
media_unpublish(void *ctx, const struct cr_media_ep *ep)
{
	struct cr_engine *e = ctx;
	if (e->unpub_tail - e->unpub_head >= CR_UNPUB_MAX) {
		/* queue full: remove the oldest now (may unbind a lagging stream) */
		e->unpub_early++;
		struct cr_unpub *u = &e->unpub[e->unpub_head % CR_UNPUB_MAX];
		media_remove(e, &u->addr, u->port, u->call_uid);
		e->unpub_head++;
	}
	struct cr_unpub *u = &e->unpub[e->unpub_tail++ % CR_UNPUB_MAX];
	u->addr = ep->addr;
	u->port = ep->port;
	u->call_uid = ep->call_uid;
	u->t_ns = e->now_ns;
}

static void
call_update(void *ctx, const struct cr_call *c)
{
	struct cr_engine *e = ctx;
	struct cr_msg *m = cr_idx_msg_get(e);
	if (m == NULL) {
		cr_count(&e->idx_lost_sig);
		return;
	}
	m->type = CR_MSG_CALL;
	memcpy(&m->call, c, offsetof(struct cr_call, ep));
	m->call.n_ep = 0;
	cr_idx_send(e, m);
}

static const struct cr_media_ep *
valid_at(const void *d, int64_t t)
{
	const struct cr_media_entry *me = d;
	if (me->cur.valid_from_ns <= t)
		return &me->cur;
	if (me->has_prev && me->prev.valid_from_ns <= t)
		return &me->prev;
	return NULL;
}

void
cr_media_lookup(struct cr_engine *e, const struct cr_stream_key *k, int64_t t,
		struct cr_stream *s)
{
	struct cr_media_key kd, ks;
	memset(&kd, 0, sizeof(kd));
	memset(&ks, 0, sizeof(ks));
	kd.addr = k->dst;
	kd.port = k->dport;
	ks.addr = k->src;
	ks.port = k->sport;
	const void *keys[2] = {&kd, &ks};
	void *data[2] = {NULL, NULL};
	uint64_t hits = 0;
	rte_hash_lookup_bulk_data(e->media, keys, 2, &hits, data);
	/* the version valid at this packet's time: announced at or before it */
	const struct cr_media_ep *ed = (hits & 1) ? valid_at(data[0], t) : NULL;
	const struct cr_media_ep *es = (hits & 2) ? valid_at(data[1], t) : NULL;
	if (s->bound) {
		/* already bound: only learn payload types, never move the stream */
		if (ed && ed->call_uid != s->call_uid)
			ed = NULL;
		if (es && es->call_uid != s->call_uid)
			es = NULL;
	} else if (ed && es && ed->call_uid != es->call_uid) {
		es = NULL; /* the receiver's SDP decides (senders may share a socket) */
	}
	if (ed == NULL && es == NULL)
		return;
	if (s->bound) {
		/* nothing to decide */
	} else if (ed) {
		s->bound = 1;
		s->call_uid = ed->call_uid;
		s->skip = ed->skip;
		s->rclass = ed->rclass;
		s->side = ed->side == CR_SIDE_CALLER ? CR_SIDE_CALLEE
			  : ed->side == CR_SIDE_CALLEE ? CR_SIDE_CALLER
						      : CR_SIDE_UNKNOWN;
	} else {
		s->bound = 1;
		s->call_uid = es->call_uid;
		s->skip = es->skip;
		s->rclass = es->rclass;
		s->side = es->side;
	}
	s->is_srtp |= (ed && ed->is_srtp) || (es && es->is_srtp);
	const struct cr_media_ep *src[2] = {ed, es};
	for (int j = 0; j < 2; j++) {
		if (src[j] == NULL)
			continue;
		for (int i = 0; i < src[j]->n_pt && s->n_pt < CR_MEDIA_MAX_PT; i++) {
			int dup = 0;
			for (int q = 0; q < s->n_pt; q++)
				dup |= s->pt[q].pt == src[j]->pt[i].pt;
			if (!dup)
				s->pt[s->n_pt++] = src[j]->pt[i];
		}
	}
}

void
cr_sig_drain_activity(struct cr_engine *e)
{
	struct cr_activity a[64];
	for (unsigned w = 0; w < e->cfg.n_workers; w++) {
		unsigned n;
		while ((n = rte_ring_sc_dequeue_burst_elem(e->workers[w].act, a, sizeof(a[0]),
							   RTE_DIM(a), NULL)) > 0)
			for (unsigned i = 0; i < n; i++)
				if (a[i].digit)
					cr_call_dtmf(e->calls, a[i].call_uid, a[i].digit, a[i].t_ns);
				else
					cr_call_media_activity(e->calls, a[i].call_uid, a[i].t_ns);
	}
}

/* Recording policy, decided once per call at its INVITE (signalling owner). */
static void
call_start(void *ctx, struct cr_call *c, const struct cr_addr *src, const struct cr_addr *dst)
{
	struct cr_engine *e = ctx;
	const struct cr_policy *p = __atomic_load_n(&e->policy, __ATOMIC_ACQUIRE);
	if (p == NULL)
		return;
	struct cr_policy_decision d;
	cr_policy_decide(p, c->from_user, c->to_user, src, dst, &d);
	c->record = d.record;
	c->rclass = d.rclass;
	c->ondemand = d.ondemand;
	snprintf(c->rule, sizeof(c->rule), "%s", d.rule);
	if (!d.record)
		e->calls_skipped++;
	if (!d.ondemand) { /* workers must refuse DTMF changes too */
		cr_engine_sync_workers(e);
		cr_rec_state_set(e, c->uid, d.record, !d.record, 0);
	}
}

/* on-demand changes reach the workers through the shared state array */
static void
rec_change(void *ctx, const struct cr_call *c)
{
	int stop = !c->rec_on && c->n_spans && c->spans[c->n_spans - 1].stop;
	cr_engine_sync_workers(ctx);
	cr_rec_state_set(ctx, c->uid, c->rec_on, stop, c->ondemand);
}

int
cr_sig_init(struct cr_engine *e)
{
	struct cr_call_cfg cc = {
		.max_calls = e->cfg.max_calls,
		.setup_timeout_ns = e->cfg.setup_timeout_ns,
		.session_timeout_ns = e->cfg.session_timeout_ns,
		.linger_ns = 30LL * 1000000000LL,
		.uid_base = e->uid_base,
		.rec_header = e->cfg.rec_header,
	};
	for (int i = 0; i < 5; i++)
		cc.dtmf_seq[i] = e->cfg.dtmf_seq[i];
	static const struct cr_call_ops ops = {
		.media_publish = media_publish,
		.media_unpublish = media_unpublish,
		.call_update = call_update,
		.call_start = call_start,
		.rec_change = rec_change,
	};
	e->calls = cr_call_tracker_create(&cc, &ops, e);
	if (e->calls == NULL)
		return -errno;

	/* process memory: touched as endpoints arrive, not zeroed when freed */
	e->media_slab = cr_mem_table(sizeof(struct cr_media_entry) * e->cfg.media_entries);
	e->media_free = malloc(sizeof(uint32_t) * e->cfg.media_entries);
	struct rte_hash_parameters hp = {
		.name = "cr_media",
		.entries = e->cfg.media_entries,
		.key_len = sizeof(struct cr_media_key),
		.hash_func = media_hash,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	e->media = rte_hash_create(&hp);
	size_t qsz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	e->qsbr = rte_zmalloc("cr_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (e->media_slab == NULL || e->media_free == NULL || e->media == NULL || e->qsbr == NULL)
		return -ENOMEM;
	rte_rcu_qsbr_init(e->qsbr, RTE_MAX_LCORE);
	struct rte_hash_rcu_config rc = {
		.v = e->qsbr,
		.mode = RTE_HASH_QSBR_MODE_DQ,
		.free_key_data_func = media_free_entry,
		.key_data_ptr = e,
	};
	if (rte_hash_rcu_qsbr_add(e->media, &rc) != 0)
		return -EINVAL;

	e->scratch = rte_malloc("cr_scratch", 65536 + 128, 0);
	e->unpub = rte_malloc("cr_unpub", sizeof(struct cr_unpub) * CR_UNPUB_MAX, 0);
	if ((!e->cfg.offline && cr_sig_frag_table(e) != 0) || e->scratch == NULL ||
	    e->unpub == NULL)
		return -ENOMEM;
	return 0;
}

int
cr_sig_frag_table(struct cr_engine *e)
{
	uint64_t frag_cycles = rte_get_tsc_hz() * 2; /* 2 s to complete a datagram */
	if (e->frag_tbl == NULL)
		e->frag_tbl =
			rte_ip_frag_table_create(1024, 8, 8192, frag_cycles, (int)rte_socket_id());
	return e->frag_tbl ? 0 : -ENOMEM;
}

void
cr_sig_free(struct cr_engine *e)
{
	if (e->frag_tbl && !e->at_exit) { /* at exit: its mbufs and memory go with EAL */
		rte_ip_frag_free_death_row(&e->frag_dr, 0);
		rte_ip_frag_table_destroy(e->frag_tbl);
	}
	for (int i = 0; i < CR_TCP_CONNS; i++)
		free(e->tcp[i].buf);
	/* DPDK memory is left to rte_eal_cleanup() at exit: freeing zeroes it */
	if (!e->at_exit) {
		rte_hash_free(e->media); /* its RCU reclaim returns entries to the slab */
		rte_free(e->qsbr);
		rte_free(e->scratch);
		rte_free(e->unpub);
	}
	cr_mem_huge_free(e->media_slab, sizeof(struct cr_media_entry) * e->cfg.media_entries);
	free(e->media_free);
	cr_call_tracker_free(e->calls);
}

/* One SIP message (UDP datagram or a framed TCP message). */
static int
sip_message(struct cr_engine *e, const struct cr_pkt *p, const char *buf, size_t len, int stream,
	    size_t *consumed, int64_t t)
{
	struct cr_sip_msg msg;
	int r = cr_sip_parse(buf, len, stream, e->cfg.rec_header, &msg);
	if (r == -EAGAIN)
		return r;
	if (r != 0) {
		e->sip_err[-r < 16 ? -r : 0]++;
		return r;
	}
	if (consumed)
		*consumed = msg.msg_len;
	uint64_t refused = cr_call_stats(e->calls)->ondemand_refused;
	cr_call_on_sip(e->calls, &msg, &p->src, &p->dst, t);
	if (unlikely(cr_call_stats(e->calls)->ondemand_refused != refused))
		CR_LOG(NOTICE, "call %.*s: on-demand request refused by its recording policy",
		       (int)msg.call_id.len, msg.call_id.p);
	return 0;
}

void
cr_sig_handle(struct cr_engine *e, struct rte_mbuf *m, const struct cr_pkt *p,
	      const uint8_t *data, size_t len)
{
	(void)m;
	(void)len;
	int64_t t = cr_mbuf_time(e, m);
	int r = sip_message(e, p, (const char *)data + p->payload_off, p->payload_len, 0, NULL, t);
	e->fate[r == 0 ? CR_FATE_SIP : CR_FATE_SIP_BAD]++;
}

static struct cr_tcp_conn *
tcp_find(struct cr_engine *e, const struct cr_pkt *p, int create, int64_t t)
{
	struct cr_tcp_conn *victim = NULL;
	for (int i = 0; i < CR_TCP_CONNS; i++) {
		struct cr_tcp_conn *c = &e->tcp[i];
		if (c->used && c->sport == p->sport && c->dport == p->dport &&
		    memcmp(&c->src, &p->src, 16) == 0 && memcmp(&c->dst, &p->dst, 16) == 0)
			return c;
		if (!c->used && victim == NULL)
			victim = c;
	}
	if (!create)
		return NULL;
	if (victim == NULL) { /* all in use: reuse the least recently used */
		victim = &e->tcp[0];
		for (int i = 1; i < CR_TCP_CONNS; i++)
			if (e->tcp[i].last_ns < victim->last_ns)
				victim = &e->tcp[i];
	}
	if (victim->buf == NULL) {
		victim->buf = malloc(CR_TCP_BUF);
		if (victim->buf == NULL)
			return NULL;
	}
	victim->used = 1;
	victim->src = p->src;
	victim->dst = p->dst;
	victim->sport = p->sport;
	victim->dport = p->dport;
	victim->len = 0;
	victim->next_seq = p->tcp_seq;
	victim->last_ns = t;
	return victim;
}

/* SIP over TCP: append in-order payload to the connection's buffer, then cut
 * messages by Content-Length. A gap loses the buffered partial message. */
void
cr_sig_handle_tcp(struct cr_engine *e, const struct cr_pkt *p, const uint8_t *data)
{
	int64_t t = e->now_ns;
	const char *pl = (const char *)data + p->payload_off;
	uint32_t plen = p->payload_len;
	int fin = (p->tcp_flags & 0x05) != 0; /* FIN or RST */
	struct cr_tcp_conn *c = tcp_find(e, p, 0, t);
	if (plen == 0) {
		if (c && fin)
			c->used = 0;
		e->fate[CR_FATE_TCP_OTHER]++;
		return;
	}
	if (c == NULL) {
		c = tcp_find(e, p, 1, t);
		if (c == NULL) {
			e->fate[CR_FATE_SIP_TCP_GAP]++;
			return;
		}
	}
	c->last_ns = t;
	int32_t d = (int32_t)(p->tcp_seq - c->next_seq);
	if (d < 0) {
		if ((uint32_t)-d >= plen) {
			e->fate[CR_FATE_TCP_DUP]++;
			return;
		}
		pl += -d;
		plen -= (uint32_t)-d;
	} else if (d > 0) {
		/* gap: what is buffered can no longer complete */
		c->len = 0;
		c->next_seq = p->tcp_seq;
		if (!cr_sip_looks_like(pl, plen)) {
			c->next_seq += plen;
			e->fate[CR_FATE_SIP_TCP_GAP]++;
			return;
		}
	}
	if (c->len + plen > CR_TCP_BUF) {
		c->len = 0; /* oversized message: resynchronise */
		c->next_seq = p->tcp_seq + p->payload_len;
		e->fate[CR_FATE_SIP_TCP_GAP]++;
		return;
	}
	memcpy(c->buf + c->len, pl, plen);
	c->len += plen;
	c->next_seq += plen;
	int got = 0, bad = 0;
	uint32_t off = 0;
	while (off < c->len) {
		/* skip keep-alive CRLFs between messages */
		while (off < c->len && (c->buf[off] == '\r' || c->buf[off] == '\n'))
			off++;
		if (off >= c->len)
			break;
		size_t used = 0;
		int r = sip_message(e, p, c->buf + off, c->len - off, 1, &used, t);
		if (r == -EAGAIN)
			break;
		if (r != 0) {
			bad = 1;
			off = c->len;
			break;
		}
		got++;
		off += (uint32_t)used;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	if (fin)
		c->used = 0;
	e->fate[bad ? CR_FATE_SIP_BAD : got ? CR_FATE_SIP : CR_FATE_SIP_TCP_PENDING]++;
}
