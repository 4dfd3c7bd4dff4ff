/* bloom.h: a split-block Bloom filter over 64-bit hashes.
 *
 * It answers "certainly never added" or "maybe added", so a lookup that
 * would miss in a big LMDB B-tree (a descent of cold pages, the writer's
 * main cost at millions of entries) can be skipped. Each hash sets 8 bits in
 * one 32-byte block (one cache line, one page), chosen by its high half;
 * the bits come from its low half multiplied by 8 odd constants (the
 * layout Apache Parquet's and Impala's filters use). With 12 bits per
 * planned entry about 1 lookup in 200 of absent keys says "maybe"; past the
 * planned count the filter stays right but says "maybe" more often
 * (bn_bloom_full() tells when to build a bigger one).
 *
 * One bn_bloom_t belongs to one thread: no call is thread-safe.
 */
#ifndef BN_BLOOM_H
#define BN_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benang/status.h"

typedef struct bn_bloom bn_bloom_t;

/* An empty filter planned for `planned` entries (at least 1024), in *out
 * (the caller's; bn_bloom_destroy() frees it). Returns BN_OK or BN_NOMEM
 * (*out NULL). */
bn_status_t bn_bloom_new(bn_bloom_t **out, uint64_t planned, bn_error_t *err);
/* NULL-safe, idempotent; nulls *self_p. */
void bn_bloom_destroy(bn_bloom_t **self_p);
void bn_bloom_add(bn_bloom_t *b, uint64_t h);
/* False: h was never added. True: it may have been. */
bool bn_bloom_maybe(const bn_bloom_t *b, uint64_t h);
/* More entries added than planned. */
bool bn_bloom_full(const bn_bloom_t *b);
/* Bytes of its bit array. */
size_t bn_bloom_bytes(const bn_bloom_t *b);

#endif
