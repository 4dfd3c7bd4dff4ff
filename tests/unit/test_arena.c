/* test_arena: the request arena (hub/arena.h) and events that live in one.
 *
 * Allocations are 16-byte aligned and never overlap (each is filled with its
 * own byte and checked after all the others), across the inline block, the
 * chunks and a big allocation that gets a chunk of its own (after which the
 * block in use goes on where it was); release empties it (the next
 * allocation is the inline block's first byte again) and frees every chunk
 * (LeakSanitizer checks that under ASan). As a ProtobufCAllocator it
 * unpacks an Event that packs back to the same bytes, takes new strings from
 * bn_pb_set_string_in, and the canonical adapter given it puts its event
 * there and names it in the list, whose clearing then frees nothing (under
 * ASan a free of arena memory is an error).
 *
 * Built with ASan, the arena tells it what is handed out: a child process
 * that writes one byte past an allocation (in the inline block, in a chunk,
 * past a big one), reads the inline block's never-allocated part, or reads
 * a chunk after release must die of an ASan report; one that only touches
 * what it was given must exit cleanly, and so must one whose stack arena is
 * released before its frame returns and the stack is used again.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "benang/adapter.h"
#include "testutil.h"
#include "validate.h"

typedef struct {
    uint8_t *p;
    size_t n;
} piece_t;

static void test_layout(void)
{
    bn_arena_t a;
    bn_arena_init(&a);
    enum { N = 600 };
    piece_t pc[N];
    size_t total = 0;
    bool aligned = true;
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i * 37 % 211) + (i % 50 == 49 ? 70000 : 0); /* 0 .. 210, some big */
        pc[i].p = bn_arena_alloc(&a, n);
        pc[i].n = n;
        CHECK(pc[i].p != NULL);
        if (!pc[i].p)
            return;
        aligned = aligned && ((uintptr_t)pc[i].p % 16) == 0;
        memset(pc[i].p, i & 0xff, n);
        total += n;
    }
    CHECK(aligned);
    CHECK(total > 10 * BN_ARENA_INLINE); /* the chunks were used */
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        for (size_t k = 0; k < pc[i].n; k++)
            if (pc[i].p[k] != (uint8_t)(i & 0xff)) {
                bad = i;
                break;
            }
    CHECK_MSG(bad < 0, "allocation %d was overwritten", bad);
    CHECK(a.chunks != NULL);
    bn_arena_release(&a);
    CHECK(a.chunks == NULL);
    uint8_t *first = bn_arena_alloc(&a, 1);
    CHECK(first == a.first);
    bn_arena_release(&a);
}

static void test_big_keeps_block(void)
{
    bn_arena_t a;
    bn_arena_init(&a);
    uint8_t *x = bn_arena_alloc(&a, 20);
    uint8_t *big = bn_arena_alloc(&a, (size_t)3 << 20);
    uint8_t *y = bn_arena_alloc(&a, 20);
    CHECK(x == a.first);
    CHECK(big != NULL && (big < a.first || big >= a.first + BN_ARENA_INLINE));
    /* 20 (and, under ASan, a 16-byte poisoned gap) rounded to 16s: the
     * inline block goes on where it was. */
    CHECK(y == x + (bn_arena_checked() ? 48 : 32));
    uint8_t *z = bn_arena_zalloc(&a, 100);
    bool zero = z != NULL;
    for (int i = 0; zero && i < 100; i++)
        zero = z[i] == 0;
    CHECK(zero);
    CHECK(bn_arena_alloc(&a, SIZE_MAX) == NULL);
    CHECK(bn_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    bn_arena_release(&a);
}

/* A packed event of the shape the hub receives. */
static size_t sample_event(uint8_t *out, size_t cap)
{
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    Benang__V1__Subject sub = BENANG__V1__SUBJECT__INIT;
    Benang__V1__Immunisation im = BENANG__V1__IMMUNISATION__INIT;
    Benang__V1__Coding vac = BENANG__V1__CODING__INIT;
    ev.type = "immunisation";
    ev.source_id = "imm-000042";
    ev.occurred_at = "2026-11-02T08:30:00+07:00";
    ev.area = "3201010001";
    sub.nik = "3201011501200001";
    sub.name = "Siti Aminah";
    sub.birth_date = "2020-01-15";
    ev.subject = &sub;
    vac.system = "http://hl7.org/fhir/sid/cvx";
    vac.code = "03";
    im.vaccine = &vac;
    im.administered_on = "2026-11-02";
    im.dose_number = 2;
    ev.body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev.immunisation = &im;
    size_t n = benang__v1__event__get_packed_size(&ev);
    return n <= cap ? benang__v1__event__pack(&ev, out) : 0;
}

static void test_protobuf(void)
{
    uint8_t buf[1024], again[1024];
    size_t n = sample_event(buf, sizeof buf);
    CHECK(n > 0);
    bn_arena_t a;
    bn_arena_init(&a);
    Benang__V1__Event *ev = benang__v1__event__unpack(&a.pb, n, buf);
    CHECK(ev != NULL);
    if (!ev)
        return;
    CHECK((uint8_t *)ev >= a.first && (uint8_t *)ev < a.first + BN_ARENA_INLINE);
    CHECK(benang__v1__event__get_packed_size(ev) == n);
    CHECK(benang__v1__event__pack(ev, again) == n && memcmp(buf, again, n) == 0);
    char *old = ev->source_id;
    CHECK(bn_pb_set_string_in(&a.pb, &ev->source_id, "imm-000043") == BN_OK);
    CHECK_STR(ev->source_id, "imm-000043");
    CHECK((uint8_t *)ev->source_id >= a.first &&
          (uint8_t *)ev->source_id < a.first + BN_ARENA_INLINE);
    CHECK(ev->source_id != old);
    CHECK(bn_pb_set_string_in(&a.pb, &ev->area, "") == BN_OK);
    CHECK(ev->area == (char *)protobuf_c_empty_string);
    benang__v1__event__free_unpacked(ev, &a.pb); /* frees nothing; harmless */
    bn_arena_release(&a);
}

static void test_canonical_into_arena(void)
{
    uint8_t buf[1024];
    size_t n = sample_event(buf, sizeof buf);
    const bn_adapter_ops_t *ops = bn_adapter_find("canonical");
    CHECK(ops != NULL);
    if (!ops)
        return;
    bn_arena_t a;
    bn_arena_init(&a);
    bn_adapter_ctx_t ctx = {.agency = "puskesmas-a", .sector = "health", .arena = &a.pb};
    bn_event_list_t list = {0};
    bn_error_t err;
    bn_error_clear(&err);
    CHECK(ops->translate(&ctx, buf, n, &list, &err) == BN_OK);
    CHECK(list.len == 1);
    CHECK(list.arena == &a.pb);
    if (list.len == 1) {
        CHECK((uint8_t *)list.items[0] >= a.first &&
              (uint8_t *)list.items[0] < a.first + BN_ARENA_INLINE);
        CHECK(bn_event_validate_in(list.items[0], list.arena, &err) == BN_OK);
        CHECK_STR(list.items[0]->subject->name, "Siti Aminah");
    }
    bn_event_list_clear(&list); /* forgets them: under ASan, freeing them would fail here */
    CHECK(list.len == 0 && list.items == NULL);
    /* Without an arena the same adapter mallocs, and the list frees. */
    bn_adapter_ctx_t plain = {.agency = "puskesmas-a", .sector = "health"};
    bn_event_list_t l2 = {0};
    CHECK(ops->translate(&plain, buf, n, &l2, &err) == BN_OK);
    CHECK(l2.len == 1 && l2.arena == NULL);
    /* ... and refuses to add a malloc'ed event to an arena list. */
    l2.arena = &a.pb;
    CHECK(ops->translate(&plain, buf, n, &l2, &err) == BN_USAGE);
    l2.arena = NULL;
    bn_event_list_clear(&l2);
    bn_arena_release(&a);
}

/* What a child does to an arena; each but MISUSE_NONE and MISUSE_STACK is a
 * bug ASan must catch. */
enum misuse {
    MISUSE_NONE,
    MISUSE_PAST_INLINE,
    MISUSE_PAST_CHUNK,
    MISUSE_PAST_BIG,
    MISUSE_UNALLOCATED,
    MISUSE_AFTER_RELEASE,
    MISUSE_STACK,
};

static __attribute__((noinline)) void stack_user(int depth)
{
    volatile uint8_t buf[4096]; /* the frame a released stack arena lived in */
    memset((void *)buf, depth, sizeof buf);
    if (depth > 0)
        stack_user(depth - 1);
}

static __attribute__((noinline)) void stack_arena(void)
{
    bn_arena_t a;
    bn_arena_init(&a);
    for (int i = 0; i < 40; i++)
        memset(bn_arena_alloc(&a, 50), 1, 50);
    bn_arena_release(&a);
}

static void misuse(enum misuse m)
{
    bn_arena_t a;
    bn_arena_init(&a);
    volatile uint8_t *p = bn_arena_alloc(&a, 20), sink = 0;
    p[0] = 1;
    p[19] = 1;
    switch (m) {
    case MISUSE_NONE:
        break;
    case MISUSE_PAST_INLINE:
        p[20] = 1;
        break;
    case MISUSE_PAST_CHUNK:
        bn_arena_alloc(&a, BN_ARENA_INLINE - 64); /* the inline block is full */
        p = bn_arena_alloc(&a, 100);              /* from a chunk */
        p[100] = 1;
        break;
    case MISUSE_PAST_BIG:
        p = bn_arena_alloc(&a, (size_t)2 << 20);
        p[(size_t)2 << 20] = 1;
        break;
    case MISUSE_UNALLOCATED:
        sink = p[200];
        break;
    case MISUSE_AFTER_RELEASE:
        bn_arena_alloc(&a, BN_ARENA_INLINE - 64);
        p = bn_arena_alloc(&a, 100);
        bn_arena_release(&a);
        sink = p[0];
        break;
    case MISUSE_STACK:
        stack_arena();
        stack_user(8);
        break;
    }
    (void)sink;
    bn_arena_release(&a);
}

/* 1 when the child died, 0 when it exited 0, -1 otherwise. */
static int child_dies(enum misuse m)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY); /* ASan's report is expected */
        if (null >= 0)
            dup2(null, 2);
        misuse(m);
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    return 1;
}

static void test_asan_sees_misuse(void)
{
    if (!bn_arena_checked()) {
        printf("test_arena: not an ASan build, misuse checks skipped\n");
        return;
    }
    CHECK_MSG(child_dies(MISUSE_NONE) == 0, "touching only what was allocated was reported");
    CHECK_MSG(child_dies(MISUSE_STACK) == 0, "a released stack arena left its frame poisoned");
    CHECK_MSG(child_dies(MISUSE_PAST_INLINE) == 1, "a write past an inline allocation passed");
    CHECK_MSG(child_dies(MISUSE_PAST_CHUNK) == 1, "a write past a chunk allocation passed");
    CHECK_MSG(child_dies(MISUSE_PAST_BIG) == 1, "a write past a big allocation passed");
    CHECK_MSG(child_dies(MISUSE_UNALLOCATED) == 1, "a read of never-allocated memory passed");
    CHECK_MSG(child_dies(MISUSE_AFTER_RELEASE) == 1, "a read of a released chunk passed");
}

int main(void)
{
    test_layout();
    test_big_keeps_block();
    test_protobuf();
    test_canonical_into_arena();
    test_asan_sees_misuse();
    return bn_test_finish("test_arena");
}
