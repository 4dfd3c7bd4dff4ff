/* query.c: the query thread (see query.h).
 *
 * The coordinator views (overlaps, referrals, program map, matches, match
 * decisions, explain) are answered by views.c; this file only sends them.
 *
 * A FetchReply is written by hand around the stored bytes: field 1 (events)
 * of FetchReply is length-delimited, so each stored Event is copied as
 * [tag 0x0a][varint length][bytes] and the reply is valid protobuf without
 * a decode/encode round trip; that is what makes replay fast.
 */
#include "query.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "benang/v1/protocol.pb-c.h"
#include "log.h"
#include "pipeline.h"
#include "views.h"

#define DEFAULT_FETCH 1000
#define MAX_FETCH 10000
#define MAX_REPLY_BYTES (8u << 20)
#define MAX_PREFIXES 32

struct bn_query_service {
    void *sock;
    bn_store_t *store;
    const bn_config_t *cfg;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    time_t started_at;
};

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} buf_t;

static void buf_reserve(buf_t *b, size_t more)
{
    if (b->failed || b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *n = realloc(b->data, cap);
    if (!n) {
        b->failed = true;
        return;
    }
    b->data = n;
    b->cap = cap;
}

static void buf_varint(buf_t *b, uint64_t v)
{
    buf_reserve(b, 10);
    if (b->failed)
        return;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        b->data[b->len++] = c | (v ? 0x80 : 0);
    } while (v);
}

static void buf_bytes(buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static bool visit_event(void *ctx, uint64_t seq, const char *topic, size_t tl, const uint8_t *ev,
                        size_t len)
{
    (void)seq, (void)topic, (void)tl;
    buf_t *b = ctx;
    buf_varint(b, (1 << 3) | 2);
    buf_varint(b, len);
    buf_bytes(b, ev, len);
    return !b->failed;
}

static bool visit_none(void *ctx, uint64_t seq, const char *topic, size_t tl, const uint8_t *ev,
                       size_t len)
{
    (void)ctx, (void)seq, (void)topic, (void)tl, (void)ev, (void)len;
    return false;
}

static void send_reply(void *sock, zmq_msg_t *frames, int n_env, const void *data, size_t len)
{
    for (int i = 0; i < n_env; i++)
        zmq_msg_send(&frames[i], sock, ZMQ_SNDMORE);
    zmq_send(sock, data, len, 0);
}

/* Pack rep and send it behind the routing envelope. Out of memory: no reply
 * (the client times out and retries). */
static void send_query_reply(bn_query_service_t *q, zmq_msg_t *env, int n_env,
                             const Benang__V1__QueryReply *rep)
{
    size_t len = benang__v1__query_reply__get_packed_size(rep);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    benang__v1__query_reply__pack(rep, buf);
    send_reply(q->sock, env, n_env, buf, len);
    free(buf);
}

static void send_simple(bn_query_service_t *q, zmq_msg_t *env, int n_env, uint64_t rid,
                        bn_status_t st, const char *where, const char *msg)
{
    Benang__V1__QueryReply rep = BENANG__V1__QUERY_REPLY__INIT;
    rep.request_id = rid;
    rep.status = bn_status_to_wire(st);
    rep.error = (char *)msg;
    rep.error_path = (char *)where;
    send_query_reply(q, env, n_env, &rep);
}

/* Room kept in front of the events for the QueryReply/FetchReply header:
 * request_id, status and the fetch field's tag and length, all varints. */
#define HEADER_ROOM 32

static void free_buf(void *data, void *hint)
{
    (void)data;
    free(hint);
}

/* The reply is assembled in one buffer: the events are copied once from LMDB
 * after HEADER_ROOM bytes, head/next appended, then the header written just
 * in front of them, and the buffer handed to ZeroMQ without another copy. */
static void do_fetch(bn_query_service_t *q, zmq_msg_t *env, int n_env, uint64_t rid,
                     const Benang__V1__FetchRequest *f)
{
    if (f->n_topic_prefixes > MAX_PREFIXES) {
        send_simple(q, env, n_env, rid, BN_BAD_REQUEST, "fetch.topic_prefixes",
                    "at most 32 topic prefixes per fetch");
        return;
    }
    uint32_t max = f->max_events ? f->max_events : DEFAULT_FETCH;
    if (max > MAX_FETCH)
        max = MAX_FETCH;
    buf_t b = {0};
    buf_reserve(&b, HEADER_ROOM + 64 * 1024);
    b.len = HEADER_ROOM;
    uint64_t next = 0, head = 0;
    bn_error_t err;
    bn_status_t st = bn_store_fetch(q->store, f->from_seq, f->to_seq, max, MAX_REPLY_BYTES,
                                    (const char *const *)f->topic_prefixes,
                                    f->n_topic_prefixes, visit_event, &b, &next, &head, &err);
    buf_varint(&b, (2 << 3) | 0);
    buf_varint(&b, head);
    buf_varint(&b, (3 << 3) | 0);
    buf_varint(&b, next);
    if (st != BN_OK || b.failed) {
        free(b.data);
        send_simple(q, env, n_env, rid, st == BN_OK ? BN_INTERNAL : st, "store",
                    st == BN_OK ? "out of memory" : err.msg);
        return;
    }
    size_t body = b.len - HEADER_ROOM;
    uint8_t hdr[HEADER_ROOM];
    buf_t h = {hdr, 0, sizeof hdr, false};
    buf_varint(&h, (1 << 3) | 0);
    buf_varint(&h, rid);
    buf_varint(&h, (2 << 3) | 0);
    buf_varint(&h, (uint64_t)bn_status_to_wire(BN_OK));
    buf_varint(&h, (5 << 3) | 2);
    buf_varint(&h, body);
    size_t start = HEADER_ROOM - h.len; /* h.len <= 24 < HEADER_ROOM */
    memcpy(b.data + start, hdr, h.len);
    zmq_msg_t m;
    /* ZeroMQ owns the buffer from here; free_buf gets the allocation as hint. */
    if (zmq_msg_init_data(&m, b.data + start, b.len - start, free_buf, b.data) != 0) {
        free(b.data);
        return;
    }
    for (int i = 0; i < n_env; i++)
        zmq_msg_send(&env[i], q->sock, ZMQ_SNDMORE);
    if (zmq_msg_send(&m, q->sock, 0) < 0)
        zmq_msg_close(&m);
}

typedef struct {
    Benang__V1__Count **items;
    size_t n_type, n_agency, cap;
    Benang__V1__Count *by_type[64], *by_agency[256];
    Benang__V1__Count pool[320];
    size_t used;
} counts_t;

static void visit_count(void *ctx, const char *key, size_t kl, uint64_t n)
{
    counts_t *c = ctx;
    if (c->used >= sizeof c->pool / sizeof c->pool[0])
        return;
    bool is_type = kl > 5 && memcmp(key, "type:", 5) == 0;
    bool is_agency = kl > 7 && memcmp(key, "agency:", 7) == 0;
    if ((is_type && c->n_type >= 64) || (is_agency && c->n_agency >= 256) || (!is_type && !is_agency))
        return;
    size_t skip = is_type ? 5 : 7;
    char *name = strndup(key + skip, kl - skip);
    if (!name)
        return;
    Benang__V1__Count *cnt = &c->pool[c->used++];
    benang__v1__count__init(cnt);
    cnt->key = name;
    cnt->count = n;
    if (is_type)
        c->by_type[c->n_type++] = cnt;
    else
        c->by_agency[c->n_agency++] = cnt;
}

static void do_status(bn_query_service_t *q, zmq_msg_t *env, int n_env, uint64_t rid)
{
    counts_t *c = calloc(1, sizeof *c);
    if (!c) {
        send_simple(q, env, n_env, rid, BN_INTERNAL, "status", "out of memory");
        return;
    }
    Benang__V1__StatusReply sr = BENANG__V1__STATUS_REPLY__INIT;
    bn_error_t err;
    bn_status_t st = bn_store_stats(q->store, visit_count, c, &sr.head_seq, &sr.events,
                                    &sr.store_bytes, &sr.map_bytes, &err);
    if (st != BN_OK) {
        send_simple(q, env, n_env, rid, st, "store", err.msg);
    } else {
        sr.by_type = c->by_type;
        sr.n_by_type = c->n_type;
        sr.by_agency = c->by_agency;
        sr.n_by_agency = c->n_agency;
        sr.durability = q->cfg->durability == BN_DURABILITY_SYNC ? "sync" : "buffered";
        sr.hub_id = q->cfg->hub_id;
        sr.uptime_s = (uint64_t)(time(NULL) - q->started_at);
        sr.version = BN_VERSION;
        bn_store_commit_stats(q->store, &sr.commits, &sr.committed_events);
        /* from UINT64_MAX: nothing to visit, only the count of kept records */
        bn_store_rejected_scan(q->store, UINT64_MAX, visit_none, NULL, &sr.rejected, &err);
        Benang__V1__QueryReply rep = BENANG__V1__QUERY_REPLY__INIT;
        rep.request_id = rid;
        rep.status = bn_status_to_wire(BN_OK);
        rep.result_case = BENANG__V1__QUERY_REPLY__RESULT_STATUS_REPLY;
        rep.status_reply = &sr;
        send_query_reply(q, env, n_env, &rep);
    }
    for (size_t i = 0; i < c->used; i++)
        free(c->pool[i].key);
    free(c);
}

typedef struct {
    const Benang__V1__RejectedRequest *req;
    Benang__V1__Rejected **items;
    size_t n, cap, matching;
    bool failed;
} rejected_scan_t;

static bool visit_rejected(void *ctx, uint64_t id, const char *topic, size_t tl,
                           const uint8_t *rec, size_t len)
{
    (void)topic, (void)tl;
    rejected_scan_t *s = ctx;
    const Benang__V1__RejectedRequest *rq = s->req;
    if (rq->id && id != rq->id)
        return id < rq->id;
    Benang__V1__Rejected *r = benang__v1__rejected__unpack(NULL, len, rec);
    if (!r)
        return true; /* unreadable record: skip it rather than fail the listing */
    if (*rq->agency && strcmp(r->agency, rq->agency) != 0) {
        benang__v1__rejected__free_unpacked(r, NULL);
        return true;
    }
    s->matching++;
    uint32_t max = rq->id ? 1 : rq->max ? (rq->max > 1000 ? 1000 : rq->max) : 100;
    if (s->n >= max || s->n == s->cap) {
        benang__v1__rejected__free_unpacked(r, NULL);
        return true; /* keep counting */
    }
    if (!rq->include_payload) {
        free(r->payload.data);
        r->payload.data = NULL;
        r->payload.len = 0;
    }
    s->items[s->n++] = r;
    return true;
}

static void do_rejected(bn_query_service_t *q, zmq_msg_t *env, int n_env, uint64_t rid,
                        const Benang__V1__RejectedRequest *rq)
{
    rejected_scan_t s = {.req = rq, .cap = 1000};
    s.items = calloc(s.cap, sizeof *s.items);
    uint64_t total = 0;
    bn_error_t err;
    bn_status_t st = s.items ? bn_store_rejected_scan(q->store, rq->id ? rq->id : rq->from_id,
                                                      visit_rejected, &s, &total, &err)
                             : BN_NOMEM;
    if (st != BN_OK) {
        send_simple(q, env, n_env, rid, st == BN_NOMEM ? BN_INTERNAL : st, "store",
                    st == BN_NOMEM ? "out of memory" : err.msg);
    } else if (rq->id && s.n == 0) {
        send_simple(q, env, n_env, rid, BN_BAD_REQUEST, "rejected.id",
                    "no rejected payload with that id is kept");
    } else {
        Benang__V1__RejectedReply rr = BENANG__V1__REJECTED_REPLY__INIT;
        rr.items = s.items;
        rr.n_items = s.n;
        rr.total = *rq->agency ? s.matching : total;
        Benang__V1__QueryReply rep = BENANG__V1__QUERY_REPLY__INIT;
        rep.request_id = rid;
        rep.status = bn_status_to_wire(BN_OK);
        rep.result_case = BENANG__V1__QUERY_REPLY__RESULT_REJECTED;
        rep.rejected = &rr;
        send_query_reply(q, env, n_env, &rep);
    }
    for (size_t i = 0; i < s.n; i++)
        benang__v1__rejected__free_unpacked(s.items[i], NULL);
    free(s.items);
}

static bool is_view(Benang__V1__QueryRequest__QueryCase c)
{
    switch (c) {
    case BENANG__V1__QUERY_REQUEST__QUERY_OVERLAPS:
    case BENANG__V1__QUERY_REQUEST__QUERY_REFERRALS:
    case BENANG__V1__QUERY_REQUEST__QUERY_PROGRAM_MAP:
    case BENANG__V1__QUERY_REQUEST__QUERY_MATCHES:
    case BENANG__V1__QUERY_REQUEST__QUERY_MATCH_DECISION:
    case BENANG__V1__QUERY_REQUEST__QUERY_EXPLAIN:
        return true;
    default:
        return false;
    }
}

/* A coordinator view (views.h). Its NOT_FOUND (an unknown seq, match id or
 * referral id) has no wire status of its own: it is sent as BAD_REQUEST, a
 * final answer, with error_path naming the field as for every refusal. */
static void do_view(bn_query_service_t *q, zmq_msg_t *env, int n_env,
                    const Benang__V1__QueryRequest *req)
{
    Benang__V1__QueryReply rep = BENANG__V1__QUERY_REPLY__INIT;
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st = bn_views_answer(q->store, q->cfg, req, &rep, &err);
    if (st == BN_OK) {
        rep.request_id = req->request_id;
        rep.status = bn_status_to_wire(BN_OK);
        send_query_reply(q, env, n_env, &rep);
    } else {
        send_simple(q, env, n_env, req->request_id, st == BN_NOT_FOUND ? BN_BAD_REQUEST : st,
                    err.where, err.msg);
    }
    bn_views_free(&rep);
}

static void serve_one(bn_query_service_t *q)
{
    zmq_msg_t env[2], body;
    zmq_msg_init(&env[0]);
    zmq_msg_init(&env[1]);
    zmq_msg_init(&body);
    int n_env = 0, n_body = 0;
    if (bn_recv_routed(q->sock, env, &n_env, &body, &n_body) != 0)
        goto done;
    if (n_body != 1) {
        send_simple(q, env, n_env, 0, BN_BAD_FRAME, "frames",
                    "expected one body frame holding a QueryRequest after the routing id");
        goto done;
    }
    Benang__V1__QueryRequest *req =
        benang__v1__query_request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    if (!req) {
        send_simple(q, env, n_env, 0, BN_BAD_REQUEST, "frame body",
                    "body is not a serialized benang.v1.QueryRequest");
        goto done;
    }
    if (req->query_case == BENANG__V1__QUERY_REQUEST__QUERY_FETCH)
        do_fetch(q, env, n_env, req->request_id, req->fetch);
    else if (req->query_case == BENANG__V1__QUERY_REQUEST__QUERY_STATUS)
        do_status(q, env, n_env, req->request_id);
    else if (req->query_case == BENANG__V1__QUERY_REQUEST__QUERY_REJECTED)
        do_rejected(q, env, n_env, req->request_id, req->rejected);
    else if (is_view(req->query_case))
        do_view(q, env, n_env, req);
    else
        send_simple(q, env, n_env, req->request_id, BN_BAD_REQUEST, "query",
                    "QueryRequest has no query set (fetch, status, rejected, overlaps, "
                    "referrals, program_map, matches, match_decision or explain)");
    benang__v1__query_request__free_unpacked(req, NULL);
done:
    zmq_msg_close(&env[0]);
    zmq_msg_close(&env[1]);
    zmq_msg_close(&body);
}

static void *run(void *arg)
{
    bn_query_service_t *q = arg;
    pthread_setname_np(pthread_self(), "bn-query");
    while (!atomic_load(&q->stop)) {
        zmq_pollitem_t it = {q->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        if (rc > 0)
            serve_one(q);
    }
    return NULL;
}

bn_status_t bn_query_service_start(bn_query_service_t **out, void *zctx, bn_store_t *store,
                                   const bn_config_t *cfg, bn_error_t *err)
{
    *out = NULL;
    bn_query_service_t *q = calloc(1, sizeof *q);
    if (!q)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    q->store = store;
    q->cfg = cfg;
    q->started_at = time(NULL);
    atomic_init(&q->stop, false);
    q->sock = zmq_socket(zctx, ZMQ_ROUTER);
    int linger = 0, hwm = 100000;
    int64_t maxmsg = 1 << 20;
    if (q->sock) {
        zmq_setsockopt(q->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(q->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(q->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    }
    if (!q->sock || zmq_bind(q->sock, cfg->query_endpoint) != 0) {
        bn_error_set(err, BN_ZMQ, zmq_errno(), cfg->query_endpoint,
                     "cannot bind the query endpoint: %s", zmq_strerror(zmq_errno()));
        bn_query_service_stop(&q);
        return BN_ZMQ;
    }
    if (pthread_create(&q->thread, NULL, run, q) != 0) {
        bn_query_service_stop(&q);
        return bn_error_set(err, BN_INTERNAL, 0, NULL, "cannot start the query thread");
    }
    q->started = true;
    *out = q;
    return BN_OK;
}

void bn_query_service_stop(bn_query_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_query_service_t *q = *self_p;
    atomic_store(&q->stop, true);
    if (q->started)
        pthread_join(q->thread, NULL);
    if (q->sock)
        zmq_close(q->sock);
    free(q);
    *self_p = NULL;
}
