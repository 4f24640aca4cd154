/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Call tracker: follows INVITE dialogs through SIP and SDP, owns the call
 * table, and tells the rest of the system what changed through an ops table:
 * media endpoints to publish in the media table (read by workers), and call
 * snapshots for the index.
 *
 * Ownership and threading: one tracker belongs to the single signalling owner
 * (one lcore). No function here is thread-safe and none needs to be: workers
 * never touch the tracker, they read the media table it publishes to.
 * Memory: every call comes from a pool sized at creation (max_calls); when it
 * is empty a new dialog is counted in CR_CALL_E_TABLE_FULL and not tracked.
 * Time is packet time (ns), passed in by the caller.
 */
#ifndef CR_CALL_H
#define CR_CALL_H

#include <stdint.h>

#include "cr_pkt.h"
#include "cr_sdp.h"
#include "cr_sip.h"

#define CR_CALL_ID_LEN 128
#define CR_CALL_USER_LEN 64
#define CR_CALL_URI_LEN 128
#define CR_CALL_TAG_LEN 64
#define CR_CALL_MAX_DTMF 32
#define CR_CALL_MAX_EP 8
#define CR_MEDIA_MAX_PT 12

enum cr_call_state {
	CR_CALL_ACTIVE = 0, /**< setting up or ringing */
	CR_CALL_ANSWERED,   /**< 2xx seen, no BYE yet */
	CR_CALL_COMPLETED,  /**< answered, then BYE */
	CR_CALL_CANCELLED,  /**< CANCEL before answer */
	CR_CALL_FAILED,	    /**< final 3xx-6xx before answer */
	CR_CALL_TIMEOUT,    /**< no SIP within the timeout */
};
const char *cr_call_state_name(int state);

enum cr_side { CR_SIDE_UNKNOWN = 0, CR_SIDE_CALLER, CR_SIDE_CALLEE };

struct cr_dtmf {
	char digit;
	uint8_t source; /**< 0 RFC 4733, 1 SIP INFO */
	uint16_t duration_ms;
	int64_t t_ns;
};

/** A payload type as the endpoint's SDP describes it. */
enum { CR_PT_AUDIO = 0, CR_PT_EVENT, CR_PT_CN }; /* what a PT carries, from its name */
struct cr_media_pt {
	uint8_t pt;
	uint8_t channels;
	uint8_t kind; /**< CR_PT_*: classified once here, not per packet */
	uint32_t clock_rate;
	char enc[16];
};

/** One media endpoint (where a party receives RTP), published to workers. */
struct cr_media_ep {
	struct cr_addr addr;
	uint16_t port;
	uint8_t side; /**< enum cr_side: whose SDP announced it */
	uint8_t n_pt;
	uint8_t is_srtp;
	uint8_t skip;	/**< the call's recording policy: do not record */
	uint8_t rclass; /**< the call's retention class */
	uint64_t call_uid;
	int64_t valid_from_ns; /**< packet time of the SDP that announced it */
	struct cr_media_pt pt[CR_MEDIA_MAX_PT];
};

/** A span of a call whose audio was not recorded on demand (pause or stop). */
struct cr_rec_span {
	int64_t from_ns, to_ns; /**< to_ns 0: still open */
	uint8_t source;		/**< enum cr_rec_source */
	uint8_t stop;		/**< 1 stop (until a start), 0 pause (until a resume) */
	uint8_t pad[6];
};
#define CR_CALL_MAX_SPANS 16

/** On-demand recording actions and where they came from. */
enum cr_rec_action { CR_REC_START = 1, CR_REC_STOP, CR_REC_PAUSE, CR_REC_RESUME };
enum cr_rec_source { CR_REC_SRC_CTL = 1, CR_REC_SRC_SIP, CR_REC_SRC_DTMF };

struct cr_call {
	uint64_t uid;
	char call_id[CR_CALL_ID_LEN];
	char from_user[CR_CALL_USER_LEN], to_user[CR_CALL_USER_LEN];
	char from_uri[CR_CALL_URI_LEN], to_uri[CR_CALL_URI_LEN];
	char caller_tag[CR_CALL_TAG_LEN];
	int64_t start_ns, answer_ns, end_ns, last_sip_ns;
	int64_t last_media_ns; /**< last RTP the workers reported for the call */
	uint16_t sip_status;
	uint8_t state;
	uint8_t cancel_seen;
	uint8_t n_dtmf;
	uint8_t n_ep;
	uint32_t invite_cseq;
	uint8_t record; /**< policy decision at call start (cr_call_ops.call_start) */
	uint8_t rclass;
	uint8_t ondemand; /**< 1: on-demand start/stop/pause/resume allowed (policy) */
	uint8_t rec_on;	  /**< audio recorded now (record, then on-demand changes) */
	char rule[32];	/**< the policy rule that decided */
	uint8_t n_spans;
	struct cr_rec_span spans[CR_CALL_MAX_SPANS];
	char dtmf_hist[8]; /**< last digits, for on-demand DTMF sequences */
	struct cr_dtmf dtmf[CR_CALL_MAX_DTMF];
	struct cr_media_ep ep[CR_CALL_MAX_EP];
	/* private: table linkage */
	struct cr_call *next;
	uint32_t hash;
	uint32_t live_pos; /* in the tracker's list of live calls */
};

/** What the tracker tells the rest of the system. Any callback may be NULL. */
struct cr_call_ops {
	/** An endpoint was announced (new or changed). ep is only valid during the call. */
	void (*media_publish)(void *ctx, const struct cr_media_ep *ep);
	/** The call no longer owns this endpoint (call freed). */
	void (*media_unpublish)(void *ctx, const struct cr_media_ep *ep);
	/**
	 * A call starts (its INVITE, from src to dst): decide c->record, c->rclass
	 * and c->rule (default: record, class 0, "default").
	 */
	void (*call_start)(void *ctx, struct cr_call *c, const struct cr_addr *src,
			   const struct cr_addr *dst);
	/** Recording switched on or off on demand (c->rec_on); c only valid during the call. */
	void (*rec_change)(void *ctx, const struct cr_call *c);
	/** The call's state or data changed; c is only valid during the call. */
	void (*call_update)(void *ctx, const struct cr_call *c);
};

#define CR_CALL_DROP_LIST(X)                                                             \
	X(TABLE_FULL, "call table full, dialog not tracked")                            \
	X(SDP_INVALID, "SDP body that does not parse")                                  \
	X(NO_DIALOG, "in-dialog request or response for an unknown call")

enum {
	CR_CALL_E_OK = 0,
#define CR_X(n, s) CR_CALL_E_##n,
	CR_CALL_DROP_LIST(CR_X)
#undef CR_X
	CR_CALL_E_MAX
};

struct cr_call_cfg {
	uint32_t max_calls;	    /**< pool size */
	const char *rec_header;	    /**< SIP header whose value starts/stops/pauses/resumes
				     *   ("start|stop|pause|resume|on|off"), NULL: none */
	const char *dtmf_seq[5];    /**< [enum cr_rec_action]: DTMF sequences, NULL: none */
	int64_t setup_timeout_ns;   /**< no final response within this: timeout */
	int64_t session_timeout_ns; /**< answered, no SIP and no RTP within this: timeout */
	int64_t linger_ns;	    /**< keep ended calls (and their endpoints) this long */
	uint64_t uid_base;	    /**< first call uid - 1 */
};

struct cr_call_stats {
	uint64_t sip_msgs, calls_created, calls_ended, sdp_parsed, dtmf_info;
	uint64_t ondemand[3]; /**< [enum cr_rec_source - 1]: changes applied */
	uint64_t ondemand_refused;
	uint64_t drops[CR_CALL_E_MAX];
};

struct cr_call_tracker;

/** @return a tracker, or NULL with errno ENOMEM/EINVAL. */
struct cr_call_tracker *cr_call_tracker_create(const struct cr_call_cfg *cfg,
					       const struct cr_call_ops *ops, void *ctx);
void cr_call_tracker_free(struct cr_call_tracker *t);

/**
 * Feed one parsed SIP message.
 * @param src,dst signalling addresses (used to tell the caller's side)
 * @return 0, or -CR_CALL_E_* (counted in stats as well)
 */
int cr_call_on_sip(struct cr_call_tracker *t, const struct cr_sip_msg *m,
		   const struct cr_addr *src, const struct cr_addr *dst, int64_t now_ns);

/**
 * Media of a call was seen at t_ns (reported by workers); keeps an answered
 * call from timing out while its RTP flows. Unknown uids are ignored.
 */
void cr_call_media_activity(struct cr_call_tracker *t, uint64_t call_uid, int64_t t_ns);

/** Advance packet time: expire timed-out calls, free lingering ones. */
void cr_call_tick(struct cr_call_tracker *t, int64_t now_ns);

/** End of input: emit a final update for every live call, unpublish, free all. */
void cr_call_flush_all(struct cr_call_tracker *t);

/** Look a call up by Call-ID; NULL if unknown. */
const struct cr_call *cr_call_find(const struct cr_call_tracker *t, const char *call_id);

/**
 * Start, stop, pause or resume recording a call on demand (signalling owner
 * only). @return 1 changed, 0 already so, -ENOENT no such call, -EPERM the
 * call's policy forbids on-demand changes (counted as refused).
 */
int cr_call_control(struct cr_call_tracker *t, const char *call_id, int action, int source,
		    int64_t now);
/**
 * An RFC 4733 digit of a call (from its media): on-demand DTMF sequences.
 * @return as cr_call_control().
 */
int cr_call_dtmf(struct cr_call_tracker *t, uint64_t call_uid, char digit, int64_t now);
/**
 * Append a digit to a history (a NUL-terminated buffer of 8) and match the
 * on-demand sequences seq[enum cr_rec_action] (NULL: none). @return the
 * action whose sequence the history now ends with (the history is cleared),
 * or 0. Pure.
 */
int cr_rec_dtmf_match(char hist[8], char digit, const char *const seq[5]);
/** Name of an action ("pause"), or of a value of the recording header (-EINVAL if none). */
const char *cr_rec_action_name(int action);
int cr_rec_action_parse(const char *s, size_t n);

const struct cr_call_stats *cr_call_stats(const struct cr_call_tracker *t);
uint32_t cr_call_active_count(const struct cr_call_tracker *t);
const char *cr_call_err_token(int err);

#endif /* CR_CALL_H */
