/* validate.c: the checks every event passes before the hub stores it (see validate.h).
 *
 * Pure functions, no allocation except when ev->type is filled from the
 * body. The generic string check walks any protobuf-c message through its
 * descriptor, so new string fields in the schema are covered without code
 * here. Error messages may echo a bad value (truncated, control characters
 * replaced) but never the NIK or a name: those are personal data.
 */
#include "validate.h"

#include "benang/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX BN_ECHO_MAX
#define MAX_SOURCE_ID 256
#define MAX_DEPTH 32

/* ---- small lexical helpers ------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The value of n decimal digits at s, or -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

static const char *shown(const char *s, char *buf, size_t size)
{
    return bn_utf8_echo(s, strlen(s), buf, size);
}

/* ---- dates and times -------------------------------------------------------- */

bool bn_valid_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days_in_month(y, m);
}

/* Parse an RFC 3339 date-time: seconds since the epoch (UTC) and nanoseconds. */
static bool parse_datetime(const char *s, int64_t *secs, long *nanos)
{
    char date[11];
    if (strlen(s) < 20)
        return false;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!bn_valid_date(date) || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return false;
    int hh = digits(s + 11, 2), mi = digits(s + 14, 2), ss = digits(s + 17, 2);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60)
        return false;
    const char *p = s + 19;
    long ns = 0, scale = 100000000;
    if (*p == '.') {
        if (!is_digit(p[1]))
            return false;
        for (p++; is_digit(*p); p++, scale /= 10)
            ns += scale * (*p - '0');
    }
    int off = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else {
        return false;
    }
    /* days from civil (proleptic Gregorian), 1970-01-01 = 0 */
    int64_t y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    y -= m <= 2;
    int64_t era = y / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    *secs = days * 86400 + hh * 3600 + mi * 60 + ss - (int64_t)off * 60;
    *nanos = ns;
    return true;
}

bool bn_valid_timestamp(const char *s, bool allow_date)
{
    if (!s)
        return false;
    if (strlen(s) == 10)
        return allow_date && bn_valid_date(s);
    int64_t secs;
    long ns;
    return parse_datetime(s, &secs, &ns);
}

bool bn_timestamp_seconds(const char *s, int64_t *secs)
{
    long ns;
    if (!s)
        return false;
    if (strlen(s) == 10) {
        if (!bn_valid_date(s))
            return false;
        char dt[32];
        snprintf(dt, sizeof dt, "%sT00:00:00Z", s);
        return parse_datetime(dt, secs, &ns);
    }
    return parse_datetime(s, secs, &ns);
}

bool bn_date_days(const char *s, int32_t *days)
{
    char date[11];
    if (!s || strlen(s) < 10)
        return false;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!bn_valid_date(date))
        return false;
    int64_t secs;
    long ns;
    char dt[32];
    snprintf(dt, sizeof dt, "%sT00:00:00Z", date);
    if (!parse_datetime(dt, &secs, &ns))
        return false;
    *days = (int32_t)(secs / 86400);
    return true;
}

/* An instant for comparing period bounds: a plain date is the start of its
 * UTC day, or (as an end, inclusive) the last nanosecond of it. */
static void instant(const char *s, bool as_end, int64_t *secs, long *ns)
{
    if (strlen(s) == 10) {
        char dt[32];
        snprintf(dt, sizeof dt, "%sT00:00:00Z", s);
        parse_datetime(dt, secs, ns);
        if (as_end) {
            *secs += 86399;
            *ns = 999999999;
        }
        return;
    }
    parse_datetime(s, secs, ns);
}

/* ---- UTF-8 and generic string checks --------------------------------------- */

/* The place of a field being checked, as a chain of segments from the root.
 * The path text is only built when there is an error to report: checking
 * every string of every event is on the hub's hot path. */
typedef struct seg {
    const struct seg *parent;
    const char *name; /* field name, or NULL for an index */
    size_t index;
} seg_t;

static size_t seg_format(const seg_t *sg, char *out, size_t size)
{
    if (!sg)
        return 0;
    size_t n = seg_format(sg->parent, out, size);
    if (n >= size)
        return n;
    int w = sg->name ? snprintf(out + n, size - n, "%s%s", n ? "." : "", sg->name)
                     : snprintf(out + n, size - n, "[%zu]", sg->index);
    return n + (w > 0 ? (size_t)w : 0);
}

static bn_status_t string_error(const seg_t *at, bn_error_t *err, const char *what, size_t n)
{
    char path[192] = "";
    seg_format(at, path, sizeof path);
    if (n)
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "string is %zu bytes; at most %d allowed",
                            n, BN_VALIDATE_MAX_STRING);
    return bn_error_set(err, BN_INVALID_EVENT, 0, path, "%s", what);
}

static bn_status_t check_string(const char *s, const seg_t *at, bn_error_t *err)
{
    if (!s)
        return BN_OK;
    size_t n = strlen(s);
    if (n > BN_VALIDATE_MAX_STRING)
        return string_error(at, err, NULL, n);
    if (!bn_utf8_valid(s, n))
        return string_error(at, err, "string is not valid UTF-8", 0);
    return BN_OK;
}

static bn_status_t check_msg(const ProtobufCMessage *msg, const seg_t *at, int depth,
                             bn_error_t *err);

static bn_status_t check_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                               const seg_t *at, int depth, bn_error_t *err)
{
    const char *base = (const char *)msg;
    bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
    size_t n = repeated ? *(const size_t *)(base + f->quantifier_offset) : 1;
    const void *items = base + f->offset;
    if (repeated)
        items = *(void *const *)items;
    for (size_t i = 0; items && i < n; i++) {
        seg_t idx = {at, NULL, i};
        const seg_t *here = repeated ? &idx : at;
        const void *item = ((const void *const *)items)[i];
        bn_status_t st = f->type == PROTOBUF_C_TYPE_STRING
                             ? check_string(item, here, err)
                             : (item ? check_msg(item, here, depth + 1, err) : BN_OK);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static bn_status_t check_msg(const ProtobufCMessage *msg, const seg_t *at, int depth,
                             bn_error_t *err)
{
    if (depth > MAX_DEPTH) {
        char path[192] = "";
        seg_format(at, path, sizeof path);
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "messages nested too deeply");
    }
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)msg + f->quantifier_offset) != f->id)
            continue;
        seg_t field = {at, f->name, 0};
        bn_status_t st = check_field(msg, f, &field, depth, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

bn_status_t bn_message_check_strings(const ProtobufCMessage *msg, bn_error_t *err)
{
    if (!msg)
        return BN_OK;
    return check_msg(msg, NULL, 0, err);
}

bn_status_t bn_pb_set_string_in(ProtobufCAllocator *alloc, char **field, const char *val)
{
    char *copy = (char *)protobuf_c_empty_string;
    if (val && *val) {
        size_t n = strlen(val) + 1;
        copy = alloc ? alloc->alloc(alloc->allocator_data, n) : malloc(n);
        if (!copy)
            return BN_NOMEM;
        memcpy(copy, val, n);
    }
    if (*field && *field != (char *)protobuf_c_empty_string) {
        if (alloc)
            alloc->free(alloc->allocator_data, *field);
        else
            free(*field);
    }
    *field = copy;
    return BN_OK;
}

bn_status_t bn_pb_set_string(char **field, const char *val)
{
    return bn_pb_set_string_in(NULL, field, val);
}

/* ---- per-field rules --------------------------------------------------------- */

static bool empty(const char *s)
{
    return !s || !*s;
}

static bn_status_t need(const char *s, const char *path, bn_error_t *err)
{
    if (empty(s))
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "required field is empty");
    return BN_OK;
}

static bn_status_t need_date(const char *s, bool required, const char *path, bn_error_t *err)
{
    char b[ECHO_MAX + 8];
    if (empty(s))
        return required ? need(s, path, err) : BN_OK;
    if (!bn_valid_date(s))
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "not a date YYYY-MM-DD (got \"%s\")",
                            shown(s, b, sizeof b));
    return BN_OK;
}

static bn_status_t need_time(const char *s, bool required, const char *path, bn_error_t *err)
{
    char b[ECHO_MAX + 8];
    if (empty(s))
        return required ? need(s, path, err) : BN_OK;
    if (!bn_valid_timestamp(s, true))
        return bn_error_set(err, BN_INVALID_EVENT, 0, path,
                            "not an RFC 3339 date-time or a date YYYY-MM-DD (got \"%s\")",
                            shown(s, b, sizeof b));
    return BN_OK;
}

static bn_status_t need_enum(const ProtobufCEnumDescriptor *d, int v, bool allow_zero,
                             const char *path, bn_error_t *err)
{
    if (v == 0 && !allow_zero)
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "required field is unspecified");
    if (!protobuf_c_enum_descriptor_get_value(d, v))
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "%d is not a defined %s value", v,
                            d->short_name);
    return BN_OK;
}

/* period.start required and valid, period.end valid and not before start. */
static bn_status_t check_period(const Benang__V1__Period *p, const char *path, bn_error_t *err)
{
    char ps[64], pe[64];
    snprintf(ps, sizeof ps, "%s.start", path);
    snprintf(pe, sizeof pe, "%s.end", path);
    bn_status_t st = need_time(p ? p->start : NULL, true, ps, err);
    if (st == BN_OK)
        st = need_time(p->end, false, pe, err);
    if (st != BN_OK || empty(p->end))
        return st;
    bool before;
    if (strlen(p->start) == 10 && strlen(p->end) == 10) {
        before = strcmp(p->end, p->start) < 0;
    } else {
        int64_t s1, s2;
        long n1, n2;
        instant(p->start, false, &s1, &n1);
        instant(p->end, true, &s2, &n2);
        before = s2 < s1 || (s2 == s1 && n2 < n1);
    }
    if (before)
        return bn_error_set(err, BN_INVALID_EVENT, 0, pe, "end is before start");
    return BN_OK;
}

static bn_status_t check_subject(const Benang__V1__Subject *s, bn_error_t *err)
{
    if (!s)
        return BN_OK;
    bn_status_t st = need_date(s->birth_date, false, "subject.birth_date", err);
    if (st != BN_OK)
        return st;
    if (!empty(s->nik)) {
        /* Exports write NIKs with spaces, dots or dashes between digit groups;
         * the hub normalises them away before pseudonymising. */
        size_t digits = 0;
        bool ok = true;
        for (const char *c = s->nik; ok && *c; c++) {
            if (is_digit(*c))
                digits++;
            else
                ok = *c == ' ' || *c == '.' || *c == '-';
        }
        if (!ok || digits != 16) /* never echo the NIK */
            return bn_error_set(err, BN_INVALID_EVENT, 0, "subject.nik",
                                "NIK must be 16 digits (spaces, dots and dashes between them allowed)");
    }
    return need_enum(&benang__v1__sex__descriptor, (int)s->sex, true, "subject.sex", err);
}

static bn_status_t check_immunisation(const Benang__V1__Immunisation *b, bn_error_t *err)
{
    const Benang__V1__Coding *v = b->vaccine;
    bn_status_t st = need(v ? v->code : NULL, "immunisation.vaccine.code", err);
    if (st == BN_OK)
        st = need(v->system, "immunisation.vaccine.system", err);
    if (st == BN_OK)
        st = need_date(b->administered_on, false, "immunisation.administered_on", err);
    if (st == BN_OK)
        st = need_enum(&benang__v1__immunisation_status__descriptor, (int)b->status, true,
                       "immunisation.status", err);
    return st;
}

static bn_status_t check_referral(const Benang__V1__Referral *b, bn_error_t *err)
{
    bn_status_t st = need(b->referral_id, "referral.referral_id", err);
    if (st == BN_OK)
        st = need(b->to_agency, "referral.to_agency", err);
    if (st == BN_OK)
        st = need_enum(&benang__v1__referral_status__descriptor, (int)b->status, false,
                       "referral.status", err);
    if (st == BN_OK)
        st = need_enum(&benang__v1__priority__descriptor, (int)b->priority, true,
                       "referral.priority", err);
    if (st == BN_OK)
        st = need_date(b->requested_on, false, "referral.requested_on", err);
    return st;
}

static bn_status_t check_training(const Benang__V1__Training *b, bn_error_t *err)
{
    if ((!b->course || empty(b->course->code)) && empty(b->course_category))
        return bn_error_set(err, BN_INVALID_EVENT, 0, "training.course.code",
                            "required field is empty (set course.code or course_category)");
    bn_status_t st = check_period(b->period, "training.period", err);
    if (st == BN_OK)
        st = need_enum(&benang__v1__participant_status__descriptor, (int)b->participant_status,
                       true, "training.participant_status", err);
    return st;
}

static bn_status_t check_program(const Benang__V1__Program *b, bn_error_t *err)
{
    bn_status_t st = need(b->program_id, "program.program_id", err);
    if (st == BN_OK)
        st = need(b->sector, "program.sector", err);
    if (st == BN_OK)
        st = need(b->target_group, "program.target_group", err);
    if (st == BN_OK)
        st = check_period(b->period, "program.period", err);
    return st;
}

static bn_status_t check_alert(const Benang__V1__Alert *b, bn_error_t *err)
{
    bn_status_t st = need(b->rule, "alert.rule", err);
    if (st == BN_OK)
        st = need(b->kind, "alert.kind", err);
    return st;
}

/* ---- the event ----------------------------------------------------------------- */

const char *bn_event_body_type(const Benang__V1__Event *ev)
{
    if (!ev)
        return NULL;
    switch (ev->body_case) {
    case BENANG__V1__EVENT__BODY_REFERRAL:
        return ev->referral ? "referral" : NULL;
    case BENANG__V1__EVENT__BODY_IMMUNISATION:
        return ev->immunisation ? "immunisation" : NULL;
    case BENANG__V1__EVENT__BODY_TRAINING:
        return ev->training ? "training" : NULL;
    case BENANG__V1__EVENT__BODY_PROGRAM:
        return ev->program ? "program" : NULL;
    case BENANG__V1__EVENT__BODY_ALERT:
        return ev->alert ? "alert" : NULL;
    default:
        return NULL;
    }
}

static bn_status_t check_envelope(Benang__V1__Event *ev, const char *type, bn_error_t *err)
{
    char b[ECHO_MAX + 8];
    bn_status_t st = need(ev->source_id, "source_id", err);
    if (st != BN_OK)
        return st;
    if (strlen(ev->source_id) > MAX_SOURCE_ID)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "source_id",
                            "source_id is %zu bytes; at most %d allowed", strlen(ev->source_id),
                            MAX_SOURCE_ID);
    for (const char *p = ev->source_id; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return bn_error_set(err, BN_INVALID_EVENT, 0, "source_id",
                                "source_id contains a control character");
    if ((st = need_time(ev->occurred_at, true, "occurred_at", err)) != BN_OK)
        return st;
    if (!type)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "body",
                            "no body: set one of immunisation, referral, training, program, alert");
    if (!empty(ev->type) && strcmp(ev->type, type) != 0)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "type",
                            "type \"%s\" does not match the body (%s)",
                            shown(ev->type, b, sizeof b), type);
    return BN_OK;
}

bn_status_t bn_event_validate(Benang__V1__Event *ev, bn_error_t *err)
{
    return bn_event_validate_in(ev, NULL, err);
}

bn_status_t bn_event_validate_in(Benang__V1__Event *ev, ProtobufCAllocator *alloc, bn_error_t *err)
{
    if (!ev)
        return bn_error_set(err, BN_INVALID_EVENT, 0, NULL, "no event");
    bn_status_t st = bn_message_check_strings(&ev->base, err);
    const char *type = bn_event_body_type(ev);
    if (st == BN_OK)
        st = check_envelope(ev, type, err);
    if (st == BN_OK)
        st = check_subject(ev->subject, err);
    if (st != BN_OK)
        return st;
    switch (ev->body_case) {
    case BENANG__V1__EVENT__BODY_REFERRAL:
        st = check_referral(ev->referral, err);
        break;
    case BENANG__V1__EVENT__BODY_IMMUNISATION:
        st = check_immunisation(ev->immunisation, err);
        break;
    case BENANG__V1__EVENT__BODY_TRAINING:
        st = check_training(ev->training, err);
        break;
    case BENANG__V1__EVENT__BODY_PROGRAM:
        st = check_program(ev->program, err);
        break;
    default:
        st = check_alert(ev->alert, err);
        break;
    }
    if (st == BN_OK && empty(ev->type) && bn_pb_set_string_in(alloc, &ev->type, type) != BN_OK)
        return bn_error_set(err, BN_NOMEM, 0, "type", "out of memory");
    return st;
}
