/* SPDX-License-Identifier: BSD-3-Clause */
/* Call state machine through the pure tracker, with recording callbacks. */
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "cr_call.h"
#include "cr_test.h"

static int n_pub, n_unpub, last_state = -1;
static struct cr_media_ep last_ep;
static void
pub(void *c, const struct cr_media_ep *ep)
{
	(void)c;
	n_pub++;
	last_ep = *ep;
}
static void
unpub(void *c, const struct cr_media_ep *ep)
{
	(void)c;
	(void)ep;
	n_unpub++;
}
static void
upd(void *c, const struct cr_call *call)
{
	(void)c;
	last_state = call->state;
}

static int n_chg;
static void
rec_chg(void *c, const struct cr_call *call)
{
	(void)c;
	(void)call;
	n_chg++;
}

static int
feed(struct cr_call_tracker *t, const char *msg, int64_t now)
{
	struct cr_sip_msg m;
	int r = cr_sip_parse(msg, strlen(msg), 0, "X-Record", &m);
	if (r != 0)
		return r;
	struct cr_addr a = {{0}};
	return cr_call_on_sip(t, &m, &a, &a, now);
}

#define HDRS(cid, ftag, ttag, cseq) \
	"i: " cid "\r\nf: <sip:alice@a>;tag=" ftag "\r\nt: <sip:bob@b>" ttag "\r\nCSeq: " cseq "\r\n"

int
main(void)
{
	struct cr_call_cfg cfg = {.max_calls = 2, .setup_timeout_ns = 10, .linger_ns = 5};
	struct cr_call_ops ops = {.media_publish = pub, .media_unpublish = unpub, .call_update = upd};
	struct cr_call_tracker *t = cr_call_tracker_create(&cfg, &ops, NULL);
	CHECK(t != NULL);
	/* INVITE with SDP -> 401 -> INVITE again -> 183 with SDP -> 200 -> BYE */
	CHECK_EQ(feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("c1", "x", "", "1 INVITE")
		 "Content-Type: application/sdp\r\n\r\nv=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", 1), 0);
	CHECK_EQ(n_pub, 1);
	CHECK_EQ(last_ep.side, CR_SIDE_CALLER);
	CHECK_EQ(last_state, CR_CALL_ACTIVE);
	feed(t, "SIP/2.0 401 Unauthorized\r\n" HDRS("c1", "x", ";tag=y", "1 INVITE") "\r\n", 2);
	CHECK_EQ(cr_call_find(t, "c1")->state, CR_CALL_ACTIVE);
	feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("c1", "x", "", "2 INVITE") "\r\n", 3);
	feed(t, "SIP/2.0 183 Progress\r\n" HDRS("c1", "x", ";tag=y", "2 INVITE")
	     "Content-Type: application/sdp\r\n\r\nv=0\r\nc=IN IP4 192.0.2.2\r\nm=audio 5000 RTP/AVP 8\r\n", 4);
	CHECK_EQ(n_pub, 2);
	CHECK_EQ(last_ep.side, CR_SIDE_CALLEE);
	CHECK_EQ(last_ep.port, 5000);
	feed(t, "SIP/2.0 200 OK\r\n" HDRS("c1", "x", ";tag=y", "2 INVITE") "\r\n", 5);
	CHECK_EQ(last_state, CR_CALL_ANSWERED);
	CHECK_EQ(cr_call_find(t, "c1")->sip_status, 200);
	/* BYE from the callee */
	feed(t, "BYE sip:alice@a SIP/2.0\r\ni: c1\r\nf: <sip:bob@b>;tag=y\r\nt: <sip:alice@a>;tag=x\r\nCSeq: 1 BYE\r\n\r\n", 6);
	CHECK_EQ(last_state, CR_CALL_COMPLETED);
	CHECK(strcmp(cr_call_find(t, "c1")->from_user, "alice") == 0);

	/* CANCEL before answer -> 487 -> cancelled */
	feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("c2", "p", "", "1 INVITE") "\r\n", 7);
	feed(t, "CANCEL sip:bob@b SIP/2.0\r\n" HDRS("c2", "p", "", "1 CANCEL") "\r\n", 8);
	feed(t, "SIP/2.0 487 Terminated\r\n" HDRS("c2", "p", ";tag=q", "1 INVITE") "\r\n", 9);
	CHECK_EQ(cr_call_find(t, "c2")->state, CR_CALL_CANCELLED);
	CHECK_EQ(cr_call_find(t, "c2")->sip_status, 487);

	/* pool of 2: a third dialog is counted, not tracked */
	CHECK(feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("c3", "r", "", "1 INVITE") "\r\n", 10) < 0);
	CHECK_EQ(cr_call_stats(t)->drops[CR_CALL_E_TABLE_FULL], 1);

	/* linger passes: ended calls are released and their endpoints unpublished */
	cr_call_tick(t, 100);
	CHECK(cr_call_find(t, "c1") == NULL);
	CHECK_EQ(n_unpub, 2);
	/* rejected call */
	feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("c4", "r", "", "1 INVITE") "\r\n", 101);
	feed(t, "SIP/2.0 486 Busy\r\n" HDRS("c4", "r", ";tag=z", "1 INVITE") "\r\n", 102);
	CHECK_EQ(cr_call_find(t, "c4")->state, CR_CALL_FAILED);
	/* setup timeout */
	feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("c5", "s", "", "1 INVITE") "\r\n", 103);
	cr_call_tick(t, 200);
	CHECK_EQ(last_state, CR_CALL_TIMEOUT);
	cr_call_flush_all(t);
	CHECK_EQ(cr_call_active_count(t), 0);
	cr_call_tracker_free(t);

	/* RTP keeps an answered call alive; neither SIP nor RTP: timeout */
	struct cr_call_cfg c2 = {.max_calls = 4, .setup_timeout_ns = 10, .session_timeout_ns = 100,
				 .linger_ns = 1000};
	t = cr_call_tracker_create(&c2, &ops, NULL);
	feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("m1", "x", "", "1 INVITE") "\r\n", 1);
	feed(t, "SIP/2.0 200 OK\r\n" HDRS("m1", "x", ";tag=y", "1 INVITE") "\r\n", 2);
	uint64_t uid = cr_call_find(t, "m1")->uid;
	for (int64_t now = 50; now <= 500; now += 50) {
		cr_call_media_activity(t, uid, now - 10);
		cr_call_tick(t, now);
	}
	CHECK_EQ(cr_call_find(t, "m1")->state, CR_CALL_ANSWERED);
	cr_call_media_activity(t, uid + 12345, 10000); /* unknown uid: ignored */
	cr_call_tick(t, 560);
	CHECK_EQ(cr_call_find(t, "m1")->state, CR_CALL_ANSWERED);
	cr_call_tick(t, 700); /* 210 since the last RTP */
	CHECK_EQ(cr_call_find(t, "m1")->state, CR_CALL_TIMEOUT);
	cr_call_tracker_free(t);

	/* on demand: pause/resume/stop/start semantics, spans, header, DTMF,
	 * refusals when the policy forbids it */
	struct cr_call_cfg c3 = {.max_calls = 4, .setup_timeout_ns = 1000, .linger_ns = 1000,
				 .rec_header = "X-Record", .dtmf_seq = {NULL, "#9", NULL, "*1", "*2"}};
	struct cr_call_ops o3 = ops;
	o3.rec_change = rec_chg;
	t = cr_call_tracker_create(&c3, &o3, NULL);
	feed(t, "INVITE sip:bob@b SIP/2.0\r\n" HDRS("d1", "x", "", "1 INVITE") "\r\n", 1);
	feed(t, "SIP/2.0 200 OK\r\n" HDRS("d1", "x", ";tag=y", "1 INVITE") "\r\n", 2);
	const struct cr_call *c = cr_call_find(t, "d1");
	CHECK_EQ(c->rec_on, 1);
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_RESUME, CR_REC_SRC_CTL, 3), 0); /* already on */
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_PAUSE, CR_REC_SRC_CTL, 10), 1);
	CHECK_EQ(c->rec_on, 0);
	CHECK_EQ(n_chg, 1);
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_PAUSE, CR_REC_SRC_CTL, 11), 0);
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_RESUME, CR_REC_SRC_CTL, 20), 1);
	CHECK_EQ(c->n_spans, 1);
	CHECK_EQ(c->spans[0].from_ns, 10);
	CHECK_EQ(c->spans[0].to_ns, 20);
	/* a stop is not ended by a resume, only by a start */
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_STOP, CR_REC_SRC_CTL, 30), 1);
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_RESUME, CR_REC_SRC_CTL, 31), 0);
	CHECK_EQ(c->rec_on, 0);
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_START, CR_REC_SRC_CTL, 40), 1);
	CHECK_EQ(c->spans[1].stop, 1);
	CHECK_EQ(c->spans[1].to_ns, 40);
	/* the header in an INFO, then DTMF by SIP INFO and by RFC 4733 digits */
	feed(t, "INFO sip:bob@b SIP/2.0\r\n" HDRS("d1", "x", ";tag=y", "2 INFO")
	     "X-Record: Pause\r\n\r\n", 50);
	CHECK_EQ(c->rec_on, 0);
	CHECK_EQ(c->spans[2].source, CR_REC_SRC_SIP);
	feed(t, "INFO sip:bob@b SIP/2.0\r\n" HDRS("d1", "x", ";tag=y", "3 INFO")
	     "Content-Type: application/dtmf-relay\r\n\r\nSignal=*\r\nDuration=100\r\n", 60);
	feed(t, "INFO sip:bob@b SIP/2.0\r\n" HDRS("d1", "x", ";tag=y", "4 INFO")
	     "Content-Type: application/dtmf-relay\r\n\r\nSignal=2\r\nDuration=100\r\n", 61);
	CHECK_EQ(c->rec_on, 1);
	CHECK_EQ(c->spans[2].to_ns, 61);
	CHECK_EQ(cr_call_dtmf(t, c->uid, '5', 70), 0);
	CHECK_EQ(cr_call_dtmf(t, c->uid, '*', 71), 0);
	CHECK_EQ(cr_call_dtmf(t, c->uid, '1', 72), 1);
	CHECK_EQ(c->rec_on, 0);
	CHECK_EQ(c->spans[3].source, CR_REC_SRC_DTMF);
	CHECK_EQ(c->spans[3].from_ns, 72);
	CHECK_EQ(cr_call_dtmf(t, c->uid + 99, '2', 73), -ENOENT);
	CHECK_EQ(cr_call_control(t, "nope", CR_REC_PAUSE, CR_REC_SRC_CTL, 80), -ENOENT);
	CHECK_EQ(cr_rec_action_parse(" off ", 5), CR_REC_STOP);
	CHECK(cr_rec_action_parse("later", 5) < 0);
	/* forbidden by policy: refused and counted, nothing changes */
	((struct cr_call *)c)->ondemand = 0;
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_RESUME, CR_REC_SRC_CTL, 90), -EPERM);
	CHECK_EQ(cr_call_stats(t)->ondemand_refused, 1);
	CHECK_EQ(c->rec_on, 0);
	/* an ended call takes no more changes */
	feed(t, "BYE sip:bob@b SIP/2.0\r\n" HDRS("d1", "x", ";tag=y", "5 BYE") "\r\n", 100);
	CHECK_EQ(cr_call_control(t, "d1", CR_REC_RESUME, CR_REC_SRC_CTL, 101), -ENOENT);
	cr_call_tracker_free(t);
	TEST_DONE();
}
