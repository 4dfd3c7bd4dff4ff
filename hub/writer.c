/* writer.c: the writer thread (see writer.h).
 *
 * A failed batch stores nothing: on MDB_MAP_FULL the transaction is aborted,
 * the map doubled and the whole batch written again from scratch (results
 * reset), so a request is never half stored. Any other store failure answers
 * every request of the batch with BN_UNAVAILABLE (retry) or BN_INTERNAL.
 */
#include "writer.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "benang/v1/protocol.pb-c.h"
#include "linker.h"
#include "log.h"
#include "pend.h"
#include "pipeline.h"
#include "referrals.h"
#include "rules.h"
#include "validate.h"

#define MAX_COUNT_KEYS 64
static const char KIND_TYPE[] = "type", KIND_AGENCY[] = "agency";

struct bn_writer {
    void *pipe;
    void *feed; /* the hub's XPUB socket: this thread publishes what it committed */
    bn_store_t *store;
    const bn_config_t *cfg;
    const bn_pseudonym_t *pseudo;
    bn_linker_options_t link_opt;
    const bn_rule_conf_t *unanswered; /* the unanswered-referral rule, or NULL */
    bn_findings_t findings;           /* of the batch being written */
    bn_pend_t *pend;                  /* index entries (rules, people) not yet in LMDB */
    size_t flush_at;                  /* gathered entries that make the next staged flush */
    uint64_t staged_upto, staged_ms;  /* of the staged flush under way, for its log line */
    uint64_t staged_cpu_ns;           /* ... the writer's CPU in its steps so far */
    size_t staged_entries;
    int64_t event_clock;              /* latest occurred_at stored (unix s), never past now */
    pthread_t thread;
    bool started;
    struct {
        const char *kind; /* KIND_TYPE or KIND_AGENCY */
        char name[160];
        uint64_t n;
    } counts[MAX_COUNT_KEYS];
    size_t n_counts;
    bool dirty;
    uint64_t last_sync_ms;
    struct { /* buffered mode: the periodic fsync, in a thread of its own (sync_thread) */
        pthread_t thread;
        bool running, stop; /* stop: under mu */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        atomic_uint_fast64_t commits; /* so far; the thread syncs when they moved */
    } sy;
    struct { /* the index filter, built in a thread of its own (filter_thread) */
        pthread_t thread;
        bool running;
        atomic_bool done, cancel;
        uint64_t planned, seen, t0;
        bn_bloom_t *bloom;
        bn_status_t st;
        bn_error_t err;
    } fb;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Something was committed (buffered mode syncs it within sync_interval_ms). */
static void mark_dirty(bn_writer_t *w)
{
    w->dirty = true;
    atomic_fetch_add(&w->sy.commits, 1);
}

/* counts[kind:name]++ for the batch; kind is one of two static strings, so
 * compare it by pointer. The key text is only built at flush time. */
static void count(bn_writer_t *w, const char *kind, const char *name)
{
    for (size_t i = 0; i < w->n_counts; i++)
        if (w->counts[i].kind == kind && strcmp(w->counts[i].name, name) == 0) {
            w->counts[i].n++;
            return;
        }
    if (w->n_counts < MAX_COUNT_KEYS && strlen(name) < sizeof w->counts[0].name) {
        w->counts[w->n_counts].kind = kind;
        strcpy(w->counts[w->n_counts].name, name);
        w->counts[w->n_counts++].n = 1;
    }
}

static bn_status_t flush_counts(bn_writer_t *w, bn_store_txn_t *t, bn_error_t *err)
{
    for (size_t i = 0; i < w->n_counts; i++) {
        char key[200];
        snprintf(key, sizeof key, "%s:%s", w->counts[i].kind, w->counts[i].name);
        bn_status_t st = bn_store_count_add(t, key, w->counts[i].n, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        p[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static size_t put_string_field(uint8_t *p, unsigned field, const char *s, size_t len)
{
    size_t n = put_varint(p, (uint64_t)field << 3 | 2);
    n += put_varint(p + n, len);
    memcpy(p + n, s, len);
    return n + len;
}

/* Append the hub-assigned fields of benang.v1.Event (seq = 1, event_id = 2,
 * recorded_at = 7, supersedes_seq = 11) after the packed base. */
static void append_tail(bn_event_result_t *res, const char *recorded_at)
{
    uint8_t *p = res->packed + res->base_len;
    size_t n = put_varint(p, 1 << 3 | 0);
    n += put_varint(p + n, res->seq);
    n += put_string_field(p + n, 2, res->event_id, 36);
    n += put_string_field(p + n, 7, recorded_at, strlen(recorded_at));
    if (res->supersedes_seq) {
        n += put_varint(p + n, 11 << 3 | 0);
        n += put_varint(p + n, res->supersedes_seq);
    }
    res->packed_len = res->base_len + n;
}

/* After the hub's fields: the subject's key as linkage decided it, and how
 * (Subject.subject_key and Subject.link; parsers merge it into the subject). */
static void append_subject(bn_event_result_t *res, const char *key, Benang__V1__Linkage *link)
{
    size_t room = res->base_len + BN_EVENT_TAIL_MAX - res->packed_len;
    if (res->nik_tail && link->method == BENANG__V1__LINK_METHOD__LINK_METHOD_NIK &&
        !link->match_id && !*link->linked_key && res->nik_tail_len <= room) {
        memcpy(res->packed + res->packed_len, res->nik_tail, res->nik_tail_len); /* made ahead */
        res->packed_len += res->nik_tail_len;
        return;
    }
    res->packed_len += bn_subject_tail(key, link, res->packed + res->packed_len, room);
}

/* This thread's CPU time: what a pass's steps cost the writer, apart from
 * the batches they ride with. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One step of the staged pass, its CPU counted for the pass's log line. */
static bn_status_t stage_step(bn_writer_t *w, bn_store_txn_t *t, size_t most, bool *finished,
                              bn_error_t *err)
{
    uint64_t t0 = thread_cpu_ns();
    bn_status_t st = bn_pend_stage_step(w->pend, t, most, finished, err);
    w->staged_cpu_ns += thread_cpu_ns() - t0;
    return st;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* Who it is about, which rules it meets, the referral thread it moves. */
static bn_status_t understand(bn_writer_t *w, bn_store_txn_t *t, uint64_t seq,
                              const char *recorded_at, Benang__V1__Event *ev,
                              bn_event_result_t *res, bn_error_t *err)
{
    char key[BN_SUBJECT_KEY_HEX] = "", linked[BN_SUBJECT_KEY_HEX];
    Benang__V1__Linkage link = BENANG__V1__LINKAGE__INIT;
    bn_status_t st = BN_OK;
    if (ev->subject) {
        st = bn_linker_resolve(&w->link_opt, w->pseudo, t, ev->agency, seq, recorded_at,
                               ev->subject, res->prep, key, &link, linked, err);
        if (st != BN_OK)
            return st;
        if (key[0] || link.method)
            append_subject(res, key, &link);
    }
    st = bn_rules_check(w->cfg, t, w->pend, ev, key, seq, &w->findings, err);
    if (st == BN_OK && ev->body_case == BENANG__V1__EVENT__BODY_REFERRAL)
        st = bn_referrals_apply(w->unanswered, t, ev, key, seq, err);
    if (st == BN_OK && ev->body_case == BENANG__V1__EVENT__BODY_PROGRAM) {
        char k[600];
        int kl = snprintf(k, sizeof k, "%s%c%s", ev->agency, '\0', ev->source_id);
        uint8_t v[8];
        bn_store_put_be64(v, seq);
        if (kl > 0 && (size_t)kl < sizeof k)
            st = bn_store_txn_put(t, BN_DB_PROGRAMS, k, (size_t)kl, v, 8, err);
    }
    int64_t at;
    if (st == BN_OK && bn_timestamp_seconds(ev->occurred_at, &at) && at > w->event_clock)
        w->event_clock = at < now_s() ? at : now_s();
    return st;
}

/* Store one new event version at the next seq. */
static bn_status_t store_event(bn_writer_t *w, bn_store_txn_t *t, uint64_t seq,
                               const char *recorded_at, Benang__V1__Event *ev,
                               bn_event_result_t *res, bn_error_t *err)
{
    res->seq = seq;
    bn_event_id_for(w->cfg->hub_id, seq, res->event_id);
    append_tail(res, recorded_at);
    bn_status_t st = understand(w, t, seq, recorded_at, ev, res, err);
    if (st == BN_OK)
        st = bn_store_append(t, seq, res->topic, res->packed, res->packed_len, err);
    if (st == BN_OK)
        st = bn_store_idem_put(t, ev->agency, ev->type, ev->source_id, seq, res->hash, err);
    if (st == BN_OK) {
        res->stored = true;
        count(w, KIND_TYPE, ev->type);
        count(w, KIND_AGENCY, ev->agency);
    }
    return st;
}

/* Keep a refused payload as a rejected record. */
static bn_status_t keep_rejected(bn_writer_t *w, bn_store_txn_t *t, bn_req_t *r, bn_error_t *err)
{
    uint64_t id = 0;
    bn_status_t st = bn_store_rejected_next_id(t, &id, err);
    if (st != BN_OK)
        return st;
    Benang__V1__Rejected rec = BENANG__V1__REJECTED__INIT;
    rec.id = id;
    rec.agency = (char *)(r->agency ? r->agency : "");
    rec.adapter = r->adapter;
    rec.status = bn_status_to_wire(r->status);
    rec.error = r->err.msg;
    rec.error_path = r->err.where;
    rec.received_at = r->recorded_at;
    rec.payload_len = r->payload_len;
    rec.payload.data = r->payload;
    rec.payload.len = r->payload_len;
    rec.request_id = r->request_id;
    size_t len = benang__v1__rejected__get_packed_size(&rec);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    benang__v1__rejected__pack(&rec, buf);
    st = bn_store_rejected_put(t, id, buf, len, w->cfg->rejected_max, err);
    free(buf);
    if (st == BN_OK)
        r->rejected_id = id;
    return st;
}

/* A successful re-run of rejected payload #retry_of closes that record,
 * if it belongs to the same agency. */
static bn_status_t close_rejected(bn_store_txn_t *t, const bn_req_t *r, bn_error_t *err)
{
    const uint8_t *rec = NULL;
    size_t len = 0;
    bn_status_t st = bn_store_rejected_get(t, r->retry_of, &rec, &len, err);
    if (st == BN_NOT_FOUND)
        return BN_OK;
    if (st != BN_OK)
        return st;
    Benang__V1__Rejected *old = benang__v1__rejected__unpack(NULL, len, rec);
    bool same = old && r->agency && strcmp(old->agency, r->agency) == 0;
    if (old)
        benang__v1__rejected__free_unpacked(old, NULL);
    return same ? bn_store_rejected_del(t, r->retry_of, err) : BN_OK;
}

static bool has_referral(const bn_req_t *r)
{
    for (size_t i = 0; i < r->events.len; i++)
        if (r->events.items[i]->body_case == BENANG__V1__EVENT__BODY_REFERRAL)
            return true;
    return false;
}

/* The referral transitions of the request, before anything of it is stored
 * (duplicates excepted: a replay is answered DUPLICATE, not judged again). */
static bn_status_t check_referrals(bn_store_txn_t *t, bn_req_t *r, bn_error_t *err)
{
    bool *skip = calloc(r->events.len, sizeof *skip);
    if (!skip)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    bn_status_t st = BN_OK;
    for (size_t i = 0; i < r->events.len && st == BN_OK; i++) {
        Benang__V1__Event *ev = r->events.items[i];
        uint64_t old = 0;
        uint8_t h[BN_STORE_HASH_LEN];
        st = bn_store_idem_get(t, ev->agency, ev->type, ev->source_id, &old, h, err);
        skip[i] = st == BN_OK && memcmp(h, r->results[i].hash, BN_STORE_HASH_LEN) == 0;
        if (st == BN_NOT_FOUND)
            st = BN_OK;
    }
    if (st == BN_OK)
        st = bn_referrals_check(t, r->agency ? r->agency : "", r->events.items, skip, r->events.len,
                                err);
    free(skip);
    return st;
}

static bn_status_t write_request(bn_writer_t *w, bn_store_txn_t *t, bn_req_t *r, uint64_t *head,
                                 bn_error_t *err)
{
    if (r->refused)
        return r->keep ? keep_rejected(w, t, r, err) : BN_OK;
    if (r->events.len && has_referral(r)) {
        bn_status_t cst = check_referrals(t, r, err);
        if (cst == BN_CONFLICT) {
            r->status = BN_CONFLICT;
            r->err = *err;
            bn_error_clear(err);
            return BN_OK; /* refused, nothing of it stored; the batch goes on */
        }
        if (cst != BN_OK)
            return cst;
    }
    size_t dups = 0;
    for (size_t i = 0; i < r->events.len; i++) {
        Benang__V1__Event *ev = r->events.items[i];
        bn_event_result_t *res = &r->results[i];
        uint64_t old = 0;
        uint8_t old_hash[BN_STORE_HASH_LEN];
        bn_status_t st =
            bn_store_idem_get(t, ev->agency, ev->type, ev->source_id, &old, old_hash, err);
        if (st == BN_OK && memcmp(old_hash, res->hash, BN_STORE_HASH_LEN) == 0) {
            res->seq = old;
            res->duplicate = true;
            bn_event_id_for(w->cfg->hub_id, old, res->event_id);
            dups++;
            continue;
        }
        if (st != BN_OK && st != BN_NOT_FOUND)
            return st;
        res->supersedes_seq = st == BN_OK ? old : 0;
        if ((st = store_event(w, t, *head + 1, r->recorded_at, ev, res, err)) != BN_OK)
            return st;
        (*head)++;
    }
    r->status = dups == r->events.len ? BN_DUPLICATE : BN_OK;
    return r->retry_of ? close_rejected(t, r, err) : BN_OK;
}

static void reset_results(bn_batch_t *b)
{
    bn_batch_clear_alerts(b);
    for (size_t i = 0; i < b->len; i++)
        b->reqs[i]->rejected_id = 0;
    for (size_t i = 0; i < b->len; i++)
        for (size_t j = 0; j < b->reqs[i]->events.len; j++) {
            bn_event_result_t *res = &b->reqs[i]->results[j];
            res->packed_len = res->base_len;
            res->seq = res->supersedes_seq = 0;
            res->duplicate = res->stored = false;
        }
}

/* Store one finding as an alert event at the next seq. */
static bn_status_t store_alert(bn_writer_t *w, bn_store_txn_t *t, bn_batch_t *b,
                               const bn_finding_t *f, const char *stamp, uint64_t *head,
                               bn_error_t *err)
{
    Benang__V1__Alert al = BENANG__V1__ALERT__INIT;
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    uint64_t seqs[2];
    char *agencies[2], *sources[2];
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        if (!f->seqs[i] && !f->source_ids[i][0])
            continue;
        seqs[n] = f->seqs[i];
        agencies[n] = (char *)f->agencies[i];
        sources[n++] = (char *)f->source_ids[i];
    }
    al.rule = f->rule->id;
    al.kind = f->rule->kind;
    al.sector = (char *)f->sector;
    al.seqs = seqs;
    al.n_seqs = n;
    al.source_ids = sources;
    al.n_source_ids = n;
    char *ref_agencies[2] = {(char *)f->agencies[0], (char *)f->agencies[1]};
    al.agencies = f->referral_id[0] ? ref_agencies : agencies;
    al.n_agencies = f->referral_id[0] ? 2 : n;
    al.subject_key = (char *)f->subject_key;
    al.message = (char *)f->message;
    al.area = (char *)f->area;
    al.referral_id = (char *)f->referral_id;
    al.period_start = (char *)f->period_start;
    al.period_end = (char *)f->period_end;
    char source[300], hex[33];
    if (f->referral_id[0])
        snprintf(source, sizeof source, "%s:%s", f->rule->id, f->referral_id);
    else
        snprintf(source, sizeof source, "%s:%s", f->rule->id,
                 sodium_bin2hex(hex, sizeof hex, f->pair_hash, sizeof f->pair_hash));
    uint64_t seq = *head + 1;
    bn_event_result_t *res = bn_batch_add_alert(b);
    if (!res)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    res->seq = seq;
    bn_event_id_for(w->cfg->hub_id, seq, res->event_id);
    ev.seq = seq;
    ev.event_id = res->event_id;
    ev.agency = w->cfg->hub_id;
    ev.source_id = source;
    ev.type = "alert";
    ev.occurred_at = (char *)stamp;
    ev.recorded_at = (char *)stamp;
    ev.area = (char *)f->area;
    ev.sector = (char *)f->sector;
    ev.body_case = BENANG__V1__EVENT__BODY_ALERT;
    ev.alert = &al;
    snprintf(res->topic, sizeof res->topic, "alert.%s.%s", f->rule->kind,
             f->sector[0] ? f->sector : "none");
    res->packed_len = res->base_len = benang__v1__event__get_packed_size(&ev);
    if (!(res->packed = malloc(res->packed_len)))
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    benang__v1__event__pack(&ev, res->packed);
    crypto_generichash(res->hash, BN_STORE_HASH_LEN, res->packed, res->packed_len, NULL, 0);
    bn_status_t st = bn_store_append(t, seq, res->topic, res->packed, res->packed_len, err);
    if (st == BN_OK)
        st = bn_store_idem_put(t, ev.agency, ev.type, ev.source_id, seq, res->hash, err);
    uint8_t kb[8];
    bn_store_put_be64(kb, seq);
    if (st == BN_OK)
        st = bn_store_txn_put(t, BN_DB_FINDINGS, kb, 8, "", 0, err);
    if (st == BN_OK && !f->referral_id[0])
        st = bn_rules_mark_alerted(t, f, seq, err);
    if (st != BN_OK)
        return st;
    res->stored = true;
    (*head)++;
    count(w, KIND_TYPE, "alert");
    count(w, KIND_AGENCY, w->cfg->hub_id);
    return BN_OK;
}

/* Fire due referral timers, then store the batch's findings as alerts. */
static bn_status_t raise_alerts(bn_writer_t *w, bn_store_txn_t *t, bn_batch_t *b, uint64_t *head,
                                bn_error_t *err)
{
    if (w->unanswered) {
        int64_t clock = w->event_clock;
        if (w->unanswered->clock_lag_hours) {
            int64_t wall = now_s() - (int64_t)w->unanswered->clock_lag_hours * 3600;
            if (wall > clock)
                clock = wall;
        }
        bn_status_t st = bn_referrals_due(w->cfg, w->unanswered, t, clock, &w->findings, err);
        if (st != BN_OK)
            return st;
    }
    if (w->findings.len == 0)
        return BN_OK;
    char stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (size_t i = 0; i < w->findings.len; i++) {
        bn_status_t st = store_alert(w, t, b, &w->findings.items[i], stamp, head, err);
        if (st != BN_OK)
            return st;
    }
    return BN_OK;
}

/* How many pending entries make the next sorted pass: a share of the entries
 * already indexed, so that a pass, whose cost grows with the B-trees it
 * writes into (at millions of entries nearly every leaf page takes a new
 * entry), comes as much less often as it costs more, and its cost per event
 * stays flat as the store grows. Never fewer than hub.rule_index_flush, never
 * more than hub.rule_index_flush_max (the memory bound). */
#define FLUSH_SHARE_DIV 2
static size_t plan_flush(const bn_config_t *cfg, bn_store_txn_t *t)
{
    uint64_t indexed = bn_store_txn_entries(t, BN_DB_RULEIDX) + bn_store_txn_entries(t, BN_DB_PEOPLE);
    uint64_t lo = cfg->rule_index_flush,
             hi = cfg->rule_index_flush_max > lo ? cfg->rule_index_flush_max : lo;
    uint64_t at = indexed / FLUSH_SHARE_DIV;
    return (size_t)(at < lo ? lo : at > hi ? hi : at);
}

#define STAGE_STEP_MIN 64     /* staged entries written with every batch, at least */
#define STAGE_IDLE_STEP 16384 /* ... by an idle writer, every IDLE_STEP_MS */
#define IDLE_STEP_MS 20
#define FILTER_POLL_MS 50 /* how soon an idle writer adopts a filter built apart */

#define PRESIZE_SLACK 16384 /* entries a pass may gather past its size (the last batch) */

/* The size of the next pass, and hash tables made ready for it. */
static void set_flush_at(bn_writer_t *w, size_t n)
{
    w->flush_at = n;
    bn_error_t err;
    if (bn_pend_presize(w->pend, n + PRESIZE_SLACK, &err) != BN_OK)
        bn_log(BN_LOG_WARN, "rule_index_presize_failed", "entries=%zu", n);
}

/* The filter of what the two indexes in LMDB hold is built in a thread of
 * its own, so that a hub restarted on a big store serves at once (a scan of
 * 24 million entries took 9 s); until it is adopted the old filter, or none
 * (every lookup then goes to LMDB: slower, still right), answers. */
static void *filter_thread(void *arg)
{
    bn_writer_t *w = arg;
    pthread_setname_np(pthread_self(), "bn-filter"); /* in top, perf, /proc */
    w->fb.st = bn_pend_filter_build(w->store, w->fb.planned, 0, &w->fb.cancel, &w->fb.bloom,
                                    &w->fb.seen, &w->fb.err);
    atomic_store(&w->fb.done, true);
    return NULL;
}

/* One look at the two indexes: size the next pass from their entries, and
 * start building a filter of them (unless one is being built). */
static void survey_indexes(bn_writer_t *w)
{
    bn_error_t err;
    bn_store_txn_t *t = NULL;
    bn_status_t st = bn_store_begin(w->store, &t, &err);
    if (st != BN_OK) {
        char q[400];
        bn_log(BN_LOG_WARN, "index_survey_failed", "status=%s error=%s", bn_status_name(st),
               bn_log_quote(err.msg, q, sizeof q));
        return;
    }
    set_flush_at(w, plan_flush(w->cfg, t));
    uint64_t entries =
        bn_store_txn_entries(t, BN_DB_RULEIDX) + bn_store_txn_entries(t, BN_DB_PEOPLE);
    bn_store_abort(&t);
    if (w->fb.running)
        return;
    bn_pend_filter_collect(w->pend);
    w->fb.planned = entries;
    w->fb.t0 = now_ms();
    w->fb.bloom = NULL;
    atomic_store(&w->fb.done, false);
    atomic_store(&w->fb.cancel, false);
    if (pthread_create(&w->fb.thread, NULL, filter_thread, w) != 0) {
        bn_pend_filter_abandon(w->pend);
        bn_log(BN_LOG_WARN, "index_filter_failed", "error=\"cannot start its thread\"");
        return;
    }
    w->fb.running = true;
}

/* The filter thread has finished: adopt what it built. With stop, cancel
 * it, wait for it and drop what it built (the next start builds one). */
static void filter_collect(bn_writer_t *w, bool stop)
{
    if (!w->fb.running || (!stop && !atomic_load(&w->fb.done)))
        return;
    if (stop)
        atomic_store(&w->fb.cancel, true);
    pthread_join(w->fb.thread, NULL);
    w->fb.running = false;
    bn_status_t st = w->fb.st;
    bn_error_t *err = &w->fb.err;
    size_t bytes = w->fb.bloom ? bn_bloom_bytes(w->fb.bloom) : 0;
    if (stop) {
        bn_bloom_destroy(&w->fb.bloom);
        bn_pend_filter_abandon(w->pend);
        return;
    }
    if (st == BN_OK)
        st = bn_pend_filter_adopt(w->pend, &w->fb.bloom, err);
    else
        bn_pend_filter_abandon(w->pend);
    if (st != BN_OK) {
        char q[400];
        bn_log(BN_LOG_WARN, "index_filter_failed", "status=%s error=%s", bn_status_name(st),
               bn_log_quote(err->msg, q, sizeof q));
        return;
    }
    bn_log(BN_LOG_INFO, "index_filter_loaded", "entries=%llu bytes=%zu ms=%llu",
           (unsigned long long)w->fb.seen, bytes, (unsigned long long)(now_ms() - w->fb.t0));
}

/* The map is full: make it bigger (logged), for the attempt after `attempt`. */
static bn_status_t grow_store(bn_writer_t *w, int attempt, bn_error_t *err)
{
    bn_status_t st = bn_store_grow(w->store, err);
    if (st == BN_OK)
        bn_log(BN_LOG_INFO, "store_grown", "attempt=%d", attempt + 1);
    return st;
}

/* The last staged entry is in LMDB. */
static void flushed(bn_writer_t *w, size_t next_at)
{
    set_flush_at(w, next_at);
    bn_log(BN_LOG_INFO, "rule_index_flushed",
           "upto=%llu entries=%zu ms=%llu step_cpu_ms=%llu next_at=%zu",
           (unsigned long long)w->staged_upto, w->staged_entries,
           (unsigned long long)(now_ms() - w->staged_ms),
           (unsigned long long)(w->staged_cpu_ns / 1000000u), next_at);
    if (bn_pend_filter_full(w->pend))
        survey_indexes(w);
}

/* After a commit: stage the gathered entries when there are enough. */
static void stage_if_due(bn_writer_t *w, uint64_t head)
{
    if (bn_pend_staged(w->pend) || bn_pend_gathered(w->pend) < w->flush_at)
        return;
    size_t n = bn_pend_gathered(w->pend);
    bn_error_t err;
    if (bn_pend_stage(w->pend, head, &err) != BN_OK) {
        char q[400];
        bn_log(BN_LOG_WARN, "rule_index_stage_failed", "error=%s",
               bn_log_quote(err.msg, q, sizeof q));
        return; /* tried again after the next batch */
    }
    w->staged_upto = head;
    w->staged_entries = n;
    w->staged_ms = now_ms();
    w->staged_cpu_ns = 0;
    bn_log(BN_LOG_INFO, "rule_index_staged", "upto=%llu entries=%zu", (unsigned long long)head, n);
}

/* An idle writer goes on with a staged flush in a transaction of its own. */
static void idle_step(bn_writer_t *w)
{
    bn_error_t err;
    bn_store_txn_t *t = NULL;
    bool finished = false;
    size_t next_at = w->flush_at;
    bn_pend_mark(w->pend);
    bn_status_t st = bn_store_begin(w->store, &t, &err);
    if (st == BN_OK)
        st = stage_step(w, t, STAGE_IDLE_STEP, &finished, &err);
    if (st == BN_OK && finished)
        next_at = plan_flush(w->cfg, t);
    if (st == BN_OK)
        st = bn_store_commit(&t, &err);
    else
        bn_store_abort(&t);
    if (st != BN_OK) {
        bn_pend_rollback(w->pend);
        bn_error_t gerr;
        if (st == BN_STORE_FULL && grow_store(w, 0, &gerr) == BN_OK)
            return; /* the next step has room */
        char q[400];
        bn_log(BN_LOG_WARN, "rule_index_step_failed", "status=%s error=%s", bn_status_name(st),
               bn_log_quote(err.msg, q, sizeof q));
        return; /* the next batch writes them */
    }
    mark_dirty(w);
    bn_pend_committed(w->pend);
    if (finished)
        flushed(w, next_at);
}

static bn_status_t try_batch(bn_writer_t *w, bn_batch_t *b, bn_error_t *err)
{
    bn_store_txn_t *t = NULL;
    bn_status_t st = bn_store_begin(w->store, &t, err);
    if (st != BN_OK)
        return st;
    uint64_t head = bn_store_head(w->store);
    w->n_counts = 0;
    bn_findings_clear(&w->findings);
    bn_batch_clear_alerts(b);
    bn_pend_mark(w->pend);
    size_t gathered = bn_pend_gathered(w->pend);
    for (size_t i = 0; i < b->len && st == BN_OK; i++)
        st = write_request(w, t, b->reqs[i], &head, err);
    if (st == BN_OK)
        st = raise_alerts(w, t, b, &head, err);
    if (st == BN_OK)
        st = flush_counts(w, t, err);
    if (st == BN_OK && b->len == 0 && b->n_alerts == 0) {
        bn_store_abort(&t); /* a timer tick that found nothing: no commit, no fsync */
        return BN_OK;
    }
    /* A staged flush goes on by about twice what this batch added (so it is
     * done long before the next is due), and all at once when the next is. */
    bool finished = false;
    size_t next_at = w->flush_at;
    if (st == BN_OK && bn_pend_staged(w->pend)) {
        size_t added = bn_pend_gathered(w->pend) - gathered;
        size_t most = bn_pend_gathered(w->pend) >= w->flush_at ? SIZE_MAX
                                                                 : 2 * added + STAGE_STEP_MIN;
        st = stage_step(w, t, most, &finished, err);
        if (st == BN_OK && finished)
            next_at = plan_flush(w->cfg, t);
    }
    if (st == BN_OK)
        st = bn_store_commit(&t, err);
    else
        bn_store_abort(&t);
    if (st != BN_OK) {
        bn_pend_rollback(w->pend); /* the batch is redone or refused whole */
        if (w->link_opt.seen)      /* it may name people the store does not hold */
            memset(w->link_opt.seen, 0, sizeof *w->link_opt.seen);
        return st;
    }
    bn_pend_committed(w->pend);
    if (finished)
        flushed(w, next_at);
    return BN_OK; /* a new pass is staged after the batch is handed back (run) */
}

static void write_batch(bn_writer_t *w, bn_batch_t *b)
{
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st = BN_OK;
    for (int attempt = 0; attempt < 8; attempt++) {
        st = try_batch(w, b, &err);
        if (st != BN_STORE_FULL)
            break;
        reset_results(b);
        bn_error_t gerr;
        if (grow_store(w, attempt, &gerr) != BN_OK) {
            err = gerr;
            break;
        }
    }
    if (st == BN_OK) {
        mark_dirty(w);
        return;
    }
    reset_results(b);
    if (b->len == 0) {
        char q0[400];
        bn_log(BN_LOG_ERROR, "timers_failed", "status=%s error=%s", bn_status_name(st),
               bn_log_quote(err.msg, q0, sizeof q0));
        return;
    }
    bn_status_t reply = st == BN_STORE_FULL ? BN_UNAVAILABLE : BN_INTERNAL;
    char q[400];
    bn_log(BN_LOG_ERROR, "batch_failed", "status=%s requests=%zu events=%zu error=%s",
           bn_status_name(st), b->len, b->n_events, bn_log_quote(err.msg, q, sizeof q));
    for (size_t i = 0; i < b->len; i++)
        if (!b->reqs[i]->refused) /* a refusal keeps its own reason */
            bn_error_set(&b->reqs[i]->err, b->reqs[i]->status = reply, err.native, "store",
                         "nothing was stored: %s; retry later", err.msg);
}

/* What the batch stored, on the live feed, right after its commit (before
 * the acks, which the ingest thread sends): one hand-off less between the
 * commit and a subscriber. */
static void publish_batch(bn_writer_t *w, const bn_batch_t *b)
{
    for (size_t i = 0; i < b->len; i++) {
        const bn_req_t *r = b->reqs[i];
        if (r->status != BN_OK)
            continue;
        for (size_t j = 0; j < r->events.len; j++) {
            const bn_event_result_t *res = &r->results[j];
            if (!res->stored)
                continue;
            zmq_send(w->feed, res->topic, strlen(res->topic), ZMQ_SNDMORE);
            zmq_send(w->feed, res->packed, res->packed_len, 0);
        }
    }
    for (size_t i = 0; i < b->n_alerts; i++) {
        const bn_event_result_t *a = &b->alerts[i];
        if (!a->stored)
            continue;
        zmq_send(w->feed, a->topic, strlen(a->topic), ZMQ_SNDMORE);
        zmq_send(w->feed, a->packed, a->packed_len, 0);
    }
}

/* Buffered mode: the writer does not wait for the periodic fsync; a thread
 * of its own makes it every hub.sync_interval_ms when something was
 * committed since the last one. LMDB's mdb_env_sync is an fdatasync of the
 * data file, safe next to a write transaction. */
static void *sync_thread(void *arg)
{
    bn_writer_t *w = arg;
    pthread_setname_np(pthread_self(), "bn-syncer");
    uint_fast64_t synced = 0;
    pthread_mutex_lock(&w->sy.mu);
    while (!w->sy.stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)w->cfg->sync_interval_ms * 1000000ULL;
        until.tv_sec += (time_t)(ns / 1000000000ULL);
        until.tv_nsec = (long)(ns % 1000000000ULL);
        pthread_cond_timedwait(&w->sy.cv, &w->sy.mu, &until);
        uint_fast64_t c = atomic_load(&w->sy.commits);
        if (w->sy.stop || c == synced)
            continue;
        pthread_mutex_unlock(&w->sy.mu);
        bn_error_t err;
        if (bn_store_sync(w->store, &err) != BN_OK)
            bn_log(BN_LOG_ERROR, "sync_failed", "native=%d", err.native);
        else
            synced = c;
        pthread_mutex_lock(&w->sy.mu);
    }
    pthread_mutex_unlock(&w->sy.mu);
    return NULL;
}

static void syncer_start(bn_writer_t *w)
{
    if (w->cfg->durability != BN_DURABILITY_BUFFERED)
        return;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool ok = pthread_mutex_init(&w->sy.mu, NULL) == 0;
    if (ok && pthread_cond_init(&w->sy.cv, &ca) != 0) {
        pthread_mutex_destroy(&w->sy.mu);
        ok = false;
    }
    pthread_condattr_destroy(&ca);
    if (ok && pthread_create(&w->sy.thread, NULL, sync_thread, w) != 0) {
        pthread_cond_destroy(&w->sy.cv);
        pthread_mutex_destroy(&w->sy.mu);
        ok = false;
    }
    w->sy.running = ok;
    if (!ok) /* the writer syncs itself, as it did before */
        bn_log(BN_LOG_WARN, "syncer_not_started", "fsync_by=writer");
}

static void syncer_stop(bn_writer_t *w)
{
    if (!w->sy.running)
        return;
    pthread_mutex_lock(&w->sy.mu);
    w->sy.stop = true;
    pthread_cond_signal(&w->sy.cv);
    pthread_mutex_unlock(&w->sy.mu);
    pthread_join(w->sy.thread, NULL);
    pthread_cond_destroy(&w->sy.cv);
    pthread_mutex_destroy(&w->sy.mu);
    w->sy.running = false;
}

/* Buffered mode without a sync thread, and the last sync at a stop. */
static void maybe_sync(bn_writer_t *w, bool force)
{
    if (w->cfg->durability != BN_DURABILITY_BUFFERED || !w->dirty || w->sy.running)
        return;
    uint64_t now = now_ms();
    if (!force && now - w->last_sync_ms < w->cfg->sync_interval_ms)
        return;
    bn_error_t err;
    if (bn_store_sync(w->store, &err) != BN_OK)
        bn_log(BN_LOG_ERROR, "sync_failed", "native=%d", err.native);
    w->dirty = false;
    w->last_sync_ms = now;
}

/* A clean stop writes the pending index entries, so the next start has
 * nothing to derive again. On failure they are derived at the next start. */
static void flush_pending(bn_writer_t *w)
{
    if (!bn_pend_count(w->pend))
        return;
    bn_error_t err;
    bn_status_t st = BN_OK;
    for (int attempt = 0; attempt < 8; attempt++) {
        bn_store_txn_t *t = NULL;
        bn_pend_mark(w->pend);
        st = bn_store_begin(w->store, &t, &err);
        if (st == BN_OK)
            st = bn_pend_flush(w->pend, t, bn_store_head(w->store), &err);
        if (st == BN_OK)
            st = bn_store_commit(&t, &err);
        else
            bn_store_abort(&t);
        if (st != BN_STORE_FULL)
            break;
        bn_pend_rollback(w->pend); /* the staged entries it wrote are not there */
        if (grow_store(w, attempt, &err) != BN_OK)
            break;
    }
    if (st == BN_OK) {
        bn_pend_clear(w->pend);
        mark_dirty(w);
    } else {
        char q[400];
        bn_log(BN_LOG_WARN, "index_flush_at_stop_failed", "status=%s error=%s", bn_status_name(st),
               bn_log_quote(err.msg, q, sizeof q));
    }
}

static void *run(void *arg)
{
    bn_writer_t *w = arg;
    pthread_setname_np(pthread_self(), "bn-writer");
    w->last_sync_ms = now_ms();
    syncer_start(w);
    for (;;) {
        zmq_pollitem_t it = {w->pipe, 0, ZMQ_POLLIN, 0};
        int timeout = w->cfg->durability == BN_DURABILITY_BUFFERED && !w->sy.running
                          ? (int)w->cfg->sync_interval_ms
                          : -1;
        if (bn_pend_staged(w->pend) && (timeout < 0 || timeout > IDLE_STEP_MS))
            timeout = IDLE_STEP_MS;
        if (w->fb.running && (timeout < 0 || timeout > FILTER_POLL_MS))
            timeout = FILTER_POLL_MS;
        int rc = zmq_poll(&it, 1, timeout);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0)
            break;
        if (rc == 0) {
            filter_collect(w, false);
            bool stepping = bn_pend_staged(w->pend);
            if (stepping)
                idle_step(w);
            maybe_sync(w, !stepping); /* a sync_interval_ms wait: sync now */
            continue;
        }
        bn_batch_t *b = NULL;
        if (zmq_recv(w->pipe, &b, sizeof b, 0) != (int)sizeof b)
            continue;
        if (!b)
            break;
        write_batch(w, b);
        maybe_sync(w, false);
        publish_batch(w, b);
        while (zmq_send(w->pipe, &b, sizeof b, 0) < 0 && zmq_errno() == EINTR) {
        }
        /* Sorting a pass takes a moment: not on this batch's way to its acks. */
        stage_if_due(w, bn_store_head(w->store));
        filter_collect(w, false);
    }
    filter_collect(w, true); /* not adopted: the next start builds one */
    flush_pending(w);
    syncer_stop(w);
    maybe_sync(w, true);
    bn_findings_free(&w->findings);
    return NULL;
}

bn_status_t bn_writer_start(bn_writer_t **out, void *zctx, const char *pipe_endpoint, void *feed,
                            bn_store_t *store, const bn_pseudonym_t *pseudo, const bn_config_t *cfg,
                            bn_error_t *err)
{
    *out = NULL;
    bn_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    w->store = store;
    w->feed = feed;
    w->cfg = cfg;
    w->pseudo = pseudo;
    w->link_opt.upper = cfg->link_upper;
    w->link_opt.lower = cfg->link_lower;
    w->link_opt.max_block = cfg->link_max_block;
    w->link_opt.seen = calloc(1, sizeof *w->link_opt.seen); /* NULL: no shortcut, still right */
    w->unanswered = bn_rules_find(cfg, "referral");
    atomic_init(&w->sy.commits, 0);
    atomic_init(&w->fb.done, false);
    atomic_init(&w->fb.cancel, false);
    uint64_t replayed = 0, from = 0, head = bn_store_head(store);
    bn_status_t pst = bn_pend_new(&w->pend, err);
    unsigned eras = 0;
    if (pst == BN_OK && (pst = bn_pend_eras_present(store, &eras, err)) == BN_OK)
        bn_pend_eras_init(w->pend, cfg->rule_index_era_events, eras);
    if (pst == BN_OK && bn_pend_unflushed_from(store, &from, err) == BN_OK && from && from <= head)
        bn_log(BN_LOG_INFO, "rule_index_recovering", "from=%llu events=%llu",
               (unsigned long long)from, (unsigned long long)(head - from + 1));
    if (pst == BN_OK)
        pst = bn_rules_pend_recover(w->pend, cfg, store, &replayed, err);
    if (pst != BN_OK) {
        bn_writer_join(&w);
        return pst;
    }
    if (replayed)
        bn_log(BN_LOG_INFO, "rule_index_recovered", "events=%llu", (unsigned long long)replayed);
    w->flush_at = cfg->rule_index_flush;
    survey_indexes(w);
    stage_if_due(w, bn_store_head(store));
    w->link_opt.pend = w->pend;
    w->pipe = zmq_socket(zctx, ZMQ_PAIR);
    if (!w->pipe || zmq_connect(w->pipe, pipe_endpoint) != 0) {
        bn_error_set(err, BN_ZMQ, zmq_errno(), pipe_endpoint, "writer pipe: %s",
                     zmq_strerror(zmq_errno()));
        bn_writer_join(&w);
        return BN_ZMQ;
    }
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        bn_writer_join(&w);
        return bn_error_set(err, BN_INTERNAL, 0, NULL, "cannot start the writer thread");
    }
    w->started = true;
    *out = w;
    return BN_OK;
}

void bn_writer_join(bn_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_writer_t *w = *self_p;
    if (w->started)
        pthread_join(w->thread, NULL);
    filter_collect(w, true); /* started, but the writer thread was not */
    if (w->pipe) {
        int linger = 0;
        zmq_setsockopt(w->pipe, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(w->pipe);
    }
    bn_pend_destroy(&w->pend);
    free(w->link_opt.seen);
    free(w);
    *self_p = NULL;
}
