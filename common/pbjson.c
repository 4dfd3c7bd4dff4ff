/* pbjson.c: proto3 JSON mapping <-> protobuf-c messages, generic over descriptors.
 *
 * Input builds a message exactly the way protobuf_c_message_unpack() would
 * lay it out (message struct, strings, bytes, arrays and sub-messages each
 * malloc'ed; unset strings at the descriptor default), so the caller frees
 * it with protobuf_c_message_free_unpacked(msg, NULL), and so can we on any
 * error: every pointer is stored in the message the moment it is allocated
 * and array counts grow element by element. Field names are matched as
 * lowerCamelCase (computed from the snake_case name: protobuf-c 1.4 keeps no
 * json_name) or as the original name. Base64 is done here rather than with
 * libsodium so that bn_common needs only jansson.
 */
#include "benang/pbjson.h"
#include "benang/utf8.h"

#include <sodium.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 192
#define KEY_SHOWN 48
#define MAX_DEPTH 64

#define MEMBER(msg, off, type) ((type *)((char *)(msg) + (off)))

/* ---- names and paths ------------------------------------------------------ */

/* A path into out; cutting a long path short is intended, so no truncation check. */
static void path_fmt(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* lowerCamelCase of a snake_case field name, as protoc's json_name. */
static void camel(const char *name, char *out, size_t size)
{
    size_t o = 0;
    bool up = false;
    for (const char *p = name; *p && o + 1 < size; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        out[o++] = (up && *p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
        up = false;
    }
    out[o] = '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key)
{
    char buf[128];
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (strcmp(d->fields[i].name, key) == 0)
            return &d->fields[i];
        camel(d->fields[i].name, buf, sizeof buf);
        if (strcmp(buf, key) == 0)
            return &d->fields[i];
    }
    return NULL;
}

/* path + "." + key, the key cut to KEY_SHOWN bytes (it is attacker-chosen). */
static void path_key(char *out, const char *path, const char *key)
{
    path_fmt(out, PATH_MAX_LEN, "%s.%.*s", path, KEY_SHOWN, key);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bn_status_t bad_type(bn_error_t *err, const char *path, const char *want, const json_t *v)
{
    return bn_error_set(err, BN_INVALID_EVENT, 0, path, "expected %s, got %s", want, type_name(v));
}


/* ---- base64 (RFC 4648, libsodium): standard or URL-safe alphabet, padding optional ---- */

/* Decode s[0..len) into a malloc'ed buffer; false on bad input (*out NULL) or no memory. */
static bool b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len, bool *nomem)
{
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    *out = NULL;
    *nomem = false;
    uint8_t *buf = malloc(len / 4 * 3 + 3);
    if (!buf) {
        *nomem = true;
        return false;
    }
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        /* b64_end NULL: the whole input must be valid in this variant */
        if (sodium_base642bin(buf, len / 4 * 3 + 3, s, len, NULL, out_len, NULL, variants[i]) == 0) {
            *out = buf;
            return true;
        }
    }
    free(buf);
    return false;
}

static char *b64_encode(const uint8_t *d, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, d, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* ---- JSON -> scalars ----------------------------------------------------------- */

/* A JSON integer, an integral real or a decimal string as a sign and magnitude. */
static bn_status_t get_integer(const json_t *v, const char *path, bool *neg, uint64_t *mag,
                               bn_error_t *err)
{
    *neg = false;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        *neg = i < 0;
        *mag = i < 0 ? (uint64_t)(-(i + 1)) + 1 : (uint64_t)i;
        return BN_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || fabs(d) > 9007199254740992.0)
            return bn_error_set(err, BN_INVALID_EVENT, 0, path, "expected an integer, got %g", d);
        *neg = d < 0;
        *mag = (uint64_t)fabs(d);
        return BN_OK;
    }
    if (!json_is_string(v))
        return bad_type(err, path, "integer or decimal string", v);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), i = 0;
    if (n > 0 && s[0] == '-')
        *neg = true, i = 1;
    if (i == n)
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "expected a decimal integer string");
    for (*mag = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return bn_error_set(err, BN_INVALID_EVENT, 0, path,
                                "expected a decimal integer string");
        unsigned dgt = (unsigned)(s[i] - '0');
        if (*mag > (UINT64_MAX - dgt) / 10)
            return bn_error_set(err, BN_INVALID_EVENT, 0, path, "integer out of range");
        *mag = *mag * 10 + dgt;
    }
    return BN_OK;
}

/* Range-check an integer into dst for the 32/64-bit integer types. */
static bn_status_t set_integer(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                               const char *path, bn_error_t *err)
{
    bool neg = false;
    uint64_t m = 0;
    bn_status_t st = get_integer(v, path, &neg, &m, err);
    if (st != BN_OK)
        return st;
    bool is_signed, wide;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        is_signed = true, wide = false;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        is_signed = false, wide = false;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        is_signed = true, wide = true;
        break;
    default:
        is_signed = false, wide = true;
        break;
    }
    uint64_t max = wide ? (is_signed ? (uint64_t)INT64_MAX : UINT64_MAX)
                        : (is_signed ? (uint64_t)INT32_MAX : UINT32_MAX);
    if ((neg && !is_signed && m != 0) || (!neg && m > max) || (neg && m > max + 1))
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "integer out of range for %s%s",
                            is_signed ? "int" : "uint", wide ? "64" : "32");
    int64_t sv = neg ? (m == max + 1 ? (wide ? INT64_MIN : INT32_MIN) : -(int64_t)m) : (int64_t)m;
    if (wide && is_signed)
        *(int64_t *)dst = sv;
    else if (wide)
        *(uint64_t *)dst = m;
    else if (is_signed)
        *(int32_t *)dst = (int32_t)sv;
    else
        *(uint32_t *)dst = (uint32_t)m;
    return BN_OK;
}

static bn_status_t set_float(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                             const char *path, bn_error_t *err)
{
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v) && strcmp(json_string_value(v), "NaN") == 0) {
        d = NAN;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "Infinity") == 0) {
        d = INFINITY;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "-Infinity") == 0) {
        d = -INFINITY;
    } else {
        return bad_type(err, path, "number", v);
    }
    if (f->type == PROTOBUF_C_TYPE_FLOAT) {
        if (isfinite(d) && fabs(d) > 3.4028234663852886e38)
            return bn_error_set(err, BN_INVALID_EVENT, 0, path, "number out of range for float");
        *(float *)dst = (float)d;
    } else {
        *(double *)dst = d;
    }
    return BN_OK;
}

static bn_status_t set_enum(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                            const char *path, bn_error_t *err)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        if (!ev)
            return bn_error_set(err, BN_INVALID_EVENT, 0, path, "\"%.40s\" is not a %s value",
                                json_string_value(v), ed->short_name);
        *(int *)dst = ev->value;
        return BN_OK;
    }
    if (!json_is_integer(v))
        return bad_type(err, path, "enum name or integer", v);
    json_int_t i = json_integer_value(v);
    if (i < INT32_MIN || i > INT32_MAX)
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "enum number out of range");
    *(int *)dst = (int)i;
    return BN_OK;
}

static bn_status_t set_string(const json_t *v, void *dst, const char *path, bn_error_t *err)
{
    if (!json_is_string(v))
        return bad_type(err, path, "string", v);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n)
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "string contains a NUL character");
    if (!bn_utf8_valid(s, n))
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "string is not valid UTF-8");
    char *copy = malloc(n + 1);
    if (!copy)
        return bn_error_set(err, BN_NOMEM, 0, path, "out of memory");
    memcpy(copy, s, n + 1);
    *(char **)dst = copy;
    return BN_OK;
}

static bn_status_t set_bytes(const json_t *v, void *dst, const char *path, bn_error_t *err)
{
    if (!json_is_string(v))
        return bad_type(err, path, "base64 string", v);
    ProtobufCBinaryData *bd = dst;
    bool nomem;
    uint8_t *data;
    size_t len = 0;
    if (!b64_decode(json_string_value(v), json_string_length(v), &data, &len, &nomem))
        return nomem ? bn_error_set(err, BN_NOMEM, 0, path, "out of memory")
                     : bn_error_set(err, BN_INVALID_EVENT, 0, path, "not valid base64");
    bd->data = data;
    bd->len = len;
    return BN_OK;
}

static bn_status_t from_json(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                             const char *path, int depth, ProtobufCMessage **out, bn_error_t *err);

/* One value of field f into dst (a member or an array slot). */
static bn_status_t set_value(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                             const char *path, int depth, bn_error_t *err)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return bad_type(err, path, "boolean", v);
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return BN_OK;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return set_float(f, v, dst, path, err);
    case PROTOBUF_C_TYPE_ENUM:
        return set_enum(f, v, dst, path, err);
    case PROTOBUF_C_TYPE_STRING:
        return set_string(v, dst, path, err);
    case PROTOBUF_C_TYPE_BYTES:
        return set_bytes(v, dst, path, err);
    case PROTOBUF_C_TYPE_MESSAGE:
        return from_json(f->descriptor, v, path, depth + 1, (ProtobufCMessage **)dst, err);
    default:
        return set_integer(f, v, dst, path, err);
    }
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static bn_status_t set_repeated(const ProtobufCFieldDescriptor *f, const json_t *arr,
                                ProtobufCMessage *msg, const char *path, int depth, bn_error_t *err)
{
    if (!json_is_array(arr))
        return bad_type(err, path, "array", arr);
    size_t n = json_array_size(arr), sz = value_size(f);
    if (n == 0)
        return BN_OK;
    void *items = calloc(n, sz);
    if (!items)
        return bn_error_set(err, BN_NOMEM, 0, path, "out of memory");
    size_t *count = MEMBER(msg, f->quantifier_offset, size_t);
    *MEMBER(msg, f->offset, void *) = items;
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX_LEN];
        path_fmt(p, sizeof p, "%s[%zu]", path, i);
        const json_t *v = json_array_get(arr, i);
        if (json_is_null(v))
            return bn_error_set(err, BN_INVALID_EVENT, 0, p, "null is not allowed in an array");
        bn_status_t st = set_value(f, v, (char *)items + i * sz, p, depth, err);
        if (st != BN_OK)
            return st;
        *count = i + 1; /* only now is element i owned by the message */
    }
    return BN_OK;
}

static bn_status_t set_field(const ProtobufCFieldDescriptor *f, const json_t *v,
                             ProtobufCMessage *msg, const char *path, int depth, bn_error_t *err)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return set_repeated(f, v, msg, path, depth, err);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = MEMBER(msg, f->quantifier_offset, uint32_t);
        if (*which != 0 && *which != f->id)
            return bn_error_set(err, BN_INVALID_EVENT, 0, path,
                                "more than one member of a oneof is set");
    }
    void *dst = MEMBER(msg, f->offset, void);
    bool pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;
    void *keep = pointer ? *(void **)dst : NULL;
    bn_status_t st = set_value(f, v, dst, path, depth, err);
    if (pointer && st != BN_OK) {
        *(void **)dst = keep; /* a failed sub-message frees itself */
        return st;
    }
    if (st != BN_OK)
        return st;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *MEMBER(msg, f->quantifier_offset, uint32_t) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !pointer)
        *MEMBER(msg, f->quantifier_offset, protobuf_c_boolean) = 1;
    return BN_OK;
}

static bn_status_t fill(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                        ProtobufCMessage *msg, const char *path, int depth, bn_error_t *err)
{
    bool *seen = calloc(desc->n_fields ? desc->n_fields : 1, sizeof *seen);
    if (!seen)
        return bn_error_set(err, BN_NOMEM, 0, path, "out of memory");
    bn_status_t st = BN_OK;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        char p[PATH_MAX_LEN];
        path_key(p, path, key);
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        if (!f) {
            st = bn_error_set(err, BN_INVALID_EVENT, 0, p, "unknown field");
            break;
        }
        if (seen[f - desc->fields]) {
            st = bn_error_set(err, BN_INVALID_EVENT, 0, p, "field given twice");
            break;
        }
        seen[f - desc->fields] = true;
        if (json_is_null(v))
            continue;
        if ((st = set_field(f, v, msg, p, depth, err)) != BN_OK)
            break;
    }
    free(seen);
    return st;
}

static bn_status_t from_json(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                             const char *path, int depth, ProtobufCMessage **out, bn_error_t *err)
{
    if (!json_is_object(obj))
        return bad_type(err, path, "object", obj);
    if (depth > MAX_DEPTH)
        return bn_error_set(err, BN_INVALID_EVENT, 0, path, "messages nested too deeply");
    ProtobufCMessage *msg = malloc(desc->sizeof_message);
    if (!msg)
        return bn_error_set(err, BN_NOMEM, 0, path, "out of memory");
    protobuf_c_message_init(desc, msg);
    bn_status_t st = fill(desc, obj, msg, path, depth, err);
    if (st != BN_OK) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return st;
    }
    *out = msg;
    return BN_OK;
}

bn_status_t bn_pbjson_from_json(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                                const char *path, ProtobufCMessage **out, bn_error_t *err)
{
    if (!desc || !out)
        return bn_error_set(err, BN_USAGE, 0, path, "no descriptor or no out pointer");
    *out = NULL;
    return from_json(desc, obj, path ? path : "$", 0, out, err);
}

/* ---- message -> JSON ------------------------------------------------------------ */

/* A JSON string for s; invalid UTF-8 bytes become U+FFFD so output is always JSON. */
static json_t *str_json(const char *s, size_t n)
{
    if (bn_utf8_valid(s, n))
        return json_stringn(s, n);
    char *fixed = malloc(n * 3 + 1);
    if (!fixed)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 1;
        while (k <= 4 && i + k <= n && !bn_utf8_valid(s + i, k))
            k++;
        if (k <= 4 && i + k <= n && ((unsigned char)s[i] < 0x80 || k > 1)) {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k - 1;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
    }
    json_t *j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
        return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
        return json_string(buf);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;
        if (isnan(d))
            return json_string("NaN");
        if (isinf(d))
            return json_string(d > 0 ? "Infinity" : "-Infinity");
        return json_real(d);
    }
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        return ev ? json_string(ev->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return str_json(s ? s : "", s ? strlen(s) : 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        char *b = b64_encode(bd->data, bd->len);
        json_t *j = b ? json_string(b) : NULL;
        free(b);
        return j;
    }
    default: {
        const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;
        return m ? bn_pbjson_to_json(m) : json_object();
    }
    }
}

/* Whether a singular proto3 field holds its default (and is then omitted). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0 && !signbit(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0 && !signbit(*(const double *)p);
    default: {
        size_t sz = value_size(f);
        static const uint8_t zero[8];
        return memcmp(p, zero, sz) == 0;
    }
    }
}

/* The JSON of field f of msg, or *omit when it is unset/default. NULL on no memory. */
static json_t *field_json(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                          bool *omit)
{
    const char *base = (const char *)msg;
    const void *p = base + f->offset;
    *omit = false;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + f->quantifier_offset), sz = value_size(f);
        const char *items = *(const char *const *)p;
        if (n == 0 || !items) {
            *omit = true;
            return NULL;
        }
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            if (json_array_append_new(arr, value_json(f, items + i * sz)) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        return arr;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *omit = *(const uint32_t *)(base + f->quantifier_offset) != f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
             f->type != PROTOBUF_C_TYPE_MESSAGE)
        *omit = !*(const protobuf_c_boolean *)(base + f->quantifier_offset);
    else if (f->label != PROTOBUF_C_LABEL_REQUIRED)
        *omit = is_default(f, p);
    return *omit ? NULL : value_json(f, p);
}

json_t *bn_pbjson_to_json(const ProtobufCMessage *msg)
{
    if (!msg)
        return NULL;
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *obj = json_object();
    for (unsigned i = 0; obj && i < d->n_fields; i++) {
        bool omit;
        json_t *v = field_json(msg, &d->fields[i], &omit);
        if (omit)
            continue;
        char name[128];
        camel(d->fields[i].name, name, sizeof name);
        if (json_object_set_new(obj, name, v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

char *bn_pbjson_to_string(const ProtobufCMessage *msg)
{
    json_t *j = bn_pbjson_to_json(msg);
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}
