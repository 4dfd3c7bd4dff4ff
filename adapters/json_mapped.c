/* json_mapped.c: adapter "json": any agency JSON, records and fields mapped in the agency's
 * settings.
 *
 * The settings are the mapping language of mapping.h with `path:` as the
 * source key, plus `records:` (docs/mapping.md). Paths are a small subset of
 * JSONPath, compiled once at settings time into steps: `$` (the record),
 * `.name`, `["name"]` or `['name']`, `[N]`; a path without `$` is a name under
 * the record ("nik" = "$.nik"). No wildcards, filters or slices. A path that
 * does not reach a value at translate time is simply absent. The payload is
 * parsed whole by jansson after a linear depth scan (hostile nesting costs one
 * pass and gives a clean error); errors name JSON paths such as
 * "$.data.peserta[3].tanggal".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters_internal.h"
#include "mapping.h"

#define MAX_DEPTH 64
#define MAX_STEPS 16

typedef struct {
    char *key; /* NULL: an index step */
    size_t index;
} step_t;

typedef struct {
    step_t steps[MAX_STEPS];
    size_t n;
    char *text; /* as shown in errors, without the leading '$' ("" for the record) */
} jpath_t;

typedef struct {
    bn_mapping_t *map;
    jpath_t *paths; /* one per mapping source */
    size_t n_paths;
    bool has_records;
    jpath_t records;
} json_settings_t;

/* The reader state for one record. */
typedef struct {
    const json_settings_t *cfg;
    const json_t *record;
    char prefix[96]; /* "$.data.peserta[3]" */
    bn_mapping_value_t *items;
    size_t cap_items;
    char *text; /* number text for the current lookup */
    size_t cap_text;
} jrec_t;

/* ---- paths ------------------------------------------------------------------ */

static void path_free(jpath_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->steps[i].key);
    free(p->text);
    p->n = 0;
    p->text = NULL;
}

static bool name_char(char c)
{
    return c != '.' && c != '[' && c != ']' && c != ' ' && c != '"' && c != '\'' && c != '\0';
}

static bn_status_t add_key(jpath_t *p, const char *start, const char *end, bn_error_t *err)
{
    if (!(p->steps[p->n].key = strndup(start, (size_t)(end - start))))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    p->n++;
    return BN_OK;
}

/* One step at *s ("name" when bare, else ".name", ["name"], ['name'] or [N]); false when bad. */
static bool one_step(const char **s, bool bare, jpath_t *p, bn_status_t *st, bn_error_t *err)
{
    const char *start = *s, *end;
    if (!bare && **s == '[' && (*s)[1] >= '0' && (*s)[1] <= '9') {
        char *e;
        p->steps[p->n].index = strtoul(*s + 1, &e, 10);
        if (*e != ']')
            return false;
        p->n++;
        *s = e + 1;
        return true;
    }
    if (!bare && **s == '[' && ((*s)[1] == '"' || (*s)[1] == '\'')) {
        start = *s + 2;
        end = strchr(start, (*s)[1]);
        if (!end || end[1] != ']' || end == start)
            return false;
        *s = end + 2;
    } else if (bare || **s == '.') {
        start += !bare;
        for (end = start; name_char(*end); end++)
            ;
        if (end == start)
            return false;
        *s = end;
    } else {
        return false;
    }
    *st = add_key(p, start, end, err);
    return true;
}

/* Compile src (the text of node at) into p. */
static bn_status_t path_compile(const char *src, const bn_node_t *at, jpath_t *p, bn_error_t *err)
{
    const char *s = src + (src[0] == '$');
    bool bare = src[0] != '$';
    bn_status_t st = BN_OK;
    while (*s && st == BN_OK) {
        if (p->n == MAX_STEPS)
            return bn_node_error(err, BN_CONFIG, at, "path \"%.60s\" has more than %d steps", src,
                                 MAX_STEPS);
        if (!one_step(&s, bare, p, &st, err))
            return bn_node_error(err, BN_CONFIG, at,
                                 "path \"%.60s\": expected $ then .name, [\"name\"] or [N] steps "
                                 "(no wildcards or filters)",
                                 src);
        bare = false;
    }
    if (st != BN_OK)
        return st;
    size_t n = strlen(src) + 2;
    if (!(p->text = malloc(n)))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    snprintf(p->text, n, "%s%s", bare || src[0] == '$' ? "" : ".", src + (src[0] == '$'));
    return BN_OK;
}

static const json_t *path_eval(const jpath_t *p, const json_t *v)
{
    for (size_t i = 0; i < p->n && v; i++)
        v = p->steps[i].key ? json_object_get(v, p->steps[i].key)
                            : json_array_get(v, p->steps[i].index);
    return v;
}

/* ---- settings ------------------------------------------------------------------- */

static void settings_free(void *ptr)
{
    json_settings_t *s = ptr;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_paths; i++)
        path_free(&s->paths[i]);
    free(s->paths);
    path_free(&s->records);
    bn_mapping_destroy(&s->map);
    free(s);
}

static bn_status_t compile_paths(json_settings_t *s, const bn_node_t *node, bn_error_t *err)
{
    size_t n = bn_mapping_source_count(s->map);
    if (!(s->paths = calloc(n ? n : 1, sizeof *s->paths)))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    for (; s->n_paths < n; s->n_paths++) {
        bn_status_t st =
            path_compile(bn_mapping_source_name(s->map, s->n_paths),
                         bn_mapping_source_node(s->map, s->n_paths), &s->paths[s->n_paths], err);
        if (st != BN_OK) {
            path_free(&s->paths[s->n_paths]);
            return st;
        }
    }
    const bn_node_t *rec = bn_node_get(node, "records");
    if (!rec)
        return BN_OK;
    if (rec->kind != BN_NODE_SCALAR || rec->scalar[0] == '\0')
        return bn_node_error(err, BN_CONFIG, rec, "records: expected a path such as $.data");
    s->has_records = true;
    return path_compile(rec->scalar, rec, &s->records, err);
}

static bn_status_t settings_new(const bn_node_t *node, void **out, bn_error_t *err)
{
    static const char *const extra[] = {"records", NULL};
    const bn_mapping_dialect_t dialect = {.source_key = "path", .extra_keys = extra};
    *out = NULL;
    json_settings_t *s = calloc(1, sizeof *s);
    if (!s)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    bn_status_t st = bn_mapping_new(&s->map, node, &dialect, err);
    if (st == BN_OK)
        st = compile_paths(s, node, err);
    if (st != BN_OK) {
        settings_free(s);
        return st;
    }
    *out = s;
    return BN_OK;
}

/* ---- the mapping's view of a record -------------------------------------------- */

static void json_where(void *ud, size_t src, char *buf, size_t size)
{
    const jrec_t *r = ud;
    snprintf(buf, size, "%s%.60s", r->prefix, src == SIZE_MAX ? "" : r->cfg->paths[src].text);
}

/* A scalar as text into *out; number text goes to slot (32 bytes). False for objects. */
static bool scalar(const json_t *v, char *slot, bn_mapping_value_t *out)
{
    *out = (bn_mapping_value_t){0};
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->s = json_string_value(v);
        out->len = json_string_length(v);
        return true;
    case JSON_INTEGER:
        out->len = (size_t)snprintf(slot, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        out->s = slot;
        return true;
    case JSON_REAL:
        out->len = (size_t)snprintf(slot, 32, "%.17g", json_real_value(v));
        out->s = slot;
        return true;
    case JSON_TRUE:
    case JSON_FALSE:
        out->s = json_is_true(v) ? "true" : "false";
        out->len = strlen(out->s);
        return true;
    case JSON_NULL:
        return true;
    default:
        return false;
    }
}

static bn_status_t json_lookup(void *ud, size_t src, bn_mapping_value_t *out, bn_error_t *err)
{
    jrec_t *r = ud;
    const json_t *v = path_eval(&r->cfg->paths[src], r->record);
    char where[192];
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n > r->cap_items) {
        bn_mapping_value_t *items = realloc(r->items, n * sizeof *items);
        char *text = realloc(r->text, n * 32);
        if (items)
            r->items = items;
        if (text)
            r->text = text;
        if (!items || !text)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        r->cap_items = n;
    }
    *out = (bn_mapping_value_t){0};
    if (!v)
        return BN_OK;
    if (!json_is_array(v)) {
        if (scalar(v, r->text, out))
            return BN_OK;
        json_where(ud, src, where, sizeof where);
        return bn_error_set(err, BN_INVALID_EVENT, 0, where, "expected a value, got an object");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        if (json_is_array(item)) {
            r->items[i] =
                (bn_mapping_value_t){.items = r->items}; /* nested: refused by the mapping */
        } else if (!scalar(item, r->text + i * 32, &r->items[i])) {
            json_where(ud, src, where, sizeof where);
            snprintf(where + strlen(where), sizeof where - strlen(where), "[%zu]", i);
            return bn_error_set(err, BN_INVALID_EVENT, 0, where, "expected a value, got an object");
        }
    }
    out->items = r->items;
    out->n = n;
    return BN_OK;
}

/* ---- translate ------------------------------------------------------------------- */

static bn_status_t depth_scan(const uint8_t *d, size_t len, bn_error_t *err)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = d[i];
        if (in_str) {
            in_str = esc || c != '"';
            esc = !esc && c == '\\';
        } else if (c == '"') {
            in_str = true;
        } else if ((c == '[' || c == '{') && ++depth > MAX_DEPTH) {
            char where[48];
            snprintf(where, sizeof where, "byte %zu", i + 1);
            return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "JSON nested deeper than %d levels",
                                MAX_DEPTH);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return BN_OK;
}

static bn_status_t one_record(jrec_t *r, const json_t *rec, bn_event_list_t *out, bn_error_t *err)
{
    if (!json_is_object(rec))
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, r->prefix, "a record must be a JSON object");
    r->record = rec;
    const bn_mapping_reader_t rd = {.ud = r, .lookup = json_lookup, .where = json_where};
    Benang__V1__Event *ev = NULL;
    bn_status_t st = bn_mapping_apply(r->cfg->map, &rd, &ev, err);
    if (st == BN_OK && bn_event_list_push(out, &ev) != BN_OK) {
        protobuf_c_message_free_unpacked(&ev->base, NULL);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    return st;
}

static bn_status_t records(jrec_t *r, const bn_adapter_ctx_t *ctx, const json_t *doc,
                           bn_event_list_t *out, bn_error_t *err)
{
    const json_settings_t *cfg = r->cfg;
    const char *base = cfg->has_records ? cfg->records.text : "";
    const json_t *recs = cfg->has_records ? path_eval(&cfg->records, doc) : doc;
    if (!json_is_array(recs)) {
        snprintf(r->prefix, sizeof r->prefix, "$%.80s", base);
        if (!json_is_object(recs))
            return bn_error_set(err, BN_BAD_PAYLOAD, 0, r->prefix,
                                "expected an array of records or one record object");
        return one_record(r, recs, out, err);
    }
    size_t n = json_array_size(recs);
    if (ctx->max_events && n > ctx->max_events)
        return bn_error_set(err, BN_TOO_LARGE, 0, "payload", "%zu records; at most %zu allowed", n,
                            ctx->max_events);
    for (size_t i = 0; i < n; i++) {
        snprintf(r->prefix, sizeof r->prefix, "$%.70s[%zu]", base, i);
        bn_status_t st = one_record(r, json_array_get(recs, i), out, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static bn_status_t json_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                  bn_event_list_t *out, bn_error_t *err)
{
    const json_settings_t *cfg = ctx ? ctx->settings : NULL;
    if (!cfg)
        return bn_error_set(err, BN_CONFIG, 0, "settings",
                            "the json adapter needs settings: json:");
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        data += 3, len -= 3;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i == len)
        return BN_OK; /* nothing at all: zero events, the caller decides */
    bn_status_t st = depth_scan(data, len, err);
    if (st != BN_OK)
        return st;
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        char where[48];
        snprintf(where, sizeof where, "line %d, column %d", je.line, je.column);
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "invalid JSON: %s", je.text);
    }
    jrec_t r = {.cfg = cfg};
    st = records(&r, ctx, doc, out, err);
    free(r.items);
    free(r.text);
    json_decref(doc);
    return st;
}

const bn_adapter_ops_t bn_adapter_json = {
    .name = "json",
    .summary = "any agency JSON, records and fields mapped in settings (docs/mapping.md)",
    .settings_new = settings_new,
    .settings_free = settings_free,
    .translate = json_translate,
};
