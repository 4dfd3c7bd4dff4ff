/* hl7v2.c: adapter "hl7v2": HL7 v2.x ER7 VXU^V04 (immunisations) and REF^I12-I14 (referrals).
 *
 * The payload is one message, several MSH-led messages one after another, or
 * FHS/BHS batches of them (hl7v2_parse.c reads the bytes). Each VXU yields one
 * event per RXA, each REF one referral event; every event gets its own copy
 * of the subject from PID. Other message types are refused, or skipped when
 * the agency's settings list them in ignore_types. Events are built directly
 * as protobuf-c structs (malloc'ed strings, see adapter.h) because this is on
 * the hub's hot path. Errors name the place ("message 2, RXA[1]-5.1 (line 7)")
 * and never echo names, NIKs or dates of birth. docs/adapters-hl7v2.md is the
 * user's description of every mapping made here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters_internal.h"
#include "hl7v2_parse.h"
#include "validate.h"

#define MAX_TEXT BN_VALIDATE_MAX_STRING

typedef struct {
    char *key, *agency;
} provider_t;

typedef struct {
    char *nik_type;        /* PID-3 CX-5 type code or CX-4 namespace of the NIK */
    unsigned village_comp; /* PID-11 component giving the village (3: city) */
    bool facility_msh4;    /* facility always from MSH-4, not RXA-11 */
    char **ignore;         /* message types ("ADT" or "ADT^A01") that yield no events */
    size_t n_ignore;
    provider_t *providers; /* PRD identifier or name -> benang agency id */
    size_t n_providers;
} settings_t;

static const settings_t default_settings = {.nik_type = (char *)"NIK", .village_comp = 3};

/* One translate call. */
typedef struct {
    const bn_adapter_ctx_t *ctx;
    const settings_t *set;
    bn_hl7_msg_t msg;
    bn_hl7_str_t def_tz; /* MSH-7's offset: the sender's zone for times without one */
    bn_event_list_t *out;
    size_t first;
    bn_error_t *err;
    char buf[MAX_TEXT + 1];  /* the last decoded value */
    char join[MAX_TEXT + 1]; /* names put together from parts */
} tx_t;

/* ---- settings ------------------------------------------------------------------ */

static void settings_free(void *p)
{
    settings_t *s = p;
    if (!s)
        return;
    free(s->nik_type);
    for (size_t i = 0; i < s->n_ignore; i++)
        free(s->ignore[i]);
    free(s->ignore);
    for (size_t i = 0; i < s->n_providers; i++) {
        free(s->providers[i].key);
        free(s->providers[i].agency);
    }
    free(s->providers);
    free(s);
}

static bn_status_t need_scalar(const bn_node_t *n, const char *key, bn_error_t *err)
{
    if (n->kind != BN_NODE_SCALAR || !*n->scalar)
        return bn_node_error(err, BN_CONFIG, n, "%s must be a non-empty text", key);
    return BN_OK;
}

static bn_status_t set_ignore(settings_t *s, const bn_node_t *n, bn_error_t *err)
{
    if (n->kind != BN_NODE_SEQ)
        return bn_node_error(err, BN_CONFIG, n, "ignore_types must be a list such as [ADT, ORU^R01]");
    if (!(s->ignore = calloc(n->n ? n->n : 1, sizeof *s->ignore)))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        bn_status_t st = need_scalar(n->items[i], "ignore_types[]", err);
        if (st != BN_OK)
            return st;
        if (!(s->ignore[s->n_ignore] = strdup(n->items[i]->scalar)))
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        s->n_ignore++;
    }
    return BN_OK;
}

static bn_status_t set_providers(settings_t *s, const bn_node_t *n, bn_error_t *err)
{
    if (n->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, n,
                             "providers must map PRD identifiers or names to agency ids");
    if (!(s->providers = calloc(n->n ? n->n : 1, sizeof *s->providers)))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        bn_status_t st = need_scalar(n->items[i], "providers value", err);
        if (st != BN_OK)
            return st;
        provider_t *p = &s->providers[s->n_providers++];
        if (!(p->key = strdup(n->keys[i])) || !(p->agency = strdup(n->items[i]->scalar)))
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    return BN_OK;
}

static bn_status_t set_key(settings_t *s, const char *key, const bn_node_t *v, bn_error_t *err)
{
    bn_status_t st = BN_OK;
    if (!strcmp(key, "ignore_types"))
        return set_ignore(s, v, err);
    if (!strcmp(key, "providers"))
        return set_providers(s, v, err);
    if ((st = need_scalar(v, key, err)) != BN_OK)
        return st;
    if (!strcmp(key, "nik_identifier_type")) {
        free(s->nik_type);
        if (!(s->nik_type = strdup(v->scalar)))
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    } else if (!strcmp(key, "facility_from")) {
        if (strcmp(v->scalar, "msh4") && strcmp(v->scalar, "rxa11"))
            return bn_node_error(err, BN_CONFIG, v, "facility_from must be msh4 or rxa11");
        s->facility_msh4 = !strcmp(v->scalar, "msh4");
    } else if (!strcmp(key, "village_component")) {
        char *end;
        long c = strtol(v->scalar, &end, 10);
        if (*end || c < 1 || c > 14)
            return bn_node_error(err, BN_CONFIG, v,
                                 "village_component must be a PID-11 component number 1-14");
        s->village_comp = (unsigned)c;
    } else {
        return bn_node_error(err, BN_CONFIG, v,
                             "unknown hl7v2 setting \"%s\" (known: nik_identifier_type, providers, "
                             "ignore_types, facility_from, village_component)",
                             key);
    }
    return BN_OK;
}

static bn_status_t settings_new(const bn_node_t *node, void **out, bn_error_t *err)
{
    *out = NULL;
    if (!node)
        return BN_OK;
    if (node->kind != BN_NODE_MAP)
        return bn_node_error(err, BN_CONFIG, node, "hl7v2 settings must be a map");
    settings_t *s = calloc(1, sizeof *s);
    if (!s || !(s->nik_type = strdup("NIK"))) {
        free(s);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    s->village_comp = 3;
    for (size_t i = 0; i < node->n; i++) {
        bn_status_t st = set_key(s, node->keys[i], node->items[i], err);
        if (st != BN_OK) {
            settings_free(s);
            return st;
        }
    }
    *out = s;
    return BN_OK;
}

/* ---- values -------------------------------------------------------------------- */

static bn_status_t fail(tx_t *t, const bn_hl7_seg_t *s, unsigned f, unsigned r, unsigned c,
                        unsigned sc, bn_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static bn_status_t fail(tx_t *t, const bn_hl7_seg_t *s, unsigned f, unsigned r, unsigned c,
                        unsigned sc, bn_status_t st, const char *fmt, ...)
{
    char where[96];
    bn_hl7__where(&t->msg, s, f, r, c, sc, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(t->err, st, 0, where, fmt, ap);
    va_end(ap);
    return st;
}

static bn_status_t nomem(tx_t *t)
{
    return bn_error_set(t->err, BN_NOMEM, 0, NULL, "out of memory");
}

/* The decoded text of s-f(r).c.sc (0: all of it) in t->buf, valid until the next call. */
static bn_status_t text(tx_t *t, const bn_hl7_seg_t *s, unsigned f, unsigned r, unsigned c,
                        unsigned sc, const char **out)
{
    const char *why;
    bn_hl7_str_t v = bn_hl7__get(&t->msg.enc, s, f, r, c, sc);
    *out = t->buf;
    if (bn_hl7__decode(&t->msg.enc, v, t->buf, sizeof t->buf, &why)) {
        size_t n = strlen(t->buf); /* blanks around a value carry no meaning in HL7 */
        while (n && t->buf[n - 1] == ' ')
            t->buf[--n] = '\0';
        while (**out == ' ')
            (*out)++;
        return BN_OK;
    }
    if (!strcmp(why, "value too long"))
        return fail(t, s, f, r, c, sc, BN_BAD_PAYLOAD, "value longer than %d bytes", MAX_TEXT);
    return fail(t, s, f, r, c, sc, BN_BAD_PAYLOAD, "%s", why);
}

/* Decode s-f(r).c.sc into a protobuf-c string field. */
static bn_status_t put(tx_t *t, char **field, const bn_hl7_seg_t *s, unsigned f, unsigned r,
                       unsigned c, unsigned sc)
{
    const char *v;
    bn_status_t st = text(t, s, f, r, c, sc, &v);
    if (st == BN_OK && *v && bn_pb_set_string(field, v) != BN_OK)
        return nomem(t);
    return st;
}

/* True when the raw value of s-f(r).c.sc is exactly code (codes hold no escapes). */
static bool is_code(const tx_t *t, const bn_hl7_seg_t *s, unsigned f, unsigned r, unsigned c,
                    const char *code)
{
    bn_hl7_str_t v = bn_hl7__get(&t->msg.enc, s, f, r, c, c ? 1 : 0);
    return v.n == strlen(code) && (v.n == 0 || memcmp(v.p, code, v.n) == 0);
}

/* Parts {component, subcomponent} of s-f(r) joined by single spaces (a person's name). */
static bn_status_t put_joined(tx_t *t, char **field, const bn_hl7_seg_t *s, unsigned f,
                              unsigned r, const unsigned (*parts)[2], size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v;
        bn_status_t st = text(t, s, f, r, parts[i][0], parts[i][1], &v);
        if (st != BN_OK)
            return st;
        size_t k = strlen(v);
        if (!k)
            continue;
        if (len + k + 1 > MAX_TEXT)
            return fail(t, s, f, r, 0, 0, BN_BAD_PAYLOAD, "value longer than %d bytes", MAX_TEXT);
        if (len)
            t->join[len++] = ' ';
        memcpy(t->join + len, v, k);
        len += k;
    }
    t->join[len] = '\0';
    if (len && bn_pb_set_string(field, t->join) != BN_OK)
        return nomem(t);
    return BN_OK;
}

static const char *const systems[][2] = {
    {"CVX", "http://hl7.org/fhir/sid/cvx"},
    {"NDC", "http://hl7.org/fhir/sid/ndc"},
};

/* A CE/CWE at s-f(r) as a Coding: code^text^system, or the alternate triple
 * (components 4-6) when the first has no code. *got is false when neither
 * has a code; need_system refuses a code without a coding system. */
static bn_status_t put_coding(tx_t *t, Benang__V1__Coding **out, const bn_hl7_seg_t *s,
                              unsigned f, unsigned r, bool need_system, bool *got)
{
    unsigned c = bn_hl7__get(&t->msg.enc, s, f, r, 1, 0).n ? 1 : 4;
    *got = bn_hl7__get(&t->msg.enc, s, f, r, c, 0).n > 0;
    if (!*got)
        return BN_OK;
    bn_hl7_str_t sys = bn_hl7__get(&t->msg.enc, s, f, r, c + 2, 0);
    if (!sys.n && need_system)
        return fail(t, s, f, r, c + 2, 0, BN_BAD_PAYLOAD,
                    "coding system missing (e.g. CVX or NDC) for the code in component %u", c);
    Benang__V1__Coding *cd = *out = malloc(sizeof *cd);
    if (!cd)
        return nomem(t);
    benang__v1__coding__init(cd);
    bn_status_t st = put(t, &cd->code, s, f, r, c, 0);
    if (st == BN_OK)
        st = put(t, &cd->display, s, f, r, c + 1, 0);
    const char *v = NULL;
    if (st == BN_OK && sys.n)
        st = text(t, s, f, r, c + 2, 0, &v);
    if (st != BN_OK || !v)
        return st;
    for (size_t i = 0; i < sizeof systems / sizeof systems[0]; i++)
        if (!strcmp(v, systems[i][0]))
            return bn_pb_set_string(&cd->system, systems[i][1]) == BN_OK ? BN_OK : nomem(t);
    size_t n = strlen(v) + sizeof "urn:hl7v2:";
    if (!(cd->system = malloc(n)))
        return nomem(t);
    snprintf(cd->system, n, "urn:hl7v2:%s", v);
    return BN_OK;
}

/* A DTM at s-f as RFC 3339 (at) and as a date (on, may be NULL); *got false when empty. */
static bn_status_t when(tx_t *t, const bn_hl7_seg_t *s, unsigned f, char *at, char *on, bool *got)
{
    bn_hl7_str_t v = bn_hl7__get(&t->msg.enc, s, f, 1, 1, 0);
    *got = v.n > 0;
    if (v.n && !bn_hl7__dtm(v, t->def_tz, at, on))
        return fail(t, s, f, 0, 0, 0, BN_BAD_PAYLOAD,
                    "not a valid HL7 date/time YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]");
    return BN_OK;
}

/* ---- subject (PID) --------------------------------------------------------------- */

static const bn_hl7_seg_t *find(const tx_t *t, const char *name)
{
    for (size_t i = 0; i < t->msg.nseg; i++)
        if (bn_hl7__is(&t->msg.segs[i], name))
            return &t->msg.segs[i];
    return NULL;
}

/* PID-3: the NIK from the repetition typed (CX-5) or issued (CX-4) as the
 * settings say, local_id from the first other repetition with an id. */
static bn_status_t subject_ids(tx_t *t, const bn_hl7_seg_t *pid, Benang__V1__Subject *sj)
{
    const char *nt = t->set->nik_type;
    unsigned n = bn_hl7__reps(&t->msg.enc, bn_hl7__field(&t->msg.enc, pid, 3));
    for (unsigned r = 1; r <= n; r++) {
        if (!bn_hl7__get(&t->msg.enc, pid, 3, r, 1, 0).n)
            continue;
        bool nik = is_code(t, pid, 3, r, 5, nt) || is_code(t, pid, 3, r, 4, nt);
        char **field = nik ? &sj->nik : &sj->local_id;
        if (**field)
            continue;
        bn_status_t st = put(t, field, pid, 3, r, 1, 0);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static Benang__V1__Sex sex_of(bn_hl7_str_t v)
{
    static const char codes[] = "FMOUAN";
    static const Benang__V1__Sex sexes[] = {BENANG__V1__SEX__SEX_FEMALE, BENANG__V1__SEX__SEX_MALE,
                                            BENANG__V1__SEX__SEX_OTHER, BENANG__V1__SEX__SEX_UNKNOWN,
                                            BENANG__V1__SEX__SEX_OTHER, BENANG__V1__SEX__SEX_UNKNOWN};
    const char *c = v.n == 1 ? strchr(codes, v.p[0]) : NULL;
    return c && *c ? sexes[c - codes] : BENANG__V1__SEX__SEX_UNSPECIFIED;
}

static bn_status_t subject_new(tx_t *t, Benang__V1__Subject **out)
{
    static const unsigned name_parts[][2] = {{2, 0}, {3, 0}, {1, 1}}; /* given, middle, family */
    const bn_hl7_seg_t *pid = find(t, "PID");
    if (!pid)
        return fail(t, &t->msg.segs[0], 0, 0, 0, 0, BN_BAD_PAYLOAD,
                    "the message has no PID segment (the subject)");
    Benang__V1__Subject *sj = *out = malloc(sizeof *sj);
    if (!sj)
        return nomem(t);
    benang__v1__subject__init(sj);
    bn_status_t st = subject_ids(t, pid, sj);
    if (st == BN_OK)
        st = put_joined(t, &sj->name, pid, 5, 1, name_parts, 3);
    bn_hl7_str_t dob = bn_hl7__get(&t->msg.enc, pid, 7, 1, 1, 0);
    if (st == BN_OK && dob.n >= 8) { /* a year or year-month alone cannot be a YYYY-MM-DD */
        char at[40], on[11];
        if (!bn_hl7__dtm(dob, (bn_hl7_str_t){NULL, 0}, at, on))
            return fail(t, pid, 7, 0, 0, 0, BN_BAD_PAYLOAD,
                        "birth date is not a valid HL7 date YYYYMMDD");
        if (bn_pb_set_string(&sj->birth_date, on) != BN_OK)
            return nomem(t);
    }
    sj->sex = sex_of(bn_hl7__get(&t->msg.enc, pid, 8, 1, 1, 0));
    if (st == BN_OK)
        st = put(t, &sj->village, pid, 11, 1, t->set->village_comp, 1);
    return st;
}

static bn_status_t subject_dup(tx_t *t, const Benang__V1__Subject *src, Benang__V1__Subject **out)
{
    Benang__V1__Subject *sj = *out = malloc(sizeof *sj);
    if (!sj)
        return nomem(t);
    benang__v1__subject__init(sj);
    sj->sex = src->sex;
    if (bn_pb_set_string(&sj->nik, src->nik) || bn_pb_set_string(&sj->local_id, src->local_id) ||
        bn_pb_set_string(&sj->name, src->name) ||
        bn_pb_set_string(&sj->birth_date, src->birth_date) ||
        bn_pb_set_string(&sj->village, src->village))
        return nomem(t);
    return BN_OK;
}

/* A new event of this message with a copy of the subject. */
static bn_status_t event_new(tx_t *t, const Benang__V1__Subject *sj, Benang__V1__Event **out)
{
    Benang__V1__Event *ev = *out = malloc(sizeof *ev);
    if (!ev)
        return nomem(t);
    benang__v1__event__init(ev);
    return subject_dup(t, sj, &ev->subject);
}

/* Hand ev to the output list (it is freed here on failure). */
static bn_status_t emit(tx_t *t, Benang__V1__Event **ev)
{
    if (t->ctx && t->ctx->max_events && t->out->len - t->first >= t->ctx->max_events) {
        protobuf_c_message_free_unpacked(&(*ev)->base, NULL);
        *ev = NULL;
        return bn_error_set(t->err, BN_TOO_LARGE, 0, "payload", "more than %zu events",
                            t->ctx->max_events);
    }
    if (bn_event_list_push(t->out, ev) != BN_OK) {
        protobuf_c_message_free_unpacked(&(*ev)->base, NULL);
        *ev = NULL;
        return nomem(t);
    }
    return BN_OK;
}

/* ---- VXU^V04: one immunisation per RXA ------------------------------------------- */

/* ORC-3 (filler order number), else ORC-2 (placer), else MSH-10 "-" the RXA's number. */
static bn_status_t rxa_source_id(tx_t *t, Benang__V1__Event *ev, const bn_hl7_seg_t *orc,
                                 unsigned idx)
{
    for (unsigned f = 3; orc && f >= 2; f--)
        if (bn_hl7__get(&t->msg.enc, orc, f, 1, 1, 0).n)
            return put(t, &ev->source_id, orc, f, 1, 1, 0);
    const bn_hl7_seg_t *msh = &t->msg.segs[0];
    const char *id;
    bn_status_t st = text(t, msh, 10, 1, 1, 0, &id);
    if (st != BN_OK)
        return st;
    if (!*id)
        return fail(t, msh, 10, 0, 0, 0, BN_BAD_PAYLOAD,
                    "message control id missing: RXA number %u has no ORC-3/ORC-2 and its "
                    "source_id is MSH-10 \"-\" %u",
                    idx, idx);
    snprintf(t->join, sizeof t->join, "%.*s-%u", MAX_TEXT - 16, id, idx);
    return bn_pb_set_string(&ev->source_id, t->join) == BN_OK ? BN_OK : nomem(t);
}

/* RXA-20 completion status, RXA-18 refusal reason, RXA-21 action code. */
static bn_status_t rxa_status(tx_t *t, const bn_hl7_seg_t *rxa, Benang__V1__Immunisation *im)
{
    bool got;
    im->status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED;
    if (is_code(t, rxa, 20, 1, 1, "RE") || is_code(t, rxa, 20, 1, 1, "NA")) {
        im->status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE;
        bn_status_t st = put_coding(t, &im->status_reason, rxa, 18, 1, false, &got);
        if (st != BN_OK)
            return st;
    } else if (bn_hl7__get(&t->msg.enc, rxa, 20, 1, 1, 0).n && !is_code(t, rxa, 20, 1, 1, "CP") &&
               !is_code(t, rxa, 20, 1, 1, "PA")) {
        return fail(t, rxa, 20, 0, 0, 0, BN_BAD_PAYLOAD,
                    "completion status is not one of CP, PA, RE, NA (HL7 table 0322)");
    }
    if (is_code(t, rxa, 21, 1, 1, "D"))
        im->status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_ENTERED_IN_ERROR;
    return BN_OK;
}

/* RXA-10 performer, RXA-11 (or MSH-4) facility, RXA-15 lot. */
static bn_status_t rxa_who(tx_t *t, const bn_hl7_seg_t *rxa, Benang__V1__Immunisation *im)
{
    static const unsigned xcn[][2] = {{3, 0}, {4, 0}, {2, 1}}; /* given, middle, family */
    bn_status_t st = put_joined(t, &im->performer, rxa, 10, 1, xcn, 3);
    if (st == BN_OK && !*im->performer)
        st = put(t, &im->performer, rxa, 10, 1, 1, 0);
    if (st == BN_OK)
        st = put(t, &im->lot_number, rxa, 15, 1, 1, 0);
    if (st != BN_OK)
        return st;
    /* a historical record (RXA-9 "01") was not given by the sending facility */
    bool historical = is_code(t, rxa, 9, 1, 1, "01");
    if (!t->set->facility_msh4 && bn_hl7__get(&t->msg.enc, rxa, 11, 1, 4, 1).n)
        return put(t, &im->facility, rxa, 11, 1, 4, 1);
    if (!historical)
        return put(t, &im->facility, &t->msg.segs[0], 4, 1, 1, 0);
    return BN_OK;
}

static bn_status_t rxa_event(tx_t *t, const bn_hl7_seg_t *rxa, const bn_hl7_seg_t *orc,
                             unsigned idx, const Benang__V1__Subject *sj, Benang__V1__Event **out)
{
    char at[40], on[11];
    bool got;
    bn_status_t st = event_new(t, sj, out);
    Benang__V1__Event *ev = *out;
    if (st == BN_OK)
        st = rxa_source_id(t, ev, orc, idx);
    if (st == BN_OK && (st = when(t, rxa, 3, at, on, &got)) == BN_OK && !got)
        st = fail(t, rxa, 3, 0, 0, 0, BN_BAD_PAYLOAD, "administration date/time is missing");
    if (st != BN_OK)
        return st;
    Benang__V1__Immunisation *im = malloc(sizeof *im);
    if (!im)
        return nomem(t);
    benang__v1__immunisation__init(im);
    ev->body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev->immunisation = im;
    if (bn_pb_set_string(&ev->occurred_at, at) || bn_pb_set_string(&im->administered_on, on))
        return nomem(t);
    if ((st = put_coding(t, &im->vaccine, rxa, 5, 1, true, &got)) == BN_OK && !got)
        return fail(t, rxa, 5, 0, 1, 0, BN_BAD_PAYLOAD, "vaccine code missing");
    if (st == BN_OK)
        st = rxa_who(t, rxa, im);
    return st == BN_OK ? rxa_status(t, rxa, im) : st;
}

/* Text (component 2) of a coded field, else its code. */
static bn_status_t put_text_or_code(tx_t *t, char **field, const bn_hl7_seg_t *s, unsigned f)
{
    unsigned c = bn_hl7__get(&t->msg.enc, s, f, 1, 2, 0).n ? 2 : 1;
    return put(t, field, s, f, 1, c, 0);
}

/* An OBX after an RXA: LOINC 30973-2 is the dose number in the series. */
static bn_status_t obx_dose(tx_t *t, const bn_hl7_seg_t *obx, Benang__V1__Immunisation *im)
{
    if (!is_code(t, obx, 3, 1, 1, "30973-2"))
        return BN_OK;
    bn_hl7_str_t v = bn_hl7__get(&t->msg.enc, obx, 5, 1, 1, 0);
    unsigned n = 0;
    bool ok = v.n >= 1 && v.n <= 3;
    for (size_t i = 0; ok && i < v.n; i++) {
        ok = v.p[i] >= '0' && v.p[i] <= '9';
        n = n * 10 + (unsigned)(v.p[i] - '0');
    }
    if (!ok || n == 0)
        return fail(t, obx, 5, 0, 0, 0, BN_BAD_PAYLOAD,
                    "dose number (OBX-3 30973-2) is not a whole number 1-999");
    im->dose_number = n;
    return BN_OK;
}

/* The segment of an order group that follows its RXA (RXR, OBX). */
static bn_status_t rxa_detail(tx_t *t, const bn_hl7_seg_t *s, Benang__V1__Immunisation *im)
{
    if (bn_hl7__is(s, "OBX"))
        return obx_dose(t, s, im);
    if (!bn_hl7__is(s, "RXR"))
        return BN_OK;
    bn_status_t st = put_text_or_code(t, &im->route, s, 1);
    return st == BN_OK ? put_text_or_code(t, &im->site, s, 2) : st;
}

static bn_status_t vxu(tx_t *t)
{
    Benang__V1__Subject *sj = NULL;
    Benang__V1__Event *cur = NULL;
    const bn_hl7_seg_t *orc = NULL;
    unsigned idx = 0;
    bn_status_t st = subject_new(t, &sj);
    for (size_t i = 1; st == BN_OK && i < t->msg.nseg; i++) {
        const bn_hl7_seg_t *s = &t->msg.segs[i];
        bool is_orc = bn_hl7__is(s, "ORC"), is_rxa = bn_hl7__is(s, "RXA");
        if (cur && (is_orc || is_rxa) && (st = emit(t, &cur)) != BN_OK)
            break;
        if (is_orc)
            orc = s;
        else if (is_rxa)
            st = rxa_event(t, s, orc, ++idx, sj, &cur), orc = NULL;
        else if (cur)
            st = rxa_detail(t, s, cur->immunisation);
    }
    if (st == BN_OK && cur)
        st = emit(t, &cur);
    if (cur)
        protobuf_c_message_free_unpacked(&cur->base, NULL);
    if (sj)
        protobuf_c_message_free_unpacked(&sj->base, NULL);
    return st;
}

/* ---- REF^I12-I14: one referral ------------------------------------------------------ */

typedef struct {
    const char *code;
    int value;
} code_map_t;

/* The value of the raw code s-f.1 in map (n entries); *ok false for an unknown code. */
static int map_code(const tx_t *t, const bn_hl7_seg_t *s, unsigned f, const code_map_t *map,
                    size_t n, bool *ok)
{
    *ok = true;
    for (size_t i = 0; i < n; i++)
        if (is_code(t, s, f, 1, 1, map[i].code))
            return map[i].value;
    *ok = false;
    return 0;
}

static bn_status_t ref_codes(tx_t *t, const bn_hl7_seg_t *rf1, bool cancel, Benang__V1__Referral *rf)
{
    static const code_map_t status[] = { /* HL7 table 0283 */
        {"", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
        {"P", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
        {"A", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED},
        {"R", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REJECTED},
        {"E", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED}};
    static const code_map_t priority[] = { /* HL7 table 0280, plus U */
        {"", BENANG__V1__PRIORITY__PRIORITY_UNSPECIFIED},
        {"R", BENANG__V1__PRIORITY__PRIORITY_ROUTINE},
        {"U", BENANG__V1__PRIORITY__PRIORITY_URGENT},
        {"A", BENANG__V1__PRIORITY__PRIORITY_ASAP},
        {"S", BENANG__V1__PRIORITY__PRIORITY_STAT}};
    bool ok;
    rf->status = map_code(t, rf1, 1, status, 5, &ok);
    if (!ok)
        return fail(t, rf1, 1, 0, 1, 0, BN_BAD_PAYLOAD,
                    "referral status is not one of P, A, R, E (HL7 table 0283)");
    if (cancel)
        rf->status = BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED;
    rf->priority = map_code(t, rf1, 2, priority, 5, &ok);
    if (!ok)
        return fail(t, rf1, 2, 0, 1, 0, BN_BAD_PAYLOAD,
                    "referral priority is not one of S, A, R, U (HL7 table 0280)");
    bool got;
    bn_status_t st = put_coding(t, &rf->reason, rf1, 10, 1, false, &got);
    return st == BN_OK ? put(t, &rf->reason_text, rf1, 10, 1, 2, 0) : st;
}

/* Look key up in the providers map; note it in tried ("a, b"). */
static const char *provider_lookup(tx_t *t, const char *key, char *tried, size_t size)
{
    size_t n = strlen(tried);
    if (!*key)
        return NULL;
    if (n < size)
        snprintf(tried + n, size - n, "%s%.40s", n ? ", " : "", key);
    for (size_t i = 0; i < t->set->n_providers; i++)
        if (!strcmp(t->set->providers[i].key, key))
            return t->set->providers[i].agency;
    return NULL;
}

/* The agency of a PRD: its PRD-7 identifiers, PRD-10 organisation, PRD-4 facility. */
static bn_status_t provider_agency(tx_t *t, const bn_hl7_seg_t *prd, const char **agency,
                                   char *tried, size_t size)
{
    static const unsigned keys[][3] = {{10, 1, 0}, {4, 4, 1}}; /* field, comp, sub */
    unsigned n = bn_hl7__reps(&t->msg.enc, bn_hl7__field(&t->msg.enc, prd, 7));
    const char *v;
    *agency = NULL;
    tried[0] = '\0';
    for (unsigned r = 1; r <= n + 2 && !*agency; r++) {
        bool id = r <= n;
        unsigned f = id ? 7 : keys[r - n - 1][0], c = id ? 1 : keys[r - n - 1][1];
        bn_status_t st = text(t, prd, f, id ? r : 1, c, id ? 0 : keys[r - n - 1][2], &v);
        if (st != BN_OK)
            return st;
        *agency = provider_lookup(t, v, tried, size);
    }
    return BN_OK;
}

/* PRD role RP gives from_agency (default: the publishing agency), RT to_agency. */
static bn_status_t ref_agencies(tx_t *t, const bn_hl7_seg_t *rf1, Benang__V1__Referral *rf)
{
    const char *from = t->ctx ? t->ctx->agency : NULL, *to = NULL, *a;
    char tried[160];
    for (size_t i = 1; i < t->msg.nseg; i++) {
        const bn_hl7_seg_t *s = &t->msg.segs[i];
        bool rp = bn_hl7__is(s, "PRD") && is_code(t, s, 1, 1, 1, "RP");
        bool rt = bn_hl7__is(s, "PRD") && is_code(t, s, 1, 1, 1, "RT");
        if (!rp && !rt)
            continue;
        bn_status_t st = provider_agency(t, s, &a, tried, sizeof tried);
        if (st != BN_OK)
            return st;
        if (rp && a)
            from = a;
        if (rt && !a)
            return fail(t, s, 0, 0, 0, 0, BN_INVALID_EVENT,
                        "the referred-to provider (PRD-1 RT) maps to no agency: list one of its "
                        "identifiers or names (%s) under settings hl7v2.providers",
                        tried[0] ? tried : "none given");
        if (rt && !to)
            to = a;
    }
    if (!to)
        return fail(t, rf1, 0, 0, 0, 0, BN_BAD_PAYLOAD,
                    "no PRD segment with role RT (referred-to provider): to_agency is required");
    if (bn_pb_set_string(&rf->to_agency, to) || (from && bn_pb_set_string(&rf->from_agency, from)))
        return nomem(t);
    return BN_OK;
}

/* RF1-6 referral id (else MSH-10) as referral_id and source_id; RF1-7 (else MSH-7) dates. */
static bn_status_t ref_ids(tx_t *t, const bn_hl7_seg_t *rf1, Benang__V1__Event *ev,
                           Benang__V1__Referral *rf)
{
    const bn_hl7_seg_t *msh = &t->msg.segs[0];
    bool has6 = bn_hl7__get(&t->msg.enc, rf1, 6, 1, 1, 0).n > 0, got;
    bn_status_t st = has6 ? put(t, &rf->referral_id, rf1, 6, 1, 1, 0)
                          : put(t, &rf->referral_id, msh, 10, 1, 1, 0);
    if (st == BN_OK && !*rf->referral_id)
        return fail(t, msh, 10, 0, 0, 0, BN_BAD_PAYLOAD,
                    "no referral id: RF1-6 and MSH-10 are both empty");
    if (st != BN_OK || bn_pb_set_string(&ev->source_id, rf->referral_id))
        return st != BN_OK ? st : nomem(t);
    char at[40], on[11];
    if ((st = when(t, rf1, 7, at, on, &got)) == BN_OK && got) {
        if (bn_pb_set_string(&rf->requested_on, on))
            return nomem(t);
    } else if (st == BN_OK && (st = when(t, msh, 7, at, NULL, &got)) == BN_OK && !got) {
        return fail(t, msh, 7, 0, 0, 0, BN_BAD_PAYLOAD, "no date: RF1-7 and MSH-7 are both empty");
    }
    if (st == BN_OK && bn_pb_set_string(&ev->occurred_at, at))
        return nomem(t);
    return st;
}

static bn_status_t ref(tx_t *t, bool cancel)
{
    const bn_hl7_seg_t *rf1 = find(t, "RF1");
    if (!rf1)
        return fail(t, &t->msg.segs[0], 0, 0, 0, 0, BN_BAD_PAYLOAD,
                    "the REF message has no RF1 segment");
    Benang__V1__Subject *sj = NULL;
    Benang__V1__Event *ev = NULL;
    bn_status_t st = subject_new(t, &sj);
    if (st == BN_OK)
        st = event_new(t, sj, &ev);
    Benang__V1__Referral *rf = st == BN_OK ? malloc(sizeof *rf) : NULL;
    if (st == BN_OK && !rf)
        st = nomem(t);
    if (st == BN_OK) {
        benang__v1__referral__init(rf);
        ev->body_case = BENANG__V1__EVENT__BODY_REFERRAL;
        ev->referral = rf;
        st = ref_ids(t, rf1, ev, rf);
    }
    if (st == BN_OK)
        st = ref_codes(t, rf1, cancel, rf);
    if (st == BN_OK)
        st = ref_agencies(t, rf1, rf);
    if (st == BN_OK)
        st = emit(t, &ev);
    if (ev)
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    if (sj)
        protobuf_c_message_free_unpacked(&sj->base, NULL);
    return st;
}

/* ---- messages ------------------------------------------------------------------------ */

static bool short_code(bn_hl7_str_t v, bool may_be_empty)
{
    if (v.n > 3 || (!v.n && !may_be_empty))
        return false;
    for (size_t i = 0; i < v.n; i++)
        if (!((v.p[i] >= 'A' && v.p[i] <= 'Z') || (v.p[i] >= '0' && v.p[i] <= '9')))
            return false;
    return true;
}

static bn_status_t message(tx_t *t)
{
    const bn_hl7_seg_t *msh = &t->msg.segs[0];
    bn_hl7_str_t code = bn_hl7__get(&t->msg.enc, msh, 9, 1, 1, 0);
    bn_hl7_str_t trig = bn_hl7__get(&t->msg.enc, msh, 9, 1, 2, 0);
    if (!short_code(code, false) || !short_code(trig, true))
        return fail(t, msh, 9, 0, 0, 0, BN_BAD_PAYLOAD,
                    "message type missing or not an HL7 code such as VXU^V04");
    char type[8];
    snprintf(type, sizeof type, "%.*s%s%.*s", (int)code.n, code.p, trig.n ? "^" : "", (int)trig.n,
             trig.n ? trig.p : "");
    for (size_t i = 0; i < t->set->n_ignore; i++)
        if (!strcmp(t->set->ignore[i], type) ||
            (strlen(t->set->ignore[i]) == code.n && !memcmp(t->set->ignore[i], code.p, code.n)))
            return BN_OK;
    t->def_tz = bn_hl7__dtm_tz(bn_hl7__get(&t->msg.enc, msh, 7, 1, 1, 0));
    if (!strcmp(type, "VXU^V04"))
        return vxu(t);
    if (!strcmp(type, "REF^I12") || !strcmp(type, "REF^I13") || !strcmp(type, "REF^I14"))
        return ref(t, !strcmp(type, "REF^I14"));
    return fail(t, msh, 9, 0, 0, 0, BN_BAD_PAYLOAD,
                "message type %s is not supported by the hl7v2 adapter (supported: VXU^V04, "
                "REF^I12, REF^I13, REF^I14)",
                type);
}

static bn_status_t hl7_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                 bn_event_list_t *out, bn_error_t *err)
{
    tx_t *t = malloc(sizeof *t);
    if (!t)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    memset(&t->msg, 0, sizeof t->msg);
    t->ctx = ctx;
    t->set = ctx && ctx->settings ? ctx->settings : &default_settings;
    t->out = out;
    t->first = out->len;
    t->err = err;
    bn_hl7_reader_t r;
    bn_hl7__reader_init(&r, data, len);
    bn_status_t st;
    bool got = true;
    while ((st = bn_hl7__next(&r, &t->msg, &got, err)) == BN_OK && got)
        if ((st = message(t)) != BN_OK)
            break;
    bn_hl7__msg_free(&t->msg);
    free(t);
    return st;
}

const bn_adapter_ops_t bn_adapter_hl7v2 = {
    .name = "hl7v2",
    .summary = "HL7 v2.x ER7: VXU^V04 (immunisations), REF^I12-I14 (referrals), FHS/BHS batches",
    .settings_new = settings_new,
    .settings_free = settings_free,
    .translate = hl7_translate,
};
