/* test_hub_badinput: every kind of bad input, each between good events.
 *
 * A raw DEALER (and a REQ) socket sends garbage, wrong frame counts, unknown
 * agencies and adapters, oversized payloads, invalid UTF-8, missing fields,
 * truncated protobuf and JSON, bad canonical-batch payloads (an event of
 * three invalid, truncated, one Event instead of a batch, empty, an agency
 * without the adapter). Each gets a PublishReply whose status and error
 * path name the problem; afterwards every good event (some sent three in a
 * batch, then again as duplicates) is in the log, in order, and nothing
 * else is.
 */
#include <stdlib.h>
#include <zmq.h>

#include "benang/client.h"
#include "benang/v1/protocol.pb-c.h"
#include "testutil.h"

static void *g_ctx, *g_dealer;
static uint64_t g_rid;
static unsigned g_good;

static Benang__V1__PublishReply *roundtrip_frames(zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_send(&frames[i], g_dealer, i + 1 < n ? ZMQ_SNDMORE : 0);
    zmq_pollitem_t it = {g_dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 10000) != 1)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, g_dealer, 0);
    Benang__V1__PublishReply *r =
        benang__v1__publish_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    return r;
}

static Benang__V1__PublishReply *send_req(const char *agency, const char *adapter,
                                          const void *payload, size_t len)
{
    Benang__V1__PublishRequest pr = BENANG__V1__PUBLISH_REQUEST__INIT;
    pr.request_id = ++g_rid;
    pr.agency = (char *)agency;
    pr.adapter = (char *)(adapter ? adapter : "");
    pr.payload.data = (uint8_t *)payload;
    pr.payload.len = len;
    zmq_msg_t m;
    zmq_msg_init_size(&m, benang__v1__publish_request__get_packed_size(&pr));
    benang__v1__publish_request__pack(&pr, zmq_msg_data(&m));
    return roundtrip_frames(&m, 1);
}

/* Expect status with error_path containing path (NULL: any) and error containing text. */
static void expect(const char *label, Benang__V1__PublishReply *r, int status, const char *path,
                   const char *text)
{
    CHECK_MSG(r != NULL, "%s: no reply", label);
    if (!r)
        return;
    CHECK_MSG((int)r->status == status, "%s: status %d, want %d (error: %s)", label, (int)r->status,
              status, r->error);
    if (path)
        CHECK_MSG(strstr(r->error_path, path) != NULL, "%s: path \"%s\" lacks \"%s\"", label,
                  r->error_path, path);
    if (text)
        CHECK_MSG(strstr(r->error, text) != NULL, "%s: error \"%s\" lacks \"%s\"", label,
                  r->error, text);
    if (status != BENANG__V1__STATUS__STATUS_OK)
        CHECK_MSG(r->n_events == 0 && r->error[0], "%s: refusal must carry no events and a message",
                  label);
    benang__v1__publish_reply__free_unpacked(r, NULL);
}

static void good(void)
{
    char sid[32];
    snprintf(sid, sizeof sid, "GOOD-%u", g_good);
    size_t len;
    uint8_t *ev = bn_test_immunisation(sid, NULL, "08", 1, 0, &len);
    Benang__V1__PublishReply *r = send_req("puskesmas-a", "canonical", ev, len);
    free(ev);
    CHECK_MSG(r && r->status == BENANG__V1__STATUS__STATUS_OK && r->n_events == 1 &&
                  r->events[0]->seq == g_good + 1,
              "good event %u not stored as seq %u", g_good, g_good + 1);
    if (r)
        benang__v1__publish_reply__free_unpacked(r, NULL);
    g_good++;
}

/* n good events in one canonical-batch request, acked in order at the next
 * seqs; sent again, every one of them is a DUPLICATE of its first seq. */
static void good_batch(unsigned n)
{
    uint8_t buf[4096];
    size_t used = 0;
    for (unsigned i = 0; i < n; i++) {
        char sid[32];
        snprintf(sid, sizeof sid, "GOOD-%u", g_good + i);
        size_t len;
        uint8_t *ev = bn_test_immunisation(sid, NULL, "08", 1, 0, &len);
        CHECK(bn_event_batch_add(buf, sizeof buf, &used, ev, len) == BN_OK);
        free(ev);
    }
    for (int round = 0; round < 2; round++) {
        Benang__V1__PublishReply *r = send_req("puskesmas-a", "canonical-batch", buf, used);
        int want = round ? BENANG__V1__STATUS__STATUS_DUPLICATE : BENANG__V1__STATUS__STATUS_OK;
        CHECK_MSG(r && (int)r->status == want && r->n_events == n,
                  "batch of %u (round %d): status %d, %zu acks (%s)", n, round,
                  r ? (int)r->status : -1, r ? r->n_events : 0, r ? r->error : "no reply");
        for (unsigned i = 0; r && i < r->n_events && i < n; i++) {
            CHECK_EQ_U64(r->events[i]->seq, g_good + i + 1);
            CHECK(r->events[i]->duplicate == (round == 1));
        }
        if (r)
            benang__v1__publish_reply__free_unpacked(r, NULL);
    }
    g_good += n;
}

static uint8_t *event_with(const char *source_id, const char *occurred_at, size_t *len)
{
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    Benang__V1__Immunisation imm = BENANG__V1__IMMUNISATION__INIT;
    Benang__V1__Coding vac = BENANG__V1__CODING__INIT;
    vac.system = "http://hl7.org/fhir/sid/cvx";
    vac.code = "08";
    imm.vaccine = &vac;
    ev.source_id = (char *)source_id;
    ev.occurred_at = (char *)occurred_at;
    ev.body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev.immunisation = &imm;
    *len = benang__v1__event__get_packed_size(&ev);
    uint8_t *buf = malloc(*len);
    benang__v1__event__pack(&ev, buf);
    return buf;
}

int main(void)
{
    bn_test_hub_t h = {0};
    if (bn_test_hub_start(&h, "  max_payload_bytes: 4096\n", NULL) != 0) {
        bn_test_hub_dump_log(&h);
        return 1;
    }
    g_ctx = zmq_ctx_new();
    g_dealer = zmq_socket(g_ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(g_dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(g_dealer, h.ingest);
    const int OK = BENANG__V1__STATUS__STATUS_OK;
    size_t len;

    good();
    {
        zmq_msg_t m;
        zmq_msg_init_size(&m, 7);
        memcpy(zmq_msg_data(&m), "\xff\xff\xff\xff\xff\xff\xff", 7);
        expect("garbage bytes", roundtrip_frames(&m, 1), BENANG__V1__STATUS__STATUS_BAD_REQUEST,
               "request", "PublishRequest");
    }
    good();
    {
        zmq_msg_t m[2];
        zmq_msg_init_size(&m[0], 3);
        memcpy(zmq_msg_data(&m[0]), "abc", 3);
        zmq_msg_init_size(&m[1], 3);
        memcpy(zmq_msg_data(&m[1]), "def", 3);
        expect("two body frames", roundtrip_frames(m, 2), BENANG__V1__STATUS__STATUS_BAD_FRAME,
               "frames", "got 2");
    }
    good();
    {
        zmq_msg_t m;
        zmq_msg_init_size(&m, 0);
        expect("empty frame", roundtrip_frames(&m, 1), BENANG__V1__STATUS__STATUS_UNKNOWN_AGENCY,
               "agency", NULL);
    }
    uint8_t *ev = bn_test_immunisation("X-1", NULL, "08", 1, 0, &len);
    expect("unknown agency", send_req("nobody", NULL, ev, len),
           BENANG__V1__STATUS__STATUS_UNKNOWN_AGENCY, "agency", "\"nobody\"");
    good();
    expect("unknown adapter", send_req("puskesmas-a", "telepathy", ev, len),
           BENANG__V1__STATUS__STATUS_UNKNOWN_ADAPTER, "adapter", "telepathy");
    free(ev);
    good();
    {
        size_t big_len = 0;
        uint8_t *big = bn_test_immunisation("BIG-1", NULL, "08", 1, 4000, &big_len);
        CHECK(big_len > 4096);
        expect("oversized payload", send_req("puskesmas-a", "canonical", big, big_len),
               BENANG__V1__STATUS__STATUS_TOO_LARGE, "payload", "max_payload_bytes");
        free(big);
    }
    good();
    ev = event_with("BAD-\xc3\x28-UTF8", "2026-11-01", &len);
    expect("invalid UTF-8", send_req("puskesmas-a", "canonical", ev, len),
           BENANG__V1__STATUS__STATUS_INVALID_EVENT, "source_id", "UTF-8");
    free(ev);
    good();
    ev = event_with("MISSING-DATE", "", &len);
    expect("missing occurred_at", send_req("puskesmas-a", "canonical", ev, len),
           BENANG__V1__STATUS__STATUS_INVALID_EVENT, "occurred_at", NULL);
    free(ev);
    ev = event_with("BAD-DATE", "2026-02-30", &len);
    expect("impossible date", send_req("puskesmas-a", "canonical", ev, len),
           BENANG__V1__STATUS__STATUS_INVALID_EVENT, "occurred_at", NULL);
    free(ev);
    good();
    ev = bn_test_immunisation("TRUNC-1", NULL, "08", 1, 0, &len);
    expect("truncated protobuf", send_req("puskesmas-a", "canonical", ev, len - 5),
           BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "payload", NULL);
    free(ev);
    ev = bn_test_immunisation("NIK-1", "12345", "08", 1, 0, &len);
    expect("malformed NIK", send_req("puskesmas-a", "canonical", ev, len),
           BENANG__V1__STATUS__STATUS_INVALID_EVENT, "subject.nik", "16 digits");
    free(ev);
    good();
    const char *trunc = "{\"sourceId\":\"J-1\",\"occurredAt\":\"2026-11-0";
    expect("truncated JSON", send_req("puskesmas-a", "canonical-json", trunc, strlen(trunc)),
           BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "line 1", NULL);
    const char *wrong = "{\"sourceId\":42,\"occurredAt\":\"2026-11-01\",\"immunisation\":{}}";
    expect("wrong JSON type", send_req("puskesmas-a", "canonical-json", wrong, strlen(wrong)),
           BENANG__V1__STATUS__STATUS_INVALID_EVENT, "sourceId", NULL);
    /* all or nothing: the second event of three is bad, none is stored */
    const char *mixed =
        "{\"sourceId\":\"M-1\",\"occurredAt\":\"2026-11-01\",\"immunisation\":{\"vaccine\":"
        "{\"system\":\"cvx\",\"code\":\"08\"}}}\n"
        "{\"sourceId\":\"M-2\",\"occurredAt\":\"not a date\",\"immunisation\":{\"vaccine\":"
        "{\"system\":\"cvx\",\"code\":\"08\"}}}\n"
        "{\"sourceId\":\"M-3\",\"occurredAt\":\"2026-11-01\",\"immunisation\":{\"vaccine\":"
        "{\"system\":\"cvx\",\"code\":\"08\"}}}\n";
    expect("one bad event of three", send_req("puskesmas-a", "canonical-json", mixed, strlen(mixed)),
           BENANG__V1__STATUS__STATUS_INVALID_EVENT, "occurred_at", NULL);
    good();
    /* canonical-batch: several binary events in one request, all or none */
    good_batch(3);
    {
        uint8_t buf[2048];
        size_t used = 0, l1, l2, l3;
        uint8_t *e1 = bn_test_immunisation("BATCH-1", NULL, "08", 1, 0, &l1);
        uint8_t *e2 = event_with("BATCH-2", "2026-13-01", &l2);
        uint8_t *e3 = bn_test_immunisation("BATCH-3", NULL, "08", 1, 0, &l3);
        CHECK(bn_event_batch_add(buf, sizeof buf, &used, e1, l1) == BN_OK);
        CHECK(bn_event_batch_add(buf, sizeof buf, &used, e2, l2) == BN_OK);
        CHECK(bn_event_batch_add(buf, sizeof buf, &used, e3, l3) == BN_OK);
        expect("batch, its second event bad", send_req("puskesmas-a", "canonical-batch", buf, used),
               BENANG__V1__STATUS__STATUS_INVALID_EVENT, "events[1].occurred_at", NULL);
        expect("truncated batch", send_req("puskesmas-a", "canonical-batch", buf, used - 4),
               BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "payload", "EventBatch");
        expect("one Event sent as a batch", send_req("puskesmas-a", "canonical-batch", e1, l1),
               BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "payload", "adapter canonical");
        expect("a batch sent as one Event", send_req("puskesmas-a", "canonical", buf, used),
               BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "payload", "benang.v1.Event");
        expect("empty batch", send_req("puskesmas-a", "canonical-batch", "", 0),
               BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "payload", "no events");
        expect("batch from an agency without the adapter",
               send_req("klinik-b", "canonical-batch", buf, used),
               BENANG__V1__STATUS__STATUS_UNKNOWN_ADAPTER, "adapter", "canonical-batch");
        free(e1);
        free(e2);
        free(e3);
    }
    good();
    const char *noevents = "[]";
    expect("no events", send_req("puskesmas-a", "canonical-json", noevents, 2),
           BENANG__V1__STATUS__STATUS_BAD_PAYLOAD, "payload", "no events");
    good();

    /* a 10 MB frame, past the socket's message cap: ZeroMQ drops that peer's
     * connection, the hub does not buffer it, and everyone else is served */
    {
        void *big = zmq_socket(g_ctx, ZMQ_DEALER);
        zmq_setsockopt(big, ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(big, h.ingest);
        size_t n = 10u << 20;
        char *blob = malloc(n);
        memset(blob, 'x', n);
        CHECK(zmq_send(big, blob, n, 0) == (int)n);
        free(blob);
        zmq_pollitem_t it = {big, 0, ZMQ_POLLIN, 0};
        CHECK(zmq_poll(&it, 1, 1000) == 0); /* no reply: the connection was dropped */
        zmq_close(big);
    }
    good();

    /* a REQ peer (with the empty delimiter frame) is served too */
    void *req = zmq_socket(g_ctx, ZMQ_REQ);
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(req, h.ingest);
    {
        Benang__V1__PublishRequest pr = BENANG__V1__PUBLISH_REQUEST__INIT;
        ev = bn_test_immunisation("REQ-1", NULL, "08", 1, 0, &len);
        pr.request_id = 777;
        pr.agency = "klinik-b";
        pr.adapter = "canonical";
        pr.payload.data = ev;
        pr.payload.len = len;
        size_t n = benang__v1__publish_request__get_packed_size(&pr);
        uint8_t *buf = malloc(n);
        benang__v1__publish_request__pack(&pr, buf);
        zmq_send(req, buf, n, 0);
        free(buf);
        free(ev);
        zmq_pollitem_t it = {req, 0, ZMQ_POLLIN, 0};
        CHECK(zmq_poll(&it, 1, 10000) == 1);
        uint8_t rb[4096];
        int rn = zmq_recv(req, rb, sizeof rb, ZMQ_DONTWAIT);
        Benang__V1__PublishReply *r =
            rn > 0 ? benang__v1__publish_reply__unpack(NULL, (size_t)rn, rb) : NULL;
        CHECK(r && r->request_id == 777 && r->status == OK && r->n_events == 1);
        if (r)
            benang__v1__publish_reply__free_unpacked(r, NULL);
        g_good++;
    }
    zmq_close(req);
    good();

    /* Only the good events are stored, gap-free. */
    bn_query_t *q = NULL;
    bn_client_options_t o = {.timeout_ms = 5000};
    bn_error_t err;
    CHECK(bn_query_new(&q, h.query, &o, &err) == BN_OK);
    const Benang__V1__FetchReply *fr = NULL;
    CHECK(bn_query_fetch(q, 1, 0, 0, NULL, 0, &fr, &err) == BN_OK);
    CHECK_MSG(fr && fr->n_events == g_good && fr->head_seq == g_good, "%zu events, %u good",
              fr ? fr->n_events : 0, g_good);
    for (size_t i = 0; fr && i < fr->n_events; i++) {
        CHECK_EQ_U64(fr->events[i]->seq, i + 1);
        CHECK(strncmp(fr->events[i]->source_id, "GOOD-", 5) == 0 ||
              strcmp(fr->events[i]->source_id, "REQ-1") == 0);
    }
    bn_query_destroy(&q);

    /* A garbage query gets an answer too, and the query service lives on. */
    void *qd = zmq_socket(g_ctx, ZMQ_DEALER);
    zmq_setsockopt(qd, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(qd, h.query);
    zmq_send(qd, "\x0a\xff", 2, 0);
    zmq_pollitem_t qi = {qd, 0, ZMQ_POLLIN, 0};
    CHECK(zmq_poll(&qi, 1, 5000) == 1);
    uint8_t qb[1024];
    int qn = zmq_recv(qd, qb, sizeof qb, ZMQ_DONTWAIT);
    Benang__V1__QueryReply *qr = qn > 0 ? benang__v1__query_reply__unpack(NULL, (size_t)qn, qb) : NULL;
    CHECK(qr && qr->status == BENANG__V1__STATUS__STATUS_BAD_REQUEST);
    if (qr)
        benang__v1__query_reply__free_unpacked(qr, NULL);
    zmq_close(qd);

    zmq_close(g_dealer);
    zmq_ctx_term(g_ctx);
    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_test_hub_cleanup(&h);
    return bn_test_finish("test_hub_badinput");
}
