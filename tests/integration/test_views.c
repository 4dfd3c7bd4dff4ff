/* test_views: the coordinator views of a real hub, through libbenang and
 * through benangctl --json: overlaps (a dose given twice by two clinics, two
 * agencies' programs for the same children in the same RW), the referral
 * queue (requested then accepted; an impossible jump refused with CONFLICT),
 * the program map, the linkage review list with a coordinator's decisions,
 * explanations, and the refusals of malformed or unknown requests. */
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "benang/client.h"
#include "testutil.h"

static bn_client_options_t opts = {.timeout_ms = 10000};

static const char *agencies = "agencies:\n"
                              "  - id: puskesmas-a\n"
                              "    sector: health\n"
                              "    adapters: [canonical-json]\n"
                              "  - id: klinik-b\n"
                              "    sector: health\n"
                              "    adapters: [canonical-json]\n"
                              "  - id: dinsos-c\n"
                              "    sector: social\n"
                              "    adapters: [canonical-json]\n"
                              /* wide thresholds: the near names below are possible
                               * matches whatever the scoring's fine tuning */
                              "linkage:\n"
                              "  upper: 0.995\n"
                              "  lower: 0.6\n";

static bn_test_hub_t hub;
static bn_publisher_t *pub;
static bn_query_t *qry;

/* Publish json as agency: the status, *seq the first event's seq. */
static bn_status_t send(const char *agency, const char *json, uint64_t *seq)
{
    bn_publish_result_t res;
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st =
        bn_publisher_publish(pub, agency, "canonical-json", json, strlen(json), &res, &err);
    if (seq)
        *seq = res.reply && res.reply->n_events ? res.reply->events[0]->seq : 0;
    if (st != BN_OK && st != BN_DUPLICATE && st != BN_CONFLICT)
        fprintf(stderr, "publish: %s: %s: %s\n", bn_status_name(st), err.where, err.msg);
    return st;
}

/* benangctl ARGS against the test hub; exit status, *out its stdout and stderr. */
static int ctl(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s --config %s 2>&1", BN_CTL_BIN, args, hub.config);
    return bn_test_run(cmd, out);
}

/* The lines of NDJSON output, each parsed; NULL when a line is not JSON. */
typedef struct {
    json_t *items[32];
    size_t n;
    bool bad;
} lines_t;

static lines_t parse_lines(const char *out)
{
    lines_t l = {.n = 0};
    const char *p = out ? out : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len) {
            json_error_t je;
            json_t *j = json_loadb(p, len, 0, &je);
            if (!j || l.n == 32) {
                l.bad = true;
                json_decref(j);
            } else {
                l.items[l.n++] = j;
            }
        }
        p += len + (nl ? 1 : 0);
    }
    return l;
}

static void lines_free(lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->items[i]);
    l->n = 0;
}

static const char *jstr(json_t *obj, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');
    if (!dot)
        return json_string_value(json_object_get(obj, path));
    snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
    return jstr(json_object_get(obj, key), dot + 1);
}

/* "YYYY-MM-DDTHH:MM:SSZ" hours_ago before now, and today's and tomorrow's UTC day. */
static char stamp_2h[32], stamp_1h[32], today[16], tomorrow[16];

static void stamps(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&(time_t){now - 7200}, &tm);
    strftime(stamp_2h, sizeof stamp_2h, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&(time_t){now - 3600}, &tm);
    strftime(stamp_1h, sizeof stamp_1h, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    gmtime_r(&(time_t){now + 86400}, &tm);
    strftime(tomorrow, sizeof tomorrow, "%Y-%m-%d", &tm);
}

#define AHMAD                                                                                      \
    "{\"nik\":\"3174050105240001\",\"name\":\"Ahmad Fauzi\",\"birthDate\":\"2024-05-01\","         \
    "\"sex\":\"SEX_MALE\",\"village\":\"Tanjung Barat\"}"
#define ACHMAD                                                                                     \
    "{\"name\":\"Achmad Fauzan\",\"birthDate\":\"2024-05-01\",\"sex\":\"SEX_MALE\","               \
    "\"village\":\"Tanjung Barat\"}"
#define RAHMAT                                                                                     \
    "{\"nik\":\"3174050306230002\",\"name\":\"Rahmat Hidayat\",\"birthDate\":\"2023-06-03\","      \
    "\"sex\":\"SEX_MALE\",\"village\":\"Tanjung Barat\"}"
#define RAHMAD                                                                                     \
    "{\"name\":\"Rahmad Hidayah\",\"birthDate\":\"2023-06-03\",\"sex\":\"SEX_MALE\","              \
    "\"village\":\"Tanjung Barat\"}"

static char buf[2048];

static const char *imm(const char *src, const char *subject, const char *cvx, unsigned dose,
                       const char *on)
{
    snprintf(buf, sizeof buf,
             "{\"sourceId\":\"%s\",\"occurredAt\":\"%s\",\"area\":\"RW-03\",\"subject\":%s,"
             "\"immunisation\":{\"vaccine\":{\"system\":\"http://hl7.org/fhir/sid/cvx\","
             "\"code\":\"%s\"},\"doseNumber\":%u,\"administeredOn\":\"%s\"}}",
             src, on, subject, cvx, dose, on);
    return buf;
}

static const char *ref(const char *src, const char *id, const char *status, const char *at)
{
    snprintf(buf, sizeof buf,
             "{\"sourceId\":\"%s\",\"occurredAt\":\"%s\",\"referral\":{\"referralId\":\"%s\","
             "\"fromAgency\":\"puskesmas-a\",\"toAgency\":\"dinsos-c\",\"status\":"
             "\"REFERRAL_STATUS_%s\",\"priority\":\"PRIORITY_URGENT\",\"reasonText\":"
             "\"needs social assistance\"}}",
             src, at, id, status);
    return buf;
}

/* A program as a canonical-json file in the hub's temp dir: its path. */
static const char *program_file(const char *name, const char *id, const char *sector,
                                const char *group, const char *areas, const char *start,
                                const char *end)
{
    static char path[512];
    char json[1024];
    snprintf(json, sizeof json,
             "{\"sourceId\":\"%s\",\"occurredAt\":\"2026-11-01\",\"program\":{\"programId\":"
             "\"%s\",\"name\":\"%s\",\"sector\":\"%s\",\"targetGroup\":\"%s\",\"areas\":[%s],"
             "\"period\":{\"start\":\"%s\",\"end\":\"%s\"},\"targetCount\":100}}\n",
             id, id, name, sector, group, areas, start, end);
    snprintf(path, sizeof path, "%s/%s.json", hub.dir, id);
    bn_test_write_file(path, json, strlen(json));
    return path;
}

/* Seqs of what is published below, in order. */
static uint64_t s_imm1, s_imm2, s_possible, s_possible2, s_ref1a, s_ref1b, s_ref2a;

static void publish_all(void)
{
    CHECK(send("puskesmas-a", imm("IMM-1", AHMAD, "08", 1, "2026-11-02"), &s_imm1) == BN_OK);
    CHECK(send("klinik-b", imm("KB-1", AHMAD, "08", 1, "2026-11-20"), &s_imm2) == BN_OK);
    /* No NIK, a name close to Ahmad Fauzi's but below the (high) linking threshold. */
    CHECK(send("klinik-b", imm("KB-2", ACHMAD, "10", 1, "2026-11-21"), &s_possible) == BN_OK);
    CHECK(send("puskesmas-a", imm("IMM-2", RAHMAT, "10", 1, "2026-11-03"), NULL) == BN_OK);
    CHECK(send("klinik-b", imm("KB-3", RAHMAD, "20", 1, "2026-11-22"), &s_possible2) == BN_OK);

    CHECK(send("puskesmas-a", ref("R-1a", "R-1", "REQUESTED", stamp_2h), &s_ref1a) == BN_OK);
    CHECK(send("dinsos-c", ref("R-1b", "R-1", "ACCEPTED", stamp_1h), &s_ref1b) == BN_OK);
    CHECK(send("puskesmas-a", ref("R-2a", "R-2", "REQUESTED", stamp_2h), &s_ref2a) == BN_OK);
    CHECK(send("dinsos-c", ref("R-2b", "R-2", "COMPLETED", stamp_1h), NULL) == BN_CONFLICT);

    /* Programs through benangctl publish, from files. */
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "publish --agency puskesmas-a %s",
             program_file("Pemberian makanan tambahan", "P-1", "health", "children-under-5",
                          "\"RW-05\",\"RW-06\"", "2026-11-01", "2027-01-31"));
    CHECK_MSG(ctl(args, &out) == 0, "got: %s", out);
    free(out);
    snprintf(args, sizeof args, "publish --agency klinik-b %s",
             program_file("Posyandu plus", "P-2", "health", "children-under-5", "\"RW-06\"",
                          "2026-12-01", "2027-02-28"));
    CHECK_MSG(ctl(args, &out) == 0, "got: %s", out);
    free(out);
    snprintf(args, sizeof args, "publish --agency dinsos-c %s",
             program_file("Bantuan pangan keluarga", "P-3", "social", "poor-families", "\"RW-05\"",
                          "2026-11-15", "2027-05-31"));
    CHECK_MSG(ctl(args, &out) == 0, "got: %s", out);
    free(out);
}

static void test_overlaps(void)
{
    const Benang__V1__OverlapsReply *r = NULL;
    bn_error_t err;
    CHECK(bn_query_overlaps(qry, NULL, NULL, NULL, NULL, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 2 && r->total == 2);
    if (r && r->n_alerts == 2) {
        const Benang__V1__Event *a = r->alerts[0], *b = r->alerts[1];
        CHECK(a->seq < b->seq);
        CHECK_STR(a->alert->kind, "duplicate_service");
        CHECK(a->alert->n_seqs == 2 && a->alert->seqs[0] == s_imm1 && a->alert->seqs[1] == s_imm2);
        CHECK_STR(a->area, "RW-03");
        CHECK_STR(a->sector, "health");
        CHECK_STR(b->alert->kind, "overlapping_program");
        CHECK_STR(b->area, "RW-06");
    }
    CHECK(bn_query_overlaps(qry, NULL, NULL, NULL, "duplicate_service", 0, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 1 && r->total == 2);
    CHECK(bn_query_overlaps(qry, NULL, "RW-06", NULL, NULL, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 1 && strcmp(r->alerts[0]->alert->kind, "overlapping_program") == 0);
    CHECK(bn_query_overlaps(qry, NULL, NULL, "social", NULL, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 0);
    CHECK(bn_query_overlaps(qry, today, NULL, "health", NULL, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 2);
    CHECK(bn_query_overlaps(qry, tomorrow, NULL, NULL, NULL, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 0);
    /* max: the newest */
    CHECK(bn_query_overlaps(qry, NULL, NULL, NULL, NULL, 1, &r, &err) == BN_OK);
    CHECK(r && r->n_alerts == 1 && strcmp(r->alerts[0]->alert->kind, "overlapping_program") == 0);
    CHECK(bn_query_overlaps(qry, "2026-02-30", NULL, NULL, NULL, 0, &r, &err) == BN_BAD_REQUEST);
    CHECK_STR(err.where, "overlaps.since");
    CHECK(bn_query_overlaps(qry, NULL, "RW-\xff", NULL, NULL, 0, &r, &err) == BN_BAD_REQUEST);
    CHECK_STR(err.where, "overlaps.area");

    char *out = NULL;
    CHECK(ctl("overlaps --json", &out) == 0);
    lines_t l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 2, "got: %s", out);
    if (l.n == 2) {
        CHECK_STR(jstr(l.items[0], "type"), "alert");
        CHECK_STR(jstr(l.items[0], "alert.kind"), "duplicate_service");
        CHECK_STR(jstr(l.items[1], "alert.kind"), "overlapping_program");
        CHECK_STR(jstr(l.items[1], "area"), "RW-06");
    }
    lines_free(&l);
    free(out);
    char args[256];
    snprintf(args, sizeof args, "overlaps --since %s --kind duplicate_service --json", today);
    CHECK(ctl(args, &out) == 0);
    l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 1, "got: %s", out);
    lines_free(&l);
    free(out);
    CHECK(ctl("overlaps", &out) == 0); /* human: a header and two rows, the summary */
    CHECK_MSG(out && strstr(out, "duplicate_service") && strstr(out, "puskesmas-a,klinik-b") &&
                  strstr(out, "2 shown, 2 alerts kept"),
              "got: %s", out);
    free(out);
    CHECK(ctl("overlaps --since 29-11-2026", &out) == 2);
    CHECK_MSG(out && strstr(out, "benangctl overlaps: --since must be a date"), "got: %s", out);
    free(out);
}

static void test_referrals(void)
{
    const Benang__V1__ReferralsReply *r = NULL;
    bn_error_t err;
    CHECK(bn_query_referrals(qry, NULL, NULL, 0, NULL, false, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_referrals == 2);
    CHECK(bn_query_referrals(qry, "dinsos-c", NULL, 0, NULL, true, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_referrals == 2);
    CHECK(bn_query_referrals(qry, "puskesmas-a", NULL, 0, NULL, false, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_referrals == 0);
    CHECK(bn_query_referrals(qry, NULL, "puskesmas-a",
                             BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED, NULL, false, 0,
                             &r, &err) == BN_OK);
    CHECK(r && r->n_referrals == 1);
    CHECK(bn_query_referrals(qry, NULL, NULL, 0, "R-1", false, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_referrals == 1);
    if (r && r->n_referrals == 1) {
        const Benang__V1__ReferralState *s = r->referrals[0];
        CHECK_STR(s->referral_id, "R-1");
        CHECK_EQ_U64(s->status, BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED);
        CHECK_STR(s->from_agency, "puskesmas-a");
        CHECK_STR(s->to_agency, "dinsos-c");
        CHECK(s->n_seqs == 2 && s->seqs[0] == s_ref1a && s->seqs[1] == s_ref1b);
        CHECK(!s->overdue);
    }
    /* R-2 stayed requested: the jump to completed stored nothing */
    CHECK(bn_query_referrals(qry, NULL, NULL, 0, "R-2", false, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_referrals == 1 &&
          r->referrals[0]->status == BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED &&
          r->referrals[0]->n_seqs == 1 && r->referrals[0]->seqs[0] == s_ref2a &&
          *r->referrals[0]->answer_due);
    CHECK(bn_query_referrals(qry, NULL, NULL, 0, "R-404", false, 0, &r, &err) == BN_BAD_REQUEST);
    CHECK_STR(err.where, "referrals.referral_id");
    /* An enum value no schema has, through the generic call. */
    Benang__V1__ReferralsRequest rr = BENANG__V1__REFERRALS_REQUEST__INIT;
    rr.status = (Benang__V1__ReferralStatus)42;
    Benang__V1__QueryRequest req = BENANG__V1__QUERY_REQUEST__INIT;
    req.query_case = BENANG__V1__QUERY_REQUEST__QUERY_REFERRALS;
    req.referrals = &rr;
    const Benang__V1__QueryReply *rep = NULL;
    CHECK(bn_query_call(qry, &req, &rep, &err) == BN_BAD_REQUEST);
    CHECK(rep && rep->status == BENANG__V1__STATUS__STATUS_BAD_REQUEST);
    CHECK_STR(err.where, "referrals.status");

    char *out = NULL;
    CHECK(ctl("referrals --to dinsos-c --state accepted --json", &out) == 0);
    lines_t l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 1, "got: %s", out);
    if (l.n == 1) {
        CHECK_STR(jstr(l.items[0], "referralId"), "R-1");
        CHECK_STR(jstr(l.items[0], "status"), "REFERRAL_STATUS_ACCEPTED");
    }
    lines_free(&l);
    free(out);
    CHECK(ctl("referrals --open --json", &out) == 0);
    l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 2, "got: %s", out);
    lines_free(&l);
    free(out);
    CHECK(ctl("referrals --to dinsos-c", &out) == 0);
    CHECK_MSG(out && strstr(out, "REFERRAL") && strstr(out, "accepted") &&
                  strstr(out, "requested") && strstr(out, "2 referrals"),
              "got: %s", out);
    free(out);
    CHECK(ctl("referrals --state done", &out) == 2);
    CHECK_MSG(out && strstr(out, "benangctl referrals: --state must be one of requested|"),
              "got: %s", out);
    free(out);
    CHECK(ctl("referrals --id R-404", &out) == 1);
    CHECK_MSG(out && strstr(out, "referrals.referral_id") && strstr(out, "R-404"), "got: %s", out);
    free(out);
}

static void test_program_map(void)
{
    const Benang__V1__ProgramMapReply *r = NULL;
    bn_error_t err;
    CHECK(bn_query_program_map(qry, NULL, NULL, NULL, &r, &err) == BN_OK);
    CHECK(r && r->n_programs == 3);
    if (r && r->n_programs == 3) {
        CHECK_STR(r->programs[0]->program->program_id, "P-1");
        CHECK_STR(r->programs[1]->program->program_id, "P-2");
        CHECK_STR(r->programs[2]->program->program_id, "P-3");
        CHECK_STR(r->programs[2]->agency, "dinsos-c");
    }
    CHECK(bn_query_program_map(qry, NULL, "RW-06", NULL, &r, &err) == BN_OK);
    CHECK(r && r->n_programs == 2);
    CHECK(bn_query_program_map(qry, "social", NULL, NULL, &r, &err) == BN_OK);
    CHECK(r && r->n_programs == 1);
    CHECK(bn_query_program_map(qry, NULL, "RW-05", "children-under-5", &r, &err) == BN_OK);
    CHECK(r && r->n_programs == 1);

    char *out = NULL;
    CHECK(ctl("program-map --json", &out) == 0);
    lines_t l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 3, "got: %s", out);
    if (l.n == 3) {
        CHECK_STR(jstr(l.items[0], "type"), "program");
        CHECK_STR(jstr(l.items[1], "program.programId"), "P-2");
    }
    lines_free(&l);
    free(out);
    CHECK(ctl("program-map", &out) == 0);
    CHECK_MSG(out && strstr(out, "children-under-5") && strstr(out, "  ! RW-06") &&
                  strstr(out, "overlaps puskesmas-a's Pemberian makanan tambahan [P-1] in RW-06 "
                              "from 2026-12-01 to 2027-01-31") &&
                  strstr(out, "1 overlap between agencies"),
              "got: %s", out);
    free(out);
}

static void test_matches(void)
{
    const Benang__V1__MatchesReply *r = NULL;
    bn_error_t err;
    CHECK(bn_query_matches(qry, false, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_matches == 2);
    uint64_t id1 = 0, id2 = 0;
    if (r && r->n_matches == 2) {
        const Benang__V1__PossibleMatch *m = r->matches[0];
        id1 = m->id;
        id2 = r->matches[1]->id;
        CHECK_EQ_U64(m->seq, s_possible);
        /* The hub keeps no first seq for NIK keys (hub/linker.c): 0 or IMM-1's. */
        CHECK(m->candidate_seq == 0 || m->candidate_seq == s_imm1);
        CHECK(*m->name && *m->candidate_name && strcmp(m->name, m->candidate_name) != 0);
        CHECK(m->score >= 0.6 && m->score < 0.995);
        CHECK_EQ_U64(m->decision, BENANG__V1__MATCH_DECISION__MATCH_DECISION_PENDING);
        CHECK_STR(m->birth_date, "2024-05-01");
    }
    /* explain: the possible match, a NIK, a referral without subject, unknown seqs */
    const Benang__V1__ExplainReply *x = NULL;
    CHECK(bn_query_explain(qry, s_possible, &x, &err) == BN_OK);
    CHECK(x && x->link && x->link->method == BENANG__V1__LINK_METHOD__LINK_METHOD_POSSIBLE &&
          x->link->match_id == id1 && x->n_candidates >= 1 && x->upper > x->lower && *x->text &&
          *x->block);
    CHECK(bn_query_explain(qry, s_imm1, &x, &err) == BN_OK);
    CHECK(x && x->link && x->link->method == BENANG__V1__LINK_METHOD__LINK_METHOD_NIK &&
          strlen(x->subject_key) == 64 && strstr(x->text, "NIK"));
    CHECK(x && x->upper > 0.99 && x->lower > 0.59 && x->lower < 0.61); /* the hub's config */
    CHECK(bn_query_explain(qry, s_ref1a, &x, &err) == BN_OK);
    CHECK(x && !x->link && strstr(x->text, "no subject"));
    CHECK(bn_query_explain(qry, 999999, &x, &err) == BN_BAD_REQUEST);
    CHECK_STR(err.where, "explain.seq");
    CHECK(bn_query_explain(qry, 0, &x, &err) == BN_BAD_REQUEST);

    /* decisions: malformed, unknown, confirmed, then contradicted */
    const Benang__V1__PossibleMatch *m = NULL;
    CHECK(bn_query_match_decide(qry, id1, BENANG__V1__MATCH_DECISION__MATCH_DECISION_PENDING, NULL,
                                &m, &err) == BN_BAD_REQUEST);
    CHECK_STR(err.where, "match_decision.decision");
    CHECK(bn_query_match_decide(qry, id1, (Benang__V1__MatchDecision)9, NULL, &m, &err) ==
          BN_BAD_REQUEST);
    CHECK_STR(err.where, "match_decision.decision");
    CHECK(bn_query_match_decide(qry, 4242, BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED,
                                NULL, &m, &err) == BN_BAD_REQUEST);
    CHECK_STR(err.where, "match_decision.id");
    CHECK(bn_query_match_decide(qry, id1, BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED,
                                "same mother, same date", &m, &err) == BN_OK);
    CHECK(m && m->decision == BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED &&
          strcmp(m->note, "same mother, same date") == 0 && *m->decided_at);
    CHECK(bn_query_match_decide(qry, id1, BENANG__V1__MATCH_DECISION__MATCH_DECISION_REJECTED, NULL,
                                &m, &err) == BN_CONFLICT);
    CHECK(bn_query_matches(qry, false, 0, &r, &err) == BN_OK);
    CHECK(r && r->n_matches == 1 && r->matches[0]->id == id2);

    char *out = NULL, args[256];
    CHECK(ctl("matches --json", &out) == 0);
    lines_t l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 1, "got: %s", out);
    lines_free(&l);
    free(out);
    snprintf(args, sizeof args, "match reject %llu --note \"two boys\"", (unsigned long long)id2);
    CHECK(ctl(args, &out) == 0);
    CHECK_MSG(out && strstr(out, "rejected") && strstr(out, "not the same person") &&
                  strstr(out, "note: two boys"),
              "got: %s", out);
    free(out);
    CHECK(ctl("matches --all --json", &out) == 0);
    l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 2, "got: %s", out);
    if (l.n == 2) {
        CHECK_STR(jstr(l.items[0], "decision"), "MATCH_DECISION_CONFIRMED");
        CHECK_STR(jstr(l.items[1], "decision"), "MATCH_DECISION_REJECTED");
        CHECK_STR(jstr(l.items[1], "note"), "two boys");
    }
    lines_free(&l);
    free(out);
    CHECK(ctl("matches", &out) == 0);
    CHECK_MSG(out && strstr(out, "0 possible matches, 0 pending"), "got: %s", out);
    free(out);
    snprintf(args, sizeof args, "match confirm %llu", (unsigned long long)id2);
    CHECK(ctl(args, &out) == 1);
    CHECK_MSG(out && strstr(out, "BN_CONFLICT") && strstr(out, "match_decision.decision"),
              "got: %s", out);
    free(out);
    CHECK(ctl("match confirm 4242", &out) == 1);
    CHECK_MSG(out && strstr(out, "match_decision.id"), "got: %s", out);
    free(out);
    CHECK(ctl("match maybe 1", &out) == 2);
    free(out);

    snprintf(args, sizeof args, "explain %llu --json", (unsigned long long)s_possible);
    CHECK(ctl(args, &out) == 0);
    l = parse_lines(out);
    CHECK_MSG(!l.bad && l.n == 1, "got: %s", out);
    if (l.n == 1) {
        CHECK_STR(jstr(l.items[0], "link.method"), "LINK_METHOD_POSSIBLE");
        CHECK(json_array_size(json_object_get(l.items[0], "candidates")) >= 1);
    }
    lines_free(&l);
    free(out);
    snprintf(args, sizeof args, "explain %llu", (unsigned long long)s_possible);
    CHECK(ctl(args, &out) == 0);
    CHECK_MSG(out && strstr(out, ": possible, score 0.") && strstr(out, "candidates") &&
                  strstr(out, "thresholds"),
              "got: %s", out);
    free(out);
    CHECK(ctl("explain 999999", &out) == 1);
    CHECK_MSG(out && strstr(out, "BN_BAD_REQUEST: explain.seq: no event with seq 999999"),
              "got: %s", out);
    free(out);

    /* The confirmation is honoured: the same record again gets the candidate's key. */
    uint64_t again = 0;
    CHECK(send("klinik-b", imm("KB-9", ACHMAD, "20", 2, "2026-11-25"), &again) == BN_OK);
    const Benang__V1__ExplainReply *xa = NULL;
    char key1[80] = "";
    CHECK(bn_query_explain(qry, s_imm1, &xa, &err) == BN_OK);
    if (xa)
        snprintf(key1, sizeof key1, "%s", xa->subject_key);
    CHECK(bn_query_explain(qry, again, &xa, &err) == BN_OK);
    CHECK(xa && xa->link && xa->link->method == BENANG__V1__LINK_METHOD__LINK_METHOD_CONFIRMED &&
          strcmp(xa->subject_key, key1) == 0);
}

static void test_cli_usage(void)
{
    static const char *const cmds[] = {"overlaps", "referrals", "program-map",
                                       "matches",  "match",     "explain"};
    char args[128], *out = NULL;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        CHECK(ctl(args, &out) == 0);
        CHECK_MSG(out && strstr(out, "usage: benangctl") && strstr(out, cmds[i]), "got: %s", out);
        free(out);
    }
    CHECK(ctl("overlaps --limit many", &out) == 2);
    free(out);
    CHECK(ctl("explain", &out) == 2);
    free(out);
    CHECK(ctl("program-map extra", &out) == 2);
    free(out);
    /* --endpoint reaches the query endpoint (here a wrong one: a timeout, exit 1) */
    CHECK(ctl("--timeout 300 overlaps --endpoint tcp://127.0.0.1:1", &out) == 1);
    free(out);
}

int main(void)
{
    stamps();
    if (bn_test_hub_start(&hub, NULL, agencies) != 0) {
        bn_test_hub_dump_log(&hub);
        return 1;
    }
    bn_error_t err;
    CHECK(bn_publisher_new(&pub, hub.ingest, &opts, &err) == BN_OK);
    CHECK(bn_query_new(&qry, hub.query, &opts, &err) == BN_OK);
    publish_all();
    test_overlaps();
    test_referrals();
    test_program_map();
    test_matches();
    test_cli_usage();

    bn_publisher_destroy(&pub);
    bn_query_destroy(&qry);
    /* a clean exit (under ASan: no leak report) */
    CHECK(bn_test_hub_stop(&hub, SIGTERM) == 0);
    if (bn_test_failed)
        bn_test_hub_dump_log(&hub);
    bn_test_hub_cleanup(&hub);
    return bn_test_finish("test_views");
}
