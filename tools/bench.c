/* bench.c: benang-bench, the load generator: ingest throughput, feed latency,
 * replay speed and a raw LMDB reference, printed as one JSON object.
 *
 * One run does every phase in order: start a hub (unless endpoints are
 * given), prefill, pipelined throughput from K publisher threads, latency at
 * a fixed rate measured by a live subscriber, replay through the query
 * endpoint, then the same number of puts straight into a fresh LMDB env on
 * the same filesystem, committed in groups of the hub's measured mean group
 * commit, so the ratio between the two says what the hub costs on top of
 * LMDB itself, and last the same throughput phase against the floor, a
 * minimal broker of the same protocol in this process (bench_floor.c): what
 * any hub could reach here with this load generator beside it. Progress goes to stderr, the figures
 * to stdout. Every loop is bounded: a phase without progress for 60 s fails, and the hub is stopped
 * with SIGTERM whatever happens. See bench.h for the other files.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

volatile sig_atomic_t bn_bench_abort;

uint64_t bn_bench__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * BN_BENCH_NS + (uint64_t)ts.tv_nsec;
}

void bn_bench__sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void on_signal(int sig)
{
    (void)sig;
    bn_bench_abort = 1;
}

/* ---- command line and main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: benang-bench [options]\n"
            "\n"
            "Load generator for benang-hub. Starts a hub on loopback ports with a fresh data\n"
            "dir (unless --ingest/--feed/--query are given), then measures in order:\n"
            "prefill, pipelined ingest throughput, feed latency at a fixed rate, replay\n"
            "through the query endpoint, a raw LMDB reference on the same filesystem, and\n"
            "the same throughput phase against a floor broker of the same protocol.\n"
            "Prints one JSON object on stdout; progress and errors on stderr.\n"
            "\n"
            "  -n, --events N           events in the throughput phase [200000]\n"
            "  -p, --publishers K       publisher threads, one connection each [4]\n"
            "  -s, --size S             bytes of each serialized benang.v1.Event, 250..4300\n"
            "                           (one text field is padded; the hub caps it at 4096) [300]\n"
            "  -w, --window W           requests in flight per publisher [256]\n"
            "  -b, --batch B            events per request in the prefill and throughput\n"
            "                           phases, as one benang.v1.EventBatch (adapter\n"
            "                           canonical-batch; canonical events only); the latency\n"
            "                           phase sends one per request [1]\n"
            "  -d, --durability MODE    sync | buffered: the hub's and the raw LMDB's [sync]\n"
            "  -a, --adapter NAME       canonical | canonical-json | fhir (proto3 JSON, or a FHIR\n"
            "                           R4 Immunization with contained Patient, of the same\n"
            "                           event) [canonical]\n"
            "      --hub PATH           benang-hub binary [benang-hub next to this binary]\n"
            "      --data-dir DIR       run directory (hub data, raw LMDB) [a fresh directory\n"
            "                           under $TMPDIR or /var/tmp, never on tmpfs]\n"
            "      --ingest URL         use a running hub: its ingest endpoint\n"
            "      --feed URL           ... its feed endpoint\n"
            "      --query URL          ... its query endpoint (all three together)\n"
            "      --agency ID          publishing agency, sector health [puskesmas-a]\n"
            "      --prefill N          events stored before measuring [0]\n"
            "      --latency-rate R     events/s in the latency phase [10000]\n"
            "      --latency-seconds D  length of the latency phase, 0 skips it [3]\n"
            "      --latency-tick-us T  the latency publisher wakes every T us and sends the\n"
            "                           events due by then, each stamped as it is sent\n"
            "                           (0: it wakes for each event) [0]\n"
            "      --no-raw             skip the raw LMDB reference\n"
            "      --no-floor           skip the floor reference (a minimal broker of the same\n"
            "                           protocol in this process, same events and publishers)\n"
            "      --no-replay          skip the replay phase\n"
            "      --keep               keep the run directory\n"
            "      --no-rules           start the hub with `rules: []` (the overlap rules off;\n"
            "                           subject linkage stays on) [the shipped default rules]\n"
            "      --residents N        NIKs cycle over N people, each getting another vaccine\n"
            "                           code each round (canonical only) [0: one per event]\n"
            "      --people-from N      number new people from N, for another run against a\n"
            "                           kept store whose people must not come again [0]\n"
            "      --hub-option K=V     one more key under hub: in the hub's configuration,\n"
            "                           e.g. rule_index_flush_max=4000000 (repeatable, 16 at\n"
            "                           most; the hub refuses keys it does not know)\n"
            "  -h, --help               this text\n"
            "\n"
            "Exit status: 0 all phases ran and the hub stopped cleanly, 1 a phase failed,\n"
            "2 usage error. See docs/benchmarks.md for what each figure means.\n");
}

static int parse_u64(const char *s, const char *name, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        fprintf(stderr, "benang-bench: %s: not a number in 0..%" PRIu64 " (got \"%s\")\n", name,
                max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* As parse_u64, for a count that must be at least 1. */
static int parse_count(const char *s, const char *name, uint64_t max, uint64_t *out)
{
    if (parse_u64(s, name, max, out))
        return -1;
    if (*out == 0) {
        fprintf(stderr, "benang-bench: %s: must be at least 1 (got \"%s\")\n", name, s);
        return -1;
    }
    return 0;
}

static int parse_opts(int argc, char **argv, bn_bench_opts_t *o)
{
    static const struct option lo[] = {{"events", required_argument, NULL, 'n'},
                                       {"publishers", required_argument, NULL, 'p'},
                                       {"size", required_argument, NULL, 's'},
                                       {"window", required_argument, NULL, 'w'},
                                       {"durability", required_argument, NULL, 'd'},
                                       {"adapter", required_argument, NULL, 'a'},
                                       {"hub", required_argument, NULL, 1},
                                       {"data-dir", required_argument, NULL, 2},
                                       {"ingest", required_argument, NULL, 3},
                                       {"feed", required_argument, NULL, 4},
                                       {"query", required_argument, NULL, 5},
                                       {"prefill", required_argument, NULL, 6},
                                       {"latency-rate", required_argument, NULL, 7},
                                       {"latency-seconds", required_argument, NULL, 8},
                                       {"no-raw", no_argument, NULL, 9},
                                       {"no-replay", no_argument, NULL, 10},
                                       {"keep", no_argument, NULL, 11},
                                       {"agency", required_argument, NULL, 12},
                                       {"no-rules", no_argument, NULL, 13},
                                       {"residents", required_argument, NULL, 14},
                                       {"people-from", required_argument, NULL, 15},
                                       {"latency-tick-us", required_argument, NULL, 16},
                                       {"no-floor", no_argument, NULL, 17},
                                       {"hub-option", required_argument, NULL, 18},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "n:p:s:w:b:d:a:h", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_u64(optarg, "--events", 1ULL << 40, &o->events))
                return -1;
            break;
        case 'p':
            if (parse_count(optarg, "--publishers", 64, &v))
                return -1;
            o->publishers = (int)v;
            break;
        case 's':
            if (parse_count(optarg, "--size", 4300, &v))
                return -1;
            o->size = (size_t)v;
            break;
        case 'w':
            if (parse_count(optarg, "--window", 100000, &v))
                return -1;
            o->window = (int)v;
            break;
        case 'b':
            if (parse_count(optarg, "--batch", BN_BENCH_BATCH_MAX, &v))
                return -1;
            o->batch = (int)v;
            break;
        case 'd':
            if (strcmp(optarg, "sync") && strcmp(optarg, "buffered")) {
                fprintf(stderr, "benang-bench: --durability: sync or buffered (got \"%s\")\n",
                        optarg);
                return -1;
            }
            o->buffered = strcmp(optarg, "buffered") == 0;
            break;
        case 'a':
            if (strcmp(optarg, "canonical") && strcmp(optarg, "canonical-json") &&
                strcmp(optarg, "fhir")) {
                fprintf(stderr,
                        "benang-bench: --adapter: canonical, canonical-json or fhir (got \"%s\")\n",
                        optarg);
                return -1;
            }
            o->json = strcmp(optarg, "canonical-json") == 0;
            o->fhir = strcmp(optarg, "fhir") == 0;
            break;
        case 1:
            o->hub_bin = optarg;
            break;
        case 2:
            o->data_dir = optarg;
            break;
        case 3:
            o->ingest = optarg;
            break;
        case 4:
            o->feed = optarg;
            break;
        case 5:
            o->query = optarg;
            break;
        case 6:
            if (parse_u64(optarg, "--prefill", 1ULL << 40, &o->prefill))
                return -1;
            break;
        case 7:
            if (parse_count(optarg, "--latency-rate", 10000000, &v))
                return -1;
            o->lat_rate = (double)v;
            break;
        case 8:
            if (parse_u64(optarg, "--latency-seconds", 3600, &v))
                return -1;
            o->lat_seconds = (double)v;
            break;
        case 9:
            o->no_raw = true;
            break;
        case 17:
            o->no_floor = true;
            break;
        case 18: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || strchr(optarg, '\n') ||
                o->n_hub_options == (int)(sizeof o->hub_options / sizeof o->hub_options[0])) {
                fprintf(stderr,
                        "benang-bench: --hub-option wants KEY=VALUE (16 at most), got '%s'\n",
                        optarg);
                return -1;
            }
            o->hub_options[o->n_hub_options++] = optarg;
            break;
        }
        case 10:
            o->no_replay = true;
            break;
        case 11:
            o->keep = true;
            break;
        case 12:
            o->agency = optarg;
            break;
        case 13:
            o->no_rules = true;
            break;
        case 14:
            if (parse_u64(optarg, "--residents", 1000000000000ULL, &o->residents))
                return -1;
            break;
        case 15:
            if (parse_u64(optarg, "--people-from", 4000000000ULL, &o->people_from))
                return -1;
            break;
        case 16:
            if (parse_u64(optarg, "--latency-tick-us", 1000000, &v))
                return -1;
            o->lat_tick_ns = v * 1000;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "benang-bench: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    int given = !!o->ingest + !!o->feed + !!o->query;
    if (given != 0 && given != 3) {
        fprintf(stderr, "benang-bench: --ingest, --feed and --query go together\n");
        return -1;
    }
    if (given && o->n_hub_options) {
        fprintf(stderr, "benang-bench: --hub-option configures a hub the bench starts; a running "
                        "hub (--ingest) keeps its own configuration\n");
        return -1;
    }
    if (o->events < (uint64_t)o->publishers) {
        fprintf(stderr, "benang-bench: --events must be at least --publishers\n");
        return -1;
    }
    if (o->batch > 1 && (o->json || o->fhir)) {
        fprintf(stderr, "benang-bench: --batch works with --adapter canonical only (a JSON array "
                        "is canonical-json's own batch)\n");
        return -1;
    }
    if (o->residents && (o->json || o->fhir)) {
        fprintf(stderr, "benang-bench: --residents works with --adapter canonical only\n");
        return -1;
    }
    return 0;
}

/* User + system CPU seconds in a /proc stat file (a process's: all its
 * threads; a task's: that thread), and the command name into name (may be
 * NULL); -1 when unreadable. */
static double stat_cpu_s(const char *path, char *name, size_t cap)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *open = strchr(buf, '('), *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    /* after ")": state, then fields 4.. ; utime and stime are fields 14 and 15 */
    if (!open || !p || p < open ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    if (name && cap)
        snprintf(name, cap, "%.*s", (int)(p - open - 1), open + 1);
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(ut + st) / (double)hz : -1;
}

/* A task's CPU seconds from its schedstat (nanoseconds on a CPU, counted
 * at each switch: the tick-sampled utime + stime of stat missed a third of
 * the writer's time here); -1 when the kernel keeps none. */
static double schedstat_cpu_s(const char *task_dir)
{
    char path[440];
    snprintf(path, sizeof path, "%s/schedstat", task_dir);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    int ok = f && fscanf(f, "%llu", &ns) == 1;
    if (f)
        fclose(f);
    return ok ? (double)ns / 1e9 : -1;
}

/* CPU seconds per thread name of process pid (threads of one name summed). */
#define MAX_THREAD_NAMES 16
typedef struct {
    char name[MAX_THREAD_NAMES][32];
    double cpu_s[MAX_THREAD_NAMES];
    int n;
} thread_cpu_t;

/* Process pid's CPU seconds, its ended threads' included (a pass's sorter
 * ends within the phase; the per-thread figures miss it); -1 when pid is 0
 * (a hub we did not start) or unreadable. */
static double proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return pid > 0 ? stat_cpu_s(path, NULL, 0) : -1;
}

static void proc_threads(pid_t pid, thread_cpu_t *out)
{
    memset(out, 0, sizeof *out);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = pid > 0 ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char task[400], path[420], name[32];
        snprintf(task, sizeof task, "%s/%s", dir, e->d_name);
        snprintf(path, sizeof path, "%s/stat", task);
        double s = stat_cpu_s(path, name, sizeof name), ns = schedstat_cpu_s(task);
        if (s < 0)
            continue;
        if (ns >= 0)
            s = ns;
        for (char *c = name; *c; c++)
            if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
                *c = '?'; /* a JSON key as it is */
        int i = 0;
        while (i < out->n && strcmp(out->name[i], name) != 0)
            i++;
        if (i == out->n) {
            if (out->n == MAX_THREAD_NAMES)
                continue;
            snprintf(out->name[out->n++], sizeof out->name[0], "%s", name);
        }
        out->cpu_s[i] += s;
    }
    closedir(d);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Everything measured, printed at the end (a phase not run prints null). */
typedef struct {
    double prefill_s, tput_s, replay_s, replay_dec_s, raw_s, floor_s;
    uint64_t floor_acked, floor_commits;
    bool floor_done;
    double prefill_start_s; /* seconds the prefill took for its first prefill_start events */
    uint64_t prefill_start;
    uint64_t prefill_acked, acked, commits, replay_n, replay_dec_n, raw_batch, head;
    double mean_group;
    bn_bench_latency_t lat;
    uint64_t lat_commits; /* commits during the latency phase (warm-up included) */
    double lat_group;
    bool lat_done, replay_done, raw_done;
    /* CPU seconds of the throughput phase: the hub's (-1: not ours, or
     * /proc unreadable) and this process's (the publishers and their I/O). */
    double hub_cpu_s, bench_cpu_s;
    thread_cpu_t hub_threads; /* the hub's, per thread name, in the throughput phase */
    int hub_exit;
    char durability[16];
} results_t;

static void jnum(const char *key, double v, bool ok, const char *fmt, bool last)
{
    printf("  \"%s\": ", key);
    if (ok)
        printf(fmt, v);
    else
        printf("null");
    printf(last ? "\n" : ",\n");
}

static void print_json(const bn_bench_opts_t *o, const bn_bench_run_t *r, const results_t *x)
{
    printf(
        "{\n  \"events\": %" PRIu64 ",\n  \"publishers\": %d,\n  \"size\": %zu,\n"
        "  \"window\": %d,\n  \"batch\": %d,\n  \"durability\": \"%s\",\n  \"adapter\": \"%s\",\n"
        "  \"prefill\": %" PRIu64 ",\n  \"rules\": \"%s\",\n  \"residents\": %" PRIu64 ",\n",
        o->events, o->publishers, o->size, o->window, o->batch, x->durability,
        bn_bench__adapter_req(o), o->prefill, o->no_rules ? "off" : "default", o->residents);
    bn_bench_tmpl_t t;
    if (bn_bench__tmpl_make(&t, o->size, BN_BENCH_SID_PUB_LEN, bn_bench__format(o)) == 0) {
        printf("  \"event_bytes\": %zu,\n  \"payload_bytes\": %zu,\n", t.proto_len, t.len);
        bn_bench__tmpl_free(&t);
    }
    jnum("prefill_events_per_s", x->prefill_acked / x->prefill_s, x->prefill_s > 0, "%.0f", false);
    double start_rate = x->prefill_start_s > 0 ? x->prefill_start / x->prefill_start_s : 0;
    jnum("prefill_start_events_per_s", start_rate, start_rate > 0, "%.0f", false);
    jnum("ratio_to_prefill_start", x->tput_s > 0 ? x->acked / x->tput_s / start_rate : 0,
         start_rate > 0 && x->tput_s > 0, "%.2f", false);
    printf("  \"acked_events\": %" PRIu64 ",\n", x->acked);
    jnum("throughput_seconds", x->tput_s, true, "%.3f", false);
    jnum("acked_events_per_s", x->acked / x->tput_s, x->tput_s > 0, "%.0f", false);
    printf("  \"commits\": %" PRIu64 ",\n", x->commits);
    jnum("mean_group_commit", x->mean_group, x->commits > 0, "%.1f", false);
    jnum("hub_cpu_us_per_event", x->hub_cpu_s * 1e6 / (double)x->acked,
         x->hub_cpu_s >= 0 && x->acked > 0, "%.2f", false);
    jnum("bench_cpu_us_per_event", x->bench_cpu_s * 1e6 / (double)x->acked, x->acked > 0, "%.2f",
         false);
    printf("  \"hub_cpu_us_per_event_by_thread\": {");
    for (int i = 0, shown = 0; i < x->hub_threads.n && x->acked > 0; i++)
        if (x->hub_threads.cpu_s[i] > 0) /* the threads that worked in the phase */
            printf("%s\"%s\": %.2f", shown++ ? ", " : "", x->hub_threads.name[i],
                   x->hub_threads.cpu_s[i] * 1e6 / (double)x->acked);
    printf("},\n");
    jnum("latency_rate", o->lat_rate, x->lat_done, "%.0f", false);
    jnum("latency_events", (double)x->lat.received, x->lat_done, "%.0f", false);
    jnum("latency_lost", (double)(x->lat.sent - x->lat.received), x->lat_done, "%.0f", false);
    jnum("latency_p50_ms", x->lat.p50, x->lat_done && x->lat.received, "%.3f", false);
    jnum("latency_p99_ms", x->lat.p99, x->lat_done && x->lat.received, "%.3f", false);
    jnum("latency_max_ms", x->lat.max, x->lat_done && x->lat.received, "%.3f", false);
    jnum("latency_commits", (double)x->lat_commits, x->lat_done, "%.0f", false);
    jnum("latency_mean_group_commit", x->lat_group, x->lat_done && x->lat_commits, "%.1f", false);
    jnum("replay_events", (double)x->replay_n, x->replay_done, "%.0f", false);
    jnum("replay_events_per_s", x->replay_n / x->replay_s, x->replay_done && x->replay_s > 0,
         "%.0f", false);
    jnum("replay_decoded_events_per_s", x->replay_dec_n / x->replay_dec_s,
         x->replay_done && x->replay_dec_s > 0, "%.0f", false);
    jnum("raw_lmdb_batch", (double)x->raw_batch, x->raw_done, "%.0f", false);
    double raw = x->raw_s > 0 ? x->acked / x->raw_s : 0;
    jnum("raw_lmdb_puts_per_s", raw, x->raw_done && x->raw_s > 0, "%.0f", false);
    jnum("ratio_to_raw_lmdb", raw > 0 && x->tput_s > 0 ? (x->acked / x->tput_s) / raw : 0,
         x->raw_done && raw > 0 && x->tput_s > 0, "%.3f", false);
    double hub_rate = x->tput_s > 0 ? x->acked / x->tput_s : 0;
    double floor = x->floor_s > 0 ? x->floor_acked / x->floor_s : 0;
    bool fl = x->floor_done && floor > 0;
    jnum("floor_acked_events_per_s", floor, fl, "%.0f", false);
    jnum("floor_mean_group_commit",
         x->floor_commits ? (double)x->floor_acked / x->floor_commits : 0, fl && x->floor_commits,
         "%.1f", false);
    jnum("ratio_to_floor", hub_rate / floor, fl && hub_rate > 0, "%.3f", false);
    jnum("floor_ratio_to_raw_lmdb", raw > 0 ? floor / raw : 0, fl && x->raw_done && raw > 0, "%.3f",
         false);
    printf("  \"head_seq\": %" PRIu64 ",\n", x->head);
    printf("  \"hub_started\": %s,\n", o->ingest ? "false" : "true");
    jnum("hub_exit", x->hub_exit, !o->ingest, "%.0f", false);
    printf("  \"data_dir\": \"%s\",\n  \"cpus\": %ld\n}\n", r->dir, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
}

static const char *default_hub(char *buf, size_t size)
{
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return "benang-hub";
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, size, "%s/benang-hub", exe);
    return buf;
}

/* The measured phases, in order; 0 when all ran. */
static int run_phases(const bn_bench_opts_t *o, bn_bench_run_t *r, results_t *x)
{
    unsigned run = (unsigned)(time(NULL) ^ ((unsigned)getpid() << 16));
    bn_client_options_t copts = {.timeout_ms = 30000};
    bn_query_t *q = NULL;
    bn_error_t err;
    bn_error_clear(&err);
    bn_bench_status_t before, after;
    int rc = -1;
    if (bn_query_new(&q, r->query, &copts, &err) != BN_OK) {
        fprintf(stderr, "bench: query: %s\n", err.msg);
        return -1;
    }
    if (bn_bench__status(q, &before) != 0)
        goto done;
    snprintf(x->durability, sizeof x->durability, "%s", before.durability);
    if (o->prefill) {
        fprintf(stderr, "bench: prefill: %" PRIu64 " events\n", o->prefill);
        /* Its first --events events are an empty-store run of the same size,
         * in the same run: the reference for the rate after the prefill. */
        x->prefill_start = o->events < o->prefill ? o->events : o->prefill;
        if (bn_bench__publish(o, r->ingest, 'P', run, o->prefill, &x->prefill_acked, &x->prefill_s,
                              x->prefill_start, &x->prefill_start_s) != 0)
            goto done;
        fprintf(stderr, "bench: prefill: %.0f events/s\n", x->prefill_acked / x->prefill_s);
        if (bn_bench__status(q, &before) != 0)
            goto done;
    }
    fprintf(stderr,
            "bench: throughput: %" PRIu64 " events, %d publishers, window %d, %d per request\n",
            o->events, o->publishers, o->window, o->batch);
    thread_cpu_t th0;
    proc_threads(r->pid, &th0);
    double unused = 0, hub0 = proc_cpu_s(r->pid), self0 = self_cpu_s();
    if (bn_bench__publish(o, r->ingest, 'T', run, o->events, &x->acked, &x->tput_s, 0, &unused) !=
            0 ||
        bn_bench__status(q, &after) != 0)
        goto done;
    x->bench_cpu_s = self_cpu_s() - self0;
    proc_threads(r->pid, &x->hub_threads);
    double hub1 = proc_cpu_s(r->pid);
    x->hub_cpu_s = hub0 >= 0 && hub1 >= hub0 ? hub1 - hub0 : -1;
    for (int i = 0; i < x->hub_threads.n; i++) /* minus the start (0 for a thread new since) */
        for (int k = 0; k < th0.n; k++)
            if (strcmp(th0.name[k], x->hub_threads.name[i]) == 0)
                x->hub_threads.cpu_s[i] -= th0.cpu_s[k];
    x->commits = after.commits - before.commits;
    x->mean_group = x->commits ? (double)(after.committed - before.committed) / x->commits : 0;
    fprintf(stderr,
            "bench: throughput: %.0f acked events/s, %" PRIu64 " commits, %.1f per commit\n",
            x->acked / x->tput_s, x->commits, x->mean_group);
    if (o->lat_seconds > 0) {
        if (bn_bench__latency(o, r, run, &x->lat) != 0)
            goto done;
        x->lat_done = true;
        fprintf(stderr, "bench: latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", x->lat.p50,
                x->lat.p99, x->lat.max);
    }
    before = after;
    if (bn_bench__status(q, &after) != 0)
        goto done;
    x->lat_commits = after.commits - before.commits;
    x->lat_group =
        x->lat_commits ? (double)(after.committed - before.committed) / x->lat_commits : 0;
    x->head = after.head;
    if (!o->no_replay) {
        fprintf(stderr, "bench: replay: seq 1..%" PRIu64 "\n", after.head);
        if (bn_bench__replay(q, after.head, false, &x->replay_n, &x->replay_s) != 0 ||
            bn_bench__replay(q, after.head, true, &x->replay_dec_n, &x->replay_dec_s) != 0)
            goto done;
        x->replay_done = true;
        fprintf(stderr, "bench: replay: %.0f events/s as bytes, %.0f events/s decoded\n",
                x->replay_n / x->replay_s, x->replay_dec_n / x->replay_dec_s);
    }
    if (!o->no_raw) {
        x->raw_batch = (uint64_t)(x->mean_group + 0.5);
        if (x->raw_batch < 1)
            x->raw_batch = 1;
        fprintf(stderr, "bench: raw LMDB: %" PRIu64 " puts, a commit every %" PRIu64 "\n", x->acked,
                x->raw_batch);
        if (bn_bench__raw_lmdb(o, r->rawdir, strcmp(x->durability, "buffered") == 0, x->acked,
                               x->raw_batch, &x->raw_s) != 0)
            goto done;
        x->raw_done = true;
        fprintf(stderr, "bench: raw LMDB: %.0f puts/s\n", x->acked / x->raw_s);
    }
    if (!o->no_floor) {
        bn_bench_floor_t *fl = NULL;
        fprintf(stderr, "bench: floor: %" PRIu64 " events, %d publishers, window %d\n", o->events,
                o->publishers, o->window);
        int frc = bn_bench__floor_start(o, r->floordir, strcmp(x->durability, "buffered") == 0,
                                        o->events, &fl);
        if (frc == 0)
            frc = bn_bench__publish(o, bn_bench__floor_endpoint(fl), 'F', run, o->events,
                                    &x->floor_acked, &x->floor_s, 0, &unused);
        uint64_t stored = 0;
        if (bn_bench__floor_stop(&fl, &x->floor_commits, &stored) != 0 || frc != 0)
            goto done;
        if (stored != x->floor_acked) {
            fprintf(stderr, "bench: floor: %" PRIu64 " events acked but %" PRIu64 " stored\n",
                    x->floor_acked, stored);
            goto done;
        }
        x->floor_done = true;
        fprintf(stderr, "bench: floor: %.0f acked events/s, %.1f per commit\n",
                x->floor_acked / x->floor_s,
                x->floor_commits ? (double)x->floor_acked / x->floor_commits : 0.0);
    }
    rc = 0;
done:
    bn_query_destroy(&q);
    return rc;
}

int main(int argc, char **argv)
{
    char hubbuf[600];
    bn_bench_opts_t o = {.events = 200000,
                         .publishers = 4,
                         .size = 300,
                         .window = 256,
                         .batch = 1,
                         .agency = "puskesmas-a",
                         .lat_rate = 10000,
                         .lat_seconds = 3};
    if (parse_opts(argc, argv, &o) != 0) {
        fprintf(stderr, "Try 'benang-bench --help'.\n");
        return 2;
    }
    if (!o.hub_bin)
        o.hub_bin = default_hub(hubbuf, sizeof hubbuf);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    bn_bench_run_t r;
    memset(&r, 0, sizeof r);
    results_t x;
    memset(&x, 0, sizeof x);
    x.hub_exit = 0;
    if (bn_bench__run_dir_make(&o, &r) != 0)
        return 1;
    int rc = 1;
    if (o.ingest) {
        snprintf(r.ingest, sizeof r.ingest, "%s", o.ingest);
        snprintf(r.feed, sizeof r.feed, "%s", o.feed);
        snprintf(r.query, sizeof r.query, "%s", o.query);
    } else {
        fprintf(stderr, "bench: starting %s in %s (%s)\n", o.hub_bin, r.dir,
                o.buffered ? "buffered" : "sync");
        if (bn_bench__hub_start(&o, &r) != 0)
            goto out;
    }
    rc = run_phases(&o, &r, &x) == 0 ? 0 : 1;
    if (!o.ingest) {
        bool started = r.pid > 0;
        x.hub_exit = bn_bench__hub_stop(&r);
        if (started && x.hub_exit != 0)
            fprintf(stderr, "bench: the hub exited with status %d\n", x.hub_exit);
        if (started && (rc != 0 || x.hub_exit != 0)) {
            bn_bench__hub_log_dump(&r);
            rc = 1;
        }
    }
    if (rc == 0)
        print_json(&o, &r, &x);
out:
    if (r.pid > 0)
        bn_bench__hub_stop(&r);
    bn_bench__run_dir_clean(&o, &r);
    return rc;
}
