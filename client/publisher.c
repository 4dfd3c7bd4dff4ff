/* publisher.c: bn_publisher_t, publishing payloads to the hub's ingest endpoint.
 *
 * A DEALER socket sends one frame (a serialized PublishRequest) per request
 * and receives one frame (a PublishReply) per answer. Request ids count up
 * from 1 per publisher; the hub echoes them, which is how answers are matched.
 *
 * Two ways to use it, not to be mixed while requests are outstanding:
 *   blocking:  bn_publisher_publish() sends and waits for the reply with its
 *              own request id. Only that request is in flight, so a reply
 *              carrying a smaller id can only belong to an earlier publish()
 *              that timed out: it is discarded. A timed-out request is
 *              abandoned (it may still be stored: publishing the same payload
 *              again is safe, the hub deduplicates by (agency, type, source_id)).
 *   pipelined: bn_publisher_send() queues requests without waiting (a window
 *              of them in flight is what lets the hub group many events into
 *              one durable commit); bn_publisher_recv() hands back replies in
 *              the order they arrive. The caller matches res->request_id.
 * publish() refuses (BN_USAGE) while pipelined requests are unanswered,
 * because it would have to throw their replies away.
 *
 * A reply whose request_id is 0 is the hub saying it could not read the
 * request at all (BAD_FRAME, BAD_REQUEST): it answers the only request in
 * flight in blocking mode and is handed out as is in pipelined mode.
 *
 * Ownership: the last decoded PublishReply belongs to the publisher and is
 * freed by the next bn_publisher_publish()/bn_publisher_recv() (send() leaves
 * it alone) or by bn_publisher_destroy().
 */
#include <stdlib.h>
#include <string.h>

#include "benang/client.h"
#include "wire.h"

struct bn_publisher {
    uint64_t retry_of; /* for the next request only: bn_publisher_retry_of() */
    bn_wire_context_t zc;
    void *sock;
    int timeout_ms;
    uint64_t next_id;   /* id of the next request: 1, 2, ... */
    uint64_t live_from; /* replies with a smaller (non-zero) id answer abandoned requests */
    size_t in_flight;
    Benang__V1__PublishReply *reply; /* the last decoded reply, owned */
};

bn_status_t bn_publisher_new(bn_publisher_t **out, const char *endpoint,
                             const bn_client_options_t *opts, bn_error_t *err)
{
    *out = NULL;
    bn_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    p->timeout_ms = bn_wire__timeout(opts);
    p->next_id = 1;
    p->live_from = 1;
    bn_status_t st = bn_wire__context_open(&p->zc, opts, err);
    if (st == BN_OK)
        st = bn_wire__connect(p->zc.ctx, ZMQ_DEALER, endpoint, p->timeout_ms, &p->sock, err);
    if (st != BN_OK) {
        bn_publisher_destroy(&p);
        return st;
    }
    *out = p;
    return BN_OK;
}

void bn_publisher_destroy(bn_publisher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_publisher_t *p = *self_p;
    if (p->reply)
        benang__v1__publish_reply__free_unpacked(p->reply, NULL);
    if (p->sock)
        zmq_close(p->sock);
    bn_wire__context_close(&p->zc);
    free(p);
    *self_p = NULL;
}

size_t bn_publisher_in_flight(const bn_publisher_t *p)
{
    return p->in_flight;
}

bn_status_t bn_publisher_send(bn_publisher_t *p, const char *agency, const char *adapter,
                              const void *payload, size_t len, uint64_t *request_id,
                              bn_error_t *err)
{
    if (!agency || !*agency)
        return bn_error_set(err, BN_USAGE, 0, "agency", "no agency given");
    if (!payload && len)
        return bn_error_set(err, BN_USAGE, 0, "payload", "payload is NULL");
    Benang__V1__PublishRequest req = BENANG__V1__PUBLISH_REQUEST__INIT;
    req.request_id = p->next_id;
    req.agency = (char *)agency; /* packing reads them only */
    req.adapter = (char *)(adapter ? adapter : "");
    req.payload.data = (uint8_t *)payload;
    req.payload.len = len;
    req.retry_of = p->retry_of;
    p->retry_of = 0; /* applies to one request */
    bn_status_t st = bn_wire__send_pb(p->sock, &req.base, 0, "PublishRequest", err);
    if (st != BN_OK)
        return st;
    if (request_id)
        *request_id = p->next_id;
    p->next_id++;
    p->in_flight++;
    return BN_OK;
}

static void drop_reply(bn_publisher_t *p)
{
    if (p->reply)
        benang__v1__publish_reply__free_unpacked(p->reply, NULL);
    p->reply = NULL;
}

/* Keep reply as the answer to one request and describe it in res. */
static bn_status_t finish(bn_publisher_t *p, Benang__V1__PublishReply *reply,
                          bn_publish_result_t *res, bn_error_t *err)
{
    p->reply = reply;
    if (p->in_flight)
        p->in_flight--;
    res->request_id = reply->request_id;
    res->reply = reply;
    bn_status_t st = bn_status_from_wire(reply->status);
    res->status = st;
    if (st != BN_OK && st != BN_DUPLICATE)
        bn_error_set(err, st, reply->status, reply->error_path, "%s",
                     *reply->error ? reply->error : bn_status_text(st));
    return st;
}

/* The next reply off the socket, decoded, skipping answers to abandoned requests. */
static bn_status_t next_reply(bn_publisher_t *p, int64_t deadline, Benang__V1__PublishReply **out,
                              bn_error_t *err)
{
    for (;;) {
        zmq_msg_t body;
        bn_status_t st = bn_wire__recv_body(p->sock, deadline, &body, err);
        Benang__V1__PublishReply *r = NULL;
        if (st == BN_OK) {
            r = benang__v1__publish_reply__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
            if (!r)
                st = bn_error_set(err, BN_PROTOCOL, 0, "reply",
                                  "reply of %zu bytes is not a benang.v1.PublishReply",
                                  zmq_msg_size(&body));
        }
        zmq_msg_close(&body);
        if (st != BN_OK)
            return st;
        if (r->request_id == 0 || r->request_id >= p->live_from) {
            *out = r;
            return BN_OK;
        }
        benang__v1__publish_reply__free_unpacked(r, NULL);
    }
}

bn_status_t bn_publisher_recv(bn_publisher_t *p, int timeout_ms, bn_publish_result_t *res,
                              bn_error_t *err)
{
    *res = (bn_publish_result_t){0};
    drop_reply(p);
    Benang__V1__PublishReply *r = NULL;
    bn_status_t st = next_reply(p, bn_wire__deadline(timeout_ms), &r, err);
    if (st == BN_PROTOCOL && p->in_flight)
        p->in_flight--; /* an answer came, whichever request it was for */
    if (st != BN_OK)
        return res->status = st;
    return finish(p, r, res, err);
}

bn_status_t bn_publisher_publish(bn_publisher_t *p, const char *agency, const char *adapter,
                                 const void *payload, size_t len, bn_publish_result_t *res,
                                 bn_error_t *err)
{
    *res = (bn_publish_result_t){0};
    drop_reply(p);
    if (p->in_flight)
        return res->status = bn_error_set(err, BN_USAGE, 0, NULL,
                                          "%zu pipelined requests unanswered: collect them "
                                          "with bn_publisher_recv() first",
                                          p->in_flight);
    uint64_t id = 0;
    bn_status_t st = bn_publisher_send(p, agency, adapter, payload, len, &id, err);
    res->request_id = id;
    if (st != BN_OK)
        return res->status = st;
    int64_t deadline = bn_wire__deadline(p->timeout_ms);
    for (;;) {
        Benang__V1__PublishReply *r = NULL;
        st = next_reply(p, deadline, &r, err);
        if (st != BN_OK) {
            /* Abandon the request: a late answer to it will be discarded. */
            p->live_from = id + 1;
            p->in_flight = 0;
            return res->status = st;
        }
        if (r->request_id == id || r->request_id == 0)
            return finish(p, r, res, err);
        /* Not ours (an id from the future cannot happen): drop it, keep waiting. */
        benang__v1__publish_reply__free_unpacked(r, NULL);
    }
}

void bn_publisher_retry_of(bn_publisher_t *p, uint64_t rejected_id)
{
    p->retry_of = rejected_id;
}

/* ---- canonical-batch payloads ----------------------------------------- */

#define BATCH_EVENTS_TAG 0x0a /* EventBatch.events: field 1, length-delimited */

size_t bn_event_batch_entry_size(size_t len)
{
    size_t n = 2; /* the tag and the varint's last byte */
    for (size_t v = len; v >= 0x80; v >>= 7)
        n++;
    return n + len;
}

bn_status_t bn_event_batch_add(uint8_t *buf, size_t cap, size_t *used, const void *event,
                               size_t len)
{
    if (!buf || !used || (!event && len) || *used > cap)
        return BN_USAGE;
    size_t need = bn_event_batch_entry_size(len);
    if (need < len || need > cap - *used)
        return BN_TOO_LARGE;
    uint8_t *p = buf + *used;
    *p++ = BATCH_EVENTS_TAG;
    size_t v = len;
    for (; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    if (len)
        memcpy(p, event, len);
    *used += need;
    return BN_OK;
}
