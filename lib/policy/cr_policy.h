/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Recording policy: ordered rules decide at call start whether a call is
 * recorded and in which retention class; the first rule whose conditions all
 * match wins, else the default. The deciding rule's name is kept with the call.
 *
 * Configuration (INI, read with rte_cfgfile):
 *
 *   [policy]
 *   default = record                  ; or skip; optional " class=NAME"
 *   own_numbers = +4930*, 1*          ; our numbers (direction)
 *   trunks = 192.0.2.0/24             ; SBCs/trunks: INVITEs from them are inbound
 *   rule.10 = to:+49301234 -> skip
 *   rule.20 = group:sales direction:inbound -> record class=legal
 *   rule.30 = group:traders -> record ondemand=no   ; always recorded
 *   [group.sales]
 *   members = 2001, 2002, +4930555*
 *
 * Conditions (all must hold): from:NUM, to:NUM, number:NUM (either party),
 * group:G (either party in G), from_group:G, to_group:G, subnet:CIDR (either
 * address of the INVITE), direction:inbound|outbound|internal. A NUM or
 * member ending in '*' is a prefix. Rules apply in the order of their number.
 *
 * Direction: inbound when the INVITE comes from a trunk or the caller is not
 * ours and the callee is; outbound when the caller is ours and the callee is
 * not (or the INVITE goes to a trunk); internal when both are ours.
 *
 * A loaded policy is immutable: reloading builds a new one (callers swap
 * pointers), so deciding is thread-safe. Errors: -EINVAL with a message.
 */
#ifndef CR_POLICY_H
#define CR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "cr_pkt.h"

#define CR_POLICY_NAME_LEN 32

struct cr_policy;

struct cr_policy_decision {
	uint8_t record; /**< 1 record, 0 skip */
	uint8_t rclass; /**< retention class index */
	uint8_t ondemand; /**< 1: start/stop/pause/resume on demand allowed */
	char rule[CR_POLICY_NAME_LEN]; /**< "rule.20" or "default" */
};

/**
 * Load [policy] and [group.*] from an INI file. classes[] are the retention
 * class names (index = class id, [0] the default); a rule naming another
 * class is an error. A file without [policy] gives "record everything".
 * @return 0 and *out, or -EINVAL (err holds "file: [section] key: why").
 */
int cr_policy_load(const char *path, const char *const *classes, unsigned n_classes,
		   struct cr_policy **out, char *err, size_t errlen);
struct rte_cfgfile;
/** The same from a parsed configuration; path only names it in messages. */
int cr_policy_load_cfg(struct rte_cfgfile *cf, const char *path, const char *const *classes,
		       unsigned n_classes, struct cr_policy **out, char *err, size_t errlen);
/** The built-in policy: record everything in class 0. */
struct cr_policy *cr_policy_default(void);
void cr_policy_free(struct cr_policy *p);

/** Decide for a call: numbers as the SIP URIs give them, INVITE addresses. */
void cr_policy_decide(const struct cr_policy *p, const char *from, const char *to,
		      const struct cr_addr *src, const struct cr_addr *dst,
		      struct cr_policy_decision *d);

/** Number of rules (for reports). */
unsigned cr_policy_rules(const struct cr_policy *p);

#endif /* CR_POLICY_H */
