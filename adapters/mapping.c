/* mapping.c: the field-mapping language of the csv and json adapters (see mapping.h,
 * docs/mapping.md).
 *
 * Settings time does all the thinking: each `fields:` entry becomes a
 * field_t holding the chain of protobuf-c field descriptors from Event to
 * the leaf, its source (a numbered source, a constant, or a template of
 * sources), the conversion (map with enum values resolved, date pattern)
 * and its default. Record time then only looks values up, converts and
 * stores them straight into a message laid out as protobuf_c_message_unpack()
 * would (every sub-message, string and array malloc'ed, empty strings left
 * at the descriptor default, the body's oneof case set), so the caller frees
 * it with protobuf_c_message_free_unpacked(). Values under subject.* are
 * personal data and are never echoed in error messages.
 */
#include "mapping.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/utf8.h"
#include "mapping_dates.h"
#include "validate.h"

#define MAX_CHAIN 4
#define ECHO_MAX BN_ECHO_MAX

typedef enum { SRC_ONE, SRC_VALUE, SRC_TEMPLATE } src_kind_t;
typedef enum { FMT_NONE, FMT_PATTERN, FMT_ISO, FMT_EPOCH, FMT_EPOCH_MS } fmt_kind_t;

/* A final value: text for string and integer leaves, number for enum leaves. */
typedef struct {
    char *text;
    size_t len; /* strlen(text), kept: constants are stored for every record */
    int num;
} final_t;

typedef struct {
    char *from;
    final_t to;
} map_entry_t;

typedef struct {
    size_t src; /* SIZE_MAX: lit is literal text */
    char *lit;
    size_t lit_len;
} part_t;

typedef struct {
    char *target; /* "training.participant_status" */
    const ProtobufCFieldDescriptor *chain[MAX_CHAIN];
    unsigned depth;
    bool repeated, personal, required, date_only, is_enum, is_int;
    src_kind_t how;
    size_t src;
    final_t constant;
    part_t *parts;
    size_t n_parts;
    fmt_kind_t fmt;
    char *pattern, *utc_offset;
    map_entry_t *map;
    size_t n_map;
    bool has_default;
    final_t def;
    char *split;
    char enum_prefix[64];
} field_t;

struct bn_mapping {
    const ProtobufCFieldDescriptor *body;
    field_t body_path; /* the body message itself as a target, for container() */
    field_t *fields;
    size_t n_fields;
    char **sources;
    const bn_node_t **source_nodes;
    size_t n_sources;
};

/* ---- small helpers ------------------------------------------------------- */

static bool ieq(const char *a, size_t alen, const char *b)
{
    size_t i = 0;
    for (; i < alen && b[i]; i++) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z')
            x = (char)(x - 32);
        if (y >= 'a' && y <= 'z')
            y = (char)(y - 32);
        if (x != y)
            return false;
    }
    return i == alen && b[i] == '\0';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* s[0..len) fit to quote in a message: cut to ECHO_MAX on a character boundary. */
static const char *echo(const char *s, size_t len, char *buf, size_t size)
{
    return bn_utf8_echo(s, len, buf, size);
}

static bool is_date_field(const char *name, bool *date_only)
{
    size_t n = strlen(name);
    *date_only = strcmp(name, "birth_date") == 0 || (n > 3 && strcmp(name + n - 3, "_on") == 0);
    return *date_only || (n > 3 && strcmp(name + n - 3, "_at") == 0) ||
           strcmp(name, "start") == 0 || strcmp(name, "end") == 0;
}

/* ---- enums --------------------------------------------------------------- */

/* "ParticipantStatus" -> "PARTICIPANT_STATUS_". */
static void enum_prefix(const ProtobufCEnumDescriptor *ed, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = ed->short_name; *p && o + 3 < size; p++) {
        if (*p >= 'A' && *p <= 'Z' && p != ed->short_name)
            out[o++] = '_';
        out[o++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
    }
    out[o++] = '_';
    out[o] = '\0';
}

/* "completed", "dropped-out" or "PARTICIPANT_STATUS_COMPLETED" -> its number. */
static bool enum_find(const ProtobufCEnumDescriptor *ed, const char *prefix, const char *s,
                      size_t len, int *out)
{
    char full[128];
    size_t pl = strlen(prefix), o = 0;
    if (len == 0 || len + pl >= sizeof full)
        return false;
    bool has_prefix = len > pl && ieq(s, pl, prefix);
    if (!has_prefix) {
        memcpy(full, prefix, pl);
        o = pl;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        full[o++] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : (c == '-' || c == ' ') ? '_' : c;
    }
    full[o] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(ed, full);
    if (v)
        *out = v->value;
    return v != NULL;
}

/* "enrolled, attending, ..." : the short names an operator may write. */
static const char *enum_known(const ProtobufCEnumDescriptor *ed, const char *prefix, char *buf,
                              size_t size)
{
    size_t o = 0, pl = strlen(prefix);
    buf[0] = '\0';
    for (unsigned i = 0; i < ed->n_values; i++) {
        const char *n = ed->values[i].name;
        n += strncmp(n, prefix, pl) == 0 ? pl : 0;
        for (size_t k = 0; n[k] && o + 3 < size; k++)
            buf[o++] = (n[k] >= 'A' && n[k] <= 'Z') ? (char)(n[k] + 32) : n[k];
        if (i + 1 < ed->n_values && o + 3 < size)
            buf[o++] = ',', buf[o++] = ' ';
        buf[o] = '\0';
    }
    return buf;
}

/* ---- settings: sources, targets, fields ------------------------------------- */

static bn_status_t nomem(bn_error_t *err)
{
    return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
}

/* The number of the source called name, adding it when new; SIZE_MAX on no memory. */
static size_t add_source(bn_mapping_t *m, const char *name, size_t len, const bn_node_t *node)
{
    for (size_t i = 0; i < m->n_sources; i++)
        if (strlen(m->sources[i]) == len && memcmp(m->sources[i], name, len) == 0)
            return i;
    char **s = realloc(m->sources, (m->n_sources + 1) * sizeof *s);
    if (s)
        m->sources = s;
    const bn_node_t **nodes = realloc(m->source_nodes, (m->n_sources + 1) * sizeof *nodes);
    if (nodes)
        m->source_nodes = nodes;
    char *copy = strndup(name, len);
    if (!s || !nodes || !copy) {
        free(copy);
        return SIZE_MAX;
    }
    m->sources[m->n_sources] = copy;
    m->source_nodes[m->n_sources] = node;
    return m->n_sources++;
}

static const char *field_names(const ProtobufCMessageDescriptor *d, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < d->n_fields && o + 1 < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", d->fields[i].name);
    return buf;
}

static bool hub_owned(const char *target)
{
    static const char *const owned[] = {
        "seq",         "event_id", "agency",         "type",
        "recorded_at", "sector",   "supersedes_seq", "subject.subject_key"};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
        if (strcmp(target, owned[i]) == 0)
            return true;
    return strncmp(target, "alert.", 6) == 0 || strcmp(target, "alert") == 0;
}

/* Resolve f->target into f->chain against Event, checking it against the body type. */
static bn_status_t resolve_target(const bn_mapping_t *m, field_t *f, const bn_node_t *at,
                                  bn_error_t *err)
{
    const ProtobufCMessageDescriptor *d = &benang__v1__event__descriptor;
    char names[300];
    if (hub_owned(f->target))
        return bn_node_error(err, BN_CONFIG, at, "fields: %.64s is set by the hub, not mapped",
                             f->target);
    const char *p = f->target;
    for (f->depth = 0;; f->depth++) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char seg[64];
        snprintf(seg, sizeof seg, "%.*s", (int)(n < 63 ? n : 63), p);
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(d, seg);
        if (!fd || n >= 63)
            return bn_node_error(err, BN_CONFIG, at,
                                 "fields: unknown field \"%s\" in %s (known: %s)", seg, d->name,
                                 field_names(d, names, sizeof names));
        if (f->depth == 0 && (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && fd != m->body)
            return bn_node_error(err, BN_CONFIG, at,
                                 "fields: %.64s is outside the %s body (type: %s)", f->target,
                                 m->body->name, m->body->name);
        if (f->depth + 1 == MAX_CHAIN)
            return bn_node_error(err, BN_CONFIG, at, "fields: %.64s is nested too deep", f->target);
        f->chain[f->depth] = fd;
        if (!dot) {
            f->depth++;
            break;
        }
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED)
            return bn_node_error(err, BN_CONFIG, at, "fields: %s is not a message with fields",
                                 seg);
        d = fd->descriptor;
        p = dot + 1;
    }
    const ProtobufCFieldDescriptor *leaf = f->chain[f->depth - 1];
    f->repeated = leaf->label == PROTOBUF_C_LABEL_REPEATED;
    f->is_enum = leaf->type == PROTOBUF_C_TYPE_ENUM;
    f->is_int = !f->is_enum && leaf->type != PROTOBUF_C_TYPE_STRING;
    if (leaf->type == PROTOBUF_C_TYPE_MESSAGE)
        return bn_node_error(err, BN_CONFIG, at, "fields: %.64s is a message; map its fields (%s)",
                             f->target, field_names(leaf->descriptor, names, sizeof names));
    bool int_ok = leaf->type == PROTOBUF_C_TYPE_UINT32 || leaf->type == PROTOBUF_C_TYPE_UINT64 ||
                  leaf->type == PROTOBUF_C_TYPE_INT32 || leaf->type == PROTOBUF_C_TYPE_INT64;
    if ((f->is_int && !int_ok) || (f->repeated && leaf->type != PROTOBUF_C_TYPE_STRING))
        return bn_node_error(err, BN_CONFIG, at, "fields: %.64s has a type mappings cannot set",
                             f->target);
    if (f->is_enum)
        enum_prefix(leaf->descriptor, f->enum_prefix, sizeof f->enum_prefix);
    is_date_field(leaf->name, &f->date_only);
    f->personal = strncmp(f->target, "subject.", 8) == 0;
    f->required = strcmp(f->target, "source_id") == 0 || strcmp(f->target, "occurred_at") == 0;
    return BN_OK;
}

/* A constant in final form (value:, default:, map values) for field f. */
static bn_status_t make_final(const field_t *f, const bn_node_t *v, final_t *out, bn_error_t *err)
{
    char buf[200];
    if (!v || v->kind != BN_NODE_SCALAR)
        return bn_node_error(err, BN_CONFIG, v, "%s: expected a single value", f->target);
    const char *s = v->scalar;
    size_t len = strlen(s);
    bool date_only;
    if (len == 0)
        return bn_node_error(err, BN_CONFIG, v, "%s: expected a non-empty value", f->target);
    if (f->is_enum) {
        const ProtobufCEnumDescriptor *ed = f->chain[f->depth - 1]->descriptor;
        if (!enum_find(ed, f->enum_prefix, s, len, &out->num))
            return bn_node_error(err, BN_CONFIG, v, "%s: \"%.40s\" is not a %s (known: %s)",
                                 f->target, s, ed->short_name,
                                 enum_known(ed, f->enum_prefix, buf, sizeof buf));
        return BN_OK;
    }
    if (f->is_int) {
        bool ok = len > 0 && len < 20;
        for (size_t i = 0; i < len && ok; i++)
            ok = s[i] >= '0' && s[i] <= '9';
        if (!ok)
            return bn_node_error(err, BN_CONFIG, v, "%s: \"%.40s\" is not a whole number",
                                 f->target, s);
    } else if (is_date_field(f->chain[f->depth - 1]->name, &date_only) &&
               !(date_only ? bn_valid_date(s) : bn_valid_timestamp(s, true))) {
        return bn_node_error(err, BN_CONFIG, v, "%s: \"%.40s\" is not a %s", f->target, s,
                             date_only ? "date YYYY-MM-DD" : "date or RFC 3339 date-time");
    }
    out->text = strdup(s);
    out->len = len;
    return out->text ? BN_OK : nomem(err);
}

/* "{no_induk}-{kode}" into literal and source parts; "{{" and "}}" are braces. */
static bn_status_t parse_template(bn_mapping_t *m, field_t *f, const bn_node_t *v, bn_error_t *err)
{
    const char *s = v->scalar;
    bool any = false;
    while (*s) {
        const char *start = s;
        char lit[256];
        size_t n = 0;
        while (*s && !(*s == '{' && s[1] != '{') && n + 1 < sizeof lit) {
            if (*s == '}' && s[1] != '}')
                return bn_node_error(err, BN_CONFIG, v, "%s: template has a lone '}'", f->target);
            lit[n++] = *s;
            s += (*s == '{' || *s == '}') ? 2 : 1;
        }
        part_t part = {.src = SIZE_MAX};
        if (s != start) {
            part.lit = strndup(lit, n);
            part.lit_len = n;
            if (!part.lit)
                return nomem(err);
        } else {
            const char *close = strchr(++s, '}');
            if (!close || close == s)
                return bn_node_error(err, BN_CONFIG, v, "%s: template has an %s", f->target,
                                     close ? "empty {}" : "unclosed '{'");
            part.src = add_source(m, s, (size_t)(close - s), v);
            if (part.src == SIZE_MAX)
                return nomem(err);
            s = close + 1;
            any = true;
        }
        part_t *parts = realloc(f->parts, (f->n_parts + 1) * sizeof *parts);
        if (!parts) {
            free(part.lit);
            return nomem(err);
        }
        f->parts = parts;
        parts[f->n_parts++] = part;
    }
    if (!any)
        return bn_node_error(err, BN_CONFIG, v,
                             "%s: template names no source; use value:", f->target);
    return BN_OK;
}

static bn_status_t parse_format(field_t *f, const bn_node_t *spec, bn_error_t *err)
{
    const bn_node_t *v = bn_node_get(spec, "format"), *off = bn_node_get(spec, "utc_offset");
    bool date_only, has_time = false;
    if (!v) {
        return off ? bn_node_error(err, BN_CONFIG, off, "%s: utc_offset without format", f->target)
                   : BN_OK;
    }
    if (v->kind != BN_NODE_SCALAR || f->is_enum || f->is_int ||
        !is_date_field(f->chain[f->depth - 1]->name, &date_only))
        return bn_node_error(err, BN_CONFIG, v, "%s: format applies to date fields only",
                             f->target);
    const char *s = v->scalar;
    f->fmt = strcmp(s, "iso8601") == 0    ? FMT_ISO
             : strcmp(s, "epoch") == 0    ? FMT_EPOCH
             : strcmp(s, "epoch_ms") == 0 ? FMT_EPOCH_MS
                                          : FMT_PATTERN;
    if (f->fmt == FMT_PATTERN && !bn_mapping__pattern_ok(s, &has_time))
        return bn_node_error(err, BN_CONFIG, v,
                             "%s: bad date format \"%.40s\": use %%Y %%m %%d (and %%H %%M %%S, "
                             "%%%%), or iso8601, epoch, epoch_ms",
                             f->target, s);
    if (has_time && !date_only && !off)
        return bn_node_error(err, BN_CONFIG, v,
                             "%s: format has a time of day; add utc_offset: \"+07:00\"", f->target);
    if (off) {
        const char *o = off->kind == BN_NODE_SCALAR ? off->scalar : "";
        bool ok = !has_time || date_only ? false
                  : strcmp(o, "Z") == 0
                      ? true
                      : strlen(o) == 6 && (o[0] == '+' || o[0] == '-') && o[3] == ':';
        for (int i = 1; ok && o[0] != 'Z' && i < 6; i++)
            ok = i == 3 || (o[i] >= '0' && o[i] <= '9');
        if (!ok)
            return bn_node_error(err, BN_CONFIG, off,
                                 "%s: utc_offset must be \"Z\" or \"+HH:MM\", with a format "
                                 "that has a time of day",
                                 f->target);
        if (!(f->utc_offset = strdup(o)))
            return nomem(err);
    }
    if (f->fmt == FMT_PATTERN && !(f->pattern = strdup(s)))
        return nomem(err);
    return BN_OK;
}

static bn_status_t parse_map(field_t *f, const bn_node_t *v, bn_error_t *err)
{
    if (v->kind != BN_NODE_MAP || v->n == 0)
        return bn_node_error(err, BN_CONFIG, v, "%s: map: expects source value: target value pairs",
                             f->target);
    if (!(f->map = calloc(v->n, sizeof *f->map)))
        return nomem(err);
    for (size_t i = 0; i < v->n; i++) {
        for (size_t k = 0; k < i; k++)
            if (ieq(v->keys[k], strlen(v->keys[k]), v->keys[i]))
                return bn_node_error(err, BN_CONFIG, v->items[i], "%s: map: \"%.40s\" twice",
                                     f->target, v->keys[i]);
        map_entry_t *e = &f->map[f->n_map];
        if (!(e->from = strdup(v->keys[i])))
            return nomem(err);
        f->n_map++;
        bn_status_t st = make_final(f, v->items[i], &e->to, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static bool key_allowed(const char *key, const char *const *keys)
{
    for (; keys && *keys; keys++)
        if (strcmp(key, *keys) == 0)
            return true;
    return false;
}

/* The source of one field: exactly one of column/path, value, template. */
static bn_status_t parse_source(bn_mapping_t *m, field_t *f, const bn_node_t *spec,
                                const bn_mapping_dialect_t *dl, bn_error_t *err)
{
    const bn_node_t *one = bn_node_get(spec, dl->source_key), *val = bn_node_get(spec, "value"),
                    *tpl = bn_node_get(spec, "template");
    if ((one != NULL) + (val != NULL) + (tpl != NULL) != 1)
        return bn_node_error(err, BN_CONFIG, spec, "%s: give exactly one of %s, value, template",
                             f->target, dl->source_key);
    const bn_node_t *v = one ? one : val ? val : tpl;
    if (v->kind != BN_NODE_SCALAR || (!val && v->scalar[0] == '\0'))
        return bn_node_error(err, BN_CONFIG, v, "%s: expected a non-empty text", f->target);
    if (val) {
        f->how = SRC_VALUE;
        return make_final(f, val, &f->constant, err);
    }
    if (tpl) {
        f->how = SRC_TEMPLATE;
        return parse_template(m, f, tpl, err);
    }
    f->how = SRC_ONE;
    f->src = add_source(m, one->scalar, strlen(one->scalar), one);
    return f->src == SIZE_MAX ? nomem(err) : BN_OK;
}

static bn_status_t parse_field(bn_mapping_t *m, field_t *f, const bn_node_t *spec,
                               const bn_mapping_dialect_t *dl, bn_error_t *err)
{
    const char *const keys[] = {dl->source_key, "value",   "template", "format", "utc_offset",
                                "map",          "default", "split",    NULL};
    bn_status_t st = resolve_target(m, f, spec, err);
    if (st != BN_OK)
        return st;
    if (spec->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, spec, "%s: expected a map such as {%s: ...}",
                             f->target, dl->source_key);
    for (size_t i = 0; i < spec->n; i++)
        if (!key_allowed(spec->keys[i], keys))
            return bn_node_error(err, BN_CONFIG, spec->items[i],
                                 "%s: unknown key \"%.40s\" (known: %s, value, template, format, "
                                 "utc_offset, map, default, split)",
                                 f->target, spec->keys[i], dl->source_key);
    if ((st = parse_source(m, f, spec, dl, err)) != BN_OK || (st = parse_format(f, spec, err)))
        return st;
    const bn_node_t *map = bn_node_get(spec, "map"), *def = bn_node_get(spec, "default"),
                    *split = bn_node_get(spec, "split");
    if ((map || f->fmt != FMT_NONE || def || split) && f->how == SRC_VALUE)
        return bn_node_error(err, BN_CONFIG, spec, "%s: a value: takes no other keys", f->target);
    if (map && f->fmt != FMT_NONE)
        return bn_node_error(err, BN_CONFIG, map, "%s: map and format cannot be combined",
                             f->target);
    if (map && (st = parse_map(f, map, err)) != BN_OK)
        return st;
    if (def) {
        f->has_default = true;
        if ((st = make_final(f, def, &f->def, err)) != BN_OK)
            return st;
    }
    if (split) {
        if (!f->repeated || split->kind != BN_NODE_SCALAR || !split->scalar[0])
            return bn_node_error(err, BN_CONFIG, split,
                                 "%s: split needs a repeated field and a non-empty separator",
                                 f->target);
        if (!(f->split = strdup(split->scalar)))
            return nomem(err);
    }
    return BN_OK;
}

static bn_status_t parse_body(bn_mapping_t *m, const bn_node_t *settings, bn_error_t *err)
{
    const bn_node_t *t = bn_node_get(settings, "type");
    static const char *const bodies[] = {"immunisation", "referral", "training", "program", NULL};
    if (!t || t->kind != BN_NODE_SCALAR || !key_allowed(t->scalar, bodies))
        return bn_node_error(err, BN_CONFIG, t ? t : settings,
                             "type: expected immunisation, referral, training or program");
    m->body =
        protobuf_c_message_descriptor_get_field_by_name(&benang__v1__event__descriptor, t->scalar);
    m->body_path = (field_t){.depth = 2, .chain = {m->body}};
    return m->body ? BN_OK : bn_node_error(err, BN_CONFIG, t, "type: not in this schema");
}

static bn_status_t parse_fields(bn_mapping_t *m, const bn_node_t *fields,
                                const bn_mapping_dialect_t *dl, bn_error_t *err)
{
    if (!(m->fields = calloc(fields->n, sizeof *m->fields)))
        return nomem(err);
    bool have_id = false, have_at = false;
    for (size_t i = 0; i < fields->n; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(fields->keys[k], fields->keys[i]) == 0)
                return bn_node_error(err, BN_CONFIG, fields->items[i],
                                     "fields: %.64s is mapped twice", fields->keys[i]);
        field_t *f = &m->fields[m->n_fields++];
        if (!(f->target = strdup(fields->keys[i])))
            return nomem(err);
        bn_status_t st = parse_field(m, f, fields->items[i], dl, err);
        if (st != BN_OK)
            return st;
        have_id |= strcmp(f->target, "source_id") == 0;
        have_at |= strcmp(f->target, "occurred_at") == 0;
    }
    if (!have_id || !have_at)
        return bn_node_error(err, BN_CONFIG, fields, "fields: %s must be mapped",
                             have_id ? "occurred_at" : "source_id");
    return BN_OK;
}

bn_status_t bn_mapping_new(bn_mapping_t **out, const bn_node_t *settings,
                           const bn_mapping_dialect_t *dl, bn_error_t *err)
{
    *out = NULL;
    if (!settings || settings->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, settings,
                             "settings: expected a map with type: and fields:");
    for (size_t i = 0; i < settings->n; i++)
        if (strcmp(settings->keys[i], "type") != 0 && strcmp(settings->keys[i], "fields") != 0 &&
            !key_allowed(settings->keys[i], dl->extra_keys))
            return bn_node_error(err, BN_CONFIG, settings->items[i],
                                 "unknown key \"%.40s\" in the %s settings", settings->keys[i],
                                 dl->source_key[0] == 'c' ? "csv" : "json");
    const bn_node_t *fields = bn_node_get(settings, "fields");
    if (!fields || fields->kind != BN_NODE_MAP || fields->n == 0)
        return bn_node_error(err, BN_CONFIG, fields ? fields : settings,
                             "fields: expected a map of target field: source");
    bn_mapping_t *m = calloc(1, sizeof *m);
    if (!m)
        return nomem(err);
    bn_status_t st = parse_body(m, settings, err);
    if (st == BN_OK)
        st = parse_fields(m, fields, dl, err);
    if (st != BN_OK) {
        bn_mapping_destroy(&m);
        return st;
    }
    *out = m;
    return BN_OK;
}

void bn_mapping_destroy(bn_mapping_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_mapping_t *m = *self_p;
    for (size_t i = 0; i < m->n_fields; i++) {
        field_t *f = &m->fields[i];
        free(f->target);
        free(f->constant.text);
        free(f->def.text);
        free(f->pattern);
        free(f->utc_offset);
        free(f->split);
        for (size_t k = 0; k < f->n_parts; k++)
            free(f->parts[k].lit);
        free(f->parts);
        for (size_t k = 0; k < f->n_map; k++) {
            free(f->map[k].from);
            free(f->map[k].to.text);
        }
        free(f->map);
    }
    free(m->fields);
    for (size_t i = 0; i < m->n_sources; i++)
        free(m->sources[i]);
    free(m->sources);
    free(m->source_nodes);
    free(m);
    *self_p = NULL;
}

size_t bn_mapping_source_count(const bn_mapping_t *m)
{
    return m->n_sources;
}

const char *bn_mapping_source_name(const bn_mapping_t *m, size_t i)
{
    return i < m->n_sources ? m->sources[i] : NULL;
}

const bn_node_t *bn_mapping_source_node(const bn_mapping_t *m, size_t i)
{
    return i < m->n_sources ? m->source_nodes[i] : NULL;
}

const char *bn_mapping_type(const bn_mapping_t *m)
{
    return m->body->name;
}

/* ---- record time ------------------------------------------------------------ */

typedef struct {
    const bn_mapping_reader_t *rd;
    ProtobufCMessage *ev;
    bn_error_t *err;
} rec_t;

static bn_status_t bad_value(rec_t *r, const field_t *f, size_t src, const char *s, size_t len,
                             const char *what)
{
    char where[160], shown[64];
    r->rd->where(r->rd->ud, src, where, sizeof where);
    if (!s)
        return bn_error_set(r->err, BN_INVALID_EVENT, 0, where, "%s: %s", f->target, what);
    if (f->personal)
        return bn_error_set(r->err, BN_INVALID_EVENT, 0, where, "%s: the value %s", f->target,
                            what);
    return bn_error_set(r->err, BN_INVALID_EVENT, 0, where, "%s: \"%s\" %s", f->target,
                        echo(s, len, shown, sizeof shown), what);
}

static ProtobufCMessage *msg_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m)
        protobuf_c_message_init(d, m);
    return m;
}

/* The message holding f's leaf, sub-messages allocated on the way; NULL on no memory. */
static ProtobufCMessage *container(ProtobufCMessage *cur, const field_t *f)
{
    for (unsigned i = 0; i + 1 < f->depth; i++) {
        const ProtobufCFieldDescriptor *fd = f->chain[i];
        ProtobufCMessage **slot = (ProtobufCMessage **)((char *)cur + fd->offset);
        if (!*slot) {
            if (!(*slot = msg_new(fd->descriptor)))
                return NULL;
            if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                *(uint32_t *)((char *)cur + fd->quantifier_offset) = fd->id;
        }
        cur = *slot;
    }
    return cur;
}

/* Store text (already converted) or an enum number into f's leaf. */
static bn_status_t store(rec_t *r, const field_t *f, size_t src, const char *s, size_t len, int num)
{
    ProtobufCMessage *msg = container(r->ev, f);
    if (!msg)
        return nomem(r->err);
    const ProtobufCFieldDescriptor *fd = f->chain[f->depth - 1];
    void *slot = (char *)msg + fd->offset;
    if (f->is_enum) {
        *(int *)slot = num;
        return BN_OK;
    }
    if (f->is_int) {
        uint64_t v = 0, max = fd->type == PROTOBUF_C_TYPE_UINT64  ? UINT64_MAX
                              : fd->type == PROTOBUF_C_TYPE_INT64 ? (uint64_t)INT64_MAX
                              : fd->type == PROTOBUF_C_TYPE_INT32 ? (uint64_t)INT32_MAX
                                                                  : UINT32_MAX;
        bool ok = len > 0 && len < 21;
        for (size_t i = 0; i < len && ok; i++) {
            ok = s[i] >= '0' && s[i] <= '9' && v <= (max - (uint64_t)(s[i] - '0')) / 10;
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (!ok)
            return bad_value(r, f, src, s, len, "is not a whole number in range");
        if (fd->type == PROTOBUF_C_TYPE_UINT64 || fd->type == PROTOBUF_C_TYPE_INT64)
            *(uint64_t *)slot = v;
        else
            *(uint32_t *)slot = (uint32_t)v;
        return BN_OK;
    }
    if (memchr(s, '\0', len))
        return bad_value(r, f, src, NULL, 0, "contains a NUL character");
    char *copy = malloc(len + 1);
    if (!copy)
        return nomem(r->err);
    memcpy(copy, s, len);
    copy[len] = '\0';
    if (f->repeated) {
        size_t *n = (size_t *)((char *)msg + fd->quantifier_offset);
        char **arr = realloc(*(char ***)slot, (*n + 1) * sizeof *arr);
        if (!arr) {
            free(copy);
            return nomem(r->err);
        }
        *(char ***)slot = arr;
        arr[(*n)++] = copy;
        return BN_OK;
    }
    char **str = slot;
    if (*str && *str != (const char *)fd->default_value)
        free(*str);
    *str = copy;
    return BN_OK;
}

static bn_status_t store_final(rec_t *r, const field_t *f, size_t src, const final_t *v)
{
    return store(r, f, src, v->text, v->len, v->num);
}

static bn_status_t absent(rec_t *r, const field_t *f, size_t src)
{
    if (f->has_default)
        return store_final(r, f, src, &f->def);
    if (f->required)
        return bad_value(r, f, src, NULL, 0, "no value (empty or missing)");
    return BN_OK;
}

/* One non-empty source value through map or format into f. */
static bn_status_t convert(rec_t *r, const field_t *f, size_t src, const char *s, size_t len)
{
    char buf[64], what[240];
    if (f->n_map) {
        for (size_t i = 0; i < f->n_map; i++)
            if (ieq(s, len, f->map[i].from))
                return store_final(r, f, src, &f->map[i].to);
        if (f->has_default)
            return store_final(r, f, src, &f->def);
        return bad_value(r, f, src, s, len, "is not in map: and there is no default");
    }
    bool date_only = f->date_only, ok = true;
    switch (f->fmt) {
    case FMT_PATTERN:
        ok =
            bn_mapping__date_pattern(f->pattern, f->utc_offset, date_only, s, len, buf, sizeof buf);
        break;
    case FMT_ISO:
        ok = bn_mapping__date_iso(date_only, s, len, buf, sizeof buf);
        break;
    case FMT_EPOCH:
    case FMT_EPOCH_MS:
        ok = bn_mapping__date_epoch(f->fmt == FMT_EPOCH_MS, date_only, s, len, buf, sizeof buf);
        break;
    default:
        break;
    }
    if (!ok) {
        snprintf(what, sizeof what, "is not a date in format %s",
                 f->fmt == FMT_PATTERN ? f->pattern
                 : f->fmt == FMT_ISO   ? "iso8601"
                 : f->fmt == FMT_EPOCH ? "epoch"
                                       : "epoch_ms");
        return bad_value(r, f, src, s, len, what);
    }
    if (f->fmt != FMT_NONE)
        s = buf, len = strlen(buf);
    int num = 0;
    if (f->is_enum) {
        const ProtobufCEnumDescriptor *ed = f->chain[f->depth - 1]->descriptor;
        if (!enum_find(ed, f->enum_prefix, s, len, &num)) {
            char known[200];
            snprintf(what, sizeof what, "is not a %s (known: %s)", ed->short_name,
                     enum_known(ed, f->enum_prefix, known, sizeof known));
            return bad_value(r, f, src, s, len, what);
        }
    }
    return store(r, f, src, s, len, num);
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_space(**s))
        (*s)++, (*len)--;
    while (*len && is_space((*s)[*len - 1]))
        (*len)--;
}

/* One scalar source value (a cell, a JSON scalar, a list item) into f. */
static bn_status_t one_value(rec_t *r, const field_t *f, size_t src, const char *s, size_t len,
                             bool in_list)
{
    if (s)
        trim(&s, &len);
    if (!s || len == 0)
        return in_list ? BN_OK : absent(r, f, src);
    if (!f->split)
        return convert(r, f, src, s, len);
    size_t sl = strlen(f->split), stored = 0;
    const char *end = s + len;
    while (s <= end) {
        const char *cut = s;
        while (cut + sl <= end && memcmp(cut, f->split, sl) != 0)
            cut++;
        if (cut + sl > end)
            cut = end;
        const char *piece = s;
        size_t n = (size_t)(cut - s);
        trim(&piece, &n);
        if (n) {
            bn_status_t st = convert(r, f, src, piece, n);
            if (st != BN_OK)
                return st;
            stored++;
        }
        s = cut + sl;
    }
    return stored || in_list ? BN_OK : absent(r, f, src);
}

static bn_status_t from_source(rec_t *r, const field_t *f)
{
    bn_mapping_value_t v = {0};
    bn_status_t st = r->rd->lookup(r->rd->ud, f->src, &v, r->err);
    if (st != BN_OK)
        return st;
    if (!v.items)
        return one_value(r, f, f->src, v.s, v.len, false);
    if (!f->repeated)
        return bad_value(r, f, f->src, NULL, 0, "expected one value, got a list");
    for (size_t i = 0; i < v.n; i++) {
        if (v.items[i].items)
            return bad_value(r, f, f->src, NULL, 0, "expected a list of values, got nested lists");
        if ((st = one_value(r, f, f->src, v.items[i].s, v.items[i].len, true)) != BN_OK)
            return st;
    }
    return v.n ? BN_OK : absent(r, f, f->src);
}

/* A template: every part must be present, else the whole value is absent. */
static bn_status_t from_template(rec_t *r, const field_t *f)
{
    char local[256], *buf = local;
    size_t len = 0, cap = sizeof local;
    bn_status_t st = BN_OK;
    bool missing = false;
    for (size_t i = 0; i < f->n_parts && st == BN_OK && !missing; i++) {
        bn_mapping_value_t v = {.s = f->parts[i].lit, .len = f->parts[i].lit_len};
        if (f->parts[i].src != SIZE_MAX &&
            (st = r->rd->lookup(r->rd->ud, f->parts[i].src, &v, r->err)) != BN_OK)
            break;
        if (v.items) {
            st = bad_value(r, f, f->parts[i].src, NULL, 0, "a template part is a list");
            break;
        }
        if (v.s)
            trim(&v.s, &v.len);
        missing = !v.s || v.len == 0;
        if (len + v.len + 1 > cap) {
            cap = (len + v.len + 1) * 2;
            char *p = buf == local ? malloc(cap) : realloc(buf, cap);
            if (!p) {
                st = nomem(r->err);
                break;
            }
            if (buf == local)
                memcpy(p, local, len);
            buf = p;
        }
        if (v.len)
            memcpy(buf + len, v.s, v.len);
        len += v.len;
    }
    if (st == BN_OK)
        st = missing ? absent(r, f, SIZE_MAX) : convert(r, f, SIZE_MAX, buf, len);
    if (buf != local)
        free(buf);
    return st;
}

bn_status_t bn_mapping_apply(const bn_mapping_t *m, const bn_mapping_reader_t *rd,
                             Benang__V1__Event **out, bn_error_t *err)
{
    *out = NULL;
    rec_t r = {.rd = rd, .err = err, .ev = msg_new(&benang__v1__event__descriptor)};
    if (!r.ev || !container(r.ev, &m->body_path)) {
        if (r.ev)
            protobuf_c_message_free_unpacked(r.ev, NULL);
        return nomem(err);
    }
    bn_status_t st = BN_OK;
    for (size_t i = 0; i < m->n_fields && st == BN_OK; i++) {
        const field_t *f = &m->fields[i];
        st = f->how == SRC_ONE     ? from_source(&r, f)
             : f->how == SRC_VALUE ? store_final(&r, f, SIZE_MAX, &f->constant)
                                   : from_template(&r, f);
    }
    if (st != BN_OK) {
        protobuf_c_message_free_unpacked(r.ev, NULL);
        return st;
    }
    *out = (Benang__V1__Event *)r.ev;
    return BN_OK;
}
