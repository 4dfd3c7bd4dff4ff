/* test_adapters.c: the adapter registry, the event list and the canonical adapters.
 *
 * Each adapter is driven the way the hub drives it: translate into a list,
 * then bn_event_validate() every event. Bad payloads must give the right
 * status and name the place: "payload", "line L, column C", "$[3].x",
 * "line 4: $.x".
 */
#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "benang/client.h"
#include "benang/pbjson.h"
#include "testutil.h"
#include "validate.h"

typedef struct {
    bn_status_t st;
    bn_error_t err;
    bn_event_list_t list;
} run_t;

/* Translate with adapter name, then validate each event while all is well. */
static void run(run_t *r, const char *name, const void *data, size_t len, size_t max_events)
{
    const bn_adapter_ops_t *ops = bn_adapter_find(name);
    bn_adapter_ctx_t ctx = {.agency = "puskesmas-a", .sector = "health", .max_events = max_events};
    memset(r, 0, sizeof *r);
    bn_error_clear(&r->err);
    r->st = ops->translate(&ctx, data, len, &r->list, &r->err);
    for (size_t i = 0; r->st == BN_OK && i < r->list.len; i++)
        r->st = bn_event_validate(r->list.items[i], &r->err);
}

static void json_run(run_t *r, const char *text, size_t max_events)
{
    run(r, "canonical-json", text, strlen(text), max_events);
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

#define GOOD(n)                                                                                    \
    "{\"sourceId\":\"J-" #n "\",\"occurredAt\":\"2026-11-01\",\"immunisation\":{\"vaccine\":"      \
    "{\"system\":\"cvx\",\"code\":\"08\"}}}"

static void test_registry_and_list(void)
{
    CHECK(bn_adapter_find("canonical") && !strcmp(bn_adapter_find("canonical")->name, "canonical"));
    CHECK(bn_adapter_find("canonical-json") != NULL);
    CHECK(bn_adapter_find("telepathy") == NULL);
    CHECK(bn_adapter_find(NULL) == NULL);
    CHECK(bn_adapter_at(0) == bn_adapter_find("canonical"));
    CHECK(bn_adapter_at(1) == bn_adapter_find("canonical-json"));
    /* every registered adapter: a unique name, a summary, a translate function */
    size_t n = 0;
    while (bn_adapter_at(n))
        n++;
    CHECK_EQ_U64(n, 7);
    for (size_t i = 0; i < n; i++) {
        const bn_adapter_ops_t *a = bn_adapter_at(i);
        CHECK_MSG(a->summary && a->translate, "adapter %s incomplete", a->name);
        CHECK(bn_adapter_find(a->name) == a);
        CHECK((a->settings_new == NULL) == (a->settings_free == NULL));
    }
    const char *names[] = {"canonical", "canonical-json", "canonical-batch", "fhir", "hl7v2", "csv",
                           "json"};
    for (size_t i = 0; i < 7; i++)
        CHECK_MSG(bn_adapter_find(names[i]) != NULL, "no adapter %s", names[i]);

    bn_event_list_t list = {0};
    for (int i = 0; i < 20; i++) {
        Benang__V1__Event *ev = malloc(sizeof *ev);
        benang__v1__event__init(ev);
        CHECK(bn_event_list_push(&list, &ev) == BN_OK);
        CHECK(ev == NULL);
    }
    CHECK_EQ_U64(list.len, 20);
    CHECK(list.cap >= 20);
    bn_event_list_clear(&list);
    CHECK(list.len == 0 && list.items == NULL);
    bn_event_list_clear(&list);
    bn_event_list_clear(NULL);
}

static void test_canonical(void)
{
    run_t r;
    size_t len;
    uint8_t *ev = bn_test_immunisation("C-1", "3171234567890123", "08", 2, 0, &len);
    run(&r, "canonical", ev, len, 0);
    CHECK(r.st == BN_OK && r.list.len == 1);
    if (r.list.len == 1) {
        Benang__V1__Event *e = r.list.items[0];
        CHECK_STR(e->source_id, "C-1");
        CHECK_STR(e->type, "immunisation"); /* filled by validate */
        CHECK_EQ_U64(e->immunisation->dose_number, 2);
        CHECK_STR(e->subject->nik, "3171234567890123");
    }
    bn_event_list_clear(&r.list);
    run(&r, "canonical", ev, len - 5, 0);
    expect(&r, BN_BAD_PAYLOAD, "payload", "not a serialized benang.v1.Event");
    free(ev);

    run(&r, "canonical", "\xff\xff\xff\xff\xff\xff\xff", 7, 0);
    expect(&r, BN_BAD_PAYLOAD, "payload", NULL);
    run(&r, "canonical",
        "\x0a\x05"
        "ab",
        4, 0); /* length beyond the end */
    expect(&r, BN_BAD_PAYLOAD, "payload", NULL);

    ev = bn_test_immunisation("BAD-\xc3\x28-UTF8", NULL, "08", 1, 0, &len);
    run(&r, "canonical", ev, len, 0);
    expect(&r, BN_INVALID_EVENT, "source_id", "UTF-8");
    free(ev);
    ev = bn_test_immunisation("C-2", "12345", "08", 1, 0, &len);
    run(&r, "canonical", ev, len, 0);
    expect(&r, BN_INVALID_EVENT, "subject.nik", "16 digits");
    free(ev);
    ev = bn_test_immunisation("C-3", NULL, "", 1, 0, &len);
    run(&r, "canonical", ev, len, 0);
    expect(&r, BN_INVALID_EVENT, "immunisation.vaccine.code", "required field is empty");
    free(ev);
    run(&r, "canonical", "", 0, 0); /* an empty message decodes, then lacks source_id */
    expect(&r, BN_INVALID_EVENT, "source_id", "required");
}

/* A canonical-batch payload of three events, built with libbenang's
 * bn_event_batch_add, is byte for byte what protobuf-c packs for the same
 * EventBatch, and translates into the three events in order; the ways it
 * can be wrong are named. */
static void test_canonical_batch(void)
{
    const char *ids[3] = {"B-1", "B-2", "B-3"};
    uint8_t *ev[3];
    size_t len[3], total = 0;
    for (int i = 0; i < 3; i++) {
        ev[i] = bn_test_immunisation(ids[i], "3171234567890123", "08", (unsigned)i + 1, 0, &len[i]);
        total += bn_event_batch_entry_size(len[i]);
    }
    uint8_t *buf = malloc(total + 1);
    size_t used = 0;
    for (int i = 0; i < 3; i++)
        CHECK(bn_event_batch_add(buf, total, &used, ev[i], len[i]) == BN_OK);
    CHECK_EQ_U64(used, total);
    size_t before = used;
    CHECK(bn_event_batch_add(buf, total, &used, ev[0], len[0]) == BN_TOO_LARGE);
    CHECK_EQ_U64(used, before);
    CHECK(bn_event_batch_add(NULL, total, &used, ev[0], len[0]) == BN_USAGE);
    CHECK_EQ_U64(bn_event_batch_entry_size(0), 2);
    CHECK_EQ_U64(bn_event_batch_entry_size(127), 129);
    CHECK_EQ_U64(bn_event_batch_entry_size(128), 131);

    /* The same batch packed by protobuf-c from the decoded events. */
    Benang__V1__Event *dec[3];
    for (int i = 0; i < 3; i++)
        dec[i] = benang__v1__event__unpack(NULL, len[i], ev[i]);
    Benang__V1__EventBatch b = BENANG__V1__EVENT_BATCH__INIT;
    b.n_events = 3;
    b.events = dec;
    size_t plen = benang__v1__event_batch__get_packed_size(&b);
    uint8_t *packed = malloc(plen);
    benang__v1__event_batch__pack(&b, packed);
    CHECK_MSG(plen == used && memcmp(packed, buf, used) == 0,
              "bn_event_batch_add gave %zu bytes, protobuf-c %zu (or other bytes)", used, plen);
    for (int i = 0; i < 3; i++)
        benang__v1__event__free_unpacked(dec[i], NULL);
    free(packed);

    run_t r;
    run(&r, "canonical-batch", buf, used, 0);
    CHECK(r.st == BN_OK && r.list.len == 3);
    for (size_t i = 0; i < r.list.len && i < 3; i++) {
        CHECK_STR(r.list.items[i]->source_id, ids[i]);
        CHECK_EQ_U64(r.list.items[i]->immunisation->dose_number, i + 1);
    }
    bn_event_list_clear(&r.list);
    run(&r, "canonical-batch", buf, used, 2);
    expect(&r, BN_TOO_LARGE, "payload", "3 events; at most 2");
    run(&r, "canonical-batch", buf, used - 3, 0);
    expect(&r, BN_BAD_PAYLOAD, "payload", "not a serialized benang.v1.EventBatch");
    /* One event as "canonical" takes it is not a batch. */
    run(&r, "canonical-batch", ev[0], len[0], 0);
    expect(&r, BN_BAD_PAYLOAD, "payload", "EventBatch");
    run(&r, "canonical-batch", "", 0, 0); /* no events: the hub refuses that itself */
    CHECK(r.st == BN_OK && r.list.len == 0);
    bn_event_list_clear(&r.list);
    free(buf);
    for (int i = 0; i < 3; i++)
        free(ev[i]);
}

static void test_json_shapes(void)
{
    run_t r;
    json_run(&r, GOOD(1), 0);
    CHECK(r.st == BN_OK && r.list.len == 1);
    expect(&r, BN_OK, "", NULL);
    json_run(&r, "[" GOOD(1) "," GOOD(2) "," GOOD(3) "]", 0);
    CHECK(r.st == BN_OK && r.list.len == 3 && !strcmp(r.list.items[2]->source_id, "J-3"));
    expect(&r, BN_OK, "", NULL);
    json_run(&r, "\n" GOOD(1) "\n\n  \r\n" GOOD(2) "\r\n" GOOD(3), 0);
    CHECK(r.st == BN_OK && r.list.len == 3 && !strcmp(r.list.items[1]->source_id, "J-2"));
    expect(&r, BN_OK, "", NULL);
    json_run(&r,
             "{\n  \"sourceId\": \"P-1\",\n  \"occurredAt\": \"2026-11-01\",\n  \"alert\": "
             "{\"rule\": \"r\", \"kind\": \"k\"}\n}\n",
             0);
    CHECK(r.st == BN_OK && r.list.len == 1);
    expect(&r, BN_OK, "", NULL);
    json_run(&r, "\xEF\xBB\xBF" GOOD(1), 0);
    CHECK(r.st == BN_OK && r.list.len == 1);
    expect(&r, BN_OK, "", NULL);
    json_run(&r, " \n ", 0);
    CHECK(r.st == BN_OK && r.list.len == 0);
    json_run(&r, "[]", 0);
    CHECK(r.st == BN_OK && r.list.len == 0);
    /* brackets inside strings do not count as nesting; escaped quotes stay inside */
    json_run(&r,
             "{\"sourceId\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
             "[[[\\\"{{{{\",\"occurredAt\":\"2026-11-01\",\"alert\":{\"rule\":\"r\",\"kind\":"
             "\"k\"}}",
             0);
    expect(&r, BN_OK, "", NULL);
}

static void test_json_errors(void)
{
    run_t r;
    json_run(&r, "{\"sourceId\":\"J-1\",\"occurredAt\":\"2026-11-0", 0);
    expect(&r, BN_BAD_PAYLOAD, "line 1, column 41", "invalid JSON");
    json_run(
        &r,
        "[" GOOD(0) ",\n" GOOD(1) ",\n{\"sourceId\":\"x\",\"subject\":{\"birthDate\":20260101}}]",
        0);
    expect(&r, BN_INVALID_EVENT, "$[2].subject.birthDate", "expected string, got number");
    json_run(&r, "[" GOOD(0) ",42]", 0);
    expect(&r, BN_INVALID_EVENT, "$[1]", "expected object, got number");
    json_run(&r, GOOD(1) "\n\n" GOOD(3) "\n{\"sourceId\":\"x\",\"occurredAt\":7}\n", 0);
    expect(&r, BN_INVALID_EVENT, "line 4: $.occurredAt", "expected string, got number");
    json_run(&r, GOOD(1) "\n" GOOD(2) "\n{\"sourceId\":\"x\",}\n", 0);
    expect(&r, BN_BAD_PAYLOAD, "line 3, column 17", "invalid JSON");
    json_run(&r, GOOD(1) "\n[1]\n", 0);
    expect(&r, BN_INVALID_EVENT, "line 2: $", "expected object, got array");
    json_run(&r, "{\"sourceId\":\"a\",\"sourceId\":\"b\"}", 0);
    expect(&r, BN_BAD_PAYLOAD, "line 1, column 26", "duplicate");
    json_run(&r, "{\n\"sourceId\":\"a\"\n}\nnonsense", 0);
    expect(&r, BN_BAD_PAYLOAD, "line 4, column 8", "end of file expected");
    json_run(&r, "42", 0);
    expect(&r, BN_BAD_PAYLOAD, "line 1, column 2", "invalid JSON");
    json_run(&r, "{\"sourceId\":\"M-2\",\"occurredAt\":\"not a date\",\"alert\":{}}", 0);
    expect(&r, BN_INVALID_EVENT, "occurred_at", "(got \"not a date\")");
    json_run(&r, "{\"sourceId\":\"x\",\"bogus\":1}", 0);
    expect(&r, BN_INVALID_EVENT, "$.bogus", "unknown field");

    /* 10000 levels: refused by the scan at level 65, before jansson recurses */
    size_t depth = 10000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    json_run(&r, deep, 0);
    expect(&r, BN_BAD_PAYLOAD, "line 1, column 65", "deeper than 64");
    for (size_t i = 0; i < depth; i++)
        deep[i] = i % 2 ? '{' : '[';
    deep[1] = '\n';
    json_run(&r, deep, 0);
    expect(&r, BN_BAD_PAYLOAD, "line 2, column 64", "deeper than 64");
    free(deep);
}

static void test_json_limits(void)
{
    run_t r;
    json_run(&r, "[" GOOD(1) "," GOOD(2) "," GOOD(3) "]", 2);
    expect(&r, BN_TOO_LARGE, "payload", "at most 2");
    json_run(&r, GOOD(1) "\n" GOOD(2) "\n" GOOD(3) "\n", 2);
    expect(&r, BN_TOO_LARGE, "payload", "more than 2 events");
    json_run(&r, GOOD(1) "\n" GOOD(2) "\n", 2);
    CHECK(r.st == BN_OK && r.list.len == 2);
    bn_event_list_clear(&r.list);
}

/* An event written by pbjson reads back through the adapter unchanged. */
static void test_json_round_trip(void)
{
    size_t len;
    uint8_t *bin = bn_test_immunisation("RT-1", "3171234567890123", "08", 3, 0, &len);
    Benang__V1__Event *ev = benang__v1__event__unpack(NULL, len, bin);
    char *text = ev ? bn_pbjson_to_string(&ev->base) : NULL;
    CHECK(text != NULL);
    run_t r;
    json_run(&r, text ? text : "", 0);
    CHECK(r.st == BN_OK && r.list.len == 1);
    if (r.st == BN_OK && r.list.len == 1) {
        free(r.list.items[0]->type); /* validate filled it; the original has none */
        r.list.items[0]->type = (char *)protobuf_c_empty_string;
        size_t n = benang__v1__event__get_packed_size(r.list.items[0]);
        uint8_t *back = malloc(n);
        benang__v1__event__pack(r.list.items[0], back);
        CHECK(n == len && memcmp(back, bin, len) == 0);
        free(back);
    }
    bn_event_list_clear(&r.list);
    free(text);
    benang__v1__event__free_unpacked(ev, NULL);
    free(bin);
}

int main(void)
{
    test_registry_and_list();
    test_canonical();
    test_canonical_batch();
    test_json_shapes();
    test_json_errors();
    test_json_limits();
    test_json_round_trip();
    return bn_test_finish("test_adapters");
}
