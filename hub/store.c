/* store.c: the LMDB environment behind the hub (see store.h for the layout).
 *
 * Reads and map growth are separated by a rwlock: readers hold it shared for
 * the life of their read transaction, bn_store_grow() holds it exclusive while
 * it calls mdb_env_set_mapsize(), which LMDB allows only when no transaction
 * of this process is active. The writer never holds it: it aborts its txn
 * before growing. The head seq is published to readers with an atomic store
 * after each commit.
 */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MAP_BYTES (1ULL << 40) /* 1 TiB: growth stops here */
#define MAX_SCAN 200000            /* events looked at per fetch, filtered or not */

struct bn_store {
    MDB_env *env;
    MDB_dbi events, idem, counts, meta, rejected;
    MDB_dbi dbs[BN_DB_COUNT_]; /* the generic key-value databases, by bn_store_db_t */
    uint64_t map_size;
    _Atomic uint64_t head;
    _Atomic uint64_t commits, committed_events;
    pthread_rwlock_t grow_lock;
    bool lock_ready;
};

struct bn_store_txn {
    bn_store_t *store;
    MDB_txn *txn;
    uint64_t head; /* head as of this txn, including its own appends */
};

/* Names of the bn_store_db_t databases (meta is shared with the core). */
static const char *const DB_NAMES[BN_DB_COUNT_] = {
    [BN_DB_META] = "meta",         [BN_DB_PEOPLE] = "people",   [BN_DB_LOCALIDS] = "localids",
    [BN_DB_LINKS] = "links",       [BN_DB_MATCHES] = "matches", [BN_DB_EXPLAIN] = "explain",
    [BN_DB_RULEIDX] = "ruleidx",   [BN_DB_ALERTED] = "alerted", [BN_DB_FINDINGS] = "findings",
    [BN_DB_REFERRALS] = "referrals", [BN_DB_DUE] = "due",       [BN_DB_PROGRAMS] = "programs",
};

static bn_status_t mdb_fail(bn_error_t *err, int rc, const char *what)
{
    bn_status_t st = (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT) ? BN_STORE_FULL : BN_STORE;
    return bn_error_set(err, st, rc, "store", "%s: %s", what, mdb_strerror(rc));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static bn_status_t open_dbs(bn_store_t *s, bn_error_t *err)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return mdb_fail(err, rc, "begin");
    if ((rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->events)) ||
        (rc = mdb_dbi_open(txn, "idem", MDB_CREATE, &s->idem)) ||
        (rc = mdb_dbi_open(txn, "counts", MDB_CREATE, &s->counts)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
        (rc = mdb_dbi_open(txn, "rejected", MDB_CREATE, &s->rejected))) {
        mdb_txn_abort(txn);
        return mdb_fail(err, rc, "open databases");
    }
    s->dbs[BN_DB_META] = s->meta;
    for (int i = 1; i < BN_DB_COUNT_ && !rc; i++)
        rc = mdb_dbi_open(txn, DB_NAMES[i], MDB_CREATE | (i == BN_DB_PEOPLE ? MDB_DUPSORT : 0),
                          &s->dbs[i]);
    if (rc) {
        mdb_txn_abort(txn);
        return mdb_fail(err, rc, "open index databases");
    }
    MDB_val k = {6, "schema"}, v = {9, "benang.v1"};
    rc = mdb_put(txn, s->meta, &k, &v, 0);
    MDB_cursor *cur = NULL;
    if (!rc)
        rc = mdb_cursor_open(txn, s->events, &cur);
    if (!rc) {
        MDB_val ck, cv;
        int r2 = mdb_cursor_get(cur, &ck, &cv, MDB_LAST);
        if (r2 == 0 && ck.mv_size == 8)
            atomic_store(&s->head, get_be64(ck.mv_data));
        else if (r2 != MDB_NOTFOUND)
            rc = r2;
        mdb_cursor_close(cur);
    }
    if (!rc)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return rc ? mdb_fail(err, rc, "initialise") : BN_OK;
}

bn_status_t bn_store_open(bn_store_t **out, const bn_store_options_t *opt, bn_error_t *err)
{
    *out = NULL;
    if (mkdir(opt->dir, 0700) != 0 && errno != EEXIST)
        return bn_error_set(err, BN_IO, errno, opt->dir, "cannot create data directory: %s",
                            strerror(errno));
    bn_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory opening the store");
    bn_status_t st = BN_OK;
    if (pthread_rwlock_init(&s->grow_lock, NULL) != 0) {
        st = bn_error_set(err, BN_STORE, errno, "store", "cannot create lock");
        goto fail;
    }
    s->lock_ready = true;
    s->map_size = opt->map_size ? opt->map_size : (1ULL << 30);
    int rc = mdb_env_create(&s->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(s->env, 24);
    if (!rc)
        rc = mdb_env_set_maxreaders(s->env, 126);
    if (!rc)
        rc = mdb_env_set_mapsize(s->env, s->map_size);
    if (rc) {
        st = mdb_fail(err, rc, "create environment");
        goto fail;
    }
    rc = mdb_env_open(s->env, opt->dir, MDB_NOTLS | (opt->nosync ? MDB_NOSYNC : 0), 0600);
    if (rc) {
        st = bn_error_set(err, rc == EACCES || rc == ENOENT ? BN_IO : BN_STORE, rc, opt->dir,
                          "cannot open LMDB environment: %s", mdb_strerror(rc));
        goto fail;
    }
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->map_size)
        s->map_size = info.me_mapsize; /* an earlier run grew it */
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    if ((st = open_dbs(s, err)) != BN_OK)
        goto fail;
    *out = s;
    return BN_OK;
fail:
    bn_store_destroy(&s);
    return st;
}

void bn_store_destroy(bn_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_store_t *s = *self_p;
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_ready)
        pthread_rwlock_destroy(&s->grow_lock);
    free(s);
    *self_p = NULL;
}

uint64_t bn_store_head(const bn_store_t *s)
{
    return atomic_load(&((bn_store_t *)s)->head);
}

bn_status_t bn_store_begin(bn_store_t *s, bn_store_txn_t **out, bn_error_t *err)
{
    *out = NULL;
    bn_store_txn_t *t = calloc(1, sizeof *t);
    if (!t)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
    if (rc) {
        free(t);
        return mdb_fail(err, rc, "begin write");
    }
    t->store = s;
    t->head = atomic_load(&s->head);
    *out = t;
    return BN_OK;
}

/* "agency\0type\0source_id" into buf; returns its length or 0 when too long. */
static size_t idem_key(char *buf, size_t cap, const char *agency, const char *type,
                       const char *source_id)
{
    size_t a = strlen(agency), b = strlen(type), c = strlen(source_id);
    if (a + b + c + 2 > cap || a + b + c + 2 > 511) /* LMDB's default max key size */
        return 0;
    memcpy(buf, agency, a);
    buf[a] = '\0';
    memcpy(buf + a + 1, type, b);
    buf[a + 1 + b] = '\0';
    memcpy(buf + a + b + 2, source_id, c);
    return a + b + c + 2;
}

bn_status_t bn_store_idem_get(bn_store_txn_t *t, const char *agency, const char *type,
                              const char *source_id, uint64_t *seq,
                              uint8_t hash[BN_STORE_HASH_LEN], bn_error_t *err)
{
    char kb[512];
    size_t kl = idem_key(kb, sizeof kb, agency, type, source_id);
    if (!kl)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "source_id",
                            "agency, type and source_id together exceed 509 bytes");
    MDB_val k = {kl, kb}, v;
    int rc = mdb_get(t->txn, t->store->idem, &k, &v);
    if (rc == MDB_NOTFOUND)
        return BN_NOT_FOUND;
    if (rc)
        return mdb_fail(err, rc, "idempotency lookup");
    if (v.mv_size != 8 + BN_STORE_HASH_LEN)
        return bn_error_set(err, BN_STORE, 0, "store", "corrupt idempotency record");
    *seq = get_be64(v.mv_data);
    memcpy(hash, (const uint8_t *)v.mv_data + 8, BN_STORE_HASH_LEN);
    return BN_OK;
}

bn_status_t bn_store_idem_put(bn_store_txn_t *t, const char *agency, const char *type,
                              const char *source_id, uint64_t seq,
                              const uint8_t hash[BN_STORE_HASH_LEN], bn_error_t *err)
{
    char kb[512];
    uint8_t vb[8 + BN_STORE_HASH_LEN];
    size_t kl = idem_key(kb, sizeof kb, agency, type, source_id);
    if (!kl)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "source_id",
                            "agency, type and source_id together exceed 509 bytes");
    put_be64(vb, seq);
    memcpy(vb + 8, hash, BN_STORE_HASH_LEN);
    MDB_val k = {kl, kb}, v = {sizeof vb, vb};
    int rc = mdb_put(t->txn, t->store->idem, &k, &v, 0);
    return rc ? mdb_fail(err, rc, "idempotency put") : BN_OK;
}

bn_status_t bn_store_append(bn_store_txn_t *t, uint64_t seq, const char *topic,
                            const uint8_t *ev, size_t len, bn_error_t *err)
{
    if (seq != t->head + 1)
        return bn_error_set(err, BN_INTERNAL, 0, "store", "append of seq %llu after head %llu",
                            (unsigned long long)seq, (unsigned long long)t->head);
    size_t tl = strlen(topic);
    if (tl > 0xffff)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "type", "topic too long");
    uint8_t kb[8];
    put_be64(kb, seq);
    MDB_val k = {8, kb}, v = {2 + tl + len, NULL};
    int rc = mdb_put(t->txn, t->store->events, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return mdb_fail(err, rc, "append event");
    uint8_t *p = v.mv_data;
    p[0] = (uint8_t)(tl >> 8);
    p[1] = (uint8_t)(tl & 0xff);
    memcpy(p + 2, topic, tl);
    memcpy(p + 2 + tl, ev, len);
    t->head = seq;
    return BN_OK;
}

bn_status_t bn_store_count_add(bn_store_txn_t *t, const char *key, uint64_t delta,
                               bn_error_t *err)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    uint64_t n = 0;
    int rc = mdb_get(t->txn, t->store->counts, &k, &v);
    if (rc == 0 && v.mv_size == sizeof n)
        memcpy(&n, v.mv_data, sizeof n);
    else if (rc && rc != MDB_NOTFOUND)
        return mdb_fail(err, rc, "count lookup");
    n += delta;
    v.mv_size = sizeof n;
    v.mv_data = &n;
    rc = mdb_put(t->txn, t->store->counts, &k, &v, 0);
    return rc ? mdb_fail(err, rc, "count put") : BN_OK;
}

bn_status_t bn_store_commit(bn_store_txn_t **tp, bn_error_t *err)
{
    bn_store_txn_t *t = *tp;
    *tp = NULL;
    int rc = mdb_txn_commit(t->txn);
    if (rc == 0) {
        /* Only the writer appends; a side transaction (bn_store_update) must
         * not publish a head it read before the writer's last commit landed. */
        uint64_t before = atomic_load(&t->store->head);
        if (t->head > before) {
            atomic_store(&t->store->head, t->head);
            atomic_fetch_add(&t->store->committed_events, t->head - before);
        }
        atomic_fetch_add(&t->store->commits, 1);
    }
    free(t);
    return rc ? mdb_fail(err, rc, "commit") : BN_OK;
}

void bn_store_abort(bn_store_txn_t **tp)
{
    if (!tp || !*tp)
        return;
    mdb_txn_abort((*tp)->txn);
    free(*tp);
    *tp = NULL;
}

bn_status_t bn_store_grow(bn_store_t *s, bn_error_t *err)
{
    if (s->map_size >= MAX_MAP_BYTES)
        return bn_error_set(err, BN_STORE_FULL, MDB_MAP_FULL, "store",
                            "LMDB map is at its %llu-byte limit",
                            (unsigned long long)MAX_MAP_BYTES);
    pthread_rwlock_wrlock(&s->grow_lock);
    uint64_t want = s->map_size * 2;
    int rc = mdb_env_set_mapsize(s->env, want);
    if (rc == 0)
        s->map_size = want;
    pthread_rwlock_unlock(&s->grow_lock);
    return rc ? mdb_fail(err, rc, "grow map") : BN_OK;
}

void bn_store_commit_stats(const bn_store_t *s, uint64_t *commits, uint64_t *events)
{
    bn_store_t *m = (bn_store_t *)s;
    *commits = atomic_load(&m->commits);
    *events = atomic_load(&m->committed_events);
}

bn_status_t bn_store_sync(bn_store_t *s, bn_error_t *err)
{
    int rc = mdb_env_sync(s->env, 1);
    return rc ? mdb_fail(err, rc, "sync") : BN_OK;
}

static bool topic_matches(const char *topic, size_t tl, const char *const *prefixes, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(prefixes[i]);
        if (pl <= tl && memcmp(topic, prefixes[i], pl) == 0)
            return true;
    }
    return false;
}

static bn_status_t read_begin(bn_store_t *s, MDB_txn **txn, bn_error_t *err)
{
    pthread_rwlock_rdlock(&s->grow_lock);
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc) {
        pthread_rwlock_unlock(&s->grow_lock);
        return mdb_fail(err, rc, "begin read");
    }
    return BN_OK;
}

static void read_end(bn_store_t *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->grow_lock);
}

bn_status_t bn_store_fetch(bn_store_t *s, uint64_t from_seq, uint64_t to_seq,
                           uint32_t max_events, size_t max_bytes, const char *const *prefixes,
                           size_t n_prefixes, bn_store_visit_fn visit, void *ctx,
                           uint64_t *next_seq, uint64_t *head, bn_error_t *err)
{
    MDB_txn *txn = NULL;
    bn_status_t st = read_begin(s, &txn, err);
    if (st != BN_OK)
        return st;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, s->events, &cur);
    uint64_t last = 0, next = from_seq ? from_seq : 1;
    MDB_val k, v;
    if (!rc && (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0)
        last = get_be64(k.mv_data);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    uint8_t kb[8];
    put_be64(kb, next);
    k.mv_size = 8;
    k.mv_data = kb;
    uint32_t n = 0, scanned = 0;
    size_t bytes = 0;
    int op = MDB_SET_RANGE;
    while (!rc && last >= next && (to_seq == 0 || next <= to_seq)) {
        rc = mdb_cursor_get(cur, &k, &v, op);
        op = MDB_NEXT;
        if (rc)
            break;
        uint64_t seq = get_be64(k.mv_data);
        if (to_seq && seq > to_seq)
            break;
        const uint8_t *p = v.mv_data;
        size_t tl = v.mv_size >= 2 ? ((size_t)p[0] << 8 | p[1]) : 0;
        if (v.mv_size < 2 + tl) {
            rc = MDB_CORRUPTED;
            break;
        }
        next = seq + 1;
        scanned++;
        if (topic_matches((const char *)p + 2, tl, prefixes, n_prefixes)) {
            n++;
            bytes += v.mv_size - 2 - tl;
            if (!visit(ctx, seq, (const char *)p + 2, tl, p + 2 + tl, v.mv_size - 2 - tl))
                break;
        }
        if ((max_events && n >= max_events) || (max_bytes && bytes >= max_bytes) ||
            scanned >= MAX_SCAN)
            break;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (cur)
        mdb_cursor_close(cur);
    read_end(s, txn);
    if (rc)
        return mdb_fail(err, rc, "fetch");
    *next_seq = next;
    *head = last;
    return BN_OK;
}

bn_status_t bn_store_stats(bn_store_t *s, bn_store_count_fn visit, void *ctx, uint64_t *head,
                           uint64_t *events, uint64_t *used_bytes, uint64_t *map_bytes,
                           bn_error_t *err)
{
    MDB_txn *txn = NULL;
    bn_status_t st = read_begin(s, &txn, err);
    if (st != BN_OK)
        return st;
    MDB_stat ms;
    MDB_envinfo info;
    MDB_cursor *cur = NULL;
    int rc = mdb_stat(txn, s->events, &ms);
    if (!rc)
        *events = ms.ms_entries;
    if (!rc)
        rc = mdb_env_info(s->env, &info);
    if (!rc) {
        *used_bytes = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
        *map_bytes = info.me_mapsize;
    }
    MDB_val k, v;
    if (!rc && (rc = mdb_cursor_open(txn, s->events, &cur)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        *head = rc == 0 ? get_be64(k.mv_data) : 0;
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_cursor_close(cur);
        cur = NULL;
    }
    if (!rc && (rc = mdb_cursor_open(txn, s->counts, &cur)) == 0) {
        for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
            uint64_t n = 0;
            if (v.mv_size == sizeof n)
                memcpy(&n, v.mv_data, sizeof n);
            visit(ctx, k.mv_data, k.mv_size, n);
        }
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_cursor_close(cur);
    }
    read_end(s, txn);
    return rc ? mdb_fail(err, rc, "stats") : BN_OK;
}

/* ---- rejected payloads --------------------------------------------------------- */

bn_status_t bn_store_rejected_next_id(bn_store_txn_t *t, uint64_t *id, bn_error_t *err)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(t->txn, t->store->rejected, &cur);
    MDB_val k, v;
    *id = 1;
    if (!rc) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8)
            *id = get_be64(k.mv_data) + 1;
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_cursor_close(cur);
    }
    return rc ? mdb_fail(err, rc, "rejected id") : BN_OK;
}

bn_status_t bn_store_rejected_put(bn_store_txn_t *t, uint64_t id, const uint8_t *rec, size_t len,
                                  uint64_t keep_max, bn_error_t *err)
{
    uint8_t kb[8];
    put_be64(kb, id);
    MDB_val k = {8, kb}, v = {len, (void *)rec};
    int rc = mdb_put(t->txn, t->store->rejected, &k, &v, MDB_APPEND);
    if (rc)
        return mdb_fail(err, rc, "keep rejected payload");
    MDB_stat ms;
    if ((rc = mdb_stat(t->txn, t->store->rejected, &ms)) != 0)
        return mdb_fail(err, rc, "rejected stat");
    MDB_cursor *cur = NULL;
    if (ms.ms_entries <= keep_max || (rc = mdb_cursor_open(t->txn, t->store->rejected, &cur)))
        return rc ? mdb_fail(err, rc, "rejected trim") : BN_OK;
    for (size_t extra = ms.ms_entries - keep_max; extra > 0 && !rc; extra--) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (!rc)
            rc = mdb_cursor_del(cur, 0);
    }
    mdb_cursor_close(cur);
    return rc ? mdb_fail(err, rc, "rejected trim") : BN_OK;
}

bn_status_t bn_store_rejected_get(bn_store_txn_t *t, uint64_t id, const uint8_t **rec,
                                  size_t *len, bn_error_t *err)
{
    uint8_t kb[8];
    put_be64(kb, id);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(t->txn, t->store->rejected, &k, &v);
    if (rc == MDB_NOTFOUND)
        return BN_NOT_FOUND;
    if (rc)
        return mdb_fail(err, rc, "rejected get");
    *rec = v.mv_data;
    *len = v.mv_size;
    return BN_OK;
}

bn_status_t bn_store_rejected_del(bn_store_txn_t *t, uint64_t id, bn_error_t *err)
{
    uint8_t kb[8];
    put_be64(kb, id);
    MDB_val k = {8, kb};
    int rc = mdb_del(t->txn, t->store->rejected, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return BN_NOT_FOUND;
    return rc ? mdb_fail(err, rc, "rejected delete") : BN_OK;
}

bn_status_t bn_store_rejected_scan(bn_store_t *s, uint64_t from_id, bn_store_visit_fn visit,
                                   void *ctx, uint64_t *total, bn_error_t *err)
{
    MDB_txn *txn = NULL;
    bn_status_t st = read_begin(s, &txn, err);
    if (st != BN_OK)
        return st;
    MDB_stat ms;
    MDB_cursor *cur = NULL;
    int rc = mdb_stat(txn, s->rejected, &ms);
    if (!rc) {
        *total = ms.ms_entries;
        rc = mdb_cursor_open(txn, s->rejected, &cur);
    }
    uint8_t kb[8];
    put_be64(kb, from_id);
    MDB_val k = {8, kb}, v;
    for (int op = MDB_SET_RANGE; !rc && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT)
        if (!visit(ctx, get_be64(k.mv_data), "", 0, v.mv_data, v.mv_size))
            break;
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (cur)
        mdb_cursor_close(cur);
    read_end(s, txn);
    return rc ? mdb_fail(err, rc, "rejected scan") : BN_OK;
}

/* ---- generic key-value databases ---------------------------------------- */

void bn_store_put_be64(uint8_t *p, uint64_t v)
{
    put_be64(p, v);
}

uint64_t bn_store_get_be64(const uint8_t *p)
{
    return get_be64(p);
}

void bn_store_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t bn_store_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bn_status_t key_check(bn_store_db_t db, size_t klen, bn_error_t *err)
{
    if ((unsigned)db >= BN_DB_COUNT_)
        return bn_error_set(err, BN_USAGE, 0, "store", "no database #%d", (int)db);
    if (klen == 0 || klen > 511)
        return bn_error_set(err, BN_INVALID_EVENT, 0, DB_NAMES[db],
                            "index key of %zu bytes (1..511 allowed)", klen);
    return BN_OK;
}

static bn_status_t get_in(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *key,
                          size_t klen, const uint8_t **val, size_t *vlen, bn_error_t *err)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return BN_NOT_FOUND;
    if (rc)
        return mdb_fail(err, rc, name);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return BN_OK;
}

bn_status_t bn_store_txn_get(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                             const uint8_t **val, size_t *vlen, bn_error_t *err)
{
    bn_status_t st = key_check(db, klen, err);
    if (st != BN_OK)
        return st;
    return get_in(t->txn, t->store->dbs[db], DB_NAMES[db], key, klen, val, vlen, err);
}

bn_status_t bn_store_txn_put(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                             const void *val, size_t vlen, bn_error_t *err)
{
    bn_status_t st = key_check(db, klen, err);
    if (st != BN_OK)
        return st;
    if (db == BN_DB_PEOPLE && vlen > 511)
        vlen = 511; /* a dupsort value is a key to LMDB */
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    if (db == BN_DB_PEOPLE) {
        /* Mostly the person is known: a read-only lookup first, as a put
         * positions a write cursor (copying pages) before it finds the value. */
        MDB_cursor *cur = NULL;
        int rc0 = mdb_cursor_open(t->txn, t->store->dbs[db], &cur);
        if (rc0)
            return mdb_fail(err, rc0, DB_NAMES[db]);
        MDB_val k0 = k, v0 = v;
        rc0 = mdb_cursor_get(cur, &k0, &v0, MDB_GET_BOTH);
        mdb_cursor_close(cur);
        if (rc0 == 0)
            return BN_OK;
        if (rc0 != MDB_NOTFOUND)
            return mdb_fail(err, rc0, DB_NAMES[db]);
    }
    if (db == BN_DB_LOCALIDS) { /* the same again: leave the page clean */
        MDB_val old;
        int rc0 = mdb_get(t->txn, t->store->dbs[db], &k, &old);
        if (rc0 == 0 && old.mv_size == vlen && memcmp(old.mv_data, val, vlen) == 0)
            return BN_OK;
    }
    int rc = mdb_put(t->txn, t->store->dbs[db], &k, &v, db == BN_DB_PEOPLE ? MDB_NODUPDATA : 0);
    if (rc == MDB_KEYEXIST)
        return BN_OK;
    return rc ? mdb_fail(err, rc, DB_NAMES[db]) : BN_OK;
}

struct bn_store_putter {
    MDB_cursor *cur;
    bn_store_db_t db;
};

bn_status_t bn_store_putter_open(bn_store_txn_t *t, bn_store_db_t db, bn_store_putter_t **out,
                                 bn_error_t *err)
{
    *out = NULL;
    if ((unsigned)db >= BN_DB_COUNT_)
        return bn_error_set(err, BN_USAGE, 0, "store", "no database #%d", (int)db);
    bn_store_putter_t *c = calloc(1, sizeof *c);
    if (!c)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    int rc = mdb_cursor_open(t->txn, t->store->dbs[db], &c->cur);
    if (rc) {
        free(c);
        return mdb_fail(err, rc, DB_NAMES[db]);
    }
    c->db = db;
    *out = c;
    return BN_OK;
}

bn_status_t bn_store_putter_put(bn_store_putter_t *c, const void *key, size_t klen,
                                const void *val, size_t vlen, bn_error_t *err)
{
    bn_status_t st = key_check(c->db, klen, err);
    if (st != BN_OK)
        return st;
    bool dups = c->db == BN_DB_PEOPLE;
    if (dups && vlen > 511)
        vlen = 511; /* a dupsort value is a key to LMDB */
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_cursor_put(c->cur, &k, &v, dups ? MDB_NODUPDATA : 0);
    if (rc == MDB_KEYEXIST)
        return BN_OK;
    return rc ? mdb_fail(err, rc, DB_NAMES[c->db]) : BN_OK;
}

void bn_store_putter_close(bn_store_putter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mdb_cursor_close((*self_p)->cur);
    free(*self_p);
    *self_p = NULL;
}

bn_status_t bn_store_txn_put_msg(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                                 const ProtobufCMessage *msg, bn_error_t *err)
{
    bn_status_t st = key_check(db, klen, err);
    if (st != BN_OK)
        return st;
    if (db == BN_DB_PEOPLE)
        return bn_error_set(err, BN_USAGE, 0, DB_NAMES[db], "no reserved puts in a dupsort db");
    MDB_val k = {klen, (void *)key}, v = {protobuf_c_message_get_packed_size(msg), NULL};
    int rc = mdb_put(t->txn, t->store->dbs[db], &k, &v, MDB_RESERVE);
    if (rc)
        return mdb_fail(err, rc, DB_NAMES[db]);
    protobuf_c_message_pack(msg, v.mv_data);
    return BN_OK;
}

bn_status_t bn_store_txn_del(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                             bn_error_t *err)
{
    bn_status_t st = key_check(db, klen, err);
    if (st != BN_OK)
        return st;
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, t->store->dbs[db], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return BN_NOT_FOUND;
    return rc ? mdb_fail(err, rc, DB_NAMES[db]) : BN_OK;
}

static bn_status_t scan_in(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *from,
                           size_t from_len, bn_store_kv_fn visit, void *ctx, bn_error_t *err)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return mdb_fail(err, rc, name);
    MDB_val k = {from_len, (void *)from}, v;
    rc = mdb_cursor_get(cur, &k, &v, from_len ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        bn_store_kv_t kv = {k.mv_data, k.mv_size, v.mv_data, v.mv_size};
        if (!visit(ctx, &kv))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? mdb_fail(err, rc, name) : BN_OK;
}

bn_status_t bn_store_txn_scan(bn_store_txn_t *t, bn_store_db_t db, const void *from,
                              size_t from_len, bn_store_kv_fn visit, void *ctx, bn_error_t *err)
{
    if ((unsigned)db >= BN_DB_COUNT_)
        return key_check(db, 1, err);
    return scan_in(t->txn, t->store->dbs[db], DB_NAMES[db], from, from_len, visit, ctx, err);
}

uint64_t bn_store_txn_entries(bn_store_txn_t *t, bn_store_db_t db)
{
    MDB_stat ms;
    if ((unsigned)db >= BN_DB_COUNT_ || mdb_stat(t->txn, t->store->dbs[db], &ms) != 0)
        return 0;
    return ms.ms_entries;
}

bool bn_store_txn_has_dup(bn_store_txn_t *t, bn_store_db_t db, const void *key, size_t klen,
                          const void *val, size_t vlen)
{
    if (key_check(db, klen, NULL) != BN_OK || vlen > 511)
        return false;
    MDB_cursor *cur = NULL;
    if (mdb_cursor_open(t->txn, t->store->dbs[db], &cur) != 0)
        return false;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
    mdb_cursor_close(cur);
    return rc == 0;
}

bn_status_t bn_store_txn_scan_dup(bn_store_txn_t *t, bn_store_db_t db, const void *key,
                                  size_t klen, bn_store_kv_fn visit, void *ctx, bn_error_t *err)
{
    bn_status_t st = key_check(db, klen, err);
    if (st != BN_OK)
        return st;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(t->txn, t->store->dbs[db], &cur);
    if (rc)
        return mdb_fail(err, rc, DB_NAMES[db]);
    MDB_val k = {klen, (void *)key}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        bn_store_kv_t kv = {k.mv_data, k.mv_size, v.mv_data, v.mv_size};
        if (!visit(ctx, &kv))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? mdb_fail(err, rc, DB_NAMES[db]) : BN_OK;
}

/* The event bytes of a stored value [u16 topic len][topic][event]. */
static bn_status_t split_event(const MDB_val *v, bn_store_kv_t *kv, bn_error_t *err)
{
    const uint8_t *p = v->mv_data;
    size_t tl = v->mv_size >= 2 ? ((size_t)p[0] << 8 | p[1]) : 0;
    if (v->mv_size < 2 + tl)
        return bn_error_set(err, BN_STORE, MDB_CORRUPTED, "store", "corrupt event record");
    kv->key = p + 2;
    kv->key_len = tl;
    kv->val = p + 2 + tl;
    kv->val_len = v->mv_size - 2 - tl;
    return BN_OK;
}

static bn_status_t event_in(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, bn_store_kv_t *kv,
                            bn_error_t *err)
{
    uint8_t kb[8];
    put_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return BN_NOT_FOUND;
    if (rc)
        return mdb_fail(err, rc, "event lookup");
    return split_event(&v, kv, err);
}

bn_status_t bn_store_txn_event(bn_store_txn_t *t, uint64_t seq, const uint8_t **ev, size_t *len,
                               bn_error_t *err)
{
    bn_store_kv_t kv;
    bn_status_t st = event_in(t->txn, t->store->events, seq, &kv, err);
    if (st == BN_OK) {
        *ev = kv.val;
        *len = kv.val_len;
    }
    return st;
}

bn_status_t bn_store_txn_next_id(bn_store_txn_t *t, const char *name, uint64_t *out,
                                 bn_error_t *err)
{
    char key[80];
    int kl = snprintf(key, sizeof key, "next:%s", name);
    const uint8_t *v = NULL;
    size_t vl = 0;
    uint64_t n = 0;
    bn_status_t st = get_in(t->txn, t->store->meta, "meta", key, (size_t)kl, &v, &vl, err);
    if (st == BN_OK && vl == 8)
        n = get_be64(v);
    else if (st != BN_OK && st != BN_NOT_FOUND)
        return st;
    uint8_t nb[8];
    put_be64(nb, ++n);
    MDB_val k = {(size_t)kl, key}, nv = {8, nb};
    int rc = mdb_put(t->txn, t->store->meta, &k, &nv, 0);
    if (rc)
        return mdb_fail(err, rc, "meta counter");
    *out = n;
    return BN_OK;
}

/* A read transaction on db, which must be one of the generic databases. */
static bn_status_t read_db(bn_store_t *s, bn_store_db_t db, MDB_txn **txn, bn_error_t *err)
{
    if ((unsigned)db >= BN_DB_COUNT_)
        return key_check(db, 1, err);
    return read_begin(s, txn, err);
}

bn_status_t bn_store_scan(bn_store_t *s, bn_store_db_t db, const void *from, size_t from_len,
                          bn_store_kv_fn visit, void *ctx, bn_error_t *err)
{
    MDB_txn *txn = NULL;
    bn_status_t st = read_db(s, db, &txn, err);
    if (st != BN_OK)
        return st;
    st = scan_in(txn, s->dbs[db], DB_NAMES[db], from, from_len, visit, ctx, err);
    read_end(s, txn);
    return st;
}

bn_status_t bn_store_last(bn_store_t *s, bn_store_db_t db, bn_store_kv_fn visit, void *ctx,
                          bn_error_t *err)
{
    MDB_txn *txn = NULL;
    bn_status_t st = read_db(s, db, &txn, err);
    if (st != BN_OK)
        return st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->dbs[db], &cur);
    if (!rc)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0) {
        bn_store_kv_t kv = {k.mv_data, k.mv_size, v.mv_data, v.mv_size};
        visit(ctx, &kv);
    }
    st = rc == MDB_NOTFOUND ? BN_NOT_FOUND : rc ? mdb_fail(err, rc, DB_NAMES[db]) : BN_OK;
    if (cur)
        mdb_cursor_close(cur);
    read_end(s, txn);
    return st;
}

bn_status_t bn_store_get(bn_store_t *s, bn_store_db_t db, const void *key, size_t klen,
                         bn_store_kv_fn visit, void *ctx, bn_error_t *err)
{
    bn_status_t st = key_check(db, klen, err);
    if (st != BN_OK)
        return st;
    MDB_txn *txn = NULL;
    if ((st = read_begin(s, &txn, err)) != BN_OK)
        return st;
    const uint8_t *v = NULL;
    size_t vl = 0;
    st = get_in(txn, s->dbs[db], DB_NAMES[db], key, klen, &v, &vl, err);
    if (st == BN_OK) {
        bn_store_kv_t kv = {key, klen, v, vl};
        visit(ctx, &kv);
    }
    read_end(s, txn);
    return st;
}

bn_status_t bn_store_event(bn_store_t *s, uint64_t seq, bn_store_kv_fn visit, void *ctx,
                           bn_error_t *err)
{
    MDB_txn *txn = NULL;
    bn_status_t st = read_begin(s, &txn, err);
    if (st != BN_OK)
        return st;
    bn_store_kv_t kv;
    st = event_in(txn, s->events, seq, &kv, err);
    if (st == BN_OK)
        visit(ctx, &kv);
    read_end(s, txn);
    return st;
}

bn_status_t bn_store_update(bn_store_t *s, bn_store_update_fn fn, void *ctx, bn_error_t *err)
{
    /* Held shared like a reader's, so the writer cannot resize the map
     * (bn_store_grow) while this transaction is open. */
    pthread_rwlock_rdlock(&s->grow_lock);
    bn_store_txn_t *t = NULL;
    bn_status_t st = bn_store_begin(s, &t, err);
    if (st == BN_OK && (st = fn(ctx, t, err)) == BN_OK) {
        t->head = 0; /* appends nothing: leaves the head alone */
        st = bn_store_commit(&t, err);
        pthread_rwlock_unlock(&s->grow_lock);
        return st;
    }
    bn_store_abort(&t);
    pthread_rwlock_unlock(&s->grow_lock);
    /* Never grow the map from here: the writer may hold its transaction, and
     * LMDB resizes only with none open. The writer grows it on its next batch. */
    if (st == BN_STORE_FULL)
        return bn_error_set(err, BN_UNAVAILABLE, 0, "store", "store full; retry in a moment");
    return st;
}
