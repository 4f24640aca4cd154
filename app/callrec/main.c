/* SPDX-License-Identifier: BSD-3-Clause */
/* callrec: the operator tool. Reads the store's index; never touches the
 * packet path.
 *   callrec calls  --store DIR [--json] [--from NUM] [--to NUM] [--since T]
 *                  [--until T] [--call-id ID]
 *   callrec show   --store DIR --call-id ID [--json]
 * Bad arguments: a message and exit 2. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_call.h"
#include "cr_codec.h"
#include "cr_export.h"
#include "cr_fsck.h"
#include "cr_retain.h"
#include "cr_index.h"
#include "cr_pkt.h"
#include "cr_crypt.h"
#include "cr_manifest.h"
#include "cr_store.h"

/* keys and identities given on the command line (any command) */
static struct {
	struct cr_keyring kr;
	struct cr_signer *signer; /* --sign-key: signs manifest deletions */
	struct cr_signer *pubkey; /* --pubkey: verify */
	struct cr_fieldkey fk;
	int have_fk;
	char actor[160];
} g_sec;

/* Write an audit line before acting; a store that cannot take it refuses
 * the action (fail closed). object is protected like index fields. */
static int
audit(const char *store, const char *action, const char *object, const char *detail)
{
	char ob[1200], kp[PATH_MAX];
	snprintf(kp, sizeof(kp), "%s/index.key", store);
	if (object && g_sec.have_fk && cr_field_protect(&g_sec.fk, object, ob, sizeof(ob)) == 0) {
		object = ob;
	} else if (object && access(kp, F_OK) == 0) {
		/* protected store, no key: never write the value in clear */
		uint8_t d[32];
		cr_sha256(object, strlen(object), d);
		memcpy(ob, "sha256:", 7);
		cr_hex(d, 8, ob + 7);
		object = ob;
	}
	int r = cr_audit(store, g_sec.actor, action, object, detail);
	if (r != 0)
		fprintf(stderr, "callrec: cannot write the audit log of %s (%s): refused\n", store,
			strerror(-r));
	return r;
}

static int
usage(FILE *f, int rc)
{
	fprintf(f,
		"usage: callrec calls --store DIR [--json] [--from NUM] [--to NUM]\n"
		"                     [--since T] [--until T] [--call-id ID]\n"
		"       callrec show  --store DIR --call-id ID [--json]\n"
		"       callrec export --store DIR --call-id ID --out FILE [--format wav|opus]\n"
		"                     [--channels stereo|mono] [--rate HZ]\n"
		"       callrec fsck  --store DIR [--json] [--repair | --rebuild-index [--out FILE]]\n"
		"       callrec retention --store DIR [--config FILE] [--now T] [--dry-run] [--json]\n"
		"       callrec hold  --store DIR --call-id ID [--release]\n"
		"       callrec stats [--store DIR] [--metrics ADDR:PORT] [--json]\n"
		"       callrec ctl start|stop|pause|resume --call-id ID (--store DIR | --socket PATH)\n"
		"       callrec keys new --out FILE | keys new-signing --out FILE\n"
		"       callrec keys rotate --store DIR --key-file NEW --key-file OLD [...]\n"
		"       callrec verify --store DIR --pubkey FILE [--no-index] [--json]\n"
		"       callrec audit --store DIR [--json]\n"
		"Any command: --key-file FILE (repeatable; the first wraps new keys),\n"
		"--key-command CMD (KMS hook printing key lines), --sign-key FILE (signs\n"
		"manifest deletions: retention, hold release), --pubkey FILE (verify).\n"
		"\n"
		"T is ISO 8601 UTC (2026-11-26T05:03:45[.123][Z]) or seconds since the epoch.\n"
		"fsck verifies every block (CRC) and index entry; exit 0 clean, 1 errors found.\n"
		"--repair seals what a crashed callrecd left open (as callrecd does at start);\n"
		"--rebuild-index builds the index from the segments alone and swaps it in\n"
		"(the old one is kept as index.sqlite.old), or writes it to --out FILE.\n");
	return rc;
}

/* the store's index, or a message and NULL */
static struct cr_index *
open_store_index(const char *store, int mode)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.sqlite", store);
	struct cr_index *idx;
	int r = cr_index_open(path, mode, &idx);
	if (r != 0) {
		fprintf(stderr, "callrec: no index in store '%s': %s\n", store, strerror(-r));
		return NULL;
	}
	return idx;
}

static int
bad(const char *fmt, const char *a)
{
	fprintf(stderr, "callrec: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\nTry 'callrec --help'.\n");
	return 2;
}

static int
parse_time(const char *s, int64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*s && *end == 0 && errno == 0 && v >= 0) {
		*ns = (int64_t)(v * 1e9);
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (p == NULL) {
		p = strptime(s, "%Y-%m-%d", &tm);
		if (p == NULL || *p)
			return -1;
	}
	double frac = 0;
	if (*p == '.') {
		frac = strtod(p, &end);
		p = end;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -1;
	*ns = (int64_t)timegm(&tm) * 1000000000LL + (int64_t)(frac * 1e9);
	return 0;
}

static void
fmt_time(char *buf, size_t n, int64_t ns)
{
	if (ns <= 0) {
		snprintf(buf, n, "null");
		return;
	}
	time_t s = (time_t)(ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&s, &tm);
	char d[32];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "\"%s.%03dZ\"", d, (int)(ns % 1000000000LL / 1000000));
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static const char *
side_name(uint8_t s)
{
	return s == CR_SIDE_CALLER ? "caller" : s == CR_SIDE_CALLEE ? "callee" : "unknown";
}

static void
json_dtmf(FILE *f, const struct cr_dtmf *d, unsigned n)
{
	fputc('[', f);
	for (unsigned i = 0; i < n; i++) {
		char t[48];
		fmt_time(t, sizeof(t), d[i].t_ns);
		fprintf(f, "%s{\"digit\":\"%c\",\"time\":%s,\"duration_ms\":%u,\"source\":\"%s\"}",
			i ? "," : "", d[i].digit, t, d[i].duration_ms,
			d[i].source ? "sip-info" : "rfc4733");
	}
	fputc(']', f);
}

struct out_ctx {
	int json;
	int detail;
	unsigned n;
};

static const char *
span_source(int s)
{
	return s == CR_REC_SRC_CTL ? "control" : s == CR_REC_SRC_SIP ? "sip" : s == CR_REC_SRC_DTMF ? "dtmf" : "?";
}

static int64_t
call_end(const struct cr_index_call_row *row, const struct cr_stream_rec *s, uint32_t n)
{
	if (row->call.end_ns)
		return row->call.end_ns;
	int64_t e = 0;
	for (uint32_t i = 0; i < n; i++)
		if (s[i].last_ns > e)
			e = s[i].last_ns;
	return e;
}

static int
print_json(FILE *f, const struct cr_index_call_row *row, const struct cr_stream_rec *s,
	   uint32_t n, int pretty)
{
	const struct cr_call *c = &row->call;
	char ts[48], te[48];
	int64_t end = call_end(row, s, n);
	fmt_time(ts, sizeof(ts), c->start_ns);
	fmt_time(te, sizeof(te), end);
	const char *nl = pretty ? "\n  " : "";
	fprintf(f, "{%s\"call_id\":", nl);
	json_str(f, c->call_id);
	fprintf(f, ",%s\"from\":", nl);
	json_str(f, c->from_uri);
	fprintf(f, ",%s\"to\":", nl);
	json_str(f, c->to_uri);
	fprintf(f, ",%s\"from_user\":", nl);
	json_str(f, c->from_user);
	fprintf(f, ",%s\"to_user\":", nl);
	json_str(f, c->to_user);
	fprintf(f, ",%s\"start\":%s,%s\"end\":%s,%s\"duration_s\":%.3f", nl, ts, nl, te, nl,
		end > c->start_ns && c->start_ns ? (double)(end - c->start_ns) / 1e9 : 0.0);
	if (c->answer_ns) {
		char ta[48];
		fmt_time(ta, sizeof(ta), c->answer_ns);
		fprintf(f, ",%s\"answer\":%s", nl, ta);
	}
	int incomplete = 0;
	for (uint32_t k = 0; k < n; k++)
		incomplete |= s[k].store_lost > 0;
	/* one-way audio: media from one party only, or (G.711, measured in line)
	 * one party sends 95 % silence while the other talks */
	int dir_pk[3] = {0, 0, 0}, dir_quiet[3] = {0, 0, 0}, dir_talk[3] = {0, 0, 0};
	for (uint32_t k = 0; k < n; k++) {
		int d = s[k].side == CR_SIDE_CALLER ? 1 : s[k].side == CR_SIDE_CALLEE ? 2 : 0;
		dir_pk[d] += s[k].packets > 0;
		dir_quiet[d] += s[k].silence_pct >= 95;
		dir_talk[d] += s[k].silence_pct >= 0 && s[k].silence_pct < 95;
	}
	int one_way = !row->unsignalled && c->answer_ns &&
		      ((dir_pk[1] > 0) != (dir_pk[2] > 0) ||
		       (dir_quiet[1] && !dir_talk[1] && dir_talk[2]) ||
		       (dir_quiet[2] && !dir_talk[2] && dir_talk[1]));
	fprintf(f, ",%s\"one_way_audio\":%s", nl, one_way ? "true" : "false");
	int recorded = row->unsignalled || c->record;
	fprintf(f, ",%s\"state\":\"%s\",%s\"sip_status\":%u,%s\"recorded\":%s,%s\"incomplete\":%s",
		nl, row->unsignalled ? "unsignalled" : cr_call_state_name(c->state), nl,
		c->sip_status, nl, recorded ? "true" : "false", nl, incomplete ? "true" : "false");
	/* which policy rule decided, and the retention class it gave */
	fprintf(f, ",%s\"policy_rule\":\"%s\",%s\"retention_class\":%u", nl,
		row->unsignalled || c->rule[0] == 0 ? "default" : c->rule, nl, c->rclass);
	/* on demand: the spans not recorded (pause/stop), from when to when, by what */
	fprintf(f, ",%s\"not_recorded_spans\":[", nl);
	for (unsigned i = 0; i < c->n_spans; i++) {
		char a[48], b[48] = "null";
		fmt_time(a, sizeof(a), c->spans[i].from_ns);
		if (c->spans[i].to_ns)
			fmt_time(b, sizeof(b), c->spans[i].to_ns);
		fprintf(f, "%s{\"from\":%s,\"to\":%s,\"kind\":\"%s\",\"by\":\"%s\"}", i ? "," : "", a, b,
			c->spans[i].stop ? "stop" : "pause", span_source(c->spans[i].source));
	}
	fprintf(f, "]");
	fprintf(f, ",%s\"dtmf\":", nl);
	/* all digits of the call: SIP INFO on the call, RFC 4733 on its streams */
	struct cr_dtmf all[CR_CALL_MAX_DTMF + 64] = {0};
	unsigned na = 0;
	for (unsigned i = 0; i < c->n_dtmf; i++)
		all[na++] = c->dtmf[i];
	for (uint32_t k = 0; k < n; k++)
		for (unsigned i = 0; i < s[k].n_dtmf && na < sizeof(all) / sizeof(all[0]); i++)
			all[na++] = s[k].dtmf[i];
	for (unsigned i = 1; i < na; i++) /* insertion sort by time: small n */
		for (unsigned j = i; j > 0 && all[j].t_ns < all[j - 1].t_ns; j--) {
			struct cr_dtmf x = all[j];
			all[j] = all[j - 1];
			all[j - 1] = x;
		}
	json_dtmf(f, all, na);
	fprintf(f, ",%s\"streams\":[", nl);
	for (uint32_t i = 0; i < n; i++) {
		const struct cr_stream_rec *r = &s[i];
		char a[64], b[64], t1[48], t2[48], silence[16] = "null";
		if (r->silence_pct >= 0)
			snprintf(silence, sizeof(silence), "%.1f", r->silence_pct);
		cr_addr_port_fmt(a, sizeof(a), &r->src, r->sport);
		cr_addr_port_fmt(b, sizeof(b), &r->dst, r->dport);
		fmt_time(t1, sizeof(t1), r->first_ns);
		fmt_time(t2, sizeof(t2), r->last_ns);
		fprintf(f,
			"%s%s{\"ssrc\":%" PRIu32 ",\"src\":\"%s\",\"dst\":\"%s\",\"direction\":\"%s\","
			"\"codec\":",
			i ? "," : "", pretty ? "\n    " : "", r->ssrc, a, b, side_name(r->side));
		json_str(f, r->codec);
		fprintf(f,
			",\"payload_type\":%u,\"clock_rate\":%u,\"packets\":%" PRIu64
			",\"lost\":%" PRId64 ",\"out_of_order\":%" PRIu64 ",\"duplicates\":%" PRIu64
			",\"max_jitter_ms\":%.3f,\"mean_jitter_ms\":%.3f,\"max_delta_ms\":%.3f"
			",\"mos\":%.2f,\"first\":%s,\"last\":%s,\"payload_bytes\":%" PRIu64
			",\"rtcp_packets\":%" PRIu64 ",\"srtp\":%s,\"decodable\":%s,"
			"\"not_stored\":%" PRIu64 ",\"jb_discards\":%" PRIu64 ",\"silence_pct\":%s,"
			"\"r_factor\":%.1f,\"dtmf\":",
			r->pt, r->clock_rate, r->packets, r->lost, r->out_of_order, r->duplicates,
			r->max_jitter_ms, r->mean_jitter_ms, r->max_delta_ms, r->mos, t1, t2,
			r->payload_bytes, r->rtcp_packets, r->is_srtp ? "true" : "false",
			cr_codec_find(r->codec) && !r->is_srtp ? "true" : "false", r->store_lost,
			r->jb_discards, silence, r->r_factor);
		json_dtmf(f, r->dtmf, r->n_dtmf);
		fputc('}', f);
	}
	fprintf(f, "%s]%s}\n", pretty && n ? "\n  " : "", pretty ? "\n" : "");
	return 0;
}

static int
print_row(void *ctx, const struct cr_index_call_row *row, const struct cr_stream_rec *s,
	  uint32_t n)
{
	struct out_ctx *o = ctx;
	o->n++;
	if (o->json)
		return print_json(stdout, row, s, n, o->detail);
	const struct cr_call *c = &row->call;
	char ts[48];
	fmt_time(ts, sizeof(ts), c->start_ns);
	int64_t end = call_end(row, s, n);
	if (!o->detail) {
		ts[strlen(ts) - 1] = 0; /* drop the JSON quotes for the table */
		printf("%-26.26s %-11s %3u %-16.16s %-16.16s %8.1fs %2u  %s\n", ts + 1,
		       row->unsignalled ? "unsignalled" : cr_call_state_name(c->state), c->sip_status,
		       c->from_user, c->to_user,
		       end > c->start_ns ? (double)(end - c->start_ns) / 1e9 : 0.0, n, c->call_id);
		return 0;
	}
	ts[strlen(ts) - 1] = 0;
	printf("Call-ID:  %s\nFrom:     %s (%s)\nTo:       %s (%s)\nStart:    %s\n", c->call_id,
	       c->from_uri, c->from_user, c->to_uri, c->to_user, ts[0] == '"' ? ts + 1 : ts);
	printf("State:    %s (SIP %u)\nDuration: %.3f s\nStreams:  %u\n",
	       row->unsignalled ? "unsignalled" : cr_call_state_name(c->state), c->sip_status,
	       end > c->start_ns ? (double)(end - c->start_ns) / 1e9 : 0.0, n);
	printf("Policy:   %s by %s, retention class %u\n",
	       row->unsignalled || c->record ? "recorded" : "not recorded",
	       row->unsignalled || c->rule[0] == 0 ? "default" : c->rule, c->rclass);
	for (unsigned i = 0; i < c->n_spans; i++) {
		char a[48], b[48] = "\"(end of call)\"";
		fmt_time(a, sizeof(a), c->spans[i].from_ns);
		if (c->spans[i].to_ns)
			fmt_time(b, sizeof(b), c->spans[i].to_ns);
		a[strlen(a) - 1] = 0;
		b[strlen(b) - 1] = 0;
		printf("Not recorded (%s by %s): %s - %s\n", c->spans[i].stop ? "stop" : "pause",
		       span_source(c->spans[i].source), a + 1, b + 1);
	}
	for (uint32_t i = 0; i < n; i++) {
		char a[64], b[64];
		cr_addr_port_fmt(a, sizeof(a), &s[i].src, s[i].sport);
		cr_addr_port_fmt(b, sizeof(b), &s[i].dst, s[i].dport);
		printf("  %s -> %s ssrc 0x%08X %s %s pt %u: %" PRIu64 " pkts, lost %" PRId64
		       ", jitter max %.3f mean %.3f ms, MOS %.2f\n",
		       a, b, s[i].ssrc, side_name(s[i].side), s[i].codec, s[i].pt, s[i].packets,
		       s[i].lost, s[i].max_jitter_ms, s[i].mean_jitter_ms, s[i].mos);
		if (!cr_codec_find(s[i].codec))
			printf("    stored losslessly; no decoder for %s in this build\n", s[i].codec);
		for (unsigned k = 0; k < s[i].n_dtmf; k++) {
			char td[48];
			fmt_time(td, sizeof(td), s[i].dtmf[k].t_ns);
			printf("    DTMF %c at %.23s (%u ms)\n", s[i].dtmf[k].digit, td + 1,
			       s[i].dtmf[k].duration_ms);
		}
	}
	for (unsigned k = 0; k < c->n_dtmf; k++) {
		char td[48];
		fmt_time(td, sizeof(td), c->dtmf[k].t_ns);
		printf("  DTMF %c at %.23s via SIP INFO (%u ms)\n", c->dtmf[k].digit, td + 1,
		       c->dtmf[k].duration_ms);
	}
	return 0;
}

/* the same lock callrecd holds: no repair under a running writer */
static int
lock_store(const char *store)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/.lock", store);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "callrec: store '%s' is in use (callrecd running?): %s\n", store,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
cmd_fsck(int argc, char **argv)
{
	static const struct option lo[] = {
		{"store", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"repair", no_argument, NULL, 'r'},	 {"rebuild-index", no_argument, NULL, 'b'},
		{"out", required_argument, NULL, 'o'},	 {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *store = NULL, *out = NULL;
	int json = 0, repair = 0, rebuild = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'j': json = 1; break;
		case 'r': repair = 1; break;
		case 'b': rebuild = 1; break;
		case 'o': out = optarg; break;
		case 'h': return usage(stdout, 0);
		default: return bad("unknown or incomplete option '%s'", argv[optind]);
		}
	}
	if (optind + 1 < argc)
		return bad("unexpected argument '%s'", argv[optind + 1]);
	if (store == NULL)
		return bad("%s", "--store DIR is required");
	if (repair && rebuild)
		return bad("%s", "--repair and --rebuild-index exclude each other");
	if (out && !rebuild)
		return bad("%s", "--out is for --rebuild-index");
	struct stat st;
	if (stat(store, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "callrec: no store at '%s'\n", store);
		return 1;
	}
	struct cr_fsck_report *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return 1;
	int lk = -1, rc = 0;
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/index.sqlite", store);
	if (repair || (rebuild && out == NULL))
		if ((lk = lock_store(store)) < 0) {
			free(r);
			return 1;
		}
	if ((repair || rebuild) && audit(store, repair ? "fsck-repair" : "rebuild-index", NULL,
					  out) != 0) {
		free(r);
		return 1;
	}
	if (repair) {
		struct cr_index *idx;
		rc = cr_index_open(path, CR_INDEX_RW, &idx);
		if (rc == 0) {
			rc = cr_fsck_recover(store, idx, r);
			cr_index_close(idx);
		}
		if (rc == 0 && !json)
			cr_fsck_print(stdout, r, 0);
	} else if (rebuild) {
		snprintf(tmp, sizeof(tmp), "%s", out ? out : path);
		if (out == NULL)
			snprintf(tmp, sizeof(tmp), "%s.rebuild", path);
		unlink(tmp);
		rc = cr_fsck_rebuild(store, tmp, r);
		if (rc == 0 && !json)
			cr_fsck_print(stdout, r, 0);
		if (rc == 0 && out == NULL) {
			char old[PATH_MAX + 16];
			static const char *const sfx[] = {"", "-wal", "-shm"};
			for (int i = 0; i < 3; i++) {
				char a[PATH_MAX + 16];
				snprintf(a, sizeof(a), "%s%s", path, sfx[i]);
				snprintf(old, sizeof(old), "%s.old%s", path, sfx[i]);
				if (rename(a, old) != 0 && errno != ENOENT)
					rc = -errno;
			}
			if (rc == 0 && rename(tmp, path) != 0)
				rc = -errno;
		}
	}
	if (rc == 0 && !(rebuild && out)) {
		rc = cr_fsck_check(store, r);
		if (rc == 0)
			cr_fsck_print(stdout, r, json);
	} else if (rc == 0 && json) {
		cr_fsck_print(stdout, r, 1);
	}
	if (lk >= 0)
		close(lk);
	int errors = r->errors != 0;
	free(r);
	if (rc != 0) {
		fprintf(stderr, "callrec: fsck: %s\n", strerror(-rc));
		return 1;
	}
	return errors ? 1 : 0;
}

static int
first_uid(void *ctx, const struct cr_index_call_row *row, const struct cr_stream_rec *s,
	  uint32_t n)
{
	(void)s;
	(void)n;
	if (row->unsignalled)
		return 0;
	*(uint64_t *)ctx = row->call.uid;
	return 1;
}

/* GET /metrics of a running callrecd (HTTP/1.0, numeric address) */
static char *
fetch_metrics(const char *spec)
{
	char host[64];
	snprintf(host, sizeof(host), "%s", spec);
	char *colon = strrchr(host, ':');
	if (colon == NULL)
		return NULL;
	*colon = 0;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return NULL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (m && send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1)) {
		char b[8192];
		ssize_t n;
		while ((n = recv(fd, b, sizeof(b), 0)) > 0)
			fwrite(b, 1, (size_t)n, m);
	}
	if (m)
		fclose(m);
	close(fd);
	char *body = buf ? strstr(buf, "\r\n\r\n") : NULL;
	if (body == NULL || strncmp(buf, "HTTP/1.0 200", 12) != 0) {
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

static double
metric(const char *text, const char *name)
{
	size_t l = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, l) == 0 && (p[l] == ' '))
			return strtod(p + l + 1, NULL);
	return 0;
}

static int
seg_sum(void *ctx, const struct cr_seg_rec *g)
{
	uint64_t *v = ctx;
	v[0]++;
	v[1] += g->bytes;
	v[2] += g->state == CR_SEG_OPEN;
	v[3] += g->state == CR_SEG_FAILED;
	return 0;
}

static int
count_call(void *ctx, const struct cr_index_call_row *row, const struct cr_stream_rec *s,
	   uint32_t n)
{
	uint64_t *v = ctx;
	v[0]++;
	v[1] += !row->unsignalled && !row->call.record;
	for (uint32_t i = 0; i < n; i++) {
		v[2]++;
		v[3] += s[i].packets;
		v[4] += s[i].store_lost;
	}
	return 0;
}

/* on-demand recording through a running callrecd's control socket */
static int
cmd_ctl(int argc, char **argv)
{
	if (argc < 3 || cr_rec_action_parse(argv[2], strlen(argv[2])) <= 0)
		return bad("%s", "ctl needs an action: start, stop, pause or resume");
	int action = cr_rec_action_parse(argv[2], strlen(argv[2]));
	static const struct option lo[] = {
		{"store", required_argument, NULL, 's'}, {"socket", required_argument, NULL, 'S'},
		{"call-id", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0},
	};
	const char *store = NULL, *sock = NULL, *cid = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc - 2, argv + 2, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'S': sock = optarg; break;
		case 'i': cid = optarg; break;
		default: return bad("unknown or incomplete option '%s'", argv[optind + 1]);
		}
	}
	if (optind + 2 < argc)
		return bad("unexpected argument '%s'", argv[optind + 2]);
	if (cid == NULL || (store == NULL && sock == NULL))
		return bad("%s", "ctl needs --call-id ID and --store DIR or --socket PATH");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (sock)
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	else
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", store);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "callrec: cannot reach callrecd at %s: %s\n", sa.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	char req[512], ans[256] = "";
	int n = snprintf(req, sizeof(req), "%s %s\n", cr_rec_action_name(action), cid);
	ssize_t k = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n ? recv(fd, ans, sizeof(ans) - 1, 0) : -1;
	close(fd);
	if (k <= 0) {
		fprintf(stderr, "callrec: no answer from callrecd\n");
		return 1;
	}
	ans[k] = 0;
	printf("%s", ans);
	return strncmp(ans, "ok", 2) == 0 ? 0 : 1;
}

/* what a store holds, and what a running callrecd reports */
static int
cmd_stats(int argc, char **argv)
{
	static const struct option lo[] = {
		{"store", required_argument, NULL, 's'}, {"metrics", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},	 {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *store = NULL, *addr = NULL;
	int json = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'm': addr = optarg; break;
		case 'j': json = 1; break;
		case 'h': return usage(stdout, 0);
		default: return bad("unknown or incomplete option '%s'", argv[optind]);
		}
	}
	if (optind + 1 < argc)
		return bad("unexpected argument '%s'", argv[optind + 1]);
	if (store == NULL && addr == NULL)
		return bad("%s", "stats needs --store DIR and/or --metrics ADDR:PORT");
	uint64_t sg[4] = {0}, cl[5] = {0};
	if (store) {
		struct cr_index *idx = open_store_index(store, CR_INDEX_RO);
		if (idx == NULL)
			return 1;
		int r = 0;
		struct cr_index_filter f;
		memset(&f, 0, sizeof(f));
		if (cr_index_segments(idx, seg_sum, sg) != 0 || cr_index_query(idx, &f, count_call, cl) != 0)
			r = -EIO;
		cr_index_close(idx);
		if (r != 0) {
			fprintf(stderr, "callrec: cannot read the index of '%s'\n", store);
			return 1;
		}
	}
	char *m = NULL;
	if (addr && (m = fetch_metrics(addr)) == NULL) {
		fprintf(stderr, "callrec: no metrics at %s (is callrecd running with [telemetry] listen?)\n",
			addr);
		return 1;
	}
	if (json) {
		printf("{");
		if (store)
			printf("\"store\":{\"calls\":%" PRIu64 ",\"calls_not_recorded\":%" PRIu64
			       ",\"streams\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"not_stored\":%" PRIu64
			       ",\"segments\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"open_segments\":%" PRIu64
			       ",\"failed_segments\":%" PRIu64 "}",
			       cl[0], cl[1], cl[2], cl[3], cl[4], sg[0], sg[1], sg[2], sg[3]);
		if (m)
			printf("%s\"live\":{\"received\":%.0f,\"active_calls\":%.0f,\"calls\":%.0f,"
			       "\"store_bytes\":%.0f,\"store_alarm\":%.0f,\"index_lag\":%.0f}",
			       store ? "," : "", metric(m, "callrec_packets_received_total"),
			       metric(m, "callrec_active_calls"), metric(m, "callrec_calls_total"),
			       metric(m, "callrec_store_bytes_total"), metric(m, "callrec_store_alarm"),
			       metric(m, "callrec_index_lag"));
		printf("}\n");
	} else {
		if (store)
			printf("store %s: %" PRIu64 " calls (%" PRIu64 " not recorded by policy), %" PRIu64
			       " streams, %" PRIu64 " packets (%" PRIu64 " not stored); %" PRIu64
			       " segments, %" PRIu64 " bytes (%" PRIu64 " open, %" PRIu64 " failed)\n",
			       store, cl[0], cl[1], cl[2], cl[3], cl[4], sg[0], sg[1], sg[2], sg[3]);
		if (m)
			printf("callrecd %s: %.0f packets received, %.0f calls now (%.0f seen), %.0f bytes "
			       "stored, store alarm %.0f, index lag %.0f\n",
			       addr, metric(m, "callrec_packets_received_total"),
			       metric(m, "callrec_active_calls"), metric(m, "callrec_calls_total"),
			       metric(m, "callrec_store_bytes_total"), metric(m, "callrec_store_alarm"),
			       metric(m, "callrec_index_lag"));
	}
	free(m);
	return 0;
}

/* retention and legal holds share their options */
static int
cmd_retain(int argc, char **argv, int is_hold)
{
	static const struct option lo[] = {
		{"store", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
		{"now", required_argument, NULL, 'n'},	 {"dry-run", no_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},	 {"call-id", required_argument, NULL, 'i'},
		{"release", no_argument, NULL, 'r'},	 {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *store = NULL, *config = NULL, *call_id = NULL;
	int64_t now = 0;
	int dry = 0, json = 0, release = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'c': if (is_hold) return bad("%s", "--config is for 'retention'"); config = optarg; break;
		case 'n':
			if (is_hold || parse_time(optarg, &now) != 0)
				return bad("--now: '%s' is not a time (ISO 8601 UTC or epoch seconds)", optarg);
			break;
		case 'd': if (is_hold) return bad("%s", "--dry-run is for 'retention'"); dry = 1; break;
		case 'j': json = 1; break;
		case 'i': if (!is_hold) return bad("%s", "--call-id is for 'hold'"); call_id = optarg; break;
		case 'r': if (!is_hold) return bad("%s", "--release is for 'hold'"); release = 1; break;
		case 'h': return usage(stdout, 0);
		default: return bad("unknown or incomplete option '%s'", argv[optind]);
		}
	}
	if (optind + 1 < argc)
		return bad("unexpected argument '%s'", argv[optind + 1]);
	if (store == NULL)
		return bad("%s", "--store DIR is required");
	if (is_hold && call_id == NULL)
		return bad("%s", "hold needs --call-id ID");
	struct cr_retain_policy pol;
	cr_retain_defaults(&pol);
	char err[256];
	if (config && cr_retain_load(&pol, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "callrec: %s: %s\n", config, err);
		return 2;
	}
	struct cr_index *idx = open_store_index(store, is_hold ? CR_INDEX_RO : CR_INDEX_RW);
	if (idx == NULL)
		return 1;
	int r;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t wall = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (is_hold) {
		struct cr_index_filter f = {.call_id = call_id};
		uint64_t uid = 0;
		r = cr_index_query(idx, &f, first_uid, &uid);
		cr_index_close(idx);
		if (uid == 0) {
			fprintf(stderr, "callrec: no call with Call-ID '%s'\n", call_id);
			return 1;
		}
		char uids[32], pcid[1200];
		snprintf(uids, sizeof(uids), "%llu", (unsigned long long)uid);
		if (audit(store, release ? "release" : "hold", call_id, uids) != 0)
			return 1;
		/* the holds file names the call as the index does (protected) */
		const char *hid = call_id;
		if (g_sec.have_fk && cr_field_protect(&g_sec.fk, call_id, pcid, sizeof(pcid)) == 0)
			hid = pcid;
		r = cr_hold_set(store, uid, hid, !release, wall);
		if (r != 0) {
			fprintf(stderr, "callrec: hold: %s\n", strerror(-r));
			return 1;
		}
		printf("%s legal hold on call %s\n", release ? "released" : "put a", call_id);
		return 0;
	}
	struct cr_retain_report rep;
	pol.signer = g_sec.signer;
	char mpath[PATH_MAX];
	snprintf(mpath, sizeof(mpath), "%s/manifest.log", store);
	if (!dry && g_sec.signer == NULL && access(mpath, F_OK) == 0) {
		cr_index_close(idx);
		fprintf(stderr, "callrec: %s keeps a signed manifest: deleting needs --sign-key FILE "
				"(or --dry-run)\n", store);
		return 1;
	}
	if (!dry && audit(store, "retention", NULL, now ? "simulated clock" : NULL) != 0) {
		cr_index_close(idx);
		return 1;
	}
	r = cr_retain_run(store, idx, &pol, now ? now : wall, dry, &rep, json ? NULL : stdout);
	cr_index_close(idx);
	if (r != 0) {
		fprintf(stderr, "callrec: retention: %s\n", strerror(-r));
		return 1;
	}
	if (json)
		printf("{\"segments\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"expired\":%" PRIu64
		       ",\"expired_bytes\":%" PRIu64 ",\"quota\":%" PRIu64 ",\"quota_bytes\":%" PRIu64
		       ",\"held\":%" PRIu64 ",\"calls\":%" PRIu64 ",\"over_quota\":%s,\"dry_run\":%s}\n",
		       rep.segments, rep.bytes, rep.expired, rep.expired_bytes, rep.quota,
		       rep.quota_bytes, rep.held, rep.calls, rep.over_quota ? "true" : "false",
		       dry ? "true" : "false");
	else
		printf("%" PRIu64 " segments: %" PRIu64 " past retention, %" PRIu64
		       " over quota %s, %" PRIu64 " kept by legal hold, %" PRIu64 " calls deleted%s\n",
		       rep.segments, rep.expired, rep.quota, dry ? "would be deleted" : "deleted",
		       rep.held, rep.calls, rep.over_quota ? "; STILL OVER QUOTA" : "");
	return 0;
}

/* Take the key options out of argv (they apply to every command). */
static int
prescan(int *argc, char **argv)
{
	cr_audit_actor(g_sec.actor, sizeof(g_sec.actor));
	const char *store = NULL;
	char err[512];
	int o = 1;
	for (int i = 1; i < *argc; i++) {
		static const char *const names[] = {"--key-file", "--key-command", "--sign-key",
						    "--pubkey"};
		int k = -1;
		const char *val = NULL;
		for (int j = 0; j < 4; j++) {
			size_t l = strlen(names[j]);
			if (strcmp(argv[i], names[j]) == 0) {
				k = j;
				if (i + 1 >= *argc)
					return bad("%s needs an argument", names[j]);
				val = argv[++i];
			} else if (strncmp(argv[i], names[j], l) == 0 && argv[i][l] == '=') {
				k = j;
				val = argv[i] + l + 1;
			}
			if (k >= 0)
				break;
		}
		if ((strcmp(argv[i], "--store") == 0) && i + 1 < *argc)
			store = argv[i + 1];
		if (k < 0) {
			argv[o++] = argv[i];
			continue;
		}
		int r = k == 0	 ? cr_keyring_load(&g_sec.kr, val, err, sizeof(err))
			: k == 1 ? cr_keyring_load_cmd(&g_sec.kr, val, err, sizeof(err))
			: k == 2 ? cr_sign_load(&g_sec.signer, val, 1, err, sizeof(err))
				 : cr_sign_load(&g_sec.pubkey, val, 0, err, sizeof(err));
		if (r != 0) {
			fprintf(stderr, "callrec: %s\n", err);
			return 2;
		}
	}
	*argc = o;
	argv[o] = NULL;
	const char *kc = getenv("CALLREC_KEY_COMMAND"); /* the KMS hook, as callrecd */
	if (g_sec.kr.n == 0 && kc && *kc && cr_keyring_load_cmd(&g_sec.kr, kc, err, sizeof(err)) != 0) {
		fprintf(stderr, "callrec: CALLREC_KEY_COMMAND: %s\n", err);
		return 2;
	}
	if (g_sec.kr.n)
		cr_store_set_keyring(&g_sec.kr);
	if (store && g_sec.kr.n) {
		uint8_t secret[32];
		int mode;
		int r = cr_store_index_secret(store, &g_sec.kr, 0, secret, &mode, err, sizeof(err));
		if (r == 0 && cr_fieldkey_init(&g_sec.fk, (enum cr_pii_mode)mode, secret) == 0) {
			g_sec.have_fk = 1;
			cr_index_set_default_fieldkey(&g_sec.fk);
		} else if (r != -ENOENT) {
			fprintf(stderr, "callrec: %s\n", err);
			return 1;
		}
		cr_wipe(secret, sizeof(secret));
	}
	return 0;
}

static int
cmd_keys(int argc, char **argv)
{
	const char *sub = argc > 2 ? argv[2] : "";
	const char *out = NULL, *store = NULL;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else
			return bad("keys: unexpected argument '%s'", argv[i]);
	}
	if (strcmp(sub, "new") == 0 || strcmp(sub, "new-signing") == 0) {
		if (out == NULL)
			return bad("keys %s needs --out FILE", sub);
		uint64_t id = 0;
		int r = sub[3] ? cr_sign_new_files(out) : cr_key_file_new(out, &id);
		if (r != 0) {
			fprintf(stderr, "callrec: cannot create %s: %s\n", out, strerror(-r));
			return 1;
		}
		if (sub[3])
			printf("wrote %s (private, 0600) and %s.pub\n", out, out);
		else
			printf("wrote %s (mode 0600), key id %016llx\n", out, (unsigned long long)id);
		return 0;
	}
	if (strcmp(sub, "rotate") == 0) {
		if (store == NULL)
			return bad("%s", "keys rotate needs --store DIR");
		if (g_sec.kr.n < 1)
			return bad("%s", "keys rotate needs --key-file NEW (first) and the old key files");
		char id[32];
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)g_sec.kr.k[0].id);
		if (audit(store, "keys-rotate", id, NULL) != 0)
			return 1;
		struct cr_rotate_report rep;
		int r = cr_store_rotate(store, &g_sec.kr, &rep, stderr);
		printf("%llu encrypted files: %llu re-wrapped to key %s, %llu already, %llu failed\n",
		       (unsigned long long)rep.files, (unsigned long long)rep.rewrapped, id,
		       (unsigned long long)rep.already, (unsigned long long)rep.failed);
		return r != 0 || rep.failed ? 1 : 0;
	}
	return bad("keys: '%s' is not new, new-signing or rotate", sub);
}

static int
cmd_verify(int argc, char **argv)
{
	const char *store = NULL;
	int json = 0, no_index = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--no-index") == 0)
			no_index = 1;
		else
			return bad("verify: unexpected argument '%s'", argv[i]);
	}
	if (store == NULL)
		return bad("%s", "verify needs --store DIR");
	if (g_sec.pubkey == NULL && g_sec.signer)
		g_sec.pubkey = g_sec.signer; /* a private key verifies too */
	struct cr_fsck_report *rep = calloc(1, sizeof(*rep));
	if (rep == NULL)
		return 1;
	int r = cr_fsck_verify(store, g_sec.pubkey, !no_index, rep);
	if (r != 0) {
		fprintf(stderr, "callrec: verify failed: %s\n", strerror(-r));
		free(rep);
		return 1;
	}
	if (json) {
		cr_fsck_print(stdout, rep, 1);
	} else {
		printf("manifest: %llu lines; %llu segments sealed, %llu deleted by retention; "
		       "%llu files: %llu changed, %llu removed, %llu unlisted; %llu index rows differ\n",
		       (unsigned long long)rep->manifest_lines, (unsigned long long)rep->manifest_sealed,
		       (unsigned long long)rep->manifest_deleted, (unsigned long long)rep->segments,
		       (unsigned long long)rep->changed_segments,
		       (unsigned long long)rep->removed_segments,
		       (unsigned long long)rep->unlisted_segments,
		       (unsigned long long)rep->index_rows_differ);
		for (uint32_t i = 0; i < rep->n_msgs; i++)
			printf("%s\n", rep->msgs[i]);
		printf("%s\n", rep->errors ? "TAMPERING OR DAMAGE FOUND" : "verified");
	}
	int rc = rep->errors ? 1 : 0;
	free(rep);
	return rc;
}

static int
audit_print(void *ctx, uint64_t n, const char *body)
{
	(void)n;
	int json = *(int *)ctx;
	if (!json) {
		printf("%s\n", body);
		return 0;
	}
	unsigned long long nn;
	long long t;
	char a[160], act[64], ob[1300], d[600];
	if (sscanf(body, "v1 %llu %lld %159s %63s %1299s %599s", &nn, &t, a, act, ob, d) != 6)
		return 0;
	printf("{\"n\":%llu,\"t_ns\":%lld,\"actor\":", nn, t);
	json_str(stdout, a);
	printf(",\"action\":");
	json_str(stdout, act);
	printf(",\"object\":");
	json_str(stdout, ob);
	printf(",\"detail\":");
	json_str(stdout, d);
	printf("}\n");
	return 0;
}

static int
cmd_audit(int argc, char **argv)
{
	const char *store = NULL;
	int json = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return bad("audit: unexpected argument '%s'", argv[i]);
	}
	if (store == NULL)
		return bad("%s", "audit needs --store DIR");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/audit.log", store);
	uint64_t lines = 0;
	int r = cr_chainlog_read(path, NULL, audit_print, &json, &lines);
	if (r == -ENOENT) {
		fprintf(stderr, "callrec: %s: no audit log yet\n", store);
		return 0;
	}
	if (r != 0) {
		fprintf(stderr, "callrec: audit log line %llu: %s\n", (unsigned long long)lines,
			r == -EBADMSG ? "does not parse or breaks the hash chain: edited, removed or "
					"reordered lines"
				      : strerror(-r));
		return 1;
	}
	fprintf(stderr, "audit log: %llu lines, hash chain intact\n", (unsigned long long)lines);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	umask(027); /* audit log, index and rebuilt files: no access for others */
	int pr = prescan(&argc, argv);
	if (pr != 0)
		return pr;
	const char *cmd = argv[1];
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(argc, argv);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return usage(stdout, 0);
	int is_calls = strcmp(cmd, "calls") == 0, is_show = strcmp(cmd, "show") == 0;
	int is_export = strcmp(cmd, "export") == 0;
	if (strcmp(cmd, "fsck") == 0)
		return cmd_fsck(argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc, argv);
	if (strcmp(cmd, "ctl") == 0)
		return cmd_ctl(argc, argv);
	if (strcmp(cmd, "retention") == 0 || strcmp(cmd, "hold") == 0)
		return cmd_retain(argc, argv, cmd[0] == 'h');
	if (!is_calls && !is_show && !is_export) {
		return bad("unknown command '%s'", cmd);
	}
	static const struct option lo[] = {
		{"store", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"from", required_argument, NULL, 'f'},	 {"to", required_argument, NULL, 't'},
		{"since", required_argument, NULL, 'S'}, {"until", required_argument, NULL, 'U'},
		{"call-id", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
		{"out", required_argument, NULL, 'o'},	   {"format", required_argument, NULL, 'F'},
		{"channels", required_argument, NULL, 'C'}, {"rate", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	struct cr_index_filter flt;
	memset(&flt, 0, sizeof(flt));
	const char *store = NULL;
	struct out_ctx o = {.detail = is_show};
	struct cr_export_opts xo = {0};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'j': o.json = 1; break;
		case 'f':
			if (!is_calls)
				return bad("%s", "--from is for 'calls'");
			flt.from = optarg;
			break;
		case 't':
			if (!is_calls)
				return bad("%s", "--to is for 'calls'");
			flt.to = optarg;
			break;
		case 'S':
			if (!is_calls || parse_time(optarg, &flt.since_ns) != 0)
				return bad("--since: '%s' is not a time (ISO 8601 UTC or epoch seconds)", optarg);
			break;
		case 'U':
			if (!is_calls || parse_time(optarg, &flt.until_ns) != 0)
				return bad("--until: '%s' is not a time (ISO 8601 UTC or epoch seconds)", optarg);
			break;
		case 'i': flt.call_id = optarg; break;
		case 'o':
			if (!is_export)
				return bad("%s", "--out is for 'export'");
			xo.out_path = optarg;
			break;
		case 'F':
			if (!is_export || (strcmp(optarg, "wav") && strcmp(optarg, "opus")))
				return bad("--format: '%s' is not wav or opus", optarg);
			xo.opus = strcmp(optarg, "opus") == 0;
			break;
		case 'C':
			if (!is_export || (strcmp(optarg, "stereo") && strcmp(optarg, "mono")))
				return bad("--channels: '%s' is not stereo or mono", optarg);
			xo.mono = strcmp(optarg, "mono") == 0;
			break;
		case 'R': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!is_export || *end || v < 8000 || v > 192000)
				return bad("--rate: '%s' is not a sample rate from 8000 to 192000", optarg);
			xo.rate = (uint32_t)v;
			break;
		}
		case 'h': return usage(stdout, 0);
		default:
			return bad("unknown or incomplete option '%s'", argv[optind]);
		}
	}
	if (optind + 1 < argc)
		return bad("unexpected argument '%s'", argv[optind + 1]);
	if (store == NULL)
		return bad("%s", "--store DIR is required");
	if ((is_show || is_export) && flt.call_id == NULL)
		return bad("%s", "this command needs --call-id ID");
	if (is_export && xo.out_path == NULL)
		return bad("%s", "export needs --out FILE");
	struct cr_index *idx = open_store_index(store, CR_INDEX_RO);
	if (idx == NULL)
		return 1;
	int r;
	if ((is_export || is_show) &&
	    audit(store, is_export ? "export" : "show", flt.call_id,
		  is_export ? xo.out_path : NULL) != 0) {
		cr_index_close(idx);
		return 1;
	}
	char kp[PATH_MAX];
	snprintf(kp, sizeof(kp), "%s/index.key", store);
	if ((is_export || is_show) && !g_sec.have_fk && access(kp, F_OK) == 0) {
		cr_index_close(idx);
		fprintf(stderr, "callrec: %s is encrypted: give its master key (--key-file FILE "
				"or --key-command CMD)\n", store);
		return 1;
	}
	if (is_export) {
		char err[512] = "";
		struct cr_export_result res;
		xo.store_dir = store;
		xo.call_id = flt.call_id;
		r = cr_export_call(idx, &xo, &res, err, sizeof(err));
		cr_index_close(idx);
		if (r != 0) {
			fprintf(stderr, "callrec: export failed: %s\n", err[0] ? err : strerror(-r));
			return 1;
		}
		fprintf(stderr,
			"callrec: wrote %s (%s): %.3f s, %u Hz, %s, %u stream(s) decoded, %u not "
			"decodable, %llu packets, %llu ms concealed, %llu ms comfort noise\n",
			xo.out_path, xo.opus ? "Ogg Opus" : "WAV", res.duration_s, res.rate,
			xo.mono ? "mono" : "stereo",
			res.streams_decoded, res.streams_skipped, (unsigned long long)res.packets,
			(unsigned long long)res.concealed_ms, (unsigned long long)res.cn_ms);
		return 0;
	}
	r = cr_index_query(idx, &flt, print_row, &o);
	if (r != 0) {
		fprintf(stderr, "callrec: index query failed: %s\n", cr_index_errmsg(idx));
		cr_index_close(idx);
		return 1;
	}
	cr_index_close(idx);
	if (is_show && o.n == 0) {
		fprintf(stderr, "callrec: no call with Call-ID '%s'\n", flt.call_id);
		return 1;
	}
	return 0;
}
