/* bloom.c: see bloom.h. */
#include "bloom.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BITS_PER_ENTRY 12
#define BLOCK_BITS 256 /* 8 words of 32 bits */

struct bn_bloom {
    uint32_t (*blocks)[8];
    uint64_t n_blocks, planned, added;
    size_t bytes;
    void *map; /* the mapping blocks lies in */
    size_t map_bytes;
};

/* Odd multipliers, one per word of a block (Parquet's split-block filter). */
static const uint32_t SALT[8] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                 0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};

bn_status_t bn_bloom_new(bn_bloom_t **out, uint64_t planned, bn_error_t *err)
{
    *out = NULL;
    if (planned < 1024)
        planned = 1024;
    bn_bloom_t *b = calloc(1, sizeof *b);
    if (!b)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for an index filter");
    b->planned = planned;
    b->n_blocks = (planned * BITS_PER_ENTRY + BLOCK_BITS - 1) / BLOCK_BITS;
    if (b->n_blocks > UINT32_MAX)
        b->n_blocks = UINT32_MAX;
    b->bytes = (size_t)b->n_blocks * sizeof *b->blocks;
    /* Anonymous pages come zeroed and only when touched; huge pages where
     * the kernel has them, since every lookup lands on a random block: the
     * mapping is over-allocated by 2 MiB and used from a 2 MiB boundary. */
    const size_t huge = (size_t)2 << 20;
    b->map_bytes = b->bytes + huge;
    void *m = mmap(NULL, b->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        size_t bytes = b->bytes;
        free(b);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for an index filter (%zu bytes)",
                            bytes);
    }
    b->map = m;
    m = (void *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
    madvise(m, b->bytes, MADV_HUGEPAGE);
#endif
    /* Touched now, in the thread that builds it: a first touch of a huge
     * page may compact memory for milliseconds, not for the writer to meet. */
    memset(m, 0, b->bytes);
    b->blocks = m;
    *out = b;
    return BN_OK;
}

void bn_bloom_destroy(bn_bloom_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    munmap((*self_p)->map, (*self_p)->map_bytes);
    free(*self_p);
    *self_p = NULL;
}

static uint32_t *block_of(const bn_bloom_t *b, uint64_t h)
{
    return b->blocks[((h >> 32) * b->n_blocks) >> 32];
}

void bn_bloom_add(bn_bloom_t *b, uint64_t h)
{
    uint32_t *w = block_of(b, h), lo = (uint32_t)h;
    for (int i = 0; i < 8; i++)
        w[i] |= 1u << ((lo * SALT[i]) >> 27);
    b->added++;
}

bool bn_bloom_maybe(const bn_bloom_t *b, uint64_t h)
{
    const uint32_t *w = block_of(b, h);
    uint32_t lo = (uint32_t)h;
    for (int i = 0; i < 8; i++)
        if (!(w[i] & (1u << ((lo * SALT[i]) >> 27))))
            return false;
    return true;
}

bool bn_bloom_full(const bn_bloom_t *b)
{
    return b->added > b->planned;
}

size_t bn_bloom_bytes(const bn_bloom_t *b)
{
    return b->bytes;
}
