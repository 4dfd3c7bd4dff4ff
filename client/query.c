/* query.c: bn_query_t, fetching from the hub's query endpoint, asking its
 * status, and the coordinator views (one generic call, bn_query_call(), and a
 * thin wrapper per view).
 *
 * A DEALER rather than a REQ socket: a REQ that timed out waiting for its
 * reply is wedged (it must receive before it may send again), a DEALER just
 * sends the next request. One request is in flight at a time; each carries a
 * fresh request_id (1, 2, ...) and a reply with any other id is the late
 * answer to a request that timed out: it is discarded.
 *
 * Ownership: the last decoded QueryReply belongs to the query object; the
 * FetchReply, StatusReply or view result pointers handed out point into it
 * and stay valid until the next call on the object or bn_query_destroy(). A
 * raw fetch keeps the received frame instead and hands out pointers into it.
 *
 * The raw fetch reads the reply with a few lines of protobuf wire-format
 * walking (varints and length-delimited fields) instead of protobuf-c's
 * unpack, which would allocate every string of every event: replaying a log
 * is then limited by the hub and the network, not by the client's malloc.
 */
#include <stdlib.h>
#include <string.h>

#include "benang/client.h"
#include "wire.h"

struct bn_query {
    bn_wire_context_t zc;
    void *sock;
    int timeout_ms;
    uint64_t next_id;
    Benang__V1__QueryReply *reply; /* the last decoded reply, owned */
    zmq_msg_t raw;                 /* the last raw fetch reply frame, owned */
    bool raw_held;
    bn_raw_event_t *raw_events;    /* pointers into raw */
    size_t raw_cap;
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
    if (q->raw_held)
        zmq_msg_close(&q->raw);
    free(q->raw_events);
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

/* The result each query case is answered with (QueryReply.result). */
static const struct {
    Benang__V1__QueryRequest__QueryCase query;
    Benang__V1__QueryReply__ResultCase result;
} RESULT_OF[] = {
    {BENANG__V1__QUERY_REQUEST__QUERY_FETCH, BENANG__V1__QUERY_REPLY__RESULT_FETCH},
    {BENANG__V1__QUERY_REQUEST__QUERY_STATUS, BENANG__V1__QUERY_REPLY__RESULT_STATUS_REPLY},
    {BENANG__V1__QUERY_REQUEST__QUERY_REJECTED, BENANG__V1__QUERY_REPLY__RESULT_REJECTED},
    {BENANG__V1__QUERY_REQUEST__QUERY_OVERLAPS, BENANG__V1__QUERY_REPLY__RESULT_OVERLAPS},
    {BENANG__V1__QUERY_REQUEST__QUERY_REFERRALS, BENANG__V1__QUERY_REPLY__RESULT_REFERRALS},
    {BENANG__V1__QUERY_REQUEST__QUERY_PROGRAM_MAP, BENANG__V1__QUERY_REPLY__RESULT_PROGRAM_MAP},
    {BENANG__V1__QUERY_REQUEST__QUERY_MATCHES, BENANG__V1__QUERY_REPLY__RESULT_MATCHES},
    {BENANG__V1__QUERY_REQUEST__QUERY_MATCH_DECISION,
     BENANG__V1__QUERY_REPLY__RESULT_MATCH_DECISION},
    {BENANG__V1__QUERY_REQUEST__QUERY_EXPLAIN, BENANG__V1__QUERY_REPLY__RESULT_EXPLAIN},
};

bn_status_t bn_query_call(bn_query_t *q, Benang__V1__QueryRequest *req,
                          const Benang__V1__QueryReply **reply, bn_error_t *err)
{
    *reply = NULL;
    if (!req)
        return bn_error_set(err, BN_USAGE, 0, "req", "req is NULL");
    size_t i = 0, n = sizeof RESULT_OF / sizeof RESULT_OF[0];
    while (i < n && RESULT_OF[i].query != req->query_case)
        i++;
    if (i == n)
        return bn_error_set(err, BN_USAGE, 0, "req.query",
                            "QueryRequest has no query this library knows (case %d)",
                            (int)req->query_case);
    bn_status_t st = roundtrip(q, req, RESULT_OF[i].result, err);
    *reply = q->reply; /* also with a refusal: error and error_path are in it */
    return st;
}

/* A QueryRequest for a fetch, in req pointing at f (both the caller's). */
static void fetch_request(Benang__V1__QueryRequest *req, Benang__V1__FetchRequest *f,
                          uint64_t from_seq, uint64_t to_seq, uint32_t max_events,
                          const char *const *prefixes, size_t n_prefixes)
{
    benang__v1__fetch_request__init(f);
    f->from_seq = from_seq;
    f->to_seq = to_seq;
    f->max_events = max_events;
    f->topic_prefixes = (char **)prefixes; /* packing reads them only */
    f->n_topic_prefixes = n_prefixes;
    benang__v1__query_request__init(req);
    req->query_case = BENANG__V1__QUERY_REQUEST__QUERY_FETCH;
    req->fetch = f;
}

bn_status_t bn_query_fetch(bn_query_t *q, uint64_t from_seq, uint64_t to_seq, uint32_t max_events,
                           const char *const *prefixes, size_t n_prefixes,
                           const Benang__V1__FetchReply **reply, bn_error_t *err)
{
    *reply = NULL;
    if (n_prefixes && !prefixes)
        return bn_error_set(err, BN_USAGE, 0, "prefixes", "prefixes is NULL");
    Benang__V1__FetchRequest f;
    Benang__V1__QueryRequest req;
    fetch_request(&req, &f, from_seq, to_seq, max_events, prefixes, n_prefixes);
    bn_status_t st = roundtrip(q, &req, BENANG__V1__QUERY_REPLY__RESULT_FETCH, err);
    if (st == BN_OK)
        *reply = q->reply->fetch;
    return st;
}

bn_status_t bn_query_rejected(bn_query_t *q, const char *agency, uint64_t from_id, uint32_t max,
                              uint64_t id, bool include_payload,
                              const Benang__V1__RejectedReply **reply, bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__RejectedRequest r = BENANG__V1__REJECTED_REQUEST__INIT;
    r.agency = (char *)(agency ? agency : "");
    r.from_id = from_id;
    r.max = max;
    r.id = id;
    r.include_payload = include_payload;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_REJECTED;
    req.rejected = &r;
    bn_status_t st = roundtrip(q, &req, BENANG__V1__QUERY_REPLY__RESULT_REJECTED, err);
    if (st == BN_OK)
        *reply = q->reply->rejected;
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

/* ---- coordinator views: thin wrappers over bn_query_call() ---------------- */

static char *opt_str(const char *s)
{
    return (char *)(s ? s : ""); /* packing only reads it */
}

bn_status_t bn_query_overlaps(bn_query_t *q, const char *since, const char *area,
                              const char *sector, const char *kind, uint32_t max,
                              const Benang__V1__OverlapsReply **reply, bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__OverlapsRequest o = BENANG__V1__OVERLAPS_REQUEST__INIT;
    o.since = opt_str(since);
    o.area = opt_str(area);
    o.sector = opt_str(sector);
    o.kind = opt_str(kind);
    o.max = max;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_OVERLAPS;
    req.overlaps = &o;
    const Benang__V1__QueryReply *r = NULL;
    bn_status_t st = bn_query_call(q, &req, &r, err);
    if (st == BN_OK)
        *reply = r->overlaps;
    return st;
}

bn_status_t bn_query_referrals(bn_query_t *q, const char *to_agency, const char *from_agency,
                               Benang__V1__ReferralStatus status, const char *referral_id,
                               bool open_only, uint32_t max,
                               const Benang__V1__ReferralsReply **reply, bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__ReferralsRequest rr = BENANG__V1__REFERRALS_REQUEST__INIT;
    rr.to_agency = opt_str(to_agency);
    rr.from_agency = opt_str(from_agency);
    rr.status = status;
    rr.referral_id = opt_str(referral_id);
    rr.open_only = open_only;
    rr.max = max;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_REFERRALS;
    req.referrals = &rr;
    const Benang__V1__QueryReply *r = NULL;
    bn_status_t st = bn_query_call(q, &req, &r, err);
    if (st == BN_OK)
        *reply = r->referrals;
    return st;
}

bn_status_t bn_query_program_map(bn_query_t *q, const char *sector, const char *area,
                                 const char *target_group,
                                 const Benang__V1__ProgramMapReply **reply, bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__ProgramMapRequest p = BENANG__V1__PROGRAM_MAP_REQUEST__INIT;
    p.sector = opt_str(sector);
    p.area = opt_str(area);
    p.target_group = opt_str(target_group);
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_PROGRAM_MAP;
    req.program_map = &p;
    const Benang__V1__QueryReply *r = NULL;
    bn_status_t st = bn_query_call(q, &req, &r, err);
    if (st == BN_OK)
        *reply = r->program_map;
    return st;
}

bn_status_t bn_query_matches(bn_query_t *q, bool include_decided, uint32_t max,
                             const Benang__V1__MatchesReply **reply, bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__MatchesRequest m = BENANG__V1__MATCHES_REQUEST__INIT;
    m.include_decided = include_decided;
    m.max = max;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_MATCHES;
    req.matches = &m;
    const Benang__V1__QueryReply *r = NULL;
    bn_status_t st = bn_query_call(q, &req, &r, err);
    if (st == BN_OK)
        *reply = r->matches;
    return st;
}

bn_status_t bn_query_match_decide(bn_query_t *q, uint64_t id, Benang__V1__MatchDecision decision,
                                  const char *note, const Benang__V1__PossibleMatch **match,
                                  bn_error_t *err)
{
    *match = NULL;
    Benang__V1__MatchDecisionRequest d = BENANG__V1__MATCH_DECISION_REQUEST__INIT;
    d.id = id;
    d.decision = decision;
    d.note = opt_str(note);
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_MATCH_DECISION;
    req.match_decision = &d;
    const Benang__V1__QueryReply *r = NULL;
    bn_status_t st = bn_query_call(q, &req, &r, err);
    if (st == BN_OK && !r->match_decision->match)
        st = bn_error_set(err, BN_PROTOCOL, 0, "reply", "MatchDecisionReply has no match");
    if (st == BN_OK)
        *match = r->match_decision->match;
    return st;
}

bn_status_t bn_query_explain(bn_query_t *q, uint64_t seq, const Benang__V1__ExplainReply **reply,
                             bn_error_t *err)
{
    *reply = NULL;
    Benang__V1__ExplainRequest x = BENANG__V1__EXPLAIN_REQUEST__INIT;
    x.seq = seq;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_EXPLAIN;
    req.explain = &x;
    const Benang__V1__QueryReply *r = NULL;
    bn_status_t st = bn_query_call(q, &req, &r, err);
    if (st == BN_OK)
        *reply = r->explain;
    return st;
}

/* ---- raw fetch ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} rd_t;

static bool rd_varint(rd_t *r, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t c = *r->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

/* Next field: its number, wire type, and for wire type 2 its bytes; skips
 * fixed-size values. False at the end or on malformed input (*bad set). */
static bool rd_field(rd_t *r, uint32_t *num, uint64_t *val, const uint8_t **data, size_t *len,
                     bool *bad)
{
    uint64_t key;
    if (r->p >= r->end)
        return false;
    if (!rd_varint(r, &key))
        return !(*bad = true);
    *num = (uint32_t)(key >> 3);
    switch (key & 7) {
    case 0:
        return rd_varint(r, val) || !(*bad = true);
    case 1:
    case 5: {
        size_t n = (key & 7) == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return !(*bad = true);
        r->p += n;
        *val = 0;
        return true;
    }
    case 2:
        if (!rd_varint(r, val) || *val > (uint64_t)(r->end - r->p))
            return !(*bad = true);
        *data = r->p;
        *len = (size_t)*val;
        r->p += *len;
        return true;
    default:
        return !(*bad = true);
    }
}

static uint64_t event_seq(const uint8_t *data, size_t len)
{
    rd_t r = {data, data + len};
    uint32_t num;
    uint64_t v, seq = 0;
    const uint8_t *d;
    size_t l;
    bool bad = false;
    while (rd_field(&r, &num, &v, &d, &l, &bad))
        if (num == 1)
            seq = v; /* the last occurrence wins, as in any protobuf parser */
    return seq;
}

static bn_status_t push_raw(bn_query_t *q, size_t n, const uint8_t *d, size_t l, bn_error_t *err)
{
    if (n == q->raw_cap) {
        size_t cap = q->raw_cap ? q->raw_cap * 2 : 1024;
        bn_raw_event_t *ne = realloc(q->raw_events, cap * sizeof *ne);
        if (!ne)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        q->raw_events = ne;
        q->raw_cap = cap;
    }
    q->raw_events[n] = (bn_raw_event_t){event_seq(d, l), d, l};
    return BN_OK;
}

/* Walk FetchReply bytes into q->raw_events. */
static bn_status_t parse_fetch(bn_query_t *q, const uint8_t *p, size_t n, size_t *n_events,
                               uint64_t *head, uint64_t *next, bn_error_t *err)
{
    rd_t r = {p, p + n};
    uint32_t num;
    uint64_t v;
    const uint8_t *d;
    size_t l;
    bool bad = false;
    *n_events = 0;
    while (rd_field(&r, &num, &v, &d, &l, &bad)) {
        if (num == 1) {
            bn_status_t st = push_raw(q, *n_events, d, l, err);
            if (st != BN_OK)
                return st;
            (*n_events)++;
        } else if (num == 2) {
            *head = v;
        } else if (num == 3) {
            *next = v;
        }
    }
    return bad ? bn_error_set(err, BN_PROTOCOL, 0, "reply", "malformed FetchReply") : BN_OK;
}

/* Walk QueryReply bytes: request id, status, error text, and the fetch result. */
static bn_status_t parse_query_reply(bn_query_t *q, uint64_t id, size_t *n_events,
                                     uint64_t *head, uint64_t *next, bool *other, bn_error_t *err)
{
    rd_t r = {zmq_msg_data(&q->raw), (const uint8_t *)zmq_msg_data(&q->raw) + zmq_msg_size(&q->raw)};
    uint32_t num;
    uint64_t v, rid = 0, wire = 0;
    const uint8_t *d, *fetch = NULL, *msg = NULL, *path = NULL;
    size_t l, fetch_len = 0, msg_len = 0, path_len = 0;
    bool bad = false;
    while (rd_field(&r, &num, &v, &d, &l, &bad)) {
        if (num == 1)
            rid = v;
        else if (num == 2)
            wire = v;
        else if (num == 3)
            msg = d, msg_len = l;
        else if (num == 4)
            path = d, path_len = l;
        else if (num == 5)
            fetch = d, fetch_len = l;
    }
    if (bad)
        return bn_error_set(err, BN_PROTOCOL, 0, "reply", "reply is not a benang.v1.QueryReply");
    *other = rid != id && rid != 0;
    if (*other)
        return BN_OK;
    bn_status_t st = bn_status_from_wire((int)wire);
    if (st != BN_OK) {
        char w[160];
        snprintf(w, sizeof w, "%.*s", (int)(path_len < 159 ? path_len : 159),
                 path ? (const char *)path : "");
        return bn_error_set(err, st, (int)wire, w, "%.*s", (int)(msg_len < 300 ? msg_len : 300),
                            msg ? (const char *)msg : "");
    }
    if (!fetch)
        return bn_error_set(err, BN_PROTOCOL, 0, "reply", "QueryReply has no fetch result");
    return parse_fetch(q, fetch, fetch_len, n_events, head, next, err);
}

bn_status_t bn_query_fetch_raw(bn_query_t *q, uint64_t from_seq, uint64_t to_seq,
                               uint32_t max_events, const char *const *prefixes, size_t n_prefixes,
                               const bn_raw_event_t **events, size_t *n_events, uint64_t *head_seq,
                               uint64_t *next_seq, bn_error_t *err)
{
    *events = NULL;
    *n_events = 0;
    if (n_prefixes && !prefixes)
        return bn_error_set(err, BN_USAGE, 0, "prefixes", "prefixes is NULL");
    if (q->raw_held)
        zmq_msg_close(&q->raw);
    q->raw_held = false;
    Benang__V1__FetchRequest f;
    Benang__V1__QueryRequest req;
    fetch_request(&req, &f, from_seq, to_seq, max_events, prefixes, n_prefixes);
    req.request_id = q->next_id++;
    bn_status_t st = bn_wire__send_pb(q->sock, &req.base, 0, "QueryRequest", err);
    int64_t deadline = bn_wire__deadline(q->timeout_ms);
    while (st == BN_OK) {
        st = bn_wire__recv_body(q->sock, deadline, &q->raw, err);
        q->raw_held = true;
        if (st != BN_OK)
            break;
        bool other = false;
        uint64_t head = 0, next = 0;
        st = parse_query_reply(q, req.request_id, n_events, &head, &next, &other, err);
        if (st == BN_OK && !other) {
            *events = q->raw_events;
            *head_seq = head;
            *next_seq = next;
            return BN_OK;
        }
        zmq_msg_close(&q->raw); /* a late answer to an earlier request, or an error */
        q->raw_held = false;
    }
    *n_events = 0;
    return st;
}
