/* test_mapping.c: the mapping language (adapters/mapping.c) without CSV or JSON, as an example of
 * its use.
 *
 * Settings trees are built by hand with bn_node_new/bn_node_add, as the
 * config loader would build them from "agency.yaml", so every settings
 * error is checked at its exact file:line:col. Records are served by a
 * small in-memory reader (name -> text), so conversions (enum names, maps,
 * defaults, dates, numbers, split, templates) are checked value by value.
 */
#include <stdlib.h>
#include <string.h>

#include "mapping.h"
#include "testutil.h"

#define FILE_NAME "agency.yaml"

static bn_node_t *S(unsigned line, unsigned col, const char *text)
{
    bn_node_t *n = bn_node_new(BN_NODE_SCALAR, FILE_NAME, line, col);
    if (n)
        n->scalar = strdup(text);
    if (!n || !n->scalar)
        abort();
    return n;
}

static bn_node_t *M(unsigned line, unsigned col)
{
    bn_node_t *n = bn_node_new(BN_NODE_MAP, FILE_NAME, line, col);
    if (!n)
        abort();
    return n;
}

static bn_node_t *put(bn_node_t *map, const char *key, bn_node_t *child)
{
    if (!bn_node_add(map, key, &child))
        abort();
    return map;
}

/* {source_key: name} (and an optional second key) at line:col. */
static bn_node_t *spec(unsigned line, const char *k1, const char *v1, const char *k2,
                       const char *v2)
{
    bn_node_t *m = put(M(line, 20), k1, S(line, 29, v1));
    return k2 ? put(m, k2, S(line, 50, v2)) : m;
}

/* settings at 1:1 (line 2 type:, line 3 fields:, required fields on lines 4
 * and 5, extra on line 6, 7, ...). */
static bn_node_t *settings(const char *type, bn_node_t **fields_out)
{
    bn_node_t *s = M(1, 1), *f = M(4, 5);
    put(s, "type", S(2, 11, type));
    put(f, "source_id", spec(4, "column", "id", NULL, NULL));
    put(f, "occurred_at", spec(5, "column", "tgl", "format", "%d/%m/%Y"));
    put(s, "fields", f);
    *fields_out = f;
    return s;
}

static const bn_mapping_dialect_t csv_dialect = {.source_key = "column"};

static void expect_config(bn_node_t *s, const char *where, const char *msg)
{
    bn_mapping_t *m = NULL;
    bn_error_t err;
    bn_status_t st = bn_mapping_new(&m, s, &csv_dialect, &err);
    CHECK_MSG(st == BN_CONFIG && m == NULL, "status %s (want %s)", bn_status_name(st), msg);
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", err.msg, msg);
    bn_mapping_destroy(&m);
    bn_node_destroy(&s);
}

/* One extra field key: spec at line 6. */
static void expect_field_error(const char *type, const char *target, bn_node_t *sp,
                               const char *where, const char *msg)
{
    bn_node_t *f, *s = settings(type, &f);
    put(f, target, sp);
    expect_config(s, where, msg);
}

static void test_settings_errors(void)
{
    expect_field_error("training", "subject.nme", spec(6, "column", "nama", NULL, NULL),
                       "agency.yaml:6:20",
                       "unknown field \"nme\" in benang.v1.Subject (known: subject_key, nik, "
                       "local_id, name, birth_date, sex, village, rw, rt, link)");
    expect_field_error("immunisation", "training.course.code", spec(6, "column", "k", NULL, NULL),
                       "agency.yaml:6:20", "training.course.code is outside the immunisation body");
    expect_field_error("training", "seq", spec(6, "column", "k", NULL, NULL), "agency.yaml:6:20",
                       "seq is set by the hub");
    expect_field_error("training", "training.course", spec(6, "column", "k", NULL, NULL),
                       "agency.yaml:6:20", "is a message; map its fields (system, code, display)");
    expect_field_error("training", "training.participant_status",
                       put(spec(6, "column", "status", NULL, NULL), "map",
                           put(M(6, 50), "LULUS", S(6, 58, "selesai"))),
                       "agency.yaml:6:58",
                       "\"selesai\" is not a ParticipantStatus (known: unspecified, enrolled, "
                       "attending, completed, dropped_out, failed)");
    expect_field_error("training", "training.period.start",
                       spec(6, "column", "mulai", "format", "%d/%q/%Y"), "agency.yaml:6:50",
                       "bad date format \"%d/%q/%Y\"");
    expect_field_error("training", "training.period.start",
                       spec(6, "column", "mulai", "format", "%d/%m/%Y %H:%M"), "agency.yaml:6:50",
                       "add utc_offset");
    expect_field_error("training", "training.provider", spec(6, "column", "p", "format", "iso8601"),
                       "agency.yaml:6:50", "format applies to date fields only");
    expect_field_error("training", "training.hours", spec(6, "colum", "jam", NULL, NULL),
                       "agency.yaml:6:29", "unknown key \"colum\"");
    expect_field_error("training", "training.hours", spec(6, "column", "jam", "value", "3"),
                       "agency.yaml:6:20", "give exactly one of column, value, template");
    expect_field_error("training", "training.hours", spec(6, "value", "tiga", NULL, NULL),
                       "agency.yaml:6:29", "\"tiga\" is not a whole number");
    expect_field_error("training", "training.location", spec(6, "column", "l", "split", ","),
                       "agency.yaml:6:50", "split needs a repeated field");
    expect_field_error("program", "program.name", spec(6, "template", "{a}-{b", NULL, NULL),
                       "agency.yaml:6:29", "template has an unclosed '{'");
    expect_field_error("program", "program.name", spec(6, "template", "abc", NULL, NULL),
                       "agency.yaml:6:29", "template names no source");
    expect_field_error("program", "program.period.end", spec(6, "value", "2025-13-01", NULL, NULL),
                       "agency.yaml:6:29", "is not a date or RFC 3339 date-time");
    expect_field_error("program", "source_id", spec(6, "column", "x", NULL, NULL),
                       "agency.yaml:6:20", "source_id is mapped twice");

    bn_node_t *f, *s = settings("alert", &f);
    expect_config(s, "agency.yaml:2:11",
                  "type: expected immunisation, referral, training or program");
    s = settings("training", &f);
    put(s, "separator", S(7, 14, ";"));
    expect_config(s, "agency.yaml:7:14", "unknown key \"separator\"");
    s = M(1, 1);
    put(s, "type", S(2, 11, "training"));
    put(s, "fields", put(M(4, 5), "source_id", spec(4, "column", "id", NULL, NULL)));
    expect_config(s, "agency.yaml:4:5", "occurred_at must be mapped");
    expect_config(M(1, 1), "agency.yaml:1:1", "fields: expected a map");
}

/* ---- records from a name -> text table ------------------------------------------ */

typedef struct {
    const bn_mapping_t *m;
    const char *const *kv; /* name, text, name, text, ..., NULL */
} table_t;

static bn_status_t table_lookup(void *ud, size_t src, bn_mapping_value_t *out, bn_error_t *err)
{
    (void)err;
    const table_t *t = ud;
    const char *name = bn_mapping_source_name(t->m, src);
    *out = (bn_mapping_value_t){0};
    for (size_t i = 0; t->kv[i]; i += 2)
        if (strcmp(t->kv[i], name) == 0) {
            out->s = t->kv[i + 1];
            out->len = strlen(out->s);
        }
    if (out->s && strcmp(out->s, "<NUL>") == 0)
        out->len = 6, out->s = "a\0bcde";
    return BN_OK;
}

static void table_where(void *ud, size_t src, char *buf, size_t size)
{
    const table_t *t = ud;
    snprintf(buf, size, "rec/%s", src == SIZE_MAX ? "" : bn_mapping_source_name(t->m, src));
}

/* Build a mapping of type with extra fields (target, spec) and apply it to kv. */
static bn_status_t apply(const char *type, bn_node_t *extra[][2], const char *const *kv,
                         Benang__V1__Event **ev, bn_error_t *err)
{
    bn_node_t *f, *s = settings(type, &f);
    for (size_t i = 0; extra[i][0]; i++) {
        put(f, extra[i][0]->scalar, extra[i][1]);
        bn_node_destroy(&extra[i][0]);
    }
    bn_mapping_t *m = NULL;
    bn_status_t st = bn_mapping_new(&m, s, &csv_dialect, err);
    CHECK_MSG(st == BN_OK, "%s: %s", err->where, err->msg);
    bn_node_destroy(&s);
    *ev = NULL;
    if (st != BN_OK)
        return st;
    table_t t = {.m = m, .kv = kv};
    bn_mapping_reader_t rd = {.ud = &t, .lookup = table_lookup, .where = table_where};
    bn_error_clear(err);
    st = bn_mapping_apply(m, &rd, ev, err);
    bn_mapping_destroy(&m);
    return st;
}

/* apply() that must succeed: the event, or NULL after a failed check. */
static Benang__V1__Event *apply_ok(const char *type, bn_node_t *extra[][2], const char *const *kv)
{
    Benang__V1__Event *ev = NULL;
    bn_error_t err;
    bn_status_t st = apply(type, extra, kv, &ev, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    return st == BN_OK ? ev : NULL;
}

#define T(name) S(0, 0, name)

static void test_conversions(void)
{
    bn_node_t *x[][2] = {
        {T("training.participant_status"), spec(6, "column", "st", NULL, NULL)},
        {T("training.period.start"), put(spec(7, "column", "mulai", "format", "%d/%m/%Y %H:%M"),
                                         "utc_offset", S(7, 70, "+07:00"))},
        {T("training.period.end"), spec(8, "column", "akhir", "format", "epoch_ms")},
        {T("training.hours"), spec(9, "column", "jam", NULL, NULL)},
        {T("training.course.code"), spec(10, "template", "{{{kode}}}-{id}", NULL, NULL)},
        {T("subject.birth_date"), spec(11, "column", "lahir", "format", "iso8601")},
        {T("subject.sex"),
         put(spec(12, "column", "jk", "default", "unknown"), "map",
             put(put(M(12, 60), "l", S(12, 63, "male")), "P", S(12, 70, "SEX_FEMALE")))},
        {NULL, NULL}};
    const char *kv[] = {"id",    "A1",          "tgl",   "5/3/2024",
                        "st",    "dropped-out", "mulai", "05/03/2024  08:15",
                        "akhir", "-1500",       "jam",   " 4294967295 ",
                        "kode",  "K9",          "lahir", "2015-02-01T00:00:00+07:00",
                        "jk",    "L",           NULL};
    Benang__V1__Event *ev = apply_ok("training", x, kv);
    if (!ev)
        return;
    CHECK_STR(ev->source_id, "A1");
    CHECK_STR(ev->occurred_at, "2024-03-05");
    CHECK_EQ_U64(ev->body_case, BENANG__V1__EVENT__BODY_TRAINING);
    CHECK_EQ_U64(ev->training->participant_status,
                 BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_DROPPED_OUT);
    CHECK_STR(ev->training->period->start, "2024-03-05T08:15:00+07:00");
    CHECK_STR(ev->training->period->end, "1969-12-31T23:59:58.500Z");
    CHECK_EQ_U64(ev->training->hours, 4294967295u);
    CHECK_STR(ev->training->course->code, "{K9}-A1");
    CHECK_STR(ev->subject->birth_date, "2015-02-01");
    CHECK_EQ_U64(ev->subject->sex, BENANG__V1__SEX__SEX_MALE); /* map keys ignore case */
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* Date patterns: zero padding, seconds, "Z" and negative offsets, %% and a
 * date-only target read with a time-of-day pattern. */
static void test_date_patterns(void)
{
    bn_node_t *x[][2] = {
        {T("training.period.start"),
         put(spec(6, "column", "mulai", "format", "%Y%m%d%H%M%S"), "utc_offset", S(6, 70, "Z"))},
        {T("training.period.end"), put(spec(7, "column", "akhir", "format", "%Y-%m-%d %H.%M.%S%%"),
                                       "utc_offset", S(7, 70, "-03:30"))},
        {T("subject.birth_date"), spec(8, "column", "lahir", "format", "%d/%m/%Y %H:%M")},
        {NULL, NULL}};
    const char *kv[] = {"id",    "A1",
                        "tgl",   "9/9/1000",
                        "mulai", "20240305070509",
                        "akhir", "2024-1-2 0.0.0%",
                        "lahir", "1/2/2015 23:59",
                        NULL};
    Benang__V1__Event *ev = apply_ok("training", x, kv);
    if (!ev)
        return;
    CHECK_STR(ev->occurred_at, "1000-09-09");
    CHECK_STR(ev->training->period->start, "2024-03-05T07:05:09Z");
    CHECK_STR(ev->training->period->end, "2024-01-02T00:00:00-03:30");
    CHECK_STR(ev->subject->birth_date, "2015-02-01");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* One extra field (target, spec) and kv must fail at where with msg. */
static void expect_record(const char *target, bn_node_t *sp, const char *const *kv,
                          const char *where, const char *msg, const char *secret)
{
    bn_node_t *x[][2] = {{T(target), sp}, {NULL, NULL}};
    Benang__V1__Event *ev;
    bn_error_t err;
    bn_status_t st = apply("program", x, kv, &ev, &err);
    CHECK_MSG(st == BN_INVALID_EVENT && !ev, "%s: %s", target, bn_status_name(st));
    CHECK_STR(err.where, where);
    CHECK_MSG(strstr(err.msg, msg) != NULL, "msg \"%s\" lacks \"%s\"", err.msg, msg);
    if (secret)
        CHECK_MSG(strstr(err.msg, secret) == NULL, "msg \"%s\" leaks \"%s\"", err.msg, secret);
    if (ev)
        protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void test_record_errors(void)
{
    const char *kv[] = {"id", "P1",   "tgl", "01/01/2025",       "n", "4294967296", "x", "<NUL>",
                        "jk", "laki", "nik", "3171010101900001", "e", "31/02/2025", NULL};
    expect_record("program.target_count", spec(6, "column", "n", NULL, NULL), kv, "rec/n",
                  "program.target_count: \"4294967296\" is not a whole number in range", NULL);
    expect_record("program.name", spec(6, "column", "x", NULL, NULL), kv, "rec/x",
                  "program.name: contains a NUL character", NULL);
    expect_record(
        "subject.sex",
        put(spec(6, "column", "jk", NULL, NULL), "map", put(M(6, 60), "L", S(6, 63, "male"))), kv,
        "rec/jk", "subject.sex: the value is not in map:", "laki");
    expect_record("subject.birth_date", spec(6, "column", "nik", "format", "%d%m%Y"), kv, "rec/nik",
                  "the value is not a date in format %d%m%Y", "3171");
    expect_record("program.period.end", spec(6, "column", "e", "format", "%d/%m/%Y"), kv, "rec/e",
                  "program.period.end: \"31/02/2025\" is not a date", NULL);
    const char *late[] = {"id", "P1", "tgl", "01/01/2025", "e", "01/01/2025 24:00", NULL};
    expect_record(
        "program.period.end",
        put(spec(6, "column", "e", "format", "%d/%m/%Y %H:%M"), "utc_offset", S(6, 70, "+07:00")),
        late, "rec/e", "is not a date in format %d/%m/%Y %H:%M", NULL);
    const char *no_id[] = {"tgl", "01/01/2025", NULL};
    expect_record("program.name", spec(6, "value", "n", NULL, NULL), no_id, "rec/id",
                  "source_id: no value (empty or missing)", NULL);
}

static void test_split_and_defaults(void)
{
    bn_node_t *x[][2] = {{T("program.areas"), spec(6, "column", "rw", "split", "|")},
                         {T("program.funding"), spec(7, "column", "dana", "default", "APBD")},
                         {T("program.sector"), spec(8, "value", "health", NULL, NULL)},
                         {T("program.name"), spec(9, "template", "{a} {b}", NULL, NULL)},
                         {NULL, NULL}};
    const char *kv[] = {"id",   "P1", "tgl", "01/01/2025", "rw", " RW01 || RW02|",
                        "dana", "  ", "a",   "x",          NULL};
    Benang__V1__Event *ev;
    bn_error_t err;
    bn_status_t st = apply("program", x, kv, &ev, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    if (!ev)
        return;
    CHECK_EQ_U64(ev->program->n_areas, 2);
    if (ev->program->n_areas == 2) {
        CHECK_STR(ev->program->areas[0], "RW01");
        CHECK_STR(ev->program->areas[1], "RW02");
    }
    CHECK_STR(ev->program->funding, "APBD");
    CHECK_STR(ev->program->sector, "health");
    CHECK_STR(ev->program->name, ""); /* a template with a missing part is absent */
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

int main(void)
{
    test_settings_errors();
    test_conversions();
    test_date_patterns();
    test_record_errors();
    test_split_and_defaults();
    return bn_test_finish("test_mapping");
}
