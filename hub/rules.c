/* rules.c: overlap rules over the ruleidx index (see rules.h).
 *
 * The index entries not yet in LMDB wait in the pending index (pend.h): a
 * lookup walks the LMDB entries of its prefix, then the pending ones, with
 * the same visitor (consider). Recovery at start runs the rules again over
 * the events stored after the last flush to derive their entries again. */
#include "rules.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/v1/event.pb-c.h"

#include "linkage.h"
#include "validate.h"

#define MAX_AREAS 16     /* areas of one program indexed */
#define MAX_WALK 4096    /* index entries looked at per lookup */
#define PAIR_HASH_LEN 16 /* a pair's key in the alerted database, after the rule no */

bn_finding_t *bn_findings_push(bn_findings_t *f)
{
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        bn_finding_t *grown = realloc(f->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        f->items = grown;
        f->cap = cap;
    }
    bn_finding_t *x = &f->items[f->len++];
    memset(x, 0, sizeof *x);
    return x;
}

void bn_findings_clear(bn_findings_t *f)
{
    f->len = 0;
}

void bn_findings_free(bn_findings_t *f)
{
    free(f->items);
    f->items = NULL;
    f->len = f->cap = 0;
}

const bn_rule_conf_t *bn_rules_find(const bn_config_t *cfg, const char *type)
{
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (cfg->rules[i].enabled && strcmp(cfg->rules[i].type, type) == 0)
            return &cfg->rules[i];
    return NULL;
}

/* What one event offers the rules. */
typedef struct {
    const Benang__V1__Event *ev;
    const char *subject_key;
    const char *areas[MAX_AREAS];
    size_t n_areas;
    int32_t start, end; /* days */
    char start_s[32], end_s[32];
    bool eligible;
} facts_t;

static const char *str(const char *s)
{
    return s ? s : "";
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", str(src));
}

/* Day range of a period (end defaults to start). */
static bool period_days(const Benang__V1__Period *p, const char *fallback, facts_t *f)
{
    const char *s = p && p->start && *p->start ? p->start : fallback;
    const char *e = p && p->end && *p->end ? p->end : s;
    if (!bn_date_days(s, &f->start) || !bn_date_days(e, &f->end))
        return false;
    if (f->end < f->start)
        f->end = f->start;
    snprintf(f->start_s, sizeof f->start_s, "%.10s", s);
    snprintf(f->end_s, sizeof f->end_s, "%.10s", e);
    return true;
}

static bool gather(const Benang__V1__Event *ev, const char *subject_key, facts_t *f)
{
    memset(f, 0, sizeof *f);
    f->ev = ev;
    f->subject_key = subject_key ? subject_key : "";
    f->areas[0] = str(ev->area);
    f->n_areas = 1;
    switch (ev->body_case) {
    case BENANG__V1__EVENT__BODY_IMMUNISATION: {
        const Benang__V1__Immunisation *im = ev->immunisation;
        if (im->status == BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE ||
            im->status == BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_ENTERED_IN_ERROR)
            return false;
        const char *on =
            im->administered_on && *im->administered_on ? im->administered_on : ev->occurred_at;
        if (!bn_date_days(on, &f->start))
            return false;
        f->end = f->start;
        snprintf(f->start_s, sizeof f->start_s, "%.10s", on);
        copy(f->end_s, sizeof f->end_s, f->start_s);
        return true;
    }
    case BENANG__V1__EVENT__BODY_TRAINING:
        if (ev->training->participant_status ==
            BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_DROPPED_OUT)
            return false;
        return period_days(ev->training->period, ev->occurred_at, f);
    case BENANG__V1__EVENT__BODY_PROGRAM: {
        const Benang__V1__Program *pg = ev->program;
        if (pg->n_areas) {
            f->n_areas = pg->n_areas < MAX_AREAS ? pg->n_areas : MAX_AREAS;
            for (size_t i = 0; i < f->n_areas; i++)
                f->areas[i] = str(pg->areas[i]);
        }
        return period_days(pg->period, ev->occurred_at, f);
    }
    default:
        return false;
    }
}

/* Append s and a unit separator to out[0..*n) (kept NUL-terminated). */
static bool put_part(char *out, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (*n + l + 2 > cap)
        return false;
    memcpy(out + *n, s, l);
    out[*n + l] = '\x1f';
    *n += l + 1;
    out[*n] = '\0';
    return true;
}

/* The rule's id and its match values of the event, joined; false when one is
 * missing. The id is hashed in, so reordering rules in hub.yaml keeps their
 * index entries; the leading key byte is a constant namespace. */
static bool match_text(const bn_rule_conf_t *r, const facts_t *f, const char *area, char *out,
                       size_t cap)
{
    const Benang__V1__Event *ev = f->ev;
    size_t n = 0;
    if (!put_part(out, cap, &n, r->id))
        return false;
#define ADD(cond, val)                                                                             \
    do {                                                                                           \
        if (r->match_bits & (cond)) {                                                              \
            const char *v_ = (val);                                                                \
            if (!v_ || !*v_ || !put_part(out, cap, &n, v_))                                        \
                return false;                                                                      \
        }                                                                                          \
    } while (0)
    ADD(BN_RULE_F_SUBJECT, f->subject_key);
    if (ev->body_case == BENANG__V1__EVENT__BODY_IMMUNISATION) {
        const Benang__V1__Coding *c = ev->immunisation->vaccine;
        ADD(BN_RULE_F_VACCINE, c ? c->system : NULL);
        ADD(BN_RULE_F_VACCINE, c ? c->code : NULL);
        char dose[16], *d = dose + sizeof dose - 1;
        *d = '\0';
        uint32_t v = ev->immunisation->dose_number;
        do {
            *--d = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        ADD(BN_RULE_F_DOSE, d);
    }
    if (ev->body_case == BENANG__V1__EVENT__BODY_TRAINING) {
        const Benang__V1__Training *tr = ev->training;
        ADD(BN_RULE_F_COURSE_CATEGORY, tr->course_category);
        ADD(BN_RULE_F_COURSE, tr->course ? tr->course->system : NULL);
        ADD(BN_RULE_F_COURSE, tr->course ? tr->course->code : NULL);
        ADD(BN_RULE_F_PROVIDER, tr->provider);
    }
    if (ev->body_case == BENANG__V1__EVENT__BODY_PROGRAM) {
        ADD(BN_RULE_F_SECTOR,
            ev->program->sector && *ev->program->sector ? ev->program->sector : ev->sector);
        ADD(BN_RULE_F_TARGET_GROUP, ev->program->target_group);
    } else {
        ADD(BN_RULE_F_SECTOR, ev->sector);
    }
    ADD(BN_RULE_F_AREA, area);
#undef ADD
    return true;
}

typedef struct {
    const bn_rule_conf_t *rule;
    uint8_t rule_no;
    const facts_t *f;
    uint8_t prefix[BN_PEND_PREFIX_LEN];
    int32_t lo, hi; /* candidates' start days to look at */
    bn_store_txn_t *t;
    uint64_t seq;
    const char *area;
    bn_findings_t *out;
    bn_status_t st;
    bn_error_t *err;
    unsigned walked;
    int era; /* the era being scanned in LMDB (pend.h), -1: keys without one */
    bool in_lmdb; /* scanning LMDB (else walking the pending index) */
    /* The earliest partner so far (start day, then seq): LMDB gives each
     * era's candidates in that order, the pending index in none, so every
     * place is looked in and the earliest kept. */
    bool found;
    int32_t best_start, best_end;
    uint64_t best_seq;
    char best_agency[64], best_source[BN_FINDING_MAX_SOURCE];
    uint8_t best_pair[PAIR_HASH_LEN];
} walk_t;

/* The pair's identity: both (agency, source_id) in order, hashed. */
static void pair_hash(const char *rule, const char *a1, const char *s1, const char *a2,
                      const char *s2, uint8_t out[PAIR_HASH_LEN])
{
    const char *x[2][2] = {{a1, s1}, {a2, s2}};
    int first = strcmp(a1, a2) < 0 || (strcmp(a1, a2) == 0 && strcmp(s1, s2) <= 0) ? 0 : 1;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, PAIR_HASH_LEN);
    crypto_generichash_update(&h, (const unsigned char *)rule, strlen(rule) + 1);
    for (int k = 0; k < 2; k++) {
        const char *const *p = x[k == 0 ? first : 1 - first];
        crypto_generichash_update(&h, (const unsigned char *)p[0], strlen(p[0]) + 1);
        crypto_generichash_update(&h, (const unsigned char *)p[1], strlen(p[1]) + 1);
    }
    crypto_generichash_final(&h, out, PAIR_HASH_LEN);
}

/* Is seq still the current version of (agency, type, source_id)? */
static bool current(bn_store_txn_t *t, const char *agency, const char *type, const char *source,
                    uint64_t seq)
{
    uint64_t cur = 0;
    uint8_t h[BN_STORE_HASH_LEN];
    return bn_store_idem_get(t, agency, type, source, &cur, h, NULL) == BN_OK && cur == seq;
}

static void describe(bn_finding_t *x, const facts_t *f, const char *start0, const char *end0)
{
    const Benang__V1__Event *ev = f->ev;
    const char *kind = x->rule->kind;
    if (ev->body_case == BENANG__V1__EVENT__BODY_IMMUNISATION) {
        const Benang__V1__Coding *c = ev->immunisation->vaccine;
        snprintf(x->message, sizeof x->message,
                 "Dose %u of vaccine %s|%s recorded twice for one person: by %s (seq %llu, %s) "
                 "and %s (seq %llu, %s).",
                 ev->immunisation->dose_number, c ? str(c->system) : "", c ? str(c->code) : "",
                 x->agencies[0], (unsigned long long)x->seqs[0], start0, x->agencies[1],
                 (unsigned long long)x->seqs[1], f->start_s);
    } else if (ev->body_case == BENANG__V1__EVENT__BODY_TRAINING) {
        snprintf(x->message, sizeof x->message,
                 "One person is in two overlapping %s trainings: by %s (seq %llu, %s..%s) and "
                 "%s (seq %llu, %s..%s).",
                 str(ev->training->course_category), x->agencies[0], (unsigned long long)x->seqs[0],
                 start0, end0, x->agencies[1], (unsigned long long)x->seqs[1], f->start_s,
                 f->end_s);
    } else if (ev->body_case == BENANG__V1__EVENT__BODY_PROGRAM) {
        snprintf(x->message, sizeof x->message,
                 "Two %s programs for %s in area %s overlap in time: by %s (seq %llu, %s..%s) "
                 "and %s (seq %llu, %s..%s).",
                 x->sector, str(ev->program->target_group), x->area, x->agencies[0],
                 (unsigned long long)x->seqs[0], start0, end0, x->agencies[1],
                 (unsigned long long)x->seqs[1], f->start_s, f->end_s);
    } else {
        snprintf(x->message, sizeof x->message, "Rule %s (%s) matched seqs %llu and %llu.",
                 x->rule->id, kind, (unsigned long long)x->seqs[0], (unsigned long long)x->seqs[1]);
    }
}

static void day_text(int32_t days, char *out, size_t cap)
{
    /* civil from days (proleptic Gregorian) */
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, cap, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}

/* The agency and source_id of the stored event at seq. */
static bool event_origin(bn_store_txn_t *t, uint64_t seq, char *agency, size_t acap, char *source,
                         size_t scap)
{
    const uint8_t *bytes;
    size_t len;
    if (bn_store_txn_event(t, seq, &bytes, &len, NULL) != BN_OK)
        return false;
    Benang__V1__Event *e = benang__v1__event__unpack(NULL, len, bytes);
    if (!e)
        return false;
    snprintf(agency, acap, "%s", e->agency);
    snprintf(source, scap, "%s", e->source_id);
    benang__v1__event__free_unpacked(e, NULL);
    return true;
}

static int32_t key_start(const uint8_t *key)
{
    return (int32_t)((int64_t)bn_store_get_be32(key + BN_PEND_KEY_DAY_AT) - 2147483648LL);
}

/* One index entry with the same match hash and a start day up to w->hi: a
 * finding when it relates. False to stop looking (found one, or failed). */
static bool consider(walk_t *w, const bn_store_kv_t *kv, int32_t start)
{
    uint64_t seq = bn_store_get_be64(kv->key + BN_PEND_KEY_SEQ_AT);
    if (kv->val_len < 4 || seq == w->seq)
        return true;
    int32_t end = (int32_t)((int64_t)bn_store_get_be32(kv->val) - 2147483648LL);
    const facts_t *f = w->f;
    const bn_rule_conf_t *r = w->rule;
    if (r->periods_overlap ? (end < f->start) : (start < w->lo))
        return true;
    /* Who recorded it: kept with a pending entry; for one in LMDB (its value
     * is the end day alone, to keep the index small) read from the event. */
    char agency[64], source[BN_FINDING_MAX_SOURCE];
    if (kv->val_len > 4) {
        const char *a = (const char *)kv->val + 4;
        size_t al = strnlen(a, kv->val_len - 4);
        if (4 + al + 1 > kv->val_len)
            return true;
        snprintf(agency, sizeof agency, "%.*s", (int)al, a);
        snprintf(source, sizeof source, "%.*s", (int)(kv->val_len - 4 - al - 1), a + al + 1);
    } else if (!event_origin(w->t, seq, agency, sizeof agency, source, sizeof source)) {
        return true;
    }
    const Benang__V1__Event *ev = f->ev;
    if (strcmp(agency, ev->agency) == 0 && strcmp(source, ev->source_id) == 0)
        return true; /* an earlier version of this very record */
    if (r->across_agencies && strcmp(agency, ev->agency) == 0)
        return true;
    if (w->found && (start > w->best_start || (start == w->best_start && seq > w->best_seq)))
        return !w->in_lmdb; /* a later partner: in LMDB the rest of this era is later still */
    if (!current(w->t, agency, ev->type, source, seq))
        return true; /* superseded since: its current version speaks for it */
    uint8_t ph[PAIR_HASH_LEN];
    pair_hash(r->id, agency, source, ev->agency, ev->source_id, ph);
    uint8_t ak[1 + PAIR_HASH_LEN];
    ak[0] = w->rule_no;
    memcpy(ak + 1, ph, PAIR_HASH_LEN);
    const uint8_t *v;
    size_t vl;
    bn_status_t st = bn_store_txn_get(w->t, BN_DB_ALERTED, ak, sizeof ak, &v, &vl, w->err);
    if (st == BN_OK)
        return true; /* this pair was already alerted */
    if (st != BN_NOT_FOUND) {
        w->st = st;
        return false;
    }
    /* The earliest so far: one finding per event and rule, with it. */
    w->found = true;
    w->best_start = start;
    w->best_end = end;
    w->best_seq = seq;
    copy(w->best_agency, sizeof w->best_agency, agency);
    copy(w->best_source, sizeof w->best_source, source);
    memcpy(w->best_pair, ph, PAIR_HASH_LEN);
    return !w->in_lmdb; /* in LMDB the rest of this era is later */
}

/* The finding of the walk's earliest partner: the pair marked alerted (it
 * never raises this rule again) and a finding appended to w->out. */
static void make_finding(walk_t *w)
{
    const facts_t *f = w->f;
    const bn_rule_conf_t *r = w->rule;
    const Benang__V1__Event *ev = f->ev;
    const char *agency = w->best_agency, *source = w->best_source;
    const uint8_t *ph = w->best_pair;
    int32_t start = w->best_start, end = w->best_end;
    uint64_t seq = w->best_seq;
    uint8_t ak[1 + PAIR_HASH_LEN];
    ak[0] = w->rule_no;
    memcpy(ak + 1, ph, PAIR_HASH_LEN);
    uint8_t zero[8] = {0};
    bn_status_t st = bn_store_txn_put(w->t, BN_DB_ALERTED, ak, sizeof ak, zero, 8, w->err);
    if (st != BN_OK) {
        w->st = st;
        return;
    }
    bn_finding_t *x = bn_findings_push(w->out);
    if (!x) {
        w->st = bn_error_set(w->err, BN_NOMEM, 0, NULL, "out of memory");
        return;
    }
    x->rule = r;
    x->rule_no = w->rule_no;
    memcpy(x->pair_hash, ph, PAIR_HASH_LEN);
    x->seqs[0] = seq;
    x->seqs[1] = w->seq;
    copy(x->agencies[0], sizeof x->agencies[0], agency);
    copy(x->agencies[1], sizeof x->agencies[1], ev->agency);
    copy(x->source_ids[0], sizeof x->source_ids[0], source);
    copy(x->source_ids[1], sizeof x->source_ids[1], ev->source_id);
    copy(x->subject_key, sizeof x->subject_key, f->subject_key);
    copy(x->sector, sizeof x->sector,
         ev->body_case == BENANG__V1__EVENT__BODY_PROGRAM && ev->program->sector &&
                 *ev->program->sector
             ? ev->program->sector
             : ev->sector);
    copy(x->area, sizeof x->area, w->area);
    char s0[16], e0[16];
    day_text(start, s0, sizeof s0);
    day_text(end, e0, sizeof e0);
    int32_t ps = start > f->start ? start : f->start, pe = end < f->end ? end : f->end;
    if (r->periods_overlap) {
        day_text(ps, x->period_start, sizeof x->period_start);
        day_text(pe, x->period_end, sizeof x->period_end);
    } else {
        day_text(start < f->start ? start : f->start, x->period_start, sizeof x->period_start);
        day_text(start < f->start ? f->start : start, x->period_end, sizeof x->period_end);
    }
    describe(x, f, s0, e0);
}

/* The stored index, in key order: same hash, start days ascending. */
static bool visit_candidate(void *ctx, const bn_store_kv_t *kv)
{
    walk_t *w = ctx;
    bn_store_kv_t k = *kv; /* without the era prefix (pend.h); past the era: the end */
    if (bn_pend_era_of(&k.key, &k.key_len) != w->era || k.key_len != BN_PEND_KEY_LEN ||
        memcmp(k.key, w->prefix, sizeof w->prefix) != 0)
        return false;
    int32_t start = key_start(k.key);
    if (start > w->hi || ++w->walked > MAX_WALK)
        return false;
    return consider(w, &k, start);
}

/* The pending index (pend.h), with the same limits: its entries of w's
 * prefix in any order, so one past w->hi is passed over, not an end. */
static bool visit_pending(void *ctx, const bn_store_kv_t *kv)
{
    walk_t *w = ctx;
    int32_t start = key_start(kv->key);
    if (start > w->hi)
        return true;
    if (++w->walked > MAX_WALK)
        return false;
    return consider(w, kv, start);
}

/* Index entries of f under rule r, and (out not NULL) its findings. */
static bn_status_t check_rule(const bn_rule_conf_t *r, uint8_t rule_no, bn_store_txn_t *t,
                              bn_pend_t *pend, const facts_t *f, uint64_t seq, bn_findings_t *out,
                              bn_error_t *err)
{
    size_t n_areas = (r->match_bits & BN_RULE_F_AREA) ? f->n_areas : 1;
    for (size_t a = 0; a < n_areas; a++) {
        const char *area = f->areas[a];
        char text[1200];
        if (!match_text(r, f, area, text, sizeof text))
            continue;
        walk_t w = {.rule = r,
                    .rule_no = rule_no,
                    .f = f,
                    .t = t,
                    .seq = seq,
                    .area = area,
                    .out = out,
                    .st = BN_OK,
                    .err = err};
        w.prefix[0] = rule_no;
        crypto_generichash(w.prefix + 1, BN_PEND_HASH_LEN, (const unsigned char *)text,
                           strlen(text), NULL, 0);
        if (r->periods_overlap) {
            w.lo = INT32_MIN;
            w.hi = f->end;
        } else {
            int32_t days = (int32_t)r->within_days;
            w.lo = f->start - days;
            w.hi = f->start + days;
        }
        /* Start days are stored offset by 2^31 so they sort as unsigned. */
        uint8_t from[BN_PEND_KEY_DAY_AT + 4];
        memcpy(from, w.prefix, sizeof w.prefix);
        bn_store_put_be32(
            from + BN_PEND_KEY_DAY_AT,
            (uint32_t)((int64_t)(r->periods_overlap ? INT32_MIN : w.lo) + 2147483648LL));
        bn_status_t st = BN_OK;
        if (out) {
            /* In LMDB: the entries from before eras, then each era's. */
            if (!pend || bn_pend_rule_maybe_stored(pend, w.prefix)) {
                unsigned eras = pend ? bn_pend_eras(pend) : 0;
                w.in_lmdb = true;
                for (int e = -1; e < (int)eras && st == BN_OK && w.st == BN_OK; e++) {
                    uint8_t kb[sizeof from + 2];
                    size_t kl = bn_pend_era_key(e, from, sizeof from, kb, sizeof kb);
                    w.era = e;
                    w.walked = 0;
                    st = bn_store_txn_scan(t, BN_DB_RULEIDX, kb, kl, visit_candidate, &w, err);
                }
            }
            w.in_lmdb = false;
            w.walked = 0;
            if (st == BN_OK && w.st == BN_OK && pend)
                bn_pend_rule_each(pend, w.prefix, visit_pending, &w);
            if (st == BN_OK && w.st == BN_OK && w.found)
                make_finding(&w);
            if (st == BN_OK)
                st = w.st;
            if (st != BN_OK)
                return st;
        }
        /* Index this event. */
        uint8_t key[BN_PEND_KEY_LEN];
        memcpy(key, w.prefix, sizeof w.prefix);
        bn_store_put_be32(key + BN_PEND_KEY_DAY_AT, (uint32_t)((int64_t)f->start + 2147483648LL));
        bn_store_put_be64(key + BN_PEND_KEY_SEQ_AT, seq);
        uint8_t val[4 + 64 + 1 + BN_FINDING_MAX_SOURCE];
        bn_store_put_be32(val, (uint32_t)((int64_t)f->end + 2147483648LL));
        size_t al = strlen(f->ev->agency), sl = strlen(f->ev->source_id);
        if (4 + al + 1 + sl > sizeof val)
            continue; /* ids too long to index: validation keeps them short */
        memcpy(val + 4, f->ev->agency, al + 1);
        memcpy(val + 4 + al + 1, f->ev->source_id, sl);
        size_t vl = al + 1 + sl;
        st = pend ? bn_pend_rule_add(pend, key, val, 4 + vl, err)
                  : bn_store_txn_put(t, BN_DB_RULEIDX, key, sizeof key, val, 4, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

bn_status_t bn_rules_check(const bn_config_t *cfg, bn_store_txn_t *t, bn_pend_t *pend,
                           const Benang__V1__Event *ev, const char *subject_key, uint64_t seq,
                           bn_findings_t *out, bn_error_t *err)
{
    facts_t f;
    bool have = false, gathered = false;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const bn_rule_conf_t *r = &cfg->rules[i];
        if (!r->enabled || r->answer_within_hours != BN_RULE_UNSET ||
            strcmp(r->type, ev->type) != 0)
            continue;
        if (!gathered) {
            have = gather(ev, subject_key, &f);
            gathered = true;
        }
        if (!have)
            return BN_OK;
        bn_status_t st = check_rule(r, 'r', t, pend, &f, seq, out, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

bn_status_t bn_rules_mark_alerted(bn_store_txn_t *t, const bn_finding_t *f, uint64_t alert_seq,
                                  bn_error_t *err)
{
    uint8_t ak[1 + PAIR_HASH_LEN], v[8];
    ak[0] = f->rule_no;
    memcpy(ak + 1, f->pair_hash, PAIR_HASH_LEN);
    bn_store_put_be64(v, alert_seq);
    return bn_store_txn_put(t, BN_DB_ALERTED, ak, sizeof ak, v, 8, err);
}

/* ---- recovery --------------------------------------------------------------- */

typedef struct {
    const bn_config_t *cfg;
    bn_pend_t *pend;
    bn_status_t st;
    bn_error_t *err;
    uint64_t n;
} recover_t;

/* The people entry the linker made for a stored subject (linker.c: remember). */
static bn_status_t recover_person(bn_pend_t *p, const Benang__V1__Subject *sub, bn_error_t *err)
{
    char block[BN_LINK_BLOCK_MAX], name[BN_LINK_NAME_MAX];
    size_t bl = bn_link_block(sub->birth_date, sub->village, block, sizeof block);
    bn_link_name_normalise(sub->name ? sub->name : "", name, sizeof name);
    if (!bl || !*name)
        return BN_OK;
    uint8_t val[64 + 1 + BN_LINK_NAME_MAX];
    size_t nl = strlen(name);
    memcpy(val, sub->subject_key, 64);
    val[64] = (uint8_t)(sub->sex == BENANG__V1__SEX__SEX_FEMALE ? BN_LINK_SEX_FEMALE
                        : sub->sex == BENANG__V1__SEX__SEX_MALE ? BN_LINK_SEX_MALE
                                                                : BN_LINK_SEX_UNKNOWN);
    memcpy(val + 65, name, nl);
    /* Added even when LMDB has it already: the flush writes it once. */
    return bn_pend_people_add(p, NULL, block, bl, val, 65 + nl, err);
}

static bool visit_recover(void *ctx, uint64_t seq, const char *topic, size_t tl, const uint8_t *ev,
                          size_t len)
{
    (void)topic;
    (void)tl;
    recover_t *r = ctx;
    Benang__V1__Event *e = benang__v1__event__unpack(NULL, len, ev);
    if (!e) {
        r->st = bn_error_set(r->err, BN_STORE, 0, "store", "event %llu does not decode",
                             (unsigned long long)seq);
        return false;
    }
    const char *key = e->subject && e->subject->subject_key ? e->subject->subject_key : "";
    if (strlen(key) == 64)
        r->st = recover_person(r->pend, e->subject, r->err);
    facts_t f;
    bool have = false, gathered = false;
    for (size_t i = 0; i < r->cfg->n_rules && r->st == BN_OK; i++) {
        const bn_rule_conf_t *rule = &r->cfg->rules[i];
        if (!rule->enabled || rule->answer_within_hours != BN_RULE_UNSET ||
            strcmp(rule->type, e->type) != 0)
            continue;
        if (!gathered) {
            have = gather(e, key, &f);
            gathered = true;
        }
        if (!have)
            break;
        r->st = check_rule(rule, 'r', NULL, r->pend, &f, seq, NULL, r->err);
    }
    r->n++;
    benang__v1__event__free_unpacked(e, NULL);
    return r->st == BN_OK;
}

bn_status_t bn_rules_pend_recover(bn_pend_t *p, const bn_config_t *cfg, bn_store_t *s,
                                  uint64_t *replayed, bn_error_t *err)
{
    *replayed = 0;
    uint64_t head = bn_store_head(s), from = 0;
    bn_status_t st = bn_pend_unflushed_from(s, &from, err);
    if (st != BN_OK)
        return st;
    recover_t r = {cfg, p, BN_OK, err, 0};
    while (from <= head && r.st == BN_OK) {
        uint64_t next = 0, h = 0;
        st = bn_store_fetch(s, from, head, 10000, 0, NULL, 0, visit_recover, &r, &next, &h, err);
        if (st != BN_OK)
            return st;
        if (next <= from)
            break;
        from = next;
    }
    *replayed = r.n;
    bn_pend_mark(p);
    return r.st;
}
