/* benangctl.c: the operator's command line for a benang hub.
 *
 *     benangctl [--config FILE] [--endpoint URL] [--timeout MS] COMMAND [ARGS]
 *
 * Commands live in one table (name, usage, help, function); each parses its
 * own options with getopt_long and returns a bn_status_t with a bn_error_t.
 * Only main() prints failures and picks the exit code: 0 success, 1 failure
 * (the hub refused, a timeout, a bad config file), 2 usage error.
 *
 * Endpoints come from the hub's config file (default config/hub.yaml) so that
 * an operator on the hub's machine types nothing; --ingest/--feed/--query
 * override one, --endpoint overrides the one the command mainly talks to
 * (publish: ingest; tail, status, rejected and the coordinator views of
 * ctl_views.c: query). When the default config file
 * does not exist the built-in default endpoints are used.
 *
 * Ownership: ctl_t owns the loaded config (freed in main); each command owns
 * the client objects it creates and frees them before returning.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/client.h"
#include "benang/pbjson.h"
#include "bindings.h"
#include "config.h"
#include "ctl.h"

#define MAX_PAYLOAD_BYTES (64u << 20) /* the most any hub accepts (hub.max_payload_bytes) */
#define MAX_TOPICS 32                 /* the most prefixes the hub takes per fetch */
#define FETCH_PAGE 1000

static const char *const default_endpoints[] = {"tcp://127.0.0.1:7701", "tcp://127.0.0.1:7702",
                                                "tcp://127.0.0.1:7703"};

/* ---- shared helpers ------------------------------------------------------- */

void ctl__usage(const ctl_cmd_t *c, FILE *f)
{
    fprintf(f, "usage: benangctl [GLOBAL OPTIONS] %s %s\n\n%s\n\n%s", c->name, c->args, c->summary,
            c->help);
}

bn_status_t ctl__parse_u64(const char *opt, const char *s, uint64_t *out, bn_error_t *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno)
        return bn_error_set(err, BN_USAGE, 0, NULL, "%s: not a number: \"%s\"", opt, s);
    *out = v;
    return BN_OK;
}

/* getopt_long's complaint as a usage error. argv/optind as getopt left them. */
bn_status_t ctl__bad_option(int c, char **argv, bn_error_t *err)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return bn_error_set(err, BN_USAGE, 0, NULL, "option '%s' needs a value", arg);
    if (optopt && optopt != '?')
        return bn_error_set(err, BN_USAGE, 0, NULL, "unknown option '-%c'", optopt);
    return bn_error_set(err, BN_USAGE, 0, NULL, "unknown option '%s'", arg);
}

/* Reset getopt for a command's own argv (argv[0] is the command name). */
void ctl__getopt_reset(void)
{
    optind = 0; /* glibc: full re-initialisation, scanning from argv[1] */
    opterr = 0;
}

bn_status_t ctl__load_config(ctl_t *ctl, bn_error_t *err)
{
    if (ctl->cfg)
        return BN_OK;
    return bn_config_load(&ctl->cfg, ctl->config_path, err);
}

/* The endpoint of kind ep; main: the command's main socket (--endpoint applies). */
bn_status_t ctl__endpoint(ctl_t *ctl, int ep, bool main_socket, const char **out, bn_error_t *err)
{
    if (main_socket && ctl->endpoint) {
        *out = ctl->endpoint;
        return BN_OK;
    }
    if (ctl->over[ep]) {
        *out = ctl->over[ep];
        return BN_OK;
    }
    bn_status_t st = ctl__load_config(ctl, err);
    if (st == BN_IO && !ctl->config_given && err && err->native == ENOENT) {
        *out = default_endpoints[ep];
        return BN_OK;
    }
    if (st != BN_OK)
        return st;
    const char *eps[] = {ctl->cfg->ingest_endpoint, ctl->cfg->feed_endpoint,
                         ctl->cfg->query_endpoint};
    *out = eps[ep] && *eps[ep] ? eps[ep] : default_endpoints[ep];
    return BN_OK;
}

/* The whole of path ("-": stdin) in a malloc'ed buffer. */
bn_status_t ctl__read_all(const char *path, uint8_t **out, size_t *len, bn_error_t *err)
{
    bool std_in = strcmp(path, "-") == 0;
    FILE *f = std_in ? stdin : fopen(path, "rb");
    if (!f)
        return bn_error_set(err, BN_IO, errno, path, "cannot open: %s", strerror(errno));
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    bn_status_t st = buf ? BN_OK : bn_error_set(err, BN_NOMEM, 0, path, "out of memory");
    while (st == BN_OK) {
        if (n == cap) {
            uint8_t *nb = cap >= MAX_PAYLOAD_BYTES ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                st = cap >= MAX_PAYLOAD_BYTES
                         ? bn_error_set(err, BN_TOO_LARGE, 0, path,
                                        "larger than %u bytes, the most a hub accepts",
                                        MAX_PAYLOAD_BYTES)
                         : bn_error_set(err, BN_NOMEM, 0, path, "out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                st = bn_error_set(err, BN_IO, errno, path, "cannot read: %s", strerror(errno));
            break;
        }
    }
    if (!std_in)
        fclose(f);
    if (st != BN_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return BN_OK;
}

/* ---- check-config ---------------------------------------------------------- */

static bn_status_t run_check_config(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c != 'h')
            return ctl__bad_option(c, argv, err);
        ctl__usage(ctl->cmd, stdout);
        return BN_OK;
    }
    if (argc - optind > 1)
        return bn_error_set(err, BN_USAGE, 0, NULL, "at most one FILE");
    const char *path = optind < argc ? argv[optind] : ctl->config_path;
    bn_config_t *cfg = NULL;
    bn_status_t st = bn_config_load(&cfg, path, err);
    if (st != BN_OK)
        return st;
    /* Every agency's adapters must exist and accept their settings (mappings). */
    bn_bindings_t *b = NULL;
    st = bn_bindings_new(&b, cfg, err);
    if (st == BN_OK)
        printf("%s: ok (%zu agenc%s)\n", path, cfg->n_agencies,
               cfg->n_agencies == 1 ? "y" : "ies");
    bn_bindings_destroy(&b);
    bn_config_destroy(&cfg);
    return st;
}

/* ---- publish ----------------------------------------------------------------- */

static void print_acks(const Benang__V1__PublishReply *r)
{
    for (size_t i = 0; i < r->n_events; i++) {
        const Benang__V1__EventAck *a = r->events[i];
        printf("seq=%" PRIu64 " event_id=%s type=%s source_id=%s", a->seq, a->event_id, a->type,
               a->source_id);
        if (a->supersedes_seq)
            printf(" supersedes=%" PRIu64, a->supersedes_seq);
        printf("%s\n", a->duplicate ? " (duplicate)" : "");
    }
}

/* Publish one file's bytes as one payload and print its acks. */
static bn_status_t publish_file(bn_publisher_t *p, const char *agency, const char *adapter,
                                const char *path, bn_error_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    bn_status_t st = ctl__read_all(path, &buf, &len, err);
    if (st != BN_OK)
        return st;
    bn_publish_result_t res;
    st = bn_publisher_publish(p, agency, adapter, buf, len, &res, err);
    free(buf);
    if (st == BN_OK || st == BN_DUPLICATE) {
        print_acks(res.reply);
        return BN_OK;
    }
    if (err) {               /* name the file in the hub's (or the library's) sentence */
        bn_error_t e = *err; /* bn_error_set() must not read what it writes */
        bn_error_set(err, st, e.native, e.where, "%s: %s", path, e.msg);
    }
    return st;
}

static bn_status_t run_publish(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                         {"adapter", required_argument, NULL, 'A'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *agency = NULL, *adapter = NULL;
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":a:A:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            agency = optarg;
            break;
        case 'A':
            adapter = optarg;
            break;
        case 'h':
            ctl__usage(ctl->cmd, stdout);
            return BN_OK;
        default:
            return ctl__bad_option(c, argv, err);
        }
    }
    if (!agency)
        return bn_error_set(err, BN_USAGE, 0, NULL, "--agency ID is required");
    if (optind >= argc)
        return bn_error_set(err, BN_USAGE, 0, NULL, "no FILE to publish (\"-\" reads stdin)");
    const char *ep = NULL;
    bn_status_t st = ctl__endpoint(ctl, EP_INGEST, true, &ep, err);
    bn_publisher_t *p = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    if (st == BN_OK)
        st = bn_publisher_new(&p, ep, &o, err);
    for (int i = optind; st == BN_OK && i < argc; i++)
        st = publish_file(p, agency, adapter, argv[i], err);
    bn_publisher_destroy(&p);
    return st;
}

/* ---- tail --------------------------------------------------------------------- */

typedef struct {
    uint64_t from, to, limit;
    const char *topics[MAX_TOPICS];
    size_t n_topics;
    bool follow, json;
    const char *addressed_to; /* only referral events whose to_agency is this */
    uint64_t printed;
} tail_t;

/* --addressed-to: a receiving agency's referral queue as a feed. */
static bool wanted(const tail_t *t, const Benang__V1__Event *ev)
{
    return !t->addressed_to || (ev->body_case == BENANG__V1__EVENT__BODY_REFERRAL &&
                                strcmp(ev->referral->to_agency, t->addressed_to) == 0);
}

/* An enum value's name without its type prefix, lower case (ctl.h). */
const char *ctl__enum_short(const ProtobufCEnumDescriptor *d, int v, char *buf, size_t size)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev) {
        snprintf(buf, size, "%d", v);
        return buf;
    }
    /* values[0] is "<PREFIX>UNSPECIFIED" in every enum of the schema */
    const char *unspec = strstr(d->values[0].name, "UNSPECIFIED");
    size_t skip = unspec ? (size_t)(unspec - d->values[0].name) : 0;
    const char *name = strncmp(ev->name, d->values[0].name, skip) == 0 ? ev->name + skip : ev->name;
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    buf[i] = '\0';
    return buf;
}

static const char *code_of(const Benang__V1__Coding *c)
{
    return c && c->code ? c->code : "";
}

/* The body of ev in a few key=value fields (codes and ids only, no names). */
static void print_body(const Benang__V1__Event *ev)
{
    char a[48], b[48];
    switch (ev->body_case) {
    case BENANG__V1__EVENT__BODY_IMMUNISATION: {
        const Benang__V1__Immunisation *im = ev->immunisation;
        printf(
            "  vaccine=%s dose=%u status=%s", code_of(im->vaccine), im->dose_number,
            ctl__enum_short(&benang__v1__immunisation_status__descriptor, im->status, a, sizeof a));
        break;
    }
    case BENANG__V1__EVENT__BODY_REFERRAL: {
        const Benang__V1__Referral *r = ev->referral;
        printf("  referral=%s from=%s to=%s status=%s priority=%s", r->referral_id, r->from_agency,
               r->to_agency,
               ctl__enum_short(&benang__v1__referral_status__descriptor, r->status, a, sizeof a),
               ctl__enum_short(&benang__v1__priority__descriptor, r->priority, b, sizeof b));
        break;
    }
    case BENANG__V1__EVENT__BODY_TRAINING:
        printf("  course=%s category=%s", code_of(ev->training->course),
               ev->training->course_category);
        break;
    case BENANG__V1__EVENT__BODY_PROGRAM:
        printf("  program=%s target=%s", ev->program->program_id, ev->program->target_group);
        break;
    case BENANG__V1__EVENT__BODY_ALERT:
        printf("  rule=%s kind=%s seqs=", ev->alert->rule, ev->alert->kind);
        for (size_t i = 0; i < ev->alert->n_seqs; i++)
            printf("%s%" PRIu64, i ? "," : "", ev->alert->seqs[i]);
        break;
    default:
        break;
    }
}

static bn_status_t print_event(const tail_t *t, const Benang__V1__Event *ev, bn_error_t *err)
{
    if (t->json) {
        char *s = bn_pbjson_to_string(&ev->base);
        if (!s)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        puts(s);
        free(s);
    } else {
        char topic[512];
        printf("seq %" PRIu64 "  %s  %s  source=%s", ev->seq, ev->occurred_at,
               bn_event_topic(ev, topic, sizeof topic), ev->source_id);
        print_body(ev);
        if (ev->subject && *ev->subject->subject_key)
            printf("  subject=%.12s", ev->subject->subject_key);
        if (ev->supersedes_seq)
            printf("  supersedes=%" PRIu64, ev->supersedes_seq);
        putchar('\n');
    }
    if (t->follow)
        fflush(stdout);
    return BN_OK;
}

/* Print the log from t->from to t->to (0: the head when the first page came). */
static bn_status_t tail_fetch(ctl_t *ctl, tail_t *t, bn_error_t *err)
{
    const char *ep = NULL;
    bn_status_t st = ctl__endpoint(ctl, EP_QUERY, true, &ep, err);
    bn_query_t *q = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    if (st == BN_OK)
        st = bn_query_new(&q, ep, &o, err);
    uint64_t cursor = t->from ? t->from : 1, to = t->to;
    while (st == BN_OK && (!t->limit || t->printed < t->limit)) {
        uint64_t want =
            t->limit && t->limit - t->printed < FETCH_PAGE ? t->limit - t->printed : FETCH_PAGE;
        const Benang__V1__FetchReply *r = NULL;
        st = bn_query_fetch(q, cursor, to, (uint32_t)want, t->topics, t->n_topics, &r, err);
        if (st != BN_OK)
            break;
        if (!to)
            to = r->head_seq; /* do not chase a growing log: stop at today's head */
        for (size_t i = 0; st == BN_OK && i < r->n_events && r->events[i]->seq <= to &&
                           (!t->limit || t->printed < t->limit);
             i++)
            if (wanted(t, r->events[i])) {
                st = print_event(t, r->events[i], err);
                t->printed++;
            }
        if (r->next_seq <= cursor || r->next_seq > to || to == 0)
            break;
        cursor = r->next_seq;
    }
    bn_query_destroy(&q);
    return st;
}

/* A catch-up subscription from t->from: the log, then the live feed. */
static bn_status_t tail_follow(ctl_t *ctl, tail_t *t, bn_error_t *err)
{
    const char *qep = NULL, *fep = NULL;
    bn_status_t st = ctl__endpoint(ctl, EP_QUERY, true, &qep, err);
    if (st == BN_OK)
        st = ctl__endpoint(ctl, EP_FEED, false, &fep, err);
    bn_subscriber_t *s = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    if (st == BN_OK)
        st = bn_subscriber_new(&s, fep, qep, t->topics, t->n_topics, t->from, &o, err);
    while (st == BN_OK && (!t->limit || t->printed < t->limit)) {
        const Benang__V1__Event *ev = NULL;
        st = bn_subscriber_next(s, -1, &ev, NULL, err);
        if (st != BN_OK || (t->to && ev->seq > t->to))
            break;
        if (wanted(t, ev)) {
            st = print_event(t, ev, err);
            t->printed++;
        }
        if (t->to && ev->seq == t->to)
            break;
    }
    bn_subscriber_destroy(&s);
    return st;
}

static bn_status_t run_tail(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'F'},  {"to", required_argument, NULL, 'T'},
        {"topic", required_argument, NULL, 'p'}, {"follow", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},        {"limit", required_argument, NULL, 'n'},
        {"addressed-to", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    tail_t t = {0};
    bn_status_t st = BN_OK;
    ctl__getopt_reset();
    int c;
    while (st == BN_OK && (c = getopt_long(argc, argv, ":fjn:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            st = ctl__parse_u64("--from", optarg, &t.from, err);
            break;
        case 'T':
            st = ctl__parse_u64("--to", optarg, &t.to, err);
            break;
        case 'n':
            st = ctl__parse_u64("--limit", optarg, &t.limit, err);
            break;
        case 'f':
            t.follow = true;
            break;
        case 'j':
            t.json = true;
            break;
        case 'A':
            t.addressed_to = optarg;
            if (t.n_topics < MAX_TOPICS) /* only referral events can match */
                t.topics[t.n_topics++] = "referral.";
            break;
        case 'p':
            if (t.n_topics == MAX_TOPICS)
                return bn_error_set(err, BN_USAGE, 0, NULL, "at most %d --topic", MAX_TOPICS);
            t.topics[t.n_topics++] = optarg;
            break;
        case 'h':
            ctl__usage(ctl->cmd, stdout);
            return BN_OK;
        default:
            return ctl__bad_option(c, argv, err);
        }
    }
    if (st != BN_OK)
        return st;
    if (optind < argc)
        return bn_error_set(err, BN_USAGE, 0, NULL, "unexpected argument \"%s\"", argv[optind]);
    if (t.to && t.from > t.to)
        return bn_error_set(err, BN_USAGE, 0, NULL, "--from is after --to");
    return t.follow ? tail_follow(ctl, &t, err) : tail_fetch(ctl, &t, err);
}

/* ---- status ------------------------------------------------------------------- */

static const char *human_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static void print_counts(const char *title, Benang__V1__Count *const *c, size_t n)
{
    printf("%s\n", title);
    if (n == 0)
        printf("  (none)\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-30s %" PRIu64 "\n", c[i]->key, c[i]->count);
}

static void print_status(const Benang__V1__StatusReply *s)
{
    char a[32], b[32];
    uint64_t up = s->uptime_s;
    printf("hub         %s (version %s)\n", s->hub_id, s->version);
    printf("head seq    %" PRIu64 "\n", s->head_seq);
    printf("events      %" PRIu64 "\n", s->events);
    printf("store       %s used, map %s\n", human_bytes(s->store_bytes, a, sizeof a),
           human_bytes(s->map_bytes, b, sizeof b));
    printf("durability  %s\n", s->durability);
    printf("uptime      %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 "\n", up / 86400,
           up / 3600 % 24, up / 60 % 60, up % 60);
    printf("commits     %" PRIu64, s->commits);
    if (s->commits)
        printf(" (%.1f events per commit)", (double)s->committed_events / (double)s->commits);
    putchar('\n');
    printf("rejected    %" PRIu64 " kept%s\n", s->rejected,
           s->rejected ? " (benangctl rejected)" : "");
    print_counts("by type", s->by_type, s->n_by_type);
    print_counts("by agency", s->by_agency, s->n_by_agency);
}

static bn_status_t run_status(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            ctl__usage(ctl->cmd, stdout);
            return BN_OK;
        default:
            return ctl__bad_option(c, argv, err);
        }
    }
    if (optind < argc)
        return bn_error_set(err, BN_USAGE, 0, NULL, "unexpected argument \"%s\"", argv[optind]);
    const char *ep = NULL;
    bn_status_t st = ctl__endpoint(ctl, EP_QUERY, true, &ep, err);
    bn_query_t *q = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    if (st == BN_OK)
        st = bn_query_new(&q, ep, &o, err);
    const Benang__V1__StatusReply *s = NULL;
    if (st == BN_OK)
        st = bn_query_status(q, &s, err);
    if (st == BN_OK && json) {
        char *j = bn_pbjson_to_string(&s->base);
        if (j)
            puts(j);
        else
            st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        free(j);
    } else if (st == BN_OK) {
        print_status(s);
    }
    bn_query_destroy(&q);
    return st;
}

/* ---- the command table and main ------------------------------------------------ */

static const ctl_cmd_t commands[] = {
    {"check-config", "[FILE]", "Load and validate a hub config file (default: --config).",
     "Prints \"FILE: ok (N agencies)\", or \"FILE:LINE:COL: message\" on stderr and exits 1.\n"
     "  -h, --help           this text\n",
     run_check_config},
    {"publish", "--agency ID [--adapter NAME] FILE...",
     "Publish each FILE's bytes as one payload (\"-\" reads stdin) to the ingest endpoint.",
     "Prints one line per stored event: seq=N event_id=... type=... source_id=...,\n"
     "marked (duplicate) when the hub had it already. Stops at the first refusal and\n"
     "exits 1 with the hub's status, error path and message. Publishing the same\n"
     "file again is safe: the hub deduplicates by (agency, type, source_id).\n"
     "  -a, --agency ID      the publishing agency (required)\n"
     "  -A, --adapter NAME   the adapter to read the payload with (default: the agency's)\n"
     "  -h, --help           this text\n",
     run_publish},
    {"tail",
     "[--from SEQ] [--to SEQ] [--topic PREFIX]... [--addressed-to AGENCY] [--follow] [--json] "
     "[--limit N]",
     "Print events of the log from the query endpoint, page by page.",
     "One line per event: seq, occurred_at, topic, source id and the coded body;\n"
     "subjects appear only as their pseudonymous key.\n"
     "      --from SEQ       first seq (default 1, the start of the log)\n"
     "      --to SEQ         last seq (default: the head when the command started)\n"
     "  -p, --topic PREFIX   only topics (<type>.<sector>.<agency>) starting with PREFIX;\n"
     "                       repeatable, at most 32\n"
     "  -f, --follow         after the log, follow the live feed (catch-up subscription:\n"
     "                       no gap, no repeat) until --to, --limit or Ctrl-C\n"
     "  -j, --json           one proto3 JSON object per line (NDJSON)\n"
     "  -n, --limit N        stop after N events\n"
     "      --addressed-to AGENCY  only referral events addressed to AGENCY: the\n"
     "                       receiving agency's queue, e.g. with --follow\n"
     "  -h, --help           this text\n",
     run_tail},
    {"translate", "--agency ID [--adapter NAME] FILE",
     "Dry run: print the events the hub would make of FILE (NDJSON), or the error and its place.",
     "Runs the agency's adapter with its settings from --config, then the hub's validation\n"
     "and completion, without a hub and without publishing: how a mapping is developed.\n"
     "NIKs appear only as subjectKey (with the hub's key when readable here).\n"
     "  -a, --agency ID      the agency whose adapter and settings to use (required)\n"
     "  -A, --adapter NAME   the adapter (default: the agency's)\n"
     "  -h, --help           this text\n",
     ctl__run_translate},
    {"rejected", "[--agency ID] [--from ID] [--limit N] [--json] | retry ID | retry --agency ID",
     "List payloads the hub's adapters refused, or re-run them after a mapping fix.",
     "The hub keeps every payload its adapter refused (hub.rejected_max of them) with the\n"
     "reason and its place. `retry ID` sends that payload again as the same agency with the\n"
     "same adapter; stored, the record is closed; refused again, it stays kept.\n"
     "`retry --agency ID` re-runs every kept payload of the agency, oldest first.\n"
     "  -a, --agency ID      only this agency's payloads\n"
     "      --from ID        list from this id on\n"
     "  -n, --limit N        list at most N (default 100, at most 1000)\n"
     "  -j, --json           one Rejected object per line (NDJSON)\n"
     "  -h, --help           this text\n",
     ctl__run_rejected},
    {"status", "[--json]", "Show the hub's status: head seq, counts, store size, durability.",
     "  -j, --json           the StatusReply as proto3 JSON\n"
     "  -h, --help           this text\n",
     run_status},
    {"overlaps", "[--since YYYY-MM-DD] [--area CODE] [--sector S] [--kind K] [--limit N] [--json]",
     "List the alerts the overlap rules raised (duplicate services, overlapping programs...).",
     "One line per alert, oldest first: its seq, the day the hub recorded it, kind, sector,\n"
     "area, the agencies and events involved, and the rule's sentence (never personal data).\n"
     "Filters combine; with more matches than --limit, the newest are shown.\n"
     "      --since DAY      alerts recorded on or after DAY (UTC), YYYY-MM-DD\n"
     "      --area CODE      only alerts about this area (RW / village code)\n"
     "      --sector S       only this sector (health, social...)\n"
     "      --kind K         only this kind (duplicate_service, overlapping_training,\n"
     "                       overlapping_program, unanswered_referral)\n"
     "  -n, --limit N        at most N (default 1000, at most 10000)\n"
     "  -j, --json           one alert Event per line (NDJSON, proto3 JSON)\n"
     "  -h, --help           this text\n",
     ctl__run_overlaps},
    {"referrals",
     "[--to AGENCY] [--from AGENCY] [--state S] [--open] [--id REFERRAL_ID] [--limit N] [--json]",
     "Show referral threads' current state: an agency's queue, or one thread.",
     "A table, oldest request first: referral id, state, sender, receiver, priority,\n"
     "requested and last updated, the answer deadline (OVERDUE when the\n"
     "unanswered-referral rule fired), parent referral, and the thread's event seqs.\n"
     "      --to AGENCY      referrals addressed to AGENCY (its queue)\n"
     "      --from AGENCY    referrals sent by AGENCY\n"
     "      --state S        requested|accepted|rejected|in-progress|on-hold|completed|\n"
     "                       failed|cancelled\n"
     "      --open           not yet rejected, completed, failed or cancelled\n"
     "      --id ID          just the thread ID (an error when the hub does not know it)\n"
     "  -n, --limit N        at most N (default 1000, at most 10000)\n"
     "  -j, --json           one ReferralState per line (NDJSON)\n"
     "  -h, --help           this text\n",
     ctl__run_referrals},
    {"program-map", "[--sector S] [--area CODE] [--target-group G] [--json]",
     "The cross-sector map of every agency's current programs, with overlaps flagged.",
     "Grouped by sector, then target group; one row per program: its areas, agency,\n"
     "name [id] and period. A row marked ! shares its target group, an area and at\n"
     "least one day with another agency's program, named on the line below it: the\n"
     "place where two agencies plan the same work.\n"
     "      --sector S       only this sector (the program's own, else its agency's)\n"
     "      --area CODE      only programs covering this area\n"
     "      --target-group G\n"
     "                       only this target group (children-under-5, farmers...)\n"
     "  -j, --json           one program Event per line (NDJSON)\n"
     "  -h, --help           this text\n",
     ctl__run_program_map},
    {"matches", "[--all] [--limit N] [--json]",
     "The linkage review list: records that may be the same person as someone known.",
     "A table: id, score, the two records' normalised names, birth date, village, the\n"
     "event that raised it and an event of the candidate, and the decision. Decide\n"
     "with `benangctl match confirm|reject ID`; `benangctl explain SEQ` shows the scoring.\n"
     "  -a, --all            include decided matches (default: pending only)\n"
     "  -n, --limit N        at most N (default 1000, at most 10000)\n"
     "  -j, --json           one PossibleMatch per line (NDJSON)\n"
     "  -h, --help           this text\n",
     ctl__run_matches},
    {"match", "confirm|reject ID [--note TEXT] [--json]",
     "Decide a possible match: confirm (the same person) or reject (two people).",
     "Prints the updated decision. Confirmed: the record's key resolves to the\n"
     "candidate's from now on. Rejected: the pair is never proposed again. Deciding\n"
     "again the same way changes nothing; the other way is refused (BN_CONFLICT).\n"
     "      --note TEXT      why, kept with the decision\n"
     "  -j, --json           the updated PossibleMatch as proto3 JSON\n"
     "  -h, --help           this text\n",
     ctl__run_match},
    {"explain", "SEQ [--json]", "How the subject of event SEQ was linked to a person.",
     "The method (nik, local_id, probabilistic, possible, new, confirmed), the score and\n"
     "the thresholds, for probabilistic decisions the block compared within and the\n"
     "candidates with their scores, and the decision in one sentence.\n"
     "  -j, --json           the ExplainReply as proto3 JSON\n"
     "  -h, --help           this text\n",
     ctl__run_explain},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: benangctl [GLOBAL OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "The operator's command line for a benang hub.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Global options:\n"
            "  -c, --config FILE    hub config to take endpoints from (default %s;\n"
            "                       when that file is missing, the default endpoints)\n"
            "  -e, --endpoint URL   the endpoint of the command's main socket (publish:\n"
            "                       ingest; tail, status, rejected and the coordinator\n"
            "                       views: query)\n"
            "      --ingest URL     ingest endpoint (default tcp://127.0.0.1:7701)\n"
            "      --feed URL       feed endpoint (default tcp://127.0.0.1:7702)\n"
            "      --query URL      query endpoint (default tcp://127.0.0.1:7703)\n"
            "  -t, --timeout MS     give up waiting for the hub after MS ms (default 10000;\n"
            "                       -1 waits forever)\n"
            "  -h, --help           this text; COMMAND --help for a command's\n"
            "  -V, --version        print the version\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n",
            BN_CONFIG_DEFAULT_PATH);
}

/* Global options up to the command name; *cmd_at receives its index in argv. */
static bn_status_t parse_global(ctl_t *ctl, int argc, char **argv, int *cmd_at, bn_error_t *err)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"endpoint", required_argument, NULL, 'e'},
                                         {"ingest", required_argument, NULL, 'I'},
                                         {"feed", required_argument, NULL, 'F'},
                                         {"query", required_argument, NULL, 'Q'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    int c;
    char *end = NULL;
    long v;
    while ((c = getopt_long(argc, argv, "+:c:e:t:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ctl->config_path = optarg;
            ctl->config_given = true;
            break;
        case 'e':
            ctl->endpoint = optarg;
            break;
        case 'I':
            ctl->over[EP_INGEST] = optarg;
            break;
        case 'F':
            ctl->over[EP_FEED] = optarg;
            break;
        case 'Q':
            ctl->over[EP_QUERY] = optarg;
            break;
        case 't':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || v < -1 || v > 86400000)
                return bn_error_set(err, BN_USAGE, 0, NULL,
                                    "--timeout: milliseconds from -1 to 86400000 (got \"%s\")",
                                    optarg);
            ctl->timeout_ms = v == 0 ? 1 : (int)v; /* 0 would mean "the default" */
            break;
        case 'h':
            ctl->help = true;
            break;
        case 'V':
            ctl->version = true;
            break;
        default:
            return ctl__bad_option(c, argv, err);
        }
    }
    *cmd_at = optind;
    return BN_OK;
}

/* Is a one of the global options that take a value? *inline_value: "--x=v". */
static bool is_global_with_value(const char *a, bool *inline_value)
{
    static const char *const names[] = {"--config", "--endpoint", "--ingest", "--feed",
                                        "--query",  "--timeout",  "-c",       "-e",
                                        "-t"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        size_t l = strlen(names[k]);
        if (strncmp(a, names[k], l) == 0 && (a[l] == '\0' || (a[l] == '=' && l > 2))) {
            *inline_value = a[l] == '=';
            return true;
        }
    }
    return false;
}

/* Global options may also follow the command ("benangctl status --config X"):
 * copy argv into out (argc + 1 slots) with those moved, values and all, in
 * front of the command name, so one parser sees them. Command options never
 * reuse the global option names. */
static void hoist_globals(int argc, char **argv, char **out)
{
    int n = 0, i = 1;
    bool inl;
    out[n++] = argv[0];
    for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
        out[n++] = argv[i];
        if (is_global_with_value(argv[i], &inl) && !inl && i + 1 < argc)
            out[n++] = argv[++i];
    }
    int cmd = i, rest = n;
    for (int j = cmd + 1; j < argc && strcmp(argv[j], "--") != 0; j++)
        if (is_global_with_value(argv[j], &inl))
            rest += (!inl && j + 1 < argc) ? 2 : 1, j += (!inl && j + 1 < argc);
    /* rest - n globals follow the command; copy them, then the command and the others */
    int g = n;
    n = rest;
    bool after_dashdash = false;
    for (int j = cmd; j < argc; j++) {
        after_dashdash = after_dashdash || strcmp(argv[j], "--") == 0;
        if (j > cmd && !after_dashdash && is_global_with_value(argv[j], &inl)) {
            out[g++] = argv[j];
            if (!inl && j + 1 < argc)
                out[g++] = argv[++j];
        } else {
            out[n++] = argv[j];
        }
    }
    out[n] = NULL;
}

static bn_status_t run(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    int at = 0;
    bn_status_t st = parse_global(ctl, argc, argv, &at, err);
    if (st != BN_OK)
        return st;
    if (ctl->help || ctl->version) {
        if (ctl->help)
            usage(stdout);
        else
            printf("benangctl %s\n", BN_VERSION);
        return BN_OK;
    }
    if (at >= argc)
        return bn_error_set(err, BN_USAGE, 0, NULL, "no COMMAND given");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[at], commands[i].name) == 0) {
            ctl->cmd = &commands[i];
            return commands[i].run(ctl, argc - at, argv + at, err);
        }
    }
    return bn_error_set(err, BN_USAGE, 0, NULL, "unknown command \"%s\"", argv[at]);
}

int main(int argc, char **argv)
{
    ctl_t ctl = {.config_path = BN_CONFIG_DEFAULT_PATH, .timeout_ms = 10000};
    bn_error_t err;
    bn_error_clear(&err);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) {
        fprintf(stderr, "benangctl: out of memory\n");
        return 1;
    }
    hoist_globals(argc, argv, args);
    bn_status_t st = run(&ctl, argc, args, &err);
    bn_config_destroy(&ctl.cfg);
    free(args);
    fflush(stdout);
    if (st == BN_OK)
        return 0;
    if (st == BN_USAGE) {
        const char *cmd = ctl.cmd ? ctl.cmd->name : "";
        fprintf(stderr, "benangctl%s%s: %s\nTry 'benangctl%s%s --help'.\n", *cmd ? " " : "", cmd,
                err.msg, *cmd ? " " : "", cmd);
        return 2;
    }
    if (st == BN_CONFIG && err.where[0]) { /* FILE:LINE:COL: message, as compilers do */
        fprintf(stderr, "%s: %s\n", err.where, err.msg);
        return 1;
    }
    char buf[600];
    fprintf(stderr, "benangctl: %s\n", bn_error_format(&err, buf, sizeof buf));
    return 1;
}
