/* bench_load.c: benang-bench's load: event templates, publisher threads, feed latency.
 *
 * An event is built once per phase as a template (protobuf, or its proto3
 * JSON) whose source_id and NIK are fixed-width slots patched in place, so
 * every event of a phase has the same size and costs no encoding. Each
 * publisher thread owns its bn_publisher_t and its copy of the template and
 * keeps a window of requests in flight; the latency phase paces one
 * publisher with clock_nanosleep and times arrivals on a subscriber thread
 * by the send time carried in source_id.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "bench.h"

#define SID_LAT_FMT "%c-%020" PRIu64 "-%08x-%06u" /* kind-sendtime-run-i: 38 chars */
#define SID_LAT_LEN 38
#define NIK_LEN 16

/* ---- events ---------------------------------------------------------------- */

static const char PAD_TEXT[] =
    " - Jl. Raya Tanjung Barat No. 12, RW 05, Jagakarsa, Jakarta Selatan;"
    " posyandu Melati, jadwal imunisasi dasar lengkap";

static void fill_pad(char *pad, size_t n)
{
    static const char head[] = "Puskesmas Kelurahan Tanjung Barat";
    for (size_t i = 0; i < n; i++)
        pad[i] = i < sizeof head - 1 ? head[i]
                                     : PAD_TEXT[(i - (sizeof head - 1)) % (sizeof PAD_TEXT - 1)];
    pad[n] = '\0';
}

#define BIRTH "2025-03-14"

/* The immunisation event with facility padded to pad bytes, packed into a new buffer. */
static uint8_t *pack_event(const char *sid, const char *nik, const char *facility, size_t *len)
{
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    Benang__V1__Subject sub = BENANG__V1__SUBJECT__INIT;
    Benang__V1__Immunisation imm = BENANG__V1__IMMUNISATION__INIT;
    Benang__V1__Coding vac = BENANG__V1__CODING__INIT;
    vac.system = "http://hl7.org/fhir/sid/cvx";
    vac.code = "V#"; /* a slot: bn_bench__tmpl_make writes "08" or the resident's code */
    vac.display = "Hepatitis B";
    imm.vaccine = &vac;
    imm.dose_number = 1;
    imm.administered_on = "2026-11-02";
    imm.facility = (char *)facility;
    imm.lot_number = "HB2026-0417";
    imm.status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED;
    imm.performer = "Bidan Sri Wahyuni";
    sub.nik = (char *)nik;
    sub.local_id = "RM-0012345";
    sub.name = "Siti Aminah";
    sub.birth_date = BIRTH; /* a slot: bn_bench__tmpl_birth writes the person's */
    sub.sex = BENANG__V1__SEX__SEX_FEMALE;
    sub.village = "Tanjung Barat";
    sub.rw = "05";
    sub.rt = "003";
    ev.source_id = (char *)sid;
    ev.occurred_at = "2026-11-02T09:30:00+07:00";
    ev.subject = &sub;
    ev.area = "3174091005";
    ev.body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev.immunisation = &imm;
    size_t n = benang__v1__event__get_packed_size(&ev);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf)
        benang__v1__event__pack(&ev, buf);
    *len = n;
    return buf;
}

/* The proto3 JSON mapping of the same event, by hand. */
static char *json_event(const char *sid, const char *nik, const char *facility, size_t *len)
{
    const char *fmt =
        "{\"sourceId\":\"%s\",\"occurredAt\":\"2026-11-02T09:30:00+07:00\","
        "\"subject\":{\"nik\":\"%s\",\"localId\":\"RM-0012345\",\"name\":\"Siti Aminah\","
        "\"birthDate\":\"2025-03-14\",\"sex\":\"SEX_FEMALE\",\"village\":\"Tanjung Barat\","
        "\"rw\":\"05\",\"rt\":\"003\"},\"area\":\"3174091005\",\"immunisation\":{\"vaccine\":"
        "{\"system\":\"http://hl7.org/fhir/sid/cvx\",\"code\":\"08\",\"display\":"
        "\"Hepatitis B\"},\"doseNumber\":1,\"administeredOn\":\"2026-11-02\","
        "\"facility\":\"%s\",\"lotNumber\":\"HB2026-0417\","
        "\"status\":\"IMMUNISATION_STATUS_COMPLETED\",\"performer\":\"Bidan Sri Wahyuni\"}}";
    int n = snprintf(NULL, 0, fmt, sid, nik, facility);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (buf)
        snprintf(buf, (size_t)n + 1, fmt, sid, nik, facility);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* The same immunisation as a FHIR R4 Immunization with a contained Patient,
 * as the Puskesmas' system would send it to the "fhir" adapter. */
static char *fhir_event(const char *sid, const char *nik, const char *facility, size_t *len)
{
    const char *fmt =
        "{\"resourceType\":\"Immunization\",\"id\":\"%s\",\"contained\":[{\"resourceType\":"
        "\"Patient\",\"id\":\"p\",\"identifier\":[{\"system\":"
        "\"https://fhir.kemkes.go.id/id/nik\",\"value\":\"%s\"},{\"system\":"
        "\"https://puskesmas.example/id/rm\",\"value\":\"RM-0012345\"}],\"name\":[{\"text\":"
        "\"Siti Aminah\"}],\"gender\":\"female\",\"birthDate\":\"2025-03-14\",\"address\":"
        "[{\"city\":\"Tanjung Barat\"}]}],\"status\":\"completed\",\"vaccineCode\":{\"coding\":"
        "[{\"system\":\"http://hl7.org/fhir/sid/cvx\",\"code\":\"08\",\"display\":"
        "\"Hepatitis B\"}]},\"patient\":{\"reference\":\"#p\"},\"occurrenceDateTime\":"
        "\"2026-11-02T09:30:00+07:00\",\"location\":{\"display\":\"%s\"},\"lotNumber\":"
        "\"HB2026-0417\",\"performer\":[{\"actor\":{\"display\":\"Bidan Sri Wahyuni\"}}],"
        "\"protocolApplied\":[{\"doseNumberPositiveInt\":1}]}";
    int n = snprintf(NULL, 0, fmt, sid, nik, facility);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (buf)
        snprintf(buf, (size_t)n + 1, fmt, sid, nik, facility);
    *len = buf ? (size_t)n : 0;
    return buf;
}

static size_t find_slot(const uint8_t *buf, size_t len, const char *needle)
{
    const void *p = memmem(buf, len, needle, strlen(needle));
    return p ? (size_t)((const uint8_t *)p - buf) : (size_t)-1;
}

void bn_bench__tmpl_free(bn_bench_tmpl_t *t)
{
    free(t->buf);
    free(t->proto);
    memset(t, 0, sizeof *t);
}

/* A template of size bytes of protobuf (padding the facility), source_id slot
 * of sid_len characters. Returns 0, or -1 with a message on stderr. */
int bn_bench__tmpl_make(bn_bench_tmpl_t *t, size_t size, size_t sid_len, int format)
{
    char sid[64], nik[NIK_LEN + 1] = "3174999999999999";
    memset(sid, 'Q', sid_len);
    sid[sid_len] = '\0';
    memset(t, 0, sizeof *t);
    size_t pad = 0, len = 0, cap = size + 64;
    char *fac = malloc(cap + 1);
    if (!fac)
        return -1;
    for (int iter = 0; iter < 8; iter++) { /* a length varint may grow by a byte */
        fill_pad(fac, pad);
        free(t->proto);
        t->proto = pack_event(sid, nik, fac, &len);
        if (!t->proto || len == size)
            break;
        long next = (long)pad + (long)size - (long)len;
        if (next < 0)
            next = 0;
        if ((size_t)next > cap)
            next = (long)cap;
        if ((size_t)next == pad)
            break;
        pad = (size_t)next;
    }
    if (t->proto && len != size)
        fprintf(stderr, "bench: events are %zu bytes (closest to --size %zu)\n", len, size);
    t->proto_len = len;
    t->sid_len = sid_len;
    t->proto_sid_off = t->proto ? find_slot(t->proto, len, sid) : (size_t)-1;
    t->proto_nik_off = t->proto ? find_slot(t->proto, len, nik) : (size_t)-1;
    t->proto_birth_off = t->proto ? find_slot(t->proto, len, BIRTH) : (size_t)-1;
    if (format == 1) {
        t->buf = (uint8_t *)json_event(sid, nik, fac, &t->len);
    } else if (format == 2) {
        t->buf = (uint8_t *)fhir_event(sid, nik, fac, &t->len);
    } else if (t->proto) {
        t->buf = malloc(len);
        if (t->buf)
            memcpy(t->buf, t->proto, len);
        t->len = len;
    }
    free(fac);
    if (!t->buf || !t->proto || t->proto_sid_off == (size_t)-1 || t->proto_nik_off == (size_t)-1 ||
        t->proto_birth_off == (size_t)-1) {
        bn_bench__tmpl_free(t);
        fprintf(stderr, "bench: cannot build the event template\n");
        return -1;
    }
    t->code_off = format == 0 ? find_slot(t->buf, t->len, "V#") : (size_t)-1;
    size_t pcode = find_slot(t->proto, t->proto_len, "V#");
    if (pcode != (size_t)-1)
        memcpy(t->proto + pcode, "08", 2);
    if (t->code_off != (size_t)-1)
        memcpy(t->buf + t->code_off, "08", 2);
    t->sid_off = find_slot(t->buf, t->len, sid);
    t->nik_off = find_slot(t->buf, t->len, nik);
    t->birth_off = find_slot(t->buf, t->len, BIRTH);
    if (t->sid_off == (size_t)-1 || t->nik_off == (size_t)-1 || t->birth_off == (size_t)-1) {
        bn_bench__tmpl_free(t);
        fprintf(stderr, "bench: cannot build the event template\n");
        return -1;
    }
    return 0;
}

static int tmpl_copy(bn_bench_tmpl_t *dst, const bn_bench_tmpl_t *src)
{
    *dst = *src;
    dst->buf = malloc(src->len);
    dst->proto = malloc(src->proto_len);
    if (!dst->buf || !dst->proto) {
        bn_bench__tmpl_free(dst);
        return -1;
    }
    memcpy(dst->buf, src->buf, src->len);
    memcpy(dst->proto, src->proto, src->proto_len);
    return 0;
}

/* Write sid (exactly t->sid_len chars) and a 16-digit NIK derived from k. */
void bn_bench__tmpl_patch(uint8_t *buf, size_t sid_off, size_t nik_off, const char *sid,
                          size_t sid_len, uint64_t k)
{
    char nik[NIK_LEN + 1];
    snprintf(nik, sizeof nik, "3174%012" PRIu64, (uint64_t)(k % 1000000000000ULL));
    memcpy(buf + sid_off, sid, sid_len);
    memcpy(buf + nik_off, nik, NIK_LEN);
}

void bn_bench__tmpl_birth(uint8_t *buf, size_t off, uint64_t k)
{
    char d[11];
    snprintf(d, sizeof d, "%04u-%02u-%02u", (unsigned)(2010 + k / 336 % 15),
             (unsigned)(k / 28 % 12 + 1), (unsigned)(k % 28 + 1));
    memcpy(buf + off, d, 10);
}

void bn_bench__tmpl_resident(const bn_bench_tmpl_t *t, uint8_t *buf, uint64_t k, uint64_t n,
                             int idx, char kind)
{
    char nik[NIK_LEN + 1], code[3];
    snprintf(nik, sizeof nik, "3175%012" PRIu64, (uint64_t)(k % n % 1000000000000ULL));
    memcpy(buf + t->nik_off, nik, NIK_LEN);
    bn_bench__tmpl_birth(buf, t->birth_off, k % n);
    if (t->code_off != (size_t)-1) {
        unsigned v = (unsigned)((k / n + (uint64_t)idx * 19 + (kind == 'T' ? 50 : 0)) % 100);
        snprintf(code, sizeof code, "%02u", v);
        memcpy(buf + t->code_off, code, 2);
    }
}

/* ---- publishing ------------------------------------------------------------- */

typedef struct {
    const bn_bench_opts_t *o;
    const char *endpoint;
    const bn_bench_tmpl_t *tmpl;
    void *zctx;        /* one ZeroMQ context (one I/O thread) for all publishers */
    atomic_int *ready; /* publishers connected so far */
    atomic_bool *go;   /* all connected: start sending */
    char kind;         /* 'P' prefill, 'T' throughput: first char of source_id */
    unsigned run;      /* run tag: source_ids differ between runs on one hub */
    int idx;
    uint64_t n;             /* events to send */
    _Atomic uint64_t acked; /* read by the main thread for progress */
    atomic_bool done;
    uint64_t t_first, t_last;
    int failed;
    char msg[480];
} pub_t;

const char *bn_bench__adapter(const bn_bench_opts_t *o)
{
    return o->json ? "canonical-json" : o->fhir ? "fhir" : "canonical";
}

const char *bn_bench__adapter_req(const bn_bench_opts_t *o)
{
    return o->batch > 1 ? "canonical-batch" : bn_bench__adapter(o);
}

/* Describe a failed publish into msg. */
static void pub_error(char *msg, size_t size, bn_status_t st, const bn_publish_result_t *res,
                      const bn_error_t *err)
{
    if (res && res->reply && res->reply->error && res->reply->error[0])
        snprintf(msg, size, "hub refused: %s at %s: %s", bn_status_name(st),
                 res->reply->error_path ? res->reply->error_path : "-", res->reply->error);
    else
        snprintf(msg, size, "%s: %s", bn_status_name(st), err->msg);
}

/* Pipelined send of p->n events with at most window in flight. */
static void *pub_thread(void *arg)
{
    pub_t *p = arg;
    bn_bench_tmpl_t t;
    bn_publisher_t *pub = NULL;
    bn_error_t err;
    bn_error_clear(&err);
    bn_client_options_t copts = {.zmq_context = p->zctx, .timeout_ms = 10000};
    if (tmpl_copy(&t, p->tmpl) != 0) {
        snprintf(p->msg, sizeof p->msg, "out of memory");
        p->failed = 1;
    } else if (bn_publisher_new(&pub, p->endpoint, &copts, &err) != BN_OK) {
        snprintf(p->msg, sizeof p->msg, "publisher: %s", err.msg);
        p->failed = 1;
    }
    atomic_fetch_add(p->ready, 1);
    while (!atomic_load(p->go) && !bn_bench_abort)
        bn_bench__sleep_ms(1);
    /* sent: events; requests and replies: requests of up to batch events,
     * window of them in flight. */
    uint64_t sent = 0, requests = 0, replies = 0, last_progress = bn_bench__now_ns();
    uint64_t batch = p->o->batch > 1 ? (uint64_t)p->o->batch : 1;
    uint64_t n_requests = (p->n + batch - 1) / batch;
    size_t cap = !p->failed && batch > 1 ? batch * bn_event_batch_entry_size(t.len) : 0;
    uint8_t *bbuf = cap ? malloc(cap) : NULL;
    if (cap && !bbuf && !p->failed) {
        snprintf(p->msg, sizeof p->msg, "out of memory");
        p->failed = 1;
    }
    char sid[64];
    while (!p->failed && replies < n_requests) {
        if (bn_bench_abort) {
            snprintf(p->msg, sizeof p->msg, "interrupted");
            p->failed = 1;
            break;
        }
        while (requests < n_requests && requests - replies < (uint64_t)p->o->window) {
            size_t used = 0;
            for (uint64_t k = 0; k < batch && sent < p->n; k++) {
                snprintf(sid, sizeof sid, BN_BENCH_SID_PUB_FMT, p->kind, p->run, p->idx, sent);
                /* A new person per event (without --residents), and the
                 * throughput phase's people are not the prefill's: the same
                 * NIK, vaccine and dose again would be a real duplicate,
                 * alerted. */
                uint64_t person = (uint64_t)p->idx * 10000000000ULL +
                                  (p->kind == 'P' ? 5000000000ULL : 0) + p->o->people_from + sent;
                bn_bench__tmpl_patch(t.buf, t.sid_off, t.nik_off, sid, BN_BENCH_SID_PUB_LEN,
                                     person);
                bn_bench__tmpl_birth(t.buf, t.birth_off, person);
                if (p->o->residents)
                    bn_bench__tmpl_resident(&t, t.buf, sent, p->o->residents, p->idx, p->kind);
                if (bbuf)
                    bn_event_batch_add(bbuf, cap, &used, t.buf, t.len); /* cap fits batch */
                sent++;
            }
            if (requests == 0)
                p->t_first = bn_bench__now_ns();
            bn_status_t st =
                bn_publisher_send(pub, p->o->agency, bn_bench__adapter_req(p->o),
                                  bbuf ? bbuf : t.buf, bbuf ? used : t.len, NULL, &err);
            if (st != BN_OK) {
                pub_error(p->msg, sizeof p->msg, st, NULL, &err);
                p->failed = 1;
                break;
            }
            requests++;
        }
        if (p->failed)
            break;
        bn_publish_result_t res;
        memset(&res, 0, sizeof res);
        bn_status_t st = bn_publisher_recv(pub, 1000, &res, &err);
        uint64_t now = bn_bench__now_ns();
        if (st == BN_TIMEOUT) {
            if (now - last_progress > BN_BENCH_STALL_NS) {
                snprintf(p->msg, sizeof p->msg,
                         "stalled: no ack for 60 s (%" PRIu64 " of %" PRIu64 " acked)",
                         (uint64_t)atomic_load(&p->acked), p->n);
                p->failed = 1;
            }
            continue;
        }
        if (st != BN_OK && st != BN_DUPLICATE) {
            pub_error(p->msg, sizeof p->msg, st, &res, &err);
            p->failed = 1;
            break;
        }
        replies++;
        atomic_fetch_add(&p->acked, res.reply ? res.reply->n_events : 1);
        p->t_last = last_progress = now;
    }
    bn_publisher_destroy(&pub);
    free(bbuf);
    bn_bench__tmpl_free(&t);
    atomic_store(&p->done, true);
    return NULL;
}

/* A line on stderr every 10 s until every publisher is done; *mark_s: the
 * seconds until `mark` events were acked (0: not reached). */
static void progress(pub_t *ps, int k, char kind, uint64_t n, uint64_t mark, double *mark_s)
{
    uint64_t t0 = bn_bench__now_ns(), shown = t0;
    *mark_s = 0;
    for (;;) {
        int done = 0;
        uint64_t acked = 0;
        for (int i = 0; i < k; i++) {
            done += atomic_load(&ps[i].done);
            acked += atomic_load(&ps[i].acked);
        }
        if (mark && acked >= mark && *mark_s == 0)
            *mark_s = (double)(bn_bench__now_ns() - t0) / 1e9;
        if (done == k)
            return;
        uint64_t now = bn_bench__now_ns();
        if (now - shown >= 10 * BN_BENCH_NS) {
            fprintf(stderr, "bench: %s: %" PRIu64 " of %" PRIu64 " acked (%.0f/s so far)\n",
                    kind == 'P'   ? "prefill"
                    : kind == 'F' ? "floor"
                                  : "throughput",
                    acked, n, acked / ((double)(now - t0) / 1e9));
            shown = now;
        }
        bn_bench__sleep_ms(20);
    }
}

/* K threads publishing n events in total; *rate = acked/s from first send to
 * last ack. Returns 0, or -1 with a message on stderr. */
int bn_bench__publish(const bn_bench_opts_t *o, const char *endpoint, char kind, unsigned run,
                      uint64_t n, uint64_t *acked, double *secs, uint64_t mark, double *mark_s)
{
    int k = o->publishers;
    bn_bench_tmpl_t t;
    if (bn_bench__tmpl_make(&t, o->size, BN_BENCH_SID_PUB_LEN, bn_bench__format(o)) != 0)
        return -1;
    pub_t *ps = calloc((size_t)k, sizeof *ps);
    pthread_t *th = calloc((size_t)k, sizeof *th);
    atomic_int ready = 0;
    atomic_bool go = false;
    int rc = 0, started = 0;
    void *zctx = zmq_ctx_new();
    if (!ps || !th || !zctx) {
        fprintf(stderr, "bench: out of memory\n");
        free(ps);
        free(th);
        if (zctx)
            zmq_ctx_term(zctx);
        bn_bench__tmpl_free(&t);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        ps[i] = (pub_t){.zctx = zctx,
                        .o = o,
                        .endpoint = endpoint,
                        .tmpl = &t,
                        .ready = &ready,
                        .go = &go,
                        .kind = kind,
                        .run = run,
                        .idx = i,
                        .n = n / (uint64_t)k + ((uint64_t)i < n % (uint64_t)k)};
        if (pthread_create(&th[i], NULL, pub_thread, &ps[i]) != 0) {
            fprintf(stderr, "bench: cannot start publisher thread %d\n", i);
            rc = -1;
            bn_bench_abort = 1; /* the started ones give up at once */
            break;
        }
        started++;
    }
    while (atomic_load(&ready) < started)
        bn_bench__sleep_ms(1);
    atomic_store(&go, true);
    progress(ps, started, kind, n, mark, mark_s);
    uint64_t first = UINT64_MAX, last = 0;
    *acked = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (ps[i].failed) {
            fprintf(stderr, "bench: publisher %d: %s\n", i, ps[i].msg);
            rc = -1;
        }
        *acked += ps[i].acked;
        if (ps[i].t_first && ps[i].t_first < first)
            first = ps[i].t_first;
        if (ps[i].t_last > last)
            last = ps[i].t_last;
    }
    *secs = last > first ? (double)(last - first) / 1e9 : 0.0;
    free(ps);
    free(th);
    zmq_ctx_term(zctx); /* its sockets are closed, linger 0: returns at once */
    bn_bench__tmpl_free(&t);
    return rc;
}

/* ---- latency ------------------------------------------------------------------ */

typedef struct {
    const char *feed;
    uint64_t *lat; /* ns, one per latency event received */
    size_t cap;
    _Atomic size_t n;
    atomic_bool ready, warm, stop;
    int failed;
    char msg[400];
} sub_t;

static void *sub_thread(void *arg)
{
    sub_t *s = arg;
    bn_subscriber_t *sub = NULL;
    bn_error_t err;
    bn_error_clear(&err);
    bn_client_options_t copts = {.timeout_ms = 10000};
    if (bn_subscriber_new(&sub, s->feed, NULL, NULL, 0, 0, &copts, &err) != BN_OK) {
        snprintf(s->msg, sizeof s->msg, "subscriber: %s", err.msg);
        s->failed = 1;
        atomic_store(&s->ready, true);
        return NULL;
    }
    atomic_store(&s->ready, true);
    while (!atomic_load(&s->stop) && !bn_bench_abort) {
        const Benang__V1__Event *ev = NULL;
        bn_status_t st = bn_subscriber_next(sub, 100, &ev, NULL, &err);
        uint64_t t = bn_bench__now_ns();
        if (st == BN_TIMEOUT)
            continue;
        if (st != BN_OK) {
            snprintf(s->msg, sizeof s->msg, "subscriber: %s: %s", bn_status_name(st), err.msg);
            s->failed = 1;
            break;
        }
        const char *sid = ev && ev->source_id ? ev->source_id : "";
        if (sid[0] == 'W' && sid[1] == '-') {
            atomic_store(&s->warm, true);
        } else if (sid[0] == 'L' && sid[1] == '-') {
            uint64_t sent = strtoull(sid + 2, NULL, 10);
            size_t i = atomic_load(&s->n);
            if (i < s->cap && t >= sent) {
                s->lat[i] = t - sent;
                atomic_store(&s->n, i + 1);
            }
        }
    }
    bn_subscriber_destroy(&sub);
    return NULL;
}

/* Collect every reply available within timeout_ms; -1 on a failed reply. */
static int drain(bn_publisher_t *pub, int timeout_ms, uint64_t *replies)
{
    bn_publish_result_t res;
    bn_error_t err;
    bn_error_clear(&err);
    for (;;) {
        memset(&res, 0, sizeof res);
        bn_status_t st = bn_publisher_recv(pub, timeout_ms, &res, &err);
        if (st == BN_TIMEOUT)
            return 0;
        if (st != BN_OK && st != BN_DUPLICATE) {
            char msg[480];
            pub_error(msg, sizeof msg, st, &res, &err);
            fprintf(stderr, "bench: latency publisher: %s\n", msg);
            return -1;
        }
        (*replies)++;
        timeout_ms = 0;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Publish one event with source_id kind-<time>-<run>-<i>. */
static bn_status_t send_timed(bn_publisher_t *pub, const bn_bench_opts_t *o, bn_bench_tmpl_t *t,
                              char kind, unsigned run, unsigned i, bn_error_t *err)
{
    char sid[64];
    snprintf(sid, sizeof sid, SID_LAT_FMT, kind, bn_bench__now_ns(), run, i);
    bn_bench__tmpl_patch(t->buf, t->sid_off, t->nik_off, sid, SID_LAT_LEN, 900000000000ULL + i);
    bn_bench__tmpl_birth(t->buf, t->birth_off, 900000000000ULL + i);
    return bn_publisher_send(pub, o->agency, bn_bench__adapter(o), t->buf, t->len, NULL, err);
}

/* Fixed-rate publishing with a live subscriber timing each event's arrival. */
int bn_bench__latency(const bn_bench_opts_t *o, const bn_bench_run_t *r, unsigned run,
                      bn_bench_latency_t *out)
{
    uint64_t count = (uint64_t)(o->lat_rate * o->lat_seconds + 0.5);
    memset(out, 0, sizeof *out);
    bn_bench_tmpl_t t;
    if (count == 0 || bn_bench__tmpl_make(&t, o->size, SID_LAT_LEN, bn_bench__format(o)) != 0)
        return count == 0 ? 0 : -1;
    sub_t s = {.feed = r->feed, .cap = count};
    s.lat = malloc(count * sizeof *s.lat);
    bn_publisher_t *pub = NULL;
    bn_error_t err;
    bn_error_clear(&err);
    bn_client_options_t copts = {.timeout_ms = 10000};
    pthread_t th;
    int rc = -1;
    if (!s.lat || pthread_create(&th, NULL, sub_thread, &s) != 0) {
        fprintf(stderr, "bench: cannot start the subscriber\n");
        free(s.lat);
        bn_bench__tmpl_free(&t);
        return -1;
    }
    while (!atomic_load(&s.ready))
        bn_bench__sleep_ms(5);
    if (s.failed || bn_publisher_new(&pub, r->ingest, &copts, &err) != BN_OK) {
        fprintf(stderr, "bench: latency: %s\n", s.failed ? s.msg : err.msg);
        goto done;
    }
    /* Warm-up: the feed drops what is published before the subscription lands. */
    uint64_t replies = 0, sent = 0, t0 = bn_bench__now_ns();
    for (unsigned w = 0; !atomic_load(&s.warm); w++) {
        if (bn_bench_abort || s.failed || bn_bench__now_ns() - t0 > 30 * BN_BENCH_NS) {
            fprintf(stderr, "bench: latency: subscriber never saw a warm-up event in 30 s\n");
            goto done;
        }
        if (send_timed(pub, o, &t, 'W', run, w, &err) != BN_OK || drain(pub, 200, &replies) != 0)
            goto done;
        sent++;
    }
    if (drain(pub, 2000, &replies) != 0)
        goto done;
    fprintf(stderr, "bench: latency: %" PRIu64 " events at %.0f/s\n", count, o->lat_rate);
    uint64_t period = (uint64_t)(1e9 / o->lat_rate), start = bn_bench__now_ns() + 1000000;
    for (uint64_t i = 0; i < count && !bn_bench_abort; i++) {
        uint64_t target = start + i * period;
        if (o->lat_tick_ns) /* wake once per tick and send what is due by its end */
            target = start + (i * period + o->lat_tick_ns - 1) / o->lat_tick_ns * o->lat_tick_ns;
        if (drain(pub, 0, &replies) != 0)
            goto done;
        if (target > bn_bench__now_ns()) {
            struct timespec ts = {(time_t)(target / BN_BENCH_NS), (long)(target % BN_BENCH_NS)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
                   !bn_bench_abort) {
            }
        }
        uint64_t wait_from = bn_bench__now_ns();
        while (sent - replies >= (uint64_t)o->window) {
            if (drain(pub, 1000, &replies) != 0)
                goto done;
            if (bn_bench__now_ns() - wait_from > BN_BENCH_STALL_NS || bn_bench_abort) {
                fprintf(stderr, "bench: latency: stalled, no ack for 60 s\n");
                goto done;
            }
        }
        if (send_timed(pub, o, &t, 'L', run, (unsigned)i, &err) != BN_OK) {
            fprintf(stderr, "bench: latency: send: %s\n", err.msg);
            goto done;
        }
        sent++;
    }
    out->sent = count;
    uint64_t last = bn_bench__now_ns(), seen = 0;
    while (!bn_bench_abort && !s.failed && (replies < sent || atomic_load(&s.n) < count)) {
        if (drain(pub, 100, &replies) != 0)
            goto done;
        uint64_t n = atomic_load(&s.n) + replies;
        if (n != seen) {
            seen = n;
            last = bn_bench__now_ns();
        } else if (bn_bench__now_ns() - last > 10 * BN_BENCH_NS) {
            break; /* feed messages lost: reported as latency_lost */
        }
    }
    if (replies < sent) {
        fprintf(stderr, "bench: latency: %" PRIu64 " of %" PRIu64 " acked\n", replies, sent);
        goto done;
    }
    rc = 0;
done:
    atomic_store(&s.stop, true);
    pthread_join(th, NULL);
    if (s.failed)
        fprintf(stderr, "bench: latency: %s\n", s.msg);
    size_t n = atomic_load(&s.n);
    out->received = n;
    const char *dump = getenv("BN_BENCH_LATENCY_DUMP"); /* arrival order, ns: for tail studies */
    FILE *df = dump && *dump ? fopen(dump, "w") : NULL;
    for (size_t i = 0; df && i < n; i++)
        fprintf(df, "%llu\n", (unsigned long long)s.lat[i]);
    if (df)
        fclose(df);
    if (rc == 0 && n > 0) {
        qsort(s.lat, n, sizeof *s.lat, cmp_u64);
        out->p50 = (double)s.lat[(n - 1) / 2] / 1e6;
        size_t i99 = (n * 99 + 99) / 100;
        out->p99 = (double)s.lat[(i99 ? i99 : 1) - 1] / 1e6;
        out->max = (double)s.lat[n - 1] / 1e6;
    }
    bn_publisher_destroy(&pub);
    free(s.lat);
    bn_bench__tmpl_free(&t);
    return rc;
}

int bn_bench__format(const bn_bench_opts_t *o)
{
    return o->json ? 1 : o->fhir ? 2 : 0;
}
