/* arena.h: a bump allocator for the short-lived allocations of one request.
 *
 * A request's decoded event (protobuf-c makes one allocation per string and
 * sub-message), the strings the hub sets in it, its results and its packed
 * bytes are all freed together when its reply has gone. With malloc that was
 * ~25 allocations and as many frees per event, most of them after the
 * batch, when glibc's per-thread caches were long full (perf: malloc and
 * free were ~12 % of the hub's CPU). Here they come from a block inside the
 * request and, past it, from chunks freed all at once.
 *
 * pb is the arena as a ProtobufCAllocator: its alloc bumps, its free does
 * nothing, so protobuf-c's unpack and free_unpacked work on arena memory
 * unchanged (free_unpacked need not be called at all). One arena belongs to
 * one thread at a time; it must not move in memory once initialised (pb
 * points at it).
 *
 * Built with AddressSanitizer, the arena tells it what is handed out: the
 * free part of every block is poisoned and each allocation is followed by a
 * poisoned gap, so an overflow from one allocation into the next, or a read
 * of what was never allocated, is reported as it would be for malloc. A
 * released arena leaves its inline block unpoisoned (its storage may be a
 * stack frame about to return) and poisons it again on its next use.
 */
#ifndef BN_ARENA_H
#define BN_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes inside the arena itself: enough for a ~300-byte event, decoded and
 * completed, with its results and packed copy. */
#define BN_ARENA_INLINE 3072

typedef struct bn_arena {
    ProtobufCAllocator pb;
    uint8_t *cur, *end; /* the free part of the block in use */
    void *chunks;       /* the malloc'ed chunks, a list through their first word */
    size_t next_chunk;  /* size of the next chunk (doubles, 4 KiB .. 1 MiB) */
    int armed;          /* ASan builds: the inline block's free part is poisoned */
    _Alignas(16) uint8_t first[BN_ARENA_INLINE];
} bn_arena_t;

/* An empty arena at a (a's storage is the caller's, e.g. inside a struct). */
void bn_arena_init(bn_arena_t *a);
/* n bytes, 16-byte aligned, uninitialised; NULL when out of memory. Valid
 * until bn_arena_release(). */
void *bn_arena_alloc(bn_arena_t *a, size_t n);
/* n zeroed bytes, or NULL. */
void *bn_arena_zalloc(bn_arena_t *a, size_t n);
/* Free every chunk; a is empty again and may be reused, or its storage
 * given up. NULL-safe. */
void bn_arena_release(bn_arena_t *a);
/* Whether this build tells AddressSanitizer about arena allocations. */
int bn_arena_checked(void);

#endif
