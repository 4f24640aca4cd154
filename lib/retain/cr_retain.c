/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_manifest.h"
#include "cr_retain.h"
#include "cr_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cfgfile.h>
#include <rte_common.h>

#define DAY_NS (86400LL * 1000000000LL)

void
cr_retain_defaults(struct cr_retain_policy *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->cls[0].name, sizeof(p->cls[0].name), "default");
	p->cls[0].days = 90;
	p->cls[0].min_days = 90;
	p->n = 1;
}

int
cr_retain_load_cfg(struct cr_retain_policy *p, struct rte_cfgfile *cf, char *err, size_t errlen)
{
	struct rte_cfgfile_entry ent[CR_RETAIN_MAX_CLASSES + 4];
	int n = rte_cfgfile_section_entries(cf, "retention", ent, (int)RTE_DIM(ent));
	int r = 0;
	for (int i = 0; i < n && r == 0; i++) {
		if (strcmp(ent[i].name, "check_s") == 0)
			continue; /* callrecd's cleaner interval */
		r = cr_retain_set(p, ent[i].name, ent[i].value, err, errlen);
	}
	return r;
}

int
cr_retain_load(struct cr_retain_policy *p, const char *path, char *err, size_t errlen)
{
	struct rte_cfgfile *cf = rte_cfgfile_load(path, 0);
	if (cf == NULL) {
		snprintf(err, errlen, "cannot load %s", path);
		return -EINVAL;
	}
	int r = cr_retain_load_cfg(p, cf, err, errlen);
	rte_cfgfile_close(cf);
	return r;
}

int
cr_retain_set(struct cr_retain_policy *p, const char *key, const char *value, char *err,
	      size_t errlen)
{
	char *end;
	if (strcmp(key, "quota") == 0) {
		errno = 0;
		unsigned long long g = strtoull(value, &end, 10);
		int sh = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : *end == 'T' ? 40 : -1;
		if (errno || end == value || sh < 0 || end[1] || g > (1ull << 20)) {
			snprintf(err, errlen, "quota: '%s' is not a size (e.g. 500G, 2T)", value);
			return -EINVAL;
		}
		p->quota_bytes = (uint64_t)g << sh;
		return 0;
	}
	unsigned long d = strtoul(value, &end, 10), m = d;
	if (end != value && *end == '/')
		m = strtoul(end + 1, &end, 10);
	if (end == value || *end || d < 1 || d > 36500 || m > d) {
		snprintf(err, errlen, "%s: '%s' is not DAYS[/MIN_DAYS] (1..36500, MIN_DAYS <= DAYS)",
			 key, value);
		return -EINVAL;
	}
	unsigned i = 0;
	while (i < p->n && strcmp(p->cls[i].name, key) != 0)
		i++;
	if (i == p->n) {
		if (p->n == CR_RETAIN_MAX_CLASSES || strlen(key) >= sizeof(p->cls[0].name)) {
			snprintf(err, errlen, "%s: too many retention classes or too long a name", key);
			return -EINVAL;
		}
		snprintf(p->cls[p->n++].name, sizeof(p->cls[0].name), "%s", key);
	}
	p->cls[i].days = (uint32_t)d;
	p->cls[i].min_days = (uint32_t)m;
	return 0;
}

/* ---- legal holds: "hold|release UID NS CALL-ID" lines, last word wins ---- */

int
cr_hold_set(const char *store, uint64_t call_uid, const char *call_id, int hold, int64_t now_ns)
{
	char path[PATH_MAX], line[512];
	snprintf(path, sizeof(path), "%s/holds", store);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int n = snprintf(line, sizeof(line), "%s %" PRIu64 " %" PRId64 " %s\n",
			 hold ? "hold" : "release", call_uid, now_ns, call_id ? call_id : "-");
	int r = 0;
	if (n < 0 || (size_t)n >= sizeof(line) || write(fd, line, (size_t)n) != n)
		r = -EIO;
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

struct holds {
	uint64_t *v;
	size_t n;
};

static int
holds_load(const char *store, struct holds *h)
{
	h->v = NULL;
	h->n = 0;
	char path[PATH_MAX], line[512];
	snprintf(path, sizeof(path), "%s/holds", store);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		char what[16];
		unsigned long long uid;
		if (sscanf(line, "%15s %llu", what, &uid) != 2)
			continue;
		size_t i = 0;
		while (i < h->n && h->v[i] != uid)
			i++;
		if (strcmp(what, "hold") == 0 && i == h->n) {
			if (h->n == cap) {
				cap = cap ? cap * 2 : 64;
				uint64_t *nv = realloc(h->v, cap * sizeof(*nv));
				if (nv == NULL) {
					fclose(f);
					return -ENOMEM;
				}
				h->v = nv;
			}
			h->v[h->n++] = uid;
		} else if (strcmp(what, "release") == 0 && i < h->n) {
			h->v[i] = h->v[--h->n];
		}
	}
	fclose(f);
	return 0;
}

static int
is_held(void *ctx, uint64_t uid)
{
	const struct holds *h = ctx;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i] == uid)
			return 1;
	return 0;
}

int
cr_hold_get(const char *store, uint64_t call_uid)
{
	struct holds h;
	int r = holds_load(store, &h);
	if (r == 0)
		r = is_held(&h, call_uid);
	free(h.v);
	return r;
}

/* ---- the pass ---- */

struct segs {
	struct cr_seg_rec *v;
	size_t n, cap;
};

static int
collect(void *ctx, const struct cr_seg_rec *g)
{
	struct segs *S = ctx;
	if (cr_grow(&S->v, &S->cap, S->n, sizeof(*S->v), 256) != 0)
		return -ENOMEM;
	S->v[S->n++] = *g;
	return 0;
}

static int
any_held(void *ctx, uint64_t uid)
{
	return is_held(ctx, uid) ? 1 : 0;
}

static int
by_age(const void *a, const void *b)
{
	const struct cr_seg_rec *x = a, *y = b;
	return x->last_ns < y->last_ns ? -1 : x->last_ns > y->last_ns ? 1 : strcmp(x->rel, y->rel);
}

static int
delete_seg(const char *store, struct cr_index *idx, const struct cr_seg_rec *g, int dry_run,
	   FILE *log, const char *why, struct cr_signer *sk)
{
	if (log)
		fprintf(log, "%s %s (%" PRIu64 " bytes): %s\n", dry_run ? "would delete" : "deleted",
			g->rel, g->bytes, why);
	if (dry_run)
		return 0;
	char path[PATH_MAX], mpath[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", store, g->rel);
	snprintf(mpath, sizeof(mpath), "%s/manifest.log", store);
	/* the deletion is in the signed manifest before the file goes, so that
	 * verify tells retention from removal */
	if (access(mpath, F_OK) == 0) {
		/* the seal line holds its digest: reading a whole segment back
		 * just before deleting it would be wasted I/O */
		struct stat st;
		uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
		int64_t m = cr_manifest_append(store, sk, "delete", g->rel, size, NULL, 0);
		if (m < 0)
			return (int)m;
	}
	/* crypto-erasure: without its key slots no copy of the file decrypts */
	int sr = cr_seg_shred_keys(path);
	if (sr != 0)
		return sr;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	/* the file goes first: a crash in between leaves a row fsck reports */
	return cr_index_drop_segment(idx, g->rel);
}

int
cr_retain_run(const char *store, struct cr_index *idx, const struct cr_retain_policy *p,
	      int64_t now_ns, int dry_run, struct cr_retain_report *r, FILE *log)
{
	memset(r, 0, sizeof(*r));
	struct holds h;
	int rc = holds_load(store, &h);
	if (rc != 0)
		return rc;
	struct segs S = {NULL, 0, 0};
	rc = cr_index_segments(idx, collect, &S);
	if (rc == 0 && S.n) /* qsort(NULL, 0) is undefined */
		qsort(S.v, S.n, sizeof(*S.v), by_age);
	uint32_t max_days = 0;
	for (unsigned i = 0; i < p->n; i++)
		if (p->cls[i].days > max_days)
			max_days = p->cls[i].days;
	uint64_t total = 0;
	for (size_t i = 0; i < S.n; i++)
		total += S.v[i].bytes;
	r->segments = S.n;
	r->bytes = total;
	/* meta segments from around a held call's audio keep its records */
	struct span {
		int64_t a, b;
	} *held_span = calloc(S.n ? S.n : 1, sizeof(*held_span));
	size_t n_span = 0;
	if (held_span == NULL)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < S.n && h.n; i++)
		if (S.v[i].kind == CR_SEG_KIND_DATA &&
		    cr_index_segment_calls(idx, S.v[i].rel, any_held, &h) == 1) {
			/* its signalling precedes and follows its audio */
			held_span[n_span].a = S.v[i].first_ns - DAY_NS;
			held_span[n_span++].b = S.v[i].last_ns + DAY_NS;
		}
	if (rc == 0)
		rc = cr_index_begin(idx);
	for (int pass = 0; rc == 0 && pass < 2; pass++) {
		/* pass 0: expired; pass 1: over quota, oldest first, past min_days */
		for (size_t i = 0; rc == 0 && i < S.n; i++) {
			struct cr_seg_rec *g = &S.v[i];
			if (g->rel[0] == 0 || g->state == CR_SEG_OPEN)
				continue; /* deleted already, or still written */
			const struct cr_retain_class *c =
				&p->cls[g->rclass < p->n ? g->rclass : 0];
			int64_t age = now_ns - g->last_ns;
			if (pass == 1 && (p->quota_bytes == 0 || total <= p->quota_bytes))
				break;
			if (g->kind == CR_SEG_KIND_META)
				continue; /* below, once the data they describe is decided */
			int64_t limit = (int64_t)(pass ? c->min_days : c->days) * DAY_NS;
			if (age < limit)
				continue;
			int held = h.n ? cr_index_segment_calls(idx, g->rel, any_held, &h) : 0;
			if (held < 0) {
				rc = held;
				break;
			}
			if (held) {
				if (pass == 0)
					r->held++;
				continue;
			}
			rc = delete_seg(store, idx, g, dry_run, log,
					pass ? "over quota" : "past retention", p->signer);
			if (pass) {
				r->quota++;
				r->quota_bytes += g->bytes;
			} else {
				r->expired++;
				r->expired_bytes += g->bytes;
			}
			total -= g->bytes;
			g->rel[0] = 0;
		}
	}
	/* Meta segments hold the records of calls of every class: one goes when
	 * it is past the default class's retention (min_days under quota
	 * pressure), no remaining audio lies in its time span, and no held call
	 * does. */
	int pressure = p->quota_bytes && total > p->quota_bytes;
	for (size_t i = 0; rc == 0 && i < S.n; i++) {
		struct cr_seg_rec *g = &S.v[i];
		if (g->rel[0] == 0 || g->kind != CR_SEG_KIND_META || g->state == CR_SEG_OPEN)
			continue;
		uint32_t days = pressure ? p->cls[0].min_days : p->cls[0].days;
		if (now_ns - g->last_ns < (int64_t)days * DAY_NS)
			continue;
		int keep = 0;
		for (size_t k = 0; !keep && k < n_span; k++)
			keep = !(g->last_ns < held_span[k].a || g->first_ns > held_span[k].b);
		if (keep) {
			r->held++;
			continue;
		}
		for (size_t k = 0; !keep && k < S.n; k++)
			keep = S.v[k].rel[0] && S.v[k].kind == CR_SEG_KIND_DATA &&
			       !(g->last_ns < S.v[k].first_ns - DAY_NS ||
				 g->first_ns > S.v[k].last_ns + DAY_NS);
		if (keep)
			continue;
		rc = delete_seg(store, idx, g, dry_run, log, "its calls' audio is gone", p->signer);
		r->expired++;
		r->expired_bytes += g->bytes;
		total -= g->bytes;
		g->rel[0] = 0;
	}
	r->over_quota = p->quota_bytes && total > p->quota_bytes;
	/* calls left without audio, past the default class's retention */
	if (rc == 0 && !dry_run)
		rc = cr_index_purge_calls(idx, now_ns - (int64_t)p->cls[0].days * DAY_NS, is_held, &h,
					  &r->calls);
	if (rc == 0)
		rc = cr_index_commit(idx);
	else
		cr_index_commit(idx);
	free(held_span);
	free(S.v);
	free(h.v);
	return rc;
}
