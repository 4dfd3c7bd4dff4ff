/* fuzz_json_doc.c: differential libFuzzer target for the FHIR adapter's JSON reader.
 *
 * The reader (adapters/fhir_doc.c) is yajl's event parser plus our own checks
 * (strict UTF-8, \u escapes, duplicate names, depth). jansson, strict on all of
 * these by itself, is the oracle: for any bytes both must accept or both
 * refuse, and what both accept must be the same tree, value for value. The
 * only differences allowed are the documented ones: the reader refuses
 * nesting deeper than 64 (jansson allows 2048) and keeps numbers that jansson
 * refuses as too big to hold. A NUL byte, which jansson takes as the end of
 * the input, must be refused.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const bn_fhir_val_t *v, json_t *j)
{
    switch (v->kind) {
    case BN_FHIR_NULL:
        if (!json_is_null(j))
            abort();
        return;
    case BN_FHIR_BOOL:
        if (!json_is_boolean(j) || json_is_true(j) != (v->u.i != 0))
            abort();
        return;
    case BN_FHIR_INT:
        if (!json_is_integer(j) || json_integer_value(j) != v->u.i)
            abort();
        return;
    case BN_FHIR_NUM:
        if (!json_is_number(j))
            abort();
        return;
    case BN_FHIR_STR:
        if (!json_is_string(j) || json_string_length(j) != v->n ||
            memcmp(json_string_value(j), v->u.s, v->n) != 0 || strlen(v->u.s) != v->n)
            abort();
        return;
    case BN_FHIR_ARR:
        if (!json_is_array(j) || json_array_size(j) != v->n)
            abort();
        for (size_t i = 0; i < v->n; i++)
            same(&v->u.items[i], json_array_get(j, i));
        return;
    case BN_FHIR_OBJ:
        if (!json_is_object(j) || json_object_size(j) != v->n)
            abort();
        for (size_t i = 0; i < v->n; i++) {
            json_t *m = json_object_get(j, v->u.items[i].key);
            if (!m || bn_fhir__get(v, v->u.items[i].key) != &v->u.items[i])
                abort();
            same(&v->u.items[i], m);
        }
        return;
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    bn_fhir_doc_t *doc = NULL;
    bn_error_t err = {0};
    bn_status_t st = bn_fhir__doc_parse(text, size, &doc, &err);
    if (st != BN_OK && st != BN_BAD_PAYLOAD)
        abort();
    if (st == BN_BAD_PAYLOAD && (strncmp(err.where, "line ", 5) != 0 || !err.msg[0]))
        abort(); /* every refusal is placed and says why */
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, size -= 3;
    if (memchr(text, '\0', size)) { /* jansson stops reading at a NUL byte; JSON has none */
        if (doc)
            abort();
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (doc && j)
        same(bn_fhir__doc_root(doc), j);
    else if (doc && !j && !strstr(je.text, "too big") && !strstr(je.text, "overflow"))
        abort(); /* we took what jansson refuses */
    else if (!doc && j && !strstr(err.msg, "deeper than 64"))
        abort(); /* we refused what jansson takes */
    json_decref(j);
    bn_fhir__doc_free(doc);
    return 0;
}
