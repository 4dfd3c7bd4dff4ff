/* test_pbjson.c: the proto3 JSON mapping (common/pbjson.c), as an example of its use.
 *
 * Round trips Event -> JSON -> Event for every body and every field kind
 * (strings, enums, uint32, uint64 as strings, repeated, nested, bytes,
 * bool), compared through their protobuf encodings; then every kind of bad
 * input with the exact JSON path it must be reported at.
 */
#include <stdlib.h>
#include <string.h>

#include "benang/pbjson.h"
#include "benang/v1/event.pb-c.h"
#include "benang/v1/protocol.pb-c.h"
#include "testutil.h"

/* Parse text and build a message of desc; NULL on any failure (err filled). */
static ProtobufCMessage *parse(const ProtobufCMessageDescriptor *desc, const char *text,
                               bn_status_t *st, bn_error_t *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", je.text);
        *st = BN_INTERNAL;
        return NULL;
    }
    ProtobufCMessage *m = NULL;
    bn_error_clear(err);
    *st = bn_pbjson_from_json(desc, j, "$", &m, err);
    json_decref(j);
    return m;
}

static Benang__V1__Event *parse_event(const char *text, bn_status_t *st, bn_error_t *err)
{
    return (Benang__V1__Event *)parse(&benang__v1__event__descriptor, text, st, err);
}

/* Same protobuf encoding: the strongest equality protobuf-c offers. */
static bool same_wire(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a), nb = protobuf_c_message_get_packed_size(b);
    if (na != nb)
        return false;
    uint8_t *ba = malloc(na + 1), *bb = malloc(nb + 1);
    bool same = ba && bb;
    if (same) {
        protobuf_c_message_pack(a, ba);
        protobuf_c_message_pack(b, bb);
        same = memcmp(ba, bb, na) == 0;
    }
    free(ba);
    free(bb);
    return same;
}

/* m -> JSON text -> message again; checks the two encode the same. Returns the text. */
static char *round_trip(const ProtobufCMessage *m)
{
    char *text = bn_pbjson_to_string(m);
    CHECK(text != NULL);
    if (!text)
        return NULL;
    bn_status_t st;
    bn_error_t err;
    ProtobufCMessage *back = parse(m->descriptor, text, &st, &err);
    CHECK_MSG(st == BN_OK && back, "%s: %s (%s)", text, err.where, err.msg);
    if (back) {
        CHECK_MSG(same_wire(m, back), "round trip differs: %s", text);
        protobuf_c_message_free_unpacked(back, NULL);
    }
    return text;
}

static void expect_error(const char *text, bn_status_t want, const char *where, const char *msg)
{
    bn_status_t st;
    bn_error_t err;
    Benang__V1__Event *ev = parse_event(text, &st, &err);
    CHECK_MSG(st == want && ev == NULL, "%s: status %s", text, bn_status_name(st));
    CHECK_STR(err.where, where);
    if (msg)
        CHECK_MSG(strstr(err.msg, msg) != NULL, "%s: msg \"%s\" lacks \"%s\"", text, err.msg, msg);
    if (ev)
        benang__v1__event__free_unpacked(ev, NULL);
}

static const char *const bodies[] = {
    "\"immunisation\":{\"vaccine\":{\"system\":\"http://hl7.org/fhir/sid/cvx\",\"code\":\"08\","
    "\"display\":\"Hep B\"},\"doseNumber\":3,\"administeredOn\":\"2026-11-02\",\"facility\":"
    "\"Puskesmas\",\"lotNumber\":\"L-9\",\"status\":\"IMMUNISATION_STATUS_NOT_DONE\","
    "\"statusReason\":{\"code\":\"OOS\"},\"route\":\"IM\",\"site\":\"LT\",\"performer\":\"Bidan\"}",
    "\"referral\":{\"referralId\":\"R-1\",\"fromAgency\":\"klinik-b\",\"toAgency\":\"dinsos\","
    "\"reason\":{\"system\":\"snomed\",\"code\":\"123\"},\"reasonText\":\"gizi buruk\","
    "\"priority\":\"PRIORITY_URGENT\",\"status\":\"REFERRAL_STATUS_ACCEPTED\","
    "\"parentReferralId\":\"R-0\",\"note\":\"ñote ✓\",\"requestedOn\":\"2026-11-01\"}",
    "\"training\":{\"course\":{\"code\":\"HYD-1\"},\"courseCategory\":\"agriculture.hydroponics\","
    "\"provider\":\"BLK\",\"period\":{\"start\":\"2026-11-01\",\"end\":\"2026-11-30\"},"
    "\"participantStatus\":\"PARTICIPANT_STATUS_DROPPED_OUT\",\"location\":\"RW 03\","
    "\"hours\":4294967295}",
    "\"program\":{\"programId\":\"P-1\",\"name\":\"PMT\",\"sector\":\"health\",\"targetGroup\":"
    "\"children-under-5\",\"areas\":[\"RW01\",\"RW02\",\"RW03\"],\"period\":{\"start\":"
    "\"2026-01-01\"},\"targetCount\":120,\"funding\":\"APBD\"}",
    "\"alert\":{\"rule\":\"dup\",\"kind\":\"duplicate_service\",\"sector\":\"health\",\"seqs\":["
    "\"1\",\"18446744073709551615\"],\"agencies\":[\"a\",\"b\"],\"subjectKey\":\"ab\",\"message\":"
    "\"x\"}",
};

static void test_round_trip_bodies(void)
{
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char text[2048];
        snprintf(
            text, sizeof text,
            "{\"seq\":\"42\",\"eventId\":\"e\",\"agency\":\"puskesmas-a\",\"sourceId\":\"S-%zu\","
            "\"occurredAt\":\"2026-11-02T09:30:00+07:00\",\"subject\":{\"nik\":"
            "\"3171234567890123\",\"name\":\"Siti\",\"birthDate\":\"2025-03-14\",\"sex\":"
            "\"SEX_FEMALE\",\"rw\":\"03\"},\"area\":\"RW03\",\"supersedesSeq\":\"7\",%s}",
            i, bodies[i]);
        bn_status_t st;
        bn_error_t err;
        Benang__V1__Event *ev = parse_event(text, &st, &err);
        CHECK_MSG(st == BN_OK && ev, "body %zu: %s: %s", i, err.where, err.msg);
        if (!ev)
            continue;
        CHECK_EQ_U64(ev->seq, 42);
        CHECK_EQ_U64(ev->supersedes_seq, 7);
        CHECK_EQ_U64(ev->body_case, 20 + (i == 0 ? 1 : i == 1 ? 0 : i));
        CHECK(ev->subject && ev->subject->sex == BENANG__V1__SEX__SEX_FEMALE);
        char *out = round_trip(&ev->base);
        CHECK(out && strstr(out, "\"seq\":\"42\"") && strstr(out, "\"sex\":\"SEX_FEMALE\""));
        CHECK(out && strstr(out, "\"birthDate\":\"2025-03-14\""));
        free(out);
        benang__v1__event__free_unpacked(ev, NULL);
    }
}

static void test_field_values(void)
{
    char text[2048];
    bn_status_t st;
    bn_error_t err;
    snprintf(text, sizeof text, "{%s}", bodies[4]);
    Benang__V1__Event *ev = parse_event(text, &st, &err);
    CHECK(st == BN_OK && ev && ev->alert);
    if (ev && ev->alert) {
        CHECK_EQ_U64(ev->alert->n_seqs, 2);
        CHECK_EQ_U64(ev->alert->seqs[1], UINT64_MAX);
        CHECK_EQ_U64(ev->alert->n_agencies, 2);
        CHECK_STR(ev->alert->agencies[1], "b");
        char *out = bn_pbjson_to_string(&ev->base);
        CHECK(out && strstr(out, "\"seqs\":[\"1\",\"18446744073709551615\"]"));
        free(out);
    }
    if (ev)
        benang__v1__event__free_unpacked(ev, NULL);
    snprintf(text, sizeof text, "{%s}", bodies[2]);
    ev = parse_event(text, &st, &err);
    CHECK(st == BN_OK && ev && ev->training && ev->training->hours == 4294967295u);
    CHECK(ev && ev->training &&
          ev->training->participant_status ==
              BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_DROPPED_OUT);
    CHECK(ev && ev->training && ev->training->period &&
          !strcmp(ev->training->period->end, "2026-11-30"));
    if (ev)
        benang__v1__event__free_unpacked(ev, NULL);
}

static void test_defaults_and_snake(void)
{
    Benang__V1__Event empty = BENANG__V1__EVENT__INIT;
    char *out = bn_pbjson_to_string(&empty.base);
    CHECK_STR(out, "{}");
    free(out);

    bn_status_t st;
    bn_error_t err;
    Benang__V1__Event *ev = parse_event(
        "{\"source_id\":\"S\",\"occurred_at\":\"2026-11-01\",\"subject\":{\"birth_date\":"
        "\"2020-01-01\",\"sex\":2},\"immunisation\":{\"dose_number\":\"2\",\"status\":1},"
        "\"area\":null,\"seq\":\"0\"}",
        &st, &err);
    CHECK_MSG(st == BN_OK && ev, "%s: %s", err.where, err.msg);
    if (ev) {
        CHECK_STR(ev->source_id, "S");
        CHECK_STR(ev->occurred_at, "2026-11-01");
        CHECK(ev->area == (char *)protobuf_c_empty_string); /* null: unset, default kept */
        CHECK_STR(ev->subject->birth_date, "2020-01-01");
        CHECK(ev->subject->sex == BENANG__V1__SEX__SEX_MALE);
        CHECK_EQ_U64(ev->immunisation->dose_number, 2);
        out = bn_pbjson_to_string(&ev->base);
        CHECK_STR(out,
                  "{\"sourceId\":\"S\",\"occurredAt\":\"2026-11-01\",\"subject\":{\"birthDate\":"
                  "\"2020-01-01\",\"sex\":\"SEX_MALE\"},\"immunisation\":{\"doseNumber\":2,"
                  "\"status\":\"IMMUNISATION_STATUS_COMPLETED\"}}");
        free(out);
        benang__v1__event__free_unpacked(ev, NULL);
    }
    /* an empty body is still a set oneof member and is written out */
    ev = parse_event("{\"alert\":{}}", &st, &err);
    CHECK(st == BN_OK && ev && ev->body_case == BENANG__V1__EVENT__BODY_ALERT);
    out = ev ? bn_pbjson_to_string(&ev->base) : NULL;
    CHECK_STR(out, "{\"alert\":{}}");
    free(out);
    if (ev)
        benang__v1__event__free_unpacked(ev, NULL);
}

static void test_protocol_messages(void)
{
    /* bytes as base64, bool, repeated messages */
    uint8_t raw[] = {0x00, 0xff, 0x10, 'a', 'b'};
    Benang__V1__PublishRequest pr = BENANG__V1__PUBLISH_REQUEST__INIT;
    pr.request_id = 9;
    pr.agency = "klinik-b";
    pr.payload.data = raw;
    pr.payload.len = sizeof raw;
    char *out = round_trip(&pr.base);
    CHECK(out && strstr(out, "\"payload\":\"AP8QYWI=\""));
    free(out);

    Benang__V1__EventAck a1 = BENANG__V1__EVENT_ACK__INIT, a2 = BENANG__V1__EVENT_ACK__INIT;
    Benang__V1__EventAck *acks[] = {&a1, &a2};
    a1.seq = 5;
    a2.seq = 6;
    a2.duplicate = 1;
    Benang__V1__PublishReply rep = BENANG__V1__PUBLISH_REPLY__INIT;
    rep.request_id = 3;
    rep.n_events = 2;
    rep.events = acks;
    out = round_trip(&rep.base);
    CHECK(out && strstr(out, "{\"seq\":\"6\",") && strstr(out, "\"duplicate\":true"));
    free(out);

    bn_status_t st;
    bn_error_t err;
    ProtobufCMessage *m =
        parse(&benang__v1__publish_request__descriptor, "{\"payload\":\"AP8QYWI\"}", &st, &err);
    CHECK(st == BN_OK && m && ((Benang__V1__PublishRequest *)m)->payload.len == 5);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    m = parse(&benang__v1__publish_request__descriptor, "{\"payload\":\"!!!!\"}", &st, &err);
    CHECK(st == BN_INVALID_EVENT && !m);
    CHECK_STR(err.where, "$.payload");
    m = parse(&benang__v1__publish_reply__descriptor,
              "{\"events\":[{\"seq\":\"1\"},{\"duplicate\":\"yes\"}]}", &st, &err);
    CHECK(st == BN_INVALID_EVENT && !m);
    CHECK_STR(err.where, "$.events[1].duplicate");
    CHECK_STR(err.msg, "expected boolean, got string");
}

static void test_bad_input(void)
{
    expect_error("{\"subject\":{\"foo\":1}}", BN_INVALID_EVENT, "$.subject.foo", "unknown field");
    expect_error("{\"sourceId\":42}", BN_INVALID_EVENT, "$.sourceId",
                 "expected string, got number");
    expect_error("{\"subject\":\"x\"}", BN_INVALID_EVENT, "$.subject",
                 "expected object, got string");
    expect_error("{\"immunisation\":{\"doseNumber\":4294967296}}", BN_INVALID_EVENT,
                 "$.immunisation.doseNumber", "out of range");
    expect_error("{\"immunisation\":{\"doseNumber\":-1}}", BN_INVALID_EVENT,
                 "$.immunisation.doseNumber", "out of range");
    expect_error("{\"immunisation\":{\"doseNumber\":\"12a\"}}", BN_INVALID_EVENT,
                 "$.immunisation.doseNumber", "decimal");
    expect_error("{\"immunisation\":{\"doseNumber\":1.5}}", BN_INVALID_EVENT,
                 "$.immunisation.doseNumber", "integer");
    expect_error("{\"seq\":\"18446744073709551616\"}", BN_INVALID_EVENT, "$.seq", "out of range");
    expect_error("{\"seq\":true}", BN_INVALID_EVENT, "$.seq", "got boolean");
    expect_error("{\"referral\":{\"status\":\"REFERRAL_STATUS_MAYBE\"}}", BN_INVALID_EVENT,
                 "$.referral.status", "not a ReferralStatus value");
    expect_error("{\"referral\":{\"status\":[]}}", BN_INVALID_EVENT, "$.referral.status",
                 "got array");
    expect_error("{\"referral\":{},\"immunisation\":{}}", BN_INVALID_EVENT, "$.immunisation",
                 "more than one member of a oneof");
    expect_error("{\"sourceId\":\"a\",\"source_id\":\"b\"}", BN_INVALID_EVENT, "$.source_id",
                 "given twice");
    expect_error("{\"alert\":{\"seqs\":[\"1\",\"x\"]}}", BN_INVALID_EVENT, "$.alert.seqs[1]",
                 "decimal");
    expect_error("{\"alert\":{\"agencies\":[\"a\",null]}}", BN_INVALID_EVENT, "$.alert.agencies[1]",
                 "null");
    expect_error("{\"program\":{\"areas\":\"RW01\"}}", BN_INVALID_EVENT, "$.program.areas",
                 "expected array, got string");
    expect_error("[]", BN_INVALID_EVENT, "$", "expected object, got array");

    /* invalid UTF-8 cannot come from json_loads (jansson refuses it), only from a built tree */
    json_t *j = json_object();
    json_object_set_new(j, "sourceId", json_stringn_nocheck("a\xc3\x28", 3));
    ProtobufCMessage *m = NULL;
    bn_error_t err;
    CHECK(bn_pbjson_from_json(&benang__v1__event__descriptor, j, "$[2]", &m, &err) ==
          BN_INVALID_EVENT);
    CHECK(m == NULL);
    CHECK_STR(err.where, "$[2].sourceId");
    CHECK_STR(err.msg, "string is not valid UTF-8");
    json_object_set_new(j, "sourceId", json_stringn_nocheck("a\0b", 3));
    CHECK(bn_pbjson_from_json(&benang__v1__event__descriptor, j, "$", &m, &err) ==
          BN_INVALID_EVENT);
    CHECK_STR(err.msg, "string contains a NUL character");
    json_decref(j);
}

/* Output of a message holding invalid UTF-8 (possible after a protobuf unpack) is still JSON. */
static void test_output_invalid_utf8(void)
{
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    ev.source_id = "ok\xff";
    char *out = bn_pbjson_to_string(&ev.base);
    CHECK_STR(out, "{\"sourceId\":\"ok\xEF\xBF\xBD\"}");
    free(out);
}

int main(void)
{
    test_round_trip_bodies();
    test_field_values();
    test_defaults_and_snake();
    test_protocol_messages();
    test_bad_input();
    test_output_invalid_utf8();
    return bn_test_finish("test_pbjson");
}
