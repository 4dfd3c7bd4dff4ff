/* test_validate.c: the event checks of adapters/validate.c, each rule failing and passing.
 *
 * Events are built as C structs on the stack (protobuf-c INIT values), a
 * good one per body type, then broken one field at a time; the error must
 * name the field path and say what is wrong, without echoing personal data.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "validate.h"
#include "benang/utf8.h"

typedef struct {
    Benang__V1__Event ev;
    Benang__V1__Subject sub;
    Benang__V1__Immunisation imm;
    Benang__V1__Referral ref;
    Benang__V1__Training tr;
    Benang__V1__Program prog;
    Benang__V1__Alert alert;
    Benang__V1__Coding coding;
    Benang__V1__Period period;
} fixture_t;

/* A valid event with the body of case c and its type; every pointer into f itself. */
static void make(fixture_t *f, Benang__V1__Event__BodyCase c)
{
    static const fixture_t init = {
        BENANG__V1__EVENT__INIT,    BENANG__V1__SUBJECT__INIT,  BENANG__V1__IMMUNISATION__INIT,
        BENANG__V1__REFERRAL__INIT, BENANG__V1__TRAINING__INIT, BENANG__V1__PROGRAM__INIT,
        BENANG__V1__ALERT__INIT,    BENANG__V1__CODING__INIT,   BENANG__V1__PERIOD__INIT};
    *f = init;
    f->ev.source_id = "SRC-1";
    f->ev.occurred_at = "2026-11-02T09:30:00+07:00";
    f->ev.subject = &f->sub;
    f->sub.nik = "3171234567890123";
    f->sub.birth_date = "2024-02-29";
    f->coding.system = "http://hl7.org/fhir/sid/cvx";
    f->coding.code = "08";
    f->period.start = "2026-11-01";
    f->period.end = "2026-11-30";
    f->ev.body_case = c;
    f->ev.type = (char *)protobuf_c_empty_string; /* the body case below sets it */
    switch (c) {
    case BENANG__V1__EVENT__BODY_IMMUNISATION:
        f->ev.type = "immunisation";
        f->ev.immunisation = &f->imm;
        f->imm.vaccine = &f->coding;
        f->imm.administered_on = "2026-11-02";
        break;
    case BENANG__V1__EVENT__BODY_REFERRAL:
        f->ev.type = "referral";
        f->ev.referral = &f->ref;
        f->ref.referral_id = "R-1";
        f->ref.to_agency = "dinsos";
        f->ref.status = BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED;
        break;
    case BENANG__V1__EVENT__BODY_TRAINING:
        f->ev.type = "training";
        f->ev.training = &f->tr;
        f->tr.course = &f->coding;
        f->tr.period = &f->period;
        break;
    case BENANG__V1__EVENT__BODY_PROGRAM:
        f->ev.type = "program";
        f->ev.program = &f->prog;
        f->prog.program_id = "P-1";
        f->prog.sector = "health";
        f->prog.target_group = "children-under-5";
        f->prog.period = &f->period;
        break;
    default:
        f->ev.type = "alert";
        f->ev.alert = &f->alert;
        f->alert.rule = "dup";
        f->alert.kind = "duplicate_service";
        break;
    }
}

static bool ok(fixture_t *f)
{
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st = bn_event_validate(&f->ev, &err);
    if (st != BN_OK)
        fprintf(stderr, "  unexpected: %s: %s\n", err.where, err.msg);
    return st == BN_OK;
}

/* Expect BN_INVALID_EVENT at where with msg containing text. */
#define BAD(f, at, text)                                                                           \
    do {                                                                                           \
        bn_error_t e_;                                                                             \
        bn_error_clear(&e_);                                                                       \
        CHECK(bn_event_validate(&(f)->ev, &e_) == BN_INVALID_EVENT);                               \
        CHECK_STR(e_.where, at);                                                                   \
        CHECK_MSG(strstr(e_.msg, text) != NULL, "msg \"%s\" lacks \"%s\"", e_.msg, text);          \
    } while (0)

static void test_timestamps(void)
{
    CHECK(bn_valid_date("2024-02-29"));
    CHECK(!bn_valid_date("2023-02-29"));
    CHECK(bn_valid_date("2000-02-29"));
    CHECK(!bn_valid_date("1900-02-29"));
    CHECK(!bn_valid_date("2026-13-01"));
    CHECK(!bn_valid_date("2026-04-31"));
    CHECK(!bn_valid_date("2026-4-01"));
    CHECK(!bn_valid_date("2026-04-01 "));
    CHECK(!bn_valid_date(NULL));
    CHECK(bn_valid_timestamp("2026-11-02T09:30:00+07:00", false));
    CHECK(bn_valid_timestamp("2026-11-02T09:30:00Z", false));
    CHECK(bn_valid_timestamp("2026-11-02T09:30:00.123456789-03:30", false));
    CHECK(bn_valid_timestamp("2016-12-31T23:59:60Z", false));
    CHECK(!bn_valid_timestamp("2026-11-02T24:00:00Z", false));
    CHECK(!bn_valid_timestamp("2026-11-02T09:60:00Z", false));
    CHECK(!bn_valid_timestamp("2026-11-02T09:30:61Z", false));
    CHECK(!bn_valid_timestamp("2026-11-02T09:30:00", false));
    CHECK(!bn_valid_timestamp("2026-11-02T09:30:00.Z", false));
    CHECK(!bn_valid_timestamp("2026-11-02T09:30:00+0700", false));
    CHECK(!bn_valid_timestamp("2026-11-02T09:30:00+24:00", false));
    CHECK(!bn_valid_timestamp("2026-02-30T09:30:00Z", false));
    CHECK(!bn_valid_timestamp("2026-11-02", false));
    CHECK(bn_valid_timestamp("2026-11-02", true));
    CHECK(!bn_valid_timestamp("", true));
}

static void test_utf8(void)
{
    CHECK(bn_utf8_valid("abc \xc3\xb1 \xe2\x9c\x93 \xf0\x9f\x98\x80", 15));
    CHECK(!bn_utf8_valid("\xc3\x28", 2));
    CHECK(!bn_utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!bn_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!bn_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!bn_utf8_valid("\xe2\x9c", 2));         /* cut short */
}

static void test_envelope(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_IMMUNISATION);
    CHECK(ok(&f));
    make(&f, BENANG__V1__EVENT__BODY_IMMUNISATION);
    f.ev.source_id = "";
    BAD(&f, "source_id", "required field is empty");
    char long_id[300];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[299] = '\0';
    f.ev.source_id = long_id;
    BAD(&f, "source_id", "at most 256");
    long_id[256] = '\0';
    CHECK(ok(&f));
    f.ev.source_id = "a\tb";
    BAD(&f, "source_id", "control character");
    f.ev.source_id = "BAD-\xc3\x28-UTF8";
    BAD(&f, "source_id", "UTF-8");
    make(&f, BENANG__V1__EVENT__BODY_IMMUNISATION);
    f.ev.occurred_at = "";
    BAD(&f, "occurred_at", "required field is empty");
    f.ev.occurred_at = "2026-02-30";
    BAD(&f, "occurred_at", "(got \"2026-02-30\")");
    f.ev.occurred_at = "2026-11-02";
    CHECK(ok(&f));
    f.ev.occurred_at = "a very long value that goes on and on and on and on and on";
    BAD(&f, "occurred_at", "(got \"a very long value that goes on and on an...\")");
    make(&f, BENANG__V1__EVENT__BODY__NOT_SET);
    f.ev.body_case = BENANG__V1__EVENT__BODY__NOT_SET;
    BAD(&f, "body", "no body");
}

static void test_type_and_strings(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_REFERRAL);
    /* an empty type is filled from the body (malloc'ed: free it) */
    f.ev.type = (char *)protobuf_c_empty_string; /* as protobuf-c leaves an unset string */
    CHECK(ok(&f));
    CHECK_STR(f.ev.type, "referral");
    CHECK_STR(bn_event_body_type(&f.ev), "referral");
    free(f.ev.type);
    f.ev.type = "referral";
    CHECK(ok(&f));
    f.ev.type = "immunisation";
    BAD(&f, "type", "does not match the body (referral)");

    make(&f, BENANG__V1__EVENT__BODY_PROGRAM);
    char *areas[] = {"RW01", "RW\xff"};
    f.prog.areas = areas;
    f.prog.n_areas = 2;
    BAD(&f, "program.areas[1]", "not valid UTF-8");
    areas[1] = "RW02";
    char *big = malloc(BN_VALIDATE_MAX_STRING + 2);
    memset(big, 'n', BN_VALIDATE_MAX_STRING + 1);
    big[BN_VALIDATE_MAX_STRING + 1] = '\0';
    f.prog.funding = big;
    BAD(&f, "program.funding", "4097 bytes");
    big[BN_VALIDATE_MAX_STRING] = '\0';
    CHECK(ok(&f));
    free(big);

    Benang__V1__Coding c = BENANG__V1__CODING__INIT;
    bn_error_t err;
    c.display = "\xe2\x9c";
    CHECK(bn_message_check_strings(&c.base, &err) == BN_INVALID_EVENT);
    CHECK_STR(err.where, "display");

    char *s = (char *)protobuf_c_empty_string;
    CHECK(bn_pb_set_string(&s, "abc") == BN_OK);
    CHECK_STR(s, "abc");
    CHECK(bn_pb_set_string(&s, "") == BN_OK); /* frees "abc" */
    CHECK(s == (char *)protobuf_c_empty_string);
}

static void test_subject(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_ALERT);
    f.sub.birth_date = "2026-13-01";
    BAD(&f, "subject.birth_date", "not a date YYYY-MM-DD (got \"2026-13-01\")");
    f.sub.birth_date = "";
    f.sub.nik = "12345";
    BAD(&f, "subject.nik", "16 digits");
    f.sub.nik = "3171 2345.6789-0123";
    CHECK(ok(&f));
    f.sub.nik = "3171 2345 6789 01234";
    BAD(&f, "subject.nik", "16 digits");
    f.sub.nik = "317123456789012X";
    bn_error_t err;
    CHECK(bn_event_validate(&f.ev, &err) == BN_INVALID_EVENT);
    CHECK(strstr(err.msg, "317123") == NULL); /* never echoed */
    f.sub.nik = "";
    f.sub.sex = 9;
    BAD(&f, "subject.sex", "not a defined Sex value");
    f.sub.sex = BENANG__V1__SEX__SEX_UNKNOWN;
    f.ev.type = "alert";
    CHECK(ok(&f));
}

static void test_immunisation(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_IMMUNISATION);
    f.ev.type = "immunisation";
    f.imm.vaccine = NULL;
    BAD(&f, "immunisation.vaccine.code", "required field is empty");
    f.imm.vaccine = &f.coding;
    f.coding.system = "";
    BAD(&f, "immunisation.vaccine.system", "required field is empty");
    f.coding.system = "cvx";
    f.imm.administered_on = "2026-11-2";
    BAD(&f, "immunisation.administered_on", "not a date");
    f.imm.administered_on = "";
    f.imm.status = 4;
    BAD(&f, "immunisation.status", "not a defined ImmunisationStatus value");
    f.imm.status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_ENTERED_IN_ERROR;
    CHECK(ok(&f));
}

static void test_referral(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_REFERRAL);
    f.ev.type = "referral";
    CHECK(ok(&f));
    f.ref.referral_id = "";
    BAD(&f, "referral.referral_id", "required field is empty");
    f.ref.referral_id = "R-1";
    f.ref.to_agency = "";
    BAD(&f, "referral.to_agency", "required field is empty");
    f.ref.to_agency = "dinsos";
    f.ref.status = BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_UNSPECIFIED;
    BAD(&f, "referral.status", "unspecified");
    f.ref.status = 9;
    BAD(&f, "referral.status", "not a defined");
    f.ref.status = BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED;
    f.ref.priority = 5;
    BAD(&f, "referral.priority", "not a defined");
    f.ref.priority = BENANG__V1__PRIORITY__PRIORITY_STAT;
    CHECK(ok(&f));
}

static void test_training(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_TRAINING);
    f.ev.type = "training";
    CHECK(ok(&f));
    f.tr.course = NULL;
    BAD(&f, "training.course.code", "required field is empty");
    f.tr.course_category = "agriculture.hydroponics";
    CHECK(ok(&f));
    f.tr.period = NULL;
    BAD(&f, "training.period.start", "required field is empty");
    f.tr.period = &f.period;
    f.period.start = "2026-11-31";
    BAD(&f, "training.period.start", "(got \"2026-11-31\")");
    f.period.start = "2026-11-30";
    f.period.end = "2026-11-29";
    BAD(&f, "training.period.end", "before start");
    f.period.end = "2026-11-30";
    CHECK(ok(&f));
    f.period.end = "2026-11-3O";
    BAD(&f, "training.period.end", "not an RFC 3339");
    /* mixed forms compare as UTC instants: 08:00+07:00 is 01:00Z */
    f.period.start = "2026-11-30T08:00:00+07:00";
    f.period.end = "2026-11-30T01:30:00Z";
    CHECK(ok(&f));
    f.period.end = "2026-11-30T00:30:00Z";
    BAD(&f, "training.period.end", "before start");
    f.period.end = "2026-11-30"; /* a date as end covers its whole day */
    CHECK(ok(&f));
    f.period.end = "2026-11-29";
    BAD(&f, "training.period.end", "before start");
    f.tr.participant_status = 6;
    f.period.end = "";
    BAD(&f, "training.participant_status", "not a defined");
}

static void test_program_alert(void)
{
    fixture_t f;
    make(&f, BENANG__V1__EVENT__BODY_PROGRAM);
    f.ev.type = "program";
    CHECK(ok(&f));
    f.prog.program_id = "";
    BAD(&f, "program.program_id", "required field is empty");
    f.prog.program_id = "P";
    f.prog.sector = "";
    BAD(&f, "program.sector", "required field is empty");
    f.prog.sector = "health";
    f.prog.target_group = "";
    BAD(&f, "program.target_group", "required field is empty");
    f.prog.target_group = "farmers";
    f.period.start = "";
    BAD(&f, "program.period.start", "required field is empty");

    make(&f, BENANG__V1__EVENT__BODY_ALERT);
    f.ev.type = "alert";
    CHECK(ok(&f));
    f.alert.rule = "";
    BAD(&f, "alert.rule", "required field is empty");
    f.alert.rule = "r";
    f.alert.kind = "";
    BAD(&f, "alert.kind", "required field is empty");
}

int main(void)
{
    test_timestamps();
    test_utf8();
    test_envelope();
    test_type_and_strings();
    test_subject();
    test_immunisation();
    test_referral();
    test_training();
    test_program_alert();
    return bn_test_finish("test_validate");
}
