/* pend.h: the index entries not yet in LMDB, of the rules and of the people database.
 *
 * The writer thread's bn_rules_check() (rule index entries) and linker
 * (people entries) add here instead of putting into LMDB; lookups read both
 * this and LMDB. bn_pend_flush() puts them all in one sorted pass every so
 * often; the event log is their durable copy (pend.c says why and how). One
 * bn_pend_t belongs to the writer thread: no call here is thread-safe. Every
 * key and value passed in is copied; every bn_store_kv_t handed to a visitor
 * points into p and stays valid until the next add, rollback, clear or
 * destroy of p (the visitor must not add to p).
 */
#ifndef BN_PEND_H
#define BN_PEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benang/status.h"
#include "bloom.h"
#include "store.h"

/* A key of the rule index (the ruleidx database; rules.c builds them):
 *     [rule no][match hash][start day][seq]
 *     1 byte   16 bytes    u32 BE     u64 BE
 * rule no is a namespace byte ('r'); the match hash is of the rule's id and
 * the event's values of the fields the rule matches on; the start day (days
 * since 1970-01-01) is stored plus 2^31 so it sorts as unsigned; seq is the
 * event's. The first BN_PEND_PREFIX_LEN bytes are the prefix: the entries
 * of one prefix are the events a new one with that prefix is compared with.
 * A pending value is [end day, u32 BE plus 2^31][agency \0 source_id]; LMDB
 * keeps its first BN_PEND_RULE_DB_VAL_LEN bytes (the end day) only, the rest
 * is read from the event at seq when needed. */
#define BN_PEND_HASH_LEN 16
#define BN_PEND_PREFIX_LEN (1 + BN_PEND_HASH_LEN)
#define BN_PEND_KEY_DAY_AT BN_PEND_PREFIX_LEN       /* offset of the start day */
#define BN_PEND_KEY_SEQ_AT (BN_PEND_PREFIX_LEN + 4) /* offset of the seq */
#define BN_PEND_KEY_LEN (BN_PEND_PREFIX_LEN + 4 + 8)
#define BN_PEND_RULE_DB_VAL_LEN 4

typedef struct bn_pend bn_pend_t;

/* An empty pending index in *out (the caller's; bn_pend_destroy() frees
 * it). Returns BN_OK or BN_NOMEM (*out NULL). */
bn_status_t bn_pend_new(bn_pend_t **out, bn_error_t *err);
/* Free p and everything in it; NULL-safe, idempotent, nulls *self_p. */
void bn_pend_destroy(bn_pend_t **self_p);
/* Hash tables big enough for `entries` in each generation, made now: a
 * table that doubles while the writer works relinks all its entries at once
 * (tens of milliseconds at a million). BN_OK or BN_NOMEM (they grow later). */
bn_status_t bn_pend_presize(bn_pend_t *p, size_t entries, bn_error_t *err);
/* The entries not yet in LMDB (as of the last commit): rule index and
 * people together, gathered and staged. */
size_t bn_pend_count(const bn_pend_t *p);
/* The entries gathered since the last bn_pend_stage() (what decides the
 * next one). */
size_t bn_pend_gathered(const bn_pend_t *p);
/* The staged entries not yet written (0: no staged flush under way). */
size_t bn_pend_staged(const bn_pend_t *p);

/* Before a batch attempt: what rollback returns to. */
void bn_pend_mark(bn_pend_t *p);
/* A failed attempt: drop the entries added and forget the staged entries
 * written since the mark. */
void bn_pend_rollback(bn_pend_t *p);
/* The attempt's transaction committed: the staged entries it wrote are in
 * LMDB; when they were the last, the staged generation is dropped. */
void bn_pend_committed(bn_pend_t *p);

/* A staged flush spreads one sorted pass over many transactions, so that no
 * single group commit stalls for it: bn_pend_stage() sorts the gathered
 * entries (those of every event up to seq upto) into a staged generation
 * and starts an empty one for new entries; each bn_pend_stage_step() puts
 * the next `most` staged entries in key order within t, and the one that
 * puts the last also records upto in meta. Staged entries stay visible to
 * the lookups until bn_pend_committed() drops them (an entry written already
 * may then be seen twice, in LMDB and here: the lookups take that). A crash
 * before the last step loses nothing: the next start derives the entries of
 * the events after the previous upto again.
 * bn_pend_stage: outside any attempt (after a commit); returns BN_OK,
 * BN_NOMEM, or BN_INTERNAL when a staged flush is still under way.
 * bn_pend_stage_step: *finished true when this step wrote the last entry;
 * returns BN_OK (nothing staged, or still being sorted: nothing done), a
 * store status, or BN_NOMEM (the sort failed in its thread and here). */
bn_status_t bn_pend_stage(bn_pend_t *p, uint64_t upto, bn_error_t *err);
bn_status_t bn_pend_stage_step(bn_pend_t *p, bn_store_txn_t *t, size_t most, bool *finished,
                               bn_error_t *err);
/* The sort of a staged pass runs in a thread of its own (a pass of two
 * million entries took the writer ~0.4 s): the lookups see the staged
 * entries meanwhile, and a step before it is done writes nothing. This
 * waits until it is (BN_OK; BN_NOMEM when even a sort here fails). */
bn_status_t bn_pend_stage_wait(bn_pend_t *p, bn_error_t *err);

/* Put every pending entry (the rest of a staged flush, then the gathered)
 * into LMDB in key order within t (rule entries into ruleidx, people
 * entries into people), and record in meta that the entries of every event
 * up to seq upto are there. Call bn_pend_clear() once t has committed (on
 * failure roll back to the mark and abort t: p still holds them).
 * Returns BN_OK, BN_NOMEM or a store status (BN_STORE, BN_STORE_FULL). */
bn_status_t bn_pend_flush(bn_pend_t *p, bn_store_txn_t *t, uint64_t upto, bn_error_t *err);
/* Empty p, staged and gathered (after bn_pend_flush() committed); it keeps
 * its tables for the next round. */
void bn_pend_clear(bn_pend_t *p);
/* The first seq whose index entries may be missing from LMDB (the last
 * flush's upto + 1; head + 1 for a store that never flushed, whose entries
 * all went straight to LMDB), into *from. At start, before any write.
 * Returns BN_OK or BN_STORE. */
bn_status_t bn_pend_unflushed_from(bn_store_t *s, uint64_t *from, bn_error_t *err);

/* Eras. A pass writes its entries into LMDB under a 2-byte prefix
 * [BN_PEND_ERA_MARK, era], era = the pass's upto seq / era_events (never
 * lower than the last era written, at most 255), so a pass touches only the
 * leaf pages of its own era, not those of every entry ever indexed; a
 * lookup in LMDB looks in each era and in the range without a prefix
 * (entries written before eras, and by callers without a pending index).
 * No key of either database starts with the mark otherwise (rule keys start
 * with a rule letter, people keys with a birth date). */
#define BN_PEND_ERA_MARK 0xFE
#define BN_PEND_ERA_MAX 255
#define BN_PEND_ERA_EVENTS_DEFAULT 1000000 /* hub.rule_index_era_events */
/* Plan eras of era_events events (at least 1) over a store whose databases
 * already hold eras 0 .. present - 1 (bn_pend_eras_present). */
void bn_pend_eras_init(bn_pend_t *p, uint64_t era_events, unsigned present);
/* The eras the two databases of s hold (the last key's era + 1; 0 when
 * neither has any): BN_OK or BN_STORE. */
bn_status_t bn_pend_eras_present(bn_store_t *s, unsigned *present, bn_error_t *err);
/* Eras a lookup must look in: 0 .. bn_pend_eras(p) - 1, and the unprefixed
 * range (era -1). */
unsigned bn_pend_eras(const bn_pend_t *p);
/* key under era (-1: unprefixed) into out[cap]: its length, 0 if it does not fit. */
size_t bn_pend_era_key(int era, const void *key, size_t kl, uint8_t *out, size_t cap);
/* The era of a stored key (-1: none); *key and *kl then skip its prefix. */
int bn_pend_era_of(const uint8_t **key, size_t *kl);

/* Add a rule index entry: key (layout above) -> val (vl bytes, copied).
 * Duplicates are not looked for. Returns BN_OK, BN_INVALID_EVENT (val
 * longer than 64 KiB) or BN_NOMEM. */
bn_status_t bn_pend_rule_add(bn_pend_t *p, const uint8_t key[BN_PEND_KEY_LEN], const void *val,
                             size_t vl, bn_error_t *err);
/* Visit every pending rule entry whose key starts with prefix (kv.key is
 * the whole key, kv.val the value as added), in no particular order, until
 * visit returns false. */
void bn_pend_rule_each(const bn_pend_t *p, const uint8_t prefix[BN_PEND_PREFIX_LEN],
                       bn_store_kv_fn visit, void *ctx);

/* New entries of the people database (linker.c) wait here too, for the same
 * reason (their keys, birth date + village, are random): block -> value.
 * Does p hold block -> val? */
bool bn_pend_people_has(const bn_pend_t *p, const void *block, size_t bl, const void *val,
                        size_t vl);
/* Add block -> val unless p holds it already or (t not NULL) the people
 * database does: one hash for both looks. Returns BN_OK, BN_INVALID_EVENT
 * (longer than 64 KiB), BN_NOMEM. */
bn_status_t bn_pend_people_add(bn_pend_t *p, bn_store_txn_t *t, const void *block, size_t bl,
                               const void *val, size_t vl, bn_error_t *err);
/* Visit block's values in the people database of t, before eras and in each
 * era of p (NULL: before eras only), until visit returns false. kv.key is
 * the stored key. Returns BN_OK or BN_STORE. */
bn_status_t bn_pend_people_scan_stored(const bn_pend_t *p, bn_store_txn_t *t, const void *block,
                                       size_t bl, bn_store_kv_fn visit, void *ctx, bn_error_t *err);
/* Visit the pending values of block (kv.key is the block) until visit returns false. */
void bn_pend_people_each(const bn_pend_t *p, const void *block, size_t bl, bn_store_kv_fn visit,
                         void *ctx);

/* A filter of what LMDB holds (bloom.h) spares the lookups that would miss:
 * bn_pend_people_add() asks it before the people database, and the rule
 * check asks bn_pend_rule_maybe_stored() before ruleidx. Without one (the
 * default) every lookup goes to LMDB. Every flush adds what it writes.
 * Build a new one when bn_pend_filter_full(): past its planned entries it
 * says "maybe" more often.
 *
 * It is built apart, so that a hub on a big store serves at once (a scan of
 * tens of millions of entries takes seconds); until a new one is adopted,
 * the old filter (or none) answers:
 *   bn_pend_filter_collect(p): from now on every flush also notes what it
 *     writes (the build may not see it);
 *   bn_pend_filter_build(): in any thread, touching only the store: a new
 *     filter planned for `entries` of what the two databases hold, read in
 *     chunks of `chunk` pairs (0: a million; a key's values stay together),
 *     each in a read txn of its own; *seen counts what it read. Stops with
 *     BN_UNAVAILABLE once *cancel (may be NULL) is set; BN_NOMEM, BN_STORE;
 *   bn_pend_filter_adopt(p, b): adds what the flushes noted and makes *b
 *     the filter (takes it: *b NULL). BN_NOMEM when a note was lost (then
 *     *b is destroyed and the old filter stays);
 *   bn_pend_filter_abandon(p): a build that will not be adopted. */
#define BN_PEND_FILTER_MIN 1000000
bool bn_pend_filter_full(const bn_pend_t *p);
void bn_pend_filter_collect(bn_pend_t *p);
bn_status_t bn_pend_filter_build(bn_store_t *s, uint64_t entries, size_t chunk,
                                 const atomic_bool *cancel, bn_bloom_t **out, uint64_t *seen,
                                 bn_error_t *err);
bn_status_t bn_pend_filter_adopt(bn_pend_t *p, bn_bloom_t **b, bn_error_t *err);
void bn_pend_filter_abandon(bn_pend_t *p);
/* False: LMDB holds no ruleidx entry with this prefix. */
bool bn_pend_rule_maybe_stored(const bn_pend_t *p, const uint8_t prefix[BN_PEND_PREFIX_LEN]);

#endif
