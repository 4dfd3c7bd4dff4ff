/* bench_floor.c: benang-bench's floor reference, a peer broker measured in
 * the same run.
 *
 * The raw LMDB reference says what the disk and LMDB allow; it does not say
 * what a hub speaking this wire protocol can do on the same machine with the
 * same load generator beside it. The floor answers that: the least any hub
 * of this protocol does per event, built from the same parts as benang-hub
 * and shaped like it.
 *
 *   ingest thread: a ROUTER socket on a loopback port; each message is one
 *     PublishRequest (decoded with protobuf-c, as a hub must, to read its
 *     request id and payload); requests gather into a batch while the writer
 *     is busy, and go to it the moment it is free;
 *   writer thread: one LMDB write transaction per batch, each payload
 *     appended at the next seq (topic + payload, like the raw reference),
 *     one commit: fsync before the batch goes back (MDB_NOSYNC in buffered
 *     mode, with no periodic sync at all);
 *   ingest thread again: a PublishReply per request (status OK, one EventAck
 *     with the seq), packed with protobuf-c and sent.
 *
 * With --batch the payload is a canonical-batch EventBatch: the writer walks
 * its entries (field 1: tag, length, bytes) without decoding the events,
 * appends each at its own seq, and the reply acks each.
 *
 * What it leaves out is everything that makes benang a hub: no adapter, no
 * validation, no idempotency, no pseudonym, no linkage, no rules, no feed,
 * no counters. Its rate is an upper bound for any hub speaking this protocol
 * on this machine with this load generator, and `ratio_to_floor` says how
 * much of that benang keeps. It runs in the bench's process with a ZeroMQ
 * context (and I/O thread) of its own, so it competes for the cores exactly
 * as the hub does.
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "benang/v1/protocol.pb-c.h"
#include "bench.h"

#define FLOOR_DRAIN 4096 /* messages taken from the socket per wake-up, at most */

typedef struct {
    zmq_msg_t id;     /* the DEALER's routing id */
    bool delim;       /* a REQ's empty delimiter frame, echoed back */
    uint64_t request; /* its request_id */
    uint8_t *payload; /* owned */
    size_t len;
    uint64_t seq; /* set by the writer: the first event's */
    uint32_t n;   /* ... and how many it stored */
} floor_req_t;

typedef struct {
    floor_req_t *reqs;
    size_t len, cap;
} floor_batch_t;

struct bn_bench_floor {
    void *zctx, *router, *pipe_in, *pipe_wr;
    MDB_env *env;
    MDB_dbi dbi;
    char topic[160];
    size_t topic_len;
    char endpoint[64];
    pthread_t ingest, writer;
    bool ingest_up, writer_up;
    atomic_bool stop;
    int lmdb_rc;    /* the writer's first LMDB error */
    char where[64]; /* and what it was doing */
    uint64_t seq, commits;
    floor_batch_t batch[2];
    bool batched; /* payloads are EventBatches (--batch) */
};

/* The next event of an EventBatch payload at *off: its bytes and length.
 * 1: one found, 0: the end, -1: not an EventBatch. */
static int next_entry(const uint8_t *p, size_t len, size_t *off, const uint8_t **ev, size_t *evlen)
{
    if (*off == len)
        return 0;
    if (p[*off] != 0x0a)
        return -1;
    size_t i = *off + 1;
    uint64_t v = 0;
    for (int shift = 0; i < len && shift < 64; shift += 7) {
        v |= (uint64_t)(p[i] & 0x7f) << shift;
        if (!(p[i++] & 0x80)) {
            if (v > len - i)
                return -1;
            *ev = p + i;
            *evlen = (size_t)v;
            *off = i + (size_t)v;
            return 1;
        }
    }
    return -1;
}

static void batch_clear(floor_batch_t *b)
{
    for (size_t i = 0; i < b->len; i++) {
        zmq_msg_close(&b->reqs[i].id);
        free(b->reqs[i].payload);
    }
    b->len = 0;
}

/* One message off the ROUTER: [id][""]?[PublishRequest]. Returns 1 when a
 * request joined b, 0 when the message was dropped, -1 when none was ready. */
static int take_one(bn_bench_floor_t *f, floor_batch_t *b)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        floor_req_t *reqs = realloc(b->reqs, cap * sizeof *reqs);
        if (!reqs)
            return -1;
        b->reqs = reqs;
        b->cap = cap;
    }
    floor_req_t *r = &b->reqs[b->len];
    zmq_msg_init(&r->id);
    if (zmq_msg_recv(&r->id, f->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&r->id);
        return -1;
    }
    zmq_msg_t body;
    zmq_msg_init(&body);
    r->delim = false;
    int frames = 1;
    while (zmq_msg_more(frames == 1 ? &r->id : &body)) {
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, f->router, 0) < 0)
            break;
        frames++;
        if (frames == 2 && zmq_msg_size(&body) == 0 && zmq_msg_more(&body))
            r->delim = true;
    }
    Benang__V1__PublishRequest *req =
        frames >= 2
            ? benang__v1__publish_request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body))
            : NULL;
    zmq_msg_close(&body);
    if (!req) { /* the bench sends none: dropped, the client would time out */
        zmq_msg_close(&r->id);
        return 0;
    }
    r->request = req->request_id;
    r->len = req->payload.len;
    r->payload = malloc(r->len ? r->len : 1);
    if (r->payload)
        memcpy(r->payload, req->payload.data, r->len);
    benang__v1__publish_request__free_unpacked(req, NULL);
    if (!r->payload) {
        zmq_msg_close(&r->id);
        return 0;
    }
    r->seq = 0;
    b->len++;
    return 1;
}

static void reply_all(bn_bench_floor_t *f, floor_batch_t *b)
{
    static _Thread_local Benang__V1__EventAck ack[BN_BENCH_BATCH_MAX];
    static _Thread_local Benang__V1__EventAck *acks[BN_BENCH_BATCH_MAX];
    static _Thread_local uint8_t buf[64 + 16 * BN_BENCH_BATCH_MAX];
    for (size_t i = 0; i < b->len; i++) {
        floor_req_t *r = &b->reqs[i];
        Benang__V1__PublishReply rep = BENANG__V1__PUBLISH_REPLY__INIT;
        rep.request_id = r->request;
        if (r->seq && r->n <= BN_BENCH_BATCH_MAX) {
            for (uint32_t j = 0; j < r->n; j++) {
                benang__v1__event_ack__init(&ack[j]);
                ack[j].seq = r->seq + j;
                acks[j] = &ack[j];
            }
            rep.status = BENANG__V1__STATUS__STATUS_OK;
            rep.events = acks;
            rep.n_events = r->n;
        } else {
            rep.status = BENANG__V1__STATUS__STATUS_INTERNAL;
            rep.error = "the floor's LMDB write failed, or the payload was no EventBatch";
        }
        size_t n = benang__v1__publish_reply__pack(&rep, buf);
        if (zmq_msg_send(&r->id, f->router, ZMQ_SNDMORE) < 0)
            continue; /* the peer is gone; batch_clear closes the id */
        if (r->delim)
            zmq_send(f->router, "", 0, ZMQ_SNDMORE);
        zmq_send(f->router, buf, n, 0);
    }
    batch_clear(b);
}

static void *writer_thread(void *arg)
{
    bn_bench_floor_t *f = arg;
    uint8_t *val = NULL;
    size_t val_cap = 0;
    for (;;) {
        floor_batch_t *b = NULL;
        if (zmq_recv(f->pipe_wr, &b, sizeof b, 0) != (int)sizeof b) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (!b)
            break;
        MDB_txn *txn = NULL;
        int rc = f->lmdb_rc ? f->lmdb_rc : mdb_txn_begin(f->env, NULL, 0, &txn);
        uint64_t seq = f->seq;
        for (size_t i = 0; !rc && i < b->len; i++) {
            floor_req_t *r = &b->reqs[i];
            const uint8_t *ev = r->payload;
            size_t evlen = r->len, off = 0;
            r->seq = 0;
            r->n = 0;
            for (;;) {
                if (f->batched) {
                    int got = next_entry(r->payload, r->len, &off, &ev, &evlen);
                    if (got <= 0) {
                        if (got < 0)
                            r->n = 0; /* no EventBatch: refused; what went in before stays
                                       * stored, and the bench fails the run on stored != acked */
                        break;
                    }
                } else if (r->n == 1) {
                    break;
                }
                size_t vlen = 2 + f->topic_len + evlen;
                if (vlen > val_cap) {
                    uint8_t *nv = realloc(val, vlen);
                    if (!nv) {
                        rc = ENOMEM;
                        break;
                    }
                    val = nv;
                    val_cap = vlen;
                }
                val[0] = (uint8_t)(f->topic_len >> 8);
                val[1] = (uint8_t)f->topic_len;
                memcpy(val + 2, f->topic, f->topic_len);
                memcpy(val + 2 + f->topic_len, ev, evlen);
                uint8_t kb[8];
                for (int k = 0; k < 8; k++)
                    kb[k] = (uint8_t)((seq + 1) >> (56 - 8 * k));
                MDB_val k = {8, kb}, v = {vlen, val};
                if ((rc = mdb_put(txn, f->dbi, &k, &v, MDB_APPEND)) != 0)
                    break;
                if (r->n++ == 0)
                    r->seq = seq + 1;
                seq++;
            }
            if (!r->n)
                r->seq = 0;
        }
        if (!rc) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
        if (txn)
            mdb_txn_abort(txn);
        if (rc) {
            for (size_t i = 0; i < b->len; i++)
                b->reqs[i].seq = 0; /* nothing of it is stored */
            if (!f->lmdb_rc) {
                f->lmdb_rc = rc;
                snprintf(f->where, sizeof f->where, "batch of %zu at seq %" PRIu64, b->len,
                         f->seq + 1);
            }
        } else {
            f->seq = seq;
            f->commits++;
        }
        while (zmq_send(f->pipe_wr, &b, sizeof b, 0) < 0 && zmq_errno() == EINTR) {
        }
    }
    free(val);
    return NULL;
}

static void *ingest_thread(void *arg)
{
    bn_bench_floor_t *f = arg;
    floor_batch_t *fill = &f->batch[0], *spare = &f->batch[1];
    bool busy = false;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t it[2] = {{f->pipe_in, 0, ZMQ_POLLIN, 0}, {f->router, 0, ZMQ_POLLIN, 0}};
        /* While the writer commits, what arrives can only join the next
         * batch: wait for its hand-back (or 1 ms), like the hub. */
        int rc = zmq_poll(it, busy ? 1 : 2, busy ? 1 : 100);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        if (busy && (it[0].revents & ZMQ_POLLIN)) {
            floor_batch_t *done = NULL;
            if (zmq_recv(f->pipe_in, &done, sizeof done, 0) == (int)sizeof done && done) {
                busy = false;
                floor_batch_t *next = done == fill ? spare : fill;
                /* the next batch to the writer first, then the acks */
                for (int k = 0; k < FLOOR_DRAIN && take_one(f, next) >= 0; k++) {
                }
                if (next->len) {
                    zmq_send(f->pipe_in, &next, sizeof next, 0);
                    busy = true;
                }
                reply_all(f, done);
                fill = done;
                spare = next;
            }
        }
        if (!busy) {
            for (int k = 0; k < FLOOR_DRAIN && take_one(f, fill) >= 0; k++) {
            }
            if (fill->len) {
                floor_batch_t *b = fill;
                zmq_send(f->pipe_in, &b, sizeof b, 0);
                busy = true;
                floor_batch_t *t = fill;
                fill = spare;
                spare = t;
            }
        } else {
            /* keep the ROUTER's queue short while the writer works */
            for (int k = 0; k < FLOOR_DRAIN && take_one(f, fill) >= 0; k++) {
            }
        }
    }
    if (busy) { /* wait for the batch in the writer and answer it */
        floor_batch_t *done = NULL;
        if (zmq_recv(f->pipe_in, &done, sizeof done, 0) == (int)sizeof done && done)
            reply_all(f, done);
    }
    floor_batch_t *none = NULL;
    zmq_send(f->pipe_in, &none, sizeof none, 0);
    return NULL;
}

int bn_bench__floor_start(const bn_bench_opts_t *o, const char *dir, bool nosync, uint64_t n,
                          bn_bench_floor_t **out)
{
    bn_bench_floor_t *f = calloc(1, sizeof *f);
    *out = f;
    if (!f) {
        fprintf(stderr, "bench: floor: out of memory\n");
        return -1;
    }
    f->batched = o->batch > 1;
    int tl = snprintf(f->topic, sizeof f->topic, "immunisation.health.%s", o->agency);
    f->topic_len = tl > 0 && (size_t)tl < sizeof f->topic ? (size_t)tl : 0;
    size_t map =
        (size_t)((n + 1000) * ((size_t)o->size + 2 + f->topic_len + 128) * 2 + (64u << 20));
    int rc = mdb_env_create(&f->env);
    if (!rc)
        rc = mdb_env_set_mapsize(f->env, map);
    if (!rc && mkdir(dir, 0700) != 0 && errno != EEXIST)
        rc = errno;
    if (!rc)
        rc = mdb_env_open(f->env, dir, nosync ? MDB_NOSYNC : 0, 0600);
    MDB_txn *txn = NULL;
    if (!rc && !(rc = mdb_txn_begin(f->env, NULL, 0, &txn))) {
        rc = mdb_dbi_open(txn, NULL, 0, &f->dbi);
        rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    }
    if (rc) {
        fprintf(stderr, "bench: floor: LMDB in %s: %s\n", dir, mdb_strerror(rc));
        return -1;
    }
    f->zctx = zmq_ctx_new();
    f->router = f->zctx ? zmq_socket(f->zctx, ZMQ_ROUTER) : NULL;
    f->pipe_in = f->zctx ? zmq_socket(f->zctx, ZMQ_PAIR) : NULL;
    f->pipe_wr = f->zctx ? zmq_socket(f->zctx, ZMQ_PAIR) : NULL;
    int zero = 0, hwm = 200000; /* the hub's: a ROUTER drops what passes its high-water mark */
    size_t elen = sizeof f->endpoint;
    if (!f->router || !f->pipe_in || !f->pipe_wr ||
        zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(f->router, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(f->router, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_bind(f->router, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &elen) != 0 ||
        zmq_bind(f->pipe_in, "inproc://floor") != 0 ||
        zmq_connect(f->pipe_wr, "inproc://floor") != 0) {
        fprintf(stderr, "bench: floor: ZeroMQ: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    f->writer_up = pthread_create(&f->writer, NULL, writer_thread, f) == 0;
    f->ingest_up = f->writer_up && pthread_create(&f->ingest, NULL, ingest_thread, f) == 0;
    if (!f->ingest_up) {
        fprintf(stderr, "bench: floor: cannot start its threads\n");
        return -1;
    }
    return 0;
}

const char *bn_bench__floor_endpoint(const bn_bench_floor_t *f)
{
    return f->endpoint;
}

int bn_bench__floor_stop(bn_bench_floor_t **fp, uint64_t *commits, uint64_t *stored)
{
    bn_bench_floor_t *f = *fp;
    *fp = NULL;
    if (!f)
        return -1;
    int rc = 0;
    atomic_store(&f->stop, true);
    if (f->ingest_up)
        pthread_join(f->ingest, NULL); /* it ends the writer */
    else if (f->writer_up) {
        floor_batch_t *none = NULL;
        zmq_send(f->pipe_in, &none, sizeof none, 0);
    }
    if (f->writer_up)
        pthread_join(f->writer, NULL);
    if (f->lmdb_rc) {
        fprintf(stderr, "bench: floor: LMDB: %s (%s)\n", mdb_strerror(f->lmdb_rc), f->where);
        rc = -1;
    }
    if (commits)
        *commits = f->commits;
    if (stored)
        *stored = f->seq;
    for (int i = 0; i < 2; i++) {
        batch_clear(&f->batch[i]);
        free(f->batch[i].reqs);
    }
    if (f->router)
        zmq_close(f->router);
    if (f->pipe_in)
        zmq_close(f->pipe_in);
    if (f->pipe_wr)
        zmq_close(f->pipe_wr);
    if (f->zctx)
        zmq_ctx_term(f->zctx);
    if (f->env)
        mdb_env_close(f->env);
    free(f);
    return rc;
}
