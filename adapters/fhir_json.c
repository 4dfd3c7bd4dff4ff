/* fhir_json.c: typed JSON access with error paths, references, and the Subject built from a
 * Patient.
 *
 * Paths of errors are chains of bn_fhir_seg_t on the caller's stack,
 * formatted only when there is an error ("$.entry[2].resource.vaccineCode").
 * Wrong JSON types are errors; JSON null counts as absent. References are
 * resolved to contained resources ("#id") and bundle entries (fullUrl or
 * Type/id). The NIK is checked and normalised here and never echoed; names
 * and dates are never echoed either.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/utf8.h"
#include "fhir_internal.h"
#include "validate.h"

#define ADMIN_CODE_URL "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"

/* ---- paths, errors and typed JSON access ---------------------------------------------- */

static size_t seg_fmt(const bn_fhir_seg_t *s, char *buf, size_t size)
{
    size_t n = s ? seg_fmt(s->up, buf, size) : (size_t)snprintf(buf, size, "$");
    if (!s || n >= size)
        return n;
    int w = s->key ? snprintf(buf + n, size - n, ".%s", s->key)
                   : snprintf(buf + n, size - n, "[%zu]", s->idx);
    return n + (w > 0 ? (size_t)w : 0);
}

/* BN_INVALID_EVENT at at.key (key may be NULL). */
__attribute__((format(printf, 4, 5))) bn_status_t
bn_fhir__fail(bn_error_t *err, const bn_fhir_seg_t *at, const char *key, const char *fmt, ...)
{
    char where[sizeof err->where];
    size_t n = seg_fmt(at, where, sizeof where);
    if (key && n < sizeof where)
        snprintf(where + n, sizeof where - n, ".%s", key);
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(err, BN_INVALID_EVENT, 0, where, fmt, ap);
    va_end(ap);
    return BN_INVALID_EVENT;
}

bn_status_t bn_fhir__nomem(bn_error_t *err)
{
    return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
}

/* s fit to echo in a message (codes only): truncated, control characters as '?'. */
const char *bn_fhir__echo(const char *s, char *buf, size_t size)
{
    return bn_utf8_echo(s, strlen(s), buf, size);
}

/* obj[key]; JSON null counts as absent (sloppy exporters write it). */
const bn_fhir_val_t *bn_fhir__member(const bn_fhir_val_t *obj, const char *key)
{
    const bn_fhir_val_t *v = bn_fhir__get(obj, key);
    return bn_fhir__is(v, BN_FHIR_NULL) ? NULL : v;
}

bn_status_t bn_fhir__get_str(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             const char **out, bn_error_t *err)
{
    const bn_fhir_val_t *v = bn_fhir__member(obj, key);
    *out = NULL;
    if (!v)
        return BN_OK;
    if (!bn_fhir__is(v, BN_FHIR_STR))
        return bn_fhir__fail(err, at, key, "expected a string");
    *out = bn_fhir__str(v);
    return BN_OK;
}

bn_status_t bn_fhir__get_obj(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             const bn_fhir_val_t **out, bn_error_t *err)
{
    const bn_fhir_val_t *v = bn_fhir__member(obj, key);
    *out = v;
    if (v && !bn_fhir__is(v, BN_FHIR_OBJ)) {
        *out = NULL;
        return bn_fhir__fail(err, at, key, "expected an object");
    }
    return BN_OK;
}

bn_status_t bn_fhir__get_arr(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             const bn_fhir_val_t **out, bn_error_t *err)
{
    const bn_fhir_val_t *v = bn_fhir__member(obj, key);
    *out = v;
    if (v && !bn_fhir__is(v, BN_FHIR_ARR)) {
        *out = NULL;
        return bn_fhir__fail(err, at, key, "expected an array");
    }
    return BN_OK;
}

/* obj[key][i] as an object (NULL when absent); sg receives its path. */
bn_status_t bn_fhir__get_nth(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                             size_t i, bn_fhir_seg_t sg[2], const bn_fhir_val_t **out,
                             bn_error_t *err)
{
    const bn_fhir_val_t *a;
    sg[0] = (bn_fhir_seg_t){at, key, 0};
    sg[1] = (bn_fhir_seg_t){&sg[0], NULL, i};
    *out = NULL;
    bn_status_t st = bn_fhir__get_arr(obj, at, key, &a, err);
    const bn_fhir_val_t *e = a ? bn_fhir__at(a, i) : NULL;
    if (st != BN_OK || !e || bn_fhir__is(e, BN_FHIR_NULL))
        return st;
    if (!bn_fhir__is(e, BN_FHIR_OBJ))
        return bn_fhir__fail(err, &sg[1], NULL, "expected an object");
    *out = e;
    return BN_OK;
}

/* A CodeableConcept's coding[i]: v[0] system, v[1] code, v[2] display (NULL when absent). */
bn_status_t bn_fhir__coding_at(const bn_fhir_val_t *cc, const bn_fhir_seg_t *at, size_t i,
                               bn_fhir_seg_t sg[2], const char *v[3], bn_error_t *err)
{
    const bn_fhir_val_t *c;
    v[0] = v[1] = v[2] = NULL;
    bn_status_t st = bn_fhir__get_nth(cc, at, "coding", i, sg, &c, err);
    if (st == BN_OK && c)
        st = bn_fhir__get_str(c, &sg[1], "system", &v[0], err);
    if (st == BN_OK && c)
        st = bn_fhir__get_str(c, &sg[1], "code", &v[1], err);
    if (st == BN_OK && c)
        st = bn_fhir__get_str(c, &sg[1], "display", &v[2], err);
    return st;
}

/* obj[key].coding[0].code, else obj[key].text (site, route). */
bn_status_t bn_fhir__cc_code_or_text(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at,
                                     const char *key, const char **out, bn_error_t *err)
{
    const bn_fhir_val_t *cc;
    const char *v[3] = {0};
    bn_fhir_seg_t s = {at, key, 0}, sg[2];
    bn_status_t st = bn_fhir__get_obj(obj, at, key, &cc, err);
    if (st == BN_OK && cc)
        st = bn_fhir__coding_at(cc, &s, 0, sg, v, err);
    *out = v[1];
    if (st == BN_OK && cc && (!*out || !**out))
        st = bn_fhir__get_str(cc, &s, "text", out, err);
    return st;
}

/* ---- output helpers ------------------------------------------------------------------- */

bn_status_t bn_fhir__put(char **field, const char *val, bn_error_t *err)
{
    return bn_pb_set_string(field, val) == BN_OK ? BN_OK : bn_fhir__nomem(err);
}

/* A new Coding linked into *slot before it is filled (so a failure frees it with the event). */
bn_status_t bn_fhir__coding_new(Benang__V1__Coding **slot, const char *sys, const char *code,
                                const char *disp, bn_error_t *err)
{
    Benang__V1__Coding *c = malloc(sizeof *c);
    if (!c)
        return bn_fhir__nomem(err);
    benang__v1__coding__init(c);
    *slot = c;
    bn_status_t st = bn_fhir__put(&c->system, sys, err);
    if (st == BN_OK)
        st = bn_fhir__put(&c->code, code, err);
    if (st == BN_OK)
        st = bn_fhir__put(&c->display, disp, err);
    return st;
}

static int code_find(const bn_fhir_code_t *t, const char *s)
{
    for (; s && t->name; t++)
        if (!strcmp(t->name, s))
            return t->value;
    return -1;
}

/* A required (or optional) coded string mapped through t; unknown values are errors. */
bn_status_t bn_fhir__get_code(const bn_fhir_val_t *obj, const bn_fhir_seg_t *at, const char *key,
                              const bn_fhir_code_t *t, bool required, int *out, bn_error_t *err)
{
    const char *s;
    char b[BN_FHIR_ECHO_MAX + 8];
    *out = 0;
    bn_status_t st = bn_fhir__get_str(obj, at, key, &s, err);
    if (st != BN_OK || (!s && !required))
        return st;
    if (!s)
        return bn_fhir__fail(err, at, key, "required field is missing");
    if ((*out = code_find(t, s)) < 0)
        return bn_fhir__fail(err, at, key, "\"%s\" is not a %s this adapter maps",
                             bn_fhir__echo(s, b, sizeof b), key);
    return BN_OK;
}

/* FHIR date or dateTime -> "YYYY-MM-DD" or RFC 3339 in buf; partial dates refused. */
bn_status_t bn_fhir__fhir_time(const char *s, const bn_fhir_seg_t *at, const char *key,
                               char buf[48], bn_error_t *err)
{
    size_t n = strlen(s);
    bool digits4 = n >= 4 && s[0] >= '0' && s[0] <= '9';
    if (digits4 && (n == 4 || (n == 7 && s[4] == '-')))
        return bn_fhir__fail(err, at, key,
                             "partial date (year or year-month only): benang needs a day");
    if (n == 10 && bn_valid_date(s)) {
        memcpy(buf, s, 11);
        return BN_OK;
    }
    if (n < 20 || n > 40)
        return bn_fhir__fail(
            err, at, key,
            "not a FHIR date YYYY-MM-DD or dateTime YYYY-MM-DDThh:mm:ss with a time zone");
    memcpy(buf, s, n + 1);
    buf[10] = buf[10] == 't' ? 'T' : buf[10];
    buf[n - 1] = buf[n - 1] == 'z' ? 'Z' : buf[n - 1];
    if (!bn_valid_timestamp(buf, false))
        return bn_fhir__fail(
            err, at, key,
            "not a FHIR date YYYY-MM-DD or dateTime YYYY-MM-DDThh:mm:ss with a time zone");
    return BN_OK;
}

/* The record's id: id, else identifier[0].value; NULL when neither. */
bn_status_t bn_fhir__record_id(const bn_fhir_val_t *res, const bn_fhir_seg_t *at, const char **out,
                               bn_error_t *err)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *idf;
    bn_status_t st = bn_fhir__get_str(res, at, "id", out, err);
    if (st != BN_OK || (*out && **out))
        return st;
    st = bn_fhir__get_nth(res, at, "identifier", 0, sg, &idf, err);
    if (st == BN_OK && idf)
        st = bn_fhir__get_str(idf, &sg[1], "value", out, err);
    if (st == BN_OK && *out && !**out)
        *out = NULL;
    return st;
}

/* ---- references ----------------------------------------------------------------------- */

void bn_fhir__ref_parse(const char *s, bn_fhir_ref_t *r)
{
    memset(r, 0, sizeof *r);
    if (s[0] == '#' || !strncmp(s, "urn:", 4) || strchr(s, '?'))
        return;
    const char *h = strstr(s, "/_history/");
    size_t n = h ? (size_t)(h - s) : strlen(s), p = n;
    while (p > 0 && s[p - 1] != '/')
        p--;
    if (p < 2 || p == n)
        return; /* a bare id or a trailing slash: no type */
    size_t q = p - 1;
    while (q > 0 && s[q - 1] != '/')
        q--;
    r->type = s + q;
    r->tlen = p - 1 - q;
    r->id = s + p;
    r->ilen = n - p;
}

bool bn_fhir__str_is(const bn_fhir_val_t *v, const char *s, size_t n)
{
    const char *t = bn_fhir__str(v);
    return t && strlen(t) == n && !memcmp(t, s, n);
}

/* Whether ref (its text and its parsed Type/id) names this bundle entry. */
bool bn_fhir__ref_names_entry(const char *text, const bn_fhir_ref_t *r, const bn_fhir_val_t *entry)
{
    const char *full = bn_fhir__str(bn_fhir__get(entry, "fullUrl"));
    if (full && !strcmp(full, text))
        return true;
    const bn_fhir_val_t *res = bn_fhir__get(entry, "resource");
    return r->tlen && bn_fhir__str_is(bn_fhir__get(res, "resourceType"), r->type, r->tlen) &&
           bn_fhir__str_is(bn_fhir__get(res, "id"), r->id, r->ilen);
}

/* The resource ref points at: a contained "#id" or a bundle entry. */
bool bn_fhir__resolve(const bn_fhir_t *fx, const char *ref, bn_fhir_hit_t *hit)
{
    if (ref[0] == '#') {
        const bn_fhir_val_t *c = bn_fhir__get(fx->res, "contained");
        for (size_t i = 0; i < bn_fhir__size(c); i++) {
            const bn_fhir_val_t *r = bn_fhir__at(c, i);
            if (bn_fhir__is(r, BN_FHIR_OBJ) &&
                bn_fhir__str_is(bn_fhir__get(r, "id"), ref + 1, strlen(ref + 1))) {
                *hit = (bn_fhir_hit_t){r, i, true};
                return true;
            }
        }
        return false;
    }
    bn_fhir_ref_t r;
    bn_fhir__ref_parse(ref, &r);
    for (size_t i = 0; i < bn_fhir__size(fx->entries); i++) {
        const bn_fhir_val_t *e = bn_fhir__at(fx->entries, i);
        const bn_fhir_val_t *res = bn_fhir__get(e, "resource");
        if (bn_fhir__is(res, BN_FHIR_OBJ) && bn_fhir__ref_names_entry(ref, &r, e)) {
            *hit = (bn_fhir_hit_t){res, i, false};
            return true;
        }
    }
    return false;
}

/* The benang agency a Reference names through the organizations table, or NULL:
 * its identifier.value, its reference text, then (when it resolves) the
 * target's identifier[].value and "Type/id". */
bn_status_t bn_fhir__agency_of(const bn_fhir_t *fx, const bn_fhir_val_t *ref,
                               const bn_fhir_seg_t *at, const char **out)
{
    const char *text = NULL, *val = NULL;
    const bn_fhir_val_t *idf;
    bn_fhir_seg_t s_idf = {at, "identifier", 0};
    *out = NULL;
    bn_status_t st = bn_fhir__get_str(ref, at, "reference", &text, fx->err);
    if (st == BN_OK)
        st = bn_fhir__get_obj(ref, at, "identifier", &idf, fx->err);
    if (st == BN_OK && idf)
        st = bn_fhir__get_str(idf, &s_idf, "value", &val, fx->err);
    if (st != BN_OK || !fx->set || (*out = bn_fhir__org_find(fx->set, val)) ||
        (*out = bn_fhir__org_find(fx->set, text)))
        return st;
    bn_fhir_hit_t hit;
    if (!text || !bn_fhir__resolve(fx, text, &hit))
        return BN_OK;
    const bn_fhir_val_t *ids = bn_fhir__get(hit.res, "identifier");
    for (size_t i = 0; !*out && i < bn_fhir__size(ids); i++)
        *out = bn_fhir__org_find(fx->set, bn_fhir__str(bn_fhir__get(bn_fhir__at(ids, i), "value")));
    const char *type = bn_fhir__str(bn_fhir__get(hit.res, "resourceType"));
    const char *id = bn_fhir__str(bn_fhir__get(hit.res, "id"));
    char buf[256];
    if (!*out && type && id && snprintf(buf, sizeof buf, "%s/%s", type, id) < (int)sizeof buf)
        *out = bn_fhir__org_find(fx->set, buf);
    return BN_OK;
}

/* ---- the subject (Patient) -------------------------------------------------------------- */

#define NIK_RULE "NIK must be 16 digits (spaces, dots and dashes between them allowed)"

/* The 16 digits of a NIK written with spaces, dots or dashes, or false. */
static bool nik_norm(const char *val, char nik[17])
{
    size_t n = 0;
    for (const char *c = val; *c; c++) {
        if (*c >= '0' && *c <= '9') {
            if (n == 16)
                return false;
            nik[n++] = *c;
        } else if (*c != ' ' && *c != '.' && *c != '-') {
            return false;
        }
    }
    nik[n] = '\0';
    return n == 16;
}

/* NIK from the identifier of the NIK system; local_id from the first other one. */
static bn_status_t subject_ids(const bn_fhir_t *fx, const bn_fhir_val_t *pat,
                               const bn_fhir_seg_t *at, Benang__V1__Subject *sub)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *arr, *idf;
    bn_status_t st = bn_fhir__get_arr(pat, at, "identifier", &arr, fx->err);
    for (size_t i = 0; st == BN_OK && i < bn_fhir__size(arr); i++) {
        const char *sys = NULL, *val = NULL;
        st = bn_fhir__get_nth(pat, at, "identifier", i, sg, &idf, fx->err);
        if (st == BN_OK && idf)
            st = bn_fhir__get_str(idf, &sg[1], "system", &sys, fx->err);
        if (st == BN_OK && idf)
            st = bn_fhir__get_str(idf, &sg[1], "value", &val, fx->err);
        if (st != BN_OK || !val || !*val)
            continue;
        if (!sys || strcmp(sys, fx->nik_system) != 0) {
            if (!sub->local_id[0])
                st = bn_fhir__put(&sub->local_id, val, fx->err);
            continue;
        }
        char nik[17];
        if (!nik_norm(val, nik)) /* never echo the NIK */
            return bn_fhir__fail(fx->err, &sg[1], "value", NIK_RULE);
        if (!sub->nik[0])
            st = bn_fhir__put(&sub->nik, nik, fx->err);
    }
    return st;
}

/* name[0].text, else given... family joined by spaces. */
static bn_status_t subject_name(const bn_fhir_t *fx, const bn_fhir_val_t *pat,
                                const bn_fhir_seg_t *at, Benang__V1__Subject *sub)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *nm, *given = NULL;
    const char *text = NULL, *family = NULL;
    bn_status_t st = bn_fhir__get_nth(pat, at, "name", 0, sg, &nm, fx->err);
    if (st == BN_OK && nm)
        st = bn_fhir__get_str(nm, &sg[1], "text", &text, fx->err);
    if (st == BN_OK && nm)
        st = bn_fhir__get_str(nm, &sg[1], "family", &family, fx->err);
    if (st == BN_OK && nm)
        st = bn_fhir__get_arr(nm, &sg[1], "given", &given, fx->err);
    if (st != BN_OK || !nm || (text && *text))
        return st != BN_OK ? st : bn_fhir__put(&sub->name, text, fx->err);
    bn_fhir_seg_t sgv = {&sg[1], "given", 0}, sgi = {&sgv, NULL, 0};
    size_t len = family ? strlen(family) + 1 : 1;
    for (size_t i = 0; i < bn_fhir__size(given); i++) {
        const bn_fhir_val_t *g = bn_fhir__at(given, i);
        sgi.idx = i;
        if (!bn_fhir__is(g, BN_FHIR_STR))
            return bn_fhir__fail(fx->err, &sgi, NULL, "expected a string");
        len += (g)->n + 1;
    }
    char *buf = malloc(len), *p = buf;
    if (!buf)
        return bn_fhir__nomem(fx->err);
    for (size_t i = 0; i < bn_fhir__size(given); i++) {
        const bn_fhir_val_t *g = bn_fhir__at(given, i);
        if ((g)->n)
            p += sprintf(p, "%s%s", p == buf ? "" : " ", bn_fhir__str(g));
    }
    if (family && *family)
        p += sprintf(p, "%s%s", p == buf ? "" : " ", family);
    *p = '\0';
    st = bn_fhir__put(&sub->name, buf, fx->err);
    free(buf);
    return st;
}

/* An extension's valueCode or valueString. */
static const char *ext_value(const bn_fhir_val_t *ext)
{
    const char *v = bn_fhir__str(bn_fhir__get(ext, "valueCode"));
    return v ? v : bn_fhir__str(bn_fhir__get(ext, "valueString"));
}

/* village, rt, rw from address[0]: the SATUSEHAT administrativeCode extension,
 * else city or district for the village. */
static bn_status_t subject_address(const bn_fhir_t *fx, const bn_fhir_val_t *pat,
                                   const bn_fhir_seg_t *at, Benang__V1__Subject *sub)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *adr, *exts = NULL;
    const char *village = NULL, *rt = NULL, *rw = NULL, *city = NULL, *district = NULL;
    bn_status_t st = bn_fhir__get_nth(pat, at, "address", 0, sg, &adr, fx->err);
    if (st == BN_OK && adr)
        st = bn_fhir__get_str(adr, &sg[1], "city", &city, fx->err);
    if (st == BN_OK && adr)
        st = bn_fhir__get_str(adr, &sg[1], "district", &district, fx->err);
    if (st == BN_OK && adr)
        st = bn_fhir__get_arr(adr, &sg[1], "extension", &exts, fx->err);
    if (st != BN_OK || !adr)
        return st;
    for (size_t i = 0; i < bn_fhir__size(exts); i++) {
        const bn_fhir_val_t *e = bn_fhir__at(exts, i);
        if (!bn_fhir__str_is(bn_fhir__get(e, "url"), ADMIN_CODE_URL, strlen(ADMIN_CODE_URL)))
            continue;
        const bn_fhir_val_t *subs = bn_fhir__get(e, "extension");
        for (size_t k = 0; k < bn_fhir__size(subs); k++) {
            const bn_fhir_val_t *x = bn_fhir__at(subs, k);
            const char *url = bn_fhir__str(bn_fhir__get(x, "url"));
            if (url && !strcmp(url, "village"))
                village = ext_value(x);
            else if (url && !strcmp(url, "rt"))
                rt = ext_value(x);
            else if (url && !strcmp(url, "rw"))
                rw = ext_value(x);
        }
    }
    if (!village || !*village)
        village = city && *city ? city : district;
    st = bn_fhir__put(&sub->village, village, fx->err);
    if (st == BN_OK)
        st = bn_fhir__put(&sub->rt, rt, fx->err);
    if (st == BN_OK)
        st = bn_fhir__put(&sub->rw, rw, fx->err);
    return st;
}

static const bn_fhir_code_t GENDERS[] = {{"female", BENANG__V1__SEX__SEX_FEMALE},
                                         {"male", BENANG__V1__SEX__SEX_MALE},
                                         {"other", BENANG__V1__SEX__SEX_OTHER},
                                         {"unknown", BENANG__V1__SEX__SEX_UNKNOWN},
                                         {NULL, 0}};

static bn_status_t subject_fill(const bn_fhir_t *fx, const bn_fhir_val_t *pat,
                                const bn_fhir_seg_t *at, Benang__V1__Subject *sub)
{
    const char *birth;
    int sex;
    bn_status_t st = subject_ids(fx, pat, at, sub);
    if (st == BN_OK)
        st = subject_name(fx, pat, at, sub);
    if (st == BN_OK)
        st = subject_address(fx, pat, at, sub);
    if (st == BN_OK)
        st = bn_fhir__get_code(pat, at, "gender", GENDERS, false, &sex, fx->err);
    if (st == BN_OK)
        sub->sex = (Benang__V1__Sex)sex;
    if (st == BN_OK)
        st = bn_fhir__get_str(pat, at, "birthDate", &birth, fx->err);
    if (st != BN_OK || !birth)
        return st;
    size_t n = strlen(birth);
    if (n == 10 && bn_valid_date(birth))
        return bn_fhir__put(&sub->birth_date, birth, fx->err);
    bool partial = (n == 4 || (n == 7 && birth[4] == '-')) && strspn(birth, "0123456789-") == n;
    if (!partial) /* never echo a birth date */
        return bn_fhir__fail(fx->err, at, "birthDate", "not a FHIR date YYYY-MM-DD");
    return BN_OK; /* year or year-month only: left out, the schema needs a day */
}

/* ev->subject from the Patient that res[key] references, when it can be found. */
bn_status_t bn_fhir__subject_from(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                  const bn_fhir_seg_t *at, const char *key, Benang__V1__Event *ev)
{
    const bn_fhir_val_t *ref, *idf;
    const char *text = NULL, *sys = NULL, *val = NULL;
    bn_fhir_seg_t s_ref = {at, key, 0}, s_idf = {&s_ref, "identifier", 0};
    bn_status_t st = bn_fhir__get_obj(res, at, key, &ref, fx->err);
    if (st == BN_OK && ref)
        st = bn_fhir__get_str(ref, &s_ref, "reference", &text, fx->err);
    if (st == BN_OK && ref)
        st = bn_fhir__get_obj(ref, &s_ref, "identifier", &idf, fx->err);
    if (st == BN_OK && ref && idf)
        st = bn_fhir__get_str(idf, &s_idf, "system", &sys, fx->err);
    if (st == BN_OK && ref && idf)
        st = bn_fhir__get_str(idf, &s_idf, "value", &val, fx->err);
    if (st != BN_OK || !ref)
        return st;
    bn_fhir_hit_t hit = {0};
    bool found = text && *text && bn_fhir__resolve(fx, text, &hit);
    bool by_nik = !found && val && sys && !strcmp(sys, fx->nik_system);
    if (!found && text && (text[0] == '#' || !strncmp(text, "urn:", 4)))
        return bn_fhir__fail(fx->err, &s_ref, "reference", "%s",
                             fx->entries || text[0] == '#'
                                 ? "does not resolve inside this payload"
                                 : "a urn: reference needs a Bundle to resolve in");
    if (!found && !by_nik)
        return BN_OK; /* a patient on a server, or none: no subject */
    const char *rt = found ? bn_fhir__str(bn_fhir__get(hit.res, "resourceType")) : "Patient";
    char b[BN_FHIR_ECHO_MAX + 8];
    if (!rt || strcmp(rt, "Patient") != 0)
        return bn_fhir__fail(fx->err, &s_ref, "reference", "refers to a %s, not a Patient",
                             rt ? bn_fhir__echo(rt, b, sizeof b) : "resource without resourceType");
    Benang__V1__Subject *sub = malloc(sizeof *sub);
    if (!sub)
        return bn_fhir__nomem(fx->err);
    benang__v1__subject__init(sub);
    ev->subject = sub;
    char nik[17];
    if (!found && !nik_norm(val, nik)) /* a logical reference by NIK; never echo it */
        return bn_fhir__fail(fx->err, &s_idf, "value", NIK_RULE);
    if (!found)
        return bn_fhir__put(&sub->nik, nik, fx->err);
    bn_fhir_seg_t s1 = {at, "contained", 0}, s2 = {&s1, NULL, hit.idx}, e1 = {NULL, "entry", 0},
                  e2 = {&e1, NULL, hit.idx}, e3 = {&e2, "resource", 0};
    return subject_fill(fx, hit.res, hit.contained ? &s2 : &e3, sub);
}
