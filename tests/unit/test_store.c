/* test_store: the LMDB store on its own: append, idempotency records, counters,
 * fetch by range and prefix, map growth from a tiny map, reopen. */
#include <stdlib.h>

#include "store.h"
#include "testutil.h"

typedef struct {
    uint64_t seqs[64];
    size_t n;
    size_t bytes;
} seen_t;

static bool visit(void *ctx, uint64_t seq, const char *topic, size_t tl, const uint8_t *ev,
                  size_t len)
{
    (void)topic, (void)tl, (void)ev;
    seen_t *s = ctx;
    if (s->n < 64)
        s->seqs[s->n] = seq;
    s->n++;
    s->bytes += len;
    return true;
}

static void count_visit(void *ctx, const char *key, size_t kl, uint64_t n)
{
    if (kl == 17 && memcmp(key, "type:immunisation", 17) == 0)
        *(uint64_t *)ctx = n;
}

static void append_n(bn_store_t *s, uint64_t from, unsigned n, const char *topic, size_t size)
{
    uint8_t *buf = calloc(1, size);
    bn_store_txn_t *t = NULL;
    bn_error_t err;
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    for (unsigned i = 0; i < n; i++) {
        bn_status_t st = bn_store_append(t, from + i, topic, buf, size, &err);
        if (st == BN_STORE_FULL) { /* what the writer does: abort, grow, redo */
            bn_store_abort(&t);
            CHECK(bn_store_grow(s, &err) == BN_OK);
            CHECK(bn_store_begin(s, &t, &err) == BN_OK);
            i = (unsigned)-1;
            continue;
        }
        CHECK_MSG(st == BN_OK, "append %u: %s", i, err.msg);
    }
    CHECK(bn_store_commit(&t, &err) == BN_OK);
    free(buf);
}

int main(void)
{
    char *dir = bn_test_tmpdir("store");
    char path[600];
    snprintf(path, sizeof path, "%s/data", dir);
    bn_store_options_t opt = {.dir = path, .map_size = 1 << 20, .nosync = false};
    bn_store_t *s = NULL;
    bn_error_t err;
    CHECK(bn_store_open(&s, &opt, &err) == BN_OK);
    CHECK_EQ_U64(bn_store_head(s), 0);

    /* idempotency records are read back inside the same txn and after commit */
    bn_store_txn_t *t = NULL;
    uint8_t h1[BN_STORE_HASH_LEN] = {1, 2, 3}, h2[BN_STORE_HASH_LEN];
    uint64_t seq = 0;
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    CHECK(bn_store_idem_get(t, "a", "immunisation", "X", &seq, h2, &err) == BN_NOT_FOUND);
    CHECK(bn_store_append(t, 1, "immunisation.health.a", (const uint8_t *)"ev1", 3, &err) == BN_OK);
    CHECK(bn_store_append(t, 3, "immunisation.health.a", (const uint8_t *)"ev3", 3, &err) ==
          BN_INTERNAL); /* seqs are gap-free */
    CHECK(bn_store_idem_put(t, "a", "immunisation", "X", 1, h1, &err) == BN_OK);
    CHECK(bn_store_idem_get(t, "a", "immunisation", "X", &seq, h2, &err) == BN_OK);
    CHECK_EQ_U64(seq, 1);
    CHECK(memcmp(h1, h2, sizeof h1) == 0);
    CHECK(bn_store_idem_get(t, "b", "immunisation", "X", &seq, h2, &err) == BN_NOT_FOUND);
    CHECK(bn_store_count_add(t, "type:immunisation", 1, &err) == BN_OK);
    CHECK(bn_store_commit(&t, &err) == BN_OK);
    CHECK(t == NULL);
    CHECK_EQ_U64(bn_store_head(s), 1);

    /* an aborted txn leaves nothing */
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    CHECK(bn_store_append(t, 2, "x.y.z", (const uint8_t *)"zz", 2, &err) == BN_OK);
    bn_store_abort(&t);
    CHECK_EQ_U64(bn_store_head(s), 1);

    /* 20 MB through a 1 MB map: it grows */
    append_n(s, 2, 5000, "training.education.c", 4000);
    CHECK_EQ_U64(bn_store_head(s), 5001);
    append_n(s, 5002, 10, "immunisation.health.b", 10);

    seen_t seen = {0};
    uint64_t next = 0, head = 0;
    const char *pre[] = {"immunisation."};
    CHECK(bn_store_fetch(s, 1, 0, 100, 0, pre, 1, visit, &seen, &next, &head, &err) == BN_OK);
    CHECK_EQ_U64(seen.n, 11);
    CHECK_EQ_U64(seen.seqs[0], 1);
    CHECK_EQ_U64(seen.seqs[1], 5002);
    CHECK_EQ_U64(head, 5011);
    CHECK_EQ_U64(next, 5012);
    memset(&seen, 0, sizeof seen);
    CHECK(bn_store_fetch(s, 10, 20, 0, 0, NULL, 0, visit, &seen, &next, &head, &err) == BN_OK);
    CHECK_EQ_U64(seen.n, 11);
    CHECK_EQ_U64(next, 21);
    memset(&seen, 0, sizeof seen);
    CHECK(bn_store_fetch(s, 10, 0, 3, 0, NULL, 0, visit, &seen, &next, &head, &err) == BN_OK);
    CHECK_EQ_U64(seen.n, 3);
    CHECK_EQ_U64(next, 13);
    memset(&seen, 0, sizeof seen);
    CHECK(bn_store_fetch(s, 10, 0, 0, 9000, NULL, 0, visit, &seen, &next, &head, &err) == BN_OK);
    CHECK_EQ_U64(seen.n, 3); /* stops once 9000 bytes were visited */

    uint64_t imm = 0, events = 0, used = 0, map = 0;
    CHECK(bn_store_stats(s, count_visit, &imm, &head, &events, &used, &map, &err) == BN_OK);
    CHECK_EQ_U64(imm, 1);
    CHECK_EQ_U64(events, 5011);
    CHECK(used > 20000000 && map >= used);
    uint64_t commits = 0, committed = 0;
    bn_store_commit_stats(s, &commits, &committed);
    CHECK_EQ_U64(commits, 3);
    CHECK_EQ_U64(committed, 5011);

    /* reopen: head and idempotency survive */
    bn_store_destroy(&s);
    CHECK(s == NULL);
    bn_store_destroy(&s);
    CHECK(bn_store_open(&s, &opt, &err) == BN_OK);
    CHECK_EQ_U64(bn_store_head(s), 5011);
    CHECK(bn_store_begin(s, &t, &err) == BN_OK);
    CHECK(bn_store_idem_get(t, "a", "immunisation", "X", &seq, h2, &err) == BN_OK && seq == 1);
    bn_store_abort(&t);
    bn_store_destroy(&s);

    /* a data dir that cannot be created is a clear BN_IO */
    bn_store_options_t bad = {.dir = "/proc/benang-no/such", .map_size = 1 << 20};
    CHECK(bn_store_open(&s, &bad, &err) == BN_IO);
    CHECK(strstr(err.msg, "data directory") != NULL);
    bn_test_rmrf(dir);
    free(dir);
    return bn_test_finish("test_store");
}
