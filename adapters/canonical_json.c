/* canonical_json.c: adapter "canonical-json": the proto3 JSON mapping of benang.v1.Event.
 *
 * The payload is one JSON object, a JSON array of objects, or NDJSON (one
 * object per line, blank lines ignored). The shape is told by the first
 * value: '[' is an array; an object followed by nothing is a single event;
 * an object on line 1 followed by more is NDJSON. Nesting is limited to
 * MAX_DEPTH by a scan before jansson sees the bytes, so hostile depth
 * costs one linear pass and gives a clean error. Parse errors are
 * BN_BAD_PAYLOAD at "line L, column C"; field errors come from pbjson with
 * a JSON path ("$[3].subject.birthDate", "line 4: $.occurredAt").
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "adapters_internal.h"
#include "benang/pbjson.h"

#define MAX_DEPTH 64
#define LOAD_FLAGS JSON_REJECT_DUPLICATES

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Refuse JSON nested deeper than MAX_DEPTH, naming where it happens. */
static bn_status_t depth_scan(const uint8_t *d, size_t len, bn_error_t *err)
{
    int depth = 0, line = 1, col = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = d[i];
        col++;
        if (c == '\n') {
            line++;
            col = 0;
            in_str = esc = false; /* a raw newline ends any string: JSON forbids it there */
        } else if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > MAX_DEPTH) {
                char where[48];
                snprintf(where, sizeof where, "line %d, column %d", line, col);
                return bn_error_set(err, BN_BAD_PAYLOAD, 0, where,
                                    "JSON nested deeper than %d levels", MAX_DEPTH);
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return BN_OK;
}

static bn_status_t parse_error(const json_error_t *je, int line_base, bn_error_t *err)
{
    char where[48];
    snprintf(where, sizeof where, "line %d, column %d", je->line + line_base, je->column);
    return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "invalid JSON: %s", je->text);
}

/* Translate one JSON value into an event at path, prefixing errors with prefix. */
static bn_status_t add_event(const bn_adapter_ctx_t *ctx, const json_t *v, const char *path,
                             const char *prefix, size_t first, bn_event_list_t *out,
                             bn_error_t *err)
{
    if (ctx && ctx->max_events && out->len - first >= ctx->max_events)
        return bn_error_set(err, BN_TOO_LARGE, 0, "payload", "more than %zu events",
                            ctx->max_events);
    ProtobufCMessage *m = NULL;
    bn_status_t st = bn_pbjson_from_json(&benang__v1__event__descriptor, v, path, &m, err);
    if (st != BN_OK) {
        if (prefix)
            bn_error_prefix_where(err, prefix);
        return st;
    }
    Benang__V1__Event *ev = (Benang__V1__Event *)m;
    if (bn_event_list_push(out, &ev) != BN_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    return BN_OK;
}

static bn_status_t from_array(const bn_adapter_ctx_t *ctx, const json_t *arr, bn_event_list_t *out,
                              bn_error_t *err)
{
    size_t first = out->len, n = json_array_size(arr);
    if (ctx && ctx->max_events && n > ctx->max_events)
        return bn_error_set(err, BN_TOO_LARGE, 0, "payload", "%zu events; at most %zu allowed", n,
                            ctx->max_events);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "$[%zu]", i);
        bn_status_t st = add_event(ctx, json_array_get(arr, i), path, NULL, first, out, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static bn_status_t from_lines(const bn_adapter_ctx_t *ctx, const uint8_t *d, size_t len,
                              bn_event_list_t *out, bn_error_t *err)
{
    size_t first = out->len, start = 0;
    for (int line = 1; start < len; line++) {
        size_t end = start;
        while (end < len && d[end] != '\n')
            end++;
        size_t n = end - start;
        bool blank = true;
        for (size_t i = start; i < end && blank; i++)
            blank = is_ws(d[i]);
        if (!blank) {
            json_error_t je;
            json_t *v = json_loadb((const char *)d + start, n, LOAD_FLAGS, &je);
            if (!v)
                return parse_error(&je, line - 1, err);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "line %d: ", line);
            bn_status_t st = add_event(ctx, v, "$", prefix, first, out, err);
            json_decref(v);
            if (st != BN_OK)
                return st;
        }
        start = end + 1;
    }
    return BN_OK;
}

static bn_status_t json_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                  bn_event_list_t *out, bn_error_t *err)
{
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        data += 3, len -= 3; /* a UTF-8 byte order mark */
    bn_status_t st = depth_scan(data, len, err);
    size_t i = 0;
    while (st == BN_OK && i < len && is_ws(data[i]))
        i++;
    if (st != BN_OK || i == len)
        return st; /* nothing at all: zero events, the caller decides */
    json_error_t je;
    json_t *v = json_loadb((const char *)data, len, LOAD_FLAGS | JSON_DISABLE_EOF_CHECK, &je);
    if (!v)
        return parse_error(&je, 0, err);
    size_t end = (size_t)je.position, rest = end;
    while (rest < len && is_ws(data[rest]))
        rest++;
    if (rest == len) {
        st = json_is_array(v) ? from_array(ctx, v, out, err)
                              : add_event(ctx, v, "$", NULL, out->len, out, err);
        json_decref(v);
        return st;
    }
    bool is_object = json_is_object(v);
    json_decref(v);
    bool one_line = true;
    for (size_t k = i; k < end && one_line; k++)
        one_line = data[k] != '\n';
    if (one_line && is_object)
        return from_lines(ctx, data, len, out, err);
    /* a multi-line value or an array followed by more: jansson names the spot */
    v = json_loadb((const char *)data, len, LOAD_FLAGS, &je);
    if (v) { /* cannot happen: the first parse stopped before the end */
        json_decref(v);
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, "payload", "unexpected data after JSON");
    }
    return parse_error(&je, 0, err);
}

const bn_adapter_ops_t bn_adapter_canonical_json = {
    .name = "canonical-json",
    .summary = "proto3 JSON of benang.v1.Event: one object, an array of objects, or NDJSON",
    .translate = json_translate,
};
