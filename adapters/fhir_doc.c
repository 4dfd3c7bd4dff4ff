/* fhir_doc.c: a read-only JSON document for the "fhir" adapter, read with yajl.
 *
 * yajl is an event parser: it checks the grammar, decodes escapes and calls
 * back once per value, without building a tree or allocating per value. This
 * file lays those values out as a compact, read-only tree of bn_fhir_val_t
 * (one array per container) in an arena that the document owns, so a payload
 * costs a handful of allocations instead of one or more per value. The
 * adapter walks that tree with typed accessors that name the JSON path of
 * every error. (jansson, the project's JSON library elsewhere, builds its own
 * tree with an allocation per value and key: 5-9x slower on FHIR payloads,
 * docs/decisions.md.)
 *
 * What yajl leaves to us, so that the document stays strict RFC 8259:
 *  - strings: yajl's UTF-8 check lets overlong forms and encoded surrogates
 *    through, and it turns a lone surrogate escape ("\ud800") into '?'; every
 *    string with a byte above 0x7F is checked again with bn_utf8_check, and the
 *    raw text of every string with a backslash has its \u escapes checked
 *    (no "\u0000", surrogates only in high-low pairs);
 *  - duplicate member names (refused, as FHIR and RFC 8259's advice want);
 *  - nesting deeper than BN_FHIR_MAX_DEPTH (yajl's stack grows without bound);
 *  - form feed and vertical tab, which yajl takes as blanks, and an unfinished
 *    token after a complete value ("null\""), which it lets pass.
 * The differential fuzz target tests/fuzz/fuzz_json_doc.c holds all of this to
 * jansson's verdicts.
 * Every error is placed as "line L, column C" of the payload. The place of a
 * value comes from yajl_get_bytes_consumed, which during a callback is the
 * offset just past the token being reported.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "fhir_internal.h"

/* ---- the arena ------------------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    max_align_t data[];
} chunk_t;

struct bn_fhir_doc {
    chunk_t *chunks; /* owns every array and string of the tree */
    bn_fhir_val_t root;
};

#define CHUNK_MIN 8192

static void *arena_alloc(bn_fhir_doc_t *doc, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    chunk_t *c = doc->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = doc->chunks;
        doc->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void bn_fhir__doc_free(bn_fhir_doc_t *doc)
{
    if (!doc)
        return;
    for (chunk_t *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

/* ---- building the tree from yajl's callbacks ---------------------------------------------------
 */

typedef struct {
    size_t base;     /* the container's first child in b->vals */
    const char *key; /* the container's own member name, inside an object */
    size_t key_pos;  /* and where that name starts */
    bool obj;
} open_t;

typedef struct {
    bn_fhir_doc_t *doc;
    yajl_handle h;
    const char *data;
    size_t len;
    size_t last_end; /* offset just past the last token reported */
    /* the children of the open containers, in document order */
    bn_fhir_val_t *vals;
    size_t *key_at; /* where each child's member name starts (objects) */
    size_t nvals, cap;
    open_t open[BN_FHIR_MAX_DEPTH];
    int depth;
    const char *key; /* the member name just read */
    size_t key_pos;
    /* our own error, when a callback stops the parse */
    const char *emsg;
    char ebuf[96];
    size_t epos;
    bool nomem;
    bool at_end;
} build_t;

static size_t here(build_t *b)
{
    return yajl_get_bytes_consumed(b->h);
}

static int fail(build_t *b, size_t pos, const char *msg)
{
    b->emsg = msg;
    b->epos = pos;
    return 0;
}

static int out_of_memory(build_t *b)
{
    b->nomem = true;
    return 0;
}

/* Place v: the root, or the next child of the innermost open container. */
static int add(build_t *b, bn_fhir_val_t v)
{
    /* a number at the very end is only reported by yajl_complete_parse */
    b->last_end = b->at_end ? b->len : here(b);
    if (b->depth == 0) {
        b->doc->root = v;
        return 1;
    }
    if (b->nvals == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        bn_fhir_val_t *vals = realloc(b->vals, cap * sizeof *vals);
        if (!vals)
            return out_of_memory(b);
        b->vals = vals;
        size_t *at = realloc(b->key_at, cap * sizeof *at);
        if (!at)
            return out_of_memory(b);
        b->key_at = at;
        b->cap = cap;
    }
    if (b->open[b->depth - 1].obj) {
        v.key = b->key;
        b->key_at[b->nvals] = b->key_pos;
    }
    b->vals[b->nvals++] = v;
    return 1;
}

static int on_null(void *ctx)
{
    return add(ctx, (bn_fhir_val_t){.kind = BN_FHIR_NULL});
}

static int on_bool(void *ctx, int yes)
{
    return add(ctx, (bn_fhir_val_t){.kind = BN_FHIR_BOOL, .u.i = yes != 0});
}

/* yajl has checked the number's grammar; integers of up to 18 digits keep their value. */
static int on_number(void *ctx, const char *s, size_t n)
{
    bn_fhir_val_t v = {.kind = BN_FHIR_NUM};
    size_t i = n && s[0] == '-';
    size_t digits = i;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    if (digits == n && n - i >= 1 && n - i <= 18) {
        int64_t x = 0;
        for (size_t k = i; k < n; k++)
            x = x * 10 + (s[k] - '0');
        v.kind = BN_FHIR_INT;
        v.u.i = i ? -x : x;
    }
    return add(ctx, v);
}

static unsigned hex4(const char *p)
{
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        x = x << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return x;
}

/* The raw string token raw[0..n) (quotes included; yajl has checked that every
 * escape is well-formed): refuse "\u0000" and surrogates out of pairs. */
static int check_escapes(build_t *b, const char *raw, size_t n)
{
    for (size_t i = 1; i + 1 < n; i++) {
        if (raw[i] != '\\')
            continue;
        size_t at = (size_t)(raw - b->data) + i;
        if (raw[++i] != 'u')
            continue;
        unsigned cp = hex4(raw + i + 1);
        i += 4;
        if (cp == 0)
            return fail(b, at, "\"\\u0000\" is not allowed in a string");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(b, at, "lone low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 6 >= n || raw[i + 1] != '\\' || raw[i + 2] != 'u')
                return fail(b, at, "high surrogate without its low surrogate in a \\u escape");
            unsigned lo = hex4(raw + i + 3);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(b, at, "high surrogate without its low surrogate in a \\u escape");
            i += 6;
        }
    }
    return 1;
}

/* The checks yajl leaves to us for the string just reported (s[0..n) decoded),
 * then its NUL-terminated copy in the arena. NULL when it fails. */
static char *take_string(build_t *b, const unsigned char *us, size_t n, size_t *start)
{
    const char *s = (const char *)us;
    size_t end = here(b);
    size_t q = b->last_end; /* only blanks, ',' and ':' lie before the opening quote */
    while (q < end && b->data[q] != '"')
        q++;
    const char *raw = b->data + q;
    *start = q;
    size_t raw_n = end - q;
    bool escaped = n + 2 != raw_n; /* an escape always takes more bytes than it stands for */
    if (escaped && !check_escapes(b, raw, raw_n))
        return NULL;
    size_t bad = bn_utf8_check(s, n);
    if (bad < n) { /* the bytes came from the raw text, escapes being checked: find them there */
        size_t at = escaped ? bn_utf8_check(raw + 1, raw_n - 2) : bad;
        fail(b, *start + 1 + at, "string is not valid UTF-8");
        return NULL;
    }
    char *copy = arena_alloc(b->doc, n + 1);
    if (!copy) {
        out_of_memory(b);
        return NULL;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    build_t *b = ctx;
    size_t start;
    char *copy = take_string(b, s, n, &start);
    return copy ? add(b, (bn_fhir_val_t){.kind = BN_FHIR_STR, .n = n, .u.s = copy}) : 0;
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
    build_t *b = ctx;
    char *copy = take_string(b, s, n, &b->key_pos);
    if (!copy)
        return 0;
    b->key = copy;
    b->last_end = here(b);
    return 1;
}

static int start(build_t *b, bool obj)
{
    if (b->depth == BN_FHIR_MAX_DEPTH)
        return fail(b, here(b) - 1, "nested deeper than 64 levels");
    open_t *o = &b->open[b->depth++];
    o->base = b->nvals;
    o->obj = obj;
    o->key = b->depth > 1 && b->open[b->depth - 2].obj ? b->key : NULL;
    o->key_pos = b->key_pos;
    b->last_end = here(b);
    return 1;
}

static int on_start_map(void *ctx)
{
    return start(ctx, true);
}

static int on_start_array(void *ctx)
{
    return start(ctx, false);
}

typedef struct {
    const char *key;
    size_t at;
} named_t;

static int cmp_named(const void *x, const void *y)
{
    const named_t *a = x, *c = y;
    int r = strcmp(a->key, c->key);
    return r ? r : (a->at > c->at) - (a->at < c->at);
}

/* Refuse a member name given twice among items[0..n) (names at key_at[]). */
static int check_unique(build_t *b, const bn_fhir_val_t *items, const size_t *key_at, size_t n)
{
    const char *dup = NULL;
    size_t dup_at = 0;
    if (n <= 32) { /* pairs; most differ in their first byte */
        for (size_t i = 1; i < n && !dup; i++)
            for (size_t k = 0; k < i; k++)
                if (items[i].key[0] == items[k].key[0] && !strcmp(items[i].key, items[k].key)) {
                    dup = items[i].key, dup_at = key_at[i];
                    break;
                }
    } else {
        named_t *s = malloc(n * sizeof *s);
        if (!s)
            return out_of_memory(b);
        for (size_t i = 0; i < n; i++)
            s[i] = (named_t){items[i].key, key_at[i]};
        qsort(s, n, sizeof *s, cmp_named);
        for (size_t i = 1; i < n; i++)
            if (!strcmp(s[i].key, s[i - 1].key) && (!dup || s[i].at < dup_at))
                dup = s[i].key, dup_at = s[i].at;
        free(s);
    }
    if (!dup)
        return 1;
    char echo[BN_ECHO_MAX + 8];
    snprintf(b->ebuf, sizeof b->ebuf, "duplicate key \"%s\"",
             bn_utf8_echo(dup, strlen(dup), echo, sizeof echo));
    return fail(b, dup_at, b->ebuf);
}

static int end(build_t *b)
{
    open_t o = b->open[--b->depth];
    size_t n = b->nvals - o.base;
    bn_fhir_val_t v = {.kind = o.obj ? BN_FHIR_OBJ : BN_FHIR_ARR, .n = n, .key = o.key};
    if (!(v.u.items = arena_alloc(b->doc, (n ? n : 1) * sizeof *v.u.items)))
        return out_of_memory(b);
    if (n) { /* b->vals is still NULL when nothing was ever nested */
        memcpy(v.u.items, b->vals + o.base, n * sizeof *v.u.items);
        if (o.obj && !check_unique(b, v.u.items, b->key_at + o.base, n))
            return 0;
    }
    b->nvals = o.base;
    b->key = o.key;
    b->key_pos = o.key_pos;
    return add(b, v);
}

static int on_end(void *ctx)
{
    return end(ctx);
}

static const yajl_callbacks CALLBACKS = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* ---- parse -------------------------------------------------------------------------------------
 */

static bn_status_t place_error(const char *data, size_t len, size_t at, const char *msg,
                               bn_error_t *err)
{
    if (at > len)
        at = len;
    int line = 1;
    size_t bol = 0;
    for (size_t i = 0; i < at; i++)
        if (data[i] == '\n')
            line++, bol = i + 1;
    char where[48];
    snprintf(where, sizeof where, "line %d, column %d", line, (int)(at - bol) + 1);
    return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "invalid JSON: %s", msg);
}

/* yajl's own message ("lexical error: invalid char in json text.\n"), without the
 * kind and the newline. */
static bn_status_t yajl_error(build_t *b, bn_error_t *err)
{
    unsigned char *text = yajl_get_error(b->h, 0, NULL, 0);
    const char *msg = text ? (const char *)text : "syntax error";
    const char *colon = strstr(msg, ": ");
    if (colon)
        msg = colon + 2;
    char clean[160];
    snprintf(clean, sizeof clean, "%s", msg);
    clean[strcspn(clean, "\n")] = '\0';
    size_t n = strlen(clean);
    if (n && clean[n - 1] == '.')
        clean[n - 1] = '\0';
    if (!strcmp(clean, "premature EOF"))
        snprintf(clean, sizeof clean, "the input ends inside a value (truncated?)");
    /* yajl stops on the byte it could not lex (a lexical error), or just past
     * the token it could not take (a grammar error): point at that byte, or at
     * the token, the first byte after the last one taken that is not a blank */
    bool lexical = text && strncmp((const char *)text, "lexical", 7) == 0;
    size_t at = b->at_end ? b->len : yajl_get_bytes_consumed(b->h);
    if (at > b->len)
        at = b->len;
    if (lexical && at > b->last_end) {
        size_t bad = bn_utf8_check(b->data + b->last_end, at - b->last_end);
        if (bad < at - b->last_end)
            at = b->last_end + bad;
    } else if (!lexical) {
        size_t tok = b->last_end;
        while (tok < at && strchr(" \t\r\n,:", b->data[tok]))
            tok++;
        if (tok < at)
            at = tok;
    }
    bn_status_t st = place_error(b->data, b->len, at, clean, err);
    if (text)
        yajl_free_error(b->h, text);
    return st;
}

bn_status_t bn_fhir__doc_parse(const char *data, size_t len, bn_fhir_doc_t **out, bn_error_t *err)
{
    *out = NULL;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 BOM: exports have them */
        data += 3;
        len -= 3;
    }
    /* yajl takes form feed and vertical tab as blanks; JSON does not, and
     * inside strings they are control characters: refused anywhere */
    const char *ff = memchr(data, '\f', len), *vt = memchr(data, '\v', len);
    if (ff || vt) {
        const char *c = ff && (!vt || ff < vt) ? ff : vt;
        return place_error(data, len, (size_t)(c - data),
                           *c == '\f' ? "form feed (0x0C) is not allowed here"
                                      : "vertical tab (0x0B) is not allowed here",
                           err);
    }
    build_t b = {.data = data, .len = len};
    b.doc = calloc(1, sizeof *b.doc);
    b.h = b.doc ? yajl_alloc(&CALLBACKS, NULL, &b) : NULL;
    if (!b.h) {
        free(b.doc);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    yajl_status ys = yajl_parse(b.h, (const unsigned char *)data, len);
    if (ys == yajl_status_ok) {
        b.at_end = true; /* what is reported or refused now is at the end of the input */
        ys = yajl_complete_parse(b.h);
    }
    /* yajl lets an unfinished token after a complete value pass ("null\""):
     * only blanks may follow the value */
    size_t rest = b.last_end;
    while (ys == yajl_status_ok && rest < len && strchr(" \t\r\n", data[rest]) && data[rest])
        rest++;
    if (ys == yajl_status_ok && !b.emsg && rest < len)
        fail(&b, rest, "trailing garbage");
    bn_status_t st = BN_OK;
    if (b.nomem)
        st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    else if (b.emsg)
        st = place_error(data, len, b.epos, b.emsg, err);
    else if (ys != yajl_status_ok)
        st = yajl_error(&b, err);
    yajl_free(b.h);
    free(b.vals);
    free(b.key_at);
    if (st != BN_OK) {
        bn_fhir__doc_free(b.doc);
        return st;
    }
    *out = b.doc;
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
    for (size_t i = 0; i < obj->n; i++) {
        const char *k = obj->u.items[i].key;
        if (k[0] == key[0] && !strcmp(k, key))
            return &obj->u.items[i];
    }
    return NULL;
}
