/* fhir_internal.h: what the files of the "fhir" adapter share (adapters/fhir*.c).
 *
 * Not a public header: only adapters/fhir*.c include it. fhir_settings.c
 * builds the agency's settings (organizations, vaccine_codes, nik_system);
 * fhir_doc.c parses the payload into a read-only document; fhir_json.c
 * reads its values with JSON paths for errors, resolves
 * references and builds the Subject from a Patient; fhir.c maps the
 * resources and walks Bundles. Strings returned from JSON values are
 * borrowed from the parsed document and live as long as it does.
 */
#ifndef BN_FHIR_INTERNAL_H
#define BN_FHIR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters_internal.h"
#include "benang/utf8.h"

#define BN_FHIR_ECHO_MAX BN_ECHO_MAX
#define BN_FHIR_MAX_DEPTH 64
#define BN_FHIR_CVX_SYSTEM "http://hl7.org/fhir/sid/cvx"
#define BN_FHIR_NIK_SYSTEM "https://fhir.kemkes.go.id/id/nik"

/* ---- the JSON document (fhir_doc.c) ---- */

typedef enum {
    BN_FHIR_NULL,
    BN_FHIR_BOOL,
    BN_FHIR_INT, /* an integral number of at most 18 digits: u.i */
    BN_FHIR_NUM, /* any other number (its value is not kept) */
    BN_FHIR_STR, /* u.s, n bytes, NUL-terminated, valid UTF-8 without NUL */
    BN_FHIR_ARR, /* u.items[0..n) */
    BN_FHIR_OBJ  /* u.items[0..n), each with its key */
} bn_fhir_kind_t;

typedef struct bn_fhir_val bn_fhir_val_t;
struct bn_fhir_val {
    bn_fhir_kind_t kind;
    size_t n;
    const char *key; /* the member name, inside an object */
    union {
        const char *s;
        int64_t i;
        bn_fhir_val_t *items;
    } u;
};

/* A parsed payload; every value and string in it lives until bn_fhir__doc_free. */
typedef struct bn_fhir_doc bn_fhir_doc_t;

/* Parse data[0..len) (any JSON value at the top). Returns BN_OK, BN_BAD_PAYLOAD
 * ("line L, column C": syntax, invalid UTF-8, duplicate keys, nesting deeper
 * than BN_FHIR_MAX_DEPTH), BN_NOMEM. */
bn_status_t bn_fhir__doc_parse(const char *data, size_t len, bn_fhir_doc_t **out, bn_error_t *err);
/* NULL-safe. */
void bn_fhir__doc_free(bn_fhir_doc_t *doc);
const bn_fhir_val_t *bn_fhir__doc_root(const bn_fhir_doc_t *doc);
/* obj's member key, or NULL (also when obj is NULL or not an object). */
const bn_fhir_val_t *bn_fhir__get(const bn_fhir_val_t *obj, const char *key);

static inline bool bn_fhir__is(const bn_fhir_val_t *v, bn_fhir_kind_t kind)
{
    return v && v->kind == kind;
}

/* v's text when it is a string, else NULL. */
static inline const char *bn_fhir__str(const bn_fhir_val_t *v)
{
    return bn_fhir__is(v, BN_FHIR_STR) ? v->u.s : NULL;
}

/* v's length when it is an array, else 0. */
static inline size_t bn_fhir__size(const bn_fhir_val_t *v)
{
    return bn_fhir__is(v, BN_FHIR_ARR) ? v->n : 0;
}

/* Element i of array a, or NULL. */
static inline const bn_fhir_val_t *bn_fhir__at(const bn_fhir_val_t *a, size_t i)
{
    return i < bn_fhir__size(a) ? &a->u.items[i] : NULL;
}

typedef struct {
    char *key, *val;     /* organizations: reference or identifier value -> agency id */
    const bn_node_t *at; /* only while settings_new runs (duplicate errors) */
} bn_fhir_org_t;

typedef struct {
    char *key, *system, *code, *display; /* vaccine_codes: "code" or "system|code" -> coding */
    const bn_node_t *at;
} bn_fhir_vax_t;

typedef struct {
    bn_fhir_org_t *orgs;
    size_t n_orgs;
    bn_fhir_vax_t *vax;
    size_t n_vax;
    char *nik_system;
} bn_fhir_settings_t;

/* A JSON path as a chain from the root ($ is NULL); formatted only on error. */
typedef struct bn_fhir_seg {
    const struct bn_fhir_seg *up;
    const char *key; /* NULL: an array index */
    size_t idx;
} bn_fhir_seg_t;

typedef struct {
    const char *name;
    int value;
} bn_fhir_code_t;

/* What one translation looks at: settings, the bundle's entries, the current resource. */
typedef struct {
    const bn_adapter_ctx_t *ctx;
    const bn_fhir_settings_t *set; /* may be NULL */
    const char *nik_system;
    const bn_fhir_val_t *entries; /* the Bundle's entry array, or NULL */
    const bn_fhir_val_t *res;     /* the resource being translated (for "#id" references) */
    bn_error_t *err;
} bn_fhir_t;

/* A reference split into its last "Type/id" (lengths 0 when it has none). */
typedef struct {
    const char *type, *id;
    size_t tlen, ilen;
} bn_fhir_ref_t;

typedef struct {
    const bn_fhir_val_t *res;
    size_t idx;
    bool contained; /* res is contained[idx] of the current resource, else entry[idx] */
} bn_fhir_hit_t;

/* ---- settings (fhir_settings.c) ---- */

void bn_fhir__settings_free(void *p);

bn_status_t bn_fhir__settings_new(const bn_node_t *node, void **out, bn_error_t *err);

const char *bn_fhir__org_find(const bn_fhir_settings_t *s, const char *key);

/* The vaccine_codes row for a coding: "system|code" first, then the bare code. */
const bn_fhir_vax_t *bn_fhir__vax_find(const bn_fhir_settings_t *s, const char *sys,
                                       const char *code);

/* ---- JSON access, references, subject (fhir_json.c) ---- */

/* BN_INVALID_EVENT at at.key (key may be NULL). */
bn_status_t bn_fhir__fail(bn_error_t *err, const bn_fhir_seg_t *at, const char *key,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

bn_status_t bn_fhir__nomem(bn_error_t *err);

/* s fit to echo in a message (codes only): truncated, control characters as '?'. */
const char *bn_fhir__echo(const char *s, char *buf, size_t size);

/* obj[key]; JSON null counts as absent (sloppy exporters write it). */
const bn_fhir_val_t *bn_fhir__member(const bn_fhir_val_t *obj, const char *key);

bn_status_t bn_fhir__get_str(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             const char **out, bn_error_t *err);

bn_status_t bn_fhir__get_obj(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             const bn_fhir_val_t **out, bn_error_t *err);

bn_status_t bn_fhir__get_arr(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             const bn_fhir_val_t **out, bn_error_t *err);

/* obj[key][i] as an object (NULL when absent); sg receives its path. */
bn_status_t bn_fhir__get_nth(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             size_t i, bn_fhir_seg_t sg[2], const bn_fhir_val_t **out,
                             bn_error_t *err);

/* A CodeableConcept's coding[i]: v[0] system, v[1] code, v[2] display (NULL when absent). */
bn_status_t bn_fhir__coding_at(const bn_fhir_val_t *cc, const bn_fhir_seg_t *at, size_t i,
                               bn_fhir_seg_t sg[2], const char *v[3], bn_error_t *err);

/* obj[key].coding[0].code, else obj[key].text (site, route). */
bn_status_t bn_fhir__cc_code_or_text(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at,
                                     const char *key, const char **out, bn_error_t *err);

bn_status_t bn_fhir__put(char **field, const char *val, bn_error_t *err);

/* A new Coding linked into *slot before it is filled (so a failure frees it with the event). */
bn_status_t bn_fhir__coding_new(Benang__V1__Coding **slot, const char *sys, const char *code,
                                const char *disp, bn_error_t *err);

/* A required (or optional) coded string mapped through t; unknown values are errors. */
bn_status_t bn_fhir__get_code(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                              const bn_fhir_code_t *t, bool required, int *out, bn_error_t *err);

/* FHIR date or dateTime -> "YYYY-MM-DD" or RFC 3339 in buf; partial dates refused. */
bn_status_t bn_fhir__fhir_time(const char *s, const bn_fhir_seg_t *at, const char *key,
                               char buf[48], bn_error_t *err);

/* The record's id: id, else identifier[0].value; NULL when neither. */
bn_status_t bn_fhir__record_id(const bn_fhir_val_t *res, const bn_fhir_seg_t *at, const char **out,
                               bn_error_t *err);

void bn_fhir__ref_parse(const char *s, bn_fhir_ref_t *r);

bool bn_fhir__str_is(const bn_fhir_val_t *v, const char *s, size_t n);

/* Whether ref (its text and its parsed Type/id) names this bundle entry. */
bool bn_fhir__ref_names_entry(const char *text, const bn_fhir_ref_t *r, const bn_fhir_val_t *entry);

/* The resource ref points at: a contained "#id" or a bundle entry. */
bool bn_fhir__resolve(const bn_fhir_t *fx, const char *ref, bn_fhir_hit_t *hit);

/* The benang agency a Reference names through the organizations table, or NULL:
 * its identifier.value, its reference text, then (when it resolves) the
 * target's identifier[].value and "Type/id". */
bn_status_t bn_fhir__agency_of(const bn_fhir_t *fx, const bn_fhir_val_t *ref,
                               const bn_fhir_seg_t *at, const char **out);

/* ev->subject from the Patient that res[key] references, when it can be found. */
bn_status_t bn_fhir__subject_from(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                  const bn_fhir_seg_t *at, const char *key, Benang__V1__Event *ev);

#endif
