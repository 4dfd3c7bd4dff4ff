/* hub.c: the hub object and its ingest loop (see hub.h).
 *
 * Group commit without a timer: at most one batch is with the writer; while
 * it commits (fsync), requests keep arriving and are translated into the next
 * batch, which goes to the writer the moment it hands the previous one back.
 * Under load batches grow by themselves to what one fsync lets through; when
 * idle a single request is committed at once. When the batch being gathered
 * reaches hub.max_batch_events the loop stops reading the ingest socket, so
 * back-pressure lands in ZeroMQ's queues and then on the publishers' windows.
 */
#include "hub.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "benang/v1/protocol.pb-c.h"
#include "ingest.h"
#include "log.h"
#include "pipeline.h"
#include "pseudonym.h"
#include "query.h"
#include "rules.h"
#include "store.h"
#include "writer.h"

#define PIPE_ENDPOINT "inproc://bn-writer"
#define MAX_DRAIN 2048 /* requests read per loop turn before looking at the writer again */
#define REPLY_LOCAL_ACKS 8 /* acks of a reply built on the stack */
/* Requests read before an idle writer gets what is gathered. Each batch costs
 * a commit and two hand-offs whatever its size; in buffered mode, where a
 * commit takes no fsync and the writer is idle often, starting it every 64
 * requests made batches of ~75 events and those costs the larger part of the
 * work (51 000 events/s, 22 us of hub CPU each); 256 gives ~75 000/s at 16 us
 * (benchmarks.md, stop 11). A request waits for at most this many others. */
#define IDLE_START 256
#define BUSY_WAKE_MS 1     /* how often the loop reads requests while the writer commits */

struct bn_hub {
    const bn_config_t *cfg;
    void *zctx;
    void *ingest, *feed, *pipe;
    bn_store_t *store;
    bn_pseudonym_t *pseudo;
    bn_bindings_t *bindings;
    bn_writer_t *writer;
    bn_query_service_t *query;
    bn_batch_t *gather;  /* requests accepted, waiting for the writer */
    bool writer_busy;
    bool timers;          /* a referral rule: tick the writer when idle */
    int64_t last_tick_ms;
    uint64_t n_requests, n_refused;
};

#define TICK_MS 1000 /* how often an idle hub lets the writer fire referral timers */

static bn_status_t zfail(bn_error_t *err, const char *where, const char *what)
{
    int e = zmq_errno();
    return bn_error_set(err, BN_ZMQ, e, where, "%s: %s", what, zmq_strerror(e));
}

static void set_int(void *s, int opt, int v)
{
    zmq_setsockopt(s, opt, &v, sizeof v);
}

static bn_status_t open_sockets(bn_hub_t *h, bn_error_t *err)
{
    const bn_config_t *c = h->cfg;
    h->feed = zmq_socket(h->zctx, ZMQ_XPUB);
    h->pipe = zmq_socket(h->zctx, ZMQ_PAIR);
    h->ingest = zmq_socket(h->zctx, ZMQ_ROUTER);
    if (!h->feed || !h->pipe || !h->ingest)
        return zfail(err, NULL, "cannot create sockets");
    set_int(h->feed, ZMQ_SNDHWM, 200000);
    set_int(h->feed, ZMQ_LINGER, 0);
    set_int(h->ingest, ZMQ_RCVHWM, 200000);
    set_int(h->ingest, ZMQ_SNDHWM, 200000);
    set_int(h->ingest, ZMQ_LINGER, 1000);
    int64_t maxmsg = (int64_t)c->max_payload_bytes * 2 + (1 << 20);
    zmq_setsockopt(h->ingest, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(h->feed, c->feed_endpoint) != 0)
        return zfail(err, c->feed_endpoint, "cannot bind the feed endpoint");
    if (zmq_bind(h->pipe, PIPE_ENDPOINT) != 0)
        return zfail(err, PIPE_ENDPOINT, "cannot bind the writer pipe");
    /* The query endpoint first: it reads only what is committed, so status
     * and fetch answer while the writer derives index entries after a crash
     * (seconds on a big store); publishers wait for the ingest endpoint. */
    bn_status_t st = bn_query_service_start(&h->query, h->zctx, h->store, c, err);
    if (st == BN_OK)
        st = bn_writer_start(&h->writer, h->zctx, PIPE_ENDPOINT, h->feed, h->store, h->pseudo, c,
                             err);
    if (st == BN_OK && zmq_bind(h->ingest, c->ingest_endpoint) != 0)
        st = zfail(err, c->ingest_endpoint, "cannot bind the ingest endpoint");
    return st;
}

bn_status_t bn_hub_new(bn_hub_t **out, const bn_config_t *cfg, bn_error_t *err)
{
    *out = NULL;
    bn_hub_t *h = calloc(1, sizeof *h);
    if (!h || !(h->gather = bn_batch_new())) {
        free(h);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    h->cfg = cfg;
    bn_store_options_t so = {.dir = cfg->data_dir,
                             .map_size = cfg->map_size_mb << 20,
                             .nosync = cfg->durability == BN_DURABILITY_BUFFERED};
    bn_status_t st = bn_bindings_new(&h->bindings, cfg, err);
    if (st == BN_OK)
        st = bn_store_open(&h->store, &so, err);
    if (st == BN_OK)
        st = bn_pseudonym_new(&h->pseudo, cfg->key_file, err);
    if (st == BN_OK && !(h->zctx = zmq_ctx_new()))
        st = zfail(err, NULL, "cannot create a ZeroMQ context");
    if (st == BN_OK)
        st = open_sockets(h, err);
    if (st != BN_OK) {
        bn_hub_destroy(&h);
        return st;
    }
    *out = h;
    return BN_OK;
}

static void send_reply(bn_hub_t *h, bn_req_t *r)
{
    Benang__V1__PublishReply rep = BENANG__V1__PUBLISH_REPLY__INIT;
    rep.request_id = r->request_id;
    rep.status = bn_status_to_wire(r->status);
    /* Most requests carry one event: their acks need no heap. */
    Benang__V1__EventAck acks_local[REPLY_LOCAL_ACKS], *ackp_local[REPLY_LOCAL_ACKS];
    Benang__V1__EventAck *acks = acks_local, **ackp = ackp_local;
    size_t n = (r->status == BN_OK || r->status == BN_DUPLICATE) ? r->events.len : 0;
    if (n > REPLY_LOCAL_ACKS) {
        acks = calloc(n, sizeof *acks);
        ackp = calloc(n, sizeof *ackp);
        if (!acks || !ackp) {
            n = 0;
            rep.status = bn_status_to_wire(BN_INTERNAL);
            rep.error = "out of memory building the reply; the events were stored";
        }
    }
    for (size_t i = 0; i < n; i++) {
        benang__v1__event_ack__init(&acks[i]);
        acks[i].seq = r->results[i].seq;
        acks[i].event_id = r->results[i].event_id;
        acks[i].duplicate = r->results[i].duplicate;
        acks[i].supersedes_seq = r->results[i].supersedes_seq;
        acks[i].source_id = r->events.items[i]->source_id;
        acks[i].type = r->events.items[i]->type;
        ackp[i] = &acks[i];
    }
    rep.events = ackp;
    rep.n_events = n;
    if (r->status != BN_OK && r->status != BN_DUPLICATE) {
        rep.error = r->err.msg;
        rep.error_path = r->err.where;
        rep.rejected_id = r->rejected_id;
    }
    size_t len = benang__v1__publish_reply__get_packed_size(&rep);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, len) == 0) {
        benang__v1__publish_reply__pack(&rep, zmq_msg_data(&m));
        zmq_msg_send(&r->identity, h->ingest, ZMQ_SNDMORE);
        if (r->req_style)
            zmq_send(h->ingest, "", 0, ZMQ_SNDMORE);
        if (zmq_msg_send(&m, h->ingest, 0) < 0)
            zmq_msg_close(&m);
    }
    if (acks != acks_local)
        free(acks);
    if (ackp != ackp_local)
        free(ackp);
}

static void log_refusal(const bn_req_t *r, const char *agency)
{
    char qa[100], qw[200], qm[400];
    bn_log(BN_LOG_INFO, "refused", "request_id=%llu agency=%s status=%s where=%s error=%s",
           (unsigned long long)r->request_id, bn_log_quote(agency, qa, sizeof qa),
           bn_status_name(r->status), bn_log_quote(r->err.where, qw, sizeof qw),
           bn_log_quote(r->err.msg, qm, sizeof qm));
}

/* One request from the ingest socket: refuse at once, or add to the gathering
 * batch. False when no request was waiting. */
static bool take_request(bn_hub_t *h, const char *stamp)
{
    bool got = false;
    zmq_msg_t env[2], body;
    zmq_msg_init(&env[0]);
    zmq_msg_init(&env[1]);
    zmq_msg_init(&body);
    int n_env = 0, n_body = 0;
    if (bn_recv_routed(h->ingest, env, &n_env, &body, &n_body) != 0)
        goto done;
    got = true;
    h->n_requests++;
    bn_req_t *r = bn_req_new(&env[0], n_env == 2);
    if (!r)
        goto done;
    if (n_body != 1) {
        r->status = bn_error_set(&r->err, BN_BAD_FRAME, 0, "frames",
                                 "expected exactly one body frame (a PublishRequest) after the "
                                 "routing id, got %d",
                                 n_body);
    } else {
        bn_ingest_prepare(h->cfg, h->bindings, h->pseudo, stamp, zmq_msg_data(&body),
                          zmq_msg_size(&body), r);
    }
    if (r->status != BN_OK) {
        h->n_refused++;
        log_refusal(r, r->agency ? r->agency : "-");
    }
    if (r->status != BN_OK && !r->keep) {
        send_reply(h, r);
        bn_req_destroy(&r);
    } else if (bn_batch_push(h->gather, &r) != BN_OK) {
        r->status = bn_error_set(&r->err, BN_UNAVAILABLE, 0, NULL, "hub out of memory; retry");
        r->keep = false;
        send_reply(h, r);
        bn_req_destroy(&r);
    }
done:
    zmq_msg_close(&env[0]);
    zmq_msg_close(&env[1]);
    zmq_msg_close(&body);
    return got;
}

static void finish_batch(bn_hub_t *h, bn_batch_t *b)
{
    for (size_t i = 0; i < b->len; i++) /* the writer has published them */
        send_reply(h, b->reqs[i]);
    if (b->n_alerts)
        bn_log(BN_LOG_INFO, "alerts", "count=%zu head=%llu", b->n_alerts,
               (unsigned long long)bn_store_head(h->store));
    bn_log(BN_LOG_DEBUG, "committed", "requests=%zu events=%zu head=%llu", b->len, b->n_events,
           (unsigned long long)bn_store_head(h->store));
    bn_batch_destroy(&b);
}

static void dispatch(bn_hub_t *h)
{
    if (h->writer_busy || h->gather->len == 0)
        return;
    bn_batch_t *next = bn_batch_new();
    if (!next)
        return; /* try again next turn */
    bn_batch_t *b = h->gather;
    h->gather = next;
    while (zmq_send(h->pipe, &b, sizeof b, 0) < 0 && zmq_errno() == EINTR) {
    }
    h->writer_busy = true;
}

/* Wait for the writer's batch (blocking when wait), hand it the next one, ack this one. */
static void collect(bn_hub_t *h, bool wait)
{
    bn_batch_t *b = NULL;
    int rc;
    do {
        rc = zmq_recv(h->pipe, &b, sizeof b, wait ? 0 : ZMQ_DONTWAIT);
    } while (rc < 0 && zmq_errno() == EINTR);
    if (rc != (int)sizeof b)
        return;
    h->writer_busy = false;
    dispatch(h); /* the next batch first: the writer need not wait for these acks */
    finish_batch(h, b);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An idle hub sends the writer an empty batch now and then: a timer tick. */
static void tick(bn_hub_t *h)
{
    int64_t now = mono_ms();
    if (h->writer_busy || h->gather->len || !h->timers || now - h->last_tick_ms < TICK_MS)
        return;
    h->last_tick_ms = now;
    bn_batch_t *b = bn_batch_new();
    if (!b)
        return;
    while (zmq_send(h->pipe, &b, sizeof b, 0) < 0 && zmq_errno() == EINTR) {
    }
    h->writer_busy = true;
}

bn_status_t bn_hub_run(bn_hub_t *h, const volatile sig_atomic_t *stop, bn_error_t *err)
{
    h->timers = bn_rules_find(h->cfg, "referral") != NULL;
    h->last_tick_ms = mono_ms();
    char qi[200];
    bn_log(BN_LOG_INFO, "ready", "hub_id=%s ingest=%s feed=%s query=%s durability=%s head=%llu",
           bn_log_quote(h->cfg->hub_id, qi, sizeof qi), h->cfg->ingest_endpoint,
           h->cfg->feed_endpoint, h->cfg->query_endpoint,
           h->cfg->durability == BN_DURABILITY_SYNC ? "sync" : "buffered",
           (unsigned long long)bn_store_head(h->store));
    while (!*stop) {
        bool room = h->gather->n_events < h->cfg->max_batch_events;
        /* While the writer commits, requests wait for the next batch anyway:
         * wake when it is done or every BUSY_WAKE_MS, not for each request. */
        bool watch = room && !h->writer_busy;
        zmq_pollitem_t items[2] = {{h->pipe, 0, ZMQ_POLLIN, 0},
                                   {h->ingest, 0, watch ? ZMQ_POLLIN : 0, 0}};
        int rc = zmq_poll(items, 2, h->writer_busy && room ? BUSY_WAKE_MS : 100);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0)
            return zfail(err, NULL, "poll");
        if (items[0].revents & ZMQ_POLLIN)
            collect(h, false);
        char stamp[64];
        bn_ingest_stamp(stamp);
        for (int i = 0; i < MAX_DRAIN && h->gather->n_events < h->cfg->max_batch_events; i++) {
            if (!take_request(h, stamp))
                break;
            if (!h->writer_busy && h->gather->len > 0 && (i % IDLE_START) == IDLE_START - 1)
                break; /* let an idle writer start early */
        }
        dispatch(h);
        tick(h);
    }
    /* Drain: ack what was accepted, then stop the writer. */
    if (h->writer_busy)
        collect(h, true);
    dispatch(h);
    if (h->writer_busy)
        collect(h, true);
    bn_log(BN_LOG_INFO, "stopping", "requests=%llu refused=%llu head=%llu",
           (unsigned long long)h->n_requests, (unsigned long long)h->n_refused,
           (unsigned long long)bn_store_head(h->store));
    return BN_OK;
}

void bn_hub_destroy(bn_hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_hub_t *h = *self_p;
    if (h->writer) {
        bn_batch_t *quit = NULL;
        zmq_send(h->pipe, &quit, sizeof quit, 0);
        bn_writer_join(&h->writer);
    }
    bn_query_service_stop(&h->query);
    if (h->ingest)
        zmq_close(h->ingest);
    if (h->feed)
        zmq_close(h->feed);
    if (h->pipe)
        zmq_close(h->pipe);
    if (h->zctx)
        zmq_ctx_term(h->zctx);
    bn_batch_destroy(&h->gather);
    bn_pseudonym_destroy(&h->pseudo);
    bn_bindings_destroy(&h->bindings);
    bn_store_destroy(&h->store);
    free(h);
    *self_p = NULL;
}
