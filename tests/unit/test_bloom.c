/* test_bloom: the split-block Bloom filter (bloom.h).
 *
 * Every hash added is answered "maybe" (no false negative, also past the
 * planned count); hashes never added are mostly answered "no" (about 1 in
 * 200 at the planned count, counted over 400,000 of them); hashes that
 * differ in their low half only, or in their high half only, are told apart
 * (both halves matter); full() says when more were added than planned.
 */
#include <stdlib.h>

#include "bloom.h"
#include "testutil.h"

#define PLANNED 100000

/* A bijective mix of i: distinct inputs, distinct well-spread hashes. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

int main(void)
{
    bn_error_t err;
    bn_bloom_t *b = NULL;
    CHECK(bn_bloom_new(&b, PLANNED, &err) == BN_OK);
    if (!b)
        return bn_test_finish("test_bloom");
    CHECK(bn_bloom_bytes(b) >= PLANNED * 12 / 8);

    size_t missing = 0, said_maybe = 0;
    for (uint64_t i = 0; i < PLANNED; i++)
        bn_bloom_add(b, mix(i));
    CHECK(!bn_bloom_full(b));
    for (uint64_t i = 0; i < PLANNED; i++)
        missing += !bn_bloom_maybe(b, mix(i));
    CHECK_EQ_U64(missing, 0);
    for (uint64_t i = PLANNED; i < PLANNED + 400000; i++)
        said_maybe += bn_bloom_maybe(b, mix(i));
    CHECK_MSG(said_maybe < 400000 / 100, "%zu of 400000 absent hashes said maybe", said_maybe);

    /* Both halves of the hash count: only the low half (the bits) differs,
     * or only the high half (the block). */
    size_t low_same = 0, high_same = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        uint64_t h = mix(i);
        low_same += bn_bloom_maybe(b, (h & 0xffffffff00000000ULL) | (uint32_t)mix(i + 777777));
        high_same += bn_bloom_maybe(b, (mix(i + 888888) & 0xffffffff00000000ULL) | (uint32_t)h);
    }
    CHECK_MSG(low_same < 100 && high_same < 100, "low %zu high %zu of 2000", low_same, high_same);

    /* Past the plan: still no false negative, and full() says so. */
    for (uint64_t i = 1000000; i < 1000000 + PLANNED; i++)
        bn_bloom_add(b, mix(i));
    CHECK(bn_bloom_full(b));
    missing = 0;
    for (uint64_t i = 0; i < PLANNED; i++)
        missing += !bn_bloom_maybe(b, mix(i)) + !bn_bloom_maybe(b, mix(i + 1000000));
    CHECK_EQ_U64(missing, 0);

    bn_bloom_destroy(&b);
    CHECK(b == NULL);
    bn_bloom_destroy(&b); /* idempotent */
    return bn_test_finish("test_bloom");
}
