/* SPDX-License-Identifier: BSD-3-Clause */
#include "cr_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>

#define MAX_RULES 256
#define MAX_GROUPS 64
#define MAX_PATS 4096 /* numbers and prefixes over all groups */
#define MAX_NETS 256
#define MAX_CONDS 8

struct pat {
	char s[40];
	uint8_t prefix;
};

struct net {
	struct cr_addr a;
	uint8_t bits;
};

enum cond_kind { C_FROM, C_TO, C_NUMBER, C_GROUP, C_FROM_GROUP, C_TO_GROUP, C_SUBNET, C_DIR };
enum { DIR_IN = 1, DIR_OUT, DIR_INTERNAL };

struct cond {
	uint8_t kind;
	uint16_t arg; /* group index, direction, net index */
	struct pat pat;
};

struct rule {
	char name[CR_POLICY_NAME_LEN];
	long order;
	uint8_t n_cond, record, rclass, ondemand;
	struct cond c[MAX_CONDS];
};

struct group {
	char name[CR_POLICY_NAME_LEN];
	uint32_t first, n; /* into pats */
};

struct cr_policy {
	uint8_t def_record, def_class, def_ondemand;
	struct rule rules[MAX_RULES];
	unsigned n_rules;
	struct group groups[MAX_GROUPS];
	unsigned n_groups;
	struct pat pats[MAX_PATS];
	unsigned n_pats;
	struct net nets[MAX_NETS];
	unsigned n_nets;
	uint32_t own_first, own_n;     /* pats: our numbers */
	uint32_t trunk_first, trunk_n; /* nets: trunks */
};

static int
pat_match(const struct pat *p, const char *num)
{
	size_t l = strlen(p->s);
	return p->prefix ? strncmp(num, p->s, l) == 0 : strcmp(num, p->s) == 0;
}

static int
set_pat(struct pat *p, const char *s, size_t n)
{
	p->prefix = n > 0 && s[n - 1] == '*';
	if (p->prefix)
		n--;
	if (n == 0 || n >= sizeof(p->s))
		return -EINVAL;
	memcpy(p->s, s, n);
	p->s[n] = 0;
	return 0;
}

static int
net_match(const struct net *n, const struct cr_addr *a)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;
	if (memcmp(n->a.b, a->b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (n->a.b[full] & m) == (a->b[full] & m);
}

static int
parse_net(struct net *n, const char *s, size_t len)
{
	const char *sl = memchr(s, '/', len);
	size_t al = sl ? (size_t)(sl - s) : len;
	if (cr_addr_parse(&n->a, s, al) != 0)
		return -EINVAL;
	int v4 = memchr(s, ':', al) == NULL;
	unsigned bits = v4 ? 32 : 128;
	if (sl) {
		char b[8];
		size_t bl = len - al - 1;
		if (bl == 0 || bl >= sizeof(b))
			return -EINVAL;
		memcpy(b, sl + 1, bl);
		b[bl] = 0;
		char *e;
		unsigned long v = strtoul(b, &e, 10);
		if (*e || v > bits)
			return -EINVAL;
		bits = (unsigned)v;
	}
	n->bits = (uint8_t)(v4 ? 96 + bits : bits);
	return 0;
}

/* split a comma/space list; cb(item, len) */
static int
each_item(const char *list, int (*cb)(void *, const char *, size_t), void *ctx)
{
	const char *p = list;
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p > s) {
			int r = cb(ctx, s, (size_t)(p - s));
			if (r)
				return r;
		}
	}
	return 0;
}

static int
add_pat(void *ctx, const char *s, size_t n)
{
	struct cr_policy *p = ctx;
	if (p->n_pats == MAX_PATS)
		return -ENOSPC;
	return set_pat(&p->pats[p->n_pats], s, n) == 0 ? (p->n_pats++, 0) : -EINVAL;
}

static int
add_net(void *ctx, const char *s, size_t n)
{
	struct cr_policy *p = ctx;
	if (p->n_nets == MAX_NETS)
		return -ENOSPC;
	return parse_net(&p->nets[p->n_nets], s, n) == 0 ? (p->n_nets++, 0) : -EINVAL;
}

static int
find_group(const struct cr_policy *p, const char *name)
{
	for (unsigned i = 0; i < p->n_groups; i++)
		if (strcmp(p->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
find_class(const char *name, const char *const *classes, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(classes[i], name) == 0)
			return (int)i;
	return -1;
}

/* "record|skip [class=NAME] [ondemand=yes|no]" */
static int
parse_action(const char *s, const char *const *classes, unsigned n_classes, uint8_t *record,
	     uint8_t *rclass, uint8_t *ondemand, const char **why)
{
	char w[3][64] = {"", "", ""};
	int k = sscanf(s, " %63s %63s %63s", w[0], w[1], w[2]);
	if (k < 1 || (strcmp(w[0], "record") && strcmp(w[0], "skip"))) {
		*why = "action is not 'record' or 'skip'";
		return -EINVAL;
	}
	*record = w[0][0] == 'r';
	*rclass = 0;
	*ondemand = 1;
	for (int i = 1; i < k; i++) {
		if (strncmp(w[i], "class=", 6) == 0) {
			int c = find_class(w[i] + 6, classes, n_classes);
			if (c < 0) {
				*why = "unknown retention class (define it in [retention])";
				return -EINVAL;
			}
			*rclass = (uint8_t)c;
		} else if (strcmp(w[i], "ondemand=no") == 0 || strcmp(w[i], "ondemand=yes") == 0) {
			*ondemand = w[i][9] == 'y';
		} else {
			*why = "after the action: class=NAME, ondemand=yes|no";
			return -EINVAL;
		}
	}
	return 0;
}

static int
parse_rule(struct cr_policy *p, struct rule *r, const char *v, const char *const *classes,
	   unsigned n_classes, const char **why)
{
	const char *arrow = strstr(v, "->");
	if (arrow == NULL) {
		*why = "expected 'CONDITIONS -> record|skip [class=NAME]'";
		return -EINVAL;
	}
	if (parse_action(arrow + 2, classes, n_classes, &r->record, &r->rclass, &r->ondemand, why) !=
	    0)
		return -EINVAL;
	const char *s = v;
	while (s < arrow) {
		while (s < arrow && (*s == ' ' || *s == '\t'))
			s++;
		const char *e = s;
		while (e < arrow && *e != ' ' && *e != '\t')
			e++;
		if (e == s)
			break;
		const char *colon = memchr(s, ':', (size_t)(e - s));
		if (colon == NULL || r->n_cond == MAX_CONDS) {
			*why = colon ? "too many conditions" : "a condition is FIELD:VALUE";
			return -EINVAL;
		}
		struct cond *c = &r->c[r->n_cond];
		size_t kl = (size_t)(colon - s), vl = (size_t)(e - colon - 1);
		const char *val = colon + 1;
		char vbuf[64];
		if (vl == 0 || vl >= sizeof(vbuf)) {
			*why = "empty or too long a value";
			return -EINVAL;
		}
		memcpy(vbuf, val, vl);
		vbuf[vl] = 0;
#define IS(k) (kl == strlen(k) && memcmp(s, k, kl) == 0)
		if (IS("from") || IS("to") || IS("number")) {
			c->kind = IS("from") ? C_FROM : IS("to") ? C_TO : C_NUMBER;
			if (set_pat(&c->pat, val, vl) != 0) {
				*why = "bad number";
				return -EINVAL;
			}
		} else if (IS("group") || IS("from_group") || IS("to_group")) {
			c->kind = IS("group") ? C_GROUP : IS("from_group") ? C_FROM_GROUP : C_TO_GROUP;
			int g = find_group(p, vbuf);
			if (g < 0) {
				*why = "unknown group (define [group.NAME] members = ...)";
				return -EINVAL;
			}
			c->arg = (uint16_t)g;
		} else if (IS("subnet")) {
			c->kind = C_SUBNET;
			if (p->n_nets == MAX_NETS || parse_net(&p->nets[p->n_nets], val, vl) != 0) {
				*why = "bad subnet (ADDR/BITS)";
				return -EINVAL;
			}
			c->arg = (uint16_t)p->n_nets++;
		} else if (IS("direction")) {
			c->kind = C_DIR;
			c->arg = !strcmp(vbuf, "inbound")    ? DIR_IN
				 : !strcmp(vbuf, "outbound") ? DIR_OUT
				 : !strcmp(vbuf, "internal") ? DIR_INTERNAL
							     : 0;
			if (c->arg == 0) {
				*why = "direction is inbound, outbound or internal";
				return -EINVAL;
			}
		} else {
			*why = "unknown field (from, to, number, group, from_group, to_group, subnet, "
			       "direction)";
			return -EINVAL;
		}
#undef IS
		r->n_cond++;
		s = e;
	}
	if (r->n_cond == 0) {
		*why = "a rule needs at least one condition";
		return -EINVAL;
	}
	return 0;
}

static int
cmp_rule(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct cr_policy *
cr_policy_default(void)
{
	struct cr_policy *p = calloc(1, sizeof(*p));
	if (p) {
		p->def_record = 1;
		p->def_ondemand = 1;
		snprintf(p->rules[0].name, sizeof(p->rules[0].name), "default");
	}
	return p;
}

void
cr_policy_free(struct cr_policy *p)
{
	free(p);
}

unsigned
cr_policy_rules(const struct cr_policy *p)
{
	return p->n_rules;
}

int
cr_policy_load(const char *path, const char *const *classes, unsigned n_classes,
	       struct cr_policy **out, char *err, size_t errlen)
{
	struct rte_cfgfile *cf = rte_cfgfile_load(path, 0);
	if (cf == NULL) {
		snprintf(err, errlen, "%s: cannot load", path);
		return -EINVAL;
	}
	int r = cr_policy_load_cfg(cf, path, classes, n_classes, out, err, errlen);
	rte_cfgfile_close(cf);
	return r;
}

int
cr_policy_load_cfg(struct rte_cfgfile *cf, const char *path, const char *const *classes,
		   unsigned n_classes, struct cr_policy **out, char *err, size_t errlen)
{
	struct cr_policy *p = cr_policy_default();
	int r = p ? 0 : -ENOMEM;
	const char *why = NULL, *sec = "policy", *key = "";
	char secname[64];
	/* groups first: rules refer to them */
	int ns = rte_cfgfile_num_sections(cf, NULL, 0);
	char *buf = ns > 0 ? calloc((size_t)ns, CFG_NAME_LEN) : NULL;
	char **names = ns > 0 ? calloc((size_t)ns, sizeof(char *)) : NULL;
	if (ns > 0 && (buf == NULL || names == NULL))
		r = -ENOMEM;
	for (int i = 0; r == 0 && i < ns; i++)
		names[i] = buf + (size_t)i * CFG_NAME_LEN;
	if (ns > 0 && r == 0)
		ns = rte_cfgfile_sections(cf, names, ns);
	for (int i = 0; r == 0 && i < ns; i++) {
		char *nm = names[i];
		if (strncmp(nm, "group.", 6) != 0)
			continue;
		snprintf(secname, sizeof(secname), "%s", nm);
		sec = secname;
		key = "members";
		if (p->n_groups == MAX_GROUPS || strlen(nm + 6) >= CR_POLICY_NAME_LEN ||
		    find_group(p, nm + 6) >= 0) {
			why = "too many, too long a name, or a duplicate group";
			r = -EINVAL;
			break;
		}
		const char *m = rte_cfgfile_get_entry(cf, nm, "members");
		if (m == NULL) {
			why = "a group needs members = NUM, NUM*, ...";
			r = -EINVAL;
			break;
		}
		struct group *g = &p->groups[p->n_groups];
		snprintf(g->name, sizeof(g->name), "%s", nm + 6);
		g->first = p->n_pats;
		if (each_item(m, add_pat, p) != 0) {
			why = "bad member (a number, or a prefix ending in '*')";
			r = -EINVAL;
			break;
		}
		g->n = p->n_pats - g->first;
		p->n_groups++;
	}
	free(names);
	free(buf);
	sec = "policy";
	struct rte_cfgfile_entry *ent = calloc(MAX_RULES + 8, sizeof(*ent));
	int n = ent && r == 0 ? rte_cfgfile_section_entries(cf, "policy", ent, MAX_RULES + 8) : 0;
	if (ent == NULL && r == 0)
		r = -ENOMEM;
	for (int i = 0; r == 0 && i < n; i++) {
		key = ent[i].name;
		const char *v = ent[i].value;
		if (strcmp(key, "default") == 0) {
			r = parse_action(v, classes, n_classes, &p->def_record, &p->def_class,
					 &p->def_ondemand, &why);
		} else if (strcmp(key, "own_numbers") == 0) {
			p->own_first = p->n_pats;
			r = each_item(v, add_pat, p);
			p->own_n = p->n_pats - p->own_first;
			why = "bad number (a number, or a prefix ending in '*')";
		} else if (strcmp(key, "trunks") == 0) {
			p->trunk_first = p->n_nets;
			r = each_item(v, add_net, p);
			p->trunk_n = p->n_nets - p->trunk_first;
			why = "bad subnet (ADDR/BITS)";
		} else if (strncmp(key, "rule.", 5) == 0) {
			char *e;
			long order = strtol(key + 5, &e, 10);
			if (*e || e == key + 5 || p->n_rules == MAX_RULES) {
				why = "rules are rule.N (N a number), at most 256";
				r = -EINVAL;
				break;
			}
			struct rule *ru = &p->rules[p->n_rules];
			memset(ru, 0, sizeof(*ru));
			size_t kl = strnlen(key, sizeof(ru->name) - 1);
			memcpy(ru->name, key, kl);
			ru->name[kl] = 0;
			ru->order = order;
			r = parse_rule(p, ru, v, classes, n_classes, &why);
			if (r == 0)
				p->n_rules++;
		} else {
			why = "unknown key (default, own_numbers, trunks, rule.N)";
			r = -EINVAL;
		}
	}
	if (r != 0 && p)
		snprintf(err, errlen, "%s: [%s] %s: %s", path, sec, key,
			 why ? why : "invalid");
	free(ent);
	if (r != 0) {
		free(p);
		return r == -ENOMEM ? r : -EINVAL;
	}
	qsort(p->rules, p->n_rules, sizeof(p->rules[0]), cmp_rule);
	*out = p;
	return 0;
}

static int
in_pats(const struct cr_policy *p, uint32_t first, uint32_t n, const char *num)
{
	for (uint32_t i = 0; i < n; i++)
		if (pat_match(&p->pats[first + i], num))
			return 1;
	return 0;
}

static int
direction(const struct cr_policy *p, const char *from, const char *to, const struct cr_addr *src,
	  const struct cr_addr *dst)
{
	for (uint32_t i = 0; i < p->trunk_n; i++) {
		if (src && net_match(&p->nets[p->trunk_first + i], src))
			return DIR_IN;
		if (dst && net_match(&p->nets[p->trunk_first + i], dst))
			return DIR_OUT;
	}
	int of = in_pats(p, p->own_first, p->own_n, from), ot = in_pats(p, p->own_first, p->own_n, to);
	return of && ot ? DIR_INTERNAL : of ? DIR_OUT : ot ? DIR_IN : 0;
}

void
cr_policy_decide(const struct cr_policy *p, const char *from, const char *to,
		 const struct cr_addr *src, const struct cr_addr *dst, struct cr_policy_decision *d)
{
	from = from ? from : "";
	to = to ? to : "";
	int dir = -1; /* computed once, when a rule asks */
	for (unsigned i = 0; i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];
		int ok = 1;
		for (unsigned k = 0; ok && k < r->n_cond; k++) {
			const struct cond *c = &r->c[k];
			const struct group *g = &p->groups[c->arg];
			switch (c->kind) {
			case C_FROM: ok = pat_match(&c->pat, from); break;
			case C_TO: ok = pat_match(&c->pat, to); break;
			case C_NUMBER: ok = pat_match(&c->pat, from) || pat_match(&c->pat, to); break;
			case C_GROUP:
				ok = in_pats(p, g->first, g->n, from) || in_pats(p, g->first, g->n, to);
				break;
			case C_FROM_GROUP: ok = in_pats(p, g->first, g->n, from); break;
			case C_TO_GROUP: ok = in_pats(p, g->first, g->n, to); break;
			case C_SUBNET:
				ok = (src && net_match(&p->nets[c->arg], src)) ||
				     (dst && net_match(&p->nets[c->arg], dst));
				break;
			case C_DIR:
				if (dir < 0)
					dir = direction(p, from, to, src, dst);
				ok = dir == c->arg;
				break;
			}
		}
		if (ok) {
			d->record = r->record;
			d->rclass = r->rclass;
			d->ondemand = r->ondemand;
			snprintf(d->rule, sizeof(d->rule), "%s", r->name);
			return;
		}
	}
	d->record = p->def_record;
	d->rclass = p->def_class;
	d->ondemand = p->def_ondemand;
	snprintf(d->rule, sizeof(d->rule), "default");
}
