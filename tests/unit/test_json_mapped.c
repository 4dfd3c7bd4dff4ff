/* test_json_mapped.c: the "json" adapter on an NGO export and a program plan, as an example of its
 * use.
 *
 * Settings come from agency YAML files next to the fixtures, loaded with the
 * hub's own config loader; each payload is translated and compared field by
 * field. Then bad payloads with the exact JSON path each error must name,
 * and path syntax errors at settings time with their file:line:col.
 */
#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "config.h"
#include "adapter_harness.h"
#include "testutil.h"

typedef bn_test_agency_t agency_t;

static bn_status_t settings_from(agency_t *a, const char *name, const char *yaml, bn_error_t *err)
{
    *a = (agency_t){.adapter = "json", .dir = "json", .sector = "ngo"};
    return bn_test_agency_from(a, name, yaml, strlen(yaml), err);
}

static bool agency_load(agency_t *a, const char *file)
{
    *a = (agency_t){.adapter = "json", .dir = "json", .sector = "ngo"};
    return bn_test_agency_load(a, file);
}

#define agency_free bn_test_agency_free
#define run bn_test_agency_run
#define run_file bn_test_agency_run_file

static void test_ngo(void)
{
    agency_t a;
    if (!agency_load(&a, "ytm.yaml"))
        return;
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run_file(&a, "ytm-pelatihan.json", &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 2);
    if (out.len == 2) {
        Benang__V1__Event *e = out.items[0];
        CHECK_STR(e->source_id, "YTM-0001");
        CHECK_STR(e->occurred_at, "2024-09-02");
        CHECK_STR(e->subject->nik, "3171010101850001");
        CHECK_STR(e->subject->name, "Slamet Riyadi");
        CHECK_STR(e->subject->birth_date, "1985-04-12");
        CHECK_EQ_U64(e->subject->sex, BENANG__V1__SEX__SEX_MALE);
        CHECK_EQ_U64(e->body_case, BENANG__V1__EVENT__BODY_TRAINING);
        CHECK_STR(e->training->course->system, "urn:ytm:pelatihan");
        CHECK_STR(e->training->course->code, "HIDRO-1");
        CHECK_STR(e->training->course->display, "Hidroponik untuk pemula");
        CHECK_STR(e->training->course_category, "agriculture.hydroponics");
        CHECK_STR(e->training->provider, "Yayasan Tani Maju");
        CHECK_STR(e->training->period->start, "2024-09-02");
        CHECK_EQ_U64(e->training->participant_status,
                     BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_COMPLETED);
        CHECK_EQ_U64(e->training->hours, 16);
        e = out.items[1];
        CHECK_STR(e->subject->nik, ""); /* JSON null: unset */
        CHECK_EQ_U64(e->subject->sex, BENANG__V1__SEX__SEX_FEMALE);
        CHECK_EQ_U64(e->training->participant_status,
                     BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_ENROLLED);
        CHECK_EQ_U64(e->training->hours, 0); /* absent key */
    }
    bn_event_list_clear(&out);
    agency_free(&a);
}

static void test_program(void)
{
    agency_t a;
    if (!agency_load(&a, "program.yaml"))
        return;
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run_file(&a, "rencana-program.json", &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 2);
    if (out.len == 2) {
        Benang__V1__Program *p = out.items[0]->program;
        CHECK_STR(out.items[0]->source_id, "PMT-2025-01");
        CHECK_STR(out.items[0]->occurred_at, "2024-12-11T00:00:00Z");
        CHECK_STR(p->program_id, "PMT-2025-01");
        CHECK_STR(p->sector, "health");
        CHECK_STR(p->target_group, "children-under-5");
        CHECK_EQ_U64(p->n_areas, 3);
        if (p->n_areas == 3)
            CHECK_STR(p->areas[2], "RW07");
        CHECK_STR(p->period->start, "2025-01-06");
        CHECK_STR(p->period->end, "2025-06-30");
        CHECK_EQ_U64(p->target_count, 120);
        CHECK_STR(p->funding, "APBD");
        p = out.items[1]->program;
        CHECK_STR(out.items[1]->occurred_at, "2024-12-11T00:00:00.500Z");
        CHECK_EQ_U64(p->n_areas, 2); /* one string split on ";" */
        if (p->n_areas == 2) {
            CHECK_STR(p->areas[0], "RW02");
            CHECK_STR(p->areas[1], "RW05");
        }
        CHECK_STR(p->period->end, "");
        CHECK_STR(p->funding, "lainnya"); /* default */
    }
    bn_event_list_clear(&out);
    agency_free(&a);
}

static void expect(const agency_t *a, const char *text, bn_status_t want, const char *where,
                   const char *msg)
{
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run(a, text, strlen(text), 0, &out, &err);
    CHECK_MSG(st == want, "%s: %s (%s: %s)", text, bn_status_name(st), err.where, err.msg);
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", err.msg, msg);
    bn_event_list_clear(&out);
}

static void test_errors(void)
{
    agency_t a;
    if (!agency_load(&a, "ytm.yaml"))
        return;
    bn_event_list_t out = {0};
    bn_error_t err;
    CHECK_EQ_U64(run_file(&a, "ytm-bad-status.json", &out, &err), BN_INVALID_EVENT);
    CHECK_STR(err.where, "$.data.peserta[1].status");
    CHECK_STR(err.msg, "training.participant_status: \"SELESAI\" is not in map: and there is no "
                       "default");
    bn_event_list_clear(&out);
    CHECK_EQ_U64(run_file(&a, "ytm-bad-date.json", &out, &err), BN_INVALID_EVENT);
    CHECK_STR(err.where, "$.data.peserta[0].lahir");
    CHECK_STR(err.msg, "subject.birth_date: the value is not a date in format iso8601");
    bn_event_list_clear(&out);
    expect(&a, "{\"data\": {}}", BN_BAD_PAYLOAD, "$.data.peserta", "expected an array of records");
    expect(&a, "{\"data\": {\"peserta\": [1]}}", BN_BAD_PAYLOAD, "$.data.peserta[0]",
           "must be a JSON object");
    expect(&a, "{\"data\": {\"peserta\": [{\"id\": {\"a\": 1}}]}}", BN_INVALID_EVENT,
           "$.data.peserta[0].id", "expected a value, got an object");
    expect(&a, "{\"data\": {\"peserta\": [{\"id\": [\"a\"]}]}}", BN_INVALID_EVENT,
           "$.data.peserta[0].id", "source_id: expected one value, got a list");
    expect(&a, "{\"data\": {\"peserta\": [{\"id\": \"Y1\"}]}}", BN_INVALID_EVENT,
           "$.data.peserta[0].sesi[0].tanggal", "occurred_at: no value");
    expect(&a,
           "{\"data\": {\"peserta\": [{\"id\": \"Y1\", \"sesi\": [{\"tanggal\": "
           "\"2024-09-02\"}], \"total_jam\": -3}]}}",
           BN_INVALID_EVENT, "$.data.peserta[0].total_jam", "\"-3\" is not a whole number");
    expect(&a, "{\"data\": [", BN_BAD_PAYLOAD, "line 1, column 10", "invalid JSON");
    char deep[300];
    memset(deep, '[', 100);
    deep[100] = '\0';
    expect(&a, deep, BN_BAD_PAYLOAD, "byte 65", "nested deeper than 64");
    const char *two = "{\"data\": {\"peserta\": [{\"id\": \"Y1\", \"sesi\": [{\"tanggal\": "
                      "\"2024-09-02\"}]}, {\"id\": \"Y2\", \"sesi\": [{\"tanggal\": "
                      "\"2024-09-03\"}]}]}}";
    CHECK_EQ_U64(run(&a, two, strlen(two), 1, &out, &err), BN_TOO_LARGE);
    bn_event_list_clear(&out);
    CHECK_EQ_U64(run(&a, two, strlen(two), 2, &out, &err), BN_OK);
    CHECK_EQ_U64(out.len, 2);
    bn_event_list_clear(&out);
    CHECK_EQ_U64(run(&a, " \n", 2, 0, &out, &err), BN_OK);
    CHECK_EQ_U64(out.len, 0);
    agency_free(&a);
}

/* One object as the whole payload (no records:), bare and bracketed paths. */
static void test_single_object(void)
{
    const char *yaml = "agencies:\n"
                       "  - id: klinik\n"
                       "    sector: health\n"
                       "    adapters: [json]\n"
                       "    settings:\n"
                       "      json:\n"
                       "        type: referral\n"
                       "        fields:\n"
                       "          source_id: {template: \"{no}/{$['meta data'].v}\"}\n"
                       "          occurred_at: {path: waktu, format: epoch}\n"
                       "          referral.priority: {path: \"$.p[1]\"}\n"
                       "          referral.requested_on: {path: waktu, format: epoch}\n";
    agency_t a;
    bn_error_t err;
    bn_status_t st = settings_from(&a, "agency.yaml", yaml, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    const char *text = "{\"no\": 17, \"meta data\": {\"v\": true}, \"waktu\": 1725868800,"
                       " \"p\": [\"x\", \"urgent\"]}";
    bn_event_list_t out = {0};
    st = run(&a, text, strlen(text), 0, &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 1);
    if (out.len == 1) {
        CHECK_STR(out.items[0]->source_id, "17/true");
        CHECK_STR(out.items[0]->occurred_at, "2024-09-09T08:00:00Z");
        CHECK_STR(out.items[0]->referral->requested_on, "2024-09-09");
        CHECK_EQ_U64(out.items[0]->referral->priority, BENANG__V1__PRIORITY__PRIORITY_URGENT);
    }
    bn_event_list_clear(&out);
    expect(&a, "{\"no\": 1, \"meta data\": {\"v\": 1}, \"waktu\": 1, \"p\": [0, \"soon\"]}",
           BN_INVALID_EVENT, "$.p[1]", "\"soon\" is not a Priority (known: unspecified, routine");
    agency_free(&a);
}

static void expect_settings(const char *fields, const char *where, const char *msg)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "agencies:\n  - id: x\n    sector: ngo\n    adapters: [json]\n    settings:\n"
             "      json:\n        type: training\n        fields:\n"
             "          source_id: {path: id}\n          occurred_at: {path: t}\n%s",
             fields);
    agency_t a;
    bn_error_t err;
    bn_status_t st = settings_from(&a, "agency.yaml", yaml, &err);
    CHECK_MSG(st == BN_CONFIG, "%s: %s", fields, bn_status_name(st));
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", err.msg, msg);
    agency_free(&a);
}

static void test_settings(void)
{
    expect_settings("          training.hours: {path: \"$.a[*]\"}\n", "agency.yaml:11:34",
                    "no wildcards or filters");
    expect_settings("          training.hours: {path: \"$..a\"}\n", "agency.yaml:11:34",
                    "path \"$..a\"");
    expect_settings("          training.hours: {path: a}\n        records: \"$.x[\"\n",
                    "agency.yaml:12:18", "path \"$.x[\"");
    expect_settings("          training.hours: {column: a}\n", "agency.yaml:11:36",
                    "unknown key \"column\"");
}

int main(void)
{
    test_ngo();
    test_program();
    test_errors();
    test_single_object();
    test_settings();
    return bn_test_finish("test_json_mapped");
}
