/* test_hl7v2.c: the "hl7v2" adapter: HL7 v2.x ER7 VXU^V04 and REF^I12-I14 to events.
 *
 * Driven as the hub drives it: settings_new() from a YAML node tree, then
 * translate() into a list, then bn_event_validate() on every event. The
 * project's own fixtures live in tests/fixtures/hl7v2/; the reference
 * messages written by others are read from ../shared/fixtures/hl7v2/ when
 * that directory exists (never copied here) and skipped with a note when not.
 */
#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "testutil.h"
#include "validate.h"

#define REF_DIR BN_SOURCE_DIR "/../shared/fixtures/hl7v2/"
#define OWN_DIR BN_FIXTURES "/hl7v2/"
#define CVX "http://hl7.org/fhir/sid/cvx"
#define NDC "http://hl7.org/fhir/sid/ndc"

typedef struct {
    bn_status_t st;
    bn_error_t err;
    bn_event_list_t list;
} run_t;

static const bn_adapter_ops_t *ops(void)
{
    return bn_adapter_find("hl7v2");
}

/* Translate, then validate each event while all is well. */
static void run(run_t *r, const void *settings, const void *data, size_t len, size_t max_events)
{
    bn_adapter_ctx_t ctx = {.agency = "puskesmas-a", .sector = "health", .settings = settings,
                            .max_events = max_events};
    memset(r, 0, sizeof *r);
    bn_error_clear(&r->err);
    r->st = ops()->translate(&ctx, data, len, &r->list, &r->err);
    for (size_t i = 0; r->st == BN_OK && i < r->list.len; i++)
        r->st = bn_event_validate(r->list.items[i], &r->err);
    if (r->st != BN_OK)
        bn_event_list_clear(&r->list); /* all or nothing, as the hub does */
}

static void run_str(run_t *r, const void *settings, const char *text)
{
    run(r, settings, text, strlen(text), 0);
}

/* Run a file; false (and a note) when it is missing. */
static bool run_file(run_t *r, const void *settings, const char *path)
{
    size_t len;
    char *data = bn_test_read_file(path, &len);
    if (!data) {
        printf("note: %s not found, skipped\n", path);
        return false;
    }
    run(r, settings, data, len, 0);
    free(data);
    return true;
}

static void expect_ok(run_t *r, size_t n)
{
    CHECK_MSG(r->st == BN_OK, "status %s (%s: %s)", bn_status_name(r->st), r->err.where,
              r->err.msg);
    CHECK_EQ_U64(r->list.len, n);
}

static void expect_err(run_t *r, bn_status_t st, const char *where, const char *msg)
{
    CHECK_MSG(r->st == st, "status %s, want %s (%s: %s)", bn_status_name(r->st),
              bn_status_name(st), r->err.where, r->err.msg);
    CHECK_STR(r->err.where, where);
    if (msg)
        CHECK_MSG(strstr(r->err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", r->err.msg, msg);
    CHECK_EQ_U64(r->list.len, 0);
}

static const Benang__V1__Immunisation *imm(run_t *r, size_t i)
{
    return i < r->list.len ? r->list.items[i]->immunisation : NULL;
}

/* ---- settings ------------------------------------------------------------------ */

static bn_node_t *scalar(const char *v, unsigned line)
{
    bn_node_t *n = bn_node_new(BN_NODE_SCALAR, "agency.yaml", line, 7);
    n->scalar = strdup(v);
    return n;
}

static void add(bn_node_t *parent, const char *key, bn_node_t *child)
{
    CHECK(bn_node_add(parent, key, &child));
}

/* A settings map from "key", "value" pairs; a value "[a,b]" becomes a list. */
static bn_node_t *settings_node(const char *const *kv)
{
    bn_node_t *m = bn_node_new(BN_NODE_MAP, "agency.yaml", 3, 5);
    for (unsigned i = 0; kv[i]; i += 2) {
        if (kv[i + 1][0] != '[') {
            add(m, kv[i], scalar(kv[i + 1], 4 + i));
            continue;
        }
        bn_node_t *seq = bn_node_new(BN_NODE_SEQ, "agency.yaml", 4 + i, 7);
        char buf[128];
        snprintf(buf, sizeof buf, "%s", kv[i + 1] + 1);
        for (char *tok = strtok(buf, ",]"); tok; tok = strtok(NULL, ",]"))
            add(seq, NULL, scalar(tok, 4 + i));
        add(m, kv[i], seq);
    }
    return m;
}

static void *make_settings(const char *const *kv, const char *const *providers)
{
    bn_node_t *m = settings_node(kv);
    if (providers) {
        bn_node_t *p = bn_node_new(BN_NODE_MAP, "agency.yaml", 20, 5);
        for (unsigned i = 0; providers[i]; i += 2)
            add(p, providers[i], scalar(providers[i + 1], 21 + i));
        add(m, "providers", p);
    }
    void *s = NULL;
    bn_error_t err;
    bn_status_t st = ops()->settings_new(m, &s, &err);
    CHECK_MSG(st == BN_OK, "settings: %s: %s", err.where, err.msg);
    bn_node_destroy(&m);
    return s;
}

static void settings_fail(const char *const *kv, const char *where, const char *msg)
{
    bn_node_t *m = settings_node(kv);
    void *s = NULL;
    bn_error_t err;
    CHECK(ops()->settings_new(m, &s, &err) == BN_CONFIG);
    CHECK(s == NULL);
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", err.msg, msg);
    bn_node_destroy(&m);
}

static void test_settings(void)
{
    void *s = (void *)1;
    bn_error_t err;
    CHECK(ops() && !strcmp(ops()->name, "hl7v2") && ops()->settings_free);
    CHECK(ops()->settings_new(NULL, &s, &err) == BN_OK && s == NULL);
    ops()->settings_free(NULL);
    const char *good[] = {"nik_identifier_type", "KTP", "ignore_types", "[ADT,ORU^R01]",
                          "facility_from", "msh4", "village_component", "8", NULL};
    s = make_settings(good, (const char *[]){"PLN1001", "rs-ghh", NULL});
    CHECK(s != NULL);
    ops()->settings_free(s);
    settings_fail((const char *[]){"nik_type", "NIK", NULL}, "agency.yaml:4:7",
                  "unknown hl7v2 setting \"nik_type\"");
    settings_fail((const char *[]){"facility_from", "pv1", NULL}, "agency.yaml:4:7",
                  "facility_from must be msh4 or rxa11");
    settings_fail((const char *[]){"ignore_types", "ADT", NULL}, "agency.yaml:4:7",
                  "ignore_types must be a list");
    settings_fail((const char *[]){"nik_identifier_type", "NIK", "village_component", "15", NULL},
                  "agency.yaml:6:7", "village_component must be");
}

/* ---- reference fixtures (written by others) ------------------------------------------ */

static void test_reference_vxu(void)
{
    run_t r;
    if (run_file(&r, NULL, REF_DIR "vxu_v04_nist_iz_1.1_admin_child_max.hl7")) {
        expect_ok(&r, 1);
        const Benang__V1__Event *ev = r.list.items[0];
        CHECK_STR(ev->source_id, "IZ-783274");
        CHECK_STR(ev->occurred_at, "2012-08-14");
        CHECK_STR(ev->type, "immunisation");
        CHECK_STR(imm(&r, 0)->vaccine->code, "140");
        CHECK_STR(imm(&r, 0)->vaccine->system, CVX);
        CHECK_STR(imm(&r, 0)->administered_on, "2012-08-14");
        CHECK_STR(imm(&r, 0)->lot_number, "Z0860BB");
        CHECK_STR(imm(&r, 0)->facility, "X68");
        CHECK_STR(imm(&r, 0)->route, "Intramuscular");
        CHECK_STR(imm(&r, 0)->site, "Left Arm");
        CHECK_STR(imm(&r, 0)->performer, "Mike A Lemon");
        CHECK(imm(&r, 0)->status == BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED);
        CHECK_STR(ev->subject->local_id, "D26376273");
        CHECK_STR(ev->subject->nik, "");
        CHECK_STR(ev->subject->birth_date, "2007-07-06");
        CHECK(ev->subject->sex == BENANG__V1__SEX__SEX_FEMALE);
        CHECK_STR(ev->subject->village, "Warwick");
        bn_event_list_clear(&r.list);
    }
    if (run_file(&r, NULL, REF_DIR "vxu_v04_nist_iz_ad_2.1_z22.hl7")) {
        expect_ok(&r, 3);
        static const char *ids[] = {"13696", "38760", "35508"};
        static const char *codes[] = {"49281-0215-88", "88", "88"};
        static const char *dates[] = {"2015-06-24", "2014-10-12", "2013-11-12"};
        for (size_t i = 0; i < r.list.len; i++) {
            CHECK_STR(r.list.items[i]->source_id, ids[i]);
            CHECK_STR(imm(&r, i)->vaccine->code, codes[i]);
            CHECK_STR(imm(&r, i)->vaccine->system, i ? CVX : NDC);
            CHECK_STR(imm(&r, i)->administered_on, dates[i]);
            CHECK_STR(imm(&r, i)->facility, i ? "" : "NIST-Clinic-1"); /* historical: none */
            CHECK_STR(r.list.items[i]->subject->birth_date, "1983-06-15");
        }
        CHECK_STR(imm(&r, 0)->lot_number, "315841");
        bn_event_list_clear(&r.list);
    }
    if (run_file(&r, NULL, REF_DIR "vxu_v04_ghh_v2.8_kitchen_sink.hl7")) {
        expect_ok(&r, 1);
        const Benang__V1__Event *ev = r.list.items[0];
        CHECK_STR(ev->source_id, "13696");
        CHECK_STR(imm(&r, 0)->vaccine->code, "49281021588");
        CHECK_STR(imm(&r, 0)->vaccine->system, NDC);
        CHECK_STR(imm(&r, 0)->vaccine->display, "TENIVAC");
        CHECK_STR(ev->occurred_at, "2021-08-18");
        CHECK_STR(imm(&r, 0)->lot_number, "315841");
        CHECK_STR(imm(&r, 0)->site, "Right Deltoid");
        CHECK_STR(ev->subject->local_id, "PATID1234"); /* first of the PID-3 repeats */
        CHECK_STR(ev->subject->name, "ADAM A EVERYMAN"); /* family name from subcomponent 1 */
        CHECK_STR(ev->subject->birth_date, "1988-08-18"); /* from 198808181126+0215 */
        CHECK_STR(ev->subject->village, "Ann Arbor"); /* trailing blank dropped */
        CHECK(ev->subject->sex == BENANG__V1__SEX__SEX_MALE);
        bn_event_list_clear(&r.list);
    }
}

static void test_reference_ref_adt(void)
{
    run_t r;
    void *set = make_settings((const char *[]){NULL},
                              (const char *[]){"PLN1001", "rs-ghh", "PLN5010", "rs-radiant", NULL});
    if (run_file(&r, set, REF_DIR "ref_i12_ghh_v2.8.hl7")) {
        expect_ok(&r, 1);
        const Benang__V1__Event *ev = r.list.items[0];
        const Benang__V1__Referral *rf = ev->referral;
        CHECK(rf != NULL);
        CHECK_STR(ev->type, "referral");
        CHECK_STR(ev->source_id, "226839");
        CHECK_STR(rf->referral_id, "226839");
        CHECK_STR(rf->from_agency, "rs-ghh");
        CHECK_STR(rf->to_agency, "rs-radiant");
        CHECK(rf->status == BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED);
        CHECK(rf->priority == BENANG__V1__PRIORITY__PRIORITY_ROUTINE);
        CHECK_STR(rf->reason->code, "O");
        CHECK_STR(rf->reason->system, "urn:hl7v2:HL70336");
        CHECK_STR(rf->reason_text, "Provider Ordered");
        CHECK_STR(rf->requested_on, "2022-01-25");
        CHECK_STR(ev->occurred_at, "2022-01-25");
        CHECK_STR(ev->subject->local_id, "PATID1234");
        CHECK_STR(ev->subject->birth_date, "1961-06-15");
        bn_event_list_clear(&r.list);
    }
    if (run_file(&r, NULL, REF_DIR "ref_i12_ghh_v2.8.hl7"))
        expect_err(&r, BN_INVALID_EVENT, "message 1, PRD[2] (line 6)",
                   "(PLN5010, RADIANT HEALTH HOSPITAL, GI FACILITY) under settings hl7v2.providers");
    ops()->settings_free(set);

    if (run_file(&r, NULL, REF_DIR "adt_a01_v2.3_accmgr.hl7"))
        expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-9 (line 1)",
                   "message type ADT^A01 is not supported by the hl7v2 adapter (supported: "
                   "VXU^V04, REF^I12");
    if (run_file(&r, NULL, REF_DIR "adt_a04_ghh_v2.8.hl7"))
        expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-9 (line 1)", "message type ADT^A04 is not");
    set = make_settings((const char *[]){"ignore_types", "[ADT]", NULL}, NULL);
    if (run_file(&r, set, REF_DIR "adt_a01_v2.3_accmgr.hl7"))
        expect_ok(&r, 0);
    if (run_file(&r, set, REF_DIR "adt_a04_ghh_v2.8.hl7"))
        expect_ok(&r, 0);
    ops()->settings_free(set);
    set = make_settings((const char *[]){"ignore_types", "[ADT^A04]", NULL}, NULL);
    if (run_file(&r, set, REF_DIR "adt_a01_v2.3_accmgr.hl7"))
        expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-9 (line 1)", "ADT^A01 is not supported");
    if (run_file(&r, set, REF_DIR "adt_a04_ghh_v2.8.hl7"))
        expect_ok(&r, 0);
    ops()->settings_free(set);
}

/* ---- own fixtures ------------------------------------------------------------------- */

static void test_own_vxu(void)
{
    run_t r;
    CHECK(run_file(&r, NULL, OWN_DIR "vxu_multi.hl7"));
    expect_ok(&r, 3);
    for (size_t i = 0; i < r.list.len; i++) {
        const Benang__V1__Subject *sj = r.list.items[i]->subject;
        CHECK_STR(sj->nik, "3174011234567890"); /* the second PID-3 repetition, type NIK */
        CHECK_STR(sj->local_id, "RM-0042");
        CHECK_STR(sj->name, "Siti Ayu Lestari");
        CHECK_STR(sj->birth_date, "2025-06-12");
        CHECK_STR(sj->village, "Tanjung Barat");
    }
    if (r.list.len == 3) {
        CHECK_STR(r.list.items[0]->source_id, "PKM-IMM-1001");
        CHECK_STR(r.list.items[0]->occurred_at, "2026-11-03T09:00:00+07:00"); /* MSH-7 zone */
        CHECK_STR(imm(&r, 0)->vaccine->display, "DTaP&HepB&Hib^Pentabio");
        CHECK_STR(imm(&r, 0)->lot_number, "PB|2611A");
        CHECK_EQ_U64(imm(&r, 0)->dose_number, 2);
        CHECK_STR(imm(&r, 0)->facility, "PKM-TB-POSYANDU-3");
        CHECK_STR(imm(&r, 0)->performer, "Dewi Rahma");
        CHECK_STR(imm(&r, 0)->route, "Intramuscular");
        CHECK_STR(imm(&r, 0)->site, "Left Thigh");
        CHECK(imm(&r, 1)->status == BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE);
        CHECK_STR(imm(&r, 1)->status_reason->code, "00");
        CHECK_STR(imm(&r, 1)->status_reason->system, "urn:hl7v2:NIP002");
        CHECK_STR(imm(&r, 1)->status_reason->display, "Parental decision");
        CHECK_STR(imm(&r, 1)->facility, "PKM-TANJUNG-BARAT"); /* MSH-4 */
        CHECK_EQ_U64(imm(&r, 1)->dose_number, 0);
        CHECK(imm(&r, 2)->status ==
              BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_ENTERED_IN_ERROR);
        CHECK_STR(r.list.items[2]->source_id, "PKM-IMM-0950");
    }
    bn_event_list_clear(&r.list);

    void *set = make_settings((const char *[]){"facility_from", "msh4", "village_component",
                                               "4", NULL}, NULL);
    CHECK(run_file(&r, set, OWN_DIR "vxu_multi.hl7"));
    expect_ok(&r, 3);
    CHECK_STR(imm(&r, 0)->facility, "PKM-TANJUNG-BARAT");
    CHECK_STR(r.list.items[0]->subject->village, "Jakarta Selatan");
    bn_event_list_clear(&r.list);
    ops()->settings_free(set);
    set = make_settings((const char *[]){"nik_identifier_type", "MR", NULL}, NULL);
    CHECK(run_file(&r, set, OWN_DIR "vxu_multi.hl7")); /* MR is not a 16-digit NIK */
    expect_err(&r, BN_INVALID_EVENT, "subject.nik", "16 digits");
    ops()->settings_free(set);

    CHECK(run_file(&r, NULL, OWN_DIR "batch_two.hl7"));
    expect_ok(&r, 2);
    if (r.list.len == 2) {
        CHECK_STR(r.list.items[0]->source_id, "B-1-1"); /* no ORC: MSH-10 "-" RXA number */
        CHECK_STR(r.list.items[1]->source_id, "B-2-1");
        CHECK_STR(imm(&r, 1)->vaccine->code, "10");
        CHECK_STR(r.list.items[1]->subject->nik, "3174019876543210");
    }
    bn_event_list_clear(&r.list);
}

static void test_own_ref(void)
{
    run_t r;
    void *set = make_settings((const char *[]){NULL},
                              (const char *[]){"DINSOS-JKS", "dinsos-jaksel", NULL});
    CHECK(run_file(&r, set, OWN_DIR "ref_i12.hl7"));
    expect_ok(&r, 1);
    if (r.list.len == 1) {
        const Benang__V1__Referral *rf = r.list.items[0]->referral;
        CHECK_STR(rf->referral_id, "RUJ-2026-0031");
        CHECK_STR(rf->from_agency, "puskesmas-a"); /* RP not mapped: the sender */
        CHECK_STR(rf->to_agency, "dinsos-jaksel");
        CHECK(rf->priority == BENANG__V1__PRIORITY__PRIORITY_URGENT);
        CHECK_STR(rf->reason->code, "MAL");
        CHECK_STR(rf->reason->system, "urn:hl7v2:L");
        CHECK_STR(rf->reason_text, "Gizi buruk");
        CHECK_STR(r.list.items[0]->subject->nik, "3174011234567890");
    }
    bn_event_list_clear(&r.list);
    ops()->settings_free(set);

    size_t len;
    char *text = bn_test_read_file(OWN_DIR "ref_i12.hl7", &len);
    CHECK(text != NULL);
    if (!text)
        return;
    set = make_settings((const char *[]){NULL},
                        (const char *[]){"DINSOS-JKS", "dinsos-jaksel", "PKM-TB-01", "pkm-tb", NULL});
    char *p = strstr(text, "REF^I12");
    memcpy(p, "REF^I14", 7);
    run(&r, set, text, len, 0);
    expect_ok(&r, 1);
    if (r.list.len == 1) {
        CHECK(r.list.items[0]->referral->status ==
              BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED);
        CHECK_STR(r.list.items[0]->referral->from_agency, "pkm-tb");
    }
    bn_event_list_clear(&r.list);
    memcpy(strstr(text, "PRD|RT"), "PRD|XX", 6);
    run(&r, set, text, len, 0);
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RF1[1] (line 2)", "no PRD segment with role RT");
    memcpy(strstr(text, "RF1|P"), "RF1|Q", 5);
    run(&r, set, text, len, 0);
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RF1[1]-1.1 (line 2)", "not one of P, A, R, E");
    ops()->settings_free(set);
    free(text);
}

static void test_own_malformed(void)
{
    static const struct {
        const char *file, *where, *msg;
    } cases[] = {
        {"missing_msh.hl7", "line 1", "missing MSH"},
        {"truncated_msh.hl7", "message 1, MSH-2 (line 1)", "encoding characters missing"},
        {"bad_escape.hl7", "message 1, RXA[1]-5.2 (line 4)", "unknown escape sequence"},
        {"rxa3_bad_date.hl7", "message 1, RXA[1]-3 (line 4)", "not a valid HL7 date/time"},
        {"rxa5_missing.hl7", "message 1, RXA[1]-5.1 (line 4)", "vaccine code missing"},
        {"invalid_utf8.hl7", "message 1, PID[1]-5.2 (line 2)", "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        run_t r;
        snprintf(path, sizeof path, OWN_DIR "%s", cases[i].file);
        CHECK(run_file(&r, NULL, path));
        expect_err(&r, BN_BAD_PAYLOAD, cases[i].where, cases[i].msg);
        CHECK_MSG(!strstr(r.err.msg, "Lestari") && !strstr(r.err.msg, "3174"), "%s", r.err.msg);
    }
}

/* ---- syntax, escapes, envelopes, dates (inline messages) ------------------------------- */

#define MSH(id) "MSH|^~\\&|APP|PKM-TB|||20261103091500+0700||VXU^V04|" id "|P|2.5.1"
#define PID "PID|1||3174011234567890^^^^NIK||Lestari^Siti||20250612|F"
#define RXA(date, vax) "RXA|0|1|" date "||" vax "|0.5"

static void test_syntax(void)
{
    run_t r;
    const char *sep[] = {"\r", "\n", "\r\n"};
    for (size_t i = 0; i < 3; i++) { /* BOM, any line end, blank and padded lines */
        char buf[512];
        snprintf(buf, sizeof buf, "\xEF\xBB\xBF%s%s%s  %s%s%s%s%s \t%s%s%s", sep[i], MSH("M1"),
                 sep[i], sep[i], PID, sep[i], sep[i], RXA("20261103", "08^^CVX"), sep[i], "  ",
                 sep[i]);
        run_str(&r, NULL, buf);
        expect_ok(&r, 1);
        if (r.list.len)
            CHECK_STR(r.list.items[0]->source_id, "M1-1");
        bn_event_list_clear(&r.list);
    }
    run_str(&r, NULL, "");
    expect_err(&r, BN_BAD_PAYLOAD, "line 1", "missing MSH");
    run_str(&r, NULL, "\xEF\xBB\xBF \r\n\r\n");
    expect_err(&r, BN_BAD_PAYLOAD, "line 1", "missing MSH");
    run_str(&r, NULL, "\n\nHello world\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 3", "not a segment");
    run_str(&r, NULL, "MSH|^~\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-2 (line 1)", "encoding characters missing");
    run_str(&r, NULL, "MSH|^^\\&|A\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-2 (line 1)", "repeat");
    run_str(&r, NULL, "MSH\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-1 (line 1)", "field separator");
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA#0\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 3", "not followed by the field separator '|'");
    run_str(&r, NULL, "MSH|^~\\&|A|B|||20261103||VXU|M1\r" PID "\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-9 (line 1)", "VXU is not supported");
    run_str(&r, NULL, "MSH|^~\\&|A|B|||20261103||v x u^V04|M1\r" PID "\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-9 (line 1)", "not an HL7 code");
    run_str(&r, NULL, MSH("M1") "\r" RXA("20261103", "08^^CVX") "\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH (line 1)", "no PID segment");
    run_str(&r, NULL, MSH("M1") "\r" PID "\r"); /* patient data only: no events */
    expect_ok(&r, 0);
    /* another field separator and other delimiters */
    run_str(&r, NULL, "MSH#$*/%#A#PKM###20261103##VXU$V04#M2\rPID#1##3174011234567890$$$$NIK"
                      "##Lestari$Siti\rRXA#0#1#20261103##08$Hep/T/B$CVX\r");
    expect_ok(&r, 1);
    if (r.list.len)
        CHECK_STR(imm(&r, 0)->vaccine->display, "Hep%B");
    bn_event_list_clear(&r.list);
}

static void escape_case(const char *field, const char *want, const char *why)
{
    char buf[512];
    run_t r;
    snprintf(buf, sizeof buf, "MSH|^~\\&#|A|PKM|||20261103||VXU^V04|M1|P|2.8\r" PID
             "\rRXA|0|1|20261103||08^%s^CVX\r", field);
    run_str(&r, NULL, buf);
    if (want) {
        expect_ok(&r, 1);
        if (r.list.len)
            CHECK_STR(imm(&r, 0)->vaccine->display, want);
        bn_event_list_clear(&r.list);
    } else {
        expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[1]-5.2 (line 3)", why);
    }
}

static void test_escapes(void)
{
    escape_case("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f", NULL);
    escape_case("\\H\\bold\\N\\ text", "bold text", NULL);
    escape_case("x\\X41\\y\\XC3A9\\", "xAy\xC3\xA9", NULL);
    escape_case("line\\.br\\two\\.sp\\", "line\ntwo", NULL);
    escape_case("cut\\P\\", "cut#", NULL); /* v2.7+ truncation character */
    escape_case("bad\\XFF\\", NULL, "not valid UTF-8");
    escape_case("nul\\X00\\", NULL, "NUL byte");
    escape_case("odd\\X414\\", NULL, "even number of hex digits");
    escape_case("hex\\XZZ\\", NULL, "not a hex digit");
    escape_case("open\\F", NULL, "escape sequence not closed");
    escape_case("empty\\\\", NULL, "empty escape sequence");
    escape_case("\\Q\\", NULL, "unknown escape sequence");
    escape_case("\\Cxxyy\\", NULL, "character set escapes");
    escape_case("\\Zlocal\\", NULL, "locally defined");
    run_t r;
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|20261103||08^x\\P\\^CVX\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[1]-5.2 (line 3)", "no truncation character");
}

static void test_envelopes(void)
{
    run_t r;
    const char *two = MSH("M1") "\r" PID "\r" RXA("20261103", "08^^CVX") "\r" MSH("M2") "\r" PID
        "\r" RXA("20261104", "10^^CVX") "\r";
    run_str(&r, NULL, two);
    expect_ok(&r, 2);
    bn_event_list_clear(&r.list);
    run_str(&r, NULL, MSH("M1") "\r" PID "\r" RXA("20261103", "08^^CVX") "\r" MSH("M2") "\r" PID
                      "\r" RXA("20261104", "") "\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 2, RXA[1]-5.1 (line 6)", "vaccine code missing");
    run_str(&r, NULL, MSH("M1") "\r" PID "\rORC|RE||F1\r" RXA("20261103", "08^^CVX") "\r"
                      "ORC|RE||F2\r" RXA("20261103", "10^^CVX") "\rRXA|0|1|2026||20^^CVX\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[3]-3 (line 7)", "not a valid HL7 date/time");
    run_str(&r, NULL, "BHS|^~\\&|A\r" MSH("M1") "\r" PID "\r" RXA("20261103", "08^^CVX") "\rBTS|2\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 5, BTS-1", "says 2 messages but the envelope holds 1");
    run_str(&r, NULL, "FHS|^~\\&\rBHS|^~\\&\r" MSH("M1") "\r" PID "\r" RXA("20261103", "08^^CVX")
                      "\rBTS|1\rFTS|3\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 7, FTS-1", "says 3 batches but the envelope holds 1");
    run_str(&r, NULL, "BHS|^~\\&\r" MSH("M1") "\r" PID "\r" RXA("20261103", "08^^CVX") "\rBTS|x\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 5, BTS-1", "not a whole number");
    run_str(&r, NULL, "BHS|^~\\&\r" MSH("M1") "\r" PID "\rBTS|1\rPID|2\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 5", "segment PID outside a message");
    run_str(&r, NULL, "FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\r"); /* an empty batch */
    expect_err(&r, BN_BAD_PAYLOAD, "line 1", "missing MSH: the payload holds no HL7 message");
    run_str(&r, NULL, "BHS|^\r");
    expect_err(&r, BN_BAD_PAYLOAD, "line 1, BHS-2", "encoding characters missing");
}

static void test_dates_and_fields(void)
{
    run_t r;
    static const struct {
        const char *rxa3, *at, *on;
    } cases[] = {
        {"20261103", "2026-11-03", "2026-11-03"},
        {"202611031405", "2026-11-03T14:05:00+07:00", "2026-11-03"},
        {"20261103140530.1234-0500", "2026-11-03T14:05:30.1234-05:00", "2026-11-03"},
        {"2026110314+0000", "2026-11-03T14:00:00+00:00", "2026-11-03"},
        {"20240229", "2024-02-29", "2024-02-29"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, MSH("M1") "\r" PID "\rRXA|0|1|%s||08^^CVX\r", cases[i].rxa3);
        run_str(&r, NULL, buf);
        expect_ok(&r, 1);
        if (r.list.len) {
            CHECK_STR(r.list.items[0]->occurred_at, cases[i].at);
            CHECK_STR(imm(&r, 0)->administered_on, cases[i].on);
        }
        bn_event_list_clear(&r.list);
    }
    const char *bad[] = {"20230229", "2026110", "20261103256000", "20261103+07", "20261103x",
                         "20261103120000.", "20261103+2400"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, MSH("M1") "\r" PID "\rRXA|0|1|%s||08^^CVX\r", bad[i]);
        run_str(&r, NULL, buf);
        expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[1]-3 (line 3)", "not a valid HL7 date");
    }
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|||08^^CVX\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[1]-3 (line 3)", "missing");
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|20261103||08\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[1]-5.3 (line 3)", "coding system missing");
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|20261103||^^^08^Hep B^CVX\r");
    expect_ok(&r, 1); /* the alternate code of a CWE */
    if (r.list.len)
        CHECK_STR(imm(&r, 0)->vaccine->code, "08");
    bn_event_list_clear(&r.list);
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|20261103||08^^CVX|||||||||||||||XX\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, RXA[1]-20 (line 3)", "completion status");
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|20261103||08^^CVX\rOBX|1|NM|30973-2||two\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, OBX[1]-5 (line 4)", "dose number");
    run_str(&r, NULL, MSH("M1") "\r" PID "\rRXA|0|1|20261103||08^^CVX|||||||||||||||NA\r");
    expect_ok(&r, 1);
    if (r.list.len)
        CHECK(imm(&r, 0)->status == BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE);
    bn_event_list_clear(&r.list);
    run_str(&r, NULL, "MSH|^~\\&|A|B|||20261103||VXU^V04\r" PID "\r" RXA("20261103", "08^^CVX") "\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, MSH-10 (line 1)", "message control id missing");
    run_str(&r, NULL, MSH("M1") "\rPID|1||X1^^^^MR||Lestari^Siti||1990|F\r" RXA("20261103", "08^^CVX") "\r");
    expect_ok(&r, 1); /* a year alone is no birth date */
    if (r.list.len)
        CHECK_STR(r.list.items[0]->subject->birth_date, "");
    bn_event_list_clear(&r.list);
    run_str(&r, NULL, MSH("M1") "\rPID|1||X1^^^^MR||Lestari^Siti||19901399|F\r" RXA("20261103", "08^^CVX") "\r");
    expect_err(&r, BN_BAD_PAYLOAD, "message 1, PID[1]-7 (line 2)", "birth date");
}

/* Big payloads: linear time, TOO_LARGE before the work is done. */
static void test_large(void)
{
    const size_t target = 10u << 20;
    const char *head = MSH("BIG") "\r" PID "\r" RXA("20261103", "08^^CVX") "\r";
    const char *nte = "NTE|1||catatan posyandu yang panjang untuk menguji ukuran pesan\r";
    const char *rxa = RXA("20261103", "08^^CVX") "\r";
    char *buf = malloc(target + 256);
    CHECK(buf != NULL);
    if (!buf)
        return;
    for (int pass = 0; pass < 2; pass++) {
        const char *rep = pass ? rxa : nte;
        size_t len = strlen(head), n = strlen(rep), count = 0;
        memcpy(buf, head, len);
        while (len + n <= target) {
            memcpy(buf + len, rep, n);
            len += n;
            count++;
        }
        run_t r;
        run(&r, NULL, buf, len, pass ? 1000 : 0);
        if (pass == 0) {
            expect_ok(&r, 1);
            bn_event_list_clear(&r.list);
        } else {
            expect_err(&r, BN_TOO_LARGE, "payload", "more than 1000 events");
        }
        CHECK(count > 100000);
    }
    free(buf);
}

int main(void)
{
    test_settings();
    test_reference_vxu();
    test_reference_ref_adt();
    test_own_vxu();
    test_own_ref();
    test_own_malformed();
    test_syntax();
    test_escapes();
    test_envelopes();
    test_dates_and_fields();
    test_large();
    return bn_test_finish("test_hl7v2");
}
