/* test_overlaps: the write path of issue 4 against a real hub: overlap rules
 * raise alert events (once per pair, not again on replay or a new version),
 * probabilistic linkage links a record without NIK to the person with one,
 * referral threads refuse impossible transitions with CONFLICT (the whole
 * request, nothing stored), sub-referrals need their parent's receiver, and
 * the unanswered-referral timer fires on the event clock; a hub killed in
 * the middle of a staged index pass derives the whole pass again. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "benang/client.h"
#include "testutil.h"

static bn_client_options_t opts = {.timeout_ms = 10000};

static const char *agencies_and_rules =
    "agencies:\n"
    "  - id: puskesmas-a\n"
    "    sector: health\n"
    "    adapters: [canonical-json]\n"
    "  - id: klinik-b\n"
    "    sector: health\n"
    "    adapters: [canonical-json]\n"
    "  - id: sekolah-c\n"
    "    sector: education\n"
    "    adapters: [canonical-json]\n"
    "  - id: dinsos-d\n"
    "    sector: social\n"
    "    adapters: [canonical-json]\n"
    "rules:\n"
    "  - id: duplicate-immunisation-dose\n"
    "    kind: duplicate_service\n"
    "    type: immunisation\n"
    "    match: [subject, vaccine, dose]\n"
    "    within_days: 365\n"
    "  - id: overlapping-program\n"
    "    kind: overlapping_program\n"
    "    type: program\n"
    "    match: [sector, target_group, area]\n"
    "    periods_overlap: true\n"
    "    across_agencies: true\n"
    "  - id: unanswered-referral\n"
    "    kind: unanswered_referral\n"
    "    type: referral\n"
    "    answer_within_hours: 72\n"
    "    clock_lag_hours: 0\n";

static bn_publisher_t *pub;
static bn_query_t *qry;

/* Publish json as agency; the status; *seq the first event's seq (0 when none). */
static bn_status_t send(const char *agency, const char *json, uint64_t *seq, char *why, size_t cap)
{
    bn_publish_result_t res;
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st =
        bn_publisher_publish(pub, agency, "canonical-json", json, strlen(json), &res, &err);
    if (seq)
        *seq = res.reply && res.reply->n_events ? res.reply->events[0]->seq : 0;
    if (why)
        snprintf(why, cap, "%s at %s", err.msg, err.where);
    return st;
}

static char imm_buf[1024];
static const char *imm(const char *src, const char *subject, const char *cvx, unsigned dose,
                       const char *on, const char *lot)
{
    snprintf(imm_buf, sizeof imm_buf,
             "{\"sourceId\":\"%s\",\"occurredAt\":\"%s\",\"subject\":%s,\"immunisation\":"
             "{\"vaccine\":{\"system\":\"http://hl7.org/fhir/sid/cvx\",\"code\":\"%s\"},"
             "\"doseNumber\":%u,\"administeredOn\":\"%.10s\",\"lotNumber\":\"%s\"}}",
             src, on, subject, cvx, dose, on, lot);
    return imm_buf;
}

static char ref_buf[1024];
static const char *ref(const char *src, const char *id, const char *from, const char *to,
                       const char *status, const char *at, const char *parent)
{
    snprintf(ref_buf, sizeof ref_buf,
             "{\"sourceId\":\"%s\",\"occurredAt\":\"%s\",\"referral\":{\"referralId\":\"%s\","
             "\"fromAgency\":\"%s\",\"toAgency\":\"%s\",\"status\":\"REFERRAL_STATUS_%s\","
             "\"parentReferralId\":\"%s\",\"reasonText\":\"needs social assistance\"}}",
             src, at, id, from, to, status, parent);
    return ref_buf;
}

/* The alerts stored so far, in seq order. */
static size_t alerts(const Benang__V1__Event ***out)
{
    const char *prefix = "alert.";
    const Benang__V1__FetchReply *rep = NULL;
    bn_error_t err;
    if (bn_query_fetch(qry, 0, 0, 1000, &prefix, 1, &rep, &err) != BN_OK || !rep)
        return 0;
    *out = (const Benang__V1__Event **)rep->events;
    return rep->n_events;
}

static const Benang__V1__Event *event_at(uint64_t seq)
{
    const Benang__V1__FetchReply *rep = NULL;
    bn_error_t err;
    if (bn_query_fetch(qry, seq, seq, 1, NULL, 0, &rep, &err) != BN_OK || !rep ||
        rep->n_events != 1)
        return NULL;
    return rep->events[0];
}

static uint64_t head(void)
{
    const Benang__V1__StatusReply *sr = NULL;
    bn_error_t err;
    return bn_query_status(qry, &sr, &err) == BN_OK && sr ? sr->head_seq : 0;
}

#define NIK_X "{\"nik\":\"3174050101200001\",\"name\":\"Budi\",\"birthDate\":\"2020-01-01\"}"
#define DJOKO                                                                              \
    "{\"nik\":\"3174050202200002\",\"name\":\"Djoko Santoso\",\"birthDate\":\"2020-02-02\"," \
    "\"sex\":\"SEX_MALE\",\"village\":\"Tanjung Barat\"}"
#define JOKO                                                                                \
    "{\"name\":\"JOKO  SANTOSO\",\"birthDate\":\"2020-02-02\",\"sex\":\"SEX_MALE\",\"village\":" \
    "\"Kel. Tanjung Barat\"}"
#define SITI                                                                                \
    "{\"name\":\"Siti Aminah\",\"birthDate\":\"2020-02-02\",\"sex\":\"SEX_FEMALE\",\"village\":" \
    "\"Tanjung Barat\"}"

static void test_duplicates(void)
{
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    char why[512];
    CHECK(send("puskesmas-a", imm("I-1", NIK_X, "08", 1, "2026-10-01", "L1"), &s1, why, sizeof why) ==
          BN_OK);
    CHECK(send("klinik-b", imm("I-2", NIK_X, "08", 1, "2026-10-05", "L2"), &s2, why, sizeof why) ==
          BN_OK);
    const Benang__V1__Event **al = NULL;
    size_t n = alerts(&al);
    CHECK_EQ_U64(n, 1);
    if (n == 1) {
        const Benang__V1__Alert *a = al[0]->alert;
        CHECK(a != NULL);
        CHECK_STR(al[0]->type, "alert");
        CHECK_EQ_U64(al[0]->seq, s2 + 1);
        CHECK_STR(a->rule, "duplicate-immunisation-dose");
        CHECK_STR(a->kind, "duplicate_service");
        CHECK_STR(a->sector, "health");
        CHECK(a->n_seqs == 2 && a->seqs[0] == s1 && a->seqs[1] == s2);
        CHECK(a->n_source_ids == 2 && strcmp(a->source_ids[0], "I-1") == 0 &&
              strcmp(a->source_ids[1], "I-2") == 0);
        CHECK(a->n_agencies == 2 && strcmp(a->agencies[0], "puskesmas-a") == 0 &&
              strcmp(a->agencies[1], "klinik-b") == 0);
        CHECK_EQ_U64(strlen(a->subject_key), 64);
        CHECK(strstr(a->message, "Dose 1") != NULL && !strstr(a->message, "3174"));
    }
    /* The same event again, and a new version of it: no second alert. */
    CHECK(send("klinik-b", imm("I-2", NIK_X, "08", 1, "2026-10-05", "L2"), NULL, NULL, 0) ==
          BN_DUPLICATE);
    CHECK(send("klinik-b", imm("I-2", NIK_X, "08", 1, "2026-10-05", "L2-fixed"), NULL, NULL, 0) ==
          BN_OK);
    /* Near misses: another dose; the same dose entered by the same record again. */
    CHECK(send("klinik-b", imm("I-3", NIK_X, "08", 2, "2026-11-05", "L3"), &s3, NULL, 0) == BN_OK);
    CHECK_EQ_U64(alerts(&al), 1);
    /* A third record of dose 1: one alert, with the earliest record. */
    CHECK(send("sekolah-c", imm("B-9", NIK_X, "08", 1, "2026-10-20", "L9"), NULL, NULL, 0) ==
          BN_OK);
    CHECK_EQ_U64(alerts(&al), 2);
    if (alerts(&al) == 2)
        CHECK(strcmp(al[1]->alert->source_ids[0], "I-1") == 0 &&
              strcmp(al[1]->alert->source_ids[1], "B-9") == 0);
}

static void test_linkage(void)
{
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    char why[512];
    CHECK(send("puskesmas-a", imm("I-10", DJOKO, "20", 1, "2026-10-02", "L"), &s1, why,
               sizeof why) == BN_OK);
    const Benang__V1__Event **al = NULL;
    size_t before = alerts(&al);
    CHECK(send("klinik-b", imm("I-11", JOKO, "20", 1, "2026-10-09", "L"), &s2, why, sizeof why) ==
          BN_OK);
    CHECK(send("klinik-b", imm("I-12", SITI, "20", 1, "2026-10-09", "L"), &s3, why, sizeof why) ==
          BN_OK);
    CHECK_EQ_U64(alerts(&al), before + 1);
    char key1[80] = "";
    const Benang__V1__Event *e = event_at(s1);
    CHECK(e && e->subject && e->subject->link);
    if (e && e->subject && e->subject->link) {
        CHECK_EQ_U64(e->subject->link->method, BENANG__V1__LINK_METHOD__LINK_METHOD_NIK);
        snprintf(key1, sizeof key1, "%s", e->subject->subject_key);
        CHECK(e->subject->nik == NULL || e->subject->nik[0] == '\0');
    }
    e = event_at(s2);
    CHECK(e && e->subject && e->subject->link);
    if (e && e->subject && e->subject->link) {
        CHECK_EQ_U64(e->subject->link->method, BENANG__V1__LINK_METHOD__LINK_METHOD_PROBABILISTIC);
        CHECK(e->subject->link->score >= 0.9);
        CHECK_STR(e->subject->subject_key, key1);
    }
    e = event_at(s3);
    CHECK(e && e->subject && e->subject->link);
    if (e && e->subject && e->subject->link) {
        CHECK_EQ_U64(e->subject->link->method, BENANG__V1__LINK_METHOD__LINK_METHOD_NEW);
        CHECK(strcmp(e->subject->subject_key, key1) != 0 && strlen(e->subject->subject_key) == 64);
    }
}

static void test_programs(void)
{
    const char *p1 = "{\"sourceId\":\"P-1\",\"occurredAt\":\"2026-10-01\",\"program\":{\"programId\":"
                     "\"P-1\",\"sector\":\"health\",\"targetGroup\":\"children-under-5\",\"areas\":"
                     "[\"RW-05\",\"RW-06\"],\"period\":{\"start\":\"2026-10-01\",\"end\":"
                     "\"2026-12-31\"}}}";
    const char *p2 = "{\"sourceId\":\"P-2\",\"occurredAt\":\"2026-10-01\",\"program\":{\"programId\":"
                     "\"P-2\",\"sector\":\"health\",\"targetGroup\":\"children-under-5\",\"areas\":"
                     "[\"RW-06\"],\"period\":{\"start\":\"2026-12-31\",\"end\":\"2027-02-28\"}}}";
    const char *p3 = "{\"sourceId\":\"P-3\",\"occurredAt\":\"2026-10-01\",\"program\":{\"programId\":"
                     "\"P-3\",\"sector\":\"health\",\"targetGroup\":\"children-under-5\",\"areas\":"
                     "[\"RW-07\"],\"period\":{\"start\":\"2026-10-01\",\"end\":\"2026-12-31\"}}}";
    const char *p4 = "{\"sourceId\":\"P-4\",\"occurredAt\":\"2026-10-01\",\"program\":{\"programId\":"
                     "\"P-4\",\"sector\":\"health\",\"targetGroup\":\"children-under-5\",\"areas\":"
                     "[\"RW-05\"],\"period\":{\"start\":\"2027-01-01\",\"end\":\"2027-03-31\"}}}";
    const Benang__V1__Event **al = NULL;
    size_t before = alerts(&al);
    CHECK(send("puskesmas-a", p1, NULL, NULL, 0) == BN_OK);
    CHECK(send("puskesmas-a", p3, NULL, NULL, 0) == BN_OK); /* same agency: never */
    CHECK(send("klinik-b", p4, NULL, NULL, 0) == BN_OK);   /* after P-1 ends: no */
    CHECK_EQ_U64(alerts(&al), before);
    CHECK(send("klinik-b", p2, NULL, NULL, 0) == BN_OK); /* shares RW-06 and 2026-12-31 */
    size_t n = alerts(&al);
    CHECK_EQ_U64(n, before + 1);
    if (n == before + 1) {
        CHECK_STR(al[n - 1]->alert->kind, "overlapping_program");
        CHECK_STR(al[n - 1]->alert->area, "RW-06");
        CHECK_STR(al[n - 1]->alert->period_start, "2026-12-31");
    }
}

static const char *g_config; /* the hub's config, for benangctl */

static void test_referrals(void)
{
    char why[512];
    const Benang__V1__Event **al = NULL;
    size_t before = alerts(&al);
    CHECK(send("puskesmas-a",
               ref("R-1a", "R-1", "puskesmas-a", "dinsos-d", "REQUESTED", "2026-11-11T08:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_OK);
    CHECK(send("dinsos-d",
               ref("R-1b", "R-1", "puskesmas-a", "dinsos-d", "ACCEPTED", "2026-11-12T08:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_OK);
    /* Passed on to the school: a sub-referral of R-1, by R-1's receiver. */
    CHECK(send("dinsos-d",
               ref("R-2a", "R-2", "dinsos-d", "sekolah-c", "REQUESTED", "2026-11-12T09:00:00+07:00", "R-1"),
               NULL, why, sizeof why) == BN_OK);
    CHECK(send("sekolah-c",
               ref("R-2b", "R-2", "dinsos-d", "sekolah-c", "ACCEPTED", "2026-11-13T09:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_OK);
    CHECK(send("dinsos-d",
               ref("R-1c", "R-1", "puskesmas-a", "dinsos-d", "COMPLETED", "2026-11-14T08:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_OK);
    uint64_t h0 = head();
    /* Impossible: completed -> accepted; unknown thread; not a party; a parent not addressed to the
     * sender. */
    CHECK(send("dinsos-d",
               ref("R-1d", "R-1", "puskesmas-a", "dinsos-d", "ACCEPTED", "2026-11-14T09:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_CONFLICT);
    CHECK_MSG(strstr(why, "cannot go from completed to accepted") && strstr(why, "referral.status"),
              "got %s", why);
    CHECK(send("dinsos-d",
               ref("R-9b", "R-9", "puskesmas-a", "dinsos-d", "ACCEPTED", "2026-11-14T09:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_CONFLICT);
    CHECK_MSG(strstr(why, "not known to the hub"), "got %s", why);
    CHECK(send("sekolah-c",
               ref("R-1e", "R-1", "puskesmas-a", "dinsos-d", "CANCELLED", "2026-11-14T09:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_CONFLICT);
    CHECK_MSG(strstr(why, "neither the sender"), "got %s", why);
    CHECK(send("puskesmas-a",
               ref("R-3a", "R-3", "puskesmas-a", "sekolah-c", "REQUESTED", "2026-11-14T09:00:00+07:00", "R-1"),
               NULL, why, sizeof why) == BN_CONFLICT);
    CHECK_MSG(strstr(why, "may pass it on"), "got %s", why);
    /* All or nothing: a good immunisation and a bad referral in one request. */
    char both[2048];
    snprintf(both, sizeof both, "%s\n", imm("I-50", NIK_X, "03", 1, "2026-11-14", "L"));
    strcat(both, ref("R-1f", "R-1", "puskesmas-a", "dinsos-d", "IN_PROGRESS", "2026-11-14T10:00:00+07:00", ""));
    CHECK(send("dinsos-d", both, NULL, why, sizeof why) == BN_CONFLICT);
    CHECK_MSG(strstr(why, "event 2"), "got %s", why);
    CHECK_EQ_U64(head(), h0);
    /* Requested and accepted in one request: fine, in order. */
    snprintf(both, sizeof both, "%s\n",
             ref("R-5a", "R-5", "puskesmas-a", "dinsos-d", "REQUESTED", "2026-11-14T10:00:00+07:00", ""));
    strcat(both, ref("R-5b", "R-5", "puskesmas-a", "dinsos-d", "CANCELLED", "2026-11-14T11:00:00+07:00", ""));
    CHECK(send("puskesmas-a", both, NULL, why, sizeof why) == BN_OK);
    CHECK_EQ_U64(alerts(&al), before);

    /* Unanswered: requested on the 15th; the event clock reaches the 18th at 09:00+07
     * (event time: the dates must not be after today, the clock never passes the wall clock). */
    uint64_t s4 = 0;
    CHECK(send("puskesmas-a",
               ref("R-4a", "R-4", "puskesmas-a", "dinsos-d", "REQUESTED", "2026-11-15T08:00:00+07:00", ""),
               &s4, why, sizeof why) == BN_OK);
    CHECK(send("puskesmas-a", imm("I-60", NIK_X, "10", 1, "2026-11-17T12:00:00+07:00", "L"), NULL,
               why, sizeof why) == BN_OK);
    CHECK_EQ_U64(alerts(&al), before); /* 52 hours: not yet */
    CHECK(send("puskesmas-a", imm("I-61", NIK_X, "10", 2, "2026-11-18T09:00:00+07:00", "L"), NULL,
               why, sizeof why) == BN_OK);
    size_t n = alerts(&al);
    CHECK_EQ_U64(n, before + 1);
    if (n == before + 1) {
        const Benang__V1__Alert *a = al[n - 1]->alert;
        CHECK_STR(a->kind, "unanswered_referral");
        CHECK_STR(a->referral_id, "R-4");
        CHECK_STR(a->sector, "social");
        CHECK(a->n_seqs == 1 && a->seqs[0] == s4);
        CHECK(a->n_source_ids == 1 && strcmp(a->source_ids[0], "R-4a") == 0);
        CHECK(a->n_agencies == 2 && strcmp(a->agencies[1], "dinsos-d") == 0);
    }
    /* A late answer is still accepted; the alert stays. */
    CHECK(send("dinsos-d",
               ref("R-4b", "R-4", "puskesmas-a", "dinsos-d", "ACCEPTED", "2026-11-18T10:00:00+07:00", ""),
               NULL, why, sizeof why) == BN_OK);
    /* The school's queue as a feed: only referral events addressed to it. */
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tail --config %s --addressed-to sekolah-c --json", BN_CTL_BIN,
             g_config);
    CHECK(bn_test_run(cmd, &out) == 0);
    CHECK_MSG(out && strstr(out, "\"R-2a\"") && strstr(out, "\"R-2b\"") && !strstr(out, "R-1a") &&
                  !strstr(out, "\"immunisation\""),
              "got %s", out ? out : "");
    free(out);
}

/* Stop the hub with sig (SIGKILL: a crash; SIGTERM: a clean stop, exit 0),
 * start it again on the same store and connect pub and qry to it. */
static void restart(bn_test_hub_t *h, int sig)
{
    bn_error_t err;
    bn_publisher_destroy(&pub);
    bn_query_destroy(&qry);
    int st = bn_test_hub_stop(h, sig);
    CHECK_MSG(sig == SIGKILL ? st != -1 : st == 0, "hub stop with signal %d: status %d", sig, st);
    CHECK(bn_test_hub_restart(h) == 0);
    CHECK(bn_publisher_new(&pub, h->ingest, &opts, &err) == BN_OK);
    CHECK(bn_query_new(&qry, h->query, &opts, &err) == BN_OK);
}

/* How many times the hub's log says msg=<what> so far. */
static unsigned log_count(const bn_test_hub_t *h, const char *what)
{
    char *log = bn_test_read_file(h->log, NULL), pat[64];
    snprintf(pat, sizeof pat, "msg=%s ", what);
    unsigned n = 0;
    for (const char *p = log; p && (p = strstr(p, pat)) != NULL; p++)
        n++;
    free(log);
    return n;
}

/* The upto of the hub's last "msg=<what> upto=N" line (0: none). */
static uint64_t last_upto(const bn_test_hub_t *h, const char *what)
{
    char *log = bn_test_read_file(h->log, NULL), pat[64];
    snprintf(pat, sizeof pat, "msg=%s upto=", what);
    uint64_t upto = 0;
    for (const char *p = log; p && (p = strstr(p, pat)) != NULL; p++)
        upto = strtoull(p + strlen(pat), NULL, 10);
    free(log);
    return upto;
}

/* Every "rule_index_flushed" line so far names the writer's CPU in the
 * pass's steps, and that is no more than the pass's wall time (one thread:
 * its CPU within an interval cannot exceed it; +1 for the two roundings).
 * Returns the number of lines checked. */
static unsigned check_pass_cpu(const bn_test_hub_t *h)
{
    char *log = bn_test_read_file(h->log, NULL);
    unsigned n = 0;
    for (const char *p = log; p && (p = strstr(p, "msg=rule_index_flushed ")) != NULL; p++) {
        const char *eol = strchr(p, '\n'), *ms = strstr(p, " ms="),
                   *cpu = strstr(p, " step_cpu_ms=");
        CHECK_MSG(ms && cpu && (!eol || (ms < eol && cpu < eol)),
                  "a pass's line lacks ms or step_cpu_ms");
        if (!ms || !cpu)
            break;
        unsigned long long wall = strtoull(ms + 4, NULL, 10), used = strtoull(cpu + 13, NULL, 10);
        CHECK_MSG(used <= wall + 1, "a pass's steps used %llu ms of CPU in %llu ms", used, wall);
        n++;
    }
    free(log);
    return n;
}

#define PASS_EVENTS 5 /* events per request in the kill test */
#define PASS_MAX_REQUESTS 2000

/* Child number i's first dose of vaccine 08 (and, with dup, a second record
 * of that same dose at another clinic), as canonical JSON. */
static const char *child_dose(char *buf, size_t cap, unsigned i, bool dup)
{
    snprintf(buf, cap,
             "{\"sourceId\":\"%s-%u\",\"occurredAt\":\"2026-03-%02u\",\"subject\":"
             "{\"nik\":\"3174%012u\",\"name\":\"Anak %u\",\"birthDate\":\"2025-01-01\"},"
             "\"immunisation\":{\"vaccine\":{\"system\":\"http://hl7.org/fhir/sid/cvx\","
             "\"code\":\"08\"},\"doseNumber\":1,\"administeredOn\":\"2026-03-%02u\"}}",
             dup ? "D" : "K", i, 1 + i % 28, 100000u + i, i, 1 + i % 28);
    return buf;
}

/* Kill the hub in the middle of a staged index pass (some of its slices in
 * LMDB, the rest not, meta ruleidx_upto still at the pass before), start it
 * again: every acked event is there, the whole pass is derived again from
 * the log, and a duplicate dose of a child from before the last complete
 * pass, from inside the cut pass and from after it each raises exactly one
 * alert naming the original. Eras of 1 000 events put each pass in an era
 * of its own, so the originals are looked up across eras. */
static void test_kill_mid_pass(void)
{
    bn_test_hub_t k = {0};
    /* Passes of 2 000 entries (two per event), written ~84 per commit. */
    if (bn_test_hub_start(&k,
                          "  rule_index_flush: 2000\n  rule_index_flush_max: 2000\n"
                          "  rule_index_era_events: 1000\n",
                          agencies_and_rules) != 0) {
        bn_test_hub_dump_log(&k);
        CHECK_MSG(0, "hub did not start");
        return;
    }
    bn_error_t err;
    CHECK(bn_publisher_new(&pub, k.ingest, &opts, &err) == BN_OK);
    CHECK(bn_query_new(&qry, k.query, &opts, &err) == BN_OK);
    static uint64_t seq_of[PASS_MAX_REQUESTS * PASS_EVENTS];
    unsigned sent = 0, slices_after = 0;
    bool cut = false;
    char one[600], req[PASS_EVENTS * 600];
    for (unsigned r = 0; r < PASS_MAX_REQUESTS && !cut; r++) {
        req[0] = '\0';
        for (unsigned e = 0; e < PASS_EVENTS; e++) {
            strcat(req, child_dose(one, sizeof one, sent + e, false));
            strcat(req, "\n");
        }
        uint64_t first = 0;
        if (send("puskesmas-a", req, &first, NULL, 0) != BN_OK || !first)
            break;
        for (unsigned e = 0; e < PASS_EVENTS; e++)
            seq_of[sent + e] = first + e;
        sent += PASS_EVENTS;
        /* The second pass is under way: let two more commits write slices of it. */
        if (log_count(&k, "rule_index_staged") == 2 && log_count(&k, "rule_index_flushed") == 1)
            cut = ++slices_after > 2;
    }
    CHECK_MSG(cut, "no second pass seen under way after %u events", sent);
    uint64_t h1 = head(), done_upto = last_upto(&k, "rule_index_flushed"),
             cut_upto = last_upto(&k, "rule_index_staged");
    CHECK_EQ_U64(h1, seq_of[sent - 1]);
    CHECK_MSG(done_upto > 0 && cut_upto > done_upto && cut_upto < h1,
              "passes: flushed to %llu, staged to %llu, head %llu", (unsigned long long)done_upto,
              (unsigned long long)cut_upto, (unsigned long long)h1);
    CHECK(check_pass_cpu(&k) >= 1);
    restart(&k, SIGKILL);
    CHECK_EQ_U64(head(), h1);
    /* The query endpoint answers while the writer derives the index again:
     * wait for it to say it is done before reading what it said. */
    for (int i = 0; i < 1000 && log_count(&k, "rule_index_recovered") == 0; i++)
        usleep(10000);
    char *log = bn_test_read_file(k.log, NULL);
    const char *rec = log ? strstr(log, "msg=rule_index_recovered events=") : NULL;
    uint64_t recovered = rec ? strtoull(rec + strlen("msg=rule_index_recovered events="), NULL, 10) : 0;
    /* Announced before the derivation, with where it starts. */
    const char *ann = log ? strstr(log, "msg=rule_index_recovering from=") : NULL;
    char *end = NULL;
    uint64_t ann_from = ann ? strtoull(ann + strlen("msg=rule_index_recovering from="), &end, 10) : 0;
    uint64_t ann_events = end && strncmp(end, " events=", 8) == 0 ? strtoull(end + 8, NULL, 10) : 0;
    CHECK_MSG(ann && rec && ann < rec, "rule_index_recovering not logged before rule_index_recovered");
    CHECK_EQ_U64(ann_from, done_upto + 1);
    CHECK_EQ_U64(ann_events, h1 - done_upto);
    free(log);
    CHECK_EQ_U64(recovered, h1 - done_upto); /* the cut pass did not count as written */
    /* One child of each part: in LMDB, in the cut pass, gathered after it. */
    unsigned pick[3] = {0, 0, sent - 1};
    for (unsigned i = 0; i < sent; i++) {
        if (seq_of[i] <= done_upto)
            pick[0] = i;
        else if (seq_of[i] <= cut_upto && !pick[1])
            pick[1] = i + (unsigned)((cut_upto - seq_of[i]) / 2); /* the middle of the pass */
    }
    CHECK(seq_of[pick[1]] > done_upto && seq_of[pick[1]] <= cut_upto && seq_of[pick[2]] > cut_upto);
    const Benang__V1__Event **al = NULL;
    for (int j = 0; j < 3; j++) {
        size_t before = alerts(&al);
        CHECK(send("klinik-b", child_dose(one, sizeof one, pick[j], true), NULL, NULL, 0) == BN_OK);
        size_t n = alerts(&al);
        CHECK_MSG(n == before + 1, "child %u (seq %llu): %zu alerts, expected %zu", pick[j],
                  (unsigned long long)seq_of[pick[j]], n, before + 1);
        if (n == before + 1) {
            const Benang__V1__Alert *a = al[n - 1]->alert;
            CHECK_STR(a->kind, "duplicate_service");
            CHECK(a->n_seqs == 2 && a->seqs[0] == seq_of[pick[j]]);
        }
    }
    if (bn_test_failed)
        bn_test_hub_dump_log(&k);
    bn_publisher_destroy(&pub);
    bn_query_destroy(&qry);
    CHECK(bn_test_hub_stop(&k, SIGTERM) == 0);
    bn_test_hub_cleanup(&k);
}

int main(void)
{
    bn_test_hub_t h = {0};
    /* A tiny flush threshold: the rule index goes to LMDB every few events,
     * so lookups meet entries both there and still in memory. */
    if (bn_test_hub_start(&h, "  rule_index_flush: 3\n", agencies_and_rules) != 0) {
        bn_test_hub_dump_log(&h);
        return 1;
    }
    bn_error_t err;
    g_config = h.config;
    CHECK(bn_publisher_new(&pub, h.ingest, &opts, &err) == BN_OK);
    CHECK(bn_query_new(&qry, h.query, &opts, &err) == BN_OK);
    test_duplicates();
    test_linkage();
    test_programs();
    test_referrals();

    /* After a crash (the index entries since the last flush only in memory,
     * derived again from the log at start), replaying changes nothing. */
    /* Crash with some index entries only in memory: publish until the last
     * flush (in the hub's log) is behind the head. I-70 is then pending. */
    CHECK(send("puskesmas-a", imm("I-70", NIK_X, "21", 1, "2026-11-20", "L"), NULL, NULL, 0) ==
          BN_OK);
    for (int i = 0; i < 5 && last_upto(&h, "rule_index_flushed") >= head(); i++) {
        char sid[32], cvx[24];
        snprintf(sid, sizeof sid, "I-8%d", i);
        snprintf(cvx, sizeof cvx, "4%d", i);
        CHECK(send("puskesmas-a", imm(sid, NIK_X, cvx, 1, "2026-11-20", "L"), NULL, NULL, 0) ==
              BN_OK);
        /* I-70 flushed: publish it again as a new source */
        if (last_upto(&h, "rule_index_flushed") < head()) {
            CHECK(send("puskesmas-a", imm("I-70b", NIK_X, "21", 1, "2026-11-20", "L"), NULL, NULL,
                       0) == BN_OK);
        }
    }
    CHECK(last_upto(&h, "rule_index_flushed") < head());
    const Benang__V1__Event **al = NULL;
    size_t n_alerts = alerts(&al);
    uint64_t h1 = head();
    restart(&h, SIGKILL);
    CHECK(send("puskesmas-a", imm("I-1", NIK_X, "08", 1, "2026-10-01", "L1"), NULL, NULL, 0) ==
          BN_DUPLICATE);
    CHECK(send("klinik-b", imm("I-11", JOKO, "20", 1, "2026-10-09", "L"), NULL, NULL, 0) ==
          BN_DUPLICATE);
    CHECK_EQ_U64(head(), h1);
    CHECK_EQ_U64(alerts(&al), n_alerts);
    /* The index survived: a fresh duplicate of I-10's dose still meets it. */
    CHECK(send("sekolah-c", imm("B-10", DJOKO, "20", 1, "2026-10-12", "L"), NULL, NULL, 0) ==
          BN_OK);
    CHECK_EQ_U64(alerts(&al), n_alerts + 1);
    /* I-70 went in last before the crash: its entry was only in memory. */
    CHECK(send("klinik-b", imm("I-71", NIK_X, "21", 1, "2026-11-21", "L"), NULL, NULL, 0) ==
          BN_OK);
    CHECK_EQ_U64(alerts(&al), n_alerts + 2);
    char *log = bn_test_read_file(h.log, NULL);
    CHECK_MSG(log && strstr(log, "msg=rule_index_recovered events="), "no recovery logged");
    CHECK_MSG(log && strstr(log, "msg=rule_index_flushed"), "no flush logged");
    free(log);
    CHECK(check_pass_cpu(&h) >= 1);

    /* A clean stop writes the pending entries: nothing to derive at the next
     * start, and they are found in LMDB afterwards. */
    CHECK(send("puskesmas-a", imm("I-90", NIK_X, "88", 1, "2026-11-22", "L"), NULL, NULL, 0) ==
          BN_OK);
    unsigned readies = log_count(&h, "ready");
    restart(&h, SIGTERM);
    /* "ready" comes after any derivation: wait for it before reading. */
    for (int i = 0; i < 1000 && log_count(&h, "ready") == readies; i++)
        usleep(10000);
    log = bn_test_read_file(h.log, NULL);
    const char *first = log ? strstr(log, "msg=rule_index_recovered") : NULL;
    CHECK_MSG(first && !strstr(first + 1, "msg=rule_index_recovered"),
              "entries derived again after a clean stop");
    free(log);
    size_t before_i91 = alerts(&al);
    CHECK(send("klinik-b", imm("I-91", NIK_X, "88", 1, "2026-11-23", "L"), NULL, NULL, 0) ==
          BN_OK);
    CHECK_EQ_U64(alerts(&al), before_i91 + 1);

    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_publisher_destroy(&pub);
    bn_query_destroy(&qry);
    bn_test_hub_stop(&h, SIGTERM);
    bn_test_hub_cleanup(&h);
    pub = NULL;
    qry = NULL;
    test_kill_mid_pass(); /* a hub of its own, on the same ports */
    return bn_test_finish("test_overlaps");
}
