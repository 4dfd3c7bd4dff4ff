/* arena.c: see arena.h. */
#include "arena.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define CHUNK_MIN ((size_t)4096)
#define CHUNK_MAX ((size_t)1 << 20)
#define HEADER ALIGN /* a chunk's link, padded to keep what follows aligned */

#if defined(__SANITIZE_ADDRESS__)
#define CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECKED 1
#endif
#endif
#ifdef CHECKED
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define GAP ALIGN /* poisoned bytes after each allocation */
#else
#define CHECKED 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define GAP 0
#endif

int bn_arena_checked(void)
{
    return CHECKED;
}

static void *pb_alloc(void *data, size_t n)
{
    return bn_arena_alloc(data, n);
}

static void pb_free(void *data, void *p)
{
    (void)data; /* everything goes at bn_arena_release() */
    (void)p;
}

void bn_arena_init(bn_arena_t *a)
{
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
    a->cur = a->first;
    a->end = a->first + sizeof a->first;
    a->chunks = NULL;
    a->next_chunk = CHUNK_MIN;
    a->armed = 0;
}

void *bn_arena_alloc(bn_arena_t *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - 2 * ALIGN - HEADER - GAP)
        return NULL;
    if (!a->armed) {
        POISON(a->first, sizeof a->first);
        a->armed = 1;
    }
    size_t want = n;
    n = (n + GAP + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->cur) < n) {
        bool own = n + HEADER > a->next_chunk; /* a big one: a chunk of its own size */
        size_t size = own ? n + HEADER : a->next_chunk;
        uint8_t *c = malloc(size);
        if (!c)
            return NULL;
        memcpy(c, &a->chunks, sizeof a->chunks);
        a->chunks = c;
        POISON(c + HEADER, size - HEADER);
        if (own) {
            UNPOISON(c + HEADER, want);
            return c + HEADER; /* the block in use keeps its free part */
        }
        if (a->next_chunk < CHUNK_MAX)
            a->next_chunk *= 2;
        a->cur = c + HEADER;
        a->end = c + size;
    }
    void *p = a->cur;
    a->cur += n;
    UNPOISON(p, want);
    return p;
}

void *bn_arena_zalloc(bn_arena_t *a, size_t n)
{
    void *p = bn_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void bn_arena_release(bn_arena_t *a)
{
    if (!a)
        return;
    void *c = a->chunks;
    while (c) {
        void *next;
        memcpy(&next, c, sizeof next);
        free(c);
        c = next;
    }
    UNPOISON(a->first, sizeof a->first);
    bn_arena_init(a);
}
