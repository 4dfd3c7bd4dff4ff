/* fhir.c: adapter "fhir": FHIR R4 JSON (as SATUSEHAT health systems emit it) -> benang.v1.Event.
 *
 * What becomes an event (docs/adapters-fhir.md has the full table):
 *   Immunization   -> immunisation: source_id = id (else identifier[0].value);
 *                     occurred_at = occurrenceDateTime (full date or date-time;
 *                     YYYY / YYYY-MM and occurrenceString are refused: the schema
 *                     needs a day); administered_on = its date part; vaccine =
 *                     the CVX coding, else a coding the vaccine_codes table
 *                     translates, else coding[0]; status, statusReason, dose
 *                     (protocolApplied[0]), lotNumber, site, route, performer
 *                     (the "AP" administering one, else [0]), location.
 *   ServiceRequest -> referral: referral_id = source_id = id; status, priority,
 *                     reasonCode[0], note[0], authoredOn (required); from/to
 *                     agency from requester / performer[0] through the
 *                     organizations table (to_agency required).
 *   Task           -> referral update: referral_id from basedOn[0] (the
 *                     ServiceRequest), source_id = "Task/" + id (ServiceRequest
 *                     and Task ids live in separate FHIR namespaces but share
 *                     the referral idempotency key), occurred_at = lastModified
 *                     or authoredOn, to_agency from owner.
 *   Bundle         -> its entries in order. Context types (CONTEXT_TYPES) are
 *                     skipped, and so is a ServiceRequest that a non-Task
 *                     entry names in basedOn (an order the bundle's own
 *                     records fulfil, as HL7 v2 VXU converts); any other type
 *                     is an error at $.entry[i].resource.resourceType.
 * The subject comes from the Patient the resource points at: a contained
 * "#id", or a bundle entry by fullUrl or Type/id. An unresolved "Type/id"
 * (a patient on a server) leaves the event without subject; an unresolved
 * "#id" or "urn:" reference is an error.
 *
 * Design: the payload is read by yajl into a read-only document (fhir_doc.c), and
 * each event is built directly as a protobuf-c heap message (strings via
 * bn_pb_set_string, sub-messages malloc'ed and linked before they are
 * filled) so that a failure anywhere is one protobuf_c_message_free_unpacked.
 * JSON paths of errors are kept as a chain of segments on the stack and
 * formatted only when there is an error. Error messages echo codes (status,
 * resourceType) but never names, NIKs, identifiers or dates.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_internal.h"
#include "validate.h"

/* ---- Immunization ------------------------------------------------------------------------- */

/* The vaccine: a CVX coding, else one the vaccine_codes table translates, else coding[0]. */
static bn_status_t imm_vaccine(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                               const bn_fhir_seg_t *at, Benang__V1__Immunisation *im)
{
    bn_fhir_seg_t s_vc = {at, "vaccineCode", 0}, sg[2];
    const bn_fhir_val_t *vc, *arr = NULL;
    const char *v[3];
    bn_status_t st = bn_fhir__get_obj(res, at, "vaccineCode", &vc, fx->err);
    if (st == BN_OK && vc)
        st = bn_fhir__get_arr(vc, &s_vc, "coding", &arr, fx->err);
    if (st != BN_OK)
        return st;
    if (!vc)
        return bn_fhir__fail(fx->err, at, "vaccineCode", "required field is missing");
    size_t n = bn_fhir__size(arr), pick = n, tr_i = n;
    if (!n)
        return bn_fhir__fail(fx->err, &s_vc, "coding", "at least one coding is required");
    const bn_fhir_vax_t *row = NULL;
    for (size_t i = 0; i < n && pick == n; i++) {
        if ((st = bn_fhir__coding_at(vc, &s_vc, i, sg, v, fx->err)) != BN_OK)
            return st;
        if (v[0] && !strcmp(v[0], BN_FHIR_CVX_SYSTEM))
            pick = i;
        else if (!row && (row = bn_fhir__vax_find(fx->set, v[0], v[1])) != NULL)
            tr_i = i;
    }
    bool translate = pick == n && row;
    if ((st = bn_fhir__coding_at(vc, &s_vc,
                                 pick < n    ? pick
                                 : translate ? tr_i
                                             : 0,
                                 sg, v, fx->err)) != BN_OK)
        return st;
    if (translate)
        return bn_fhir__coding_new(&im->vaccine, row->system, row->code,
                                   row->display ? row->display : v[2], fx->err);
    if (!v[1] || !*v[1])
        return bn_fhir__fail(fx->err, &sg[1], "code", "required field is missing");
    if (!v[0] || !*v[0])
        return bn_fhir__fail(fx->err, &sg[1], "system",
                             "required field is missing (the code's system)");
    return bn_fhir__coding_new(&im->vaccine, v[0], v[1], v[2], fx->err);
}

/* protocolApplied[0].doseNumberPositiveInt, or doseNumberString when it is all digits. */
static bn_status_t imm_dose(const bn_fhir_t *fx, const bn_fhir_val_t *res, const bn_fhir_seg_t *at,
                            Benang__V1__Immunisation *im)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *pa, *num;
    const char *text = NULL;
    bn_status_t st = bn_fhir__get_nth(res, at, "protocolApplied", 0, sg, &pa, fx->err);
    if (st == BN_OK && pa)
        st = bn_fhir__get_str(pa, &sg[1], "doseNumberString", &text, fx->err);
    if (st != BN_OK || !pa)
        return st;
    if ((num = bn_fhir__member(pa, "doseNumberPositiveInt")) != NULL) {
        int64_t d = bn_fhir__is(num, BN_FHIR_INT) ? num->u.i : 0;
        if (!bn_fhir__is(num, BN_FHIR_INT) || d < 1 || d > (int64_t)UINT32_MAX)
            return bn_fhir__fail(fx->err, &sg[1], "doseNumberPositiveInt",
                                 "expected a positive integer");
        im->dose_number = (uint32_t)d;
    } else if (text && *text && strlen(text) <= 9 && strspn(text, "0123456789") == strlen(text)) {
        im->dose_number = (uint32_t)strtoul(text, NULL, 10); /* "booster" etc.: 0, unknown */
    }
    return BN_OK;
}

/* performer: the one whose function is "AP" (administering provider), else performer[0];
 * its actor's display or reference. */
static bn_status_t imm_performer(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                 const bn_fhir_seg_t *at, const char **out)
{
    bn_fhir_seg_t sg[2], s_fn, sc[2], s_actor;
    const bn_fhir_val_t *arr, *p, *fn, *actor = NULL;
    const char *v[3];
    bn_status_t st = bn_fhir__get_arr(res, at, "performer", &arr, fx->err);
    *out = NULL;
    for (size_t i = 0; st == BN_OK && i < bn_fhir__size(arr); i++) {
        if ((st = bn_fhir__get_nth(res, at, "performer", i, sg, &p, fx->err)) != BN_OK || !p)
            continue;
        s_fn = (bn_fhir_seg_t){&sg[1], "function", 0};
        st = bn_fhir__get_obj(p, &sg[1], "function", &fn, fx->err);
        if (st == BN_OK && fn)
            st = bn_fhir__coding_at(fn, &s_fn, 0, sc, v, fx->err);
        if (st == BN_OK && (i == 0 || (fn && v[1] && !strcmp(v[1], "AP")))) {
            s_actor = (bn_fhir_seg_t){&sg[1], "actor", 0};
            st = bn_fhir__get_obj(p, &sg[1], "actor", &actor, fx->err);
            if (st == BN_OK && actor)
                st = bn_fhir__get_str(actor, &s_actor, "display", out, fx->err);
            if (st == BN_OK && actor && (!*out || !**out))
                st = bn_fhir__get_str(actor, &s_actor, "reference", out, fx->err);
            if (i > 0)
                break;
        }
    }
    return st;
}

static const bn_fhir_code_t IMM_STATUS[] = {
    {"completed", BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED},
    {"not-done", BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_NOT_DONE},
    {"entered-in-error", BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_ENTERED_IN_ERROR},
    {NULL, 0}};

/* status, statusReason, lotNumber, site, route, performer, location. */
static bn_status_t imm_details(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                               const bn_fhir_seg_t *at, Benang__V1__Immunisation *im)
{
    const char *lot = NULL, *site = NULL, *route = NULL, *perf = NULL, *loc = NULL, *v[3] = {0};
    const bn_fhir_val_t *sr, *lo;
    bn_fhir_seg_t s_sr = {at, "statusReason", 0}, s_lo = {at, "location", 0}, sg[2];
    int status;
    bn_status_t st = bn_fhir__get_code(res, at, "status", IMM_STATUS, true, &status, fx->err);
    if (st == BN_OK && (st = bn_fhir__get_obj(res, at, "statusReason", &sr, fx->err)) == BN_OK &&
        sr)
        st = bn_fhir__coding_at(sr, &s_sr, 0, sg, v, fx->err);
    if (st == BN_OK && sr && !v[1] && !v[2]) /* a reason given as text only */
        st = bn_fhir__get_str(sr, &s_sr, "text", &v[2], fx->err);
    if (st == BN_OK && sr && (v[1] || v[2]))
        st = bn_fhir__coding_new(&im->status_reason, v[0], v[1], v[2], fx->err);
    if (st == BN_OK)
        st = bn_fhir__get_str(res, at, "lotNumber", &lot, fx->err);
    if (st == BN_OK)
        st = bn_fhir__cc_code_or_text(res, at, "site", &site, fx->err);
    if (st == BN_OK)
        st = bn_fhir__cc_code_or_text(res, at, "route", &route, fx->err);
    if (st == BN_OK)
        st = imm_performer(fx, res, at, &perf);
    if (st == BN_OK && (st = bn_fhir__get_obj(res, at, "location", &lo, fx->err)) == BN_OK && lo)
        st = bn_fhir__get_str(lo, &s_lo, "display", &loc, fx->err);
    if (st == BN_OK && lo && (!loc || !*loc))
        st = bn_fhir__get_str(lo, &s_lo, "reference", &loc, fx->err);
    if (st != BN_OK)
        return st;
    im->status = (Benang__V1__ImmunisationStatus)status;
    if ((st = bn_fhir__put(&im->lot_number, lot, fx->err)) == BN_OK &&
        (st = bn_fhir__put(&im->site, site, fx->err)) == BN_OK &&
        (st = bn_fhir__put(&im->route, route, fx->err)) == BN_OK &&
        (st = bn_fhir__put(&im->performer, perf, fx->err)) == BN_OK)
        st = bn_fhir__put(&im->facility, loc, fx->err);
    return st;
}

static bn_status_t immunization(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                const bn_fhir_seg_t *at, Benang__V1__Event *ev)
{
    const char *id, *when, *text;
    char ts[48];
    Benang__V1__Immunisation *im = malloc(sizeof *im);
    if (!im)
        return bn_fhir__nomem(fx->err);
    benang__v1__immunisation__init(im);
    ev->body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev->immunisation = im;
    bn_status_t st = bn_fhir__put(&ev->type, "immunisation", fx->err);
    if (st == BN_OK)
        st = bn_fhir__record_id(res, at, &id, fx->err);
    if (st == BN_OK && !id)
        return bn_fhir__fail(fx->err, at, "id",
                             "required: an Immunization needs id or identifier[0].value");
    if (st == BN_OK)
        st = bn_fhir__get_str(res, at, "occurrenceDateTime", &when, fx->err);
    if (st == BN_OK && !when &&
        (st = bn_fhir__get_str(res, at, "occurrenceString", &text, fx->err)) == BN_OK)
        return text ? bn_fhir__fail(
                          fx->err, at, "occurrenceString",
                          "a free-text occurrence cannot be dated; send occurrenceDateTime")
                    : bn_fhir__fail(fx->err, at, "occurrenceDateTime", "required field is missing");
    if (st == BN_OK)
        st = bn_fhir__fhir_time(when, at, "occurrenceDateTime", ts, fx->err);
    if (st == BN_OK && (st = bn_fhir__put(&ev->source_id, id, fx->err)) == BN_OK &&
        (st = bn_fhir__put(&ev->occurred_at, ts, fx->err)) == BN_OK) {
        ts[10] = '\0';
        st = bn_fhir__put(&im->administered_on, ts, fx->err);
    }
    if (st == BN_OK)
        st = imm_vaccine(fx, res, at, im);
    if (st == BN_OK)
        st = imm_details(fx, res, at, im);
    if (st == BN_OK)
        st = imm_dose(fx, res, at, im);
    if (st == BN_OK)
        st = bn_fhir__subject_from(fx, res, at, "patient", ev);
    return st;
}

/* ---- ServiceRequest and Task: referrals ------------------------------------------------ */

static const bn_fhir_code_t SR_STATUS[] = {
    {"draft", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
    {"active", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
    {"on-hold", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ON_HOLD},
    {"revoked", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED},
    {"completed", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_COMPLETED},
    {"entered-in-error", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED},
    {NULL, 0}};

/* Task.status; "draft" is not an update yet (refused); "ready" (assignment is a
 * given) counts as accepted; entered-in-error cancels, as for ServiceRequest. */
static const bn_fhir_code_t TASK_STATUS[] = {
    {"requested", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
    {"received", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REQUESTED},
    {"accepted", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED},
    {"ready", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ACCEPTED},
    {"rejected", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_REJECTED},
    {"in-progress", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_IN_PROGRESS},
    {"on-hold", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_ON_HOLD},
    {"completed", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_COMPLETED},
    {"failed", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_FAILED},
    {"cancelled", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED},
    {"entered-in-error", BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_CANCELLED},
    {NULL, 0}};

static const bn_fhir_code_t PRIORITIES[] = {{"routine", BENANG__V1__PRIORITY__PRIORITY_ROUTINE},
                                            {"urgent", BENANG__V1__PRIORITY__PRIORITY_URGENT},
                                            {"asap", BENANG__V1__PRIORITY__PRIORITY_ASAP},
                                            {"stat", BENANG__V1__PRIORITY__PRIORITY_STAT},
                                            {NULL, 0}};

static bn_status_t referral_new(Benang__V1__Event *ev, Benang__V1__Referral **out, bn_error_t *err)
{
    Benang__V1__Referral *rf = malloc(sizeof *rf);
    if (!rf)
        return bn_fhir__nomem(err);
    benang__v1__referral__init(rf);
    ev->body_case = BENANG__V1__EVENT__BODY_REFERRAL;
    ev->referral = *out = rf;
    return bn_fhir__put(&ev->type, "referral", err);
}

/* reason from a CodeableConcept (reason_text = its text, else the coding's display),
 * note from note[0].text, priority. */
static bn_status_t referral_common(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                   const bn_fhir_seg_t *at, const bn_fhir_val_t *cc,
                                   const bn_fhir_seg_t *cc_at, Benang__V1__Referral *rf)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *note;
    const char *v[3] = {0}, *text = NULL, *note_text = NULL;
    int prio;
    bn_status_t st = cc ? bn_fhir__coding_at(cc, cc_at, 0, sg, v, fx->err) : BN_OK;
    if (st == BN_OK && cc)
        st = bn_fhir__get_str(cc, cc_at, "text", &text, fx->err);
    if (st == BN_OK && v[1] && *v[1])
        st = bn_fhir__coding_new(&rf->reason, v[0], v[1], v[2], fx->err);
    if (st == BN_OK)
        st = bn_fhir__put(&rf->reason_text, text && *text ? text : v[2], fx->err);
    if (st == BN_OK && (st = bn_fhir__get_nth(res, at, "note", 0, sg, &note, fx->err)) == BN_OK &&
        note)
        st = bn_fhir__get_str(note, &sg[1], "text", &note_text, fx->err);
    if (st == BN_OK)
        st = bn_fhir__put(&rf->note, note_text, fx->err);
    if (st == BN_OK)
        st = bn_fhir__get_code(res, at, "priority", PRIORITIES, false, &prio, fx->err);
    if (st == BN_OK)
        rf->priority = (Benang__V1__Priority)prio;
    return st;
}

/* occurred_at from res[key] (a dateTime), and requested_on from authoredOn when present. */
static bn_status_t referral_times(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                  const bn_fhir_seg_t *at, const char *key, Benang__V1__Event *ev,
                                  Benang__V1__Referral *rf)
{
    const char *when, *authored;
    char ts[48];
    bn_status_t st = bn_fhir__get_str(res, at, key, &when, fx->err);
    if (st == BN_OK)
        st = bn_fhir__get_str(res, at, "authoredOn", &authored, fx->err);
    if (st == BN_OK && !when)
        return bn_fhir__fail(fx->err, at, key, "required field is missing");
    if (st == BN_OK && authored &&
        (st = bn_fhir__fhir_time(authored, at, "authoredOn", ts, fx->err)) == BN_OK) {
        ts[10] = '\0';
        st = bn_fhir__put(&rf->requested_on, ts, fx->err);
    }
    if (st == BN_OK && (st = bn_fhir__fhir_time(when, at, key, ts, fx->err)) == BN_OK)
        st = bn_fhir__put(&ev->occurred_at, ts, fx->err);
    return st;
}

static bn_status_t service_request(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                   const bn_fhir_seg_t *at, Benang__V1__Event *ev)
{
    Benang__V1__Referral *rf = NULL;
    const char *id, *from = NULL, *to = NULL;
    const bn_fhir_val_t *rc, *req, *perf;
    bn_fhir_seg_t s_rc[2], s_req = {at, "requester", 0}, s_perf[2];
    int status;
    bn_status_t st = referral_new(ev, &rf, fx->err);
    if (st == BN_OK && (st = bn_fhir__record_id(res, at, &id, fx->err)) == BN_OK && !id)
        return bn_fhir__fail(fx->err, at, "id",
                             "required: a ServiceRequest needs id or identifier[0].value");
    if (st == BN_OK && (st = bn_fhir__put(&ev->source_id, id, fx->err)) == BN_OK)
        st = bn_fhir__put(&rf->referral_id, id, fx->err);
    if (st == BN_OK &&
        (st = bn_fhir__get_code(res, at, "status", SR_STATUS, true, &status, fx->err)) == BN_OK)
        rf->status = (Benang__V1__ReferralStatus)status;
    if (st == BN_OK)
        st = referral_times(fx, res, at, "authoredOn", ev, rf);
    if (st == BN_OK)
        st = bn_fhir__get_nth(res, at, "reasonCode", 0, s_rc, &rc, fx->err);
    if (st == BN_OK)
        st = referral_common(fx, res, at, rc, &s_rc[1], rf);
    if (st == BN_OK && (st = bn_fhir__get_obj(res, at, "requester", &req, fx->err)) == BN_OK && req)
        st = bn_fhir__agency_of(fx, req, &s_req, &from);
    if (st == BN_OK &&
        (st = bn_fhir__get_nth(res, at, "performer", 0, s_perf, &perf, fx->err)) == BN_OK && perf)
        st = bn_fhir__agency_of(fx, perf, &s_perf[1], &to);
    if (st == BN_OK && !to)
        return bn_fhir__fail(fx->err, &s_perf[1], NULL,
                             "%s: the receiving agency must be an organization listed in the fhir "
                             "settings' organizations table",
                             perf ? "not a known organization" : "required field is missing");
    if (st == BN_OK &&
        (st = bn_fhir__put(&rf->from_agency, from ? from : fx->ctx->agency, fx->err)) == BN_OK)
        st = bn_fhir__put(&rf->to_agency, to, fx->err);
    if (st == BN_OK)
        st = bn_fhir__subject_from(fx, res, at, "subject", ev);
    return st;
}

/* Task.basedOn[0] -> the referral id: the ServiceRequest's own id (or
 * identifier[0].value) when it resolves in the payload, else the id of "ServiceRequest/ID". */
static bn_status_t task_referral_id(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                    const bn_fhir_seg_t *at, char *out, size_t size)
{
    bn_fhir_seg_t sg[2];
    const bn_fhir_val_t *b;
    const char *text = NULL, *id = NULL;
    char e[BN_FHIR_ECHO_MAX + 8];
    bn_status_t st = bn_fhir__get_nth(res, at, "basedOn", 0, sg, &b, fx->err);
    if (st == BN_OK && b)
        st = bn_fhir__get_str(b, &sg[1], "reference", &text, fx->err);
    if (st != BN_OK)
        return st;
    if (!text || !*text)
        return bn_fhir__fail(
            fx->err, &sg[1], "reference",
            "required: a Task updates the referral its basedOn[0] ServiceRequest names");
    bn_fhir_hit_t hit;
    bn_fhir_ref_t r;
    bn_fhir__ref_parse(text, &r);
    if (bn_fhir__resolve(fx, text, &hit)) {
        const char *rt = bn_fhir__str(bn_fhir__get(hit.res, "resourceType"));
        if (!rt || strcmp(rt, "ServiceRequest") != 0)
            return bn_fhir__fail(
                fx->err, &sg[1], "reference", "refers to a %s, not a ServiceRequest",
                rt ? bn_fhir__echo(rt, e, sizeof e) : "resource without resourceType");
        bn_fhir_seg_t c1 = {at, "contained", 0}, c2 = {&c1, NULL, hit.idx}, e1 = {NULL, "entry", 0},
                      e2 = {&e1, NULL, hit.idx}, e3 = {&e2, "resource", 0};
        if ((st = bn_fhir__record_id(hit.res, hit.contained ? &c2 : &e3, &id, fx->err)) != BN_OK)
            return st;
        if (id && strlen(id) < size)
            return snprintf(out, size, "%s", id) < 0 ? BN_INTERNAL : BN_OK;
    }
    if (!r.tlen || r.tlen != strlen("ServiceRequest") || memcmp(r.type, "ServiceRequest", r.tlen))
        return bn_fhir__fail(
            fx->err, &sg[1], "reference",
            "must name a ServiceRequest (\"ServiceRequest/ID\" or a fullUrl in the Bundle)");
    if (r.ilen >= size)
        return bn_fhir__fail(fx->err, &sg[1], "reference", "id too long");
    memcpy(out, r.id, r.ilen);
    out[r.ilen] = '\0';
    return BN_OK;
}

static bn_status_t task(const bn_fhir_t *fx, const bn_fhir_val_t *res, const bn_fhir_seg_t *at,
                        Benang__V1__Event *ev)
{
    Benang__V1__Referral *rf = NULL;
    const char *id, *from = NULL, *to = NULL, *when;
    const bn_fhir_val_t *rc, *req, *own;
    bn_fhir_seg_t s_rc = {at, "reasonCode", 0}, s_req = {at, "requester", 0},
                  s_own = {at, "owner", 0};
    char ref_id[256], src[300];
    int status;
    bn_status_t st = referral_new(ev, &rf, fx->err);
    if (st == BN_OK && (st = bn_fhir__record_id(res, at, &id, fx->err)) == BN_OK && !id)
        return bn_fhir__fail(fx->err, at, "id", "required: a Task needs id or identifier[0].value");
    if (st == BN_OK && snprintf(src, sizeof src, "Task/%s", id) >= (int)sizeof src)
        return bn_fhir__fail(fx->err, at, "id", "id too long");
    if (st == BN_OK && (st = bn_fhir__put(&ev->source_id, src, fx->err)) == BN_OK &&
        (st = task_referral_id(fx, res, at, ref_id, sizeof ref_id)) == BN_OK)
        st = bn_fhir__put(&rf->referral_id, ref_id, fx->err);
    if (st == BN_OK &&
        (st = bn_fhir__get_code(res, at, "status", TASK_STATUS, true, &status, fx->err)) == BN_OK)
        rf->status = (Benang__V1__ReferralStatus)status;
    if (st == BN_OK && (st = bn_fhir__get_str(res, at, "lastModified", &when, fx->err)) == BN_OK)
        st = referral_times(fx, res, at, when ? "lastModified" : "authoredOn", ev, rf);
    if (st == BN_OK && (st = bn_fhir__get_obj(res, at, "reasonCode", &rc, fx->err)) == BN_OK)
        st = referral_common(fx, res, at, rc, &s_rc, rf);
    if (st == BN_OK && (st = bn_fhir__get_obj(res, at, "requester", &req, fx->err)) == BN_OK && req)
        st = bn_fhir__agency_of(fx, req, &s_req, &from);
    if (st == BN_OK && (st = bn_fhir__get_obj(res, at, "owner", &own, fx->err)) == BN_OK && own &&
        (st = bn_fhir__agency_of(fx, own, &s_own, &to)) == BN_OK && !to)
        return bn_fhir__fail(
            fx->err, at, "owner",
            "not a known organization: the owner must be listed in the fhir settings' "
            "organizations table");
    if (st == BN_OK && (st = bn_fhir__put(&rf->from_agency, from, fx->err)) == BN_OK)
        st = bn_fhir__put(&rf->to_agency, to ? to : fx->ctx->agency, fx->err);
    if (st == BN_OK)
        st = bn_fhir__subject_from(fx, res, at, "for", ev);
    return st;
}

/* ---- resources, bundles, the payload ------------------------------------------------------ */

typedef bn_status_t (*build_fn)(const bn_fhir_t *fx, const bn_fhir_val_t *res,
                                const bn_fhir_seg_t *at, Benang__V1__Event *ev);

/* Resources a Bundle may carry as context for its events (skipped). Observation is
 * here because immunisation messages (HL7 v2 VXU converted to FHIR) carry the
 * eligibility, VIS and vaccine-type observations of the Immunization. */
static const char *const CONTEXT_TYPES[] = {
    "Patient",  "RelatedPerson", "Practitioner", "PractitionerRole", "Organization",
    "Location", "Encounter",     "Provenance",   "MessageHeader",    "Observation",
    NULL};

static build_fn builder(const char *rt)
{
    if (!strcmp(rt, "Immunization"))
        return immunization;
    if (!strcmp(rt, "ServiceRequest"))
        return service_request;
    if (!strcmp(rt, "Task"))
        return task;
    return NULL;
}

static bool is_context(const char *rt)
{
    for (const char *const *t = CONTEXT_TYPES; *t; t++)
        if (!strcmp(*t, rt))
            return true;
    return false;
}

/* One event from res (its path at), appended to out. */
static bn_status_t one_event(bn_fhir_t *fx, build_fn build, const bn_fhir_val_t *res,
                             const bn_fhir_seg_t *at, size_t first, bn_event_list_t *out)
{
    const bn_adapter_ctx_t *ctx = fx->ctx;
    if (ctx->max_events && out->len - first >= ctx->max_events)
        return bn_error_set(fx->err, BN_TOO_LARGE, 0, "payload", "more than %zu events",
                            ctx->max_events);
    Benang__V1__Event *ev = malloc(sizeof *ev);
    if (!ev)
        return bn_fhir__nomem(fx->err);
    benang__v1__event__init(ev);
    fx->res = res;
    bn_status_t st = build(fx, res, at, ev);
    if (st == BN_OK && bn_event_list_push(out, &ev) != BN_OK)
        st = bn_fhir__nomem(fx->err);
    if (st != BN_OK)
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    return st;
}

/* Whether entry i (a ServiceRequest) is an order that another, non-Task entry names in basedOn. */
static bool is_fulfilled_order(const bn_fhir_val_t *entries, size_t i)
{
    const bn_fhir_val_t *me = bn_fhir__at(entries, i);
    for (size_t k = 0; k < bn_fhir__size(entries); k++) {
        const bn_fhir_val_t *res = bn_fhir__get(bn_fhir__at(entries, k), "resource");
        const bn_fhir_val_t *based = bn_fhir__get(res, "basedOn");
        if (k == i || bn_fhir__str_is(bn_fhir__get(res, "resourceType"), "Task", 4))
            continue;
        for (size_t b = 0; b < bn_fhir__size(based); b++) {
            const char *text = bn_fhir__str(bn_fhir__get(bn_fhir__at(based, b), "reference"));
            bn_fhir_ref_t r;
            if (!text)
                continue;
            bn_fhir__ref_parse(text, &r);
            if (bn_fhir__ref_names_entry(text, &r, me))
                return true;
        }
    }
    return false;
}

static const char *const BUNDLE_TYPES[] = {"transaction", "batch",     "collection",
                                           "message",     "searchset", NULL};

static bn_status_t from_bundle(bn_fhir_t *fx, const bn_fhir_val_t *b, bn_event_list_t *out)
{
    const char *type, *rt;
    const bn_fhir_val_t *entries, *res;
    char e[BN_FHIR_ECHO_MAX + 8];
    size_t first = out->len;
    bn_fhir_seg_t sg[2];
    bn_status_t st = bn_fhir__get_str(b, NULL, "type", &type, fx->err);
    const char *const *t = BUNDLE_TYPES;
    while (st == BN_OK && type && *t && strcmp(*t, type) != 0)
        t++;
    if (st == BN_OK && (!type || !*t))
        return bn_fhir__fail(
            fx->err, NULL, "type",
            "%s%s%s: expected transaction, batch, collection, message or searchset",
            type ? "Bundle type \"" : "required field is missing",
            type ? bn_fhir__echo(type, e, sizeof e) : "", type ? "\" is not translated" : "");
    if (st != BN_OK || (st = bn_fhir__get_arr(b, NULL, "entry", &entries, fx->err)) != BN_OK)
        return st;
    fx->entries = entries;
    for (size_t i = 0; st == BN_OK && i < bn_fhir__size(entries); i++) {
        const bn_fhir_val_t *entry;
        if ((st = bn_fhir__get_nth(b, NULL, "entry", i, sg, &entry, fx->err)) != BN_OK || !entry)
            continue;
        bn_fhir_seg_t s_res = {&sg[1], "resource", 0};
        if ((st = bn_fhir__get_obj(entry, &sg[1], "resource", &res, fx->err)) != BN_OK || !res)
            continue; /* no resource: a DELETE in a transaction */
        if ((st = bn_fhir__get_str(res, &s_res, "resourceType", &rt, fx->err)) != BN_OK)
            break;
        build_fn build = rt ? builder(rt) : NULL;
        if (build && !(build == service_request && is_fulfilled_order(entries, i)))
            st = one_event(fx, build, res, &s_res, first, out);
        else if (!build && (!rt || !is_context(rt)))
            st = bn_fhir__fail(
                fx->err, &s_res, "resourceType",
                "%s%s%s: a Bundle may hold Immunization, ServiceRequest and Task, with "
                "Patient, Organization, Practitioner, Location and similar as context",
                rt ? "unsupported resourceType \"" : "required field is missing",
                rt ? bn_fhir__echo(rt, e, sizeof e) : "", rt ? "\"" : "");
    }
    return st;
}

static bn_status_t fhir_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                  bn_event_list_t *out, bn_error_t *err)
{
    static const bn_adapter_ctx_t none = {.agency = ""};
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        data += 3, len -= 3; /* a UTF-8 byte order mark */
    bn_fhir_doc_t *doc;
    bn_status_t st = bn_fhir__doc_parse((const char *)data, len, &doc, err);
    if (st != BN_OK)
        return st;
    const bn_fhir_val_t *root = bn_fhir__doc_root(doc);
    bn_fhir_t fx = {.ctx = ctx ? ctx : &none, .err = err};
    fx.set = fx.ctx->settings;
    fx.nik_system = fx.set && fx.set->nik_system ? fx.set->nik_system : BN_FHIR_NIK_SYSTEM;
    const char *rt = NULL;
    char e[BN_FHIR_ECHO_MAX + 8];
    build_fn build = NULL;
    if (!bn_fhir__is(root, BN_FHIR_OBJ))
        st = bn_fhir__fail(err, NULL, NULL, "expected a FHIR resource (a JSON object)");
    else if ((st = bn_fhir__get_str(root, NULL, "resourceType", &rt, err)) == BN_OK && !rt)
        st = bn_fhir__fail(err, NULL, "resourceType", "required field is missing");
    else if (st == BN_OK && !strcmp(rt, "Bundle"))
        st = from_bundle(&fx, root, out);
    else if (st == BN_OK && (build = builder(rt)) != NULL)
        st = one_event(&fx, build, root, NULL, out->len, out);
    else if (st == BN_OK)
        st = bn_fhir__fail(
            err, NULL, "resourceType",
            "unsupported resourceType \"%s\": expected Immunization, ServiceRequest, Task or "
            "Bundle",
            bn_fhir__echo(rt, e, sizeof e));
    bn_fhir__doc_free(doc);
    return st;
}

const bn_adapter_ops_t bn_adapter_fhir = {
    .name = "fhir",
    .summary = "FHIR R4 JSON (SATUSEHAT): Immunization, ServiceRequest, Task, Bundle with Patient",
    .settings_new = bn_fhir__settings_new,
    .settings_free = bn_fhir__settings_free,
    .translate = fhir_translate,
};
