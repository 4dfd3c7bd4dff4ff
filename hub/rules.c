/* rules.c: overlap rules over the ruleidx index (see rules.h). */
#include "rules.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/v1/event.pb-c.h"

#include "linkage.h"
#include "validate.h"

#define MAX_AREAS 16      /* areas of one program indexed */
#define MAX_WALK 4096     /* index entries looked at per lookup */
#define HASH_LEN 16
#define IDX_KEY_LEN (1 + HASH_LEN + 4 + 8)

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
    int32_t start, end;    /* days */
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
        const char *on = im->administered_on && *im->administered_on ? im->administered_on
                                                                        : ev->occurred_at;
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
#define ADD(cond, val)                                                                     \
    do {                                                                                   \
        if (r->match_bits & (cond)) {                                                      \
            const char *v_ = (val);                                                        \
            if (!v_ || !*v_ || !put_part(out, cap, &n, v_))                                \
                return false;                                                              \
        }                                                                                  \
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
        ADD(BN_RULE_F_SECTOR, ev->program->sector && *ev->program->sector ? ev->program->sector
                                                                          : ev->sector);
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
    uint8_t prefix[1 + HASH_LEN];
    int32_t lo, hi; /* candidates' start days to look at */
    bn_store_txn_t *t;
    uint64_t seq;
    const char *area;
    bn_findings_t *out;
    bn_status_t st;
    bn_error_t *err;
    unsigned walked;
    bool found;
} walk_t;

/* The pair's identity: both (agency, source_id) in order, hashed. */
static void pair_hash(const char *rule, const char *a1, const char *s1, const char *a2,
                      const char *s2, uint8_t out[HASH_LEN])
{
    const char *x[2][2] = {{a1, s1}, {a2, s2}};
    int first = strcmp(a1, a2) < 0 || (strcmp(a1, a2) == 0 && strcmp(s1, s2) <= 0) ? 0 : 1;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, HASH_LEN);
    crypto_generichash_update(&h, (const unsigned char *)rule, strlen(rule) + 1);
    for (int k = 0; k < 2; k++) {
        const char *const *p = x[k == 0 ? first : 1 - first];
        crypto_generichash_update(&h, (const unsigned char *)p[0], strlen(p[0]) + 1);
        crypto_generichash_update(&h, (const unsigned char *)p[1], strlen(p[1]) + 1);
    }
    crypto_generichash_final(&h, out, HASH_LEN);
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
                 str(ev->training->course_category), x->agencies[0],
                 (unsigned long long)x->seqs[0], start0, end0, x->agencies[1],
                 (unsigned long long)x->seqs[1], f->start_s, f->end_s);
    } else if (ev->body_case == BENANG__V1__EVENT__BODY_PROGRAM) {
        snprintf(x->message, sizeof x->message,
                 "Two %s programs for %s in area %s overlap in time: by %s (seq %llu, %s..%s) "
                 "and %s (seq %llu, %s..%s).",
                 x->sector, str(ev->program->target_group), x->area, x->agencies[0],
                 (unsigned long long)x->seqs[0], start0, end0, x->agencies[1],
                 (unsigned long long)x->seqs[1], f->start_s, f->end_s);
    } else {
        snprintf(x->message, sizeof x->message, "Rule %s (%s) matched seqs %llu and %llu.",
                 x->rule->id, kind, (unsigned long long)x->seqs[0],
                 (unsigned long long)x->seqs[1]);
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
static bool event_origin(bn_store_txn_t *t, uint64_t seq, char *agency, size_t acap,
                         char *source, size_t scap)
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
    return (int32_t)((int64_t)bn_store_get_be32(key + 1 + HASH_LEN) - 2147483648LL);
}

/* One index entry with the same match hash and a start day up to w->hi: a
 * finding when it relates. False to stop looking (found one, or failed). */
static bool consider(walk_t *w, const bn_store_kv_t *kv, int32_t start)
{
    uint64_t seq = bn_store_get_be64(kv->key + 1 + HASH_LEN + 4);
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
    if (!current(w->t, agency, ev->type, source, seq))
        return true; /* superseded since: its current version speaks for it */
    if (w->found)
        return false; /* one finding per event and rule: the earliest partner */
    uint8_t ph[HASH_LEN];
    pair_hash(r->id, agency, source, ev->agency, ev->source_id, ph);
    uint8_t ak[1 + HASH_LEN];
    ak[0] = w->rule_no;
    memcpy(ak + 1, ph, HASH_LEN);
    const uint8_t *v;
    size_t vl;
    bn_status_t st = bn_store_txn_get(w->t, BN_DB_ALERTED, ak, sizeof ak, &v, &vl, w->err);
    if (st == BN_OK)
        return true; /* this pair was already alerted */
    uint8_t zero[8] = {0};
    if (st != BN_NOT_FOUND ||
        (st = bn_store_txn_put(w->t, BN_DB_ALERTED, ak, sizeof ak, zero, 8, w->err)) != BN_OK) {
        w->st = st;
        return false;
    }
    bn_finding_t *x = bn_findings_push(w->out);
    if (!x) {
        w->st = bn_error_set(w->err, BN_NOMEM, 0, NULL, "out of memory");
        return false;
    }
    x->rule = r;
    x->rule_no = w->rule_no;
    memcpy(x->pair_hash, ph, HASH_LEN);
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
    w->found = true;
    return false;
}

/* The stored index, in key order: same hash, start days ascending. */
static bool visit_candidate(void *ctx, const bn_store_kv_t *kv)
{
    walk_t *w = ctx;
    if (kv->key_len != IDX_KEY_LEN || memcmp(kv->key, w->prefix, sizeof w->prefix) != 0)
        return false;
    int32_t start = key_start(kv->key);
    if (start > w->hi || ++w->walked > MAX_WALK)
        return false;
    return consider(w, kv, start);
}

/* ---- the pending part of the index ---------------------------------------------
 *
 * Index entries are not put into LMDB one by one: at millions of entries each
 * random-key insert dirties its own leaf page, so every group commit would
 * write a 4 KiB page per event. They gather in memory (a hash table on the
 * match hash) and go to LMDB in one sorted pass every `rule_index_flush`
 * entries, when many of them share a page. Lookups read both. The log stays
 * the durable copy: meta "ruleidx_upto" is the last seq whose entries are in
 * LMDB, and at start the entries of the events after it are derived again
 * from the stored events (bn_rules_pend_recover). */

/* The tables are chained hashes whose bucket count doubles whenever the
 * entries outnumber it (load <= 1), so a lookup looks at about one entry
 * however many wait (up to rule_index_flush, a million). A person entry
 * keeps 32-bit hashes of its block and of block + value, so the chain's
 * other entries are passed over without a compare or a read of the arena; a
 * rule entry's key starts with its match hash, compared 8 bytes first.
 * Chains are newest first, also after a rehash (entries go back in index
 * order), so a rollback unlinks each dropped entry from its bucket's head. */

#define NONE UINT32_MAX
#define MIN_BUCKETS (1u << 12)
static const char UPTO_KEY[] = "ruleidx_upto";

typedef struct {
    uint8_t key[IDX_KEY_LEN];
    uint16_t val_len;
    uint32_t val_off; /* into arena */
    uint32_t next;    /* the bucket's next entry, or NONE */
} pent_t;

/* A pending person: block -> [key][sex][name] (the people database). */
typedef struct {
    uint32_t key_off, val_off; /* into arena */
    uint16_t key_len, val_len;
    uint32_t khash;   /* hash of the block */
    uint32_t kvhash;  /* hash of block and value */
    uint32_t next;    /* the next entry of the block's bucket */
    uint32_t next_kv; /* the next entry of the (block, value) bucket */
} ppent_t;

/* Bucket heads of one chained table: mask + 1 (a power of two) of them. */
typedef struct {
    uint32_t *heads;
    uint32_t mask;
} ptab_t;

struct bn_rule_pend {
    pent_t *e;
    size_t n, cap;
    ppent_t *pe;
    size_t pn, pcap;
    uint8_t *arena;
    size_t alen, acap;
    ptab_t rule;           /* e by match hash */
    ptab_t block, kv;      /* pe by block, by (block, value) */
    size_t mark_n, mark_pn, mark_alen;
};

/* 64-bit multiply-xorshift over 8-byte words, then a full avalanche, so the
 * low bits (the bucket) depend on every byte. */
static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint64_t bytes_hash(uint64_t h, const uint8_t *k, size_t kl)
{
    h ^= (uint64_t)kl * 0x9e3779b97f4a7c15ULL;
    for (; kl >= 8; k += 8, kl -= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, k, kl);
    return mix64(h ^ w);
}

static uint32_t block_hash(const uint8_t *k, size_t kl)
{
    return (uint32_t)bytes_hash(0x5bd1e995u, k, kl);
}

/* Existence checks hash the value too: one block can hold very many people. */
static uint32_t kv_hash(uint32_t khash, const uint8_t *v, size_t vl)
{
    return (uint32_t)bytes_hash(khash ^ 0x9e3779b97f4a7c15ULL, v, vl);
}

/* The match hash's first bytes: already uniform. */
static uint32_t rule_hash(const uint8_t *prefix)
{
    return (uint32_t)prefix[1] | (uint32_t)prefix[2] << 8 | (uint32_t)prefix[3] << 16 |
           (uint32_t)prefix[4] << 24;
}

static bool tab_init(ptab_t *t, uint32_t buckets)
{
    t->heads = malloc(buckets * sizeof *t->heads);
    if (!t->heads)
        return false;
    t->mask = buckets - 1;
    memset(t->heads, 0xff, buckets * sizeof *t->heads);
    return true;
}

/* Room for entry number `entries` (load <= 1): double the rule table and
 * relink every entry in index order. */
static bn_status_t rule_tab_room(bn_rule_pend_t *p, size_t entries, bn_error_t *err)
{
    if (entries <= (size_t)p->rule.mask + 1)
        return BN_OK;
    ptab_t t;
    if ((size_t)p->rule.mask + 1 > NONE / 2 || !tab_init(&t, (p->rule.mask + 1) * 2))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the rule index");
    for (size_t i = 0; i < p->n; i++) {
        uint32_t b = rule_hash(p->e[i].key) & t.mask;
        p->e[i].next = t.heads[b];
        t.heads[b] = (uint32_t)i;
    }
    free(p->rule.heads);
    p->rule = t;
    return BN_OK;
}

/* The same for both people tables. */
static bn_status_t people_tab_room(bn_rule_pend_t *p, size_t entries, bn_error_t *err)
{
    if (entries <= (size_t)p->kv.mask + 1)
        return BN_OK;
    ptab_t tb = {NULL, 0}, tk = {NULL, 0};
    if ((size_t)p->kv.mask + 1 > NONE / 2 || !tab_init(&tb, (p->kv.mask + 1) * 2) ||
        !tab_init(&tk, (p->kv.mask + 1) * 2)) {
        free(tb.heads);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pending index");
    }
    for (size_t i = 0; i < p->pn; i++) {
        ppent_t *x = &p->pe[i];
        x->next = tb.heads[x->khash & tb.mask];
        tb.heads[x->khash & tb.mask] = (uint32_t)i;
        x->next_kv = tk.heads[x->kvhash & tk.mask];
        tk.heads[x->kvhash & tk.mask] = (uint32_t)i;
    }
    free(p->block.heads);
    free(p->kv.heads);
    p->block = tb;
    p->kv = tk;
    return BN_OK;
}

bn_status_t bn_rules_pend_new(bn_rule_pend_t **out, bn_error_t *err)
{
    *out = NULL;
    bn_rule_pend_t *p = calloc(1, sizeof *p);
    if (!p || !tab_init(&p->rule, MIN_BUCKETS) || !tab_init(&p->block, MIN_BUCKETS) ||
        !tab_init(&p->kv, MIN_BUCKETS)) {
        bn_rules_pend_destroy(&p);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the rule index");
    }
    *out = p;
    return BN_OK;
}

void bn_rules_pend_destroy(bn_rule_pend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->e);
    free((*self_p)->pe);
    free((*self_p)->arena);
    free((*self_p)->rule.heads);
    free((*self_p)->block.heads);
    free((*self_p)->kv.heads);
    free(*self_p);
    *self_p = NULL;
}

size_t bn_rules_pend_count(const bn_rule_pend_t *p)
{
    return p->n + p->pn;
}

void bn_rules_pend_mark(bn_rule_pend_t *p)
{
    p->mark_n = p->n;
    p->mark_pn = p->pn;
    p->mark_alen = p->alen;
}

void bn_rules_pend_rollback(bn_rule_pend_t *p)
{
    while (p->n > p->mark_n) { /* newest first: each is its bucket's head */
        pent_t *x = &p->e[--p->n];
        p->rule.heads[rule_hash(x->key) & p->rule.mask] = x->next;
    }
    while (p->pn > p->mark_pn) {
        ppent_t *x = &p->pe[--p->pn];
        p->block.heads[x->khash & p->block.mask] = x->next;
        p->kv.heads[x->kvhash & p->kv.mask] = x->next_kv;
    }
    p->alen = p->mark_alen;
}

/* Emptied; the tables keep their size, the next round fills them again. */
void bn_rules_pend_clear(bn_rule_pend_t *p)
{
    p->n = p->pn = p->alen = p->mark_n = p->mark_pn = p->mark_alen = 0;
    memset(p->rule.heads, 0xff, ((size_t)p->rule.mask + 1) * sizeof *p->rule.heads);
    memset(p->block.heads, 0xff, ((size_t)p->block.mask + 1) * sizeof *p->block.heads);
    memset(p->kv.heads, 0xff, ((size_t)p->kv.mask + 1) * sizeof *p->kv.heads);
}

/* Room for more bytes in the arena. */
static bn_status_t arena_room(bn_rule_pend_t *p, size_t more, bn_error_t *err)
{
    if (p->alen + more <= p->acap)
        return BN_OK;
    size_t cap = p->acap ? p->acap * 2 : 1 << 16;
    while (cap < p->alen + more)
        cap *= 2;
    uint8_t *g = cap < NONE ? realloc(p->arena, cap) : NULL;
    if (!g)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pending index");
    p->arena = g;
    p->acap = cap;
    return BN_OK;
}

static bool people_find(const bn_rule_pend_t *p, uint32_t kvh, const void *block, size_t bl,
                        const void *val, size_t vl)
{
    for (uint32_t i = p->kv.heads[kvh & p->kv.mask]; i != NONE; i = p->pe[i].next_kv) {
        const ppent_t *x = &p->pe[i];
        if (x->kvhash == kvh && x->key_len == bl && x->val_len == vl &&
            memcmp(p->arena + x->key_off, block, bl) == 0 &&
            memcmp(p->arena + x->val_off, val, vl) == 0)
            return true;
    }
    return false;
}

bool bn_pend_people_has(const bn_rule_pend_t *p, const void *block, size_t bl, const void *val,
                        size_t vl)
{
    return people_find(p, kv_hash(block_hash(block, bl), val, vl), block, bl, val, vl);
}

bn_status_t bn_pend_people_add(bn_rule_pend_t *p, bn_store_txn_t *t, const void *block, size_t bl,
                               const void *val, size_t vl, bn_error_t *err)
{
    if (bl > 0xffff || vl > 0xffff)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "subject", "person index entry too long");
    uint32_t kh = block_hash(block, bl), kvh = kv_hash(kh, val, vl);
    if (people_find(p, kvh, block, bl, val, vl) ||
        (t && bn_store_txn_has_dup(t, BN_DB_PEOPLE, block, bl, val, vl)))
        return BN_OK;
    if (p->pn == p->pcap) {
        size_t cap = p->pcap ? p->pcap * 2 : 4096;
        ppent_t *g = cap < NONE ? realloc(p->pe, cap * sizeof *g) : NULL;
        if (!g)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pending index");
        p->pe = g;
        p->pcap = cap;
    }
    bn_status_t st = arena_room(p, bl + vl, err);
    if (st == BN_OK)
        st = people_tab_room(p, p->pn + 1, err);
    if (st != BN_OK)
        return st;
    ppent_t *x = &p->pe[p->pn];
    x->key_off = (uint32_t)p->alen;
    memcpy(p->arena + p->alen, block, bl);
    p->alen += bl;
    x->val_off = (uint32_t)p->alen;
    memcpy(p->arena + p->alen, val, vl);
    p->alen += vl;
    x->key_len = (uint16_t)bl;
    x->val_len = (uint16_t)vl;
    x->khash = kh;
    x->kvhash = kvh;
    uint32_t b = kh & p->block.mask, kb = kvh & p->kv.mask;
    x->next = p->block.heads[b];
    x->next_kv = p->kv.heads[kb];
    p->block.heads[b] = (uint32_t)p->pn;
    p->kv.heads[kb] = (uint32_t)p->pn++;
    return BN_OK;
}

void bn_pend_people_each(const bn_rule_pend_t *p, const void *block, size_t bl,
                         bn_store_kv_fn visit, void *ctx)
{
    uint32_t kh = block_hash(block, bl);
    for (uint32_t i = p->block.heads[kh & p->block.mask]; i != NONE; i = p->pe[i].next) {
        const ppent_t *x = &p->pe[i];
        if (x->khash != kh || x->key_len != bl || memcmp(p->arena + x->key_off, block, bl) != 0)
            continue;
        bn_store_kv_t kv = {p->arena + x->key_off, x->key_len, p->arena + x->val_off, x->val_len};
        if (!visit(ctx, &kv))
            return;
    }
}

static bn_status_t pend_add(bn_rule_pend_t *p, const uint8_t *key, const uint8_t *val, size_t vl,
                            bn_error_t *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        pent_t *g = cap < NONE ? realloc(p->e, cap * sizeof *g) : NULL;
        if (!g)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the rule index");
        p->e = g;
        p->cap = cap;
    }
    bn_status_t st = arena_room(p, vl, err);
    if (st == BN_OK)
        st = rule_tab_room(p, p->n + 1, err);
    if (st != BN_OK)
        return st;
    pent_t *x = &p->e[p->n];
    memcpy(x->key, key, IDX_KEY_LEN);
    memcpy(p->arena + p->alen, val, vl);
    x->val_off = (uint32_t)p->alen;
    x->val_len = (uint16_t)vl;
    uint32_t b = rule_hash(key) & p->rule.mask;
    x->next = p->rule.heads[b];
    p->rule.heads[b] = (uint32_t)p->n++;
    p->alen += vl;
    return BN_OK;
}

/* The pending entries of w's hash (any order). The chain's other hashes are
 * told apart by their first 8 bytes, in the entry itself. */
static void pend_walk(const bn_rule_pend_t *p, walk_t *w)
{
    uint64_t tag;
    memcpy(&tag, w->prefix, 8);
    for (uint32_t i = p->rule.heads[rule_hash(w->prefix) & p->rule.mask];
         i != NONE && !w->found && w->st == BN_OK; i = p->e[i].next) {
        const pent_t *x = &p->e[i];
        uint64_t xt;
        memcpy(&xt, x->key, 8);
        if (xt != tag || memcmp(x->key, w->prefix, sizeof w->prefix) != 0)
            continue;
        int32_t start = key_start(x->key);
        if (start > w->hi || ++w->walked > MAX_WALK)
            continue;
        bn_store_kv_t kv = {x->key, IDX_KEY_LEN, p->arena + x->val_off, x->val_len};
        consider(w, &kv, start);
    }
}

/* One pending pair in the flush's sort: the key's first 8 bytes big-endian
 * (which decide nearly every comparison without a memory access), then key
 * and value. */
typedef struct {
    uint64_t hi;
    const uint8_t *k, *v;
    uint16_t kl, vl;
} sortrec_t;

static int cmp_sortrec(const void *a, const void *b)
{
    const sortrec_t *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    if (c || x->kl != y->kl)
        return c ? c : (int)x->kl - (int)y->kl;
    n = x->vl < y->vl ? x->vl : y->vl;
    c = memcmp(x->v, y->v, n);
    return c ? c : (int)x->vl - (int)y->vl;
}

#define SORT_RUN_QSORT 64   /* runs of equal hi up to this long: qsort */
#define SORT_RADIX_BYTES 64 /* key bytes the radix passes look at, at most */

/* Key bytes [off, off + 8) big-endian, zero-padded. */
static uint64_t key_word(const sortrec_t *r, size_t off)
{
    uint8_t b[8] = {0};
    if (off < r->kl)
        memcpy(b, r->k + off, r->kl - off < 8 ? r->kl - off : 8);
    return bn_store_get_be64(b);
}

/* In key order (then value), by a byte-wise radix sort on hi (key bytes
 * [off, off + 8)); a long run of equal hi goes on with the next 8 bytes
 * (people keys share their birth month), a short one to qsort. tmp has
 * room for n. */
static void sort_recs(sortrec_t *a, sortrec_t *tmp, size_t n, size_t off)
{
    sortrec_t *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 64 && n > 1; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(src[i].hi >> shift) & 0xff]++;
        if (count[(src[0].hi >> shift) & 0xff] == n)
            continue; /* one digit for all: this pass would change nothing */
        size_t pos = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].hi >> shift) & 0xff]++] = src[i];
        sortrec_t *x = src;
        src = dst;
        dst = x;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && a[j].hi == a[i].hi; j++) {
        }
        if (j - i > SORT_RUN_QSORT && off + 8 < SORT_RADIX_BYTES) {
            for (size_t x = i; x < j; x++)
                a[x].hi = key_word(&a[x], off + 8);
            sort_recs(a + i, tmp, j - i, off + 8);
        } else if (j - i > 1) {
            qsort(a + i, j - i, sizeof *a, cmp_sortrec);
        }
    }
}

/* Put recs[0..n) (sorted) into db through one cursor. */
static bn_status_t put_sorted(bn_store_txn_t *t, bn_store_db_t db, const sortrec_t *recs,
                              size_t n, size_t vcap, bn_error_t *err)
{
    bn_store_putter_t *c = NULL;
    bn_status_t st = bn_store_putter_open(t, db, &c, err);
    for (size_t i = 0; i < n && st == BN_OK; i++)
        st = bn_store_putter_put(c, recs[i].k, recs[i].kl, recs[i].v,
                                 recs[i].vl < vcap ? recs[i].vl : vcap, err);
    bn_store_putter_close(&c);
    return st;
}

bn_status_t bn_rules_pend_flush(bn_rule_pend_t *p, bn_store_txn_t *t, uint64_t upto,
                                bn_error_t *err)
{
    size_t most = p->n > p->pn ? p->n : p->pn;
    sortrec_t *recs = malloc((most ? most : 1) * 2 * sizeof *recs);
    if (!recs)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pending index");
    sortrec_t *tmp = recs + (most ? most : 1);
    for (size_t i = 0; i < p->n; i++) {
        const pent_t *x = &p->e[i];
        recs[i] = (sortrec_t){0, x->key, p->arena + x->val_off, IDX_KEY_LEN, x->val_len};
        recs[i].hi = key_word(&recs[i], 0);
    }
    sort_recs(recs, tmp, p->n, 0);
    /* The end day only: the rest is in the event. */
    bn_status_t st = put_sorted(t, BN_DB_RULEIDX, recs, p->n, 4, err);
    if (st == BN_OK) {
        for (size_t i = 0; i < p->pn; i++) {
            const ppent_t *x = &p->pe[i];
            const uint8_t *k = p->arena + x->key_off;
            recs[i] = (sortrec_t){0, k, p->arena + x->val_off, x->key_len, x->val_len};
            recs[i].hi = key_word(&recs[i], 0);
        }
        sort_recs(recs, tmp, p->pn, 0);
        st = put_sorted(t, BN_DB_PEOPLE, recs, p->pn, SIZE_MAX, err);
    }
    free(recs);
    uint8_t v[8];
    bn_store_put_be64(v, upto);
    if (st == BN_OK)
        st = bn_store_txn_put(t, BN_DB_META, UPTO_KEY, sizeof UPTO_KEY - 1, v, 8, err);
    return st;
}

/* Index entries of f under rule r, and (out not NULL) its findings. */
static bn_status_t check_rule(const bn_rule_conf_t *r, uint8_t rule_no, bn_store_txn_t *t,
                              bn_rule_pend_t *pend, const facts_t *f, uint64_t seq,
                              bn_findings_t *out, bn_error_t *err)
{
    size_t n_areas = (r->match_bits & BN_RULE_F_AREA) ? f->n_areas : 1;
    for (size_t a = 0; a < n_areas; a++) {
        const char *area = f->areas[a];
        char text[1200];
        if (!match_text(r, f, area, text, sizeof text))
            continue;
        walk_t w = {.rule = r, .rule_no = rule_no, .f = f, .t = t, .seq = seq, .area = area,
                    .out = out, .st = BN_OK, .err = err};
        w.prefix[0] = rule_no;
        crypto_generichash(w.prefix + 1, HASH_LEN, (const unsigned char *)text, strlen(text),
                           NULL, 0);
        if (r->periods_overlap) {
            w.lo = INT32_MIN;
            w.hi = f->end;
        } else {
            int32_t days = (int32_t)r->within_days;
            w.lo = f->start - days;
            w.hi = f->start + days;
        }
        /* Start days are stored offset by 2^31 so they sort as unsigned. */
        uint8_t from[1 + HASH_LEN + 4];
        memcpy(from, w.prefix, sizeof w.prefix);
        bn_store_put_be32(from + 1 + HASH_LEN,
                          (uint32_t)((int64_t)(r->periods_overlap ? INT32_MIN : w.lo) + 2147483648LL));
        bn_status_t st = BN_OK;
        if (out) {
            st = bn_store_txn_scan(t, BN_DB_RULEIDX, from, sizeof from, visit_candidate, &w, err);
            if (st == BN_OK && pend && !w.found)
                pend_walk(pend, &w);
            if (st == BN_OK)
                st = w.st;
            if (st != BN_OK)
                return st;
        }
        /* Index this event. */
        uint8_t key[IDX_KEY_LEN];
        memcpy(key, w.prefix, sizeof w.prefix);
        bn_store_put_be32(key + 1 + HASH_LEN, (uint32_t)((int64_t)f->start + 2147483648LL));
        bn_store_put_be64(key + 1 + HASH_LEN + 4, seq);
        uint8_t val[4 + 64 + 1 + BN_FINDING_MAX_SOURCE];
        bn_store_put_be32(val, (uint32_t)((int64_t)f->end + 2147483648LL));
        size_t al = strlen(f->ev->agency), sl = strlen(f->ev->source_id);
        if (4 + al + 1 + sl > sizeof val)
            continue; /* ids too long to index: validation keeps them short */
        memcpy(val + 4, f->ev->agency, al + 1);
        memcpy(val + 4 + al + 1, f->ev->source_id, sl);
        size_t vl = al + 1 + sl;
        st = pend ? pend_add(pend, key, val, 4 + vl, err)
                  : bn_store_txn_put(t, BN_DB_RULEIDX, key, sizeof key, val, 4, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

bn_status_t bn_rules_check(const bn_config_t *cfg, bn_store_txn_t *t, bn_rule_pend_t *pend,
                           const Benang__V1__Event *ev, const char *subject_key, uint64_t seq,
                           bn_findings_t *out, bn_error_t *err)
{
    facts_t f;
    bool have = false, gathered = false;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const bn_rule_conf_t *r = &cfg->rules[i];
        if (!r->enabled || r->answer_within_hours != BN_RULE_UNSET || strcmp(r->type, ev->type) != 0)
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
    uint8_t ak[1 + HASH_LEN], v[8];
    ak[0] = f->rule_no;
    memcpy(ak + 1, f->pair_hash, HASH_LEN);
    bn_store_put_be64(v, alert_seq);
    return bn_store_txn_put(t, BN_DB_ALERTED, ak, sizeof ak, v, 8, err);
}

/* ---- recovery --------------------------------------------------------------- */

typedef struct {
    const bn_config_t *cfg;
    bn_rule_pend_t *pend;
    bn_status_t st;
    bn_error_t *err;
    uint64_t n;
} recover_t;

/* The people entry the linker made for a stored subject (linker.c: remember). */
static bn_status_t recover_person(bn_rule_pend_t *p, const Benang__V1__Subject *sub,
                                  bn_error_t *err)
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

typedef struct {
    uint64_t v;
    bool found;
} u64_get_t;

static bool visit_u64(void *ctx, const bn_store_kv_t *kv)
{
    u64_get_t *g = ctx;
    if (kv->val_len == 8) {
        g->v = bn_store_get_be64(kv->val);
        g->found = true;
    }
    return false;
}

bn_status_t bn_rules_pend_recover(bn_rule_pend_t *p, const bn_config_t *cfg, bn_store_t *s,
                                  uint64_t *replayed, bn_error_t *err)
{
    *replayed = 0;
    uint64_t head = bn_store_head(s);
    u64_get_t upto = {0, false};
    bn_status_t st = bn_store_get(s, BN_DB_META, UPTO_KEY, sizeof UPTO_KEY - 1, visit_u64, &upto,
                                  err);
    if (st != BN_OK && st != BN_NOT_FOUND)
        return st;
    /* A store from before the pending index has every entry in LMDB already. */
    uint64_t from = upto.found ? upto.v + 1 : head + 1;
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
    bn_rules_pend_mark(p);
    return r.st;
}
