/* test_csv.c: the "csv" adapter on real-shaped exports, as an example of its use.
 *
 * Settings come from agency YAML files next to the fixtures (loaded with the
 * hub's own config loader, so positions are real); each export is translated
 * and every field of every event is compared with its exact expected value.
 * Then RFC 4180 corner cases and every malformed fixture, with the exact
 * place each error must name.
 */
#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "config.h"
#include "adapter_harness.h"
#include "testutil.h"

typedef bn_test_agency_t agency_t;

static bool agency_load(agency_t *a, const char *file)
{
    *a = (agency_t){.adapter = "csv", .dir = "csv", .sector = "education"};
    return bn_test_agency_load(a, file);
}

#define agency_free bn_test_agency_free
#define run bn_test_agency_run
#define run_file bn_test_agency_run_file

static void test_school(void)
{
    agency_t a;
    if (!agency_load(&a, "sdn01.yaml"))
        return;
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run_file(&a, "sdn01-bias.csv", &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 3);
    if (out.len == 3) {
        Benang__V1__Event *e = out.items[0];
        CHECK_STR(e->source_id, "0131234567-MR");
        CHECK_STR(e->occurred_at, "2024-08-12");
        CHECK_STR(e->subject->local_id, "0131234567");
        CHECK_STR(e->subject->nik, "3171010101150001");
        CHECK_STR(e->subject->name, "Putri, Ayu");
        CHECK_STR(e->subject->birth_date, "2015-02-01");
        CHECK_EQ_U64(e->subject->sex, BENANG__V1__SEX__SEX_FEMALE);
        CHECK_STR(e->subject->rw, "03");
        CHECK_EQ_U64(e->body_case, BENANG__V1__EVENT__BODY_IMMUNISATION);
        CHECK_STR(e->immunisation->vaccine->system, "urn:kemkes:bias");
        CHECK_STR(e->immunisation->vaccine->code, "MR");
        CHECK_STR(e->immunisation->administered_on, "2024-08-12");
        CHECK_EQ_U64(e->immunisation->status,
                     BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED);
        CHECK_STR(e->immunisation->facility, "SD Negeri 01 Tanjung Barat");
        e = out.items[1];
        CHECK_STR(e->source_id, "0131234568-DT");
        CHECK_STR(e->subject->nik, ""); /* empty cell: unset */
        CHECK_STR(e->subject->name, "Budi \"Ucok\" Santoso");
        CHECK_EQ_U64(e->subject->sex, BENANG__V1__SEX__SEX_MALE);
        CHECK_EQ_U64(e->immunisation->status,
                     BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED); /* default */
        e = out.items[2];
        CHECK_STR(e->occurred_at, "2024-08-13");
        CHECK_STR(e->subject->birth_date, "");
        CHECK_STR(e->subject->rw, "");
        CHECK_EQ_U64(e->immunisation->status,
                     BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE);
    }
    bn_event_list_clear(&out);
    agency_free(&a);
}

static void test_training_centre(void)
{
    agency_t a;
    if (!agency_load(&a, "blk.yaml"))
        return;
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run_file(&a, "blk-peserta.csv", &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 3);
    if (out.len == 3) {
        Benang__V1__Event *e = out.items[0];
        CHECK_STR(e->source_id, "BLK-2024-001");
        CHECK_STR(e->occurred_at, "2024-07-01");
        CHECK_STR(e->subject->birth_date, "1990-03-05");
        CHECK_EQ_U64(e->body_case, BENANG__V1__EVENT__BODY_TRAINING);
        CHECK_STR(e->training->course->system, "urn:blk:course");
        CHECK_STR(e->training->course->code, "MJ-01");
        CHECK_STR(e->training->period->start, "2024-07-01");
        CHECK_STR(e->training->period->end, "2024-08-30");
        CHECK_EQ_U64(e->training->participant_status,
                     BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_COMPLETED);
        CHECK_EQ_U64(e->training->hours, 160);
        CHECK_STR(e->training->location, "BLK Pasar Minggu");
        e = out.items[1];
        CHECK_EQ_U64(e->training->participant_status,
                     BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_ENROLLED);
        CHECK_EQ_U64(e->training->hours, 0);
        e = out.items[2]; /* last line without newline, empty status: the default */
        CHECK_STR(e->subject->nik, "");
        CHECK_STR(e->training->period->end, "");
        CHECK_EQ_U64(e->training->participant_status,
                     BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_ENROLLED);
        CHECK_STR(e->training->location, "Bengkel \"Maju\", Jl. Raya 1");
    }
    bn_event_list_clear(&out);
    agency_free(&a);
}

/* file must fail with st at where, the message containing msg and never leaking secret. */
static void expect_file(const agency_t *a, const char *file, bn_status_t want, const char *where,
                        const char *msg, const char *secret)
{
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run_file(a, file, &out, &err);
    CHECK_MSG(st == want, "%s: %s (%s: %s)", file, bn_status_name(st), err.where, err.msg);
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "%s: msg \"%s\" lacks \"%s\"", file, err.msg, msg);
    if (secret)
        CHECK_MSG(strstr(err.msg, secret) == NULL, "%s: msg leaks \"%s\"", file, secret);
    bn_event_list_clear(&out);
}

static void expect_text(const agency_t *a, const char *text, bn_status_t want, const char *where,
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

#define HDR "no_peserta,nik,nama,tgl_lahir,kode_kursus,mulai,selesai,status,jam,lokasi"

static void test_malformed(void)
{
    agency_t a;
    if (!agency_load(&a, "blk.yaml"))
        return;
    expect_file(&a, "ragged.csv", BN_BAD_PAYLOAD, "line 3", "row has 9 cells, the header has 10",
                NULL);
    expect_file(&a, "unterminated-quote.csv", BN_BAD_PAYLOAD, "line 3", "never closed", NULL);
    expect_file(&a, "invalid-utf8.csv", BN_BAD_PAYLOAD, "line 3, column \"nama\"",
                "not valid UTF-8", NULL);
    expect_file(&a, "bad-date.csv", BN_INVALID_EVENT, "line 3, column \"mulai\"",
                "occurred_at: \"31/06/2024\" is not a date in format %d/%m/%Y", NULL);
    expect_text(&a, HDR "\nB1,3171,Andi,1990-03-05,MJ,01/07/2024,,,,\n", BN_INVALID_EVENT,
                "line 2, column \"tgl_lahir\"",
                "subject.birth_date: the value is not a date in format %d-%m-%Y");
    bn_event_list_t out = {0};
    bn_error_t err;
    const char *birth = HDR "\nB1,3171,Andi,1990-03-05,MJ,01/07/2024,,,,\n";
    run(&a, birth, strlen(birth), 0, &out, &err);
    CHECK(strstr(err.msg, "1990") == NULL); /* a birth date is never echoed */
    bn_event_list_clear(&out);
    expect_text(&a, "no_peserta,nik,nama,kode_kursus,mulai,selesai,status,jam,lokasi\nB1\n",
                BN_BAD_PAYLOAD, "line 1", "column \"tgl_lahir\" is not in the header (line 1)");
    expect_text(&a, HDR "\nB1,,,,MJ,01/07/2024,,,12x,\n", BN_INVALID_EVENT,
                "line 2, column \"jam\"", "training.hours: \"12x\" is not a whole number");
    expect_text(&a, HDR "\n,,,,MJ,01/07/2024,,,,\n", BN_INVALID_EVENT,
                "line 2, column \"no_peserta\"", "source_id: no value (empty or missing)");
    expect_text(&a, HDR "\n\"B1\"x,,,,MJ,01/07/2024,,,,\n", BN_BAD_PAYLOAD, "line 2",
                "text after a closing quote");
    agency_free(&a);
}

/* RFC 4180 details: CRLF, lone LF, "" escapes, quoted line breaks, blank lines, BOM. */
static void test_rfc4180(void)
{
    agency_t a;
    if (!agency_load(&a, "blk.yaml"))
        return;
    const char *text = "\xEF\xBB\xBF no_peserta , nik,nama,tgl_lahir,kode_kursus,mulai,selesai,"
                       "status,jam,lokasi\r\n"
                       "\"B\"\"1\",,,,MJ,01/07/2024,,,,\"a\r\nb\nc\"\n"
                       "\n"
                       "B2,,,,MJ,01/07/2024,,,,\"\"\r\n"
                       "B3,,,,MJ,01/07/2024,,,007,  spaced  \n\r\n\n";
    bn_event_list_t out = {0};
    bn_error_t err;
    bn_status_t st = run(&a, text, strlen(text), 0, &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 3);
    if (out.len == 3) {
        CHECK_STR(out.items[0]->source_id, "B\"1");
        CHECK_STR(out.items[0]->training->location, "a\r\nb\nc");
        CHECK_STR(out.items[1]->training->location, "");
        CHECK_STR(out.items[2]->training->location, "spaced");
        CHECK_EQ_U64(out.items[2]->training->hours, 7);
    }
    bn_event_list_clear(&out);
    /* the row after a quoted line break is reported on its own physical line */
    expect_text(&a, HDR "\nB1,,,,MJ,01/07/2024,,,,\"x\ny\"\nB2,,,,MJ,01/07/2024,,,\n",
                BN_BAD_PAYLOAD, "line 4", "row has 9 cells");
    /* a header only, or nothing at all: no events */
    CHECK_EQ_U64(run(&a, HDR, strlen(HDR), 0, &out, &err), BN_OK);
    CHECK_EQ_U64(run(&a, "", 0, 0, &out, &err), BN_OK);
    CHECK_EQ_U64(out.len, 0);
    /* max_events */
    const char *three = HDR "\nB1,,,,MJ,01/07/2024,,,,\nB2,,,,MJ,01/07/2024,,,,\n"
                            "B3,,,,MJ,01/07/2024,,,,\n";
    CHECK_EQ_U64(run(&a, three, strlen(three), 2, &out, &err), BN_TOO_LARGE);
    bn_event_list_clear(&out);
    CHECK_EQ_U64(run(&a, three, strlen(three), 3, &out, &err), BN_OK);
    CHECK_EQ_U64(out.len, 3);
    bn_event_list_clear(&out);
    agency_free(&a);
}

/* header: false and a tab separator, from a hand-built settings tree. */
static void test_no_header(void)
{
    const char *yaml = "agencies:\n"
                       "  - id: posyandu\n"
                       "    sector: health\n"
                       "    adapters: [csv]\n"
                       "    settings:\n"
                       "      csv:\n"
                       "        separator: \"\\t\"\n"
                       "        header: false\n"
                       "        type: program\n"
                       "        fields:\n"
                       "          source_id: {column: 1}\n"
                       "          occurred_at: {column: 2, format: iso8601}\n"
                       "          program.areas: {column: 3, split: \",\"}\n";
    agency_t a = {.adapter = "csv", .dir = "csv", .sector = "education"};
    bn_error_t err;
    bn_status_t st = bn_test_agency_from(&a, "agency.yaml", yaml, strlen(yaml), &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    if (st != BN_OK)
        return;
    const char *text = "P1\t2025-01-06\tRW01, RW02,,RW03\nP2\t2025-01-07T08:00:00+07:00\t\n";
    bn_event_list_t out = {0};
    st = run(&a, text, strlen(text), 0, &out, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    CHECK_EQ_U64(out.len, 2);
    if (out.len == 2) {
        CHECK_EQ_U64(out.items[0]->program->n_areas, 3);
        if (out.items[0]->program->n_areas == 3)
            CHECK_STR(out.items[0]->program->areas[2], "RW03");
        CHECK_STR(out.items[1]->occurred_at, "2025-01-07T08:00:00+07:00");
        CHECK_EQ_U64(out.items[1]->program->n_areas, 0);
    }
    bn_event_list_clear(&out);
    expect_text(&a, "P1\t2025-01-06\n", BN_BAD_PAYLOAD, "line 1", "column 3 is mapped");
    agency_free(&a);
}

int main(void)
{
    test_school();
    test_training_centre();
    test_malformed();
    test_rfc4180();
    test_no_header();
    return bn_test_finish("test_csv");
}
