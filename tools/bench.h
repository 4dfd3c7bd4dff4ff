/* bench.h: what the files of benang-bench share (internal, not installed).
 *
 * bench.c      command line, phase order, the JSON report;
 * bench_load.c event templates, pipelined publisher threads, feed latency;
 * bench_hub.c  the hub child process, the run directory, status, replay and
 *              the raw LMDB reference;
 * bench_floor.c the floor: a minimal broker of the same ingest protocol.
 * Functions return 0 or -1; on -1 they have already said why on stderr
 * (this is a program, not a library: main decides the exit code).
 */
#ifndef BN_BENCH_H
#define BN_BENCH_H

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "benang/client.h"

#define BN_BENCH_NS 1000000000ULL
#define BN_BENCH_STALL_NS (60ULL * BN_BENCH_NS) /* a phase without progress this long fails */
#define BN_BENCH_SID_PUB_FMT "%c-%08x-%02d-%012" PRIu64 /* kind-run-publisher-i: 26 chars */
#define BN_BENCH_SID_PUB_LEN 26

#define BN_BENCH_BATCH_MAX 1000 /* --batch at most */

/* Set by SIGINT/SIGTERM: every loop checks it and gives up. */
extern volatile sig_atomic_t bn_bench_abort;

/* The command line. */
typedef struct {
    uint64_t events, prefill;
    int publishers, window;
    int batch; /* events per request in the prefill and throughput phases (>1: canonical-batch) */
    size_t size;
    bool buffered, json, fhir; /* json: canonical-json; fhir: FHIR R4 Immunization */
    const char *hub_bin, *data_dir, *ingest, *feed, *query, *agency;
    double lat_rate, lat_seconds;
    uint64_t lat_tick_ns; /* 0: wake for every latency event; else once per tick */
    bool no_raw, no_replay, keep, no_rules, no_floor;
    uint64_t residents;          /* 0: a new person per event; N: NIKs cycle over N people */
    uint64_t people_from;        /* added to every new person's number */
    const char *hub_options[16]; /* --hub-option KEY=VALUE: more keys under hub: */
    int n_hub_options;
} bn_bench_opts_t;

/* A payload with two fixed-width slots patched per event. */
typedef struct {
    uint8_t *buf; /* the payload as sent (protobuf or JSON) */
    size_t len;
    size_t sid_off, sid_len, nik_off;
    size_t birth_off; /* the subject's birth date, "YYYY-MM-DD" */
    uint8_t *proto;   /* the same event as protobuf (raw LMDB values) */
    size_t proto_len, proto_sid_off, proto_nik_off, proto_birth_off;
    size_t code_off; /* canonical only: the 2-digit vaccine code in buf, or (size_t)-1 */
} bn_bench_tmpl_t;

/* --residents: event k of publisher idx in phase kind is about resident
 * k % N and gets vaccine code (k / N + idx * 19 + (kind == 'T') * 50) % 100,
 * so no person gets the same vaccine twice within 100 rounds: the rules
 * work on realistic repeats without raising alerts. Patches t->buf. */
void bn_bench__tmpl_resident(const bn_bench_tmpl_t *t, uint8_t *buf, uint64_t k, uint64_t n,
                             int idx, char kind);

/* The run directory and the hub it started (pid 0: none or external). */
typedef struct {
    pid_t pid;
    char dir[512], cfg[600], log[600], hubdata[600], rawdir[600], floordir[600];
    char ingest[64], feed[64], query[64];
    bool own_dir;
} bn_bench_run_t;

/* Feed latency: send time in source_id to the subscriber's receive time. */
typedef struct {
    uint64_t sent, received;
    double p50, p99, max; /* ms */
} bn_bench_latency_t;

/* What the bench reads from StatusReply. */
typedef struct {
    uint64_t head, commits, committed;
    char durability[16];
} bn_bench_status_t;

/* CLOCK_MONOTONIC in ns. */
uint64_t bn_bench__now_ns(void);
void bn_bench__sleep_ms(int ms);

/* ---- bench_load.c ---- */

/* A template of size bytes of protobuf (the facility padded to fit) whose
 * source_id slot is sid_len characters; buf is the proto3 JSON of the same
 * event when json. 0, or -1 with a message. Free with bn_bench__tmpl_free. */
int bn_bench__tmpl_make(bn_bench_tmpl_t *t, size_t size, size_t sid_len, int format);
/* The payload format of o for bn_bench__tmpl_make: 0 protobuf, 1 proto3 JSON, 2 FHIR. */
int bn_bench__format(const bn_bench_opts_t *o);
void bn_bench__tmpl_free(bn_bench_tmpl_t *t);
/* Write sid (sid_len chars) and a 16-digit NIK derived from k into buf's slots. */
void bn_bench__tmpl_patch(uint8_t *buf, size_t sid_off, size_t nik_off, const char *sid,
                          size_t sid_len, uint64_t k);
/* Write the birth date of person number k (one of 5,040 dates in 2010-2024)
 * at off: people spread over linkage blocks as a population's do, rather
 * than millions sharing one birth date. */
void bn_bench__tmpl_birth(uint8_t *buf, size_t off, uint64_t k);
/* The adapter of one event: "canonical", "canonical-json" or "fhir". */
const char *bn_bench__adapter(const bn_bench_opts_t *o);
/* The adapter of a prefill or throughput request: "canonical-batch" with
 * --batch above 1, else bn_bench__adapter(). */
const char *bn_bench__adapter_req(const bn_bench_opts_t *o);
/* o->publishers threads pipelining n events in total (source_ids start with
 * kind and carry run); *acked events acked in *secs, first send to last ack;
 * *mark_s the seconds until the first `mark` were acked (0: not reached or
 * mark 0). */
int bn_bench__publish(const bn_bench_opts_t *o, const char *endpoint, char kind, unsigned run,
                      uint64_t n, uint64_t *acked, double *secs, uint64_t mark, double *mark_s);
/* Fixed-rate publishing timed by a live subscriber on the feed. */
int bn_bench__latency(const bn_bench_opts_t *o, const bn_bench_run_t *r, unsigned run,
                      bn_bench_latency_t *out);

/* ---- bench_hub.c ---- */

int bn_bench__status(bn_query_t *q, bn_bench_status_t *hs);
/* Fetch seq 1..head in pages of 10000: *count events in *secs. */
int bn_bench__replay(bn_query_t *q, uint64_t head, bool decode, uint64_t *count, double *secs);
/* n puts into a fresh LMDB env in dir, a commit every batch. */
int bn_bench__raw_lmdb(const bn_bench_opts_t *o, const char *dir, bool nosync, uint64_t n,
                       uint64_t batch, double *secs);
int bn_bench__run_dir_make(const bn_bench_opts_t *o, bn_bench_run_t *r);
void bn_bench__run_dir_clean(const bn_bench_opts_t *o, const bn_bench_run_t *r);
/* Start benang-hub on free loopback ports; ready when status answers. */
int bn_bench__hub_start(const bn_bench_opts_t *o, bn_bench_run_t *r);
/* SIGTERM, wait up to 60 s: the exit status, -1 when it had to be killed. */
int bn_bench__hub_stop(bn_bench_run_t *r);
/* The tail of the hub's log on stderr. */
void bn_bench__hub_log_dump(const bn_bench_run_t *r);

/* ---- bench_floor.c ---- */

/* The floor: a minimal broker of the same ingest protocol (ROUTER, decode,
 * group commit to LMDB, one PublishReply per request), in this process,
 * on a loopback port of its own. n: the events it will be sent (map size). */
typedef struct bn_bench_floor bn_bench_floor_t;
int bn_bench__floor_start(const bn_bench_opts_t *o, const char *dir, bool nosync, uint64_t n,
                          bn_bench_floor_t **out);
const char *bn_bench__floor_endpoint(const bn_bench_floor_t *f);
/* Stop it (after the publishers are done); *commits: its LMDB commits,
 * *stored: the events it committed. 0, or -1 when it failed to store
 * something (said on stderr). */
int bn_bench__floor_stop(bn_bench_floor_t **f, uint64_t *commits, uint64_t *stored);

#endif
