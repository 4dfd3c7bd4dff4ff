/* referrals.c: referral threads and their timers (see referrals.h). */
#include "referrals.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benang/v1/protocol.pb-c.h"
#include "validate.h"

#define MAX_SEQS 1000     /* events remembered per thread */
#define MAX_CHILDREN 100

typedef Benang__V1__ReferralStatus rs_t;
#define RS(x) BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_##x

static const char *status_name(rs_t s)
{
    switch (s) {
    case RS(REQUESTED):
        return "requested";
    case RS(ACCEPTED):
        return "accepted";
    case RS(REJECTED):
        return "rejected";
    case RS(IN_PROGRESS):
        return "in-progress";
    case RS(ON_HOLD):
        return "on-hold";
    case RS(COMPLETED):
        return "completed";
    case RS(FAILED):
        return "failed";
    case RS(CANCELLED):
        return "cancelled";
    default:
        return "unspecified";
    }
}

static rs_t status_of(const Benang__V1__Referral *r)
{
    return r->status == RS(UNSPECIFIED) ? RS(REQUESTED) : r->status;
}

static bool allowed(rs_t from, rs_t to)
{
    if (from == to)
        return from != RS(REJECTED) && from != RS(COMPLETED) && from != RS(FAILED) &&
               from != RS(CANCELLED);
    switch (from) {
    case RS(REQUESTED):
        return to == RS(ACCEPTED) || to == RS(REJECTED) || to == RS(CANCELLED);
    case RS(ACCEPTED):
        return to == RS(IN_PROGRESS) || to == RS(ON_HOLD) || to == RS(COMPLETED) ||
               to == RS(FAILED) || to == RS(CANCELLED);
    case RS(IN_PROGRESS):
        return to == RS(ON_HOLD) || to == RS(COMPLETED) || to == RS(FAILED) ||
               to == RS(CANCELLED);
    case RS(ON_HOLD):
        return to == RS(IN_PROGRESS) || to == RS(COMPLETED) || to == RS(FAILED) ||
               to == RS(CANCELLED);
    default:
        return false;
    }
}

static const char *thread_id(const Benang__V1__Event *ev)
{
    const char *id = ev->referral->referral_id;
    return id && *id ? id : ev->source_id;
}

static const char *s_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* The stored state of id, decoded (free with ..._free_unpacked), or NULL. */
static bn_status_t load(bn_store_txn_t *t, const char *id, Benang__V1__ReferralState **out,
                        bn_error_t *err)
{
    *out = NULL;
    const uint8_t *v;
    size_t vl;
    bn_status_t st = bn_store_txn_get(t, BN_DB_REFERRALS, id, strlen(id), &v, &vl, err);
    if (st == BN_NOT_FOUND)
        return BN_OK;
    if (st != BN_OK)
        return st;
    *out = benang__v1__referral_state__unpack(NULL, vl, v);
    return *out ? BN_OK
                : bn_error_set(err, BN_STORE, 0, "referrals", "corrupt state of a referral");
}

static bn_status_t save(bn_store_txn_t *t, const Benang__V1__ReferralState *s, bn_error_t *err)
{
    return bn_store_txn_put_msg(t, BN_DB_REFERRALS, s->referral_id, strlen(s->referral_id),
                                &s->base, err);
}

/* What the check knows of a thread: stored, or set by an earlier event of the request. */
typedef struct {
    const char *id;
    rs_t status;
    const char *from, *to;
} known_t;

static bn_status_t conflict(bn_error_t *err, size_t i, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bn_status_t conflict(bn_error_t *err, size_t i, const char *field, const char *fmt, ...)
{
    char where[64];
    snprintf(where, sizeof where, "event %zu: %s", i + 1, field);
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(err, BN_CONFLICT, 0, where, fmt, ap);
    va_end(ap);
    return BN_CONFLICT;
}

static bn_status_t lookup(bn_store_txn_t *t, known_t *seen, size_t n_seen, const char *id,
                          known_t *out, Benang__V1__ReferralState **hold, bool *found,
                          bn_error_t *err)
{
    *found = false;
    for (size_t j = n_seen; j-- > 0;)
        if (strcmp(seen[j].id, id) == 0) {
            *out = seen[j];
            *found = true;
            return BN_OK;
        }
    bn_status_t st = load(t, id, hold, err);
    if (st == BN_OK && *hold) {
        out->id = id;
        out->status = (*hold)->status;
        out->from = (*hold)->from_agency;
        out->to = (*hold)->to_agency;
        *found = true;
    }
    return st;
}

bn_status_t bn_referrals_check(bn_store_txn_t *t, const char *agency,
                               Benang__V1__Event *const *evs, const bool *skip, size_t n,
                               bn_error_t *err)
{
    known_t *seen = NULL;
    size_t n_seen = 0;
    Benang__V1__ReferralState *held[2] = {NULL, NULL};
    bn_status_t st = BN_OK;
    for (size_t i = 0; i < n && st == BN_OK; i++) {
        const Benang__V1__Event *ev = evs[i];
        if (skip[i] || ev->body_case != BENANG__V1__EVENT__BODY_REFERRAL)
            continue;
        if (!seen && !(seen = calloc(n, sizeof *seen))) {
            st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
            break;
        }
        const Benang__V1__Referral *r = ev->referral;
        const char *id = thread_id(ev);
        rs_t to = status_of(r);
        known_t cur;
        bool found = false;
        for (int h = 0; h < 2; h++)
            if (held[h]) {
                benang__v1__referral_state__free_unpacked(held[h], NULL);
                held[h] = NULL;
            }
        if ((st = lookup(t, seen, n_seen, id, &cur, &held[0], &found, err)) != BN_OK)
            break;
        known_t next = {id, to, s_or(r->from_agency, agency), s_or(r->to_agency, "")};
        if (!found) {
            if (to != RS(REQUESTED)) {
                st = conflict(err, i, "referral.status",
                              "referral \"%.80s\" is not known to the hub; its first event must "
                              "have status requested (got %s)",
                              id, status_name(to));
                break;
            }
            const char *parent = r->parent_referral_id;
            if (parent && *parent) {
                known_t p;
                bool pf = false;
                if ((st = lookup(t, seen, n_seen, parent, &p, &held[1], &pf, err)) != BN_OK)
                    break;
                if (!pf) {
                    st = conflict(err, i, "referral.parent_referral_id",
                                  "parent referral \"%.80s\" is not known to the hub", parent);
                    break;
                }
                if (strcmp(p.to, agency) != 0) {
                    st = conflict(err, i, "referral.parent_referral_id",
                                  "only %s, to whom referral \"%.80s\" is addressed, may pass "
                                  "it on (not %s)",
                                  p.to, parent, agency);
                    break;
                }
            }
        } else {
            if (strcmp(cur.from, agency) != 0 && strcmp(cur.to, agency) != 0) {
                st = conflict(err, i, "agency",
                              "agency %s is neither the sender (%s) nor the receiver (%s) of "
                              "referral \"%.80s\"",
                              agency, cur.from, cur.to, id);
                break;
            }
            if (!allowed(cur.status, to)) {
                st = conflict(err, i, "referral.status",
                              "referral \"%.80s\" cannot go from %s to %s", id,
                              status_name(cur.status), status_name(to));
                break;
            }
            next.from = cur.from;
            next.to = cur.to;
        }
        seen[n_seen++] = next;
    }
    for (int h = 0; h < 2; h++)
        if (held[h])
            benang__v1__referral_state__free_unpacked(held[h], NULL);
    free(seen);
    return st;
}

static void stamp_text(int64_t secs, char *out, size_t cap)
{
    time_t tt = (time_t)secs;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static size_t due_key(uint8_t *out, size_t cap, int64_t deadline, const char *id)
{
    size_t il = strlen(id);
    if (8 + il > cap)
        return 0;
    bn_store_put_be64(out, (uint64_t)(deadline < 0 ? 0 : deadline));
    memcpy(out + 8, id, il);
    return 8 + il;
}

static bn_status_t add_child(bn_store_txn_t *t, const char *parent, const char *child,
                             bn_error_t *err)
{
    Benang__V1__ReferralState *p = NULL;
    bn_status_t st = load(t, parent, &p, err);
    if (st != BN_OK || !p)
        return st;
    if (p->n_children < MAX_CHILDREN) {
        char **kids = malloc((p->n_children + 1) * sizeof *kids);
        if (!kids) {
            benang__v1__referral_state__free_unpacked(p, NULL);
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        }
        if (p->n_children)
            memcpy(kids, p->children, p->n_children * sizeof *kids);
        kids[p->n_children] = (char *)child;
        char **old = p->children;
        size_t n_old = p->n_children;
        p->children = kids;
        p->n_children = n_old + 1;
        st = save(t, p, err);
        p->children = old;
        p->n_children = n_old;
        free(kids);
    }
    benang__v1__referral_state__free_unpacked(p, NULL);
    return st;
}

bn_status_t bn_referrals_apply(const bn_rule_conf_t *rule, bn_store_txn_t *t,
                               const Benang__V1__Event *ev, const char *subject_key, uint64_t seq,
                               bn_error_t *err)
{
    const Benang__V1__Referral *r = ev->referral;
    const char *id = thread_id(ev);
    rs_t to = status_of(r);
    Benang__V1__ReferralState *old = NULL;
    bn_status_t st = load(t, id, &old, err);
    if (st != BN_OK)
        return st;
    Benang__V1__ReferralState s = BENANG__V1__REFERRAL_STATE__INIT;
    if (old)
        s = *old;
    uint64_t *seqs = malloc(((old ? old->n_seqs : 0) + 1) * sizeof *seqs);
    if (!seqs) {
        if (old)
            benang__v1__referral_state__free_unpacked(old, NULL);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    size_t n_seqs = old ? old->n_seqs : 0;
    if (n_seqs)
        memcpy(seqs, old->seqs, n_seqs * sizeof *seqs);
    if (n_seqs < MAX_SEQS)
        seqs[n_seqs++] = seq;
    s.seqs = seqs;
    s.n_seqs = n_seqs;
    s.status = to;
    s.updated_at = ev->occurred_at;
    char due[40] = "";
    int64_t deadline = -1;
    if (!old) {
        s.referral_id = (char *)id;
        s.from_agency = (char *)s_or(r->from_agency, ev->agency);
        s.to_agency = (char *)s_or(r->to_agency, "");
        s.parent_referral_id = (char *)s_or(r->parent_referral_id, "");
        s.subject_key = (char *)s_or(subject_key, "");
        s.reason = r->reason;
        s.priority = r->priority;
        s.requested_at = ev->occurred_at;
        int64_t at;
        if (rule && bn_timestamp_seconds(ev->occurred_at, &at)) {
            deadline = at + (int64_t)rule->answer_within_hours * 3600;
            stamp_text(deadline, due, sizeof due);
            s.answer_due = due;
        }
    } else {
        if (subject_key && *subject_key && (!old->subject_key || !*old->subject_key))
            s.subject_key = (char *)subject_key;
        if (r->reason && !old->reason)
            s.reason = r->reason;
    }
    uint8_t dk[8 + 512];
    bool answered = old && old->status == RS(REQUESTED) && to != RS(REQUESTED);
    if (answered && old->answer_due && *old->answer_due) {
        int64_t was;
        size_t kl;
        if (bn_timestamp_seconds(old->answer_due, &was) &&
            (kl = due_key(dk, sizeof dk, was, id)) != 0) {
            st = bn_store_txn_del(t, BN_DB_DUE, dk, kl, err);
            if (st == BN_NOT_FOUND)
                st = BN_OK;
        }
        s.answer_due = (char *)"";
    }
    if (st == BN_OK)
        st = save(t, &s, err);
    if (st == BN_OK && deadline >= 0) {
        size_t kl = due_key(dk, sizeof dk, deadline, id);
        if (kl)
            st = bn_store_txn_put(t, BN_DB_DUE, dk, kl, "", 0, err);
    }
    if (st == BN_OK && !old && r->parent_referral_id && *r->parent_referral_id)
        st = add_child(t, r->parent_referral_id, id, err);
    free(seqs);
    if (old)
        benang__v1__referral_state__free_unpacked(old, NULL);
    return st;
}

typedef struct {
    int64_t clock;
    size_t cap;
    struct due_item {
        int64_t deadline;
        char id[300];
        uint8_t key[8 + 300];
        size_t key_len;
    } items[64];
    size_t n;
} due_scan_t;

static bool visit_due(void *ctx, const bn_store_kv_t *kv)
{
    due_scan_t *d = ctx;
    if (kv->key_len < 8 || d->n == sizeof d->items / sizeof d->items[0])
        return false;
    int64_t deadline = (int64_t)bn_store_get_be64(kv->key);
    if (deadline > d->clock)
        return false;
    struct due_item *it = &d->items[d->n];
    size_t il = kv->key_len - 8;
    if (il >= sizeof it->id)
        return true;
    it->deadline = deadline;
    memcpy(it->id, kv->key + 8, il);
    it->id[il] = '\0';
    memcpy(it->key, kv->key, kv->key_len);
    it->key_len = kv->key_len;
    d->n++;
    return true;
}

/* The source_id of the event at seq ("" when unreadable). */
static void source_of(bn_store_txn_t *t, uint64_t seq, char *out, size_t cap)
{
    const uint8_t *ev;
    size_t len;
    out[0] = '\0';
    if (!seq || bn_store_txn_event(t, seq, &ev, &len, NULL) != BN_OK)
        return;
    Benang__V1__Event *e = benang__v1__event__unpack(NULL, len, ev);
    if (e) {
        snprintf(out, cap, "%s", e->source_id);
        benang__v1__event__free_unpacked(e, NULL);
    }
}

static const char *agency_sector(const bn_config_t *cfg, const char *id)
{
    const bn_agency_conf_t *a = bn_config_agency(cfg, id);
    return a ? a->sector : "";
}

bn_status_t bn_referrals_due(const bn_config_t *cfg, const bn_rule_conf_t *rule,
                             bn_store_txn_t *t, int64_t clock, bn_findings_t *out,
                             bn_error_t *err)
{
    if (!rule)
        return BN_OK;
    for (;;) {
        due_scan_t d = {.clock = clock};
        bn_status_t st = bn_store_txn_scan(t, BN_DB_DUE, NULL, 0, visit_due, &d, err);
        if (st != BN_OK)
            return st;
        for (size_t i = 0; i < d.n; i++) {
            struct due_item *it = &d.items[i];
            if ((st = bn_store_txn_del(t, BN_DB_DUE, it->key, it->key_len, err)) != BN_OK &&
                st != BN_NOT_FOUND)
                return st;
            Benang__V1__ReferralState *s = NULL;
            if ((st = load(t, it->id, &s, err)) != BN_OK)
                return st;
            if (!s)
                continue;
            if (s->status != RS(REQUESTED)) {
                benang__v1__referral_state__free_unpacked(s, NULL);
                continue;
            }
            s->overdue = true;
            st = save(t, s, err);
            bn_finding_t *x = st == BN_OK ? bn_findings_push(out) : NULL;
            if (st == BN_OK && !x)
                st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
            if (x) {
                x->rule = rule;
                x->seqs[0] = s->n_seqs ? s->seqs[0] : 0;
                source_of(t, x->seqs[0], x->source_ids[0], sizeof x->source_ids[0]);
                snprintf(x->agencies[0], sizeof x->agencies[0], "%s", s->from_agency);
                snprintf(x->agencies[1], sizeof x->agencies[1], "%s", s->to_agency);
                snprintf(x->referral_id, sizeof x->referral_id, "%s", s->referral_id);
                snprintf(x->subject_key, sizeof x->subject_key, "%s", s->subject_key);
                snprintf(x->sector, sizeof x->sector, "%s",
                         s_or(agency_sector(cfg, s->to_agency), "social"));
                snprintf(x->period_start, sizeof x->period_start, "%s", s->requested_at);
                snprintf(x->period_end, sizeof x->period_end, "%s", s->answer_due);
                snprintf(x->message, sizeof x->message,
                         "Referral %.80s from %s to %s (seq %llu, requested %s) has had no "
                         "answer within %u hours.",
                         s->referral_id, s->from_agency, s->to_agency,
                         (unsigned long long)x->seqs[0], s->requested_at,
                         rule->answer_within_hours);
            }
            benang__v1__referral_state__free_unpacked(s, NULL);
            if (st != BN_OK)
                return st;
        }
        if (d.n < sizeof d.items / sizeof d.items[0])
            return BN_OK;
    }
}
