/* hl7v2_parse.c: HL7 v2.x ER7 reading: segments, delimiters, escapes, dates (see hl7v2_parse.h).
 *
 * One pass over the payload, no copies: a segment is a slice of the payload
 * and a field is found by scanning for separators when asked for. Segments
 * end at CR, LF or CR LF; blank lines anywhere and trailing blanks of a
 * segment are dropped (senders pad lines and files end with newlines). The
 * next CR and LF are each looked up once with memchr and remembered, so a
 * payload with only one kind of line end stays linear.
 */
#include "hl7v2_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/utf8.h"
#include "validate.h"

static bool is_upper_digit(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_upper_digit(c) || (c >= 'a' && c <= 'z');
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

void bn_hl7__reader_init(bn_hl7_reader_t *r, const uint8_t *data, size_t len)
{
    memset(r, 0, sizeof *r);
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        data += 3, len -= 3;
    r->p = (const char *)data;
    r->len = len;
    r->line = 1;
}

void bn_hl7__msg_free(bn_hl7_msg_t *msg)
{
    if (!msg)
        return;
    free(msg->segs);
    msg->segs = NULL;
    msg->nseg = msg->cap = 0;
}

bool bn_hl7__is(const bn_hl7_seg_t *seg, const char *name)
{
    return memcmp(seg->name, name, 3) == 0;
}

static bool is_header(const bn_hl7_seg_t *s)
{
    return bn_hl7__is(s, "MSH") || bn_hl7__is(s, "FHS") || bn_hl7__is(s, "BHS");
}

static bool is_envelope(const bn_hl7_seg_t *s)
{
    return is_header(s) || bn_hl7__is(s, "BTS") || bn_hl7__is(s, "FTS");
}

/* The next line end at or after pos: the nearer of the remembered CR and LF. */
static size_t line_end(bn_hl7_reader_t *r)
{
    if (!r->eol_known || r->cr < r->pos) {
        const char *q = memchr(r->p + r->pos, '\r', r->len - r->pos);
        r->cr = q ? (size_t)(q - r->p) : r->len;
    }
    if (!r->eol_known || r->lf < r->pos) {
        const char *q = memchr(r->p + r->pos, '\n', r->len - r->pos);
        r->lf = q ? (size_t)(q - r->p) : r->len;
    }
    r->eol_known = true;
    return r->cr < r->lf ? r->cr : r->lf;
}

/* The next non-blank line as a segment; *eof at the end. */
static bn_status_t read_segment(bn_hl7_reader_t *r, bn_hl7_seg_t *seg, bool *eof,
                                bn_error_t *err)
{
    for (;;) {
        if (r->pos >= r->len) {
            *eof = true;
            return BN_OK;
        }
        size_t start = r->pos, end = line_end(r);
        unsigned line = r->line++;
        r->pos = end + (end + 1 < r->len && r->p[end] == '\r' && r->p[end + 1] == '\n' ? 2 : 1);
        while (end > start && is_blank(r->p[end - 1]))
            end--;
        if (end == start)
            continue;
        *eof = false;
        seg->p = r->p + start;
        seg->n = end - start;
        seg->line = line;
        if (seg->n < 3 || !is_upper_digit(seg->p[0]) || !is_upper_digit(seg->p[1]) ||
            !is_upper_digit(seg->p[2]) || (seg->n > 3 && is_alnum(seg->p[3]))) {
            char where[32];
            snprintf(where, sizeof where, "line %u", line);
            return bn_error_set(err, BN_BAD_PAYLOAD, 0, where,
                                "not a segment: a segment starts with a three-character name "
                                "(A-Z, 0-9) and a field separator");
        }
        memcpy(seg->name, seg->p, 3);
        seg->name[3] = '\0';
        return BN_OK;
    }
}

/* MSH-1 and MSH-2 (or FHS/BHS-1, -2) of a header segment into e. */
static bn_status_t parse_enc(const bn_hl7_seg_t *s, unsigned msgno, bn_hl7_enc_t *e,
                             bn_error_t *err)
{
    char where[48];
    const char *why = NULL;
    unsigned f = 2;
    size_t k = 0;
    char c[5] = {0};
    if (s->n < 4 || is_blank(s->p[3]) || (unsigned char)s->p[3] < 0x20) {
        why = "missing or not a valid field separator";
        f = 1;
    } else {
        for (size_t i = 4; i < s->n && s->p[i] != s->p[3]; i++, k++)
            if (k < 5)
                c[k] = s->p[i];
        if (k < 4)
            why = "encoding characters missing: need component, repetition, escape and "
                  "subcomponent separators (e.g. ^~\\&)";
        else if (k > 5)
            why = "more than 5 encoding characters";
    }
    for (size_t i = 0; !why && i < k; i++) {
        if (is_alnum(c[i]) || is_blank(c[i]) || (unsigned char)c[i] < 0x20 || c[i] == s->p[3])
            why = "an encoding character is a letter, digit, blank or the field separator";
        for (size_t j = 0; !why && j < i; j++)
            if (c[i] == c[j])
                why = "encoding characters repeat";
    }
    if (!why) {
        *e = (bn_hl7_enc_t){s->p[3], c[0], c[1], c[2], c[3], k == 5 ? c[4] : 0};
        return BN_OK;
    }
    if (bn_hl7__is(s, "MSH"))
        snprintf(where, sizeof where, "message %u, MSH-%u (line %u)", msgno, f, s->line);
    else
        snprintf(where, sizeof where, "line %u, %s-%u", s->line, s->name, f);
    return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "%s", why);
}

/* BTS-1 / FTS-1, when given, must count what the envelope held. */
static bn_status_t check_count(const bn_hl7_reader_t *r, const bn_hl7_seg_t *s, unsigned have,
                               const char *what, bn_error_t *err)
{
    bn_hl7_str_t v = bn_hl7__field(&r->enc, s, 1);
    if (v.n == 0)
        return BN_OK;
    unsigned long n = 0;
    bool ok = v.n <= 9;
    for (size_t i = 0; ok && i < v.n; i++) {
        ok = is_digit(v.p[i]);
        n = n * 10 + (unsigned long)(v.p[i] - '0');
    }
    if (ok && n == have)
        return BN_OK;
    char where[32];
    snprintf(where, sizeof where, "line %u, %s-1", s->line, s->name);
    if (!ok)
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "count is not a whole number");
    return bn_error_set(err, BN_BAD_PAYLOAD, 0, where, "says %lu %s but the envelope holds %u", n,
                        what, have);
}

/* Consume one envelope segment (FHS, BHS, BTS, FTS). */
static bn_status_t envelope(bn_hl7_reader_t *r, const bn_hl7_seg_t *s, bn_error_t *err)
{
    bn_status_t st = BN_OK;
    if (bn_hl7__is(s, "FHS")) {
        st = parse_enc(s, 0, &r->enc, err);
        r->in_file = true;
        r->file_batches = 0;
    } else if (bn_hl7__is(s, "BHS")) {
        st = parse_enc(s, 0, &r->enc, err);
        r->in_batch = true;
        r->batch_msgs = 0;
        r->file_batches += r->in_file;
    } else if (bn_hl7__is(s, "BTS")) {
        if (r->in_batch)
            st = check_count(r, s, r->batch_msgs, "messages", err);
        r->in_batch = false;
    } else {
        if (r->in_file)
            st = check_count(r, s, r->file_batches, "batches", err);
        r->in_file = false;
    }
    return st;
}

static bn_status_t push(bn_hl7_msg_t *m, const bn_hl7_seg_t *s, bn_error_t *err)
{
    if (m->nseg == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        bn_hl7_seg_t *segs = realloc(m->segs, cap * sizeof *segs);
        if (!segs)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        m->segs = segs;
        m->cap = cap;
    }
    m->segs[m->nseg++] = *s;
    return BN_OK;
}

/* After an MSH: the message's other segments, up to the next envelope segment. */
static bn_status_t read_body(bn_hl7_reader_t *r, bn_hl7_msg_t *m, bn_error_t *err)
{
    for (;;) {
        bn_hl7_seg_t s;
        bool eof;
        bn_status_t st = read_segment(r, &s, &eof, err);
        if (st != BN_OK || eof)
            return st;
        if (is_envelope(&s)) {
            r->next = s;
            r->pending = true;
            return BN_OK;
        }
        if (s.n > 3 && s.p[3] != m->enc.fs) {
            char where[32];
            snprintf(where, sizeof where, "line %u", s.line);
            return bn_error_set(err, BN_BAD_PAYLOAD, 0, where,
                                "segment %s is not followed by the field separator '%c'", s.name,
                                m->enc.fs);
        }
        if ((st = push(m, &s, err)) != BN_OK)
            return st;
    }
}

bn_status_t bn_hl7__next(bn_hl7_reader_t *r, bn_hl7_msg_t *msg, bool *got, bn_error_t *err)
{
    *got = false;
    for (;;) {
        bn_hl7_seg_t s;
        bool eof = false;
        bn_status_t st = BN_OK;
        if (r->pending)
            s = r->next, r->pending = false;
        else
            st = read_segment(r, &s, &eof, err);
        if (st != BN_OK)
            return st;
        if (eof) {
            if (r->messages == 0)
                return bn_error_set(err, BN_BAD_PAYLOAD, 0, "line 1",
                                    "missing MSH: the payload holds no HL7 message");
            return BN_OK;
        }
        if (bn_hl7__is(&s, "MSH")) {
            msg->number = ++r->messages;
            msg->nseg = 0;
            r->batch_msgs += r->in_batch;
            if ((st = parse_enc(&s, msg->number, &msg->enc, err)) != BN_OK)
                return st;
            r->enc = msg->enc;
            if ((st = push(msg, &s, err)) == BN_OK && (st = read_body(r, msg, err)) == BN_OK)
                *got = true;
            return st;
        }
        if (is_envelope(&s)) {
            if ((st = envelope(r, &s, err)) != BN_OK)
                return st;
            continue;
        }
        char where[32];
        snprintf(where, sizeof where, "line %u", s.line);
        if (r->messages == 0)
            return bn_error_set(err, BN_BAD_PAYLOAD, 0, where,
                                "missing MSH: the payload starts with segment %s, not MSH, FHS "
                                "or BHS",
                                s.name);
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, where,
                            "segment %s outside a message (after a batch trailer)", s.name);
    }
}

/* ---- fields ------------------------------------------------------------------ */

bn_hl7_str_t bn_hl7__part(bn_hl7_str_t s, char sep, unsigned k)
{
    const char *at = s.p, *end = s.p + s.n;
    for (unsigned i = 1; at; i++) {
        const char *q = memchr(at, sep, (size_t)(end - at));
        if (i == k)
            return (bn_hl7_str_t){at, (size_t)((q ? q : end) - at)};
        at = q ? q + 1 : NULL;
    }
    return (bn_hl7_str_t){NULL, 0};
}

bn_hl7_str_t bn_hl7__field(const bn_hl7_enc_t *e, const bn_hl7_seg_t *seg, unsigned n)
{
    bool hdr = is_header(seg);
    if (hdr && n == 1)
        return (bn_hl7_str_t){seg->p + 3, 1};
    if (n == 0 || seg->n <= 3)
        return (bn_hl7_str_t){NULL, 0};
    bn_hl7_str_t rest = {seg->p + 4, seg->n - 4}; /* after the name and the separator */
    return bn_hl7__part(rest, e->fs, hdr ? n - 1 : n);
}

bn_hl7_str_t bn_hl7__get(const bn_hl7_enc_t *e, const bn_hl7_seg_t *seg, unsigned field,
                         unsigned rep, unsigned comp, unsigned sub)
{
    bn_hl7_str_t v = bn_hl7__field(e, seg, field);
    if (rep && v.n)
        v = bn_hl7__part(v, e->rs, rep);
    if (comp && v.n)
        v = bn_hl7__part(v, e->cs, comp);
    if (sub && v.n)
        v = bn_hl7__part(v, e->ss, sub);
    return v;
}

unsigned bn_hl7__reps(const bn_hl7_enc_t *e, bn_hl7_str_t field)
{
    unsigned n = field.n ? 1 : 0;
    for (size_t i = 0; i < field.n; i++)
        n += field.p[i] == e->rs;
    return n;
}

/* ---- escapes ------------------------------------------------------------------ */

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The bytes of one escape sequence body q[0..n) appended at out; false and *why on error. */
static bool unescape(const bn_hl7_enc_t *e, const char *q, size_t n, char *out, size_t *len,
                     size_t cap, const char **why)
{
    if (n == 1 && strchr("FSTREP", q[0])) {
        char c = q[0] == 'F' ? e->fs : q[0] == 'S' ? e->cs : q[0] == 'T' ? e->ss
               : q[0] == 'R' ? e->rs : q[0] == 'E' ? e->es : e->tc;
        if (!c) {
            *why = "escape \\P\\ but MSH-2 has no truncation character";
            return false;
        }
        out[(*len)++] = c;
        return true;
    }
    if (n == 1 && (q[0] == 'H' || q[0] == 'N'))
        return true; /* highlighting on/off: no meaning in plain text */
    if (n == 3 && memcmp(q, ".br", 3) == 0) {
        out[(*len)++] = '\n';
        return true;
    }
    if (n > 1 && q[0] == '.')
        return true; /* other formatted-text commands (.sp, .in, .ce ...) */
    if (q[0] == 'X' && n >= 3 && n % 2 == 1) {
        if (*len + n / 2 >= cap) {
            *why = "value too long";
            return false;
        }
        for (size_t i = 1; i < n; i += 2) {
            int hi = hexval(q[i]), lo = hexval(q[i + 1]);
            if (hi < 0 || lo < 0) {
                *why = "escape \\X..\\ holds a character that is not a hex digit";
                return false;
            }
            out[(*len)++] = (char)(hi * 16 + lo);
        }
        return true;
    }
    *why = q[0] == 'X'   ? "escape \\X..\\ needs an even number of hex digits"
           : q[0] == 'C' || q[0] == 'M' ? "character set escapes (\\C..\\, \\M..\\) are not supported"
           : q[0] == 'Z' ? "locally defined escapes (\\Z..\\) are not supported"
                         : "unknown escape sequence";
    return false;
}

/* v with its escape sequences replaced, into buf; false and *why on error. */
static bool unescape_all(const bn_hl7_enc_t *e, bn_hl7_str_t v, char *buf, size_t cap,
                         size_t *len, const char **why)
{
    for (size_t i = 0; i < v.n; i++) {
        if (*len + 1 >= cap) {
            *why = "value too long";
            return false;
        }
        if (v.p[i] != e->es) {
            buf[(*len)++] = v.p[i];
            continue;
        }
        const char *q = memchr(v.p + i + 1, e->es, v.n - i - 1);
        if (!q || q == v.p + i + 1) {
            *why = q ? "empty escape sequence" : "escape sequence not closed";
            return false;
        }
        size_t n = (size_t)(q - (v.p + i + 1));
        if (!unescape(e, v.p + i + 1, n, buf, len, cap, why))
            return false;
        i += n + 1;
    }
    return true;
}

bool bn_hl7__decode(const bn_hl7_enc_t *e, bn_hl7_str_t v, char *buf, size_t cap,
                    const char **why)
{
    size_t len = 0;
    *why = NULL;
    if (v.n && memchr(v.p, e->es, v.n)) {
        if (!unescape_all(e, v, buf, cap, &len, why))
            return false;
    } else if (v.n >= cap) {
        *why = "value too long";
        return false;
    } else if (v.n) {
        memcpy(buf, v.p, v.n);
        len = v.n;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        *why = "value contains a NUL byte";
        return false;
    }
    if (!bn_utf8_valid(buf, len)) {
        *why = "value is not valid UTF-8";
        return false;
    }
    return true;
}

/* ---- dates and places ---------------------------------------------------------- */

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* "+HHMM" or "-HHMM" with HH <= 23 and MM <= 59. */
static bool valid_tz(bn_hl7_str_t z)
{
    if (z.n != 5 || (z.p[0] != '+' && z.p[0] != '-'))
        return false;
    for (int i = 1; i < 5; i++)
        if (!is_digit(z.p[i]))
            return false;
    return num(z.p + 1, 2) <= 23 && num(z.p + 3, 2) <= 59;
}

bn_hl7_str_t bn_hl7__dtm_tz(bn_hl7_str_t v)
{
    if (v.n >= 5 && (v.p[v.n - 5] == '+' || v.p[v.n - 5] == '-'))
        return (bn_hl7_str_t){v.p + v.n - 5, 5};
    return (bn_hl7_str_t){NULL, 0};
}

bool bn_hl7__dtm(bn_hl7_str_t v, bn_hl7_str_t def_tz, char *out, char *date_out)
{
    size_t nd = 0, i;
    while (nd < v.n && is_digit(v.p[nd]))
        nd++;
    if (nd < 8 || nd > 14 || nd % 2)
        return false;
    bn_hl7_str_t frac = {NULL, 0}, tz = bn_hl7__dtm_tz(v);
    i = nd;
    if (i < v.n && v.p[i] == '.' && nd == 14) {
        frac.p = v.p + i + 1;
        while (i + 1 < v.n && is_digit(v.p[i + 1]) && frac.n < 4)
            i++, frac.n++;
        i++;
        if (frac.n == 0)
            return false;
    }
    if (i != v.n - tz.n || (tz.n && !valid_tz(tz)))
        return false;
    char date[11];
    snprintf(date, sizeof date, "%.4s-%.2s-%.2s", v.p, v.p + 4, v.p + 6);
    if (!bn_valid_date(date))
        return false;
    if (date_out)
        memcpy(date_out, date, sizeof date);
    int hh = nd >= 10 ? num(v.p + 8, 2) : 0, mi = nd >= 12 ? num(v.p + 10, 2) : 0;
    int ss = nd >= 14 ? num(v.p + 12, 2) : 0;
    if (hh > 23 || mi > 59 || ss > 59)
        return false;
    if (!tz.n && valid_tz(def_tz))
        tz = def_tz;
    if (nd < 10 || !tz.n) {
        memcpy(out, date, sizeof date);
        return true;
    }
    char *o = out; /* YYYY-MM-DDTHH:MM:SS[.ffff]+HH:MM, at most 36 bytes */
    memcpy(o, date, 10);
    memcpy(o + 10, "T00:00:00", 9);
    memcpy(o + 11, v.p + 8, 2);
    if (nd >= 12)
        memcpy(o + 14, v.p + 10, 2);
    if (nd >= 14)
        memcpy(o + 17, v.p + 12, 2);
    o += 19;
    if (frac.n) {
        *o++ = '.';
        memcpy(o, frac.p, frac.n);
        o += frac.n;
    }
    o[0] = tz.p[0];
    memcpy(o + 1, tz.p + 1, 2);
    o[3] = ':';
    memcpy(o + 4, tz.p + 3, 2);
    o[6] = '\0';
    return true;
}

const char *bn_hl7__where(const bn_hl7_msg_t *m, const bn_hl7_seg_t *seg, unsigned field,
                          unsigned rep, unsigned comp, unsigned sub, char *buf, size_t size)
{
    unsigned k = 0;
    for (size_t i = 0; i < m->nseg; i++) {
        k += bn_hl7__is(&m->segs[i], seg->name);
        if (&m->segs[i] == seg)
            break;
    }
    char at[64] = "", idx[16] = "";
    if (!bn_hl7__is(seg, "MSH"))
        snprintf(idx, sizeof idx, "[%u]", k);
    if (field) {
        int w = snprintf(at, sizeof at, "-%u", field);
        if (rep > 1)
            w += snprintf(at + w, sizeof at - (size_t)w, "(%u)", rep);
        if (comp)
            w += snprintf(at + w, sizeof at - (size_t)w, ".%u", comp);
        if (sub)
            snprintf(at + w, sizeof at - (size_t)w, ".%u", sub);
    }
    snprintf(buf, size, "message %u, %s%s%s (line %u)", m->number, seg->name, idx, at, seg->line);
    return buf;
}
