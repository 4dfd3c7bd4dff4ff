/* store.h: the hub's durable log and indexes in one LMDB environment.
 *
 * Named databases (see docs/storage.md):
 *   events   u64 big-endian seq -> [u16 topic length][topic][serialized Event]
 *            appended with MDB_APPEND; the topic travels with the value so a
 *            fetch can filter by prefix and copy bytes without decoding.
 *   idem     "agency\0type\0source_id" -> [u64 seq][16-byte content hash]
 *   counts   "type:<t>" / "agency:<a>" -> u64 (native endian)
 *   meta     "schema" -> "benang.v1", "hub_id" -> ...
 *   rejected u64 big-endian id -> serialized benang.v1.Rejected (payloads
 *            their adapter refused, kept for a later retry; oldest trimmed)
 *
 * One writer at a time (the hub's writer thread) uses a bn_store_txn_t; any
 * thread may read through bn_store_fetch()/bn_store_stats(), each in its own
 * short read transaction (MDB_NOTLS). The map grows by itself: when a put
 * hits MDB_MAP_FULL the write transaction is aborted and the caller retries
 * after bn_store_grow(), which waits for readers to leave (a rwlock) and
 * doubles the map. A full disk is BN_STORE_FULL, retryable, never a crash.
 */
#ifndef BN_STORE_H
#define BN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "benang/status.h"

#define BN_STORE_HASH_LEN 16

typedef struct bn_store bn_store_t;
typedef struct bn_store_txn bn_store_txn_t;

typedef struct {
    const char *dir;       /* created (0700) when missing */
    uint64_t map_size;     /* initial bytes; grows by doubling */
    bool nosync;           /* MDB_NOSYNC: the caller calls bn_store_sync() */
} bn_store_options_t;

/* Open (create) the environment in opt->dir and clear stale readers.
 * Returns BN_OK, BN_IO (directory), BN_STORE (LMDB: err->native = MDB code), BN_NOMEM. */
bn_status_t bn_store_open(bn_store_t **out, const bn_store_options_t *opt, bn_error_t *err);
/* Close; NULL-safe; nulls *self_p. No transaction may be open. */
void bn_store_destroy(bn_store_t **self_p);

/* Last committed seq (0 when empty). Thread-safe. */
uint64_t bn_store_head(const bn_store_t *s);

/* ---- writing: one writer thread ---- */
bn_status_t bn_store_begin(bn_store_t *s, bn_store_txn_t **out, bn_error_t *err);
/* Look up an idempotency key. BN_OK (found: *seq, hash filled), BN_NOT_FOUND, BN_STORE. */
bn_status_t bn_store_idem_get(bn_store_txn_t *t, const char *agency, const char *type,
                              const char *source_id, uint64_t *seq,
                              uint8_t hash[BN_STORE_HASH_LEN], bn_error_t *err);
bn_status_t bn_store_idem_put(bn_store_txn_t *t, const char *agency, const char *type,
                              const char *source_id, uint64_t seq,
                              const uint8_t hash[BN_STORE_HASH_LEN], bn_error_t *err);
/* Append event bytes at seq (must be head + 1 within this txn).
 * BN_OK, BN_STORE_FULL (map or disk full: abort, bn_store_grow, retry), BN_STORE. */
bn_status_t bn_store_append(bn_store_txn_t *t, uint64_t seq, const char *topic,
                            const uint8_t *ev, size_t len, bn_error_t *err);
/* counts[key] += delta. */
bn_status_t bn_store_count_add(bn_store_txn_t *t, const char *key, uint64_t delta,
                               bn_error_t *err);
/* Commit (fsync unless nosync) and free *t (nulled either way).
 * On failure nothing of the txn is stored. */
bn_status_t bn_store_commit(bn_store_txn_t **t, bn_error_t *err);
/* Abort and free; NULL-safe. */
void bn_store_abort(bn_store_txn_t **t);
/* Double the map (no write txn may be open). BN_OK, BN_STORE_FULL (at the limit), BN_STORE. */
bn_status_t bn_store_grow(bn_store_t *s, bn_error_t *err);
/* Write transactions committed since open, and the events appended by them. Thread-safe. */
void bn_store_commit_stats(const bn_store_t *s, uint64_t *commits, uint64_t *events);
/* ---- rejected payloads (writer thread) ---- */
/* The next free rejected id (1 when none was ever kept). */
bn_status_t bn_store_rejected_next_id(bn_store_txn_t *t, uint64_t *id, bn_error_t *err);
/* Keep record bytes under id, then drop the oldest records beyond keep_max. */
bn_status_t bn_store_rejected_put(bn_store_txn_t *t, uint64_t id, const uint8_t *rec, size_t len,
                                  uint64_t keep_max, bn_error_t *err);
/* The record under id (valid until the txn ends): BN_OK or BN_NOT_FOUND. */
bn_status_t bn_store_rejected_get(bn_store_txn_t *t, uint64_t id, const uint8_t **rec,
                                  size_t *len, bn_error_t *err);
/* Delete id: BN_OK or BN_NOT_FOUND. */
bn_status_t bn_store_rejected_del(bn_store_txn_t *t, uint64_t id, bn_error_t *err);

/* Flush to disk (buffered mode). */
bn_status_t bn_store_sync(bn_store_t *s, bn_error_t *err);

/* ---- reading: any thread ---- */

/* Called for each event; bytes are valid during the call only. Return false to stop. */
typedef bool (*bn_store_visit_fn)(void *ctx, uint64_t seq, const char *topic, size_t topic_len,
                                  const uint8_t *ev, size_t len);

/* Visit events from_seq..to_seq (to_seq 0: head) whose topic starts with one
 * of prefixes (n 0: all), at most max_events, stopping early once max_bytes
 * of event bytes were visited (at least one event is always visited).
 * *next_seq = the seq after the last one looked at (where to continue);
 * *head = head seq in the same snapshot. */
bn_status_t bn_store_fetch(bn_store_t *s, uint64_t from_seq, uint64_t to_seq,
                           uint32_t max_events, size_t max_bytes, const char *const *prefixes,
                           size_t n_prefixes, bn_store_visit_fn visit, void *ctx,
                           uint64_t *next_seq, uint64_t *head, bn_error_t *err);

/* Visit rejected records with id >= from_id in ascending order until visit
 * returns false; *total = records kept. Any thread. */
bn_status_t bn_store_rejected_scan(bn_store_t *s, uint64_t from_id, bn_store_visit_fn visit,
                                   void *ctx, uint64_t *total, bn_error_t *err);

typedef void (*bn_store_count_fn)(void *ctx, const char *key, size_t key_len, uint64_t count);
/* Visit every counter, and report head, number of events, bytes in use and map size. */
bn_status_t bn_store_stats(bn_store_t *s, bn_store_count_fn visit, void *ctx, uint64_t *head,
                           uint64_t *events, uint64_t *used_bytes, uint64_t *map_bytes,
                           bn_error_t *err);

/* ---- the overlap, referral and linkage databases (docs/storage.md) ----
 *
 *   people     "birth_date|village" (dupsort) -> [64 hex subject key][u8 sex][normalised name]
 *   localids   "agency\0local_id" -> 64 hex subject key
 *   links      subject key -> subject key it resolves to (confirmed matches);
 *              "no:" key "|" key -> "" (a rejected pair, never proposed again);
 *              "pm:" key "|" key -> u64 BE match id (a pair already on the review list)
 *   matches    u64 BE id -> packed benang.v1.PossibleMatch
 *   explain    u64 BE seq -> packed benang.v1.ExplainReply (probabilistic decisions)
 *   ruleidx    ['r'][16-byte match hash][u32 BE start day][u64 BE seq] -> [u32 BE end day]
 *   alerted    [u8 rule][16-byte pair hash] -> u64 BE alert seq (no alert twice)
 *   findings   u64 BE alert seq -> "" (the alerts, for the overlaps view)
 *   referrals  referral_id -> packed benang.v1.ReferralState
 *   due        [u64 BE deadline, unix s]["referral_id"] -> "" (unanswered-referral timers)
 *   programs   "agency\0source_id" -> u64 BE seq of the program's current version
 * Days are days since 1970-01-01. Counters for new ids live in meta.
 */
typedef enum {
    BN_DB_META,
    BN_DB_PEOPLE,
    BN_DB_LOCALIDS,
    BN_DB_LINKS,
    BN_DB_MATCHES,
    BN_DB_EXPLAIN,
    BN_DB_RULEIDX,
    BN_DB_ALERTED,
    BN_DB_FINDINGS,
    BN_DB_REFERRALS,
    BN_DB_DUE,
    BN_DB_PROGRAMS,
    BN_DB_COUNT_
} bn_store_db_t;

/* A key and value seen by a scan or get; valid during the call (or txn) only. */
typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *val;
    size_t val_len;
} bn_store_kv_t;

/* Return false to stop. */
typedef bool (*bn_store_kv_fn)(void *ctx, const bn_store_kv_t *kv);

/* In a write txn: the value of key (valid until the txn ends or the next put):
 * BN_OK, BN_NOT_FOUND, BN_STORE. */
bn_status_t bn_store_txn_get(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                             const uint8_t **val, size_t *vlen, bn_error_t *err);
/* Put (replace; for the dupsort people db: add the value unless present). */
bn_status_t bn_store_txn_put(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                             const void *val, size_t vlen, bn_error_t *err);
/* A write cursor for many puts in key order: a key that lands on the leaf
 * page of the previous put is put without a descent from the root (LMDB's
 * positioned-cursor shortcut). Lives within t; close it before t ends. */
typedef struct bn_store_putter bn_store_putter_t;
/* Returns BN_OK, BN_USAGE (no such db), BN_NOMEM, BN_STORE. */
bn_status_t bn_store_putter_open(bn_store_txn_t *t, bn_store_db_t db, bn_store_putter_t **out,
                                 bn_error_t *err);
/* Put (replace; for the dupsort people db: add the value unless present),
 * like bn_store_txn_put but without its read-only look first: for pairs that
 * are mostly new. Returns BN_OK, BN_INVALID_EVENT (key length), BN_STORE,
 * BN_STORE_FULL. */
bn_status_t bn_store_putter_put(bn_store_putter_t *c, const void *key, size_t klen,
                                const void *val, size_t vlen, bn_error_t *err);
/* NULL-safe; nulls *self_p. */
void bn_store_putter_close(bn_store_putter_t **self_p);
/* Put (replace) a protobuf message, packed straight into the page (not for
 * the dupsort people db). */
bn_status_t bn_store_txn_put_msg(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                                 const ProtobufCMessage *msg, bn_error_t *err);
/* Delete key (all its values in people): BN_OK or BN_NOT_FOUND. */
bn_status_t bn_store_txn_del(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                             bn_error_t *err);
/* Visit pairs with key >= from (from_len 0: the first) in key order, every
 * value of a dupsort key, until visit returns false. */
bn_status_t bn_store_txn_scan(bn_store_txn_t *t, bn_store_db_t db, const void *from,
                              size_t from_len, bn_store_kv_fn visit, void *ctx, bn_error_t *err);
/* The number of pairs in db (every value of a dupsort key counts) as of t. */
uint64_t bn_store_txn_entries(bn_store_txn_t *t, bn_store_db_t db);
/* Does the dupsort db (people) hold exactly this value under key? */
bool bn_store_txn_has_dup(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                          const void *val, size_t vlen);
/* Visit every value of one key of a dupsort db (people), in order. */
bn_status_t bn_store_txn_scan_dup(bn_store_txn_t *t, bn_store_db_t db, const void *key,
                                  size_t klen, bn_store_kv_fn visit, void *ctx, bn_error_t *err);
/* The stored bytes of event seq (without its topic): BN_OK or BN_NOT_FOUND. */
bn_status_t bn_store_txn_event(bn_store_txn_t *t, uint64_t seq, const uint8_t **ev, size_t *len,
                               bn_error_t *err);
/* meta counter name += 1, *out = the new value (starts at 1). */
bn_status_t bn_store_txn_next_id(bn_store_txn_t *t, const char *name, uint64_t *out,
                                 bn_error_t *err);

/* Any thread, each in its own read transaction: */
bn_status_t bn_store_scan(bn_store_t *s, bn_store_db_t db, const void *from, size_t from_len,
                          bn_store_kv_fn visit, void *ctx, bn_error_t *err);
/* Calls visit once with db's last entry (in key order): BN_OK, BN_NOT_FOUND
 * (db is empty), BN_STORE. */
bn_status_t bn_store_last(bn_store_t *s, bn_store_db_t db, bn_store_kv_fn visit, void *ctx,
                          bn_error_t *err);
/* Calls visit once with key's value: BN_OK, BN_NOT_FOUND, BN_STORE. */
bn_status_t bn_store_get(bn_store_t *s, bn_store_db_t db, const void *key, size_t klen,
                         bn_store_kv_fn visit, void *ctx, bn_error_t *err);
/* Calls visit once with event seq (kv.key = its topic, kv.val = its bytes). */
bn_status_t bn_store_event(bn_store_t *s, uint64_t seq, bn_store_kv_fn visit, void *ctx,
                           bn_error_t *err);

/* A short write transaction outside the writer thread (a coordinator's
 * decision): begins, calls fn, commits when fn returns BN_OK, aborts
 * otherwise (BN_UNAVAILABLE when the map is full: it never grows the map).
 * LMDB serialises it with the writer's batches. */
typedef bn_status_t (*bn_store_update_fn)(void *ctx, bn_store_txn_t *t, bn_error_t *err);
bn_status_t bn_store_update(bn_store_t *s, bn_store_update_fn fn, void *ctx, bn_error_t *err);

/* Big-endian helpers for keys. */
void bn_store_put_be64(uint8_t *p, uint64_t v);
uint64_t bn_store_get_be64(const uint8_t *p);
void bn_store_put_be32(uint8_t *p, uint32_t v);
uint32_t bn_store_get_be32(const uint8_t *p);

#endif
