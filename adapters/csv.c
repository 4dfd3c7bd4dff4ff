/* csv.c: adapter "csv": RFC 4180 CSV exports, one event per row, columns mapped in the agency's
 * settings.
 *
 * The settings are the mapping language of mapping.h with `column:` as the
 * source key, plus `separator:` and `header:` (docs/mapping.md). Parsing is
 * one pass over the bytes with no copy of unquoted cells: a cell is an
 * (offset, length) into the payload, or into a per-row scratch buffer when
 * it was quoted with "" escapes. Quoted cells may hold separators and line
 * breaks; the physical line where each row starts is tracked for errors
 * ("line 17, column \"tgl_lahir\""). Cells are checked for UTF-8 when the
 * mapping first reads them in a row (a column may feed several fields), so
 * unmapped columns cost nothing. A payload is all or
 * nothing: the first bad row fails it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters_internal.h"
#include "benang/utf8.h"
#include "mapping.h"

#define MAX_COLUMNS 4096

typedef struct {
    bn_mapping_t *map;
    char sep;
    bool header;
    size_t *fixed; /* header: false: the 0-based column of each source */
} csv_settings_t;

typedef struct {
    size_t off, len;
    bool in_scratch;
} cell_t;

typedef struct {
    const csv_settings_t *cfg;
    const uint8_t *d;
    size_t len, pos;
    unsigned line;     /* physical line at pos */
    unsigned row_line; /* physical line where the current row starts */
    cell_t *cells;
    size_t n_cells, cap_cells;
    char *scratch;
    size_t scratch_len, scratch_cap;
    size_t *col_of; /* source -> cell index */
    bool *utf8_ok;  /* source -> its cell in the current row is known valid UTF-8 */
    size_t width;   /* cells per row (the header's count) */
    bn_error_t *err;
} csv_t;

/* ---- settings ------------------------------------------------------------- */

static void settings_free(void *p)
{
    csv_settings_t *s = p;
    if (!s)
        return;
    bn_mapping_destroy(&s->map);
    free(s->fixed);
    free(s);
}

static bn_status_t read_options(csv_settings_t *s, const bn_node_t *node, bn_error_t *err)
{
    const bn_node_t *sep = bn_node_get(node, "separator"), *hdr = bn_node_get(node, "header");
    s->sep = ',';
    s->header = true;
    if (sep) {
        const char *v = sep->kind == BN_NODE_SCALAR ? sep->scalar : "";
        if (strcmp(v, "\\t") == 0 || strcmp(v, "tab") == 0)
            v = "\t";
        if (strlen(v) != 1 || !strchr(",;\t|", v[0]))
            return bn_node_error(err, BN_CONFIG, sep,
                                 "separator: expected \",\", \";\", \"\\t\" or \"|\"");
        s->sep = v[0];
    }
    if (hdr) {
        const char *v = hdr->kind == BN_NODE_SCALAR ? hdr->scalar : "";
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return bn_node_error(err, BN_CONFIG, hdr, "header: expected true or false");
        s->header = v[0] == 't';
    }
    return BN_OK;
}

/* header: false: every column: is a 1-based position. */
static bn_status_t fixed_columns(csv_settings_t *s, bn_error_t *err)
{
    size_t n = bn_mapping_source_count(s->map);
    if (!(s->fixed = calloc(n ? n : 1, sizeof *s->fixed)))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = bn_mapping_source_name(s->map, i);
        char *end;
        unsigned long v = strtoul(name, &end, 10);
        if (name[0] < '1' || name[0] > '9' || *end || v > MAX_COLUMNS)
            return bn_node_error(err, BN_CONFIG, bn_mapping_source_node(s->map, i),
                                 "column \"%.40s\": with header: false, columns are numbers "
                                 "1..%d",
                                 name, MAX_COLUMNS);
        s->fixed[i] = v - 1;
    }
    return BN_OK;
}

static bn_status_t settings_new(const bn_node_t *node, void **out, bn_error_t *err)
{
    static const char *const extra[] = {"separator", "header", NULL};
    const bn_mapping_dialect_t dialect = {.source_key = "column", .extra_keys = extra};
    *out = NULL;
    csv_settings_t *s = calloc(1, sizeof *s);
    if (!s)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    bn_status_t st = bn_mapping_new(&s->map, node, &dialect, err);
    if (st == BN_OK)
        st = read_options(s, node, err);
    if (st == BN_OK && !s->header)
        st = fixed_columns(s, err);
    if (st != BN_OK) {
        settings_free(s);
        return st;
    }
    *out = s;
    return BN_OK;
}

/* ---- the RFC 4180 reader ----------------------------------------------------- */

static bn_status_t bad(csv_t *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bn_status_t bad(csv_t *c, unsigned line, const char *fmt, ...)
{
    char where[32];
    snprintf(where, sizeof where, "line %u", line);
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(c->err, BN_BAD_PAYLOAD, 0, where, fmt, ap);
    va_end(ap);
    return BN_BAD_PAYLOAD;
}

static bn_status_t nomem(csv_t *c)
{
    return bn_error_set(c->err, BN_NOMEM, 0, NULL, "out of memory");
}

static bn_status_t push_cell(csv_t *c, size_t off, size_t len, bool in_scratch)
{
    if (c->n_cells == c->cap_cells) {
        if (c->cap_cells >= MAX_COLUMNS)
            return bad(c, c->row_line, "more than %d cells in a row", MAX_COLUMNS);
        size_t cap = c->cap_cells ? c->cap_cells * 2 : 16;
        cell_t *cells = realloc(c->cells, cap * sizeof *cells);
        if (!cells)
            return nomem(c);
        c->cells = cells;
        c->cap_cells = cap;
    }
    c->cells[c->n_cells++] = (cell_t){off, len, in_scratch};
    return BN_OK;
}

static bool scratch_add(csv_t *c, const uint8_t *s, size_t n)
{
    if (n == 0)
        return true;
    if (c->scratch_len + n > c->scratch_cap) {
        size_t cap = (c->scratch_len + n) * 2 + 64;
        char *p = realloc(c->scratch, cap);
        if (!p)
            return false;
        c->scratch = p;
        c->scratch_cap = cap;
    }
    memcpy(c->scratch + c->scratch_len, s, n);
    c->scratch_len += n;
    return true;
}

static void count_lines(csv_t *c, size_t from, size_t to)
{
    const uint8_t *p = c->d + from, *end = c->d + to;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
        c->line++, p++;
}

/* A quoted cell starting at c->pos (the opening quote). Points into the
 * payload unless it holds "" escapes, then it is unescaped into scratch. */
static bn_status_t quoted_cell(csv_t *c)
{
    unsigned open_line = c->line;
    size_t start = ++c->pos, s_off = c->scratch_len;
    bool escaped = false;
    for (;;) {
        const uint8_t *q = memchr(c->d + c->pos, '"', c->len - c->pos);
        if (!q)
            return bad(c, open_line, "quoted cell opened here is never closed");
        size_t at = (size_t)(q - c->d);
        count_lines(c, c->pos, at);
        if (at + 1 < c->len && c->d[at + 1] == '"') {
            if (!escaped && !scratch_add(c, c->d + start, at - start))
                return nomem(c);
            if (escaped && !scratch_add(c, c->d + c->pos, at - c->pos))
                return nomem(c);
            if (!scratch_add(c, q, 1))
                return nomem(c);
            escaped = true;
            c->pos = at + 2;
            continue;
        }
        if (escaped && !scratch_add(c, c->d + c->pos, at - c->pos))
            return nomem(c);
        c->pos = at + 1;
        if (c->pos < c->len && c->d[c->pos] != (uint8_t)c->cfg->sep && c->d[c->pos] != '\n' &&
            c->d[c->pos] != '\r')
            return bad(c, c->line, "text after a closing quote");
        return escaped ? push_cell(c, s_off, c->scratch_len - s_off, true)
                       : push_cell(c, start, at - start, false);
    }
}

/* Read the next row into c->cells; *eof when there is none. Blank lines are skipped. */
static bn_status_t read_row(csv_t *c, bool *eof)
{
    const uint8_t sep = (uint8_t)c->cfg->sep;
    for (;;) {
        c->n_cells = c->scratch_len = 0;
        c->row_line = c->line;
        if (c->pos >= c->len) {
            *eof = true;
            return BN_OK;
        }
        bool quoted_any = false;
        for (;;) {
            bn_status_t st;
            if (c->pos < c->len && c->d[c->pos] == '"') {
                quoted_any = true;
                st = quoted_cell(c);
            } else {
                size_t start = c->pos;
                const uint8_t *d = c->d;
                while (c->pos < c->len && d[c->pos] != sep && d[c->pos] != '\n' &&
                       d[c->pos] != '\r')
                    c->pos++;
                st = push_cell(c, start, c->pos - start, false);
            }
            if (st != BN_OK)
                return st;
            if (c->pos < c->len && c->d[c->pos] == sep) {
                c->pos++;
                continue;
            }
            if (c->pos < c->len && c->d[c->pos] == '\r')
                c->pos++;
            if (c->pos < c->len && c->d[c->pos] == '\n')
                c->pos++;
            c->line++;
            break;
        }
        if (c->n_cells > 1 || quoted_any || c->cells[0].len > 0) {
            *eof = false;
            return BN_OK;
        }
    }
}

static const char *cell_ptr(const csv_t *c, size_t i)
{
    const cell_t *cell = &c->cells[i];
    return cell->in_scratch ? c->scratch + cell->off : (const char *)c->d + cell->off;
}

/* ---- the header and the mapping's view of a row ------------------------------- */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bn_status_t read_header(csv_t *c, bool *eof)
{
    const bn_mapping_t *m = c->cfg->map;
    bn_status_t st = read_row(c, eof);
    if (st != BN_OK || *eof)
        return st;
    c->width = c->n_cells;
    for (size_t s = 0; s < bn_mapping_source_count(m); s++) {
        const char *name = bn_mapping_source_name(m, s);
        size_t nl = strlen(name), found = SIZE_MAX;
        for (size_t i = 0; i < c->n_cells; i++) {
            const char *h = cell_ptr(c, i);
            size_t hl = c->cells[i].len;
            trim(&h, &hl);
            if (hl != nl || memcmp(h, name, nl) != 0)
                continue;
            if (found != SIZE_MAX)
                return bad(c, c->row_line, "column \"%.40s\" is in the header twice", name);
            found = i;
        }
        if (found == SIZE_MAX)
            return bad(c, c->row_line, "column \"%.40s\" is not in the header (line %u)", name,
                       c->row_line);
        c->col_of[s] = found;
    }
    return BN_OK;
}

static void csv_where(void *ud, size_t src, char *buf, size_t size)
{
    const csv_t *c = ud;
    if (src == SIZE_MAX)
        snprintf(buf, size, "line %u", c->row_line);
    else
        snprintf(buf, size, "line %u, column \"%.60s\"", c->row_line,
                 bn_mapping_source_name(c->cfg->map, src));
}

static bn_status_t csv_lookup(void *ud, size_t src, bn_mapping_value_t *out, bn_error_t *err)
{
    csv_t *c = ud;
    size_t i = c->col_of[src];
    const char *s = cell_ptr(c, i);
    size_t n = c->cells[i].len;
    if (!c->utf8_ok[src]) {
        if (!bn_utf8_valid(s, n)) {
            char where[128];
            csv_where(ud, src, where, sizeof where);
            return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "not valid UTF-8");
        }
        c->utf8_ok[src] = true;
    }
    *out = (bn_mapping_value_t){.s = n ? s : NULL, .len = n};
    return BN_OK;
}

/* ---- translate ------------------------------------------------------------------ */

static bn_status_t each_row(csv_t *c, const bn_adapter_ctx_t *ctx, bn_event_list_t *out)
{
    const bn_mapping_reader_t rd = {.ud = c, .lookup = csv_lookup, .where = csv_where};
    size_t first = out->len;
    for (;;) {
        bool eof;
        bn_status_t st = read_row(c, &eof);
        if (st != BN_OK || eof)
            return st;
        if (c->width == SIZE_MAX) { /* header: false: the first row sets the width */
            c->width = c->n_cells;
            for (size_t s = 0; s < bn_mapping_source_count(c->cfg->map); s++)
                if (c->col_of[s] >= c->width)
                    return bad(c, c->row_line, "row has %zu cells; column %zu is mapped", c->width,
                               c->col_of[s] + 1);
        }
        if (c->n_cells != c->width)
            return bad(c, c->row_line, "row has %zu cells, the %s has %zu", c->n_cells,
                       c->cfg->header ? "header" : "first row", c->width);
        if (ctx->max_events && out->len - first >= ctx->max_events)
            return bn_error_set(c->err, BN_TOO_LARGE, 0, "payload", "more than %zu rows",
                                ctx->max_events);
        memset(c->utf8_ok, 0, bn_mapping_source_count(c->cfg->map) * sizeof *c->utf8_ok);
        Benang__V1__Event *ev = NULL;
        if ((st = bn_mapping_apply(c->cfg->map, &rd, &ev, c->err)) != BN_OK)
            return st;
        if (bn_event_list_push(out, &ev) != BN_OK) {
            protobuf_c_message_free_unpacked(&ev->base, NULL);
            return nomem(c);
        }
    }
}

static bn_status_t csv_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                 bn_event_list_t *out, bn_error_t *err)
{
    const csv_settings_t *cfg = ctx ? ctx->settings : NULL;
    if (!cfg)
        return bn_error_set(err, BN_CONFIG, 0, "settings", "the csv adapter needs settings: csv:");
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        data += 3, len -= 3;
    size_t n_src = bn_mapping_source_count(cfg->map);
    csv_t c = {.cfg = cfg, .d = data, .len = len, .line = 1, .err = err, .width = SIZE_MAX};
    c.col_of = calloc(n_src ? n_src : 1, sizeof *c.col_of);
    c.utf8_ok = calloc(n_src ? n_src : 1, sizeof *c.utf8_ok);
    bn_status_t st = c.col_of && c.utf8_ok ? BN_OK : nomem(&c);
    bool eof = false;
    if (st == BN_OK && cfg->header)
        st = read_header(&c, &eof);
    else if (st == BN_OK)
        memcpy(c.col_of, cfg->fixed, n_src * sizeof *c.col_of);
    if (st == BN_OK && !eof)
        st = each_row(&c, ctx, out);
    free(c.col_of);
    free(c.utf8_ok);
    free(c.cells);
    free(c.scratch);
    return st;
}

const bn_adapter_ops_t bn_adapter_csv = {
    .name = "csv",
    .summary =
        "RFC 4180 CSV export, one event per row, columns mapped in settings (docs/mapping.md)",
    .settings_new = settings_new,
    .settings_free = settings_free,
    .translate = csv_translate,
};
