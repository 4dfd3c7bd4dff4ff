/* config.c: hub.yaml -> bn_config_t, every key checked against a table.
 *
 * libyaml composes the whole file into a yaml_document_t (nodes keep their
 * start marks), then one generic loader walks a mapping node against a table
 * of rows (name, type, offset, default, bounds, allowed values, validator):
 * the same loader fills the `hub:` and `endpoints:` sections of bn_config_t
 * and each entry of the `agencies:` sequence. Defaults are written before the
 * walk; a key seen twice, a key not in the table, a value of the wrong type or
 * out of bounds stops the load with where = "file:line:col" (1-based) and a
 * message that starts with the key's path. The config owns every string in it;
 * bn_config_destroy() frees a half-built one too, so every failure is one
 * `goto fail`. No logging, no globals.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "linkage.h"

#define MAX_ROWS 16          /* rows per table; seen[] is sized by it */
#define MAX_FILE (16u << 20) /* a hub.yaml larger than this is a mistake */
#define GOT_MAX 64           /* how much of a bad value is echoed */

/* T_NODE: a mapping kept as a bn_node_t tree for a module that knows its keys (adapters). */
/* T_FRACTION: a double in [min, max] permille, written as 0.92. */
typedef enum { T_STRING, T_ENUM, T_U32, T_U64, T_BOOL, T_LIST, T_NODE, T_FRACTION } row_type_t;

/* Returns NULL when s is acceptable, else what is wrong ("must match ..."). */
typedef const char *(*check_fn)(const char *s);

typedef struct {
    const char *name;
    row_type_t type;
    size_t off;                 /* into the struct being filled */
    size_t off_n;               /* T_LIST: offset of the size_t count */
    const char *def;            /* T_STRING default (NULL: none) */
    uint64_t def_num;           /* T_U32/T_U64/T_BOOL value, T_ENUM index */
    uint64_t min, max;          /* numbers: value; T_STRING: length; T_LIST: items */
    const char *const *allowed; /* T_STRING/T_ENUM: NULL-terminated */
    check_fn check;             /* T_STRING and T_LIST items, may be NULL */
    bool required;
} row_t;

typedef struct {
    const char *name; /* file name or the caller's name, for where */
    const char *text; /* the input, to place reader errors */
    yaml_document_t *doc;
    bn_error_t *err;
    bool nested; /* reading an agency file named by hub.yaml */
} ctx_t;

_Static_assert(sizeof(bn_durability_t) == sizeof(int), "enum rows store an int");

/* ---- validators ------------------------------------------------------------ */

static bool in_set(char c, const char *extra)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr(extra, c));
}

static const char *check_agency_id(const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 63 && in_set(s[0], "");
    for (size_t i = 1; ok && i < n; i++)
        ok = in_set(s[i], "-");
    return ok ? NULL : "must match [a-z0-9][a-z0-9-]{0,62}";
}

/* 1..32 characters of [a-z0-9] and extra. */
static bool short_token(const char *s, const char *extra)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = in_set(s[i], extra);
    return ok;
}

static const char *check_sector(const char *s)
{
    return short_token(s, "_-") ? NULL : "must match [a-z0-9_-]{1,32}";
}

static const char *check_kind(const char *s)
{
    return short_token(s, "_") ? NULL : "must match [a-z0-9_]{1,32}";
}

static const char *check_endpoint(const char *s)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(s, schemes[i], n) == 0 && s[n] != '\0')
            return NULL;
    }
    return "must start with tcp://, ipc:// or inproc://";
}

/* ---- the tables -------------------------------------------------------------- */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const durabilities[] = {"sync", "buffered", NULL}; /* = bn_durability_t */

#define CFG(f) offsetof(bn_config_t, f)
#define AG(f) offsetof(bn_agency_conf_t, f)

static const row_t hub_rows[] = {
    {"id", T_STRING, CFG(hub_id), 0, "benang", 0, 1, 128, NULL, NULL, false},
    {"data_dir", T_STRING, CFG(data_dir), 0, "./data", 0, 1, 4000, NULL, NULL, false},
    {"log_level", T_STRING, CFG(log_level), 0, "info", 0, 1, 16, log_levels, NULL, false},
    {"durability", T_ENUM, CFG(durability), 0, NULL, BN_DURABILITY_SYNC, 0, 0, durabilities, NULL,
     false},
    {"sync_interval_ms", T_U32, CFG(sync_interval_ms), 0, NULL, 200, 1, 60000, NULL, NULL, false},
    {"max_payload_bytes", T_U64, CFG(max_payload_bytes), 0, NULL, 1048576, 1, 67108864, NULL, NULL,
     false},
    {"max_batch_events", T_U32, CFG(max_batch_events), 0, NULL, 4096, 1, 100000, NULL, NULL, false},
    {"max_events_per_request", T_U32, CFG(max_events_per_request), 0, NULL, 10000, 1, 1000000, NULL,
     NULL, false},
    {"map_size_mb", T_U64, CFG(map_size_mb), 0, NULL, 1024, 1, 1048576, NULL, NULL, false},
    /* NULL default: filled in after the walk from data_dir. */
    {"key_file", T_STRING, CFG(key_file), 0, NULL, 0, 1, 4000, NULL, NULL, false},
    {"store_nik", T_BOOL, CFG(store_nik), 0, NULL, false, 0, 1, NULL, NULL, false},
    {"rejected_max", T_U64, CFG(rejected_max), 0, NULL, 10000, 0, 1000000, NULL, NULL, false},
    {"rule_index_flush", T_U32, CFG(rule_index_flush), 0, NULL, 1000000, 1, 10000000, NULL, NULL,
     false},
    {"rule_index_flush_max", T_U32, CFG(rule_index_flush_max), 0, NULL, 2000000, 1, 50000000, NULL,
     NULL, false},
    {"rule_index_era_events", T_U64, CFG(rule_index_era_events), 0, NULL, 1000000, 1000,
     1000000000000ULL, NULL, NULL, false},
};

static const row_t endpoint_rows[] = {
    {"ingest", T_STRING, CFG(ingest_endpoint), 0, "tcp://127.0.0.1:7701", 0, 1, 1000, NULL,
     check_endpoint, false},
    {"feed", T_STRING, CFG(feed_endpoint), 0, "tcp://127.0.0.1:7702", 0, 1, 1000, NULL,
     check_endpoint, false},
    {"query", T_STRING, CFG(query_endpoint), 0, "tcp://127.0.0.1:7703", 0, 1, 1000, NULL,
     check_endpoint, false},
};

static const row_t agency_rows[] = {
    {"id", T_STRING, AG(id), 0, NULL, 0, 1, 63, NULL, check_agency_id, true},
    /* NULL default: the id, filled in after the walk. */
    {"name", T_STRING, AG(name), 0, NULL, 0, 1, 256, NULL, NULL, false},
    {"sector", T_STRING, AG(sector), 0, NULL, 0, 1, 32, NULL, check_sector, true},
    {"area", T_STRING, AG(area), 0, "", 0, 0, 64, NULL, NULL, false},
    {"adapters", T_LIST, AG(adapters), AG(n_adapters), NULL, 0, 1, 64, NULL, NULL, true},
    /* adapter name -> that adapter's settings; checked by the adapters themselves */
    {"settings", T_NODE, AG(settings), 0, NULL, 0, 0, 0, NULL, NULL, false},
};

#define LK(f) offsetof(bn_config_t, f)
static const row_t linkage_rows[] = {
    {"upper", T_FRACTION, LK(link_upper), 0, NULL, (uint64_t)(BN_LINK_UPPER_DEFAULT * 1000 + 0.5), 0,
     1000, NULL, NULL, false},
    {"lower", T_FRACTION, LK(link_lower), 0, NULL, (uint64_t)(BN_LINK_LOWER_DEFAULT * 1000 + 0.5), 0,
     1000, NULL, NULL, false},
    {"max_block", T_U32, LK(link_max_block), 0, NULL, 2000, 1, 1000000, NULL, NULL, false},
};

#define RU(f) offsetof(bn_rule_conf_t, f)
static const char *const rule_types[] = {"immunisation", "training", "program", "referral", NULL};
static const row_t rule_rows[] = {
    {"id", T_STRING, RU(id), 0, NULL, 0, 1, 63, NULL, check_agency_id, true},
    {"kind", T_STRING, RU(kind), 0, NULL, 0, 1, 32, NULL, check_kind, true},
    {"type", T_STRING, RU(type), 0, NULL, 0, 1, 16, rule_types, NULL, true},
    {"match", T_LIST, RU(match), RU(n_match), NULL, 0, 0, 9, NULL, NULL, false},
    {"within_days", T_U32, RU(within_days), 0, NULL, BN_RULE_UNSET, 0, 3650, NULL, NULL, false},
    {"periods_overlap", T_BOOL, RU(periods_overlap), 0, NULL, false, 0, 1, NULL, NULL, false},
    {"across_agencies", T_BOOL, RU(across_agencies), 0, NULL, false, 0, 1, NULL, NULL, false},
    {"answer_within_hours", T_U32, RU(answer_within_hours), 0, NULL, BN_RULE_UNSET, 1, 8760, NULL,
     NULL, false},
    {"clock_lag_hours", T_U32, RU(clock_lag_hours), 0, NULL, 48, 0, 8760, NULL, NULL, false},
    {"enabled", T_BOOL, RU(enabled), 0, NULL, true, 0, 1, NULL, NULL, false},
};

/* What the shipped defaults are; docs/rules.md explains each. */
const char bn_config_default_rules[] =
    "- id: duplicate-immunisation-dose\n"
    "  kind: duplicate_service\n"
    "  type: immunisation\n"
    "  match: [subject, vaccine, dose]\n"
    "  within_days: 365\n"
    "- id: overlapping-training\n"
    "  kind: overlapping_training\n"
    "  type: training\n"
    "  match: [subject, course_category]\n"
    "  periods_overlap: true\n"
    "- id: overlapping-program\n"
    "  kind: overlapping_program\n"
    "  type: program\n"
    "  match: [sector, target_group, area]\n"
    "  periods_overlap: true\n"
    "  across_agencies: true\n"
    "- id: unanswered-referral\n"
    "  kind: unanswered_referral\n"
    "  type: referral\n"
    "  answer_within_hours: 72\n";

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))
_Static_assert(N_ROWS(hub_rows) <= MAX_ROWS, "hub_rows too long");

/* ---- errors and node helpers --------------------------------------------------- */

static bn_status_t nomem(bn_error_t *err)
{
    return bn_error_set(err, BN_NOMEM, ENOMEM, NULL, "out of memory");
}

static bn_status_t fail_at(const ctx_t *cx, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bn_status_t fail_at(const ctx_t *cx, const yaml_node_t *node, const char *fmt, ...)
{
    char where[sizeof((bn_error_t *)0)->where];
    snprintf(where, sizeof where, "%s:%zu:%zu", cx->name, node->start_mark.line + 1,
             node->start_mark.column + 1);
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(cx->err, BN_CONFIG, 0, where, fmt, ap);
    va_end(ap);
    return BN_CONFIG;
}

static const char *kind_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    default:
        return "a scalar";
    }
}

/* `key:` with nothing after it, `~` or `null`, unquoted. */
static bool is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)node->data.scalar.value;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

/* The text of a scalar node; nulls read as "". */
static bn_status_t scalar(const ctx_t *cx, const yaml_node_t *node, const char *path,
                          const char **out)
{
    if (node->type != YAML_SCALAR_NODE)
        return fail_at(cx, node, "%s: expected a scalar (got %s)", path, kind_name(node));
    const char *s = (const char *)node->data.scalar.value;
    if (strlen(s) != node->data.scalar.length)
        return fail_at(cx, node, "%s: contains a NUL byte", path);
    *out = is_null(node) ? "" : s;
    return BN_OK;
}

static const char *join(const char *const *names, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

static bn_status_t unknown_key(const ctx_t *cx, const yaml_node_t *key, const char *path,
                               const char *name, const row_t *rows, size_t n)
{
    const char *names[MAX_ROWS + 1];
    char list[256];
    for (size_t i = 0; i < n; i++)
        names[i] = rows[i].name;
    names[n] = NULL;
    return fail_at(cx, key, "%s%s%.*s: unknown key; known keys are %s", path, *path ? "." : "",
                   GOT_MAX, name, join(names, list, sizeof list));
}

/* The value of key in a mapping node, or NULL. */
static yaml_node_t *lookup(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* ---- one row --------------------------------------------------------------------- */

static bn_status_t set_string(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                              const char *path, void *base)
{
    const char *s;
    bn_status_t st = scalar(cx, node, path, &s);
    if (st != BN_OK)
        return st;
    size_t n = strlen(s);
    if (n < row->min)
        return fail_at(cx, node, "%s: must not be empty", path);
    if (n > row->max)
        return fail_at(cx, node, "%s: longer than %llu characters", path,
                       (unsigned long long)row->max);
    if (row->allowed) {
        size_t i = 0;
        while (row->allowed[i] && strcmp(row->allowed[i], s) != 0)
            i++;
        char list[128];
        if (!row->allowed[i])
            return fail_at(cx, node, "%s: must be one of %s (got \"%.*s\")", path,
                           join(row->allowed, list, sizeof list), GOT_MAX, s);
    }
    const char *why = row->check ? row->check(s) : NULL;
    if (why)
        return fail_at(cx, node, "%s: %s (got \"%.*s\")", path, why, GOT_MAX, s);
    char *copy = strdup(s);
    if (!copy)
        return nomem(cx->err);
    char **slot = (char **)((char *)base + row->off);
    free(*slot);
    *slot = copy;
    return BN_OK;
}

static bn_status_t set_enum(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                            const char *path, void *base)
{
    const char *s;
    bn_status_t st = scalar(cx, node, path, &s);
    if (st != BN_OK)
        return st;
    for (int i = 0; row->allowed[i]; i++) {
        if (strcmp(row->allowed[i], s) == 0) {
            memcpy((char *)base + row->off, &i, sizeof i);
            return BN_OK;
        }
    }
    char list[128];
    return fail_at(cx, node, "%s: must be one of %s (got \"%.*s\")", path,
                   join(row->allowed, list, sizeof list), GOT_MAX, s);
}

static bn_status_t set_number(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                              const char *path, void *base)
{
    const char *s;
    bn_status_t st = scalar(cx, node, path, &s);
    if (st != BN_OK)
        return st;
    const char *d = s[0] == '-' ? s + 1 : s;
    bool digits = *d != '\0';
    for (const char *p = d; digits && *p; p++)
        digits = *p >= '0' && *p <= '9';
    if (!digits)
        return fail_at(cx, node, "%s: must be a whole number (got \"%.*s\")", path, GOT_MAX, s);
    if (d != s)
        return fail_at(cx, node, "%s: must not be negative (got \"%.*s\")", path, GOT_MAX, s);
    uint64_t v = 0;
    bool overflow = false;
    for (const char *p = s; *p && !overflow; p++) {
        unsigned digit = (unsigned)(*p - '0');
        overflow = v > (UINT64_MAX - digit) / 10;
        v = v * 10 + digit;
    }
    if (overflow || v < row->min || v > row->max)
        return fail_at(cx, node, "%s: must be between %llu and %llu (got \"%.*s\")", path,
                       (unsigned long long)row->min, (unsigned long long)row->max, GOT_MAX, s);
    if (row->type == T_U32) {
        uint32_t v32 = (uint32_t)v;
        memcpy((char *)base + row->off, &v32, sizeof v32);
    } else {
        memcpy((char *)base + row->off, &v, sizeof v);
    }
    return BN_OK;
}

static bn_status_t set_bool(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                            const char *path, void *base)
{
    const char *s;
    bn_status_t st = scalar(cx, node, path, &s);
    if (st != BN_OK)
        return st;
    bool v;
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
        v = true;
    else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
        v = false;
    else
        return fail_at(cx, node, "%s: must be true, false, yes or no (got \"%.*s\")", path, GOT_MAX,
                       s);
    memcpy((char *)base + row->off, &v, sizeof v);
    return BN_OK;
}

static bn_status_t set_fraction(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                                const char *path, void *base)
{
    const char *s;
    bn_status_t st = scalar(cx, node, path, &s);
    if (st != BN_OK)
        return st;
    char *end = NULL;
    errno = 0;
    double v = *s ? strtod(s, &end) : 0;
    if (!*s || errno || *end || v != v || v < (double)row->min / 1000 || v > (double)row->max / 1000)
        return fail_at(cx, node, "%s: must be a number from %.3g to %.3g (got \"%.*s\")", path,
                       (double)row->min / 1000, (double)row->max / 1000, GOT_MAX, s);
    memcpy((char *)base + row->off, &v, sizeof v);
    return BN_OK;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i]);
    free(items);
}

/* A sequence of non-empty, distinct scalars. The list is built aside and
 * swapped in whole, so base never holds a half-filled array. */
static bn_status_t set_list(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                            const char *path, void *base)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return fail_at(cx, node, "%s: expected a sequence (got %s)", path, kind_name(node));
    yaml_node_item_t *first = node->data.sequence.items.start;
    size_t n = (size_t)(node->data.sequence.items.top - first);
    if (n < row->min || n > row->max)
        return fail_at(cx, node, "%s: must have %llu to %llu entries (got %zu)", path,
                       (unsigned long long)row->min, (unsigned long long)row->max, n);
    char **items = calloc(n, sizeof *items);
    if (!items)
        return nomem(cx->err);
    bn_status_t st = BN_OK;
    for (size_t i = 0; i < n && st == BN_OK; i++) {
        const yaml_node_t *item = yaml_document_get_node(cx->doc, first[i]);
        char ipath[256];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        const char *s;
        if ((st = scalar(cx, item, ipath, &s)) != BN_OK)
            break;
        const char *why = !*s ? "must not be empty" : row->check ? row->check(s) : NULL;
        for (size_t j = 0; !why && j < i; j++)
            why = strcmp(items[j], s) == 0 ? "listed twice" : NULL;
        if (why)
            st = fail_at(cx, item, "%s: %s (got \"%.*s\")", ipath, why, GOT_MAX, s);
        else if (!(items[i] = strdup(s)))
            st = nomem(cx->err);
    }
    if (st != BN_OK) {
        free_list(items, n);
        return st;
    }
    char ***slot = (char ***)((char *)base + row->off);
    size_t *count = (size_t *)((char *)base + row->off_n);
    free_list(*slot, *count);
    *slot = items;
    *count = n;
    return BN_OK;
}

/* Copy a libyaml node and everything below it into a bn_node_t tree. */
static bn_status_t copy_node(const ctx_t *cx, const yaml_node_t *y, int depth, bn_node_t **out)
{
    *out = NULL;
    if (depth > 32)
        return fail_at(cx, y, "settings nested deeper than 32 levels");
    bn_node_kind_t kind = y->type == YAML_MAPPING_NODE    ? BN_NODE_MAP
                          : y->type == YAML_SEQUENCE_NODE ? BN_NODE_SEQ
                                                          : BN_NODE_SCALAR;
    bn_node_t *n = bn_node_new(kind, cx->name, (unsigned)y->start_mark.line + 1,
                               (unsigned)y->start_mark.column + 1);
    if (!n)
        return nomem(cx->err);
    bn_status_t st = BN_OK;
    if (kind == BN_NODE_SCALAR) {
        if (!(n->scalar = strndup((const char *)y->data.scalar.value, y->data.scalar.length)))
            st = nomem(cx->err);
    } else if (kind == BN_NODE_SEQ) {
        for (yaml_node_item_t *i = y->data.sequence.items.start;
             st == BN_OK && i < y->data.sequence.items.top; i++) {
            bn_node_t *child = NULL;
            st = copy_node(cx, yaml_document_get_node(cx->doc, *i), depth + 1, &child);
            if (st == BN_OK && !bn_node_add(n, NULL, &child))
                st = nomem(cx->err);
            bn_node_destroy(&child);
        }
    } else {
        for (yaml_node_pair_t *p = y->data.mapping.pairs.start;
             st == BN_OK && p < y->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
            if (k->type != YAML_SCALAR_NODE) {
                bn_node_destroy(&n);
                return fail_at(cx, k, "keys must be plain names");
            }
            const char *key = (const char *)k->data.scalar.value;
            if (bn_node_get(n, key)) {
                bn_node_destroy(&n);
                return fail_at(cx, k, "%.*s: duplicate key", GOT_MAX, key);
            }
            bn_node_t *child = NULL;
            st = copy_node(cx, yaml_document_get_node(cx->doc, p->value), depth + 1, &child);
            if (st == BN_OK && !bn_node_add(n, key, &child))
                st = nomem(cx->err);
            bn_node_destroy(&child);
        }
    }
    if (st != BN_OK)
        bn_node_destroy(&n);
    *out = n;
    return st;
}

static bn_status_t set_node(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                            const char *path, void *base)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail_at(cx, node, "%s: expected a mapping (got %s)", path, kind_name(node));
    bn_node_t **slot = (bn_node_t **)((char *)base + row->off);
    bn_node_destroy(slot);
    return copy_node(cx, node, 0, slot);
}

static bn_status_t set_row(const ctx_t *cx, const row_t *row, const yaml_node_t *node,
                           const char *path, void *base)
{
    switch (row->type) {
    case T_STRING:
        return set_string(cx, row, node, path, base);
    case T_ENUM:
        return set_enum(cx, row, node, path, base);
    case T_U32:
    case T_U64:
        return set_number(cx, row, node, path, base);
    case T_BOOL:
        return set_bool(cx, row, node, path, base);
    case T_LIST:
        return set_list(cx, row, node, path, base);
    case T_NODE:
        return set_node(cx, row, node, path, base);
    case T_FRACTION:
        return set_fraction(cx, row, node, path, base);
    }
    return bn_error_set(cx->err, BN_INTERNAL, 0, NULL, "bad config row type");
}

/* ---- the generic loader ------------------------------------------------------------ */

static bn_status_t apply_defaults(const row_t *rows, size_t n, void *base, bn_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        void *field = (char *)base + r->off;
        if (r->type == T_STRING && r->def) {
            char *copy = strdup(r->def);
            if (!copy)
                return nomem(err);
            free(*(char **)field);
            *(char **)field = copy;
        } else if (r->type == T_ENUM) {
            int v = (int)r->def_num;
            memcpy(field, &v, sizeof v);
        } else if (r->type == T_U32) {
            uint32_t v = (uint32_t)r->def_num;
            memcpy(field, &v, sizeof v);
        } else if (r->type == T_U64) {
            memcpy(field, &r->def_num, sizeof r->def_num);
        } else if (r->type == T_BOOL) {
            bool v = r->def_num != 0;
            memcpy(field, &v, sizeof v);
        } else if (r->type == T_FRACTION) {
            double v = (double)r->def_num / 1000;
            memcpy(field, &v, sizeof v);
        }
    }
    return BN_OK;
}

static void free_rows(const row_t *rows, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        char **field = (char **)((char *)base + rows[i].off);
        if (rows[i].type == T_STRING)
            free(*field);
        else if (rows[i].type == T_LIST)
            free_list((char **)*field, *(size_t *)((char *)base + rows[i].off_n));
        else if (rows[i].type == T_NODE)
            bn_node_destroy((bn_node_t **)field);
    }
}

/* Walk a mapping node (a null node reads as an empty mapping) into base. */
static bn_status_t load_mapping(const ctx_t *cx, const yaml_node_t *map, const char *path,
                                const row_t *rows, size_t n_rows, void *base)
{
    bool seen[MAX_ROWS] = {false};
    if (is_null(map))
        goto required;
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(cx, map, "%s: expected a mapping (got %s)", path, kind_name(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(cx, k, "%s: keys must be plain names (got %s)", path, kind_name(k));
        const char *name = (const char *)k->data.scalar.value;
        size_t i = 0;
        while (i < n_rows && strcmp(rows[i].name, name) != 0)
            i++;
        if (i == n_rows)
            return unknown_key(cx, k, path, name, rows, n_rows);
        char full[192];
        snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", name);
        if (seen[i])
            return fail_at(cx, k, "%s: duplicate key", full);
        seen[i] = true;
        bn_status_t st = set_row(cx, &rows[i], v, full, base);
        if (st != BN_OK)
            return st;
    }
required:
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].required && !seen[i])
            return fail_at(cx, map, "%s: missing key %s", path, rows[i].name);
    }
    return BN_OK;
}

/* ---- sections ------------------------------------------------------------------------ */

static bn_status_t load_hub(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c)
{
    return load_mapping(cx, node, "hub", hub_rows, N_ROWS(hub_rows), c);
}

static bn_status_t load_endpoints(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c)
{
    return load_mapping(cx, node, "endpoints", endpoint_rows, N_ROWS(endpoint_rows), c);
}

static bn_status_t read_file(const char *path, char **out, size_t *out_len, bn_error_t *err);
static bn_status_t parse(ctx_t *cx, size_t len, yaml_document_t *doc);
static bn_status_t load_agency(const ctx_t *cx, const yaml_node_t *node, size_t i, bn_config_t *c);

/* "- file: agencies/sdn-01.yaml": the agency's mapping lives in its own file,
 * relative to the file that names it. Its name is kept in c->sources, since
 * the agency's settings nodes point at it for their error places. */
static bn_status_t load_agency_file(const ctx_t *cx, const yaml_node_t *val, size_t i,
                                    bn_config_t *c)
{
    if (val->type != YAML_SCALAR_NODE || val->data.scalar.length == 0)
        return fail_at(cx, val, "agencies[%zu].file: expected a file name", i);
    const char *rel = (const char *)val->data.scalar.value;
    const char *slash = strrchr(cx->name, '/');
    int dir_len = rel[0] == '/' || !slash ? 0 : (int)(slash - cx->name + 1);
    char *path = NULL;
    if (asprintf(&path, "%.*s%s", dir_len, cx->name, rel) < 0)
        return nomem(cx->err);
    char **grown = realloc(c->sources, (c->n_sources + 1) * sizeof *grown);
    if (!grown) {
        free(path);
        return nomem(cx->err);
    }
    c->sources = grown;
    c->sources[c->n_sources++] = path;
    ctx_t sub = {.name = path, .err = cx->err, .nested = true};
    char *text = NULL;
    size_t len = 0;
    bn_status_t st = read_file(path, &text, &len, cx->err);
    if (st != BN_OK) {
        char where[sizeof cx->err->where];
        snprintf(where, sizeof where, "%s:%zu:%zu", cx->name, val->start_mark.line + 1,
                 val->start_mark.column + 1);
        return bn_error_set(cx->err, BN_CONFIG, errno, where, "agencies[%zu].file: cannot read %s",
                            i, path);
    }
    sub.text = text;
    yaml_document_t doc;
    st = parse(&sub, len, &doc);
    if (st == BN_OK)
        st = load_agency(&sub, yaml_document_get_root_node(&doc), i, c);
    yaml_document_delete(&doc);
    free(text);
    return st;
}

static bn_status_t load_agency(const ctx_t *cx, const yaml_node_t *node, size_t i, bn_config_t *c)
{
    const yaml_node_t *file = node->type == YAML_MAPPING_NODE &&
                                      node->data.mapping.pairs.top -
                                              node->data.mapping.pairs.start ==
                                          1
                                  ? lookup(cx->doc, node, "file")
                                  : NULL;
    if (file && cx->nested)
        return fail_at(cx, node, "an agency file cannot name another file");
    if (file)
        return load_agency_file(cx, file, i, c);
    bn_agency_conf_t *a = &c->agencies[i];
    char path[32];
    snprintf(path, sizeof path, "agencies[%zu]", i);
    bn_status_t st = apply_defaults(agency_rows, N_ROWS(agency_rows), a, cx->err);
    if (st == BN_OK)
        st = load_mapping(cx, node, path, agency_rows, N_ROWS(agency_rows), a);
    if (st != BN_OK)
        return st;
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->agencies[j].id, a->id) == 0)
            return fail_at(cx, lookup(cx->doc, node, "id"), "%s.id: duplicate agency id \"%s\"",
                           path, a->id);
    }
    if (!a->name && !(a->name = strdup(a->id)))
        return nomem(cx->err);
    return BN_OK;
}

static bn_status_t load_agencies(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c)
{
    if (!is_null(node) && node->type != YAML_SEQUENCE_NODE)
        return fail_at(cx, node, "agencies: expected a sequence of agencies (got %s)",
                       kind_name(node));
    size_t n = is_null(node)
                   ? 0
                   : (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n == 0)
        return fail_at(cx, node, "agencies: at least one agency is required");
    c->agencies = calloc(n, sizeof *c->agencies);
    if (!c->agencies)
        return nomem(cx->err);
    c->n_agencies = n;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item =
            yaml_document_get_node(cx->doc, node->data.sequence.items.start[i]);
        bn_status_t st = load_agency(cx, item, i, c);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static bn_status_t load_linkage(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c)
{
    bn_status_t st = load_mapping(cx, node, "linkage", linkage_rows, N_ROWS(linkage_rows), c);
    if (st == BN_OK && c->link_lower > c->link_upper)
        return fail_at(cx, node, "linkage.lower: must not be above linkage.upper (%.3g > %.3g)",
                       c->link_lower, c->link_upper);
    return st;
}

/* Field names of rule.match, with the event types each applies to. */
static const struct {
    const char *name;
    uint32_t bit;
    const char *types; /* space-separated */
} rule_fields[] = {
    {"subject", BN_RULE_F_SUBJECT, "immunisation training referral"},
    {"vaccine", BN_RULE_F_VACCINE, "immunisation"},
    {"dose", BN_RULE_F_DOSE, "immunisation"},
    {"course_category", BN_RULE_F_COURSE_CATEGORY, "training"},
    {"course", BN_RULE_F_COURSE, "training"},
    {"provider", BN_RULE_F_PROVIDER, "training"},
    {"sector", BN_RULE_F_SECTOR, "immunisation training program"},
    {"target_group", BN_RULE_F_TARGET_GROUP, "program"},
    {"area", BN_RULE_F_AREA, "immunisation training program"},
};

static bool word_in(const char *word, const char *list)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* The checks across keys of one rule, after its mapping loaded. */
static bn_status_t check_rule(const ctx_t *cx, const yaml_node_t *node, const char *path,
                              bn_rule_conf_t *r)
{
    const yaml_node_t *m = lookup(cx->doc, node, "match");
    for (size_t i = 0; i < r->n_match; i++) {
        size_t f = 0;
        while (f < N_ROWS(rule_fields) && strcmp(rule_fields[f].name, r->match[i]) != 0)
            f++;
        const yaml_node_t *at =
            m && m->type == YAML_SEQUENCE_NODE
                ? yaml_document_get_node(cx->doc, m->data.sequence.items.start[i])
                : node;
        if (f == N_ROWS(rule_fields))
            return fail_at(cx, at,
                           "%s.match[%zu]: unknown field \"%.*s\"; known fields are subject, "
                           "vaccine, dose, course_category, course, provider, sector, "
                           "target_group, area",
                           path, i, GOT_MAX, r->match[i]);
        if (!word_in(r->type, rule_fields[f].types))
            return fail_at(cx, at, "%s.match[%zu]: %s events have no field \"%s\" (it applies to %s)",
                           path, i, r->type, r->match[i], rule_fields[f].types);
        r->match_bits |= rule_fields[f].bit;
    }
    bool referral = strcmp(r->type, "referral") == 0;
    if (referral) {
        if (r->answer_within_hours == BN_RULE_UNSET)
            return fail_at(cx, node, "%s: a referral rule needs answer_within_hours", path);
        if (r->n_match || r->periods_overlap || r->within_days != BN_RULE_UNSET ||
            r->across_agencies)
            return fail_at(cx, node,
                           "%s: a referral rule takes only answer_within_hours and "
                           "clock_lag_hours (not match, within_days, periods_overlap, "
                           "across_agencies)",
                           path);
        return BN_OK;
    }
    if (r->answer_within_hours != BN_RULE_UNSET)
        return fail_at(cx, node, "%s.answer_within_hours: only for referral rules", path);
    if (r->n_match == 0)
        return fail_at(cx, node, "%s: match: list the fields that must be equal", path);
    if ((r->within_days != BN_RULE_UNSET) == r->periods_overlap)
        return fail_at(cx, node,
                       "%s: give exactly one time relation: within_days: N or "
                       "periods_overlap: true",
                       path);
    if (r->periods_overlap && strcmp(r->type, "immunisation") == 0)
        return fail_at(cx, node,
                       "%s.periods_overlap: immunisations have a date, not a period; use "
                       "within_days",
                       path);
    if (r->within_days != BN_RULE_UNSET && strcmp(r->type, "immunisation") != 0)
        return fail_at(cx, node, "%s.within_days: %s events have periods; use periods_overlap",
                       path, r->type);
    return BN_OK;
}

static bn_status_t load_rule_list(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c)
{
    if (!is_null(node) && node->type != YAML_SEQUENCE_NODE)
        return fail_at(cx, node, "rules: expected a sequence of rules (got %s)", kind_name(node));
    size_t n = is_null(node)
                   ? 0
                   : (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > 64)
        return fail_at(cx, node, "rules: at most 64 rules (got %zu)", n);
    c->rules = calloc(n ? n : 1, sizeof *c->rules);
    if (!c->rules)
        return nomem(cx->err);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item =
            yaml_document_get_node(cx->doc, node->data.sequence.items.start[i]);
        bn_rule_conf_t *r = &c->rules[i];
        c->n_rules = i + 1;
        char path[32];
        snprintf(path, sizeof path, "rules[%zu]", i);
        bn_status_t st = apply_defaults(rule_rows, N_ROWS(rule_rows), r, cx->err);
        if (st == BN_OK)
            st = load_mapping(cx, item, path, rule_rows, N_ROWS(rule_rows), r);
        if (st == BN_OK)
            st = check_rule(cx, item, path, r);
        for (size_t j = 0; st == BN_OK && j < i; j++)
            if (strcmp(c->rules[j].id, r->id) == 0)
                st = fail_at(cx, item, "%s.id: duplicate rule id \"%s\"", path, r->id);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static bn_status_t load_rules(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c)
{
    c->rules_default = false;
    return load_rule_list(cx, node, c);
}

/* No rules: section: the shipped defaults, read by the same loader. */
static bn_status_t default_rules(bn_config_t *c, bn_error_t *err)
{
    ctx_t cx = {.name = "<default rules>", .text = bn_config_default_rules, .err = err};
    yaml_document_t doc;
    bn_status_t st = parse(&cx, strlen(bn_config_default_rules), &doc);
    if (st == BN_OK)
        st = load_rule_list(&cx, yaml_document_get_root_node(&doc), c);
    yaml_document_delete(&doc);
    c->rules_default = true;
    return st;
}

typedef struct {
    const char *name;
    bn_status_t (*load)(const ctx_t *cx, const yaml_node_t *node, bn_config_t *c);
} section_t;

static const section_t sections[] = {
    {"hub", load_hub},           {"endpoints", load_endpoints}, {"agencies", load_agencies},
    {"linkage", load_linkage},   {"rules", load_rules},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static bn_status_t load_root(const ctx_t *cx, const yaml_node_t *root, bn_config_t *c)
{
    bool seen[N_SECTIONS] = {false};
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(cx, root,
                       "expected a mapping with the keys hub, endpoints, agencies (got %s)",
                       kind_name(root));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(cx, k, "keys must be plain names (got %s)", kind_name(k));
        const char *name = (const char *)k->data.scalar.value;
        size_t i = 0;
        while (i < N_SECTIONS && strcmp(sections[i].name, name) != 0)
            i++;
        if (i == N_SECTIONS)
            return fail_at(cx, k,
                           "%.*s: unknown key; known keys are hub, endpoints, agencies, linkage, "
                           "rules",
                           GOT_MAX, name);
        if (seen[i])
            return fail_at(cx, k, "%s: duplicate key", name);
        seen[i] = true;
        bn_status_t st = sections[i].load(cx, yaml_document_get_node(cx->doc, p->value), c);
        if (st != BN_OK)
            return st;
    }
    if (!seen[2])
        return fail_at(cx, root, "agencies: missing; at least one agency is required");
    return seen[4] ? BN_OK : default_rules(c, cx->err);
}

/* ---- parsing ----------------------------------------------------------------------------- */

static bn_status_t yaml_fail(const ctx_t *cx, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(cx->err);
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) { /* only an offset: count lines up to it */
        m.line = m.column = 0;
        for (size_t i = 0; i < p->problem_offset && cx->text[i]; i++) {
            m.column = cx->text[i] == '\n' ? 0 : m.column + 1;
            m.line += cx->text[i] == '\n';
        }
    }
    char where[sizeof((bn_error_t *)0)->where];
    snprintf(where, sizeof where, "%s:%zu:%zu", cx->name, m.line + 1, m.column + 1);
    if (p->context)
        return bn_error_set(cx->err, BN_CONFIG, (int)p->error, where,
                            "YAML syntax: %s %s (line %zu, column %zu)",
                            p->problem ? p->problem : "error", p->context, p->context_mark.line + 1,
                            p->context_mark.column + 1);
    return bn_error_set(cx->err, BN_CONFIG, (int)p->error, where, "YAML syntax: %s",
                        p->problem ? p->problem : "error");
}

/* Compose text into doc; exactly one non-empty document is accepted. */
static bn_status_t parse(ctx_t *cx, size_t len, yaml_document_t *doc)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    bn_status_t st = BN_OK;
    if (!yaml_parser_initialize(&parser))
        return nomem(cx->err);
    yaml_parser_set_input_string(&parser, (const unsigned char *)cx->text, len);
    if (!yaml_parser_load(&parser, doc)) {
        st = yaml_fail(cx, &parser);
        memset(doc, 0, sizeof *doc);
        goto out;
    }
    cx->doc = doc;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) {
        yaml_mark_t m = doc->start_mark;
        char where[sizeof((bn_error_t *)0)->where];
        snprintf(where, sizeof where, "%s:%zu:%zu", cx->name, m.line + 1, m.column + 1);
        st = bn_error_set(cx->err, BN_CONFIG, 0, where,
                          "empty configuration; expected the keys hub, endpoints, agencies");
        goto out;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        st = yaml_fail(cx, &parser);
        goto out;
    }
    yaml_node_t *second = yaml_document_get_root_node(&extra);
    if (second)
        st = fail_at(cx, second, "only one YAML document is allowed");
    yaml_document_delete(&extra);
out:
    yaml_parser_delete(&parser);
    return st;
}

/* ---- public ------------------------------------------------------------------------------ */

static bn_status_t finish(const ctx_t *cx, bn_config_t *c)
{
    if (c->key_file)
        return BN_OK;
    size_t n = strlen(c->data_dir);
    const char *sep = n > 0 && c->data_dir[n - 1] == '/' ? "" : "/";
    if (asprintf(&c->key_file, "%s%shub.key", c->data_dir, sep) < 0) {
        c->key_file = NULL;
        return nomem(cx->err);
    }
    return BN_OK;
}

bn_status_t bn_config_load_string(bn_config_t **out, const char *name, const char *text, size_t len,
                                  bn_error_t *err)
{
    if (!out || !text)
        return bn_error_set(err, BN_USAGE, 0, NULL, "bn_config_load_string: NULL argument");
    *out = NULL;
    ctx_t cx = {.name = name ? name : "<string>", .text = text, .err = err};
    yaml_document_t doc;
    bn_status_t st = parse(&cx, len, &doc);
    bn_config_t *c = NULL;
    if (st != BN_OK)
        goto fail;
    c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(cx.name))) {
        st = nomem(err);
        goto fail;
    }
    cx.name = c->path; /* settings nodes point at it: it lives as long as the config */
    st = apply_defaults(hub_rows, N_ROWS(hub_rows), c, err);
    if (st == BN_OK)
        st = apply_defaults(endpoint_rows, N_ROWS(endpoint_rows), c, err);
    if (st == BN_OK)
        st = apply_defaults(linkage_rows, N_ROWS(linkage_rows), c, err);
    if (st == BN_OK)
        st = load_root(&cx, yaml_document_get_root_node(&doc), c);
    if (st == BN_OK)
        st = finish(&cx, c);
    if (st != BN_OK)
        goto fail;
    yaml_document_delete(&doc);
    *out = c;
    return BN_OK;
fail:
    yaml_document_delete(&doc);
    bn_config_destroy(&c);
    return st;
}

/* The whole file into a malloc'ed buffer. */
static bn_status_t read_file(const char *path, char **out, size_t *out_len, bn_error_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return bn_error_set(err, BN_IO, errno, path, "cannot open: %s", strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bn_status_t st = BN_OK;
    for (;;) {
        if (len == cap) {
            char *grown = cap >= MAX_FILE ? NULL : realloc(buf, cap ? cap * 2 : 4096);
            if (!grown) {
                st = cap >= MAX_FILE
                         ? bn_error_set(err, BN_CONFIG, 0, path, "larger than %u bytes", MAX_FILE)
                         : nomem(err);
                break;
            }
            buf = grown;
            cap = cap ? cap * 2 : 4096;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = bn_error_set(err, BN_IO, errno, path, "cannot read: %s", strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st != BN_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = len;
    return BN_OK;
}

bn_status_t bn_config_load(bn_config_t **out, const char *path, bn_error_t *err)
{
    if (!out || !path)
        return bn_error_set(err, BN_USAGE, 0, NULL, "bn_config_load: NULL argument");
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    bn_status_t st = read_file(path, &buf, &len, err);
    if (st == BN_OK)
        st = bn_config_load_string(out, path, buf, len, err);
    free(buf);
    return st;
}

void bn_config_destroy(bn_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_config_t *c = *self_p;
    for (size_t i = 0; c->agencies && i < c->n_agencies; i++)
        free_rows(agency_rows, N_ROWS(agency_rows), &c->agencies[i]);
    free(c->agencies);
    for (size_t i = 0; c->rules && i < c->n_rules; i++)
        free_rows(rule_rows, N_ROWS(rule_rows), &c->rules[i]);
    free(c->rules);
    for (size_t i = 0; i < c->n_sources; i++)
        free(c->sources[i]);
    free(c->sources);
    free_rows(hub_rows, N_ROWS(hub_rows), c);
    free_rows(endpoint_rows, N_ROWS(endpoint_rows), c);
    free(c->path);
    free(c);
    *self_p = NULL;
}

const bn_agency_conf_t *bn_config_agency(const bn_config_t *c, const char *id)
{
    for (size_t i = 0; c && id && i < c->n_agencies; i++) {
        if (c->agencies[i].id && strcmp(c->agencies[i].id, id) == 0)
            return &c->agencies[i];
    }
    return NULL;
}

bool bn_agency_allows(const bn_agency_conf_t *a, const char *adapter)
{
    for (size_t i = 0; a && adapter && i < a->n_adapters; i++) {
        if (strcmp(a->adapters[i], adapter) == 0)
            return true;
    }
    return false;
}
