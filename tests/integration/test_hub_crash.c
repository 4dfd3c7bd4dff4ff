/* test_hub_crash: acked means durable, across kill -9.
 *
 * A pipelined publisher streams distinct events; after a few thousand acks
 * the hub is killed with SIGKILL while requests are in flight. The hub is
 * restarted, the publisher resends every request it has no ack for (and a
 * sample of acked ones), then finishes the stream. The log must hold every
 * acked event at the seq it was acked with, each source_id exactly once, and
 * seqs 1..head with no gap. Once with the default durability (sync), once
 * buffered, which promises the same across a hub crash.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "benang/client.h"
#include "testutil.h"

#define TOTAL 6000
#define KILL_AFTER 2500
#define WINDOW 48

static uint64_t acked_seq[TOTAL];
static bn_client_options_t opts = {.timeout_ms = 3000};

static void send_one(bn_publisher_t *p, unsigned i)
{
    char sid[32];
    snprintf(sid, sizeof sid, "K-%u", i);
    size_t len;
    uint8_t *ev = bn_test_immunisation(sid, NULL, "08", 1, 150, &len);
    bn_error_t err;
    CHECK(bn_publisher_send(p, "puskesmas-a", "canonical", ev, len, NULL, &err) == BN_OK);
    free(ev);
}

static bool take_ack(bn_publisher_t *p, int timeout)
{
    bn_publish_result_t res;
    bn_error_t err;
    bn_status_t st = bn_publisher_recv(p, timeout, &res, &err);
    if (st != BN_OK && st != BN_DUPLICATE)
        return false;
    unsigned i;
    if (res.reply->n_events == 1 && sscanf(res.reply->events[0]->source_id, "K-%u", &i) == 1 &&
        i < TOTAL) {
        uint64_t seq = res.reply->events[0]->seq;
        CHECK_MSG(acked_seq[i] == 0 || acked_seq[i] == seq, "K-%u acked as %llu then %llu", i,
                  (unsigned long long)acked_seq[i], (unsigned long long)seq);
        acked_seq[i] = seq;
    }
    return true;
}

/* Send [from, to) with a window; collect acks. Stops early after kill_after acks. */
static unsigned stream(bn_publisher_t *p, unsigned from, unsigned to, unsigned kill_after,
                       bn_test_hub_t *h)
{
    unsigned next = from, acks = 0;
    while (next < to || bn_publisher_in_flight(p) > 0) {
        while (next < to && bn_publisher_in_flight(p) < WINDOW)
            send_one(p, next++);
        if (!take_ack(p, 3000))
            break;
        if (kill_after && ++acks == kill_after) {
            bn_test_hub_stop(h, SIGKILL);
            break;
        }
    }
    return next;
}

/* The whole scenario against a hub with hub_extra in its config. */
static void crash_and_resend(const char *hub_extra, const char *label)
{
    bn_test_hub_t h = {0};
    memset(acked_seq, 0, sizeof acked_seq);
    printf("%s:\n", label);
    if (bn_test_hub_start(&h, hub_extra, NULL) != 0) {
        bn_test_hub_dump_log(&h);
        CHECK_MSG(0, "%s: hub did not start", label);
        return;
    }
    bn_publisher_t *p = NULL;
    bn_error_t err;
    CHECK(bn_publisher_new(&p, h.ingest, &opts, &err) == BN_OK);
    unsigned sent = stream(p, 0, TOTAL, KILL_AFTER, &h);
    unsigned acked_before = 0;
    for (unsigned i = 0; i < TOTAL; i++)
        acked_before += acked_seq[i] != 0;
    printf("killed after %u acks with %u sent\n", acked_before, sent);
    CHECK(acked_before >= KILL_AFTER);
    CHECK(sent > acked_before); /* requests were in flight at the kill */
    bn_publisher_destroy(&p);

    CHECK(bn_test_hub_restart(&h) == 0);
    CHECK(bn_publisher_new(&p, h.ingest, &opts, &err) == BN_OK);
    /* Resend what has no ack, plus every 10th acked one (must come back DUPLICATE, same seq). */
    unsigned resent = 0;
    for (unsigned i = 0; i < sent; i++) {
        if (acked_seq[i] && i % 10)
            continue;
        while (bn_publisher_in_flight(p) >= WINDOW)
            CHECK(take_ack(p, 5000));
        send_one(p, i);
        resent++;
    }
    while (bn_publisher_in_flight(p) > 0)
        if (!take_ack(p, 5000)) {
            CHECK_MSG(0, "no ack for a resent request");
            break;
        }
    stream(p, sent, TOTAL, 0, &h);
    bn_publisher_destroy(&p);

    /* Read the whole log back. */
    bn_query_t *q = NULL;
    CHECK(bn_query_new(&q, h.query, &opts, &err) == BN_OK);
    static uint64_t stored_seq[TOTAL];
    memset(stored_seq, 0, sizeof stored_seq);
    uint64_t from = 1, expect_seq = 1, head = 0, dups = 0, gaps = 0;
    for (;;) {
        const Benang__V1__FetchReply *fr = NULL;
        if (bn_query_fetch(q, from, 0, 5000, NULL, 0, &fr, &err) != BN_OK) {
            CHECK_MSG(0, "fetch from %llu failed: %s", (unsigned long long)from, err.msg);
            break;
        }
        head = fr->head_seq;
        for (size_t k = 0; k < fr->n_events; k++) {
            const Benang__V1__Event *ev = fr->events[k];
            gaps += ev->seq != expect_seq;
            expect_seq = ev->seq + 1;
            unsigned i;
            if (sscanf(ev->source_id, "K-%u", &i) == 1 && i < TOTAL) {
                dups += stored_seq[i] != 0;
                stored_seq[i] = ev->seq;
            }
        }
        if (fr->n_events == 0 || fr->next_seq > head)
            break;
        from = fr->next_seq;
    }
    bn_query_destroy(&q);
    uint64_t lost = 0, moved = 0, missing = 0;
    for (unsigned i = 0; i < TOTAL; i++) {
        if (stored_seq[i] == 0)
            missing++;
        if (acked_seq[i] && stored_seq[i] == 0)
            lost++;
        if (acked_seq[i] && stored_seq[i] && acked_seq[i] != stored_seq[i])
            moved++;
    }
    printf("head=%llu resent=%u lost=%llu moved=%llu dups=%llu gaps=%llu missing=%llu\n",
           (unsigned long long)head, resent, (unsigned long long)lost,
           (unsigned long long)moved, (unsigned long long)dups, (unsigned long long)gaps,
           (unsigned long long)missing);
    CHECK_EQ_U64(lost, 0);
    CHECK_EQ_U64(moved, 0);
    CHECK_EQ_U64(dups, 0);
    CHECK_EQ_U64(gaps, 0);
    CHECK_EQ_U64(missing, 0);
    CHECK_EQ_U64(head, TOTAL);
    CHECK_MSG(bn_test_hub_stop(&h, SIGTERM) == 0, "%s: no clean stop", label);
    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_test_hub_cleanup(&h);
}

int main(void)
{
    crash_and_resend(NULL, "sync (the default)");
    /* Buffered promises the same across a hub crash (the page cache keeps
     * what was written), with its fsyncs made by a thread of their own. */
    crash_and_resend("  durability: buffered\n  sync_interval_ms: 20\n", "buffered");
    return bn_test_finish("test_hub_crash");
}
