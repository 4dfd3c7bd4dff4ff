/* query.c: bn_query_t, fetching from the hub's query endpoint and asking its status.
 *
 * A DEALER rather than a REQ socket: a REQ that timed out waiting for its
 * reply is wedged (it must receive before it may send again), a DEALER just
 * sends the next request. One request is in flight at a time; each carries a
 * fresh request_id (1, 2, ...) and a reply with any other id is the late
 * answer to a request that timed out: it is discarded.
 *
 * Ownership: the last decoded QueryReply belongs to the query object; the
 * FetchReply or StatusReply pointers handed out point into it and stay valid
 * until the next call on the object or bn_query_destroy().
 */
#include <stdlib.h>

#include "benang/client.h"
#include "wire.h"

struct bn_query {
    bn_wire_context_t zc;
    void *sock;
    int timeout_ms;
    uint64_t next_id;
    Benang__V1__QueryReply *reply; /* the last decoded reply, owned */
};

bn_status_t bn_query_new(bn_query_t **out, const char *endpoint, const bn_client_options_t *opts,
                         bn_error_t *err)
{
    *out = NULL;
    bn_query_t *q = calloc(1, sizeof *q);
    if (!q)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    q->timeout_ms = bn_wire__timeout(opts);
    q->next_id = 1;
    bn_status_t st = bn_wire__context_open(&q->zc, opts, err);
    if (st == BN_OK)
        st = bn_wire__connect(q->zc.ctx, ZMQ_DEALER, endpoint, q->timeout_ms, &q->sock, err);
    if (st != BN_OK) {
        bn_query_destroy(&q);
        return st;
    }
    *out = q;
    return BN_OK;
}

void bn_query_destroy(bn_query_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_query_t *q = *self_p;
    if (q->reply)
        benang__v1__query_reply__free_unpacked(q->reply, NULL);
    if (q->sock)
        zmq_close(q->sock);
    bn_wire__context_close(&q->zc);
    free(q);
    *self_p = NULL;
}

/* Wait for the reply carrying id, discarding late answers to earlier requests. */
static bn_status_t await(bn_query_t *q, uint64_t id, int64_t deadline, bn_error_t *err)
{
    for (;;) {
        zmq_msg_t body;
        bn_status_t st = bn_wire__recv_body(q->sock, deadline, &body, err);
        Benang__V1__QueryReply *r = NULL;
        if (st == BN_OK) {
            r = benang__v1__query_reply__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
            if (!r)
                st = bn_error_set(err, BN_PROTOCOL, 0, "reply",
                                  "reply of %zu bytes is not a benang.v1.QueryReply",
                                  zmq_msg_size(&body));
        }
        zmq_msg_close(&body);
        if (st != BN_OK)
            return st;
        /* id 0: the hub could not read our request at all; it is the answer. */
        if (r->request_id == id || r->request_id == 0) {
            q->reply = r;
            return BN_OK;
        }
        benang__v1__query_reply__free_unpacked(r, NULL);
    }
}

/* Send req (request_id filled in here), wait for its reply, check status and result. */
static bn_status_t roundtrip(bn_query_t *q, Benang__V1__QueryRequest *req,
                             Benang__V1__QueryReply__ResultCase want, bn_error_t *err)
{
    if (q->reply)
        benang__v1__query_reply__free_unpacked(q->reply, NULL);
    q->reply = NULL;
    req->request_id = q->next_id++;
    bn_status_t st = bn_wire__send_pb(q->sock, &req->base, 0, "QueryRequest", err);
    if (st == BN_OK)
        st = await(q, req->request_id, bn_wire__deadline(q->timeout_ms), err);
    if (st != BN_OK)
        return st;
    const Benang__V1__QueryReply *r = q->reply;
    st = bn_status_from_wire(r->status);
    if (st != BN_OK)
        return bn_error_set(err, st, r->status, r->error_path, "%s",
                            *r->error ? r->error : bn_status_text(st));
    if (r->result_case != want)
        return bn_error_set(err, BN_PROTOCOL, 0, "reply",
                            "QueryReply has status OK but not the expected result (case %d)",
                            (int)r->result_case);
    return BN_OK;
}

bn_status_t bn_query_fetch(bn_query_t *q, uint64_t from_seq, uint64_t to_seq, uint32_t max_events,
                           const char *const *prefixes, size_t n_prefixes,
                           const Benang__V1__FetchReply **reply, bn_error_t *err)
{
    *reply = NULL;
    if (n_prefixes && !prefixes)
        return bn_error_set(err, BN_USAGE, 0, "prefixes", "prefixes is NULL");
    Benang__V1__FetchRequest f = BENANG__V1__FETCH_REQUEST__INIT;
    f.from_seq = from_seq;
    f.to_seq = to_seq;
    f.max_events = max_events;
    f.topic_prefixes = (char **)prefixes; /* packing reads them only */
    f.n_topic_prefixes = n_prefixes;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_FETCH;
    req.fetch = &f;
    bn_status_t st = roundtrip(q, &req, BENANG__V1__QUERY_REPLY__RESULT_FETCH, err);
    if (st == BN_OK)
        *reply = q->reply->fetch;
    return st;
}

bn_status_t bn_query_status(bn_query_t *q, const Benang__V1__StatusReply **reply, bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__StatusRequest s = BENANG__V1__STATUS_REQUEST__INIT;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_STATUS;
    req.status = &s;
    bn_status_t st = roundtrip(q, &req, BENANG__V1__QUERY_REPLY__RESULT_STATUS_REPLY, err);
    if (st == BN_OK)
        *reply = q->reply->status_reply;
    return st;
}
