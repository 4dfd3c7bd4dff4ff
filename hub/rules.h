/* rules.h: the overlap rules, checked in the writer's transaction.
 *
 * Each rule of hub.yaml (config.h: bn_rule_conf_t) indexes the events of its
 * type under a hash of the fields it matches on, with the event's day or
 * period, in the ruleidx database (key and value layout: pend.h; the entries
 * not yet in LMDB wait in its bn_pend_t).
 * A new event looks up its own hash, seeks to the first start day that can
 * relate to it and walks forward while start days can still relate: one
 * B-tree seek plus the few events of the same person/course/area, so
 * O(log n) per event whatever the store holds. Every earlier event that
 * relates (dates within N days, or periods sharing a day; of another agency
 * when the rule says so; still the current version of its source record)
 * is a finding, unless that pair was already alerted (alerted database); an
 * event raises at most one finding per rule (with the earliest such partner
 * not alerted with it yet), so a flood of copies stays linear. The
 * unanswered-referral rule is a timer instead: referrals.h.
 */
#ifndef BN_RULES_H
#define BN_RULES_H

#include <stdint.h>

#include "benang/status.h"
#include "benang/v1/event.pb-c.h"
#include "config.h"
#include "pend.h"
#include "store.h"

#define BN_FINDING_MAX_SOURCE 200

/* One finding, to be stored as an alert event at the end of the batch. */
typedef struct {
    const bn_rule_conf_t *rule;
    uint64_t seqs[2]; /* earlier, later */
    char agencies[2][64];
    char source_ids[2][BN_FINDING_MAX_SOURCE];
    char subject_key[65];
    char sector[33];
    char area[65];
    char referral_id[BN_FINDING_MAX_SOURCE];
    char period_start[32], period_end[32];
    char message[400];
    uint8_t pair_hash[16]; /* its key in the alerted database */
    uint8_t rule_no;
} bn_finding_t;

typedef struct {
    bn_finding_t *items;
    size_t len, cap;
} bn_findings_t;

/* Append a zeroed finding; NULL on NOMEM. */
bn_finding_t *bn_findings_push(bn_findings_t *f);
void bn_findings_clear(bn_findings_t *f);
void bn_findings_free(bn_findings_t *f);

/* At start: derive again the index entries (rules and people) of the
 * events stored after the last flush of p (*replayed of them), into p, and
 * mark p there. Returns BN_OK, BN_NOMEM or a store status. */
bn_status_t bn_rules_pend_recover(bn_pend_t *p, const bn_config_t *cfg, bn_store_t *s,
                                  uint64_t *replayed, bn_error_t *err);

/* Check ev, just stored at seq with subject key (may be ""), against every
 * enabled rule of its type in cfg, append findings to out, and index ev
 * (into pend; straight into LMDB when pend is NULL).
 * Returns BN_OK, BN_NOMEM or a store status. */
bn_status_t bn_rules_check(const bn_config_t *cfg, bn_store_txn_t *t, bn_pend_t *pend,
                           const Benang__V1__Event *ev, const char *subject_key, uint64_t seq,
                           bn_findings_t *out, bn_error_t *err);

/* Mark a finding as alerted (by the alert at alert_seq): the same pair never
 * raises this rule again. */
bn_status_t bn_rules_mark_alerted(bn_store_txn_t *t, const bn_finding_t *f, uint64_t alert_seq,
                                  bn_error_t *err);

/* The rule of cfg with that type, enabled, or NULL (the first one). */
const bn_rule_conf_t *bn_rules_find(const bn_config_t *cfg, const char *type);

#endif
