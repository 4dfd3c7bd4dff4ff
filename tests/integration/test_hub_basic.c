/* test_hub_basic: the spine end to end against a real benang-hub process.
 *
 * Publish (canonical and canonical-json), duplicates and new versions, the
 * live feed with topics, fetch by range and prefix, status counts,
 * pipelined publishing, pseudonymised NIKs, clean shutdown and restart with
 * the log and idempotency keys intact, and a catch-up subscription.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "benang/client.h"
#include "testutil.h"

static bn_client_options_t opts = {.timeout_ms = 10000};

static uint64_t publish_seq(bn_publisher_t *p, const char *agency, const char *adapter,
                            const void *data, size_t len, bn_status_t want, const char *label)
{
    bn_publish_result_t res;
    bn_error_t err;
    bn_status_t st = bn_publisher_publish(p, agency, adapter, data, len, &res, &err);
    CHECK_MSG(st == want, "%s: got %s (%s) want %s", label, bn_status_name(st),
              res.reply && res.reply->error ? res.reply->error : err.msg, bn_status_name(want));
    if ((st == BN_OK || st == BN_DUPLICATE) && res.reply && res.reply->n_events > 0)
        return res.reply->events[0]->seq;
    return 0;
}

static void test_publish_and_feed(bn_test_hub_t *h)
{
    bn_error_t err;
    bn_publisher_t *p = NULL;
    bn_subscriber_t *live = NULL;
    CHECK(bn_publisher_new(&p, h->ingest, &opts, &err) == BN_OK);
    CHECK(bn_subscriber_new(&live, h->feed, NULL, NULL, 0, 0, &opts, &err) == BN_OK);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL); /* let the SUB connect before the first publish */

    size_t la, lb;
    uint8_t *a = bn_test_immunisation("IMM-1", "3174 0512 0325 0001", "08", 1, 0, &la);
    uint8_t *b = bn_test_immunisation("IMM-1", "3174051203250001", "08", 2, 0, &lb);
    CHECK_EQ_U64(publish_seq(p, "puskesmas-a", "canonical", a, la, BN_OK, "first"), 1);
    /* the same again: duplicate, original seq */
    bn_publish_result_t res;
    CHECK(bn_publisher_publish(p, "puskesmas-a", NULL, a, la, &res, &err) == BN_DUPLICATE);
    CHECK(res.reply && res.reply->n_events == 1 && res.reply->events[0]->duplicate);
    CHECK(res.reply && res.reply->n_events == 1 && res.reply->events[0]->seq == 1);
    /* same key, new content: new version superseding seq 1 */
    CHECK(bn_publisher_publish(p, "puskesmas-a", NULL, b, lb, &res, &err) == BN_OK);
    CHECK(res.reply && res.reply->n_events == 1 && res.reply->events[0]->seq == 2);
    CHECK(res.reply && res.reply->n_events == 1 && res.reply->events[0]->supersedes_seq == 1);
    CHECK(res.reply && res.reply->n_events == 1 &&
          strlen(res.reply->events[0]->event_id) == 36);
    /* the same source_id from another agency is another record */
    CHECK_EQ_U64(publish_seq(p, "klinik-b", "canonical", a, la, BN_OK, "other agency"), 3);

    const char *json =
        "[{\"sourceId\":\"IMM-2\",\"occurredAt\":\"2026-11-03\",\"subject\":{\"nik\":"
        "\"3174051203250001\"},\"immunisation\":{\"vaccine\":{\"system\":"
        "\"http://hl7.org/fhir/sid/cvx\",\"code\":\"10\"},\"doseNumber\":1}},"
        "{\"source_id\":\"IMM-3\",\"occurred_at\":\"2026-11-03T10:00:00+07:00\","
        "\"immunisation\":{\"vaccine\":{\"system\":\"http://hl7.org/fhir/sid/cvx\",\"code\":\"20\"},"
        "\"dose_number\":3,\"status\":\"IMMUNISATION_STATUS_COMPLETED\"}}]";
    CHECK(bn_publisher_publish(p, "puskesmas-a", "canonical-json", json, strlen(json), &res,
                               &err) == BN_OK);
    CHECK(res.reply && res.reply->n_events == 2);
    if (res.reply && res.reply->n_events == 2) {
        CHECK_EQ_U64(res.reply->events[0]->seq, 4);
        CHECK_EQ_U64(res.reply->events[1]->seq, 5);
        CHECK_STR(res.reply->events[1]->source_id, "IMM-3");
    }
    const char *training =
        "{\"sourceId\":\"TR-1\",\"occurredAt\":\"2026-11-04\",\"training\":{\"course\":"
        "{\"system\":\"urn:local\",\"code\":\"HYD-1\"},\"provider\":\"SDN C\",\"period\":"
        "{\"start\":\"2026-11-04\",\"end\":\"2026-11-20\"}}}";
    CHECK_EQ_U64(publish_seq(p, "sekolah-c", "canonical-json", training, strlen(training), BN_OK,
                             "training"),
                 6);

    /* the live feed: every new event once, in order, with its topic */
    const char *want_topics[] = {
        "immunisation.health.puskesmas-a", "immunisation.health.puskesmas-a",
        "immunisation.health.klinik-b",    "immunisation.health.puskesmas-a",
        "immunisation.health.puskesmas-a", "training.education.sekolah-c"};
    char key1[80] = "";
    for (uint64_t s = 1; s <= 6; s++) {
        const Benang__V1__Event *ev = NULL;
        const char *topic = NULL;
        bn_status_t st = bn_subscriber_next(live, 5000, &ev, &topic, &err);
        CHECK_MSG(st == BN_OK, "feed event %llu: %s", (unsigned long long)s, bn_status_name(st));
        if (st != BN_OK)
            break;
        CHECK_EQ_U64(ev->seq, s);
        CHECK_STR(topic, want_topics[s - 1]);
        if (s <= 2) {
            CHECK(ev->subject != NULL);
            if (!ev->subject)
                continue;
            CHECK_STR(ev->subject->nik, ""); /* pseudonymised by default */
            CHECK(strlen(ev->subject->subject_key) == 64);
            if (s == 1)
                snprintf(key1, sizeof key1, "%s", ev->subject->subject_key);
            else /* the same NIK written differently gives the same pseudonym */
                CHECK_STR(ev->subject->subject_key, key1);
            CHECK(strlen(ev->recorded_at) > 10);
            CHECK_STR(ev->agency, "puskesmas-a");
            CHECK_STR(ev->sector, "health");
            CHECK_STR(ev->type, "immunisation");
        }
    }
    free(a);
    free(b);
    bn_subscriber_destroy(&live);
    bn_publisher_destroy(&p);
}

static void test_fetch_and_status(bn_test_hub_t *h)
{
    bn_error_t err;
    bn_query_t *q = NULL;
    CHECK(bn_query_new(&q, h->query, &opts, &err) == BN_OK);
    const Benang__V1__FetchReply *fr = NULL;
    CHECK(bn_query_fetch(q, 1, 0, 0, NULL, 0, &fr, &err) == BN_OK);
    CHECK(fr && fr->n_events == 6 && fr->head_seq == 6 && fr->next_seq == 7);
    for (size_t i = 0; fr && i < fr->n_events; i++)
        CHECK_EQ_U64(fr->events[i]->seq, i + 1);
    const char *pre[] = {"training."};
    CHECK(bn_query_fetch(q, 1, 0, 0, pre, 1, &fr, &err) == BN_OK);
    CHECK(fr && fr->n_events == 1 && fr->events[0]->seq == 6);
    const char *pre2[] = {"immunisation.health.klinik-b", "nothing."};
    CHECK(bn_query_fetch(q, 2, 5, 0, pre2, 2, &fr, &err) == BN_OK);
    CHECK(fr && fr->n_events == 1 && fr->events[0]->seq == 3);
    CHECK(bn_query_fetch(q, 3, 4, 0, NULL, 0, &fr, &err) == BN_OK);
    CHECK(fr && fr->n_events == 2 && fr->next_seq == 5);
    CHECK(bn_query_fetch(q, 2, 0, 2, NULL, 0, &fr, &err) == BN_OK);
    CHECK(fr && fr->n_events == 2 && fr->events[0]->seq == 2 && fr->next_seq == 4);
    CHECK(bn_query_fetch(q, 100, 0, 0, NULL, 0, &fr, &err) == BN_OK);
    CHECK(fr && fr->n_events == 0 && fr->head_seq == 6);

    /* the raw fetch gives the same events, undecoded */
    const bn_raw_event_t *raw = NULL;
    size_t n_raw = 0;
    uint64_t head = 0, next = 0;
    CHECK(bn_query_fetch_raw(q, 2, 0, 0, pre, 1, &raw, &n_raw, &head, &next, &err) == BN_OK);
    CHECK(n_raw == 1 && raw[0].seq == 6 && head == 6 && next == 7);
    CHECK(bn_query_fetch_raw(q, 1, 0, 0, NULL, 0, &raw, &n_raw, &head, &next, &err) == BN_OK);
    CHECK_EQ_U64(n_raw, 6);
    for (size_t i = 0; i < n_raw; i++) {
        CHECK_EQ_U64(raw[i].seq, i + 1);
        Benang__V1__Event *ev = benang__v1__event__unpack(NULL, raw[i].len, raw[i].data);
        CHECK(ev && ev->seq == i + 1 && strlen(ev->event_id) == 36);
        if (ev)
            benang__v1__event__free_unpacked(ev, NULL);
    }

    const Benang__V1__StatusReply *sr = NULL;
    CHECK(bn_query_status(q, &sr, &err) == BN_OK);
    CHECK(sr && sr->head_seq == 6 && sr->events == 6);
    uint64_t imm = 0, tr = 0, pa = 0;
    for (size_t i = 0; sr && i < sr->n_by_type; i++) {
        if (strcmp(sr->by_type[i]->key, "immunisation") == 0)
            imm = sr->by_type[i]->count;
        if (strcmp(sr->by_type[i]->key, "training") == 0)
            tr = sr->by_type[i]->count;
    }
    for (size_t i = 0; sr && i < sr->n_by_agency; i++)
        if (strcmp(sr->by_agency[i]->key, "puskesmas-a") == 0)
            pa = sr->by_agency[i]->count;
    CHECK_EQ_U64(imm, 5);
    CHECK_EQ_U64(tr, 1);
    CHECK_EQ_U64(pa, 4);
    CHECK(sr && strcmp(sr->durability, "sync") == 0 && sr->store_bytes > 0);
    bn_query_destroy(&q);
}

static void test_pipelined(bn_test_hub_t *h, unsigned n)
{
    bn_error_t err;
    bn_publisher_t *p = NULL;
    CHECK(bn_publisher_new(&p, h->ingest, &opts, &err) == BN_OK);
    uint64_t head0 = 6, max_seq = 0, acked = 0;
    unsigned sent = 0;
    while (acked < n) {
        while (sent < n && bn_publisher_in_flight(p) < 64) {
            char sid[32];
            snprintf(sid, sizeof sid, "PIPE-%u", sent);
            size_t len;
            uint8_t *ev = bn_test_immunisation(sid, NULL, "08", 1, 200, &len);
            CHECK(bn_publisher_send(p, "sekolah-c", "canonical", ev, len, NULL, &err) == BN_OK);
            free(ev);
            sent++;
        }
        bn_publish_result_t res;
        bn_status_t st = bn_publisher_recv(p, 10000, &res, &err);
        if (st != BN_OK) {
            CHECK_MSG(st == BN_OK, "pipelined ack %llu: %s", (unsigned long long)acked,
                      bn_status_name(st));
            break;
        }
        acked++;
        if (res.reply->n_events == 1 && res.reply->events[0]->seq > max_seq)
            max_seq = res.reply->events[0]->seq;
    }
    CHECK_EQ_U64(max_seq, head0 + n);
    bn_publisher_destroy(&p);
}

static void test_restart(bn_test_hub_t *h)
{
    int st = bn_test_hub_stop(h, SIGTERM);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean exit on SIGTERM (status %d)", st);
    CHECK(bn_test_hub_restart(h) == 0);
    bn_error_t err;
    bn_publisher_t *p = NULL;
    CHECK(bn_publisher_new(&p, h->ingest, &opts, &err) == BN_OK);
    size_t la;
    uint8_t *a = bn_test_immunisation("IMM-1", "3174051203250001", "08", 2, 0, &la);
    /* the idempotency key survived the restart: still the seq-2 version */
    CHECK_EQ_U64(publish_seq(p, "puskesmas-a", NULL, a, la, BN_DUPLICATE, "after restart"), 2);
    free(a);

    /* catch-up: from seq 5 through the log, then live with no gap or repeat */
    bn_subscriber_t *s = NULL;
    const char *pre[] = {"immunisation."};
    CHECK(bn_subscriber_new(&s, h->feed, h->query, pre, 1, 5, &opts, &err) == BN_OK);
    const Benang__V1__Event *ev = NULL;
    CHECK(bn_subscriber_next(s, 5000, &ev, NULL, &err) == BN_OK && ev && ev->seq == 5);
    uint64_t last = 5, n = 1;
    while (bn_subscriber_next(s, 300, &ev, NULL, &err) == BN_OK) {
        CHECK_MSG(ev->seq > last, "seq %llu after %llu", (unsigned long long)ev->seq,
                  (unsigned long long)last);
        last = ev->seq;
        n++;
    }
    CHECK_EQ_U64(n, 201); /* seq 5 and the 200 pipelined immunisations */
    uint8_t *c = bn_test_immunisation("IMM-LIVE", NULL, "08", 1, 0, &la);
    uint64_t live_seq = publish_seq(p, "puskesmas-a", NULL, c, la, BN_OK, "live");
    CHECK(bn_subscriber_next(s, 5000, &ev, NULL, &err) == BN_OK && ev && ev->seq == live_seq);
    free(c);
    bn_subscriber_destroy(&s);
    bn_publisher_destroy(&p);
}

int main(void)
{
    bn_test_hub_t h = {0};
    if (bn_test_hub_start(&h, NULL, NULL) != 0) {
        fprintf(stderr, "cannot start benang-hub\n");
        bn_test_hub_dump_log(&h);
        return 1;
    }
    test_publish_and_feed(&h);
    test_fetch_and_status(&h);
    test_pipelined(&h, 200);
    test_restart(&h);
    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_test_hub_cleanup(&h);
    return bn_test_finish("test_hub_basic");
}
