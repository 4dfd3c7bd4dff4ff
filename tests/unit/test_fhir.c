/* test_fhir.c: the "fhir" adapter (FHIR R4 JSON -> benang.v1.Event), driven as the hub drives it.
 *
 * Each payload is translated into a list and every event goes through
 * bn_event_validate(). Good fixtures are checked field by field; bad ones
 * must give the right status and the exact JSON path, and never echo a NIK,
 * a name or a birth date. Settings are built as bn_node_t trees by hand, so
 * their errors carry "file:line:col". The reference bundle (HL7 v2 VXU from
 * NIST converted to FHIR) is read from the shared fixtures beside the clone.
 */
#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "testutil.h"
#include "validate.h"

#define CVX "http://hl7.org/fhir/sid/cvx"
#define KFA "http://sys-ids.kemkes.go.id/kfa"
#define REFERENCE_BUNDLE                                                                           \
    BN_SOURCE_DIR "/../shared/fixtures/fhir/"                                                      \
                  "fhir-converter-bundle-batch-patient-immunization-from-nist-vxu.json"

typedef struct {
    bn_status_t st;
    bn_error_t err;
    bn_event_list_t list;
} run_t;

static const bn_adapter_ops_t *ops(void)
{
    return bn_adapter_find("fhir");
}

static void run(run_t *r, const void *data, size_t len, const void *settings, size_t max_events)
{
    bn_adapter_ctx_t ctx = {.agency = "puskesmas-tanjung-barat", .sector = "health",
                            .settings = settings, .max_events = max_events};
    memset(r, 0, sizeof *r);
    bn_error_clear(&r->err);
    r->st = ops()->translate(&ctx, data, len, &r->list, &r->err);
    for (size_t i = 0; r->st == BN_OK && i < r->list.len; i++)
        r->st = bn_event_validate(r->list.items[i], &r->err);
    if (r->st != BN_OK)
        CHECK_MSG(memchr(r->err.msg, '\0', sizeof r->err.msg) != NULL, "unterminated message");
}

static void run_text(run_t *r, const char *text, const void *settings)
{
    run(r, text, strlen(text), settings, 0);
}

/* Translate a fixture from tests/fixtures/fhir/. */
static void run_file(run_t *r, const char *name, const void *settings)
{
    char path[512];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/fhir/%s", BN_FIXTURES, name);
    char *data = bn_test_read_file(path, &len);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    run(r, data ? data : "", data ? len : 0, settings, 0);
    free(data);
}

static void expect(run_t *r, bn_status_t st, const char *where, const char *msg)
{
    CHECK_MSG(r->st == st, "status %s, want %s (%s: %s)", bn_status_name(r->st), bn_status_name(st),
              r->err.where, r->err.msg);
    CHECK_STR(r->err.where, where);
    if (msg)
        CHECK_MSG(strstr(r->err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", r->err.msg, msg);
    bn_event_list_clear(&r->list);
}

/* A JSON syntax error: BN_BAD_PAYLOAD placed on the expected line (jansson
 * reports the column where it stopped reading, so only the line is pinned). */
static void expect_syntax(run_t *r, const char *where)
{
    char line[32];
    const char *comma = strchr(where, ',');
    snprintf(line, sizeof line, "%.*s, column ", comma ? (int)(comma - where) : 0, where);
    CHECK_MSG(r->st == BN_BAD_PAYLOAD, "status %s (%s: %s)", bn_status_name(r->st), r->err.where,
              r->err.msg);
    CHECK_MSG(strncmp(r->err.where, line, strlen(line)) == 0, "where \"%s\", want \"%s...\"",
              r->err.where, line);
    CHECK_MSG(strncmp(r->err.msg, "invalid JSON: ", 14) == 0 && strlen(r->err.msg) > 14,
              "msg \"%s\"", r->err.msg);
    bn_event_list_clear(&r->list);
}

static Benang__V1__Event *ok(run_t *r, size_t n)
{
    CHECK_MSG(r->st == BN_OK, "status %s (%s: %s)", bn_status_name(r->st), r->err.where, r->err.msg);
    CHECK_EQ_U64(r->list.len, n);
    return r->st == BN_OK && r->list.len == n && n ? r->list.items[0] : NULL;
}

static void check_coding(const Benang__V1__Coding *c, const char *sys, const char *code,
                         const char *disp)
{
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->system, sys);
    CHECK_STR(c->code, code);
    CHECK_STR(c->display, disp);
}

/* ---- settings, built by hand ------------------------------------------------------------- */

static bn_node_t *scalar(const char *text, unsigned line, unsigned col)
{
    bn_node_t *n = bn_node_new(BN_NODE_SCALAR, "agencies/pkm.yaml", line, col);
    n->scalar = strdup(text);
    return n;
}

static void add(bn_node_t *map, const char *key, bn_node_t *child)
{
    CHECK(bn_node_add(map, key, &child));
}

static bn_node_t *map_node(unsigned line, unsigned col)
{
    return bn_node_new(BN_NODE_MAP, "agencies/pkm.yaml", line, col);
}

/* The settings most tests use: three organizations and one KFA -> CVX row. */
static void *good_settings(void)
{
    bn_node_t *root = map_node(3, 5), *orgs = map_node(4, 7), *vax = map_node(8, 7);
    add(orgs, "Organization/10000004", scalar("puskesmas-tanjung-barat", 4, 30));
    add(orgs, "10000004", scalar("puskesmas-tanjung-barat", 5, 19));
    add(orgs, "DINSOS-JKS", scalar("dinsos-jaksel", 6, 19));
    add(orgs, "Organization/blk-jaksel", scalar("blk-jaksel", 7, 32));
    add(vax, KFA "|93001019", scalar(CVX "|146", 8, 40));
    bn_node_t *row = map_node(9, 16);
    add(row, "system", scalar(CVX, 9, 25));
    add(row, "code", scalar("08", 9, 60));
    add(row, "display", scalar("Hep B, adolescent or pediatric", 9, 70));
    add(vax, "HB0", row);
    add(root, "organizations", orgs);
    add(root, "vaccine_codes", vax);
    void *s = NULL;
    bn_error_t err;
    CHECK(ops()->settings_new(root, &s, &err) == BN_OK);
    bn_node_destroy(&root);
    return s;
}

static void expect_settings_error(bn_node_t *root, const char *where, const char *msg)
{
    void *s = (void *)1;
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st = ops()->settings_new(root, &s, &err);
    CHECK_MSG(st == BN_CONFIG, "status %s", bn_status_name(st));
    CHECK(s == NULL);
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", err.msg, msg);
    bn_node_destroy(&root);
}

static void test_settings(void)
{
    void *s = (void *)1;
    bn_error_t err;
    CHECK(ops()->settings_new(NULL, &s, &err) == BN_OK && s == NULL);
    ops()->settings_free(NULL);
    s = good_settings();
    CHECK(s != NULL);
    ops()->settings_free(s);

    bn_node_t *root = map_node(3, 5);
    add(root, "organisations", scalar("x", 4, 20));
    expect_settings_error(root, "agencies/pkm.yaml:4:20", "unknown or repeated key \"organisations\"");

    root = map_node(3, 5);
    add(root, "organizations", scalar("x", 4, 20));
    expect_settings_error(root, "agencies/pkm.yaml:4:20", "organizations: expected a mapping");

    root = map_node(3, 5);
    bn_node_t *orgs = map_node(4, 7);
    add(orgs, "Organization/1", map_node(5, 9));
    add(root, "organizations", orgs);
    expect_settings_error(root, "agencies/pkm.yaml:5:9", "expected a non-empty string");

    root = map_node(3, 5);
    bn_node_t *vax = map_node(6, 7);
    add(vax, "BCG-LOKAL", scalar("19", 6, 20));
    add(root, "vaccine_codes", vax);
    expect_settings_error(root, "agencies/pkm.yaml:6:20", "expected \"system|code\"");

    root = map_node(3, 5);
    vax = map_node(6, 7);
    bn_node_t *row = map_node(7, 9);
    add(row, "system", scalar(CVX, 7, 17));
    add(row, "kode", scalar("19", 8, 17));
    add(vax, "BCG-LOKAL", row);
    add(root, "vaccine_codes", vax);
    expect_settings_error(root, "agencies/pkm.yaml:8:17", "unknown key \"kode\"");

    root = map_node(3, 5);
    vax = map_node(6, 7);
    row = map_node(7, 9);
    add(row, "system", scalar(CVX, 7, 17));
    add(vax, "BCG-LOKAL", row);
    add(root, "vaccine_codes", vax);
    expect_settings_error(root, "agencies/pkm.yaml:7:9", "both system and code are required");

    root = map_node(3, 5);
    add(root, "nik_system", scalar("", 9, 17));
    expect_settings_error(root, "agencies/pkm.yaml:9:17", "nik_system: expected a non-empty string");

    root = map_node(3, 5);
    orgs = map_node(4, 7);
    add(orgs, "A", scalar("a", 4, 12));
    add(orgs, "A", scalar("b", 5, 12));
    add(root, "organizations", orgs);
    expect_settings_error(root, "agencies/pkm.yaml:5:12", "duplicate key \"A\"");

    root = bn_node_new(BN_NODE_SEQ, "agencies/pkm.yaml", 2, 3);
    expect_settings_error(root, "agencies/pkm.yaml:2:3", "expected a mapping");
}

/* ---- Immunization --------------------------------------------------------------------------- */

static void test_immunization(void)
{
    run_t r;
    run_file(&r, "immunization-example.json", NULL);
    Benang__V1__Event *e = ok(&r, 1);
    if (e) {
        CHECK_STR(e->source_id, "example");
        CHECK_STR(e->type, "immunisation");
        CHECK_STR(e->occurred_at, "2013-01-10");
        CHECK(e->subject == NULL); /* Patient/example is on a server: no subject */
        Benang__V1__Immunisation *im = e->immunisation;
        check_coding(im->vaccine, "urn:oid:1.2.36.1.2001.1005.17", "FLUVAX", "");
        CHECK_STR(im->administered_on, "2013-01-10");
        CHECK_EQ_U64(im->status, BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED);
        CHECK_EQ_U64(im->dose_number, 1);
        CHECK_STR(im->lot_number, "AAJN11K");
        CHECK_STR(im->site, "LA");
        CHECK_STR(im->route, "IM");
        CHECK_STR(im->performer, "Practitioner/example");
        CHECK_STR(im->facility, "Location/1");
        CHECK(im->status_reason == NULL);
    }
    bn_event_list_clear(&r.list);

    run_file(&r, "immunization-contained-patient.json", NULL);
    if ((e = ok(&r, 1)) != NULL) {
        CHECK_STR(e->source_id, "imm-pkm-0001");
        CHECK_STR(e->occurred_at, "2024-03-05T09:30:00+07:00");
        Benang__V1__Immunisation *im = e->immunisation;
        check_coding(im->vaccine, CVX, "146", "DTaP,IPV,Hib,HepB"); /* CVX preferred over KFA */
        CHECK_STR(im->administered_on, "2024-03-05");
        CHECK_EQ_U64(im->dose_number, 2);
        CHECK_STR(im->lot_number, "BN2024-117");
        CHECK_STR(im->site, "paha kiri");
        CHECK_STR(im->route, "inj.intramuscular");
        CHECK_STR(im->performer, "Bidan Rina");
        CHECK_STR(im->facility, "Poli Imunisasi Puskesmas Tanjung Barat");
        Benang__V1__Subject *s = e->subject;
        CHECK(s != NULL);
        if (s) {
            CHECK_STR(s->nik, "3171012345670001");
            CHECK_STR(s->local_id, "RM-000451");
            CHECK_STR(s->name, "Siti Aminah");
            CHECK_STR(s->birth_date, "2023-11-02");
            CHECK_EQ_U64(s->sex, BENANG__V1__SEX__SEX_FEMALE);
            CHECK_STR(s->village, "3174091003");
            CHECK_STR(s->rt, "004");
            CHECK_STR(s->rw, "002");
        }
    }
    bn_event_list_clear(&r.list);

    run_file(&r, "immunization-not-done.json", NULL);
    if ((e = ok(&r, 1)) != NULL) {
        CHECK_STR(e->source_id, "IMM-ND-77"); /* identifier[0].value: no id */
        CHECK_STR(e->occurred_at, "2024-04-01T10:00:00Z");
        CHECK_EQ_U64(e->immunisation->status,
                     BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE);
        check_coding(e->immunisation->status_reason,
                     "http://terminology.hl7.org/CodeSystem/v3-ActReason", "MEDPREC",
                     "medical precaution");
        CHECK_EQ_U64(e->immunisation->dose_number, 0);
    }
    bn_event_list_clear(&r.list);

    run_file(&r, "immunization-entered-in-error.json", NULL);
    if ((e = ok(&r, 1)) != NULL) {
        CHECK_EQ_U64(e->immunisation->status,
                     BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_ENTERED_IN_ERROR);
        check_coding(e->immunisation->vaccine, KFA, "93001019", "Vaksin DTP-HB-Hib");
    }
    bn_event_list_clear(&r.list);
}

static void test_bundles(void)
{
    run_t r;
    run_file(&r, "bundle-transaction-immunization.json", NULL);
    Benang__V1__Event *e = ok(&r, 1);
    if (e && e->subject) {
        CHECK_STR(e->source_id, "imm-tx-1");
        CHECK_STR(e->subject->nik, "3174091205030002");
        CHECK_STR(e->subject->name, "Putri Ayu Lestari");
        CHECK_STR(e->subject->village, "Tanjung Barat");
        CHECK_STR(e->subject->local_id, "");
        CHECK_EQ_U64(e->immunisation->dose_number, 1);
    } else {
        CHECK(!"bundle immunisation has a subject");
    }
    bn_event_list_clear(&r.list);

    void *set = good_settings();
    for (int pass = 0; pass < 2; pass++) { /* without, then with the KFA -> CVX table */
        run_file(&r, "bundle-three-doses.json", pass ? set : NULL);
        ok(&r, 3);
        for (size_t i = 0; r.st == BN_OK && i < r.list.len && r.list.len == 3; i++) {
            e = r.list.items[i];
            char id[32];
            snprintf(id, sizeof id, "d%zu", i + 1);
            CHECK_STR(e->source_id, id);
            CHECK_EQ_U64(e->immunisation->dose_number, i + 1);
            CHECK(e->subject && !strcmp(e->subject->nik, "3174091212230003"));
            CHECK(e->subject && e->subject->sex == BENANG__V1__SEX__SEX_MALE);
            if (pass)
                check_coding(e->immunisation->vaccine, CVX, "146", "");
            else
                check_coding(e->immunisation->vaccine, KFA, "93001019", "");
        }
        bn_event_list_clear(&r.list);
    }
    run_file(&r, "bundle-three-doses.json", NULL);
    bn_event_list_clear(&r.list);
    const char *two =
        "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"resource\":"
            "{\"resourceType\":\"Immunization\",\"id\":\"a\",\"status\":\"completed\","
            "\"vaccineCode\":{\"coding\":[{\"system\":\"x\",\"code\":\"1\"}]},"
            "\"occurrenceDateTime\":\"2024-01-01\"}},{\"resource\":{\"resourceType\":"
            "\"Immunization\",\"id\":\"b\",\"status\":\"completed\",\"vaccineCode\":{\"coding\":"
            "[{\"system\":\"x\",\"code\":\"1\"}]},\"occurrenceDateTime\":\"2024-01-01\"}}]}";
    run(&r, two, strlen(two), NULL, 1);
    expect(&r, BN_TOO_LARGE, "payload", "more than 1 events");
    run_text(&r, "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"total\":0}", NULL);
    ok(&r, 0);

    /* a local code translated through a table row given as a map, display from the row */
    run_text(&r,
             "{\"resourceType\":\"Immunization\",\"id\":\"hb0\",\"status\":\"completed\","
             "\"vaccineCode\":{\"coding\":[{\"system\":\"urn:local\",\"code\":\"HB0\","
             "\"display\":\"HB-0\"}]},\"occurrenceDateTime\":\"2024-01-01\"}",
             set);
    if ((e = ok(&r, 1)) != NULL)
        check_coding(e->immunisation->vaccine, CVX, "08", "Hep B, adolescent or pediatric");
    bn_event_list_clear(&r.list);
    ops()->settings_free(set);
}

/* ---- referrals ------------------------------------------------------------------------------ */

static void test_referrals(void)
{
    void *set = good_settings();
    run_t r;
    run_file(&r, "servicerequest-referral.json", set);
    Benang__V1__Event *e = ok(&r, 1);
    if (e) {
        Benang__V1__Referral *rf = e->referral;
        CHECK_STR(e->type, "referral");
        CHECK_STR(e->source_id, "ref-2024-0042");
        CHECK_STR(e->occurred_at, "2024-05-02T13:15:00+07:00");
        CHECK(e->subject == NULL);
        CHECK_STR(rf->referral_id, "ref-2024-0042");
        CHECK_EQ_U64(rf->status, BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED);
        CHECK_EQ_U64(rf->priority, BENANG__V1__PRIORITY__PRIORITY_URGENT);
        check_coding(rf->reason, "http://snomed.info/sct", "238131007", "Overweight");
        CHECK_STR(rf->reason_text, "Gizi lebih pada balita");
        CHECK_STR(rf->note, "Mohon kunjungan rumah minggu ini");
        CHECK_STR(rf->requested_on, "2024-05-02");
        CHECK_STR(rf->from_agency, "puskesmas-tanjung-barat");
        CHECK_STR(rf->to_agency, "dinsos-jaksel");
    }
    bn_event_list_clear(&r.list);
    run_file(&r, "servicerequest-referral.json", NULL); /* no table: to_agency unknown */
    expect(&r, BN_INVALID_EVENT, "$.performer[0]", "not a known organization");

    run_file(&r, "task-accepted.json", set);
    if ((e = ok(&r, 1)) != NULL) {
        Benang__V1__Referral *rf = e->referral;
        CHECK_STR(e->source_id, "Task/task-ref-42-1");
        CHECK_STR(e->occurred_at, "2024-05-03T08:00:00+07:00");
        CHECK_STR(rf->referral_id, "ref-2024-0042");
        CHECK_EQ_U64(rf->status, BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED);
        CHECK_STR(rf->from_agency, "puskesmas-tanjung-barat");
        CHECK_STR(rf->to_agency, "dinsos-jaksel");
        CHECK_STR(rf->requested_on, "2024-05-02");
        CHECK_STR(rf->note, "Dijadwalkan 6 Mei");
    }
    bn_event_list_clear(&r.list);

    run_file(&r, "bundle-referral-lifecycle.json", set);
    if ((e = ok(&r, 4)) != NULL) {
        static const Benang__V1__ReferralStatus want[4] = {
            BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED,
            BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED,
            BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_IN_PROGRESS,
            BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_COMPLETED};
        static const char *const src[4] = {"ref-77", "Task/t1", "Task/t2", "Task/t3"};
        for (size_t i = 0; i < 4; i++) {
            Benang__V1__Referral *rf = r.list.items[i]->referral;
            CHECK_STR(r.list.items[i]->source_id, src[i]);
            CHECK_STR(rf->referral_id, "ref-77");
            CHECK_EQ_U64(rf->status, want[i]);
            CHECK_STR(rf->to_agency, "blk-jaksel");
        }
        CHECK_STR(e->referral->from_agency, "puskesmas-tanjung-barat"); /* via urn:uuid -> identifier */
        CHECK_STR(e->occurred_at, "2024-06-10");
        CHECK(e->subject && e->subject->sex == BENANG__V1__SEX__SEX_MALE);
        CHECK(e->subject && !strcmp(e->subject->birth_date, "")); /* "1990" has no day: left out */
        CHECK_STR(r.list.items[1]->referral->from_agency, "");
        CHECK_STR(r.list.items[3]->occurred_at, "2024-07-01T15:30:00+07:00");
    }
    bn_event_list_clear(&r.list);

#define TASK(extra)                                                                                \
    "{\"resourceType\":\"Task\",\"id\":\"t9\",\"basedOn\":[{\"reference\":\"ServiceRequest/S1\"}]," \
    "\"lastModified\":\"2024-06-11T09:00:00+07:00\"," extra "}"
    static const struct {
        const char *status;
        Benang__V1__ReferralStatus want;
    } life[] = {{"requested", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
                {"ready", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED},
                {"rejected", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REJECTED},
                {"on-hold", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ON_HOLD},
                {"failed", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_FAILED},
                {"cancelled", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED},
                {"entered-in-error", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED}};
    for (size_t i = 0; i < sizeof life / sizeof life[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, TASK("\"status\":\"%s\""), life[i].status);
        run_text(&r, text, set);
        if ((e = ok(&r, 1)) != NULL) {
            CHECK_EQ_U64(e->referral->status, life[i].want);
            CHECK_STR(e->referral->to_agency, "puskesmas-tanjung-barat"); /* no owner: the publisher */
            CHECK_STR(e->referral->referral_id, "S1");
        }
        bn_event_list_clear(&r.list);
    }
    run_text(&r, TASK("\"status\":\"draft\""), set);
    expect(&r, BN_INVALID_EVENT, "$.status", "\"draft\" is not a status");
    run_text(&r, TASK("\"status\":\"accepted\",\"owner\":{\"reference\":\"Organization/x\"}"), set);
    expect(&r, BN_INVALID_EVENT, "$.owner", "not a known organization");
    run_text(&r,
             "{\"resourceType\":\"Task\",\"id\":\"t9\",\"status\":\"accepted\","
             "\"lastModified\":\"2024-06-11T09:00:00+07:00\"}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.basedOn[0].reference", "required");
    run_text(&r,
             "{\"resourceType\":\"Task\",\"id\":\"t9\",\"status\":\"accepted\",\"basedOn\":[{"
             "\"reference\":\"CarePlan/c1\"}],\"lastModified\":\"2024-06-11T09:00:00+07:00\"}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.basedOn[0].reference", "must name a ServiceRequest");
    run_text(&r,
             "{\"resourceType\":\"Task\",\"id\":\"t9\",\"status\":\"accepted\",\"basedOn\":[{"
             "\"reference\":\"ServiceRequest/S1\"}]}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.authoredOn", "required");
    run_text(&r,
             "{\"resourceType\":\"ServiceRequest\",\"id\":\"s\",\"status\":\"active\","
             "\"authoredOn\":\"2024-01-01\",\"priority\":\"whenever\","
             "\"performer\":[{\"reference\":\"Organization/blk-jaksel\"}]}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.priority", "\"whenever\" is not a priority");
    run_text(&r,
             "{\"resourceType\":\"ServiceRequest\",\"id\":\"s\",\"status\":\"unknown\","
             "\"authoredOn\":\"2024-01-01\"}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.status", "\"unknown\" is not a status");
    run_text(&r,
             "{\"resourceType\":\"ServiceRequest\",\"id\":\"s\",\"status\":\"revoked\","
             "\"authoredOn\":\"2024-01-01\"}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.performer[0]", "required field is missing");
    run_text(&r,
             "{\"resourceType\":\"ServiceRequest\",\"id\":\"s\",\"status\":\"revoked\","
             "\"performer\":[{\"reference\":\"Organization/blk-jaksel\"}]}",
             set);
    expect(&r, BN_INVALID_EVENT, "$.authoredOn", "required");
    ops()->settings_free(set);
#undef TASK
}

/* ---- errors --------------------------------------------------------------------------------- */

#define IMM(extra)                                                                                 \
    "{\"resourceType\":\"Immunization\",\"id\":\"i\",\"status\":\"completed\"," extra "}"
#define VAX "\"vaccineCode\":{\"coding\":[{\"system\":\"" CVX "\",\"code\":\"08\"}]}"

static void test_errors(void)
{
    run_t r;
    run_file(&r, "truncated.json", NULL);
    expect_syntax(&r, "line 1, column 56");
    run_text(&r, "", NULL);
    expect_syntax(&r, "line 1, column 1");
    run_text(&r, "{\"resourceType\":\"Immunization\",\"id\":\"a\",\"id\":\"b\"}", NULL);
    expect_syntax(&r, "line 1, column 41");
    run_text(&r, "[1]", NULL);
    expect(&r, BN_INVALID_EVENT, "$", "expected a FHIR resource");
    run_text(&r, "{\"id\":\"x\"}", NULL);
    expect(&r, BN_INVALID_EVENT, "$.resourceType", "required");
    run_text(&r, "{\"resourceType\":7}", NULL);
    expect(&r, BN_INVALID_EVENT, "$.resourceType", "expected a string");
    run_file(&r, "observation.json", NULL);
    expect(&r, BN_INVALID_EVENT, "$.resourceType", "unsupported resourceType \"Observation\"");
    run_text(&r, "{\"resourceType\":\"Patient\",\"id\":\"p\"}", NULL);
    expect(&r, BN_INVALID_EVENT, "$.resourceType", "unsupported resourceType \"Patient\"");
    run_file(&r, "bundle-unsupported.json", NULL);
    expect(&r, BN_INVALID_EVENT, "$.entry[2].resource.resourceType",
           "unsupported resourceType \"Condition\"");
    run_text(&r, "{\"resourceType\":\"Bundle\",\"type\":\"document\",\"entry\":[]}", NULL);
    expect(&r, BN_INVALID_EVENT, "$.type", "\"document\" is not translated");
    run_text(&r, "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"resource\":3}]}",
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.entry[0].resource", "expected an object");
    run_file(&r, "wrong-types.json", NULL);
    expect(&r, BN_INVALID_EVENT, "$.vaccineCode.coding", "expected an array");

    run_file(&r, "patient-bad-nik.json", NULL);
    expect(&r, BN_INVALID_EVENT, "$.entry[0].resource.identifier[1].value", "NIK must be 16 digits");
    CHECK(strstr(r.err.msg, "31740912") == NULL);

    run_text(&r,
             "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"resource\":{"
             "\"resourceType\":\"Immunization\",\"id\":\"i\",\"status\":\"completed\","
             "\"vaccineCode\":{\"coding\":[{\"system\":\"" KFA "\",\"display\":\"x\"}]},"
             "\"occurrenceDateTime\":\"2024-01-01\"}}]}",
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.entry[0].resource.vaccineCode.coding[0].code", "required");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-03\""), NULL);
    expect(&r, BN_INVALID_EVENT, "$.occurrenceDateTime", "partial date");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024\""), NULL);
    expect(&r, BN_INVALID_EVENT, "$.occurrenceDateTime", "partial date");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-03-05T09:30:00\""), NULL);
    expect(&r, BN_INVALID_EVENT, "$.occurrenceDateTime", "with a time zone");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-02-30\""), NULL);
    expect(&r, BN_INVALID_EVENT, "$.occurrenceDateTime", "not a FHIR date");
    run_text(&r, IMM(VAX ",\"occurrenceString\":\"last spring\""), NULL);
    expect(&r, BN_INVALID_EVENT, "$.occurrenceString", "cannot be dated");
    run_text(&r, IMM(VAX), NULL);
    expect(&r, BN_INVALID_EVENT, "$.occurrenceDateTime", "required");
    run_text(&r, IMM("\"occurrenceDateTime\":\"2024-01-01\""), NULL);
    expect(&r, BN_INVALID_EVENT, "$.vaccineCode", "required");
    run_text(&r,
             "{\"resourceType\":\"Immunization\",\"status\":\"completed\"," VAX
             ",\"occurrenceDateTime\":\"2024-01-01\"}",
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.id", "id or identifier[0].value");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"status\":\"done\""), NULL);
    expect_syntax(&r, "line 1, column 176");
    run_text(&r,
             "{\"resourceType\":\"Immunization\",\"id\":\"i\",\"status\":\"done\"," VAX
             ",\"occurrenceDateTime\":\"2024-01-01\"}",
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.status", "\"done\" is not a status");
    run_text(&r,
             IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"protocolApplied\":[{"
                     "\"doseNumberPositiveInt\":\"2\"}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.protocolApplied[0].doseNumberPositiveInt", "positive integer");
    run_text(&r,
             IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"protocolApplied\":[{"
                     "\"doseNumberPositiveInt\":0}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.protocolApplied[0].doseNumberPositiveInt", "positive integer");
    run_text(&r,
             IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"protocolApplied\":[{"
                     "\"doseNumberString\":\"booster\"}],\"lotNumber\":null"),
             NULL);
    Benang__V1__Event *e = ok(&r, 1);
    CHECK(e && e->immunisation->dose_number == 0);
    bn_event_list_clear(&r.list);
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"performer\":{}"), NULL);
    expect(&r, BN_INVALID_EVENT, "$.performer", "expected an array");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"site\":[\"LA\"]"), NULL);
    expect(&r, BN_INVALID_EVENT, "$.site", "expected an object");
    run_text(&r, IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"lotNumber\":7"), NULL);
    expect(&r, BN_INVALID_EVENT, "$.lotNumber", "expected a string");
}

static void test_subject_errors(void)
{
    run_t r;
#define AT ",\"occurrenceDateTime\":\"2024-01-01\","
    run_text(&r, IMM(VAX AT "\"patient\":{\"reference\":\"urn:uuid:0000\"}"), NULL);
    expect(&r, BN_INVALID_EVENT, "$.patient.reference", "needs a Bundle");
    run_text(&r, IMM(VAX AT "\"patient\":{\"reference\":\"#nobody\"}"), NULL);
    expect(&r, BN_INVALID_EVENT, "$.patient.reference", "does not resolve");
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"reference\":\"#g\"},\"contained\":[{\"resourceType\":"
                        "\"Group\",\"id\":\"g\"}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.patient.reference", "refers to a Group, not a Patient");
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"reference\":\"#p\"},\"contained\":[{\"resourceType\":"
                        "\"Patient\",\"id\":\"p\",\"gender\":\"F\"}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.contained[0].gender", "\"F\" is not a gender");
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"reference\":\"#p\"},\"contained\":[{\"resourceType\":"
                        "\"Patient\",\"id\":\"p\",\"birthDate\":\"02-11-2023\"}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.contained[0].birthDate", "not a FHIR date");
    CHECK(strstr(r.err.msg, "2023") == NULL);
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"reference\":\"#p\"},\"contained\":[{\"resourceType\":"
                        "\"Patient\",\"id\":\"p\",\"name\":[{\"given\":[\"A\",7]}]}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.contained[0].name[0].given[1]", "expected a string");
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"reference\":\"#p\"},\"contained\":[{\"resourceType\":"
                        "\"Patient\",\"id\":\"p\",\"identifier\":[{\"system\":\"https://fhir."
                        "kemkes.go.id/id/nik\",\"value\":\"31710123456700019\"}]}]"),
             NULL);
    expect(&r, BN_INVALID_EVENT, "$.contained[0].identifier[0].value", "NIK must be 16 digits");
    CHECK(strstr(r.err.msg, "3171") == NULL);

    /* a logical reference by NIK identifier, and a settings-chosen NIK system */
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"identifier\":{\"system\":\"https://fhir.kemkes.go.id/"
                        "id/nik\",\"value\":\"3171.0123.4567.0001\"}}"),
             NULL);
    Benang__V1__Event *e = ok(&r, 1);
    CHECK(e && e->subject && !strcmp(e->subject->nik, "3171012345670001"));
    bn_event_list_clear(&r.list);
    bn_node_t *root = map_node(2, 3);
    add(root, "nik_system", scalar("urn:oid:2.16.360.1", 2, 15));
    void *set = NULL;
    bn_error_t err;
    CHECK(ops()->settings_new(root, &set, &err) == BN_OK);
    bn_node_destroy(&root);
    run_text(&r,
             IMM(VAX AT "\"patient\":{\"reference\":\"#p\"},\"contained\":[{\"resourceType\":"
                        "\"Patient\",\"id\":\"p\",\"identifier\":[{\"system\":\"https://fhir."
                        "kemkes.go.id/id/nik\",\"value\":\"L-1\"},{\"system\":\"urn:oid:2.16."
                        "360.1\",\"value\":\"3171012345670001\"}]}]"),
             set);
    if ((e = ok(&r, 1)) != NULL && e->subject) {
        CHECK_STR(e->subject->nik, "3171012345670001");
        CHECK_STR(e->subject->local_id, "L-1");
    }
    bn_event_list_clear(&r.list);
    ops()->settings_free(set);
#undef AT
}

/* Syntax errors: strict RFC 8259 (yajl plus our checks), placed as "line L, column C"
 * at the offending byte or token, with a message that says what is wrong. */
static void test_json_reader(void)
{
    static const struct {
        const char *text, *where, *msg;
    } bad[] = {
        {"{\"a\":\"\xc3\x28\"}", "line 1, column 7", "UTF8"},
        {"{\"a\":\"\xed\xa0\x80\"}", "line 1, column 7", "not valid UTF-8"}, /* a surrogate */
        {"{\"a\":\"ok\xc0\x80\"}", "line 1, column 9", "not valid UTF-8"},   /* overlong NUL */
        {"{\"a\":\"\xf5\x80\x80\x80\"}", "line 1, column 7", "UTF"},          /* > U+10FFFF */
        {"{\"a\":\"x\\u0000\"}", "line 1, column 8", "\\u0000"},
        {"{\"a\":\"\\ud800x\"}", "line 1, column 7", "high surrogate without its low"},
        {"{\"a\":\"\\ud800\\u0041\"}", "line 1, column 7", "high surrogate without its low"},
        {"{\"a\":\"\\udc00\"}", "line 1, column 7", "lone low surrogate"},
        {"{\"\\udc00\":1}", "line 1, column 3", "lone low surrogate"}, /* in a key */
        {"{\"a\":\"\\u12g4\"}", "line 1, column 11", "non-hex"},
        {"{\"a\":\"\\q\"}", "line 1, column 8", "'\\' occurs before"},
        {"{\"a\":\"x\ty\"}", "line 1, column 8", "invalid character inside string"},
        {"{\n  \"a\": 01}", "line 2, column 9", "expect ',' or '}'"},
        {"{\"a\": -}", "line 1, column 8", "malformed number"},
        {"{\"a\": 1.}", "line 1, column 9", "malformed number"},
        {"{\"a\": 1e+}", "line 1, column 10", "malformed number"},
        {"{\"a\": tru}", "line 1, column 10", "invalid string"},
        {"{\"a\" 1}", "line 1, column 6", "separated by a colon"},
        {"{\"a\":1,}", "line 1, column 8", "invalid object key"},
        {"[1 2]", "line 1, column 4", "expect ',' or ']'"},
        {"{\"a\":1} x", "line 1, column 9", "trailing garbage"},
        {"\n\n  {\"a\":[1,", "line 3, column 11", "ends inside a value"},
        {"", "line 1, column 1", "ends inside a value"},
        {"\"r{\\\\\\", "line 1, column 7", "'\\' occurs before"}, /* found by fuzzing */
        {"{\"a\":{\"b\":1,\"b\":2}}", "line 1, column 13", "duplicate key \"b\""},
        /* what yajl lets pass and the reader refuses (found by the differential fuzzer) */
        {"{\"a\":1,\f\"b\":2}", "line 1, column 8", "form feed"},
        {"{\"a\":\v1}", "line 1, column 6", "vertical tab"},
        {"{\"a\":1}\"", "line 1, column 8", "trailing garbage"},
        {"{}\n\"x", "line 2, column 1", "trailing garbage"},
    };
    run_t r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_text(&r, bad[i].text, NULL);
        CHECK_MSG(strcmp(r.err.where, bad[i].where) == 0, "case %zu: where \"%s\", want \"%s\"", i,
                  r.err.where, bad[i].where);
        CHECK_MSG(strstr(r.err.msg, bad[i].msg) != NULL, "case %zu: msg \"%s\" lacks \"%s\"", i,
                  r.err.msg, bad[i].msg);
        expect_syntax(&r, bad[i].where);
    }
    /* a duplicate key among 40 members */
    char big[1024];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"resourceType\":\"Task\"");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, ",\"k%d\":%d", i == 39 ? 3 : i, i);
    snprintf(big + n, sizeof big - n, "}");
    run_text(&r, big, NULL);
    CHECK_STR(r.err.where, "line 1, column 355");
    expect_syntax(&r, "line 1, column 355");
    /* escapes decode: a surrogate pair, \/ and \n; numbers, true, false and null parse */
    run_text(&r,
             IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\",\"lotNumber\":\"A\\/\\ud83d\\ude00"
                     "\\u00e9\\n\",\"primarySource\":true,\"isSubpotent\":false,\"doseQuantity\":"
                     "{\"value\":-0.5e-3},\"expirationDate\":null"),
             NULL);
    Benang__V1__Event *e = ok(&r, 1);
    if (e)
        CHECK_STR(e->immunisation->lot_number, "A/\xf0\x9f\x98\x80\xc3\xa9\n");
    bn_event_list_clear(&r.list);
    run_text(&r, "\xEF\xBB\xBF" IMM(VAX ",\"occurrenceDateTime\":\"2024-01-01\""), NULL);
    ok(&r, 1);
    bn_event_list_clear(&r.list);
}

static void test_depth(void)
{
    run_t r;
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    run_text(&r, deep, NULL);
    expect(&r, BN_BAD_PAYLOAD, "line 1, column 65", "deeper than 64");
    free(deep);
    /* 60 levels inside an extension are fine; brackets in strings do not count */
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text, "%s",
                                "{\"resourceType\":\"Immunization\",\"id\":\"i\",\"status\":"
                                "\"completed\"," VAX ",\"occurrenceDateTime\":\"2024-01-01\","
                                "\"note\":[{\"text\":\"[[[[{{{{\\\"\"}],\"extension\":");
    for (int i = 0; i < 60; i++)
        text[n++] = '[';
    for (int i = 0; i < 60; i++)
        text[n++] = ']';
    text[n++] = '}';
    text[n] = '\0';
    run_text(&r, text, NULL);
    ok(&r, 1);
    bn_event_list_clear(&r.list);
}

/* ---- the reference bundle --------------------------------------------------------------------- */

static void test_reference_bundle(void)
{
    size_t len = 0;
    char *data = bn_test_read_file(REFERENCE_BUNDLE, &len);
    if (!data) {
        printf("note: %s absent, reference bundle skipped\n", REFERENCE_BUNDLE);
        return;
    }
    run_t r;
    run(&r, data, len, NULL, 0);
    free(data);
    Benang__V1__Event *e = ok(&r, 1); /* Observations, MessageHeader, the VXU order: context */
    if (e) {
        Benang__V1__Immunisation *im = e->immunisation;
        CHECK_STR(e->source_id, "9d7483ec-3273-a9d9-0d6c-da4895472607");
        CHECK_STR(e->occurred_at, "2012-08-14");
        check_coding(im->vaccine, "http://example.com/v2-to-fhir-converter/CodeSystem/CVX", "140",
                     "Influenza, seasonal, injectable, preservative free");
        CHECK_STR(im->administered_on, "2012-08-14");
        CHECK_STR(im->lot_number, "Z0860BB");
        CHECK_STR(im->site, "LD");
        CHECK_STR(im->route, "C28161");
        CHECK_STR(im->performer, "Practitioner/6389563f-944d-cf03-c166-cab811fa11b5");
        CHECK_EQ_U64(im->status, BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED);
        CHECK(e->subject != NULL);
        if (e->subject) {
            CHECK_STR(e->subject->local_id, "D26376273");
            CHECK_STR(e->subject->name, "Madelynn Ainsley Snow");
            CHECK_STR(e->subject->birth_date, "2007-07-06");
            CHECK_EQ_U64(e->subject->sex, BENANG__V1__SEX__SEX_FEMALE);
            CHECK_STR(e->subject->village, "Warwick");
            CHECK_STR(e->subject->nik, "");
        }
    }
    bn_event_list_clear(&r.list);
}

int main(void)
{
    CHECK(ops() != NULL && ops()->translate && ops()->settings_new && ops()->settings_free);
    test_settings();
    test_immunization();
    test_bundles();
    test_referrals();
    test_errors();
    test_subject_errors();
    test_json_reader();
    test_depth();
    test_reference_bundle();
    return bn_test_finish("test_fhir");
}
