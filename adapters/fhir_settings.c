/* fhir_settings.c: the "fhir" adapter's per-agency settings, from the agency's `settings: fhir:`
 * node.
 *
 * Keys: organizations (FHIR reference or identifier value -> benang agency
 * id), vaccine_codes (local "code" or "system|code" -> a CVX coding, given as
 * "system|code" or {system, code, display}), nik_system. All optional;
 * unknown, repeated or empty ones are BN_CONFIG at file:line:col. Tables are
 * copied out of the node tree (which belongs to the config) and sorted for
 * bsearch; the result is read-only and shared by every translate() call.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_internal.h"
#include "validate.h"

/* ---- settings ---------------------------------------------------------------------------- */

void bn_fhir__settings_free(void *p)
{
    bn_fhir_settings_t *s = p;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_orgs; i++) {
        free(s->orgs[i].key);
        free(s->orgs[i].val);
    }
    for (size_t i = 0; i < s->n_vax; i++) {
        free(s->vax[i].key);
        free(s->vax[i].system);
        free(s->vax[i].code);
        free(s->vax[i].display);
    }
    free(s->orgs);
    free(s->vax);
    free(s->nik_system);
    free(s);
}

static bn_status_t node_nomem(bn_error_t *err, const bn_node_t *n)
{
    return bn_node_error(err, BN_NOMEM, n, "out of memory");
}

/* A non-empty scalar's text, or NULL after filling err. */
static const char *scalar(const bn_node_t *n, const char *what, bn_error_t *err)
{
    if (n->kind != BN_NODE_SCALAR || !n->scalar[0]) {
        bn_node_error(err, BN_CONFIG, n, "%s: expected a non-empty string", what);
        return NULL;
    }
    return n->scalar;
}

static int org_cmp(const void *a, const void *b)
{
    return strcmp(((const bn_fhir_org_t *)a)->key, ((const bn_fhir_org_t *)b)->key);
}

static int vax_cmp(const void *a, const void *b)
{
    return strcmp(((const bn_fhir_vax_t *)a)->key, ((const bn_fhir_vax_t *)b)->key);
}

static bn_status_t load_orgs(bn_fhir_settings_t *s, const bn_node_t *n, bn_error_t *err)
{
    if (n->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, n,
                             "organizations: expected a mapping of FHIR reference or identifier "
                             "value to agency id");
    s->orgs = calloc(n->n ? n->n : 1, sizeof *s->orgs);
    if (!s->orgs)
        return node_nomem(err, n);
    for (size_t i = 0; i < n->n; i++) {
        const char *v = scalar(n->items[i], "organizations", err);
        if (!v)
            return BN_CONFIG;
        if (!n->keys[i][0])
            return bn_node_error(err, BN_CONFIG, n->items[i], "organizations: empty key");
        bn_fhir_org_t *o = &s->orgs[s->n_orgs++];
        o->at = n->items[i];
        if (!(o->key = strdup(n->keys[i])) || !(o->val = strdup(v)))
            return node_nomem(err, n);
    }
    qsort(s->orgs, s->n_orgs, sizeof *s->orgs, org_cmp);
    for (size_t i = 1; i < s->n_orgs; i++)
        if (strcmp(s->orgs[i].key, s->orgs[i - 1].key) == 0)
            return bn_node_error(err, BN_CONFIG, s->orgs[i].at,
                                 "organizations: duplicate key \"%s\"", s->orgs[i].key);
    return BN_OK;
}

/* One vaccine_codes value: "system|code" or {system, code, display}. */
static bn_status_t load_vax_one(bn_fhir_vax_t *v, const bn_node_t *n, bn_error_t *err)
{
    if (n->kind == BN_NODE_SCALAR) {
        const char *bar = strchr(n->scalar, '|');
        if (!bar || bar == n->scalar || !bar[1])
            return bn_node_error(err, BN_CONFIG, n,
                                 "vaccine_codes: expected \"system|code\" or {system, code}");
        v->system = strndup(n->scalar, (size_t)(bar - n->scalar));
        v->code = strdup(bar + 1);
        return v->system && v->code ? BN_OK : node_nomem(err, n);
    }
    if (n->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, n,
                             "vaccine_codes: expected \"system|code\" or {system, code}");
    for (size_t i = 0; i < n->n; i++) {
        char **slot = !strcmp(n->keys[i], "system")    ? &v->system
                      : !strcmp(n->keys[i], "code")    ? &v->code
                      : !strcmp(n->keys[i], "display") ? &v->display
                                                       : NULL;
        if (!slot)
            return bn_node_error(err, BN_CONFIG, n->items[i],
                                 "vaccine_codes: unknown key \"%s\" (known: system, code, display)",
                                 n->keys[i]);
        const char *text = scalar(n->items[i], "vaccine_codes", err);
        if (!text)
            return BN_CONFIG;
        if (!*slot && !(*slot = strdup(text)))
            return node_nomem(err, n);
    }
    if (!v->system || !v->code)
        return bn_node_error(err, BN_CONFIG, n, "vaccine_codes: both system and code are required");
    return BN_OK;
}

static bn_status_t load_vax(bn_fhir_settings_t *s, const bn_node_t *n, bn_error_t *err)
{
    if (n->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, n,
                             "vaccine_codes: expected a mapping of local code to CVX coding");
    s->vax = calloc(n->n ? n->n : 1, sizeof *s->vax);
    if (!s->vax)
        return node_nomem(err, n);
    for (size_t i = 0; i < n->n; i++) {
        bn_fhir_vax_t *v = &s->vax[s->n_vax++];
        v->at = n->items[i];
        if (!n->keys[i][0])
            return bn_node_error(err, BN_CONFIG, n->items[i], "vaccine_codes: empty key");
        if (!(v->key = strdup(n->keys[i])))
            return node_nomem(err, n);
        bn_status_t st = load_vax_one(v, n->items[i], err);
        if (st != BN_OK)
            return st;
    }
    qsort(s->vax, s->n_vax, sizeof *s->vax, vax_cmp);
    for (size_t i = 1; i < s->n_vax; i++)
        if (strcmp(s->vax[i].key, s->vax[i - 1].key) == 0)
            return bn_node_error(err, BN_CONFIG, s->vax[i].at,
                                 "vaccine_codes: duplicate key \"%s\"", s->vax[i].key);
    return BN_OK;
}

bn_status_t bn_fhir__settings_new(const bn_node_t *node, void **out, bn_error_t *err)
{
    *out = NULL;
    if (!node)
        return BN_OK; /* no settings: NIK system default, no tables */
    if (node->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, node, "fhir settings: expected a mapping");
    bn_fhir_settings_t *s = calloc(1, sizeof *s);
    if (!s)
        return node_nomem(err, node);
    bn_status_t st = BN_OK;
    for (size_t i = 0; st == BN_OK && i < node->n; i++) {
        const char *k = node->keys[i];
        const bn_node_t *v = node->items[i];
        if (!strcmp(k, "organizations") && !s->orgs) {
            st = load_orgs(s, v, err);
        } else if (!strcmp(k, "vaccine_codes") && !s->vax) {
            st = load_vax(s, v, err);
        } else if (!strcmp(k, "nik_system") && !s->nik_system) {
            const char *text = scalar(v, "nik_system", err);
            st = !text ? BN_CONFIG : (s->nik_system = strdup(text)) ? BN_OK : node_nomem(err, v);
        } else {
            st = bn_node_error(err, BN_CONFIG, v,
                               "fhir settings: unknown or repeated key \"%s\" (known: "
                               "organizations, vaccine_codes, nik_system)",
                               k);
        }
    }
    if (st != BN_OK) {
        bn_fhir__settings_free(s);
        return st;
    }
    *out = s;
    return BN_OK;
}

const char *bn_fhir__org_find(const bn_fhir_settings_t *s, const char *key)
{
    if (!s || !s->n_orgs || !key || !*key)
        return NULL;
    bn_fhir_org_t k = {.key = (char *)key};
    const bn_fhir_org_t *o = bsearch(&k, s->orgs, s->n_orgs, sizeof *s->orgs, org_cmp);
    return o ? o->val : NULL;
}

/* The vaccine_codes row for a coding: "system|code" first, then the bare code. */
const bn_fhir_vax_t *bn_fhir__vax_find(const bn_fhir_settings_t *s, const char *sys,
                                       const char *code)
{
    if (!s || !s->n_vax || !code || !*code)
        return NULL;
    bn_fhir_vax_t k = {.key = (char *)code};
    char buf[256];
    if (sys && snprintf(buf, sizeof buf, "%s|%s", sys, code) < (int)sizeof buf) {
        bn_fhir_vax_t kk = {.key = buf};
        const bn_fhir_vax_t *v = bsearch(&kk, s->vax, s->n_vax, sizeof *s->vax, vax_cmp);
        if (v)
            return v;
    }
    return bsearch(&k, s->vax, s->n_vax, sizeof *s->vax, vax_cmp);
}
