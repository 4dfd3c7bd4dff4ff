/* ingest.c: see ingest.h. */
#include "ingest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benang/v1/protocol.pb-c.h"
#include "linkprep.h"
#include "validate.h"

/* Room for the packed linkage of a NIK subject: its 64-character key, the
 * method and a few tags and lengths. */
#define NIK_TAIL_MAX 96

/* s shown safely in an error message: printable ASCII only, truncated. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    for (; s && *s && o + 4 < size; s++)
        buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (s && *s)
        buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
    buf[o] = '\0';
    return buf;
}

void bn_ingest_stamp(char out[64])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* a.b.c into out (size 200): the topic, without printf on the hot path. */
static void make_topic(char out[200], const char *type, const char *sector, const char *agency)
{
    size_t a = strlen(type), b = strlen(sector), c = strlen(agency);
    if (a + b + c + 3 > 200) { /* ids are bounded by the config; keep it safe anyway */
        snprintf(out, 200, "%s.%s.%s", type, sector, agency);
        return;
    }
    memcpy(out, type, a);
    out[a] = '.';
    memcpy(out + a + 1, sector, b);
    out[a + 1 + b] = '.';
    memcpy(out + a + b + 2, agency, c + 1);
}

static bn_status_t resolve(const bn_config_t *cfg, const bn_bindings_t *bindings,
                           const Benang__V1__PublishRequest *pr, const bn_agency_conf_t **agency,
                           const bn_adapter_ops_t **ops, const void **settings, bn_error_t *err)
{
    char a[80], b[80];
    *agency = bn_config_agency(cfg, pr->agency);
    if (!*agency)
        return bn_error_set(err, BN_UNKNOWN_AGENCY, 0, "agency",
                            "agency \"%s\" is not configured on this hub",
                            shown(pr->agency, a, sizeof a));
    const char *name = pr->adapter && *pr->adapter ? pr->adapter : (*agency)->adapters[0];
    if (bn_bindings_resolve(bindings, *agency, name, ops, settings, err) != BN_OK) {
        if (!bn_adapter_find(name))
            return bn_error_set(err, BN_UNKNOWN_ADAPTER, 0, "adapter",
                                "no adapter named \"%s\"", shown(name, a, sizeof a));
        return bn_error_set(err, BN_UNKNOWN_ADAPTER, 0, "adapter",
                            "adapter \"%s\" is not allowed for agency \"%s\"",
                            shown(name, a, sizeof a), shown((*agency)->id, b, sizeof b));
    }
    if (pr->payload.len > cfg->max_payload_bytes)
        return bn_error_set(err, BN_TOO_LARGE, 0, "payload",
                            "payload is %zu bytes; hub.max_payload_bytes is %llu",
                            pr->payload.len, (unsigned long long)cfg->max_payload_bytes);
    return BN_OK;
}

/* Hub-owned fields except recorded_at; then topic and content hash. */
static bn_status_t complete(const bn_config_t *cfg, const bn_pseudonym_t *pseudo,
                            const bn_agency_conf_t *ag, bn_req_t *req, Benang__V1__Event *ev,
                            bn_event_result_t *res, bn_error_t *err)
{
    ProtobufCAllocator *a = req->events.arena;
    if (bn_pb_set_string_in(a, &ev->agency, ag->id) ||
        bn_pb_set_string_in(a, &ev->sector, ag->sector) ||
        bn_pb_set_string_in(a, &ev->event_id, "") || bn_pb_set_string_in(a, &ev->recorded_at, "") ||
        (!*ev->area && bn_pb_set_string_in(a, &ev->area, ag->area ? ag->area : "")))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    ev->seq = 0;
    ev->supersedes_seq = 0;
    if (strlen(ev->agency) + strlen(ev->type) + strlen(ev->source_id) + 2 > 511)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "source_id",
                            "source_id is too long (agency, type and source_id must fit 509 bytes)");
    Benang__V1__Subject *sub = ev->subject;
    if (sub) {
        char key[BN_SUBJECT_KEY_HEX] = "";
        if (*sub->nik) {
            bn_status_t st = bn_pseudonym_nik(pseudo, sub->nik, key, err);
            if (st != BN_OK)
                return st;
        }
        if (bn_pb_set_string_in(a, &sub->subject_key, key) ||
            (!cfg->store_nik && bn_pb_set_string_in(a, &sub->nik, "")))
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        /* The linker's inputs, here rather than on the writer (NULL: it
         * makes them itself). */
        bn_linker_prep_t *prep = bn_arena_alloc(&req->arena, sizeof *prep);
        if (prep)
            bn_linker_prepare(sub, ev->agency, prep);
        res->prep = prep;
        if (*key) { /* and what the writer appends for a NIK subject */
            Benang__V1__Linkage nik = BENANG__V1__LINKAGE__INIT;
            nik.method = BENANG__V1__LINK_METHOD__LINK_METHOD_NIK;
            uint8_t *tail = bn_arena_alloc(&req->arena, NIK_TAIL_MAX);
            res->nik_tail_len = tail ? bn_subject_tail(key, &nik, tail, NIK_TAIL_MAX) : 0;
            res->nik_tail = res->nik_tail_len ? tail : NULL;
        }
    }
    make_topic(res->topic, ev->type, ev->sector, ev->agency);
    size_t len = benang__v1__event__get_packed_size(ev);
    uint8_t *buf = bn_arena_alloc(&req->arena, len + BN_EVENT_TAIL_MAX);
    if (!buf)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    benang__v1__event__pack(ev, buf);
    crypto_generichash(res->hash, BN_STORE_HASH_LEN, buf, len, NULL, 0);
    res->packed = buf;
    res->packed_len = res->base_len = len;
    return BN_OK;
}

static bn_status_t prepare_events(const bn_config_t *cfg, const bn_pseudonym_t *pseudo,
                                  const bn_agency_conf_t *ag, bn_req_t *req)
{
    size_t n = req->events.len;
    req->results = n <= SIZE_MAX / sizeof *req->results
                       ? bn_arena_zalloc(&req->arena, n * sizeof *req->results)
                       : NULL;
    if (!req->results)
        return bn_error_set(&req->err, BN_NOMEM, 0, NULL, "out of memory");
    req->n_results = n;
    for (size_t i = 0; i < n; i++) {
        Benang__V1__Event *ev = req->events.items[i];
        bn_status_t st = bn_event_validate_in(ev, req->events.arena, &req->err);
        if (st == BN_OK)
            st = complete(cfg, pseudo, ag, req, ev, &req->results[i], &req->err);
        if (st != BN_OK) {
            if (n > 1) {
                char pre[40];
                snprintf(pre, sizeof pre, "events[%zu]%s", i, req->err.where[0] ? "." : "");
                bn_error_prefix_where(&req->err, pre);
            }
            return st;
        }
    }
    return BN_OK;
}

bn_status_t bn_ingest_prepare(const bn_config_t *cfg, const bn_bindings_t *bindings,
                              const bn_pseudonym_t *pseudo, const char *recorded_at,
                              const uint8_t *body, size_t len, bn_req_t *req)
{
    bn_error_clear(&req->err);
    snprintf(req->recorded_at, sizeof req->recorded_at, "%s", recorded_at);
    bn_arena_t pra; /* the request's envelope, gone when this returns */
    bn_arena_init(&pra);
    Benang__V1__PublishRequest *pr = benang__v1__publish_request__unpack(&pra.pb, len, body);
    bn_status_t st;
    if (!pr) {
        st = bn_error_set(&req->err, BN_BAD_REQUEST, 0, "request",
                          "body is not a serialized benang.v1.PublishRequest (%zu bytes)", len);
        goto done;
    }
    req->request_id = pr->request_id;
    req->retry_of = pr->retry_of;
    const bn_agency_conf_t *ag = NULL;
    const bn_adapter_ops_t *ops = NULL;
    const void *settings = NULL;
    if ((st = resolve(cfg, bindings, pr, &ag, &ops, &settings, &req->err)) != BN_OK)
        goto done;
    req->agency = ag->id;
    bn_adapter_ctx_t ctx = {.agency = ag->id, .sector = ag->sector, .settings = settings,
                            .max_events = cfg->max_events_per_request,
                            .arena = &req->arena.pb};
    snprintf(req->adapter, sizeof req->adapter, "%s", ops->name);
    st = ops->translate(&ctx, pr->payload.data, pr->payload.len, &req->events, &req->err);
    if (st == BN_OK && req->events.len == 0)
        st = bn_error_set(&req->err, BN_BAD_PAYLOAD, 0, "payload", "payload holds no events");
    if (st == BN_OK)
        st = prepare_events(cfg, pseudo, ag, req);
    if ((st == BN_BAD_PAYLOAD || st == BN_INVALID_EVENT) && pr->retry_of) {
        req->rejected_id = pr->retry_of; /* refused again: the original record stays */
    } else if ((st == BN_BAD_PAYLOAD || st == BN_INVALID_EVENT) && cfg->rejected_max > 0) {
        /* keep what the adapter refused, to re-run it after a mapping fix */
        req->payload = malloc(pr->payload.len ? pr->payload.len : 1);
        if (req->payload) {
            if (pr->payload.len)
                memcpy(req->payload, pr->payload.data, pr->payload.len);
            req->payload_len = pr->payload.len;
            req->keep = true;
        }
    }
done:
    if (st != BN_OK) {
        bn_event_list_clear(&req->events);
        req->err.status = st;
    }
    req->status = st;
    req->refused = st != BN_OK;
    bn_arena_release(&pra);
    return st;
}
