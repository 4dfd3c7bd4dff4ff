/* fhir_doc.c: a read-only JSON document for the "fhir" adapter, parsed in one pass into an arena.
 *
 * Why not jansson: a 1.6 KB Immunization took ~25 us in json_loadb (a
 * malloc per value and per key, a hash table per object), 87% of the
 * adapter's time. Here every value is a fixed-size node in a few large
 * blocks, object members are a flat array searched linearly (FHIR objects
 * are small), and decoded strings share one buffer no larger than the
 * payload: a document is two or three mallocs. The reader is strict RFC 8259:
 * UTF-8 checked, "\u0000" and lone surrogates refused, duplicate keys
 * refused, nothing after the value, nesting refused past
 * BN_FHIR_MAX_DEPTH at the offending bracket. Errors are BN_BAD_PAYLOAD at
 * "line L, column C" (1-based; the column counts bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/utf8.h"
#include "fhir_internal.h"

#define BLOCK_VALUES 256 /* values per arena block at least */
#define SMALL_OBJECT 32  /* up to this many members, duplicates are checked on insertion */

typedef struct bn_fhir_block {
    struct bn_fhir_block *next;
    size_t used, cap;
    bn_fhir_val_t vals[];
} block_t;

struct bn_fhir_doc {
    block_t *blocks;
    char *strings;
    bn_fhir_val_t root;
};

typedef struct {
    const char *start, *p, *end;
    bn_fhir_doc_t *doc;
    size_t sused;
    bn_fhir_val_t *stack; /* members of the containers being read */
    size_t sn, scap;
    int depth;
    const char *err_at, *err_msg;
} reader_t;

static bool fail_at(reader_t *r, const char *at, const char *msg)
{
    r->err_at = at;
    r->err_msg = msg;
    return false;
}

static void skip_ws(reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static bool push(reader_t *r, const bn_fhir_val_t *v)
{
    if (r->sn == r->scap) {
        size_t cap = r->scap ? 2 * r->scap : 64;
        bn_fhir_val_t *s = realloc(r->stack, cap * sizeof *s);
        if (!s)
            return fail_at(r, NULL, "out of memory");
        r->stack = s;
        r->scap = cap;
    }
    r->stack[r->sn++] = *v;
    return true;
}

/* Room for n values in the arena, or NULL. */
static bn_fhir_val_t *arena(reader_t *r, size_t n)
{
    block_t *b = r->doc->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_VALUES ? n : BLOCK_VALUES;
        if (cap > (SIZE_MAX - sizeof *b) / sizeof b->vals[0] ||
            !(b = malloc(sizeof *b + cap * sizeof b->vals[0])))
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = r->doc->blocks;
        r->doc->blocks = b;
    }
    b->used += n;
    return b->vals + b->used - n;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* A \uXXXX escape (with its low surrogate when it is a high one) at r->p (after the 'u'). */
static bool read_escape_u(reader_t *r, char **o)
{
    const char *at = r->p - 2;
    int hi = r->end - r->p >= 4 ? hex4(r->p) : -1;
    if (hi < 0)
        return fail_at(r, at, "invalid \\u escape");
    r->p += 4;
    uint32_t cp = (uint32_t)hi;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return fail_at(r, at, "invalid \\u escape: lone low surrogate");
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        int lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail_at(r, at, "invalid \\u escape: high surrogate without its low one");
        r->p += 6;
        cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    }
    if (cp == 0)
        return fail_at(r, at, "\\u0000 is not allowed in strings");
    *o = put_utf8(*o, cp);
    return true;
}

/* Escape letters, each followed by the byte it stands for. */
static const char ESCAPES[] = "\"\"\\\\//b\bf\fn\nr\rt\t";

/* A string at r->p (on the opening quote) into the string buffer. */
static bool read_string(reader_t *r, const char **out, size_t *len)
{
    const char *open = r->p++;
    char *s = r->doc->strings + r->sused, *o = s;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20)
            return fail_at(r, r->p, "control character in string");
        if (c != '\\') {
            *o++ = (char)c;
            r->p++;
            continue;
        }
        if (r->end - r->p < 2)
            break;
        char e = r->p[1];
        r->p += 2;
        const char *map = e ? strchr(ESCAPES, e) : NULL;
        if (e == 'u') {
            if (!read_escape_u(r, &o))
                return false;
        } else if (map && (map - ESCAPES) % 2 == 0) {
            *o++ = map[1];
        } else {
            return fail_at(r, r->p - 2, "invalid escape in string");
        }
    }
    if (r->p >= r->end || *r->p != '"') /* also a backslash as the last byte */
        return fail_at(r, open, "unterminated string");
    r->p++;
    *o = '\0';
    *len = (size_t)(o - s);
    if (!bn_utf8_valid(s, *len))
        return fail_at(r, open, "string is not valid UTF-8");
    *out = s;
    r->sused += *len + 1;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool read_number(reader_t *r, bn_fhir_val_t *v)
{
    const char *s = r->p, *p = s;
    bool neg = p < r->end && *p == '-', integral = true;
    p += neg;
    if (p >= r->end || !is_digit(*p))
        return fail_at(r, s, "invalid number");
    if (*p == '0')
        p++; /* no leading zeros: "01" is a 0 followed by garbage */
    else
        while (p < r->end && is_digit(*p))
            p++;
    if (p < r->end && *p == '.') {
        integral = false;
        if (++p >= r->end || !is_digit(*p))
            return fail_at(r, s, "invalid number");
        while (p < r->end && is_digit(*p))
            p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p += p + 1 < r->end && (p[1] == '+' || p[1] == '-') ? 2 : 1;
        if (p >= r->end || !is_digit(*p))
            return fail_at(r, s, "invalid number");
        while (p < r->end && is_digit(*p))
            p++;
    }
    size_t digits = (size_t)(p - s) - neg;
    v->kind = integral && digits <= 18 ? BN_FHIR_INT : BN_FHIR_NUM;
    v->u.i = 0;
    for (const char *d = s + neg; v->kind == BN_FHIR_INT && d < p; d++)
        v->u.i = v->u.i * 10 + (*d - '0');
    if (neg)
        v->u.i = -v->u.i;
    r->p = p;
    return true;
}

static bool read_value(reader_t *r, bn_fhir_val_t *v);

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate keys among a large object's members stack[base..sn). */
static bool large_dups(reader_t *r, size_t base, const char *close)
{
    size_t n = r->sn - base;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys)
        return fail_at(r, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = r->stack[base + i].key;
    qsort(keys, n, sizeof *keys, key_cmp);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++)
        dup = strcmp(keys[i], keys[i - 1]) == 0;
    free(keys);
    return dup ? fail_at(r, close, "duplicate object key") : true;
}

/* One member "key": value of an object, appended to the stack. */
static bool read_member(reader_t *r, size_t base)
{
    bn_fhir_val_t m = {0};
    size_t klen;
    const char *kat = r->p;
    if (r->p >= r->end || *r->p != '"')
        return fail_at(r, r->p, "string or '}' expected");
    if (!read_string(r, &m.key, &klen))
        return false;
    for (size_t i = base; r->sn - base < SMALL_OBJECT && i < r->sn; i++)
        if (!strcmp(r->stack[i].key, m.key))
            return fail_at(r, kat, "duplicate object key");
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return fail_at(r, r->p, "':' expected");
    r->p++;
    const char *key = m.key;
    if (!read_value(r, &m))
        return false;
    m.key = key;
    return push(r, &m);
}

/* An array or object at r->p (on its bracket). */
static bool read_container(reader_t *r, bn_fhir_val_t *v, bool object)
{
    const char *open = r->p++;
    char close = object ? '}' : ']';
    if (++r->depth > BN_FHIR_MAX_DEPTH)
        return fail_at(r, open, "JSON nested deeper than 64 levels");
    size_t base = r->sn;
    skip_ws(r);
    bool first = true;
    while (r->p < r->end && *r->p != close) {
        if (!first && *r->p++ != ',')
            return fail_at(r, r->p - 1, object ? "',' or '}' expected" : "',' or ']' expected");
        skip_ws(r);
        bn_fhir_val_t item = {0};
        if (!(object ? read_member(r, base) : (read_value(r, &item) && push(r, &item))))
            return false;
        skip_ws(r);
        first = false;
    }
    if (r->p >= r->end)
        return fail_at(r, r->p, "unexpected end of input");
    if (object && r->sn - base >= SMALL_OBJECT && !large_dups(r, base, r->p))
        return false;
    r->p++;
    r->depth--;
    v->kind = object ? BN_FHIR_OBJ : BN_FHIR_ARR;
    v->n = r->sn - base;
    v->u.items = v->n ? arena(r, v->n) : NULL;
    if (v->n && !v->u.items)
        return fail_at(r, NULL, "out of memory");
    if (v->n)
        memcpy(v->u.items, r->stack + base, v->n * sizeof *v->u.items);
    r->sn = base;
    return true;
}

static bool read_value(reader_t *r, bn_fhir_val_t *v)
{
    skip_ws(r);
    if (r->p >= r->end)
        return fail_at(r, r->p, "unexpected end of input");
    static const struct {
        const char *word;
        bn_fhir_kind_t kind;
        int64_t i;
    } lits[] = {{"true", BN_FHIR_BOOL, 1}, {"false", BN_FHIR_BOOL, 0}, {"null", BN_FHIR_NULL, 0}};
    switch (*r->p) {
    case '{':
    case '[':
        return read_container(r, v, *r->p == '{');
    case '"':
        v->kind = BN_FHIR_STR;
        return read_string(r, &v->u.s, &v->n);
    default:
        break;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i].word);
        if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, lits[i].word, n)) {
            v->kind = lits[i].kind;
            v->u.i = lits[i].i;
            r->p += n;
            return true;
        }
    }
    if (*r->p == '-' || is_digit(*r->p))
        return read_number(r, v);
    return fail_at(r, r->p, "unexpected character");
}

void bn_fhir__doc_free(bn_fhir_doc_t *doc)
{
    if (!doc)
        return;
    while (doc->blocks) {
        block_t *b = doc->blocks;
        doc->blocks = b->next;
        free(b);
    }
    free(doc->strings);
    free(doc);
}

static bn_status_t reader_error(const reader_t *r, bn_error_t *err)
{
    if (!r->err_at)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "%s", r->err_msg);
    int line = 1;
    const char *bol = r->start;
    for (const char *c = r->start; c < r->err_at; c++)
        if (*c == '\n')
            line++, bol = c + 1;
    char where[48];
    snprintf(where, sizeof where, "line %d, column %d", line, (int)(r->err_at - bol) + 1);
    return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "invalid JSON: %s", r->err_msg);
}

bn_status_t bn_fhir__doc_parse(const char *data, size_t len, bn_fhir_doc_t **out, bn_error_t *err)
{
    *out = NULL;
    reader_t r = {.start = data, .p = data, .end = data + len};
    r.doc = calloc(1, sizeof *r.doc);
    if (!r.doc || !(r.doc->strings = malloc(len + 1))) {
        bn_fhir__doc_free(r.doc);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    bool ok = read_value(&r, &r.doc->root);
    if (ok) {
        skip_ws(&r);
        ok = r.p == r.end || fail_at(&r, r.p, "end of input expected");
    }
    free(r.stack);
    if (!ok) {
        bn_fhir__doc_free(r.doc);
        return reader_error(&r, err);
    }
    *out = r.doc;
    return BN_OK;
}

const bn_fhir_val_t *bn_fhir__doc_root(const bn_fhir_doc_t *doc)
{
    return &doc->root;
}

const bn_fhir_val_t *bn_fhir__get(const bn_fhir_val_t *obj, const char *key)
{
    if (!obj || obj->kind != BN_FHIR_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->u.items[i].key, key))
            return &obj->u.items[i];
    return NULL;
}
