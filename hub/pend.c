/* pend.c: the index entries not yet in LMDB, of the rules and of the people database (pend.h).
 *
 * Index entries are not put into LMDB one by one: at millions of entries each
 * random-key insert dirties its own leaf page, so every group commit would
 * write a 4 KiB page per event. They gather in memory (a hash table on the
 * match hash) and go to LMDB in one sorted pass every `rule_index_flush`
 * entries, when many of them share a page. Lookups read both. The log stays
 * the durable copy: meta "ruleidx_upto" is the last seq whose entries are in
 * LMDB (written by bn_pend_flush, read by bn_pend_unflushed_from), and at
 * start the entries of the events after it are derived again from the stored
 * events (rules.c: bn_pend_recover).
 *
 * The tables are chained hashes whose bucket count doubles whenever the
 * entries outnumber it (load <= 1), so a lookup looks at about one entry
 * however many wait (up to rule_index_flush, a million). A person entry
 * keeps 32-bit hashes of its block and of block + value, so the chain's
 * other entries are passed over without a compare or a read of the arena; a
 * rule entry's key starts with its match hash, compared 8 bytes first.
 * Chains are newest first, also after a rehash (entries go back in index
 * order), so a rollback unlinks each dropped entry from its bucket's head.
 * Keys and values live in one arena, so a rollback or a clear frees nothing.
 */
#include "pend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bloom.h"

#define NONE UINT32_MAX
#define MIN_BUCKETS (1u << 12)
static const char UPTO_KEY[] = "ruleidx_upto";

typedef struct {
    uint8_t key[BN_PEND_KEY_LEN];
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

/* One generation of entries: its own tables and arena. */
typedef struct {
    pent_t *e;
    size_t n, cap;
    ppent_t *pe;
    size_t pn, pcap;
    uint8_t *arena;
    size_t alen, acap;
    ptab_t rule;      /* e by match hash */
    ptab_t block, kv; /* pe by block, by (block, value) */
} gen_t;

/* One pending pair in the flush's sort: the key's first 8 bytes big-endian
 * (which decide nearly every comparison without a memory access), then key
 * and value. */
typedef struct {
    uint64_t hi;
    const uint8_t *k, *v;
    uint16_t kl, vl;
} sortrec_t;

struct bn_pend {
    gen_t g[2];
    gen_t *cur;   /* where entries are added */
    gen_t *old;   /* being written by a staged flush, or NULL */
    size_t mark_n, mark_pn, mark_alen; /* of cur */
    /* The staged flush of old: its pairs sorted, rule entries [0, nr) then
     * people [nr, nr + np); [0, done) are in LMDB once the txn commits. */
    sortrec_t *srt;
    size_t nr, np, done, mark_done;
    uint64_t old_upto;
    /* Every entry LMDB holds in ruleidx (by prefix) and people (by block
     * and value), or NULL (then every lookup goes to LMDB). */
    bn_bloom_t *stored;
    /* While a filter is built apart (bn_pend_filter_collect .. adopt): the
     * filter hash of every entry a flush writes, for the new filter. */
    bool collecting, since_lost;
    uint64_t *since;
    size_t n_since, cap_since;
    /* The staged generation's sort runs in a thread of its own: the writer
     * goes on adding to cur and looking in both generations (old is only
     * read from here on) while it sorts old's pairs into srt. sorting: the
     * thread was started and is not joined; sort_done (release) says srt,
     * nr, np and sort_st are written. */
    pthread_t sorter;
    bool sorting, sorted; /* sorted: srt, nr, np are old's, in key order */
    atomic_bool sort_done;
    bn_status_t sort_st;
    /* Eras (pend.h): how many a lookup looks in, the one the pass being
     * written goes to, and the events per era. */
    unsigned eras;
    uint8_t pass_era;
    uint64_t era_events;
};

void bn_pend_eras_init(bn_pend_t *p, uint64_t era_events, unsigned present)
{
    p->era_events = era_events ? era_events : 1;
    p->eras = present > BN_PEND_ERA_MAX + 1 ? BN_PEND_ERA_MAX + 1 : present;
}

unsigned bn_pend_eras(const bn_pend_t *p)
{
    return p->eras;
}

static bool last_era(void *ctx, const bn_store_kv_t *kv)
{
    unsigned *present = ctx;
    const uint8_t *k = kv->key;
    size_t kl = kv->key_len;
    int era = bn_pend_era_of(&k, &kl);
    if (era >= 0 && (unsigned)era + 1 > *present)
        *present = (unsigned)era + 1;
    return false;
}

bn_status_t bn_pend_eras_present(bn_store_t *s, unsigned *present, bn_error_t *err)
{
    *present = 0;
    static const bn_store_db_t dbs[2] = {BN_DB_RULEIDX, BN_DB_PEOPLE};
    for (int d = 0; d < 2; d++) {
        bn_status_t st = bn_store_last(s, dbs[d], last_era, present, err);
        if (st != BN_OK && st != BN_NOT_FOUND)
            return st;
    }
    return BN_OK;
}

/* The era of a pass up to seq upto: planned by seq, never back to an older
 * one (era_events may have changed since), never past the last. */
static void pass_era_for(bn_pend_t *p, uint64_t upto)
{
    uint64_t e = upto / (p->era_events ? p->era_events : 1);
    if (p->eras && e < p->eras - 1)
        e = p->eras - 1;
    if (e > BN_PEND_ERA_MAX)
        e = BN_PEND_ERA_MAX;
    p->pass_era = (uint8_t)e;
    if (e + 1 > p->eras)
        p->eras = (unsigned)e + 1;
}

int bn_pend_era_of(const uint8_t **key, size_t *kl)
{
    if (*kl <= 2 || (*key)[0] != BN_PEND_ERA_MARK)
        return -1;
    int era = (*key)[1];
    *key += 2;
    *kl -= 2;
    return era;
}

size_t bn_pend_era_key(int era, const void *key, size_t kl, uint8_t *out, size_t cap)
{
    size_t off = era < 0 ? 0 : 2;
    if (kl + off > cap)
        return 0;
    if (era >= 0) {
        out[0] = BN_PEND_ERA_MARK;
        out[1] = (uint8_t)era;
    }
    memcpy(out + off, key, kl);
    return kl + off;
}

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

/* The filter's hash of a rule prefix, and of a people pair. */
static uint64_t stored_rule_hash(const uint8_t *prefix)
{
    return bytes_hash(0x72756c65u, prefix, BN_PEND_PREFIX_LEN);
}

static uint64_t stored_person_hash(const void *block, size_t bl, const void *val, size_t vl)
{
    return bytes_hash(bytes_hash(0x70706c65u, block, bl), val, vl);
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

/* The bucket count a table of `buckets` grows to for `entries` (load <= 1):
 * doubled until they fit; 0 past the index range. */
static size_t tab_want(size_t buckets, size_t entries)
{
    while (buckets < entries && buckets <= NONE / 2)
        buckets *= 2;
    return buckets < entries ? 0 : buckets;
}

/* Room for entry number `entries` (load <= 1): a bigger rule table, every
 * entry relinked in index order. */
static bn_status_t rule_tab_room(gen_t *p, size_t entries, bn_error_t *err)
{
    if (entries <= (size_t)p->rule.mask + 1)
        return BN_OK;
    ptab_t t;
    size_t want = tab_want((size_t)p->rule.mask + 1, entries);
    if (!want || !tab_init(&t, (uint32_t)want))
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
static bn_status_t people_tab_room(gen_t *p, size_t entries, bn_error_t *err)
{
    if (entries <= (size_t)p->kv.mask + 1)
        return BN_OK;
    ptab_t tb = {NULL, 0}, tk = {NULL, 0};
    size_t want = tab_want((size_t)p->kv.mask + 1, entries);
    if (!want || !tab_init(&tb, (uint32_t)want) || !tab_init(&tk, (uint32_t)want)) {
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

static bool gen_init(gen_t *g)
{
    return tab_init(&g->rule, MIN_BUCKETS) && tab_init(&g->block, MIN_BUCKETS) &&
           tab_init(&g->kv, MIN_BUCKETS);
}

static void gen_free(gen_t *g)
{
    free(g->e);
    free(g->pe);
    free(g->arena);
    free(g->rule.heads);
    free(g->block.heads);
    free(g->kv.heads);
}

/* Emptied; the tables keep their size, the next round fills them again. */
static void gen_clear(gen_t *g)
{
    g->n = g->pn = g->alen = 0;
    memset(g->rule.heads, 0xff, ((size_t)g->rule.mask + 1) * sizeof *g->rule.heads);
    memset(g->block.heads, 0xff, ((size_t)g->block.mask + 1) * sizeof *g->block.heads);
    memset(g->kv.heads, 0xff, ((size_t)g->kv.mask + 1) * sizeof *g->kv.heads);
}

bn_status_t bn_pend_presize(bn_pend_t *p, size_t entries, bn_error_t *err)
{
    if (entries > NONE / 2)
        entries = NONE / 2;
    bn_status_t st = BN_OK;
    for (int i = 0; i < 2 && st == BN_OK; i++) {
        st = rule_tab_room(&p->g[i], entries, err);
        if (st == BN_OK)
            st = people_tab_room(&p->g[i], entries, err);
    }
    return st;
}

bn_status_t bn_pend_new(bn_pend_t **out, bn_error_t *err)
{
    *out = NULL;
    bn_pend_t *p = calloc(1, sizeof *p);
    if (!p || !gen_init(&p->g[0]) || !gen_init(&p->g[1])) {
        bn_pend_destroy(&p);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the rule index");
    }
    p->cur = &p->g[0];
    p->era_events = BN_PEND_ERA_EVENTS_DEFAULT;
    *out = p;
    return BN_OK;
}

/* Wait for the sorter thread, if one runs (it reads the staged generation). */
static void sort_wait(bn_pend_t *p)
{
    if (!p->sorting)
        return;
    pthread_join(p->sorter, NULL);
    p->sorting = false;
    p->sorted = p->sort_st == BN_OK;
}

void bn_pend_destroy(bn_pend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sort_wait(*self_p);
    gen_free(&(*self_p)->g[0]);
    gen_free(&(*self_p)->g[1]);
    free((*self_p)->srt);
    bn_bloom_destroy(&(*self_p)->stored);
    free((*self_p)->since);
    free(*self_p);
    *self_p = NULL;
}

size_t bn_pend_staged(const bn_pend_t *p)
{
    if (!p->old)
        return 0;
    return p->sorted ? p->nr + p->np - p->done : p->old->n + p->old->pn;
}

size_t bn_pend_gathered(const bn_pend_t *p)
{
    return p->cur->n + p->cur->pn;
}

size_t bn_pend_count(const bn_pend_t *p)
{
    return bn_pend_gathered(p) + bn_pend_staged(p);
}

void bn_pend_mark(bn_pend_t *p)
{
    p->mark_n = p->cur->n;
    p->mark_pn = p->cur->pn;
    p->mark_alen = p->cur->alen;
    p->mark_done = p->done;
}

void bn_pend_rollback(bn_pend_t *p)
{
    gen_t *g = p->cur;
    while (g->n > p->mark_n) { /* newest first: each is its bucket's head */
        pent_t *x = &g->e[--g->n];
        g->rule.heads[rule_hash(x->key) & g->rule.mask] = x->next;
    }
    while (g->pn > p->mark_pn) {
        ppent_t *x = &g->pe[--g->pn];
        g->block.heads[x->khash & g->block.mask] = x->next;
        g->kv.heads[x->kvhash & g->kv.mask] = x->next_kv;
    }
    g->alen = p->mark_alen;
    p->done = p->mark_done;
}

static void end_stage(bn_pend_t *p)
{
    if (p->old)
        gen_clear(p->old);
    p->old = NULL;
    free(p->srt);
    p->srt = NULL;
    p->sorted = false;
    p->nr = p->np = p->done = p->mark_done = 0;
}

void bn_pend_clear(bn_pend_t *p)
{
    sort_wait(p);
    end_stage(p);
    gen_clear(p->cur);
    p->mark_n = p->mark_pn = p->mark_alen = 0;
}

void bn_pend_committed(bn_pend_t *p)
{
    p->mark_done = p->done;
    if (p->old && p->sorted && p->done == p->nr + p->np)
        end_stage(p);
}

/* Room for more bytes in the arena. */
static bn_status_t arena_room(gen_t *p, size_t more, bn_error_t *err)
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

static bool people_find(const gen_t *p, uint32_t kvh, const void *block, size_t bl,
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

/* In either generation: gathering, or staged. */
static bool people_held(const bn_pend_t *p, uint32_t kvh, const void *block, size_t bl,
                        const void *val, size_t vl)
{
    return people_find(p->cur, kvh, block, bl, val, vl) ||
           (p->old && people_find(p->old, kvh, block, bl, val, vl));
}

bool bn_pend_people_has(const bn_pend_t *p, const void *block, size_t bl, const void *val,
                        size_t vl)
{
    return people_held(p, kv_hash(block_hash(block, bl), val, vl), block, bl, val, vl);
}

/* Double the entry array *items of *cap elements of elem bytes (from 4,096),
 * keeping every index below NONE. False when out of memory. */
static bool grow(void **items, size_t *cap, size_t elem)
{
    size_t want = *cap ? *cap * 2 : 4096;
    void *g = want < NONE ? realloc(*items, want * elem) : NULL;
    if (!g)
        return false;
    *items = g;
    *cap = want;
    return true;
}

bn_status_t bn_pend_people_add(bn_pend_t *pp, bn_store_txn_t *t, const void *block, size_t bl,
                               const void *val, size_t vl, bn_error_t *err)
{
    if (bl > 0xffff || vl > 0xffff)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "subject", "person index entry too long");
    uint32_t kh = block_hash(block, bl), kvh = kv_hash(kh, val, vl);
    gen_t *p = pp->cur;
    if (people_held(pp, kvh, block, bl, val, vl))
        return BN_OK;
    if (t && (!pp->stored || bn_bloom_maybe(pp->stored, stored_person_hash(block, bl, val, vl)))) {
        uint8_t kb[600];
        for (int e = -1; e < (int)pp->eras; e++) {
            size_t kl = bn_pend_era_key(e, block, bl, kb, sizeof kb);
            if (kl && bn_store_txn_has_dup(t, BN_DB_PEOPLE, kb, kl, val, vl))
                return BN_OK;
        }
    }
    if (p->pn == p->pcap && !grow((void **)&p->pe, &p->pcap, sizeof *p->pe))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pending index");
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

bn_status_t bn_pend_people_scan_stored(const bn_pend_t *p, bn_store_txn_t *t, const void *block,
                                       size_t bl, bn_store_kv_fn visit, void *ctx, bn_error_t *err)
{
    bn_status_t st = BN_OK;
    unsigned eras = p ? p->eras : 0;
    uint8_t kb[600];
    for (int e = -1; e < (int)eras && st == BN_OK; e++) {
        size_t kl = bn_pend_era_key(e, block, bl, kb, sizeof kb);
        if (kl)
            st = bn_store_txn_scan_dup(t, BN_DB_PEOPLE, kb, kl, visit, ctx, err);
    }
    return st;
}

static bool people_each(const gen_t *p, uint32_t kh, const void *block, size_t bl,
                        bn_store_kv_fn visit, void *ctx)
{
    for (uint32_t i = p->block.heads[kh & p->block.mask]; i != NONE; i = p->pe[i].next) {
        const ppent_t *x = &p->pe[i];
        if (x->khash != kh || x->key_len != bl || memcmp(p->arena + x->key_off, block, bl) != 0)
            continue;
        bn_store_kv_t kv = {p->arena + x->key_off, x->key_len, p->arena + x->val_off, x->val_len};
        if (!visit(ctx, &kv))
            return false;
    }
    return true;
}

void bn_pend_people_each(const bn_pend_t *p, const void *block, size_t bl, bn_store_kv_fn visit,
                         void *ctx)
{
    uint32_t kh = block_hash(block, bl);
    if (people_each(p->cur, kh, block, bl, visit, ctx) && p->old)
        people_each(p->old, kh, block, bl, visit, ctx);
}

bn_status_t bn_pend_rule_add(bn_pend_t *pp, const uint8_t key[BN_PEND_KEY_LEN], const void *val,
                             size_t vl, bn_error_t *err)
{
    gen_t *p = pp->cur;
    if (vl > 0xffff)
        return bn_error_set(err, BN_INVALID_EVENT, 0, NULL, "rule index entry too long");
    if (p->n == p->cap && !grow((void **)&p->e, &p->cap, sizeof *p->e))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the rule index");
    bn_status_t st = arena_room(p, vl, err);
    if (st == BN_OK)
        st = rule_tab_room(p, p->n + 1, err);
    if (st != BN_OK)
        return st;
    pent_t *x = &p->e[p->n];
    memcpy(x->key, key, BN_PEND_KEY_LEN);
    memcpy(p->arena + p->alen, val, vl);
    x->val_off = (uint32_t)p->alen;
    x->val_len = (uint16_t)vl;
    uint32_t b = rule_hash(key) & p->rule.mask;
    x->next = p->rule.heads[b];
    p->rule.heads[b] = (uint32_t)p->n++;
    p->alen += vl;
    return BN_OK;
}

/* The chain's other hashes are told apart by their first 8 bytes, in the
 * entry itself. */
static bool rule_each(const gen_t *p, const uint8_t prefix[BN_PEND_PREFIX_LEN],
                      bn_store_kv_fn visit, void *ctx)
{
    uint64_t tag;
    memcpy(&tag, prefix, 8);
    for (uint32_t i = p->rule.heads[rule_hash(prefix) & p->rule.mask]; i != NONE;
         i = p->e[i].next) {
        const pent_t *x = &p->e[i];
        uint64_t xt;
        memcpy(&xt, x->key, 8);
        if (xt != tag || memcmp(x->key, prefix, BN_PEND_PREFIX_LEN) != 0)
            continue;
        bn_store_kv_t kv = {x->key, BN_PEND_KEY_LEN, p->arena + x->val_off, x->val_len};
        if (!visit(ctx, &kv))
            return false;
    }
    return true;
}

void bn_pend_rule_each(const bn_pend_t *p, const uint8_t prefix[BN_PEND_PREFIX_LEN],
                       bn_store_kv_fn visit, void *ctx)
{
    if (rule_each(p->cur, prefix, visit, ctx) && p->old)
        rule_each(p->old, prefix, visit, ctx);
}

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

/* A flush wrote the entry of filter hash h: into the filter, and noted for
 * the one being built apart. */
static void filter_note(bn_pend_t *p, uint64_t h)
{
    if (p->stored)
        bn_bloom_add(p->stored, h);
    if (!p->collecting || p->since_lost)
        return;
    if (p->n_since == p->cap_since) {
        size_t cap = p->cap_since ? p->cap_since * 2 : 4096;
        uint64_t *g = realloc(p->since, cap * sizeof *g);
        if (!g) {
            p->since_lost = true; /* the new filter would hide it: it is not adopted */
            return;
        }
        p->since = g;
        p->cap_since = cap;
    }
    p->since[p->n_since++] = h;
}

/* Put recs[0..n) (sorted) into db (ruleidx or people) through one cursor,
 * and into the filter (an aborted txn leaves it a few "maybe"s more). */
static bn_status_t put_sorted(bn_pend_t *p, bn_store_txn_t *t, bn_store_db_t db,
                              const sortrec_t *recs, size_t n, bn_error_t *err)
{
    size_t vcap = db == BN_DB_RULEIDX ? BN_PEND_RULE_DB_VAL_LEN : SIZE_MAX; /* the end day only */
    bool note = p->stored || p->collecting;
    bn_store_putter_t *c = NULL;
    bn_status_t st = bn_store_putter_open(t, db, &c, err);
    uint8_t kb[600];
    for (size_t i = 0; i < n && st == BN_OK; i++) {
        size_t kl = bn_pend_era_key(p->pass_era, recs[i].k, recs[i].kl, kb, sizeof kb);
        st = bn_store_putter_put(c, kb, kl, recs[i].v, recs[i].vl < vcap ? recs[i].vl : vcap, err);
        if (note)
            filter_note(p, db == BN_DB_RULEIDX
                               ? stored_rule_hash(recs[i].k)
                               : stored_person_hash(recs[i].k, recs[i].kl, recs[i].v, recs[i].vl));
    }
    bn_store_putter_close(&c);
    return st;
}

/* g's pairs in key order into *out (rule entries first, *nr of them, then
 * people, *np): one allocation the caller frees. */
static bn_status_t sort_gen(const gen_t *g, sortrec_t **out, size_t *nr, size_t *np,
                            bn_error_t *err)
{
    size_t total = g->n + g->pn;
    sortrec_t *recs = malloc((total ? total : 1) * sizeof *recs);
    sortrec_t *tmp = malloc((total ? total : 1) * sizeof *tmp);
    if (!recs || !tmp) {
        free(recs);
        free(tmp);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pending index");
    }
    for (size_t i = 0; i < g->n; i++) {
        const pent_t *x = &g->e[i];
        recs[i] = (sortrec_t){0, x->key, g->arena + x->val_off, BN_PEND_KEY_LEN, x->val_len};
        recs[i].hi = key_word(&recs[i], 0);
    }
    sort_recs(recs, tmp, g->n, 0);
    sortrec_t *pr = recs + g->n;
    for (size_t i = 0; i < g->pn; i++) {
        const ppent_t *x = &g->pe[i];
        pr[i] = (sortrec_t){0, g->arena + x->key_off, g->arena + x->val_off, x->key_len,
                            x->val_len};
        pr[i].hi = key_word(&pr[i], 0);
    }
    sort_recs(pr, tmp, g->pn, 0);
    free(tmp);
    *out = recs;
    *nr = g->n;
    *np = g->pn;
    return BN_OK;
}

static bn_status_t put_upto(bn_store_txn_t *t, uint64_t upto, bn_error_t *err)
{
    uint8_t v[8];
    bn_store_put_be64(v, upto);
    return bn_store_txn_put(t, BN_DB_META, UPTO_KEY, sizeof UPTO_KEY - 1, v, 8, err);
}

static void *sort_thread(void *arg)
{
    bn_pend_t *p = arg;
    pthread_setname_np(pthread_self(), "bn-sorter");
    bn_error_t err;
    p->sort_st = sort_gen(p->old, &p->srt, &p->nr, &p->np, &err);
    atomic_store_explicit(&p->sort_done, true, memory_order_release);
    return NULL;
}

/* The staged pairs in key order: *ready false while the sorter still runs
 * (and not wait). A sort that failed in the thread (out of memory), or had
 * no thread, is done here; when it fails here too, the next call tries
 * again. BN_OK or BN_NOMEM. */
static bn_status_t sort_join(bn_pend_t *p, bool wait, bool *ready, bn_error_t *err)
{
    *ready = true;
    if (!p->old || p->sorted)
        return BN_OK;
    if (p->sorting && !wait && !atomic_load_explicit(&p->sort_done, memory_order_acquire)) {
        *ready = false;
        return BN_OK;
    }
    sort_wait(p);
    if (p->sorted)
        return BN_OK;
    bn_status_t st = sort_gen(p->old, &p->srt, &p->nr, &p->np, err);
    p->sorted = st == BN_OK;
    return st;
}

bn_status_t bn_pend_stage_wait(bn_pend_t *p, bn_error_t *err)
{
    bool ready;
    return sort_join(p, true, &ready, err);
}

bn_status_t bn_pend_stage(bn_pend_t *p, uint64_t upto, bn_error_t *err)
{
    if (p->old)
        return bn_error_set(err, BN_INTERNAL, 0, NULL, "a staged flush is already under way");
    p->old = p->cur;
    p->cur = p->old == &p->g[0] ? &p->g[1] : &p->g[0];
    gen_clear(p->cur);
    p->srt = NULL;
    p->sorted = false;
    p->nr = p->np = 0;
    p->done = p->mark_done = 0;
    p->mark_n = p->mark_pn = p->mark_alen = 0;
    p->old_upto = upto;
    pass_era_for(p, upto);
    atomic_store_explicit(&p->sort_done, false, memory_order_relaxed);
    p->sort_st = BN_OK;
    if (pthread_create(&p->sorter, NULL, sort_thread, p) == 0) {
        p->sorting = true;
        return BN_OK;
    }
    bool ready;
    bn_status_t st = sort_join(p, true, &ready, err); /* no thread: sorted here */
    if (st != BN_OK) { /* as before the call: the entries are gathered again */
        gen_t *g = p->cur;
        p->cur = p->old;
        p->old = NULL;
        gen_clear(g);
    }
    return st;
}

bn_status_t bn_pend_stage_step(bn_pend_t *p, bn_store_txn_t *t, size_t most, bool *finished,
                               bn_error_t *err)
{
    *finished = false;
    if (!p->old)
        return BN_OK;
    bool ready;
    bn_status_t sst = sort_join(p, false, &ready, err);
    if (sst != BN_OK || !ready)
        return sst; /* still sorting: nothing to write yet */
    size_t total = p->nr + p->np, end = most < total - p->done ? p->done + most : total;
    bn_status_t st = BN_OK;
    if (p->done < p->nr) { /* rule entries: the end day only, the rest is in the event */
        size_t e = end < p->nr ? end : p->nr;
        st = put_sorted(p, t, BN_DB_RULEIDX, p->srt + p->done, e - p->done, err);
        if (st == BN_OK)
            p->done = e;
    }
    if (st == BN_OK && p->done < end) {
        st = put_sorted(p, t, BN_DB_PEOPLE, p->srt + p->done, end - p->done, err);
        if (st == BN_OK)
            p->done = end;
    }
    if (st == BN_OK && p->done == total) {
        st = put_upto(t, p->old_upto, err);
        *finished = st == BN_OK;
    }
    return st;
}

bn_status_t bn_pend_flush(bn_pend_t *p, bn_store_txn_t *t, uint64_t upto, bn_error_t *err)
{
    bool fin, ready;
    bn_status_t st = sort_join(p, true, &ready, err);
    if (st == BN_OK)
        st = bn_pend_stage_step(p, t, SIZE_MAX, &fin, err);
    if (st != BN_OK)
        return st;
    pass_era_for(p, upto);
    sortrec_t *recs = NULL;
    size_t nr = 0, np = 0;
    if ((st = sort_gen(p->cur, &recs, &nr, &np, err)) != BN_OK)
        return st;
    st = put_sorted(p, t, BN_DB_RULEIDX, recs, nr, err);
    if (st == BN_OK)
        st = put_sorted(p, t, BN_DB_PEOPLE, recs + nr, np, err);
    free(recs);
    if (st == BN_OK)
        st = put_upto(t, upto, err);
    return st;
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

bn_status_t bn_pend_unflushed_from(bn_store_t *s, uint64_t *from, bn_error_t *err)
{
    *from = bn_store_head(s) + 1;
    u64_get_t upto = {0, false};
    bn_status_t st =
        bn_store_get(s, BN_DB_META, UPTO_KEY, sizeof UPTO_KEY - 1, visit_u64, &upto, err);
    if (st != BN_OK && st != BN_NOT_FOUND)
        return st;
    /* A store from before the pending index has every entry in LMDB already. */
    if (upto.found)
        *from = upto.v + 1;
    return BN_OK;
}

/* ---- the filter of what LMDB holds ---------------------------------------- */

bool bn_pend_rule_maybe_stored(const bn_pend_t *p, const uint8_t prefix[BN_PEND_PREFIX_LEN])
{
    return !p->stored || bn_bloom_maybe(p->stored, stored_rule_hash(prefix));
}

bool bn_pend_filter_full(const bn_pend_t *p)
{
    return p->stored && bn_bloom_full(p->stored);
}

/* Room for the store to double before the next build. */
static uint64_t filter_plan(uint64_t entries)
{
    return 2 * entries + 4 * (uint64_t)BN_PEND_FILTER_MIN;
}

/* ---- building the filter ---------------------------------------------------- */

void bn_pend_filter_collect(bn_pend_t *p)
{
    p->collecting = true;
    p->since_lost = false;
    p->n_since = 0;
}

#define BUILD_CHUNK 1000000 /* entries read in one read transaction, by default */

typedef struct {
    bn_bloom_t *b;
    bool people;
    const atomic_bool *cancel;
    uint64_t seen, in_chunk, chunk;
    uint8_t *key; /* the key of the last pair seen; where the next chunk starts */
    size_t key_len, key_cap;
    bool more, cancelled, nomem;
} build_t;

static bool visit_build(void *ctx, const bn_store_kv_t *kv)
{
    build_t *l = ctx;
    if (l->key_len != kv->key_len || memcmp(l->key, kv->key, kv->key_len) != 0) {
        if (kv->key_len > l->key_cap) {
            uint8_t *g = realloc(l->key, kv->key_len);
            if (!g) {
                l->nomem = true;
                return false;
            }
            l->key = g;
            l->key_cap = kv->key_len;
        }
        memcpy(l->key, kv->key, kv->key_len);
        l->key_len = kv->key_len;
        if (l->in_chunk >= l->chunk) {
            l->more = true; /* the next chunk starts at this key: all its values in one */
            return false;
        }
    }
    if ((l->seen & 0xffff) == 0 && l->cancel && atomic_load(l->cancel)) {
        l->cancelled = true;
        return false;
    }
    const uint8_t *k = kv->key;
    size_t kl = kv->key_len;
    bn_pend_era_of(&k, &kl); /* the filter knows keys without their era */
    if (l->people)
        bn_bloom_add(l->b, stored_person_hash(k, kl, kv->val, kv->val_len));
    else if (kl >= BN_PEND_PREFIX_LEN)
        bn_bloom_add(l->b, stored_rule_hash(k));
    l->seen++;
    l->in_chunk++;
    return true;
}

bn_status_t bn_pend_filter_build(bn_store_t *s, uint64_t entries, size_t chunk,
                                 const atomic_bool *cancel, bn_bloom_t **out, uint64_t *seen,
                                 bn_error_t *err)
{
    *out = NULL;
    *seen = 0;
    bn_bloom_t *b = NULL;
    bn_status_t st = bn_bloom_new(&b, filter_plan(entries), err);
    if (st != BN_OK)
        return st;
    build_t l = {.b = b, .cancel = cancel, .chunk = chunk ? chunk : BUILD_CHUNK};
    uint8_t *from = NULL;
    size_t from_len = 0;
    static const bn_store_db_t dbs[2] = {BN_DB_RULEIDX, BN_DB_PEOPLE};
    for (int d = 0; d < 2 && st == BN_OK; d++) {
        l.people = dbs[d] == BN_DB_PEOPLE;
        l.key_len = 0;
        from_len = 0;
        do {
            /* Each chunk in a read txn of its own, so that the map can grow
             * between two; what is written meanwhile the flushes note. */
            l.more = false;
            l.in_chunk = 0;
            st = bn_store_scan(s, dbs[d], from, from_len, visit_build, &l, err);
            if (st == BN_OK && l.more) {
                uint8_t *g = realloc(from, l.key_len);
                if (!g) {
                    l.nomem = true;
                    break;
                }
                from = g;
                memcpy(from, l.key, l.key_len);
                from_len = l.key_len; /* the key it stopped at, read whole by the next chunk */
            }
        } while (st == BN_OK && l.more && !l.cancelled && !l.nomem);
        if (st == BN_OK && l.cancelled)
            st = bn_error_set(err, BN_UNAVAILABLE, 0, NULL, "index filter build cancelled");
        if (st == BN_OK && l.nomem)
            st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory building the index filter");
    }
    free(l.key);
    free(from);
    if (st != BN_OK) {
        bn_bloom_destroy(&b);
        return st;
    }
    *seen = l.seen;
    *out = b;
    return BN_OK;
}

bn_status_t bn_pend_filter_adopt(bn_pend_t *p, bn_bloom_t **b, bn_error_t *err)
{
    bool lost = !p->collecting || p->since_lost;
    p->collecting = p->since_lost = false;
    if (lost) {
        p->n_since = 0;
        bn_bloom_destroy(b);
        return bn_error_set(err, BN_NOMEM, 0, NULL,
                            "out of memory noting the entries written while the index filter "
                            "was built; the old filter stays");
    }
    for (size_t i = 0; i < p->n_since; i++)
        bn_bloom_add(*b, p->since[i]);
    p->n_since = 0;
    free(p->since); /* until the next build */
    p->since = NULL;
    p->cap_since = 0;
    bn_bloom_destroy(&p->stored);
    p->stored = *b;
    *b = NULL;
    return BN_OK;
}

void bn_pend_filter_abandon(bn_pend_t *p)
{
    p->collecting = p->since_lost = false;
    free(p->since);
    p->since = NULL;
    p->n_since = p->cap_since = 0;
}
