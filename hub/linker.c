/* linker.c: subject keys decided in the writer's transaction (see linker.h).
 *
 * Store records (store.h): people[block] holds one value per (key, sex, name)
 * seen in that block; localids["agency\0local_id"] the key an agency's record
 * number was first given; localids["\1" key] the first seq of a key (shown to
 * reviewers); links[key] a confirmed match's target, links["no:a|b"] a
 * rejected pair, links["pm:a|b"] a pair already on the review list.
 */
#include "linker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkage.h"

#define KEY_LEN 64
#define TOP_N 5         /* candidates kept for the explanation */
#define MAX_HOPS 4      /* links followed at most (a chain of confirmations) */

typedef struct {
    char key[BN_SUBJECT_KEY_HEX];
    char name[BN_LINK_NAME_MAX];
    bn_link_score_t score;
} cand_t;

typedef struct {
    bn_store_txn_t *t;
    const bn_link_person_t *me;
    const char *my_key;
    cand_t top[TOP_N];
    size_t n_top;
    uint32_t seen, max;
    bn_status_t st;
    bn_error_t *err;
} scan_t;

static bn_link_sex_t link_sex(Benang__V1__Sex s)
{
    return s == BENANG__V1__SEX__SEX_FEMALE ? BN_LINK_SEX_FEMALE
           : s == BENANG__V1__SEX__SEX_MALE ? BN_LINK_SEX_MALE
                                            : BN_LINK_SEX_UNKNOWN;
}

/* "a|b" with the two keys in order, after prefix. */
static size_t pair_key(char *out, size_t cap, const char *prefix, const char *a, const char *b)
{
    if (strcmp(a, b) > 0) {
        const char *x = a;
        a = b;
        b = x;
    }
    int n = snprintf(out, cap, "%s%s|%s", prefix, a, b);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool rejected_pair(bn_store_txn_t *t, const char *a, const char *b)
{
    char k[200];
    size_t kl = pair_key(k, sizeof k, "no:", a, b);
    const uint8_t *v;
    size_t vl;
    return kl && bn_store_txn_get(t, BN_DB_LINKS, k, kl, &v, &vl, NULL) == BN_OK;
}

static bool visit_person(void *ctx, const bn_store_kv_t *kv)
{
    scan_t *s = ctx;
    if (kv->val_len < KEY_LEN + 1)
        return true;
    if (++s->seen > s->max)
        return false;
    cand_t c;
    memcpy(c.key, kv->val, KEY_LEN);
    c.key[KEY_LEN] = '\0';
    size_t nl = kv->val_len - KEY_LEN - 1;
    if (nl >= sizeof c.name)
        nl = sizeof c.name - 1;
    memcpy(c.name, kv->val + KEY_LEN + 1, nl);
    c.name[nl] = '\0';
    bn_link_person_t other = {c.name, (bn_link_sex_t)kv->val[KEY_LEN]};
    c.score = bn_link_compare(s->me, &other);
    /* The same key under another spelling: keep the best score per key. */
    for (size_t i = 0; i < s->n_top; i++)
        if (strcmp(s->top[i].key, c.key) == 0) {
            if (c.score.score > s->top[i].score.score)
                s->top[i] = c;
            goto sort;
        }
    if (strcmp(c.key, s->my_key) != 0 && rejected_pair(s->t, c.key, s->my_key))
        return true;
    if (s->n_top < TOP_N)
        s->top[s->n_top++] = c;
    else if (c.score.score > s->top[TOP_N - 1].score.score)
        s->top[TOP_N - 1] = c;
    else
        return true;
sort:
    for (size_t i = s->n_top; i-- > 1;)
        if (s->top[i].score.score > s->top[i - 1].score.score) {
            cand_t x = s->top[i];
            s->top[i] = s->top[i - 1];
            s->top[i - 1] = x;
        }
    return true;
}

/* Follow confirmed links from key (in place). True when it moved. */
static bool follow_links(bn_store_txn_t *t, char key[BN_SUBJECT_KEY_HEX])
{
    bool moved = false;
    for (int hop = 0; hop < MAX_HOPS; hop++) {
        const uint8_t *v;
        size_t vl;
        if (bn_store_txn_get(t, BN_DB_LINKS, key, KEY_LEN, &v, &vl, NULL) != BN_OK ||
            vl != KEY_LEN)
            break;
        memcpy(key, v, KEY_LEN);
        moved = true;
    }
    return moved;
}

/* Remember the person: in the block, under the agency's record number, and
 * (seq not 0) the first seq of the key. */
static bn_status_t remember(const bn_linker_options_t *opt, bn_store_txn_t *t,
                            const char *block, size_t bl, const char *key, bn_link_sex_t sex,
                            const char *name, const char *agency, const char *local_id,
                            uint64_t seq, bn_error_t *err)
{
    bn_status_t st = BN_OK;
    if (bl && *name) {
        uint8_t val[KEY_LEN + 1 + BN_LINK_NAME_MAX];
        size_t nl = strlen(name);
        memcpy(val, key, KEY_LEN);
        val[KEY_LEN] = (uint8_t)sex;
        memcpy(val + KEY_LEN + 1, name, nl);
        size_t vl = KEY_LEN + 1 + nl;
        if (!opt->pend)
            st = bn_store_txn_put(t, BN_DB_PEOPLE, block, bl, val, vl, err);
        else
            st = bn_pend_people_add(opt->pend, t, block, bl, val, vl, err);
    }
    if (st == BN_OK && local_id && *local_id) {
        char k[400];
        int kl = snprintf(k, sizeof k, "%s%c%s", agency, '\0', local_id);
        if (kl > 0 && (size_t)kl < sizeof k)
            st = bn_store_txn_put(t, BN_DB_LOCALIDS, k, (size_t)kl, key, KEY_LEN, err);
    }
    if (st == BN_OK && seq) {
        char k[1 + KEY_LEN];
        k[0] = '\1';
        memcpy(k + 1, key, KEY_LEN);
        const uint8_t *v;
        size_t vl;
        bn_status_t g = bn_store_txn_get(t, BN_DB_LOCALIDS, k, sizeof k, &v, &vl, err);
        if (g == BN_NOT_FOUND) {
            uint8_t sb[8];
            bn_store_put_be64(sb, seq);
            st = bn_store_txn_put(t, BN_DB_LOCALIDS, k, sizeof k, sb, 8, err);
        } else if (g != BN_OK) {
            st = g;
        }
    }
    return st;
}

static uint64_t first_seq(bn_store_txn_t *t, const char *key)
{
    char k[1 + KEY_LEN];
    k[0] = '\1';
    memcpy(k + 1, key, KEY_LEN);
    const uint8_t *v;
    size_t vl;
    if (bn_store_txn_get(t, BN_DB_LOCALIDS, k, sizeof k, &v, &vl, NULL) == BN_OK && vl == 8)
        return bn_store_get_be64(v);
    return 0;
}

static bn_status_t put_packed(bn_store_txn_t *t, bn_store_db_t db, uint64_t id,
                              const ProtobufCMessage *m, bn_error_t *err)
{
    uint8_t kb[8];
    bn_store_put_be64(kb, id);
    return bn_store_txn_put_msg(t, db, kb, 8, m, err);
}

/* A possible match: reuse the review item of the pair, or open one. */
static bn_status_t possible_match(bn_store_txn_t *t, uint64_t seq, const char *recorded_at,
                                  const char *key, const char *name, const cand_t *c,
                                  const Benang__V1__Subject *subject, uint64_t *id,
                                  bn_error_t *err)
{
    char pk[200];
    size_t pl = pair_key(pk, sizeof pk, "pm:", key, c->key);
    const uint8_t *v;
    size_t vl;
    bn_status_t st = bn_store_txn_get(t, BN_DB_LINKS, pk, pl, &v, &vl, err);
    if (st == BN_OK && vl == 8) {
        *id = bn_store_get_be64(v);
        return BN_OK;
    }
    if (st != BN_NOT_FOUND && st != BN_OK)
        return st;
    if ((st = bn_store_txn_next_id(t, "match", id, err)) != BN_OK)
        return st;
    Benang__V1__PossibleMatch m = BENANG__V1__POSSIBLE_MATCH__INIT;
    m.id = *id;
    m.seq = seq;
    m.subject_key = (char *)key;
    m.candidate_key = (char *)c->key;
    m.candidate_seq = first_seq(t, c->key);
    m.score = c->score.score;
    m.name = (char *)name;
    m.candidate_name = (char *)c->name;
    m.birth_date = subject->birth_date;
    m.village = subject->village;
    m.created_at = (char *)recorded_at;
    if ((st = put_packed(t, BN_DB_MATCHES, *id, &m.base, err)) != BN_OK)
        return st;
    uint8_t ib[8];
    bn_store_put_be64(ib, *id);
    return bn_store_txn_put(t, BN_DB_LINKS, pk, pl, ib, 8, err);
}

static const char *method_text(Benang__V1__LinkMethod m)
{
    switch (m) {
    case BENANG__V1__LINK_METHOD__LINK_METHOD_PROBABILISTIC:
        return "linked to the best candidate, which scored at or above the upper threshold";
    case BENANG__V1__LINK_METHOD__LINK_METHOD_POSSIBLE:
        return "a new person; the best candidate scored between the thresholds and is on the "
               "review list";
    case BENANG__V1__LINK_METHOD__LINK_METHOD_CONFIRMED:
        return "linked by a coordinator's confirmed match";
    default:
        return "a new person; no candidate reached the lower threshold";
    }
}

static bn_status_t explain(bn_store_txn_t *t, uint64_t seq, const char *key, const char *block,
                           const char *name, const scan_t *s, const bn_linker_options_t *opt,
                           const Benang__V1__Linkage *link, bn_error_t *err)
{
    Benang__V1__ExplainReply x = BENANG__V1__EXPLAIN_REPLY__INIT;
    Benang__V1__LinkCandidate cs[TOP_N], *cp[TOP_N];
    for (size_t i = 0; i < s->n_top; i++) {
        benang__v1__link_candidate__init(&cs[i]);
        cs[i].subject_key = (char *)s->top[i].key;
        cs[i].name = (char *)s->top[i].name;
        cs[i].score = s->top[i].score.score;
        cs[i].name_score = s->top[i].score.name_score;
        cs[i].sex_agrees = s->top[i].score.sex_agrees;
        cp[i] = &cs[i];
    }
    char text[300];
    snprintf(text, sizeof text, "compared with %zu candidate%s in its block: %s", s->n_top,
             s->n_top == 1 ? "" : "s", method_text(link->method));
    x.seq = seq;
    x.subject_key = (char *)key;
    x.link = (Benang__V1__Linkage *)link;
    x.block = (char *)block;
    x.name = (char *)name;
    x.candidates = cp;
    x.n_candidates = s->n_top;
    x.upper = opt->upper;
    x.lower = opt->lower;
    x.text = text;
    return put_packed(t, BN_DB_EXPLAIN, seq, &x.base, err);
}

/* A subject without a NIK: its agency's record number, else the linker. */
static bn_status_t resolve_other(const bn_linker_options_t *opt, const bn_pseudonym_t *pseudo,
                                 bn_store_txn_t *t, const char *agency, uint64_t seq,
                                 const char *recorded_at, const Benang__V1__Subject *subject,
                                 const bn_linker_prep_t *prep, char key[BN_SUBJECT_KEY_HEX],
                                 Benang__V1__Linkage *link, char linked_key[BN_SUBJECT_KEY_HEX],
                                 bn_error_t *err)
{
    const char *block = prep->block, *name = prep->name;
    size_t bl = prep->block_len;
    bn_link_sex_t sex = link_sex(subject->sex);
    const char *local_id = subject->local_id;
    if (local_id && *local_id) {
        char k[400];
        int kl = snprintf(k, sizeof k, "%s%c%s", agency, '\0', local_id);
        const uint8_t *v;
        size_t vl;
        bn_status_t st = kl > 0 && (size_t)kl < sizeof k
                             ? bn_store_txn_get(t, BN_DB_LOCALIDS, k, (size_t)kl, &v, &vl, err)
                             : BN_NOT_FOUND;
        if (st == BN_OK && vl == KEY_LEN) {
            memcpy(key, v, KEY_LEN);
            key[KEY_LEN] = '\0';
            link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_LOCAL_ID;
            if (follow_links(t, key))
                link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_CONFIRMED;
            return remember(opt, t, block, bl, key, sex, name, agency, local_id, seq, err);
        }
        if (st != BN_OK && st != BN_NOT_FOUND)
            return st;
    }
    if (!bl || !*name)
        return BN_OK; /* nothing to link on */

    /* Its own key first: deterministic, so a replay gives the same one. */
    /* Sex is part of it: two people of one block and one name but different
     * sex never share a key without the scorer's say. */
    char text[BN_LINK_BLOCK_MAX + BN_LINK_NAME_MAX + 8];
    snprintf(text, sizeof text, "%s|%s|%d", block, name, (int)sex);
    bn_pseudonym_text(pseudo, "person", text, key);
    bn_link_person_t me = {name, sex};
    scan_t s = {.t = t, .me = &me, .my_key = key, .max = opt->max_block, .err = err};
    bn_status_t st = bn_pend_people_scan_stored(opt->pend, t, block, bl, visit_person, &s, err);
    if (st != BN_OK)
        return st;
    if (opt->pend)
        bn_pend_people_each(opt->pend, block, bl, visit_person, &s);
    const cand_t *best = s.n_top ? &s.top[0] : NULL;
    bn_link_verdict_t v = best ? bn_link_verdict(best->score.score, opt->upper, opt->lower)
                               : BN_LINK_NO_MATCH;
    if (best && strcmp(best->key, key) == 0)
        v = BN_LINK_MATCH; /* the same person seen before under the same name */
    link->score = best ? best->score.score : 0;
    if (v == BN_LINK_MATCH) {
        memcpy(key, best->key, BN_SUBJECT_KEY_HEX);
        link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_PROBABILISTIC;
    } else if (v == BN_LINK_POSSIBLE) {
        link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_POSSIBLE;
        memcpy(linked_key, best->key, BN_SUBJECT_KEY_HEX);
        link->linked_key = linked_key;
        if ((st = possible_match(t, seq, recorded_at, key, name, best, subject, &link->match_id,
                                 err)) != BN_OK)
            return st;
    } else {
        link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_NEW;
    }
    if (follow_links(t, key))
        link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_CONFIRMED;
    if ((st = explain(t, seq, key, block, name, &s, opt, link, err)) != BN_OK)
        return st;
    return remember(opt, t, block, bl, key, sex, name, agency, local_id, seq, err);
}

bn_status_t bn_linker_resolve(const bn_linker_options_t *opt, const bn_pseudonym_t *pseudo,
                              bn_store_txn_t *t, const char *agency, uint64_t seq,
                              const char *recorded_at, const Benang__V1__Subject *subject,
                              const bn_linker_prep_t *prep, char key[BN_SUBJECT_KEY_HEX],
                              Benang__V1__Linkage *link, char linked_key[BN_SUBJECT_KEY_HEX],
                              bn_error_t *err)
{
    key[0] = '\0';
    linked_key[0] = '\0';
    benang__v1__linkage__init(link);
    if (!subject)
        return BN_OK;
    bool nik = subject->subject_key && strlen(subject->subject_key) == KEY_LEN;
    uint64_t h = 0, *slot = NULL;
    if (nik) { /* a repeat seen lately needs nothing more, not even the inputs */
        memcpy(key, subject->subject_key, BN_SUBJECT_KEY_HEX);
        link->method = BENANG__V1__LINK_METHOD__LINK_METHOD_NIK;
        h = prep ? prep->seen : bn_linker_seen_hash(subject, agency);
        slot = opt->seen ? &opt->seen->slot[h & (BN_LINKER_SEEN_SLOTS - 1)] : NULL;
        if (slot && *slot == h)
            return BN_OK; /* recorded exactly so lately: already in the indexes */
    }
    bn_linker_prep_t own; /* made here when not given */
    if (!prep) {
        bn_linker_prepare(subject, agency, &own);
        prep = &own;
    }
    if (!nik)
        return resolve_other(opt, pseudo, t, agency, seq, recorded_at, subject, prep, key, link,
                             linked_key, err);
    /* No first-seq record for NIK keys: one random-key insert less per event
     * (a reviewer sees a NIK candidate's name instead). */
    bn_status_t st = remember(opt, t, prep->block, prep->block_len, key, link_sex(subject->sex),
                              prep->name, agency, subject->local_id, 0, err);
    if (st == BN_OK && slot)
        *slot = h;
    return st;
}

/* ---- decisions ---------------------------------------------------------------- */

typedef struct {
    uint64_t id;
    int decision;
    const char *note, *decided_at;
    Benang__V1__PossibleMatch *out;
} decide_t;

static bn_status_t decide_txn(void *ctx, bn_store_txn_t *t, bn_error_t *err)
{
    decide_t *d = ctx;
    uint8_t kb[8];
    bn_store_put_be64(kb, d->id);
    const uint8_t *v;
    size_t vl;
    bn_status_t st = bn_store_txn_get(t, BN_DB_MATCHES, kb, 8, &v, &vl, err);
    if (st == BN_NOT_FOUND)
        return bn_error_set(err, BN_NOT_FOUND, 0, "match_decision.id",
                            "no possible match #%llu", (unsigned long long)d->id);
    if (st != BN_OK)
        return st;
    Benang__V1__PossibleMatch *m = benang__v1__possible_match__unpack(NULL, vl, v);
    if (!m)
        return bn_error_set(err, BN_STORE, 0, "matches", "corrupt possible match #%llu",
                            (unsigned long long)d->id);
    if ((int)m->decision == d->decision) { /* the same decision again: nothing changes */
        d->out = m;
        return BN_OK;
    }
    if (m->decision != BENANG__V1__MATCH_DECISION__MATCH_DECISION_PENDING) {
        benang__v1__possible_match__free_unpacked(m, NULL);
        return bn_error_set(err, BN_CONFLICT, 0, "match_decision.decision",
                            "possible match #%llu was already decided the other way",
                            (unsigned long long)d->id);
    }
    Benang__V1__PossibleMatch upd = *m;
    upd.decision = (Benang__V1__MatchDecision)d->decision;
    upd.decided_at = (char *)d->decided_at;
    upd.note = (char *)(d->note ? d->note : "");
    st = put_packed(t, BN_DB_MATCHES, d->id, &upd.base, err);
    if (st == BN_OK && d->decision == BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED &&
        strlen(m->subject_key) == KEY_LEN && strlen(m->candidate_key) == KEY_LEN)
        st = bn_store_txn_put(t, BN_DB_LINKS, m->subject_key, KEY_LEN, m->candidate_key, KEY_LEN,
                              err);
    if (st == BN_OK && d->decision == BENANG__V1__MATCH_DECISION__MATCH_DECISION_REJECTED) {
        char pk[200];
        size_t pl = pair_key(pk, sizeof pk, "no:", m->subject_key, m->candidate_key);
        st = bn_store_txn_put(t, BN_DB_LINKS, pk, pl, "", 0, err);
    }
    benang__v1__possible_match__free_unpacked(m, NULL);
    if (st != BN_OK)
        return st;
    /* Hand back a decoded copy of what was stored. */
    const uint8_t *nv;
    size_t nvl;
    if ((st = bn_store_txn_get(t, BN_DB_MATCHES, kb, 8, &nv, &nvl, err)) != BN_OK)
        return st;
    d->out = benang__v1__possible_match__unpack(NULL, nvl, nv);
    return d->out ? BN_OK : bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
}

bn_status_t bn_linker_decide(bn_store_t *s, uint64_t id, int decision, const char *note,
                             const char *decided_at, Benang__V1__PossibleMatch **out,
                             bn_error_t *err)
{
    *out = NULL;
    if (decision != BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED &&
        decision != BENANG__V1__MATCH_DECISION__MATCH_DECISION_REJECTED)
        return bn_error_set(err, BN_USAGE, 0, "match_decision.decision",
                            "decision must be CONFIRMED or REJECTED (got %d)", decision);
    decide_t d = {id, decision, note, decided_at, NULL};
    bn_status_t st = bn_store_update(s, decide_txn, &d, err);
    if (st != BN_OK && d.out) {
        benang__v1__possible_match__free_unpacked(d.out, NULL);
        d.out = NULL;
    }
    *out = d.out;
    return st;
}
