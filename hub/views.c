/* views.c: the coordinator views served by the query thread (see views.h).
 *
 * Each view reads one index of the store (store.h) and decodes what it
 * returns: the findings index gives the alert seqs, the programs index the
 * seq of each program's current version, and those events are then read one
 * by one from the log (each in its own short read transaction, never one
 * inside another's callback); referral states, possible matches and
 * linkage explanations are stored as packed messages and decoded as they are.
 * Only the match decision writes, through bn_linker_decide().
 *
 * Ownership: everything bn_views_answer() hangs off the reply is this file's.
 * The *Reply wrapper and its array are malloc'ed; every element, and a whole
 * ExplainReply, is a message decoded by protobuf-c (freed with
 * protobuf_c_message_free_unpacked). bn_views_free() undoes exactly that, so
 * an explanation built here from an event is packed and decoded once to have
 * the same owner as one read from the store.
 *
 * Request strings are checked for UTF-8 (protobuf-c does not); a failure is
 * BN_BAD_REQUEST naming the field as "<view>.<field>".
 */
#include "views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benang/utf8.h"
#include "linkage.h"
#include "linker.h"
#include "validate.h"

#define DEFAULT_MAX 1000 /* items of a listing when the request says 0 */
#define MAX_MAX 10000    /* the most a listing returns */
#define MAX_NOTE 2000    /* bytes of a coordinator's note on a match decision */
#define MAX_KEY 511      /* LMDB's key limit: longer ids cannot be stored */

/* ---- small helpers ---------------------------------------------------------- */

/* Decoded messages collected by a view, in the order found. */
typedef struct {
    ProtobufCMessage **items;
    size_t n, cap;
} list_t;

static bool list_push(list_t *l, void *m)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        ProtobufCMessage **ni = realloc(l->items, cap * sizeof *ni);
        if (!ni)
            return false;
        l->items = ni;
        l->cap = cap;
    }
    l->items[l->n++] = m;
    return true;
}

static void free_msgs(void *items, size_t n)
{
    ProtobufCMessage **m = items;
    for (size_t i = 0; m && i < n; i++)
        protobuf_c_message_free_unpacked(m[i], NULL);
    free(m);
}

static void list_free(list_t *l)
{
    free_msgs(l->items, l->n);
    *l = (list_t){0};
}

/* Keep the first n items, freeing the rest. */
static void list_truncate(list_t *l, size_t n)
{
    for (size_t i = n; i < l->n; i++)
        protobuf_c_message_free_unpacked(l->items[i], NULL);
    if (n < l->n)
        l->n = n;
}

typedef struct {
    uint64_t *v;
    size_t n, cap;
    bool failed;
} seqs_t;

static bool seqs_push(seqs_t *s, uint64_t seq)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint64_t *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return !(s->failed = true);
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = seq;
    return true;
}

/* findings: the key is the alert's seq. */
static bool visit_seq_key(void *ctx, const bn_store_kv_t *kv)
{
    return kv->key_len != 8 || seqs_push(ctx, bn_store_get_be64(kv->key));
}

/* programs: the value is the seq of the current version. */
static bool visit_seq_val(void *ctx, const bn_store_kv_t *kv)
{
    return kv->val_len != 8 || seqs_push(ctx, bn_store_get_be64(kv->val));
}

typedef struct {
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *msg; /* NULL when the bytes did not decode */
} unpack_t;

static bool visit_unpack(void *ctx, const bn_store_kv_t *kv)
{
    unpack_t *u = ctx;
    u->msg = protobuf_c_message_unpack(u->desc, NULL, kv->val_len, kv->val);
    return false;
}

/* Event seq decoded into *out (NULL when its bytes do not decode):
 * BN_OK, BN_NOT_FOUND, BN_STORE. */
static bn_status_t load_event(bn_store_t *s, uint64_t seq, Benang__V1__Event **out, bn_error_t *err)
{
    unpack_t u = {&benang__v1__event__descriptor, NULL};
    bn_status_t st = bn_store_event(s, seq, visit_unpack, &u, err);
    *out = (Benang__V1__Event *)u.msg;
    return st;
}

static bool set(const char *s)
{
    return s && *s;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

static bn_status_t nomem(bn_error_t *err)
{
    return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
}

/* A request string: valid UTF-8, at most max bytes. */
static bn_status_t check_text(const char *s, size_t max, const char *field, bn_error_t *err)
{
    size_t len = strlen(str(s));
    if (!bn_utf8_valid(str(s), len))
        return bn_error_set(err, BN_BAD_REQUEST, 0, field, "not valid UTF-8");
    if (len > max)
        return bn_error_set(err, BN_BAD_REQUEST, 0, field, "longer than %zu bytes", max);
    return BN_OK;
}

static uint32_t effective_max(uint32_t max)
{
    return max == 0 ? DEFAULT_MAX : max > MAX_MAX ? MAX_MAX : max;
}

/* ---- overlaps ---------------------------------------------------------------- */

/* `since` is compared with the day of the alert event's recorded_at: the
 * UTC day the hub raised it (for an alert, occurred_at is the same stamp). */
static bool alert_matches(const Benang__V1__Event *ev, const Benang__V1__OverlapsRequest *r)
{
    if (ev->body_case != BENANG__V1__EVENT__BODY_ALERT || !ev->alert)
        return false;
    if (set(r->since) && strncmp(str(ev->recorded_at), r->since, 10) < 0)
        return false;
    if (set(r->area) && strcmp(str(ev->area), r->area) != 0)
        return false;
    if (set(r->sector) && strcmp(str(ev->sector), r->sector) != 0)
        return false;
    return !set(r->kind) || strcmp(str(ev->alert->kind), r->kind) == 0;
}

/* The newest `max` matching alerts, returned in ascending seq. */
static bn_status_t overlaps(bn_store_t *s, const Benang__V1__OverlapsRequest *r,
                            Benang__V1__QueryReply *rep, bn_error_t *err)
{
    bn_status_t st = BN_OK;
    if (set(r->since) && !bn_valid_date(r->since))
        return bn_error_set(err, BN_BAD_REQUEST, 0, "overlaps.since", "must be a date YYYY-MM-DD");
    if ((st = check_text(r->area, MAX_KEY, "overlaps.area", err)) != BN_OK ||
        (st = check_text(r->sector, MAX_KEY, "overlaps.sector", err)) != BN_OK ||
        (st = check_text(r->kind, MAX_KEY, "overlaps.kind", err)) != BN_OK)
        return st;
    seqs_t seqs = {0};
    st = bn_store_scan(s, BN_DB_FINDINGS, NULL, 0, visit_seq_key, &seqs, err);
    if (st == BN_OK && seqs.failed)
        st = nomem(err);
    list_t l = {0};
    uint32_t max = effective_max(r->max);
    for (size_t i = seqs.n; st == BN_OK && i-- > 0 && l.n < max;) {
        Benang__V1__Event *ev = NULL;
        st = load_event(s, seqs.v[i], &ev, err);
        if (st == BN_NOT_FOUND) /* an index entry without its event: skip it */
            st = BN_OK;
        if (st != BN_OK || !ev)
            continue;
        bool keep = alert_matches(ev, r);
        if (!keep || !list_push(&l, ev)) {
            benang__v1__event__free_unpacked(ev, NULL);
            if (keep)
                st = nomem(err);
        }
    }
    Benang__V1__OverlapsReply *o = st == BN_OK ? malloc(sizeof *o) : NULL;
    if (st == BN_OK && !o)
        st = nomem(err);
    if (st != BN_OK) {
        free(seqs.v);
        list_free(&l);
        return st;
    }
    for (size_t i = 0; i < l.n / 2; i++) { /* newest first -> ascending seq */
        ProtobufCMessage *x = l.items[i];
        l.items[i] = l.items[l.n - 1 - i];
        l.items[l.n - 1 - i] = x;
    }
    benang__v1__overlaps_reply__init(o);
    o->alerts = (Benang__V1__Event **)l.items;
    o->n_alerts = l.n;
    o->total = seqs.n;
    free(seqs.v);
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT_OVERLAPS;
    rep->overlaps = o;
    return BN_OK;
}

/* ---- referrals ----------------------------------------------------------------- */

typedef Benang__V1__ReferralStatus rs_t;
#define RS(x) BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_##x

static bool referral_open(rs_t st)
{
    return st != RS(REJECTED) && st != RS(COMPLETED) && st != RS(FAILED) && st != RS(CANCELLED);
}

typedef struct {
    const Benang__V1__ReferralsRequest *req;
    list_t list;
    bool failed;
} referral_scan_t;

static bool visit_referral(void *ctx, const bn_store_kv_t *kv)
{
    referral_scan_t *rs = ctx;
    const Benang__V1__ReferralsRequest *r = rs->req;
    Benang__V1__ReferralState *s = benang__v1__referral_state__unpack(NULL, kv->val_len, kv->val);
    if (!s)
        return true; /* an unreadable state: skip it rather than fail the queue */
    bool keep = (!set(r->to_agency) || strcmp(str(s->to_agency), r->to_agency) == 0) &&
                (!set(r->from_agency) || strcmp(str(s->from_agency), r->from_agency) == 0) &&
                (r->status == RS(UNSPECIFIED) || s->status == r->status) &&
                (!r->open_only || referral_open(s->status));
    if (keep && list_push(&rs->list, s))
        return true;
    benang__v1__referral_state__free_unpacked(s, NULL);
    if (keep)
        rs->failed = true;
    return !keep;
}

/* Oldest request first: the order a receiving agency works its queue in. */
static int cmp_referral(const void *a, const void *b)
{
    const Benang__V1__ReferralState *x = *(Benang__V1__ReferralState *const *)a;
    const Benang__V1__ReferralState *y = *(Benang__V1__ReferralState *const *)b;
    int c = strcmp(str(x->requested_at), str(y->requested_at));
    return c ? c : strcmp(str(x->referral_id), str(y->referral_id));
}

static bn_status_t referrals(bn_store_t *s, const Benang__V1__ReferralsRequest *r,
                             Benang__V1__QueryReply *rep, bn_error_t *err)
{
    bn_status_t st;
    if ((st = check_text(r->to_agency, MAX_KEY, "referrals.to_agency", err)) != BN_OK ||
        (st = check_text(r->from_agency, MAX_KEY, "referrals.from_agency", err)) != BN_OK ||
        (st = check_text(r->referral_id, MAX_KEY, "referrals.referral_id", err)) != BN_OK)
        return st;
    if (!protobuf_c_enum_descriptor_get_value(&benang__v1__referral_status__descriptor,
                                              (int)r->status))
        return bn_error_set(err, BN_BAD_REQUEST, 0, "referrals.status",
                            "no such ReferralStatus (got %d)", (int)r->status);
    referral_scan_t rs = {.req = r};
    if (set(r->referral_id)) {
        st = bn_store_get(s, BN_DB_REFERRALS, r->referral_id, strlen(r->referral_id),
                          visit_referral, &rs, err);
        if (st == BN_NOT_FOUND) {
            char echo[64];
            return bn_error_set(
                err, BN_NOT_FOUND, 0, "referrals.referral_id",
                "no referral \"%s\" is known to the hub",
                bn_utf8_echo(r->referral_id, strlen(r->referral_id), echo, sizeof echo));
        }
    } else {
        st = bn_store_scan(s, BN_DB_REFERRALS, NULL, 0, visit_referral, &rs, err);
    }
    if (st == BN_OK && rs.failed)
        st = nomem(err);
    Benang__V1__ReferralsReply *o = st == BN_OK ? malloc(sizeof *o) : NULL;
    if (st == BN_OK && !o)
        st = nomem(err);
    if (st != BN_OK) {
        list_free(&rs.list);
        return st;
    }
    if (rs.list.n > 1)
        qsort(rs.list.items, rs.list.n, sizeof *rs.list.items, cmp_referral);
    list_truncate(&rs.list, effective_max(r->max));
    benang__v1__referrals_reply__init(o);
    o->referrals = (Benang__V1__ReferralState **)rs.list.items;
    o->n_referrals = rs.list.n;
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT_REFERRALS;
    rep->referrals = o;
    return BN_OK;
}

/* ---- program map --------------------------------------------------------------- */

/* As the overlapping-program rule reads them (docs/rules.md): the program's
 * own sector, else the agency's; its areas, else the event's area. */
static const char *program_sector(const Benang__V1__Event *ev)
{
    return set(ev->program->sector) ? ev->program->sector : str(ev->sector);
}

static const char *program_first_area(const Benang__V1__Event *ev)
{
    return ev->program->n_areas ? str(ev->program->areas[0]) : str(ev->area);
}

static bool program_in_area(const Benang__V1__Event *ev, const char *area)
{
    if (ev->program->n_areas == 0)
        return strcmp(str(ev->area), area) == 0;
    for (size_t i = 0; i < ev->program->n_areas; i++)
        if (strcmp(str(ev->program->areas[i]), area) == 0)
            return true;
    return false;
}

static bool program_matches(const Benang__V1__Event *ev, const Benang__V1__ProgramMapRequest *r)
{
    if (ev->body_case != BENANG__V1__EVENT__BODY_PROGRAM || !ev->program)
        return false;
    if (set(r->sector) && strcmp(program_sector(ev), r->sector) != 0)
        return false;
    if (set(r->target_group) && strcmp(str(ev->program->target_group), r->target_group) != 0)
        return false;
    return !set(r->area) || program_in_area(ev, r->area);
}

static const char *period_start(const Benang__V1__Event *ev)
{
    return ev->program->period ? str(ev->program->period->start) : "";
}

/* Sector, target group, first area, period start; then agency and seq so
 * the order is total. */
static int cmp_program(const void *a, const void *b)
{
    const Benang__V1__Event *x = *(Benang__V1__Event *const *)a;
    const Benang__V1__Event *y = *(Benang__V1__Event *const *)b;
    int c = strcmp(program_sector(x), program_sector(y));
    if (!c)
        c = strcmp(str(x->program->target_group), str(y->program->target_group));
    if (!c)
        c = strcmp(program_first_area(x), program_first_area(y));
    if (!c)
        c = strcmp(period_start(x), period_start(y));
    if (!c)
        c = strcmp(str(x->agency), str(y->agency));
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static bn_status_t program_map(bn_store_t *s, const Benang__V1__ProgramMapRequest *r,
                               Benang__V1__QueryReply *rep, bn_error_t *err)
{
    bn_status_t st;
    if ((st = check_text(r->sector, MAX_KEY, "program_map.sector", err)) != BN_OK ||
        (st = check_text(r->area, MAX_KEY, "program_map.area", err)) != BN_OK ||
        (st = check_text(r->target_group, MAX_KEY, "program_map.target_group", err)) != BN_OK)
        return st;
    seqs_t seqs = {0};
    st = bn_store_scan(s, BN_DB_PROGRAMS, NULL, 0, visit_seq_val, &seqs, err);
    if (st == BN_OK && seqs.failed)
        st = nomem(err);
    list_t l = {0};
    for (size_t i = 0; st == BN_OK && i < seqs.n; i++) {
        Benang__V1__Event *ev = NULL;
        st = load_event(s, seqs.v[i], &ev, err);
        if (st == BN_NOT_FOUND)
            st = BN_OK;
        if (st != BN_OK || !ev)
            continue;
        bool keep = program_matches(ev, r);
        if (!keep || !list_push(&l, ev)) {
            benang__v1__event__free_unpacked(ev, NULL);
            if (keep)
                st = nomem(err);
        }
    }
    free(seqs.v);
    Benang__V1__ProgramMapReply *o = st == BN_OK ? malloc(sizeof *o) : NULL;
    if (st == BN_OK && !o)
        st = nomem(err);
    if (st != BN_OK) {
        list_free(&l);
        return st;
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof *l.items, cmp_program);
    benang__v1__program_map_reply__init(o);
    o->programs = (Benang__V1__Event **)l.items;
    o->n_programs = l.n;
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT_PROGRAM_MAP;
    rep->program_map = o;
    return BN_OK;
}

/* ---- possible matches -------------------------------------------------------------- */

typedef struct {
    bool include_decided;
    uint32_t max;
    list_t list;
    bool failed;
} match_scan_t;

static bool visit_match(void *ctx, const bn_store_kv_t *kv)
{
    match_scan_t *ms = ctx;
    Benang__V1__PossibleMatch *m = benang__v1__possible_match__unpack(NULL, kv->val_len, kv->val);
    if (!m)
        return true;
    if (!ms->include_decided && m->decision != BENANG__V1__MATCH_DECISION__MATCH_DECISION_PENDING) {
        benang__v1__possible_match__free_unpacked(m, NULL);
        return true;
    }
    if (!list_push(&ms->list, m)) {
        benang__v1__possible_match__free_unpacked(m, NULL);
        return !(ms->failed = true);
    }
    return ms->list.n < ms->max;
}

/* Ascending id: the review list, oldest first. */
static bn_status_t matches(bn_store_t *s, const Benang__V1__MatchesRequest *r,
                           Benang__V1__QueryReply *rep, bn_error_t *err)
{
    match_scan_t ms = {.include_decided = r->include_decided, .max = effective_max(r->max)};
    bn_status_t st = bn_store_scan(s, BN_DB_MATCHES, NULL, 0, visit_match, &ms, err);
    if (st == BN_OK && ms.failed)
        st = nomem(err);
    Benang__V1__MatchesReply *o = st == BN_OK ? malloc(sizeof *o) : NULL;
    if (st == BN_OK && !o)
        st = nomem(err);
    if (st != BN_OK) {
        list_free(&ms.list);
        return st;
    }
    benang__v1__matches_reply__init(o);
    o->matches = (Benang__V1__PossibleMatch **)ms.list.items;
    o->n_matches = ms.list.n;
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT_MATCHES;
    rep->matches = o;
    return BN_OK;
}

static bn_status_t match_decision(bn_store_t *s, const Benang__V1__MatchDecisionRequest *r,
                                  Benang__V1__QueryReply *rep, bn_error_t *err)
{
    if (r->decision != BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED &&
        r->decision != BENANG__V1__MATCH_DECISION__MATCH_DECISION_REJECTED)
        return bn_error_set(err, BN_BAD_REQUEST, 0, "match_decision.decision",
                            "must be MATCH_DECISION_CONFIRMED or MATCH_DECISION_REJECTED (got %d)",
                            (int)r->decision);
    bn_status_t st = check_text(r->note, MAX_NOTE, "match_decision.note", err);
    if (st != BN_OK)
        return st;
    if (r->id == 0)
        return bn_error_set(err, BN_NOT_FOUND, 0, "match_decision.id",
                            "no possible match #0 (ids start at 1)");
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    Benang__V1__MatchDecisionReply *o = malloc(sizeof *o);
    if (!o)
        return nomem(err);
    Benang__V1__PossibleMatch *m = NULL;
    st = bn_linker_decide(s, r->id, (int)r->decision, str(r->note), stamp, &m, err);
    if (st == BN_USAGE) { /* a decision value the check above let through */
        st = BN_BAD_REQUEST;
        if (err)
            err->status = st;
    }
    if (st != BN_OK) {
        free(o);
        return st;
    }
    benang__v1__match_decision_reply__init(o);
    o->match = m;
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT_MATCH_DECISION;
    rep->match_decision = o;
    return BN_OK;
}

/* ---- explain ------------------------------------------------------------------------ */

/* The sentence for an event the probabilistic linker did not decide. */
static void explain_text(const Benang__V1__Event *ev, char *buf, size_t size)
{
    const Benang__V1__Subject *sub = ev->subject;
    const Benang__V1__Linkage *link = sub ? sub->link : NULL;
    unsigned long long seq = (unsigned long long)ev->seq;
    if (!sub) {
        snprintf(buf, size, "event %llu (%s) has no subject: it is not about a person", seq,
                 set(ev->type) ? ev->type : "no type");
        return;
    }
    switch (link ? link->method : BENANG__V1__LINK_METHOD__LINK_METHOD_UNSPECIFIED) {
    case BENANG__V1__LINK_METHOD__LINK_METHOD_NIK:
        snprintf(buf, size,
                 "event %llu was linked by the keyed pseudonym of its NIK: the same "
                 "NIK gives the same subject key whoever publishes it",
                 seq);
        break;
    case BENANG__V1__LINK_METHOD__LINK_METHOD_LOCAL_ID:
        snprintf(buf, size,
                 "event %llu was linked by its agency's own record number, which "
                 "was first seen with this person",
                 seq);
        break;
    case BENANG__V1__LINK_METHOD__LINK_METHOD_CONFIRMED:
        snprintf(buf, size, "event %llu was linked through a coordinator's confirmed match", seq);
        break;
    case BENANG__V1__LINK_METHOD__LINK_METHOD_UNSPECIFIED:
        if (set(sub->subject_key))
            snprintf(buf, size,
                     "event %llu has a subject key but no record of how it was "
                     "decided",
                     seq);
        else
            snprintf(buf, size,
                     "event %llu was not linked to anyone: its subject has no NIK, "
                     "no record number seen before, and not all of name, birth "
                     "date and village",
                     seq);
        break;
    default:
        snprintf(buf, size,
                 "event %llu was decided by the probabilistic linker (score %.3f); "
                 "no explanation of it is kept",
                 seq, link->score);
        break;
    }
}

/* An ExplainReply for ev built on the stack, then packed and decoded so that
 * its owner is protobuf-c like the stored ones. */
static bn_status_t explain_from_event(const bn_config_t *cfg, const Benang__V1__Event *ev,
                                      Benang__V1__ExplainReply **out, bn_error_t *err)
{
    Benang__V1__ExplainReply x = BENANG__V1__EXPLAIN_REPLY__INIT;
    char text[400];
    explain_text(ev, text, sizeof text);
    x.seq = ev->seq;
    x.subject_key = (char *)(ev->subject ? str(ev->subject->subject_key) : "");
    x.link = ev->subject ? ev->subject->link : NULL;
    x.upper = cfg ? cfg->link_upper : BN_LINK_UPPER_DEFAULT;
    x.lower = cfg ? cfg->link_lower : BN_LINK_LOWER_DEFAULT;
    x.text = text;
    size_t len = benang__v1__explain_reply__get_packed_size(&x);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return nomem(err);
    benang__v1__explain_reply__pack(&x, buf);
    *out = benang__v1__explain_reply__unpack(NULL, len, buf);
    free(buf);
    return *out ? BN_OK : nomem(err);
}

static bn_status_t explain(bn_store_t *s, const bn_config_t *cfg,
                           const Benang__V1__ExplainRequest *r, Benang__V1__QueryReply *rep,
                           bn_error_t *err)
{
    if (r->seq == 0)
        return bn_error_set(err, BN_BAD_REQUEST, 0, "explain.seq",
                            "seq is required (events start at 1)");
    uint8_t kb[8];
    bn_store_put_be64(kb, r->seq);
    unpack_t u = {&benang__v1__explain_reply__descriptor, NULL};
    bn_status_t st = bn_store_get(s, BN_DB_EXPLAIN, kb, 8, visit_unpack, &u, err);
    Benang__V1__ExplainReply *x = (Benang__V1__ExplainReply *)u.msg;
    if (st == BN_OK && !x)
        return bn_error_set(err, BN_STORE, 0, "store", "the explanation of event %llu is corrupt",
                            (unsigned long long)r->seq);
    if (st == BN_NOT_FOUND) {
        Benang__V1__Event *ev = NULL;
        st = load_event(s, r->seq, &ev, err);
        if (st == BN_NOT_FOUND)
            return bn_error_set(err, BN_NOT_FOUND, 0, "explain.seq",
                                "no event with seq %llu (the head is %llu)",
                                (unsigned long long)r->seq, (unsigned long long)bn_store_head(s));
        if (st == BN_OK && !ev)
            return bn_error_set(err, BN_STORE, 0, "store", "event %llu does not decode",
                                (unsigned long long)r->seq);
        if (st == BN_OK)
            st = explain_from_event(cfg, ev, &x, err);
        if (ev)
            benang__v1__event__free_unpacked(ev, NULL);
    }
    if (st != BN_OK)
        return st;
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT_EXPLAIN;
    rep->explain = x;
    return BN_OK;
}

/* ---- entry points -------------------------------------------------------------------- */

bn_status_t bn_views_answer(bn_store_t *s, const bn_config_t *cfg,
                            const Benang__V1__QueryRequest *req, Benang__V1__QueryReply *rep,
                            bn_error_t *err)
{
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT__NOT_SET;
    switch (req->query_case) {
    case BENANG__V1__QUERY_REQUEST__QUERY_OVERLAPS:
        return overlaps(s, req->overlaps, rep, err);
    case BENANG__V1__QUERY_REQUEST__QUERY_REFERRALS:
        return referrals(s, req->referrals, rep, err);
    case BENANG__V1__QUERY_REQUEST__QUERY_PROGRAM_MAP:
        return program_map(s, req->program_map, rep, err);
    case BENANG__V1__QUERY_REQUEST__QUERY_MATCHES:
        return matches(s, req->matches, rep, err);
    case BENANG__V1__QUERY_REQUEST__QUERY_MATCH_DECISION:
        return match_decision(s, req->match_decision, rep, err);
    case BENANG__V1__QUERY_REQUEST__QUERY_EXPLAIN:
        return explain(s, cfg, req->explain, rep, err);
    default:
        return bn_error_set(err, BN_BAD_REQUEST, 0, "query", "not a coordinator view (case %d)",
                            (int)req->query_case);
    }
}

void bn_views_free(Benang__V1__QueryReply *rep)
{
    if (!rep)
        return;
    switch (rep->result_case) {
    case BENANG__V1__QUERY_REPLY__RESULT_OVERLAPS:
        if (rep->overlaps)
            free_msgs(rep->overlaps->alerts, rep->overlaps->n_alerts);
        free(rep->overlaps);
        break;
    case BENANG__V1__QUERY_REPLY__RESULT_REFERRALS:
        if (rep->referrals)
            free_msgs(rep->referrals->referrals, rep->referrals->n_referrals);
        free(rep->referrals);
        break;
    case BENANG__V1__QUERY_REPLY__RESULT_PROGRAM_MAP:
        if (rep->program_map)
            free_msgs(rep->program_map->programs, rep->program_map->n_programs);
        free(rep->program_map);
        break;
    case BENANG__V1__QUERY_REPLY__RESULT_MATCHES:
        if (rep->matches)
            free_msgs(rep->matches->matches, rep->matches->n_matches);
        free(rep->matches);
        break;
    case BENANG__V1__QUERY_REPLY__RESULT_MATCH_DECISION:
        if (rep->match_decision && rep->match_decision->match)
            benang__v1__possible_match__free_unpacked(rep->match_decision->match, NULL);
        free(rep->match_decision);
        break;
    case BENANG__V1__QUERY_REPLY__RESULT_EXPLAIN:
        if (rep->explain)
            benang__v1__explain_reply__free_unpacked(rep->explain, NULL);
        break;
    default:
        break;
    }
    rep->result_case = BENANG__V1__QUERY_REPLY__RESULT__NOT_SET;
}
