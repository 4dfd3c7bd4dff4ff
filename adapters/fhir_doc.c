/* fhir_doc.c: a read-only JSON document for the "fhir" adapter, parsed by jansson.
 *
 * jansson parses (strict RFC 8259: UTF-8 checked, "\u0000" refused,
 * duplicate keys refused with JSON_REJECT_DUPLICATES); this file then lays
 * the values out as a compact, read-only tree of bn_fhir_val_t (one array
 * per container) whose strings point into jansson's values, which the
 * document keeps alive until bn_fhir__doc_free. The adapter walks that tree
 * with typed accessors that name the JSON path of every error.
 *
 * Nesting is refused past BN_FHIR_MAX_DEPTH before jansson sees the bytes:
 * a scan of brackets outside strings, so the error names the line and column
 * of the offending bracket. (A hand-written single-pass reader was 5x faster
 * here, but the project takes its JSON parser from a well-kept library; the
 * cost is measured in docs/benchmarks.md.)
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_internal.h"

struct bn_fhir_doc {
    json_t *json;      /* owns every string the tree points at */
    void **arrays;     /* the items arrays of the tree, freed with the document */
    size_t n_arrays, cap_arrays;
    bn_fhir_val_t root;
};

void bn_fhir__doc_free(bn_fhir_doc_t *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n_arrays; i++)
        free(doc->arrays[i]);
    free(doc->arrays);
    json_decref(doc->json);
    free(doc);
}

static bn_fhir_val_t *new_items(bn_fhir_doc_t *doc, size_t n)
{
    if (doc->n_arrays == doc->cap_arrays) {
        size_t cap = doc->cap_arrays ? doc->cap_arrays * 2 : 16;
        void **a = realloc(doc->arrays, cap * sizeof *a);
        if (!a)
            return NULL;
        doc->arrays = a;
        doc->cap_arrays = cap;
    }
    bn_fhir_val_t *items = calloc(n ? n : 1, sizeof *items);
    if (items)
        doc->arrays[doc->n_arrays++] = items;
    return items;
}

/* Lay out j into v. False on out of memory. jansson bounds the depth. */
static bool convert(bn_fhir_doc_t *doc, json_t *j, bn_fhir_val_t *v)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        v->kind = BN_FHIR_NULL;
        return true;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind = BN_FHIR_BOOL;
        v->u.i = json_is_true(j);
        return true;
    case JSON_INTEGER:
        v->kind = BN_FHIR_INT;
        v->u.i = (int64_t)json_integer_value(j);
        return true;
    case JSON_REAL:
        v->kind = BN_FHIR_NUM;
        return true;
    case JSON_STRING:
        v->kind = BN_FHIR_STR;
        v->u.s = json_string_value(j);
        v->n = json_string_length(j);
        return true;
    case JSON_ARRAY: {
        v->kind = BN_FHIR_ARR;
        v->n = json_array_size(j);
        if (!(v->u.items = new_items(doc, v->n)))
            return false;
        for (size_t i = 0; i < v->n; i++)
            if (!convert(doc, json_array_get(j, i), &v->u.items[i]))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        v->kind = BN_FHIR_OBJ;
        v->n = json_object_size(j);
        if (!(v->u.items = new_items(doc, v->n)))
            return false;
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach(j, key, val)
        {
            v->u.items[i].key = key;
            if (!convert(doc, val, &v->u.items[i++]))
                return false;
        }
        return true;
    }
    }
    return false;
}

/* The place of the first bracket nested deeper than BN_FHIR_MAX_DEPTH, or NULL. */
static const char *too_deep(const char *p, const char *end)
{
    int depth = 0;
    bool in_str = false;
    for (; p < end; p++) {
        if (in_str) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                in_str = false;
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == '[' || *p == '{') {
            if (++depth > BN_FHIR_MAX_DEPTH)
                return p;
        } else if (*p == ']' || *p == '}') {
            depth--;
        }
    }
    return NULL;
}

static bn_status_t place_error(const char *data, const char *at, const char *msg, bn_error_t *err)
{
    int line = 1;
    const char *bol = data;
    for (const char *c = data; c < at; c++)
        if (*c == '\n')
            line++, bol = c + 1;
    char where[48];
    snprintf(where, sizeof where, "line %d, column %d", line, (int)(at - bol) + 1);
    return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "invalid JSON: %s", msg);
}

bn_status_t bn_fhir__doc_parse(const char *data, size_t len, bn_fhir_doc_t **out, bn_error_t *err)
{
    *out = NULL;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 BOM: exports have them */
        data += 3;
        len -= 3;
    }
    const char *deep = too_deep(data, data + len);
    if (deep)
        return place_error(data, deep, "nested deeper than 64 levels", err);
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j) {
        char where[48];
        snprintf(where, sizeof where, "line %d, column %d", je.line, je.column);
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "invalid JSON: %s", je.text);
    }
    bn_fhir_doc_t *doc = calloc(1, sizeof *doc);
    if (!doc) {
        json_decref(j);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    doc->json = j;
    if (!convert(doc, j, &doc->root)) {
        bn_fhir__doc_free(doc);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    *out = doc;
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
