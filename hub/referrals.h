/* referrals.h: closed-loop referrals, kept in the writer's transaction.
 *
 * A referral is a thread of events sharing a referral_id and following the
 * FHIR Task lifecycle:
 *     requested -> accepted | rejected | cancelled
 *     accepted  -> in-progress | on-hold | completed | failed | cancelled
 *     in-progress -> on-hold | completed | failed | cancelled
 *     on-hold   -> in-progress | completed | failed | cancelled
 * (rejected, completed, failed and cancelled end it; repeating the current
 * status is an update). The first event of a thread must be `requested` (any
 * agency may open one: an intake office records for another); later ones
 * must come from its sending or receiving agency. A sub-referral
 * names its parent (parent_referral_id), which must exist and be addressed to
 * the agency passing it on. Anything else is refused with BN_CONFLICT before
 * a single event of the request is stored. Each thread's current state is a
 * benang.v1.ReferralState in the referrals database; a requested referral
 * also gets a timer in `due` that the unanswered-referral rule fires when no
 * answer came in time.
 */
#ifndef BN_REFERRALS_H
#define BN_REFERRALS_H

#include <stdbool.h>
#include <stdint.h>

#include "benang/status.h"
#include "benang/v1/event.pb-c.h"
#include "config.h"
#include "rules.h"
#include "store.h"

/* Check the referral events among evs[0..n) (skip[i]: a duplicate, not
 * checked) as one request of agency: BN_OK, or BN_CONFLICT with err->where
 * naming the event ("event 2: referral.status") and err->msg the transition. */
bn_status_t bn_referrals_check(bn_store_txn_t *t, const char *agency,
                               Benang__V1__Event *const *evs, const bool *skip, size_t n,
                               bn_error_t *err);

/* Record referral event ev, stored at seq, in its thread's state; rule is the
 * unanswered-referral rule (NULL: no timers). */
bn_status_t bn_referrals_apply(const bn_rule_conf_t *rule, bn_store_txn_t *t,
                               const Benang__V1__Event *ev, const char *subject_key, uint64_t seq,
                               bn_error_t *err);

/* Fire the timers due at clock (unix seconds): one finding per referral still
 * requested, its state marked overdue. */
bn_status_t bn_referrals_due(const bn_config_t *cfg, const bn_rule_conf_t *rule,
                             bn_store_txn_t *t, int64_t clock, bn_findings_t *out,
                             bn_error_t *err);

#endif
