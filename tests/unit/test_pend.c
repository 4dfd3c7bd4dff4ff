/* test_pend: the pending index (pend.h), on its own and under the rules that
 * read it (rules.h).
 *
 * On its own: rule entries found by their prefix and people entries by
 * their block, past the tables' first 4,096 buckets and with prefixes that
 * share a bucket and their first 8 bytes; a mark, more entries across
 * several rehashes and a rollback that leaves exactly the entries from
 * before the mark; a flush that puts every entry into LMDB in key order
 * (counted with the store's scan) and the upto mark recovery starts from;
 * a staged flush spread over many transactions (one of them aborted and
 * rolled back), whose entries stay visible until their last step commits,
 * which writes each once, in key order, and only then moves the upto mark,
 * while entries gathered meanwhile wait apart.
 * Under the rules: a duplicate of another agency is found among pending
 * entries, among flushed ones and among ones recovered from the log; a
 * subject whose entries were rolled back is found nowhere.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pend.h"
#include "rules.h"
#include "store.h"
#include "testutil.h"

/* ---- rule entries, made up ------------------------------------------------- */

#define N_PREFIXES 512 /* entry i has prefix i % N_PREFIXES, seq i + 1 */
#define RULES_BEFORE_MARK 6000
#define RULES_AFTER_MARK 30000 /* the table doubles at 4,096, 8,192 and 16,384 */

/* Prefixes 2k and 2k + 1 differ in their last byte only: same bucket, same
 * first 8 bytes, so only the whole compare tells them apart. */
static void make_prefix(unsigned prefix_no, uint8_t prefix[BN_PEND_PREFIX_LEN])
{
    memset(prefix, 0, BN_PEND_PREFIX_LEN);
    prefix[0] = 'r';
    uint64_t h = (prefix_no / 2 + 1) * 0x9e3779b97f4a7c15ULL;
    memcpy(prefix + 1, &h, 8);
    prefix[BN_PEND_PREFIX_LEN - 1] = (uint8_t)(prefix_no % 2);
}

static void make_rule_key(size_t i, uint8_t key[BN_PEND_KEY_LEN])
{
    make_prefix((unsigned)(i % N_PREFIXES), key);
    bn_store_put_be32(key + BN_PEND_KEY_DAY_AT, (uint32_t)(2147483648u + 20000 + i % 97));
    bn_store_put_be64(key + BN_PEND_KEY_SEQ_AT, i + 1);
}

/* [end day][agency \0 source]: what rules.c adds; its length. */
static size_t make_rule_val(uint64_t seq, uint8_t *val, size_t cap)
{
    bn_store_put_be32(val, (uint32_t)(2147483648u + 30000 + seq % 89));
    int n = snprintf((char *)val + 4, cap - 4, "agency-a%csource-%llu", 0, (unsigned long long)seq);
    return 4 + (size_t)n;
}

static void add_rules(bn_pend_t *p, size_t from, size_t to)
{
    bn_error_t err;
    size_t failed = 0;
    for (size_t i = from; i < to; i++) {
        uint8_t key[BN_PEND_KEY_LEN], val[64];
        make_rule_key(i, key);
        size_t vl = make_rule_val(i + 1, val, sizeof val);
        failed += bn_pend_rule_add(p, key, val, vl, &err) != BN_OK;
    }
    CHECK_EQ_U64(failed, 0);
}

typedef struct {
    unsigned prefix_no;
    size_t visited;
    size_t wrong;      /* visited entries not as added, or not of prefix_no */
    uint64_t max_seq;  /* the newest entry visited */
    size_t stop_after; /* 0: visit all */
} rule_visit_t;

static bool visit_rule(void *ctx, const bn_store_kv_t *kv)
{
    rule_visit_t *v = ctx;
    v->visited++;
    uint64_t seq = bn_store_get_be64(kv->key + BN_PEND_KEY_SEQ_AT);
    uint8_t key[BN_PEND_KEY_LEN], val[64];
    size_t vl = 0;
    if (seq > 0) {
        make_rule_key(seq - 1, key);
        vl = make_rule_val(seq, val, sizeof val);
    }
    if (seq == 0 || (seq - 1) % N_PREFIXES != v->prefix_no || kv->key_len != BN_PEND_KEY_LEN ||
        memcmp(kv->key, key, sizeof key) != 0 || kv->val_len != vl || memcmp(kv->val, val, vl) != 0)
        v->wrong++;
    if (seq > v->max_seq)
        v->max_seq = seq;
    return !(v->stop_after && v->visited == v->stop_after);
}

/* How many prefixes do not show exactly entries 0..n-1 of theirs. */
static size_t prefixes_not_holding(const bn_pend_t *p, size_t n)
{
    size_t bad = 0;
    for (unsigned no = 0; no < N_PREFIXES; no++) {
        uint8_t prefix[BN_PEND_PREFIX_LEN];
        make_prefix(no, prefix);
        rule_visit_t v = {.prefix_no = no};
        bn_pend_rule_each(p, prefix, visit_rule, &v);
        size_t want = n / N_PREFIXES + (no < n % N_PREFIXES);
        if (v.visited != want || v.wrong || v.max_seq > n)
            bad++;
    }
    return bad;
}

/* ---- people entries, made up ------------------------------------------------ */

#define N_BLOCKS 50 /* person i is in block i % N_BLOCKS */
#define PEOPLE_BEFORE_MARK 10000
#define PEOPLE_AFTER_MARK 30000

static size_t make_block(unsigned block_no, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "2000-01-%02u|village", block_no);
}

/* [64-char subject key][sex][name], as the linker stores it. */
static size_t make_person(size_t i, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%064zu%cname %zu", i, 1, i);
}

/* Each person is offered twice: the second is a duplicate and not added. */
static void add_people(bn_pend_t *p, bn_store_txn_t *t, size_t from, size_t to)
{
    bn_error_t err;
    size_t failed = 0;
    for (size_t i = from; i < to; i++) {
        char block[32], val[128];
        size_t bl = make_block((unsigned)(i % N_BLOCKS), block, sizeof block);
        size_t vl = make_person(i, val, sizeof val);
        failed += bn_pend_people_add(p, t, block, bl, val, vl, &err) != BN_OK;
        failed += bn_pend_people_add(p, t, block, bl, val, vl, &err) != BN_OK;
    }
    CHECK_EQ_U64(failed, 0);
}

static bool person_pending(const bn_pend_t *p, size_t i)
{
    char block[32], val[128];
    size_t bl = make_block((unsigned)(i % N_BLOCKS), block, sizeof block);
    size_t vl = make_person(i, val, sizeof val);
    return bn_pend_people_has(p, block, bl, val, vl);
}

typedef struct {
    unsigned block_no;
    size_t visited, wrong;
} people_visit_t;

static bool visit_person(void *ctx, const bn_store_kv_t *kv)
{
    people_visit_t *v = ctx;
    v->visited++;
    char block[32];
    size_t bl = make_block(v->block_no, block, sizeof block);
    size_t i = kv->val_len > 65 ? strtoul((const char *)kv->val, NULL, 10) : 0;
    char val[128];
    size_t vl = make_person(i, val, sizeof val);
    if (kv->key_len != bl || memcmp(kv->key, block, bl) != 0 || i % N_BLOCKS != v->block_no ||
        kv->val_len != vl || memcmp(kv->val, val, vl) != 0)
        v->wrong++;
    return true;
}

/* How many blocks do not show exactly n / N_BLOCKS people of theirs. */
static size_t blocks_not_holding(const bn_pend_t *p, size_t n)
{
    size_t bad = 0;
    for (unsigned b = 0; b < N_BLOCKS; b++) {
        char block[32];
        size_t bl = make_block(b, block, sizeof block);
        people_visit_t v = {.block_no = b};
        bn_pend_people_each(p, block, bl, visit_person, &v);
        if (v.visited != n / N_BLOCKS || v.wrong)
            bad++;
    }
    return bad;
}

/* ---- the pending index on its own ------------------------------------------- */

static void test_add_mark_rollback(bn_pend_t *p)
{
    CHECK_EQ_U64(bn_pend_count(p), 0);
    CHECK_EQ_U64(prefixes_not_holding(p, 0), 0);

    add_rules(p, 0, RULES_BEFORE_MARK);
    add_people(p, NULL, 0, PEOPLE_BEFORE_MARK);
    CHECK_EQ_U64(bn_pend_count(p), RULES_BEFORE_MARK + PEOPLE_BEFORE_MARK);
    bn_pend_mark(p);
    add_rules(p, RULES_BEFORE_MARK, RULES_AFTER_MARK);
    add_people(p, NULL, PEOPLE_BEFORE_MARK, PEOPLE_AFTER_MARK);
    CHECK_EQ_U64(bn_pend_count(p), RULES_AFTER_MARK + PEOPLE_AFTER_MARK);
    CHECK_EQ_U64(prefixes_not_holding(p, RULES_AFTER_MARK), 0);
    CHECK_EQ_U64(blocks_not_holding(p, PEOPLE_AFTER_MARK), 0);

    /* Every entry since the mark is gone, from the count and from every chain. */
    bn_pend_rollback(p);
    CHECK_EQ_U64(bn_pend_count(p), RULES_BEFORE_MARK + PEOPLE_BEFORE_MARK);
    size_t bad_prefixes = prefixes_not_holding(p, RULES_BEFORE_MARK);
    size_t bad_blocks = blocks_not_holding(p, PEOPLE_BEFORE_MARK);
    CHECK_EQ_U64(bad_prefixes, 0);
    CHECK_EQ_U64(bad_blocks, 0);
    if (bad_prefixes || bad_blocks)
        return; /* a chain still reaches dropped entries: adding more could close a loop */
    size_t wrong = 0;
    for (size_t i = 0; i < PEOPLE_AFTER_MARK; i += 7)
        wrong += person_pending(p, i) != (i < PEOPLE_BEFORE_MARK);
    CHECK_EQ_U64(wrong, 0);

    /* The chains go on from the mark: entries added now are found, once. */
    add_rules(p, RULES_BEFORE_MARK, 2 * RULES_BEFORE_MARK);
    CHECK_EQ_U64(prefixes_not_holding(p, 2 * RULES_BEFORE_MARK), 0);
    CHECK(person_pending(p, PEOPLE_BEFORE_MARK - 1));
    CHECK(!person_pending(p, PEOPLE_BEFORE_MARK));

    /* Tables made bigger with entries in them (several doublings at once)
     * still find each of them, and a rollback still unlinks them. */
    bn_error_t perr;
    bn_pend_mark(p);
    add_people(p, NULL, PEOPLE_BEFORE_MARK, PEOPLE_BEFORE_MARK + 100);
    CHECK(bn_pend_presize(p, 20 * RULES_AFTER_MARK, &perr) == BN_OK);
    CHECK_EQ_U64(prefixes_not_holding(p, 2 * RULES_BEFORE_MARK), 0);
    CHECK_EQ_U64(blocks_not_holding(p, PEOPLE_BEFORE_MARK + 100), 0);
    bn_pend_rollback(p);
    CHECK(person_pending(p, PEOPLE_BEFORE_MARK - 1));
    CHECK(!person_pending(p, PEOPLE_BEFORE_MARK + 50));
    CHECK(bn_pend_presize(p, 1000, &perr) == BN_OK); /* smaller: nothing to do */
    CHECK_EQ_U64(prefixes_not_holding(p, 2 * RULES_BEFORE_MARK), 0);

    /* A visitor that returns false is not called again. */
    uint8_t prefix[BN_PEND_PREFIX_LEN];
    make_prefix(3, prefix);
    rule_visit_t one = {.prefix_no = 3, .stop_after = 1};
    bn_pend_rule_each(p, prefix, visit_rule, &one);
    CHECK_EQ_U64(one.visited, 1);
    CHECK_EQ_U64(one.wrong, 0);

    /* Entries longer than a 16-bit length are refused, and nothing is added. */
    size_t before = bn_pend_count(p);
    size_t big_len = 70000;
    uint8_t *big = calloc(1, big_len);
    uint8_t key[BN_PEND_KEY_LEN];
    make_rule_key(0, key);
    bn_error_t err;
    CHECK(big != NULL);
    if (big) {
        CHECK(bn_pend_rule_add(p, key, big, big_len, &err) == BN_INVALID_EVENT);
        CHECK(bn_pend_people_add(p, NULL, "b", 1, big, big_len, &err) == BN_INVALID_EVENT);
    }
    free(big);
    CHECK_EQ_U64(bn_pend_count(p), before);
}

typedef struct {
    size_t n, out_of_order, wrong;
    uint8_t key[64], val[128]; /* the last pair seen */
    size_t key_len, val_len;
} scan_t;

static int compare_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Is kv after the last pair seen: a greater key, or (a dupsort db) the same
 * key with a greater value? LMDB's order, with its default compares. */
static bool after_last(scan_t *sc, const bn_store_kv_t *kv)
{
    if (kv->key_len > sizeof sc->key || kv->val_len > sizeof sc->val)
        return false;
    int c = compare_bytes(sc->key, sc->key_len, kv->key, kv->key_len);
    bool after = sc->n == 0 || c < 0 ||
                 (c == 0 && compare_bytes(sc->val, sc->val_len, kv->val, kv->val_len) < 0);
    memcpy(sc->key, kv->key, kv->key_len);
    memcpy(sc->val, kv->val, kv->val_len);
    sc->key_len = kv->key_len;
    sc->val_len = kv->val_len;
    return after;
}

/* kv's key without its era prefix (pend.h); *era its era, -1 without one. */
static bn_store_kv_t unera(const bn_store_kv_t *kv, int *era)
{
    bn_store_kv_t k = *kv;
    *era = -1;
    if (k.key_len > 2 && k.key[0] == BN_PEND_ERA_MARK) {
        *era = k.key[1];
        k.key += 2;
        k.key_len -= 2;
    }
    return k;
}

static bool scan_ruleidx(void *ctx, const bn_store_kv_t *kv_era)
{
    scan_t *sc = ctx;
    if (!after_last(sc, kv_era))
        sc->out_of_order++;
    sc->n++;
    int era;
    bn_store_kv_t k = unera(kv_era, &era), *kv = &k;
    if (era != 0) /* every pass of these tests is in era 0 */
        sc->wrong++;
    uint64_t seq =
        kv->key_len == BN_PEND_KEY_LEN ? bn_store_get_be64(kv->key + BN_PEND_KEY_SEQ_AT) : 0;
    uint8_t key[BN_PEND_KEY_LEN], val[64];
    if (seq > 0) {
        make_rule_key(seq - 1, key);
        make_rule_val(seq, val, sizeof val);
    }
    /* LMDB keeps the end day alone. */
    if (seq == 0 || memcmp(kv->key, key, sizeof key) != 0 ||
        kv->val_len != BN_PEND_RULE_DB_VAL_LEN ||
        memcmp(kv->val, val, BN_PEND_RULE_DB_VAL_LEN) != 0)
        sc->wrong++;
    return true;
}

static bool scan_people(void *ctx, const bn_store_kv_t *kv)
{
    scan_t *sc = ctx;
    if (!after_last(sc, kv))
        sc->out_of_order++;
    sc->n++;
    return true;
}

static bool count_values(void *ctx, const bn_store_kv_t *kv)
{
    (void)kv;
    (*(size_t *)ctx)++;
    return true;
}

static void test_flush(bn_pend_t *p, bn_store_t *s)
{
    bn_error_t err;
    uint64_t from = 0;
    CHECK(bn_pend_unflushed_from(s, &from, &err) == BN_OK);
    CHECK_EQ_U64(from, bn_store_head(s) + 1); /* never flushed */

    size_t rules = 2 * RULES_BEFORE_MARK, people = PEOPLE_BEFORE_MARK;
    CHECK_EQ_U64(bn_pend_count(p), rules + people);
    bn_store_txn_t *t = NULL;
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    CHECK_MSG(bn_pend_flush(p, t, 777, &err) == BN_OK, "%s", err.msg);
    CHECK_EQ_U64(bn_pend_count(p), rules + people); /* kept until the commit is known */
    CHECK(bn_store_commit(&t, &err) == BN_OK);
    bn_pend_clear(p);
    CHECK_EQ_U64(bn_pend_count(p), 0);
    CHECK_EQ_U64(prefixes_not_holding(p, 0), 0);
    CHECK(!person_pending(p, 0));
    CHECK(bn_pend_unflushed_from(s, &from, &err) == BN_OK);
    CHECK_EQ_U64(from, 778);

    /* Every entry is in LMDB, each once and in key order. */
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    scan_t sc = {0};
    CHECK(bn_store_txn_scan(t, BN_DB_RULEIDX, NULL, 0, scan_ruleidx, &sc, &err) == BN_OK);
    CHECK_EQ_U64(sc.n, rules);
    CHECK_EQ_U64(sc.out_of_order, 0);
    CHECK_EQ_U64(sc.wrong, 0);
    scan_t sp = {0};
    CHECK(bn_store_txn_scan(t, BN_DB_PEOPLE, NULL, 0, scan_people, &sp, &err) == BN_OK);
    CHECK_EQ_U64(sp.n, people);
    CHECK_EQ_U64(sp.out_of_order, 0);
    size_t short_blocks = 0;
    for (unsigned b = 0; b < N_BLOCKS; b++) {
        char block[32];
        uint8_t kb[40];
        size_t bl = make_block(b, block, sizeof block), n = 0;
        size_t kl = bn_pend_era_key(0, block, bl, kb, sizeof kb);
        CHECK(bn_store_txn_scan_dup(t, BN_DB_PEOPLE, kb, kl, count_values, &n, &err) == BN_OK);
        short_blocks += n != people / N_BLOCKS;
    }
    CHECK_EQ_U64(short_blocks, 0);

    /* With the txn, a person LMDB holds is not pending again; a new one is. */
    add_people(p, t, 0, people);
    CHECK_EQ_U64(bn_pend_count(p), 0);
    add_people(p, t, people, people + 1);
    CHECK_EQ_U64(bn_pend_count(p), 1);
    bn_pend_clear(p);

    /* The same with the filter of what LMDB holds: it never hides an entry
     * that is there, and it spares most lookups of prefixes that are not. */
    uint64_t entries = 0;
    bn_bloom_t *filter = NULL;
    bn_pend_filter_collect(p);
    CHECK_MSG(bn_pend_filter_build(s, rules + people, 0, NULL, &filter, &entries, &err) == BN_OK,
              "%s", err.msg);
    CHECK_EQ_U64(entries, rules + people);
    CHECK(filter && bn_bloom_bytes(filter) > 0);
    CHECK(bn_pend_filter_adopt(p, &filter, &err) == BN_OK && !filter);
    add_people(p, t, 0, people);
    CHECK_EQ_U64(bn_pend_count(p), 0);
    add_people(p, t, people, people + 1);
    CHECK_EQ_U64(bn_pend_count(p), 1);
    size_t hidden = 0, spared = 0;
    for (unsigned no = 0; no < N_PREFIXES; no++) {
        uint8_t prefix[BN_PEND_PREFIX_LEN];
        make_prefix(no, prefix);
        hidden += !bn_pend_rule_maybe_stored(p, prefix); /* every prefix has flushed entries */
        prefix[BN_PEND_PREFIX_LEN - 1] ^= 0x80;           /* never added */
        spared += !bn_pend_rule_maybe_stored(p, prefix);
    }
    CHECK_EQ_U64(hidden, 0);
    CHECK_MSG(spared > N_PREFIXES * 9 / 10, "%zu of %d absent prefixes spared", spared, N_PREFIXES);
    /* What a flush writes joins the filter. */
    add_people(p, t, people + 1, people + 50);
    CHECK_MSG(bn_pend_flush(p, t, 888, &err) == BN_OK, "%s", err.msg);
    bn_pend_clear(p);
    add_people(p, t, 0, people + 50);
    CHECK_EQ_U64(bn_pend_count(p), 0);
    bn_store_abort(&t);
    bn_pend_clear(p);
}

/* Rules entries 0..STAGED_RULES-1 and people 0..STAGED_PEOPLE-1 staged and
 * written in steps of STAGE_STEP; rules up to STAGED_RULES + GATHERED_LATE
 * gathered meanwhile. */
#define STAGED_RULES 9000
#define STAGED_PEOPLE 5000
#define STAGE_STEP 1000
#define GATHERED_LATE 300

static void test_staged(bn_pend_t *p, bn_store_t *s)
{
    bn_error_t err;
    add_rules(p, 0, STAGED_RULES);
    add_people(p, NULL, 0, STAGED_PEOPLE);
    const size_t total = STAGED_RULES + STAGED_PEOPLE;
    CHECK_EQ_U64(bn_pend_gathered(p), total);
    CHECK_EQ_U64(bn_pend_staged(p), 0);
    CHECK(bn_pend_stage(p, 4321, &err) == BN_OK);
    CHECK_EQ_U64(bn_pend_gathered(p), 0);
    CHECK_EQ_U64(bn_pend_staged(p), total);
    CHECK(bn_pend_stage(p, 4322, &err) == BN_INTERNAL); /* one at a time */
    /* Staged entries are still found by the lookups. */
    CHECK_EQ_U64(prefixes_not_holding(p, STAGED_RULES), 0);
    CHECK_EQ_U64(blocks_not_holding(p, STAGED_PEOPLE), 0);
    CHECK(person_pending(p, STAGED_PEOPLE - 1));
    /* A staged person is not gathered again. */
    add_people(p, NULL, 0, 10);
    CHECK_EQ_U64(bn_pend_gathered(p), 0);
    add_rules(p, STAGED_RULES, STAGED_RULES + GATHERED_LATE);
    CHECK_EQ_U64(bn_pend_gathered(p), GATHERED_LATE);
    CHECK_EQ_U64(prefixes_not_holding(p, STAGED_RULES + GATHERED_LATE), 0);
    /* The sort runs apart; until it is done a step writes nothing. */
    CHECK(bn_pend_stage_wait(p, &err) == BN_OK);
    CHECK_EQ_U64(bn_pend_staged(p), total);

    uint64_t from = 0;
    size_t steps = 0, aborted = 0, early = 0, wrong_left = 0;
    bool finished = false;
    while (!finished && steps < 100) {
        size_t left = bn_pend_staged(p);
        bn_pend_mark(p);
        bn_store_txn_t *t = NULL;
        CHECK(bn_store_begin(s, &t, &err) == BN_OK);
        if (!t)
            break;
        CHECK_MSG(bn_pend_stage_step(p, t, STAGE_STEP, &finished, &err) == BN_OK, "%s", err.msg);
        if (steps == 3 && !aborted) { /* this attempt fails: nothing of it counts */
            bn_store_abort(&t);
            bn_pend_rollback(p);
            aborted++;
            finished = false;
            wrong_left += bn_pend_staged(p) != left;
            continue;
        }
        CHECK(bn_store_commit(&t, &err) == BN_OK);
        bn_pend_committed(p);
        steps++;
        wrong_left += bn_pend_staged(p) != (left > STAGE_STEP ? left - STAGE_STEP : 0);
        CHECK(bn_pend_unflushed_from(s, &from, &err) == BN_OK);
        early += !finished && from != bn_store_head(s) + 1;
    }
    CHECK(finished);
    CHECK_EQ_U64(steps, (total + STAGE_STEP - 1) / STAGE_STEP);
    CHECK_EQ_U64(wrong_left, 0);
    CHECK_EQ_U64(early, 0); /* the upto mark moves with the last step only */
    CHECK(bn_pend_unflushed_from(s, &from, &err) == BN_OK);
    CHECK_EQ_U64(from, 4322);
    /* Dropped from memory; the late ones wait on. */
    CHECK_EQ_U64(bn_pend_staged(p), 0);
    CHECK_EQ_U64(bn_pend_count(p), GATHERED_LATE);
    CHECK(!person_pending(p, 0));
    uint8_t prefix[BN_PEND_PREFIX_LEN];
    make_prefix(0, prefix);
    rule_visit_t v = {.prefix_no = 0};
    bn_pend_rule_each(p, prefix, visit_rule, &v);
    CHECK_EQ_U64(v.visited, GATHERED_LATE / N_PREFIXES + (0 < GATHERED_LATE % N_PREFIXES));

    /* In LMDB: every staged entry, once, in key order. */
    bn_store_txn_t *t = NULL;
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    scan_t sc = {0}, sp = {0};
    CHECK(bn_store_txn_scan(t, BN_DB_RULEIDX, NULL, 0, scan_ruleidx, &sc, &err) == BN_OK);
    CHECK_EQ_U64(sc.n, STAGED_RULES);
    CHECK_EQ_U64(sc.out_of_order, 0);
    CHECK_EQ_U64(sc.wrong, 0);
    CHECK(bn_store_txn_scan(t, BN_DB_PEOPLE, NULL, 0, scan_people, &sp, &err) == BN_OK);
    CHECK_EQ_U64(sp.n, STAGED_PEOPLE);
    CHECK_EQ_U64(sp.out_of_order, 0);
    /* A whole flush writes the rest. */
    CHECK(bn_pend_flush(p, t, 5000, &err) == BN_OK);
    CHECK(bn_store_commit(&t, &err) == BN_OK);
    bn_pend_clear(p);
    CHECK_EQ_U64(bn_pend_count(p), 0);
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    scan_t all = {0};
    CHECK(bn_store_txn_scan(t, BN_DB_RULEIDX, NULL, 0, scan_ruleidx, &all, &err) == BN_OK);
    CHECK_EQ_U64(all.n, STAGED_RULES + GATHERED_LATE);
    CHECK_EQ_U64(all.wrong, 0);
    bn_store_abort(&t);
}

/* ---- under the rules -------------------------------------------------------- */

static const char RULES_YAML[] = "agencies:\n"
                                 "  - id: a\n    sector: health\n    adapters: [canonical]\n"
                                 "  - id: b\n    sector: health\n    adapters: [canonical]\n"
                                 "rules:\n"
                                 "  - id: dup\n    kind: duplicate_service\n"
                                 "    type: immunisation\n"
                                 "    match: [subject, vaccine, dose]\n    within_days: 365\n";

#define PERSONS_BEFORE_MARK 3000
#define PERSONS_AFTER_MARK 12000 /* past 4,096 and 8,192 entries */

/* The writer's side of one batch: the store, its open txn, the pending index. */
typedef struct {
    const bn_config_t *cfg;
    bn_store_t *s;
    bn_store_txn_t *t;
    bn_pend_t *pend;
    uint64_t seq; /* of the last event stored */
} writer_t;

/* Store dose 1 of BCG given to person by agency under source, as the writer
 * does (idempotency record, log, rules), and return the seq of its partner
 * in the one finding it raised, or 0 for none. */
static uint64_t record(writer_t *w, const char *agency, size_t person, const char *source)
{
    char key[65];
    snprintf(key, sizeof key, "%064zu", person);
    Benang__V1__Coding vaccine = BENANG__V1__CODING__INIT;
    vaccine.system = "http://hl7.org/fhir/sid/cvx";
    vaccine.code = "19";
    Benang__V1__Immunisation im = BENANG__V1__IMMUNISATION__INIT;
    im.vaccine = &vaccine;
    im.dose_number = 1;
    im.administered_on = "2026-01-10";
    im.status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED;
    Benang__V1__Subject subject = BENANG__V1__SUBJECT__INIT;
    subject.subject_key = key;
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    ev.agency = (char *)agency;
    ev.source_id = (char *)source;
    ev.type = "immunisation";
    ev.occurred_at = "2026-01-10";
    ev.sector = "health";
    ev.subject = &subject;
    ev.body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev.immunisation = &im;

    uint64_t seq = ++w->seq;
    uint8_t hash[BN_STORE_HASH_LEN] = {0};
    uint8_t packed[512];
    if (benang__v1__event__get_packed_size(&ev) > sizeof packed) {
        CHECK(!"the test event fits its buffer");
        return 0;
    }
    size_t len = benang__v1__event__pack(&ev, packed);
    bn_error_t err;
    bn_findings_t found = {0};
    bn_status_t st = bn_store_idem_put(w->t, agency, "immunisation", source, seq, hash, &err);
    if (st == BN_OK)
        st = bn_store_append(w->t, seq, "immunisation.health", packed, len, &err);
    if (st == BN_OK)
        st = bn_rules_check(w->cfg, w->t, w->pend, &ev, key, seq, &found, &err);
    if (st != BN_OK) /* checked here, reported only when it fails: one per event */
        CHECK_MSG(st == BN_OK, "seq %llu: %s", (unsigned long long)seq, err.msg);
    if (found.len > 1)
        CHECK_MSG(found.len <= 1, "seq %llu: one finding per event and rule",
                  (unsigned long long)seq);
    uint64_t partner = found.len ? found.items[0].seqs[0] : 0;
    bn_findings_free(&found);
    return partner;
}

/* Agency a records persons [from, to), at seqs from + 1 .. to when the log
 * is that far; how many found a partner (none should: one record each). */
static size_t record_by_a(writer_t *w, size_t from, size_t to)
{
    size_t found = 0;
    for (size_t i = from; i < to; i++) {
        char source[32];
        snprintf(source, sizeof source, "a-%zu", i);
        found += record(w, "a", i, source) != 0;
    }
    return found;
}

static void test_rules(const bn_config_t *cfg, bn_store_t *s)
{
    bn_error_t err;
    writer_t w = {.cfg = cfg, .s = s};
    CHECK(bn_pend_new(&w.pend, &err) == BN_OK);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);

    CHECK_EQ_U64(record_by_a(&w, 0, PERSONS_BEFORE_MARK), 0);
    bn_pend_mark(w.pend);
    CHECK_EQ_U64(record_by_a(&w, PERSONS_BEFORE_MARK, PERSONS_AFTER_MARK), 0);
    /* The txn stays open on purpose: the rolled-back events are still in the
     * log and current, so only their index entries being gone keeps them
     * from being found. */
    bn_pend_rollback(w.pend);
    CHECK_EQ_U64(bn_pend_count(w.pend), PERSONS_BEFORE_MARK);

    /* Person i by a is at seq i + 1. */
    CHECK_EQ_U64(record(&w, "b", 5, "b-5"), 6);
    CHECK_EQ_U64(record(&w, "b", PERSONS_BEFORE_MARK - 1, "b-last"), PERSONS_BEFORE_MARK);
    CHECK_EQ_U64(record(&w, "b", PERSONS_BEFORE_MARK + 5, "b-rolled-back"), 0);

    /* After the flush the same lookups read LMDB: nothing is pending. */
    CHECK(bn_pend_flush(w.pend, w.t, w.seq, &err) == BN_OK);
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    bn_pend_clear(w.pend);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record(&w, "b", 17, "b-17"), 18);
    CHECK_EQ_U64(record(&w, "b", PERSONS_BEFORE_MARK - 2, "b-flushed"), PERSONS_BEFORE_MARK - 1);
    CHECK_EQ_U64(record(&w, "b", PERSONS_BEFORE_MARK + 17, "b-rolled-back-2"), 0);
    CHECK_EQ_U64(bn_pend_count(w.pend), 3);

    /* Committed but not flushed: a new pending index derives the entries of
     * the events since the flush from the log again. */
    uint64_t flushed_upto = w.seq - 3;
    uint64_t first_new = w.seq + 1;
    CHECK_EQ_U64(record_by_a(&w, PERSONS_AFTER_MARK, PERSONS_AFTER_MARK + 100), 0);
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    uint64_t from = 0;
    CHECK(bn_pend_unflushed_from(s, &from, &err) == BN_OK);
    CHECK_EQ_U64(from, flushed_upto + 1);
    bn_pend_t *recovered = NULL;
    uint64_t replayed = 0;
    CHECK(bn_pend_new(&recovered, &err) == BN_OK);
    CHECK(bn_rules_pend_recover(recovered, cfg, s, &replayed, &err) == BN_OK);
    CHECK_EQ_U64(replayed, 103);
    CHECK_EQ_U64(bn_pend_count(recovered), bn_pend_count(w.pend));
    bn_pend_destroy(&w.pend);
    w.pend = recovered;
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record(&w, "b", PERSONS_AFTER_MARK + 50, "b-recovered"), first_new + 50);
    bn_store_abort(&w.t);

    bn_pend_destroy(&w.pend);
    CHECK(w.pend == NULL);
    bn_pend_destroy(&w.pend); /* idempotent */
}

/* A third record of one dose pairs with the earliest of the two before it,
 * wherever they are: pending (the pending index is walked newest first),
 * written, or one of each. */
static void test_rules_earliest(const bn_config_t *cfg, bn_store_t *s)
{
    bn_error_t err;
    writer_t w = {.cfg = cfg, .s = s};
    CHECK(bn_pend_new(&w.pend, &err) == BN_OK);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    /* All pending. */
    CHECK_EQ_U64(record(&w, "a", 42, "a-42"), 0);
    uint64_t first = w.seq;
    CHECK_EQ_U64(record(&w, "b", 42, "b-42"), first);
    CHECK_EQ_U64(record(&w, "c", 42, "c-42"), first);
    /* The first written, the second pending. */
    CHECK_EQ_U64(record(&w, "a", 43, "a-43"), 0);
    first = w.seq;
    CHECK(bn_pend_flush(w.pend, w.t, w.seq, &err) == BN_OK);
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    bn_pend_clear(w.pend);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record(&w, "b", 43, "b-43"), first);
    CHECK_EQ_U64(record(&w, "c", 43, "c-43"), first);
    bn_store_abort(&w.t);
    bn_pend_destroy(&w.pend);
}

static bool count_by_era(void *ctx, const bn_store_kv_t *kv)
{
    size_t *n = ctx; /* [0] without an era, [1 + e] era e */
    n[kv->key_len > 2 && kv->key[0] == BN_PEND_ERA_MARK ? 1 + kv->key[1] : 0]++;
    return true;
}

/* Rule entries in LMDB by era: n[0] without one, n[1 + e] in era e. */
static void rules_by_era(bn_store_t *s, size_t n[1 + 256])
{
    memset(n, 0, (1 + 256) * sizeof *n);
    bn_error_t err;
    CHECK(bn_store_scan(s, BN_DB_RULEIDX, NULL, 0, count_by_era, n, &err) == BN_OK);
}

/* Eras (pend.h): each pass writes into the era of its upto seq, a lookup
 * finds an original in any era, in the range without one, or pending; a
 * new index over the store (a restart, here with eras ten times longer)
 * never writes into an era older than the last. */
static void test_rules_eras(const bn_config_t *cfg, bn_store_t *s)
{
    bn_error_t err;
    writer_t w = {.cfg = cfg, .s = s};
    CHECK(bn_pend_new(&w.pend, &err) == BN_OK);
    unsigned present = 99;
    CHECK(bn_pend_eras_present(s, &present, &err) == BN_OK);
    CHECK_EQ_U64(present, 0);
    bn_pend_eras_init(w.pend, 1000, present);
    /* Before eras: entries written without a pending index (no prefix). */
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    bn_pend_t *none = w.pend;
    w.pend = NULL;
    CHECK_EQ_U64(record_by_a(&w, 0, 300), 0); /* seqs 1..300 */
    w.pend = none;
    CHECK_EQ_U64(record_by_a(&w, 300, 1000), 0);             /* seqs 301..1000 */
    CHECK(bn_pend_flush(w.pend, w.t, w.seq, &err) == BN_OK); /* upto 1000: era 1 */
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    bn_pend_clear(w.pend);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record_by_a(&w, 1000, 2500), 0);
    CHECK(bn_pend_flush(w.pend, w.t, w.seq, &err) == BN_OK); /* upto 2500: era 2 */
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    bn_pend_clear(w.pend);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record_by_a(&w, 2500, 2600), 0); /* pending */
    CHECK_EQ_U64(bn_pend_eras(w.pend), 3);
    size_t n[1 + 256];
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    rules_by_era(s, n);
    CHECK_EQ_U64(n[0], 300);
    CHECK_EQ_U64(n[1 + 0], 0);
    CHECK_EQ_U64(n[1 + 1], 700);
    CHECK_EQ_U64(n[1 + 2], 1500);
    CHECK(bn_pend_eras_present(s, &present, &err) == BN_OK);
    CHECK_EQ_U64(present, 3);

    /* Person i by a is at seq i + 1, wherever its entry is. */
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record(&w, "b", 7, "b-7"), 8);          /* no era */
    CHECK_EQ_U64(record(&w, "b", 999, "b-999"), 1000);   /* era 1 */
    CHECK_EQ_U64(record(&w, "b", 1000, "b-1000"), 1001); /* era 2 */
    CHECK_EQ_U64(record(&w, "b", 2599, "b-2599"), 2600); /* pending */
    CHECK_EQ_U64(record(&w, "b", 5000000, "b-nobody"), 0);
    CHECK(bn_pend_flush(w.pend, w.t, w.seq, &err) == BN_OK);
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    bn_pend_destroy(&w.pend);

    /* A restart with eras ten times longer: upto / era_events says era 0,
     * the store's last era is 2, the next pass goes there. */
    CHECK(bn_pend_new(&w.pend, &err) == BN_OK);
    CHECK(bn_pend_eras_present(s, &present, &err) == BN_OK);
    CHECK_EQ_U64(present, 3);
    bn_pend_eras_init(w.pend, 10000, present);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record(&w, "b", 1500, "b-1500"), 1501); /* era 2, from LMDB */
    uint64_t first = w.seq + 1;
    CHECK_EQ_U64(record_by_a(&w, 3000, 3010), 0);
    CHECK(bn_pend_flush(w.pend, w.t, w.seq, &err) == BN_OK);
    CHECK(bn_store_commit(&w.t, &err) == BN_OK);
    rules_by_era(s, n);
    CHECK_EQ_U64(n[1 + 0], 0);
    /* era 2: its pass, the 100 pending and 5 by b flushed before the
     * restart, b-1500 and the 10 by a after it */
    CHECK_EQ_U64(n[1 + 2], 1500 + 100 + 5 + 1 + 10);
    CHECK(bn_store_begin(s, &w.t, &err) == BN_OK);
    CHECK_EQ_U64(record(&w, "b", 3005, "b-3005"), first + 5);
    bn_store_abort(&w.t);
    bn_pend_destroy(&w.pend);
}

/* Flush people [from, to) and rule entries [from, to) in one committed txn. */
static void flush_range(bn_pend_t *p, bn_store_t *s, size_t from, size_t to, uint64_t upto)
{
    bn_error_t err;
    bn_store_txn_t *t = NULL;
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    add_rules(p, from, to);
    add_people(p, t, from, to);
    CHECK_MSG(bn_pend_flush(p, t, upto, &err) == BN_OK, "%s", err.msg);
    CHECK(bn_store_commit(&t, &err) == BN_OK);
    bn_pend_clear(p);
}

/* People [0, n) offered again with the txn: how many the filter hid (LMDB
 * holds them all, so each one added to the pending index is a miss). */
static size_t people_hidden(bn_pend_t *p, bn_store_t *s, size_t n)
{
    bn_error_t err;
    bn_store_txn_t *t = NULL;
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    add_people(p, t, 0, n);
    size_t hidden = bn_pend_count(p);
    bn_store_abort(&t);
    bn_pend_clear(p);
    return hidden;
}

typedef struct {
    bn_store_t *s;
    size_t chunk;
    bn_bloom_t *b;
    uint64_t seen;
    bn_status_t st;
} build_job_t;

static void *build_thread(void *arg)
{
    build_job_t *j = arg;
    bn_error_t err;
    j->st = bn_pend_filter_build(j->s, 0, j->chunk, NULL, &j->b, &j->seen, &err);
    return NULL;
}

#define APART_STEP 1500

/* A filter built apart (in chunks, each in a read txn of its own, while
 * flushes go on) never hides what LMDB holds, however the two interleave. */
static void test_filter_apart(bn_pend_t *p, bn_store_t *s)
{
    bn_error_t err;
    flush_range(p, s, 0, APART_STEP, 10);
    CHECK_EQ_U64(people_hidden(p, s, APART_STEP), 0); /* no filter: LMDB is asked */

    /* Chunks of 7 split the blocks' values and the rule keys anywhere. */
    bn_pend_filter_collect(p);
    bn_bloom_t *b = NULL;
    uint64_t seen = 0;
    CHECK_MSG(bn_pend_filter_build(s, 0, 7, NULL, &b, &seen, &err) == BN_OK, "%s", err.msg);
    CHECK_EQ_U64(seen, 2 * APART_STEP); /* each pair once */
    /* Written after the build read its snapshot: only the notes have them. */
    flush_range(p, s, APART_STEP, 2 * APART_STEP, 20);
    CHECK(bn_pend_filter_adopt(p, &b, &err) == BN_OK && b == NULL);
    CHECK_EQ_U64(people_hidden(p, s, 2 * APART_STEP), 0);
    size_t hidden = 0;
    for (unsigned no = 0; no < N_PREFIXES; no++) {
        uint8_t prefix[BN_PEND_PREFIX_LEN];
        make_prefix(no, prefix);
        hidden += !bn_pend_rule_maybe_stored(p, prefix);
    }
    CHECK_EQ_U64(hidden, 0);
    /* Absent people are still mostly spared a lookup. */
    size_t spared = 0;
    for (size_t i = 10 * APART_STEP; i < 11 * APART_STEP; i++) {
        char block[32], val[128];
        size_t bl = make_block((unsigned)(i % N_BLOCKS), block, sizeof block);
        size_t vl = make_person(i, val, sizeof val);
        bn_store_txn_t *t = NULL;
        CHECK(bn_store_begin(s, &t, &err) == BN_OK);
        size_t before = bn_pend_count(p);
        CHECK(bn_pend_people_add(p, t, block, bl, val, vl, &err) == BN_OK);
        spared += bn_pend_count(p) == before + 1;
        bn_store_abort(&t);
    }
    bn_pend_clear(p);
    CHECK_MSG(spared == APART_STEP, "%zu of %d new people added", spared, APART_STEP);

    /* Built in another thread while this one flushes, chunk by chunk. */
    bn_pend_filter_collect(p);
    build_job_t job = {.s = s, .chunk = 3};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, build_thread, &job) == 0);
    for (size_t k = 2; k < 12; k++)
        flush_range(p, s, k * APART_STEP, (k + 1) * APART_STEP, 30 + k);
    pthread_join(th, NULL);
    CHECK(job.st == BN_OK);
    CHECK(job.seen >= 4 * APART_STEP && job.seen <= 24 * APART_STEP);
    CHECK(bn_pend_filter_adopt(p, &job.b, &err) == BN_OK);
    CHECK_EQ_U64(people_hidden(p, s, 12 * APART_STEP), 0);

    /* Cancelled: nothing built, the filter in use stays. */
    atomic_bool cancel = true;
    bn_pend_filter_collect(p);
    CHECK(bn_pend_filter_build(s, 0, 0, &cancel, &b, &seen, &err) == BN_UNAVAILABLE && !b);
    bn_pend_filter_abandon(p);
    CHECK(bn_pend_filter_adopt(p, &b, &err) == BN_NOMEM); /* nothing was collected */
    CHECK_EQ_U64(people_hidden(p, s, 12 * APART_STEP), 0);
}

static bn_store_t *open_store(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bn_store_options_t opt = {.dir = path, .map_size = 1ull << 30};
    bn_store_t *s = NULL;
    bn_error_t err;
    CHECK_MSG(bn_store_open(&s, &opt, &err) == BN_OK, "%s", err.msg);
    return s;
}

/* fn on a new pending index and a store of its own, named name under dir. */
static void with_fresh(const char *dir, const char *name, void (*fn)(bn_pend_t *, bn_store_t *))
{
    bn_error_t err;
    bn_pend_t *p = NULL;
    CHECK(bn_pend_new(&p, &err) == BN_OK);
    bn_store_t *s = open_store(dir, name);
    if (p && s)
        fn(p, s);
    bn_pend_destroy(&p);
    bn_store_destroy(&s);
}

static void test_alone(bn_pend_t *p, bn_store_t *s)
{
    test_add_mark_rollback(p);
    test_flush(p, s);
}

int main(void)
{
    char *dir = bn_test_tmpdir("pend");
    bn_error_t err;

    with_fresh(dir, "alone", test_alone);
    with_fresh(dir, "apart", test_filter_apart);
    with_fresh(dir, "staged", test_staged);

    bn_store_t *s = NULL;
    bn_config_t *cfg = NULL;
    CHECK_MSG(bn_config_load_string(&cfg, "rules.yaml", RULES_YAML, strlen(RULES_YAML), &err) ==
                  BN_OK,
              "%s", err.msg);
    s = open_store(dir, "rules");
    if (cfg && s)
        test_rules(cfg, s);
    bn_store_destroy(&s);
    s = open_store(dir, "earliest");
    if (cfg && s)
        test_rules_earliest(cfg, s);
    bn_store_destroy(&s);
    s = open_store(dir, "eras");
    if (cfg && s)
        test_rules_eras(cfg, s);
    bn_store_destroy(&s);
    bn_config_destroy(&cfg);

    bn_test_rmrf(dir);
    free(dir);
    return bn_test_finish("test_pend");
}
