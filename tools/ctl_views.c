/* ctl_views.c: benangctl's coordinator views: overlaps, referrals,
 * program-map, matches, match confirm|reject and explain.
 *
 * Each command parses its options, asks the hub's query endpoint through one
 * libbenang call (bn_query_overlaps() and friends, docs/coordinators.md) and
 * prints the answer either for a person (a table, or the program map grouped
 * by sector and target group with overlaps between agencies flagged) or, with
 * --json, as one proto3 JSON object per line, the same mapping `tail --json`
 * uses. Hub refusals come back as the call's status with the hub's message
 * and field path in err, which main() prints.
 *
 * Ownership: the query object is created and destroyed by each command; the
 * replies it hands out live until the next call on it. Tables own copies of
 * their cells.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "benang/client.h"
#include "benang/pbjson.h"
#include "ctl.h"
#include "validate.h"

#define MAX_COLS 10
#define MAX_LIMIT 10000 /* the most a hub returns per listing */

/* ---- helpers ------------------------------------------------------------------ */

static bn_status_t open_query(ctl_t *ctl, bn_query_t **q, bn_error_t *err)
{
    const char *ep = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    bn_status_t st = ctl__endpoint(ctl, EP_QUERY, true, &ep, err);
    return st == BN_OK ? bn_query_new(q, ep, &o, err) : st;
}

static bn_status_t print_json(const ProtobufCMessage *m, bn_error_t *err)
{
    char *j = bn_pbjson_to_string(m);
    if (!j)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    puts(j);
    free(j);
    return BN_OK;
}

static bn_status_t parse_limit(const char *s, uint32_t *out, bn_error_t *err)
{
    uint64_t v = 0;
    bn_status_t st = ctl__parse_u64("--limit", s, &v, err);
    if (st == BN_OK && v > MAX_LIMIT)
        st = bn_error_set(err, BN_USAGE, 0, NULL, "--limit: at most %d (got %s)", MAX_LIMIT, s);
    *out = (uint32_t)v;
    return st;
}

static bn_status_t no_arguments(int argc, char **argv, bn_error_t *err)
{
    if (optind < argc)
        return bn_error_set(err, BN_USAGE, 0, NULL, "unexpected argument \"%s\"", argv[optind]);
    return BN_OK;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t columns(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void pad(const char *s, size_t width)
{
    fputs(s, stdout);
    for (size_t n = columns(s); n < width; n++)
        putchar(' ');
}

/* A table of text cells, printed with every column as wide as its widest cell. */
typedef struct {
    size_t n_cols, n_rows, cap;
    const char *head[MAX_COLS];
    size_t width[MAX_COLS];
    char **cells; /* n_rows * n_cols, owned */
    bool failed;
} table_t;

static void table_init(table_t *t, size_t n_cols, ...)
{
    *t = (table_t){.n_cols = n_cols};
    va_list ap;
    va_start(ap, n_cols);
    for (size_t i = 0; i < n_cols; i++) {
        t->head[i] = va_arg(ap, const char *);
        t->width[i] = columns(t->head[i]);
    }
    va_end(ap);
}

/* One row: n_cols strings (NULL or "" print as "-"). */
static void table_row(table_t *t, ...)
{
    if (t->failed)
        return;
    if (t->n_rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char **nc = realloc(t->cells, cap * t->n_cols * sizeof *nc);
        if (!nc) {
            t->failed = true;
            return;
        }
        t->cells = nc;
        t->cap = cap;
    }
    char **row = t->cells + t->n_rows * t->n_cols;
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->n_cols; i++) {
        row[i] = strdup(or_dash(va_arg(ap, const char *)));
        if (!row[i])
            t->failed = true;
        else if (columns(row[i]) > t->width[i])
            t->width[i] = columns(row[i]);
    }
    va_end(ap);
    t->n_rows++;
}

static void table_print_row(const table_t *t, const char *const *cells)
{
    for (size_t i = 0; i < t->n_cols; i++) {
        if (i + 1 < t->n_cols) {
            pad(cells[i] ? cells[i] : "", t->width[i] + 2);
        } else {
            fputs(cells[i] ? cells[i] : "", stdout);
            putchar('\n');
        }
    }
}

static bn_status_t table_print(table_t *t, bn_error_t *err)
{
    if (t->failed)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    table_print_row(t, t->head);
    for (size_t r = 0; r < t->n_rows; r++)
        table_print_row(t, (const char *const *)t->cells + r * t->n_cols);
    return BN_OK;
}

static void table_free(table_t *t)
{
    for (size_t i = 0; t->cells && i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
}

/* "12,40" into buf. */
static const char *join_seqs(const uint64_t *v, size_t n, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < size; i++) {
        int w = snprintf(buf + at, size - at, "%s%" PRIu64, i ? "," : "", v[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return buf;
}

static const char *join_strs(char *const *v, size_t n, const char *sep, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < size; i++) {
        int w = snprintf(buf + at, size - at, "%s%s", i ? sep : "", v[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return buf;
}

/* ---- overlaps -------------------------------------------------------------------- */

static bn_status_t print_overlaps(const Benang__V1__OverlapsReply *r, bool json, bn_error_t *err)
{
    if (json) {
        bn_status_t st = BN_OK;
        for (size_t i = 0; i < r->n_alerts && st == BN_OK; i++)
            st = print_json(&r->alerts[i]->base, err);
        return st;
    }
    table_t t;
    table_init(&t, 8, "SEQ", "RECORDED", "KIND", "SECTOR", "AREA", "AGENCIES", "EVENTS", "MESSAGE");
    for (size_t i = 0; i < r->n_alerts; i++) {
        const Benang__V1__Event *ev = r->alerts[i];
        const Benang__V1__Alert *a = ev->alert;
        if (!a)
            continue;
        char seq[24], day[11], agencies[300], seqs[200];
        snprintf(seq, sizeof seq, "%" PRIu64, ev->seq);
        snprintf(day, sizeof day, "%.10s", ev->recorded_at);
        table_row(&t, seq, day, a->kind, ev->sector, ev->area,
                  join_strs(a->agencies, a->n_agencies, ",", agencies, sizeof agencies),
                  join_seqs(a->seqs, a->n_seqs, seqs, sizeof seqs), a->message);
    }
    bn_status_t st = r->n_alerts ? table_print(&t, err) : BN_OK;
    table_free(&t);
    fflush(stdout); /* the summary after the rows, also when both are captured */
    if (st == BN_OK)
        fprintf(stderr, "%zu shown, %" PRIu64 " alert%s kept in all\n", r->n_alerts, r->total,
                r->total == 1 ? "" : "s");
    return st;
}

bn_status_t ctl__run_overlaps(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, 'S'},  {"area", required_argument, NULL, 'a'},
        {"sector", required_argument, NULL, 's'}, {"kind", required_argument, NULL, 'k'},
        {"limit", required_argument, NULL, 'n'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *since = NULL, *area = NULL, *sector = NULL, *kind = NULL;
    uint32_t limit = 0;
    bool json = false;
    bn_status_t st = BN_OK;
    ctl__getopt_reset();
    int c;
    while (st == BN_OK && (c = getopt_long(argc, argv, ":n:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            since = optarg;
            if (!bn_valid_date(since))
                st = bn_error_set(err, BN_USAGE, 0, NULL,
                                  "--since must be a date YYYY-MM-DD (got \"%s\")", since);
            break;
        case 'a':
            area = optarg;
            break;
        case 's':
            sector = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'n':
            st = parse_limit(optarg, &limit, err);
            break;
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
    if (st == BN_OK)
        st = no_arguments(argc, argv, err);
    bn_query_t *q = NULL;
    if (st == BN_OK)
        st = open_query(ctl, &q, err);
    const Benang__V1__OverlapsReply *r = NULL;
    if (st == BN_OK)
        st = bn_query_overlaps(q, since, area, sector, kind, limit, &r, err);
    if (st == BN_OK)
        st = print_overlaps(r, json, err);
    bn_query_destroy(&q);
    return st;
}

/* ---- referrals ------------------------------------------------------------------- */

#define RS(x) BENANG__V1__REFERRAL_STATUS__REFERRAL_STATUS_##x

static const struct {
    const char *name;
    Benang__V1__ReferralStatus status;
} STATES[] = {
    {"requested", RS(REQUESTED)},     {"accepted", RS(ACCEPTED)},   {"rejected", RS(REJECTED)},
    {"in-progress", RS(IN_PROGRESS)}, {"on-hold", RS(ON_HOLD)},     {"completed", RS(COMPLETED)},
    {"failed", RS(FAILED)},           {"cancelled", RS(CANCELLED)},
};
#define N_STATES (sizeof STATES / sizeof STATES[0])
#define STATE_LIST "requested|accepted|rejected|in-progress|on-hold|completed|failed|cancelled"

static const char *state_name(Benang__V1__ReferralStatus s)
{
    for (size_t i = 0; i < N_STATES; i++)
        if (STATES[i].status == s)
            return STATES[i].name;
    return "unspecified";
}

static bn_status_t print_referrals(const Benang__V1__ReferralsReply *r, bool json, bn_error_t *err)
{
    if (json) {
        bn_status_t st = BN_OK;
        for (size_t i = 0; i < r->n_referrals && st == BN_OK; i++)
            st = print_json(&r->referrals[i]->base, err);
        return st;
    }
    table_t t;
    table_init(&t, 10, "REFERRAL", "STATE", "FROM", "TO", "PRIORITY", "REQUESTED", "UPDATED",
               "ANSWER DUE", "PARENT", "EVENTS");
    for (size_t i = 0; i < r->n_referrals; i++) {
        const Benang__V1__ReferralState *s = r->referrals[i];
        char prio[32], due[64], seqs[200];
        ctl__enum_short(&benang__v1__priority__descriptor, s->priority, prio, sizeof prio);
        if (s->overdue && s->status == RS(REQUESTED))
            snprintf(due, sizeof due, "OVERDUE %s", s->answer_due);
        else if (s->overdue) /* the unanswered-referral alert fired before the answer */
            snprintf(due, sizeof due, "answered late");
        else
            snprintf(due, sizeof due, "%s", s->answer_due);
        table_row(&t, s->referral_id, state_name(s->status), s->from_agency, s->to_agency,
                  strcmp(prio, "unspecified") == 0 ? "-" : prio, s->requested_at, s->updated_at,
                  due, s->parent_referral_id, join_seqs(s->seqs, s->n_seqs, seqs, sizeof seqs));
    }
    bn_status_t st = r->n_referrals ? table_print(&t, err) : BN_OK;
    table_free(&t);
    fflush(stdout); /* the summary after the rows, also when both are captured */
    if (st == BN_OK)
        fprintf(stderr, "%zu referral%s\n", r->n_referrals, r->n_referrals == 1 ? "" : "s");
    return st;
}

bn_status_t ctl__run_referrals(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"to", required_argument, NULL, 'T'},
                                         {"from", required_argument, NULL, 'F'},
                                         {"state", required_argument, NULL, 's'},
                                         {"open", no_argument, NULL, 'o'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *to = NULL, *from = NULL, *id = NULL;
    Benang__V1__ReferralStatus state = RS(UNSPECIFIED);
    bool open_only = false, json = false;
    uint32_t limit = 0;
    bn_status_t st = BN_OK;
    ctl__getopt_reset();
    int c;
    while (st == BN_OK && (c = getopt_long(argc, argv, ":n:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'T':
            to = optarg;
            break;
        case 'F':
            from = optarg;
            break;
        case 's': {
            size_t i = 0;
            while (i < N_STATES && strcmp(STATES[i].name, optarg) != 0)
                i++;
            if (i == N_STATES)
                st = bn_error_set(err, BN_USAGE, 0, NULL,
                                  "--state must be one of " STATE_LIST " (got \"%s\")", optarg);
            else
                state = STATES[i].status;
            break;
        }
        case 'o':
            open_only = true;
            break;
        case 'i':
            id = optarg;
            break;
        case 'n':
            st = parse_limit(optarg, &limit, err);
            break;
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
    if (st == BN_OK)
        st = no_arguments(argc, argv, err);
    bn_query_t *q = NULL;
    if (st == BN_OK)
        st = open_query(ctl, &q, err);
    const Benang__V1__ReferralsReply *r = NULL;
    if (st == BN_OK)
        st = bn_query_referrals(q, to, from, state, id, open_only, limit, &r, err);
    if (st == BN_OK)
        st = print_referrals(r, json, err);
    bn_query_destroy(&q);
    return st;
}

/* ---- program map ----------------------------------------------------------------- */

/* As the hub reads a program (docs/rules.md): its own sector, else the
 * agency's; its areas, else the event's area. */
static const char *prog_sector(const Benang__V1__Event *ev)
{
    return *ev->program->sector ? ev->program->sector : ev->sector;
}

static char *const *prog_areas(const Benang__V1__Event *ev, size_t *n)
{
    if (ev->program->n_areas) {
        *n = ev->program->n_areas;
        return ev->program->areas;
    }
    *n = *ev->area ? 1 : 0;
    return &ev->area;
}

/* The program's days, inclusive; no end is one day, as the rule reads it.
 * False when it has no readable start. */
static bool prog_days(const Benang__V1__Event *ev, int32_t *start, int32_t *end)
{
    const Benang__V1__Period *p = ev->program->period;
    if (!p || !bn_date_days(p->start, start))
        return false;
    if (!*p->end || !bn_date_days(p->end, end))
        *end = *start;
    return true;
}

static const char *shared_area(const Benang__V1__Event *a, const Benang__V1__Event *b)
{
    size_t na, nb;
    char *const *x = prog_areas(a, &na);
    char *const *y = prog_areas(b, &nb);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (strcmp(x[i], y[j]) == 0)
                return x[i];
    return NULL;
}

static bool same_group(const Benang__V1__Event *a, const Benang__V1__Event *b)
{
    return strcmp(prog_sector(a), prog_sector(b)) == 0 &&
           strcmp(a->program->target_group, b->program->target_group) == 0;
}

static const char *prog_title(const Benang__V1__Event *ev, char *buf, size_t size)
{
    const Benang__V1__Program *p = ev->program;
    if (*p->name)
        snprintf(buf, size, "%s [%s]", p->name, *p->program_id ? p->program_id : ev->source_id);
    else
        snprintf(buf, size, "[%s]", *p->program_id ? p->program_id : ev->source_id);
    return buf;
}

static const char *prog_period(const Benang__V1__Event *ev, char *buf, size_t size)
{
    const Benang__V1__Period *p = ev->program->period;
    if (!p || !*p->start)
        snprintf(buf, size, "(no period)");
    else
        snprintf(buf, size, "%.10s .. %.10s", p->start, *p->end ? p->end : "(no end)");
    return buf;
}

/* Print under program j the earlier programs of its group it overlaps with:
 * another agency, a shared area, a shared day. Returns how many. */
static size_t print_overlaps_of(Benang__V1__Event *const *pr, size_t first, size_t j)
{
    size_t n = 0;
    int32_t sj, ej, si, ei;
    if (!prog_days(pr[j], &sj, &ej))
        return 0;
    for (size_t i = first; i < j; i++) {
        const char *area = shared_area(pr[i], pr[j]);
        if (!area || strcmp(pr[i]->agency, pr[j]->agency) == 0 || !prog_days(pr[i], &si, &ei) ||
            si > ej || sj > ei)
            continue;
        const char *from = si > sj ? pr[i]->program->period->start : pr[j]->program->period->start;
        const Benang__V1__Event *ends = ei < ej ? pr[i] : pr[j];
        const char *to =
            *ends->program->period->end ? ends->program->period->end : ends->program->period->start;
        char title[300];
        printf("      ^ overlaps %s's %s in %s from %.10s to %.10s\n", pr[i]->agency,
               prog_title(pr[i], title, sizeof title), area, from, to);
        n++;
    }
    return n;
}

static bool overlaps_earlier(Benang__V1__Event *const *pr, size_t first, size_t j)
{
    int32_t sj, ej, si, ei;
    if (!prog_days(pr[j], &sj, &ej))
        return false;
    for (size_t i = first; i < j; i++)
        if (strcmp(pr[i]->agency, pr[j]->agency) != 0 && shared_area(pr[i], pr[j]) &&
            prog_days(pr[i], &si, &ei) && si <= ej && sj <= ei)
            return true;
    return false;
}

/* Grouped by sector, then target group (the hub's order); a row marked "!"
 * overlaps an earlier row of its group, which the line under it names. */
static void print_program_map(const Benang__V1__ProgramMapReply *r)
{
    Benang__V1__Event *const *pr = r->programs;
    size_t w_area = 5, w_agency = 6, w_title = 7, flagged = 0, groups = 0;
    char buf[600];
    for (size_t i = 0; i < r->n_programs; i++) {
        size_t na;
        char *const *areas = prog_areas(pr[i], &na);
        size_t a = columns(join_strs(areas, na, ",", buf, sizeof buf));
        size_t g = columns(pr[i]->agency);
        size_t t = columns(prog_title(pr[i], buf, sizeof buf));
        w_area = a > w_area ? a : w_area;
        w_agency = g > w_agency ? g : w_agency;
        w_title = t > w_title ? t : w_title;
    }
    size_t first = 0;
    for (size_t j = 0; j < r->n_programs; j++) {
        const Benang__V1__Event *ev = pr[j];
        bool new_sector = j == 0 || strcmp(prog_sector(pr[j - 1]), prog_sector(ev)) != 0;
        if (j == 0 || !same_group(pr[j - 1], ev)) {
            first = j;
            groups++;
            if (new_sector)
                printf("%s%s\n", j ? "\n" : "", *prog_sector(ev) ? prog_sector(ev) : "(no sector)");
            printf("  %s\n",
                   *ev->program->target_group ? ev->program->target_group : "(no target group)");
        }
        size_t na;
        char *const *areas = prog_areas(ev, &na);
        fputs(overlaps_earlier(pr, first, j) ? "  ! " : "    ", stdout);
        pad(na ? join_strs(areas, na, ",", buf, sizeof buf) : "-", w_area + 2);
        pad(ev->agency, w_agency + 2);
        pad(prog_title(ev, buf, sizeof buf), w_title + 2);
        puts(prog_period(ev, buf, sizeof buf));
        flagged += print_overlaps_of(pr, first, j);
    }
    printf("%s%zu program%s in %zu sector/target-group group%s; %zu overlap%s between agencies "
           "(marked !)\n",
           r->n_programs ? "\n" : "", r->n_programs, r->n_programs == 1 ? "" : "s", groups,
           groups == 1 ? "" : "s", flagged, flagged == 1 ? "" : "s");
}

bn_status_t ctl__run_program_map(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"sector", required_argument, NULL, 's'},
                                         {"area", required_argument, NULL, 'a'},
                                         {"target-group", required_argument, NULL, 'g'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *sector = NULL, *area = NULL, *group = NULL;
    bool json = false;
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sector = optarg;
            break;
        case 'a':
            area = optarg;
            break;
        case 'g':
            group = optarg;
            break;
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
    bn_status_t st = no_arguments(argc, argv, err);
    bn_query_t *q = NULL;
    if (st == BN_OK)
        st = open_query(ctl, &q, err);
    const Benang__V1__ProgramMapReply *r = NULL;
    if (st == BN_OK)
        st = bn_query_program_map(q, sector, area, group, &r, err);
    for (size_t i = 0; st == BN_OK && json && i < r->n_programs; i++)
        st = print_json(&r->programs[i]->base, err);
    if (st == BN_OK && !json)
        print_program_map(r);
    bn_query_destroy(&q);
    return st;
}

/* ---- matches and decisions ------------------------------------------------------------ */

static const char *decision_name(Benang__V1__MatchDecision d)
{
    switch (d) {
    case BENANG__V1__MATCH_DECISION__MATCH_DECISION_PENDING:
        return "pending";
    case BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED:
        return "confirmed";
    case BENANG__V1__MATCH_DECISION__MATCH_DECISION_REJECTED:
        return "rejected";
    default:
        return "unknown";
    }
}

static bn_status_t print_matches(const Benang__V1__MatchesReply *r, bool json, bn_error_t *err)
{
    if (json) {
        bn_status_t st = BN_OK;
        for (size_t i = 0; i < r->n_matches && st == BN_OK; i++)
            st = print_json(&r->matches[i]->base, err);
        return st;
    }
    table_t t;
    table_init(&t, 9, "ID", "SCORE", "NAME", "CANDIDATE", "BIRTH DATE", "VILLAGE", "SEQ",
               "CANDIDATE SEQ", "DECISION");
    for (size_t i = 0; i < r->n_matches; i++) {
        const Benang__V1__PossibleMatch *m = r->matches[i];
        char id[24], score[16], seq[24], cseq[24], dec[64];
        snprintf(id, sizeof id, "%" PRIu64, m->id);
        snprintf(score, sizeof score, "%.3f", m->score);
        snprintf(seq, sizeof seq, "%" PRIu64, m->seq);
        snprintf(cseq, sizeof cseq, "%" PRIu64, m->candidate_seq);
        snprintf(dec, sizeof dec, "%s%s%.10s", decision_name(m->decision),
                 *m->decided_at ? " " : "", m->decided_at);
        table_row(&t, id, score, m->name, m->candidate_name, m->birth_date, m->village, seq,
                  m->candidate_seq ? cseq : "-", dec);
    }
    size_t pending = 0;
    for (size_t i = 0; i < r->n_matches; i++)
        pending += r->matches[i]->decision == BENANG__V1__MATCH_DECISION__MATCH_DECISION_PENDING;
    bn_status_t st = r->n_matches ? table_print(&t, err) : BN_OK;
    table_free(&t);
    fflush(stdout); /* the summary after the rows, also when both are captured */
    if (st == BN_OK)
        fprintf(stderr, "%zu possible match%s, %zu pending%s\n", r->n_matches,
                r->n_matches == 1 ? "" : "es", pending,
                pending ? "; decide with: benangctl match confirm|reject ID" : "");
    return st;
}

bn_status_t ctl__run_matches(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool all = false, json = false;
    uint32_t limit = 0;
    bn_status_t st = BN_OK;
    ctl__getopt_reset();
    int c;
    while (st == BN_OK && (c = getopt_long(argc, argv, ":n:jh", opts, NULL)) != -1) {
        if (c == 'a')
            all = true;
        else if (c == 'n')
            st = parse_limit(optarg, &limit, err);
        else if (c == 'j')
            json = true;
        else if (c == 'h')
            return ctl__usage(ctl->cmd, stdout), BN_OK;
        else
            return ctl__bad_option(c, argv, err);
    }
    if (st == BN_OK)
        st = no_arguments(argc, argv, err);
    bn_query_t *q = NULL;
    if (st == BN_OK)
        st = open_query(ctl, &q, err);
    const Benang__V1__MatchesReply *r = NULL;
    if (st == BN_OK)
        st = bn_query_matches(q, all, limit, &r, err);
    if (st == BN_OK)
        st = print_matches(r, json, err);
    bn_query_destroy(&q);
    return st;
}

static void print_decision(const Benang__V1__PossibleMatch *m)
{
    bool same = m->decision == BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED;
    char cand[40] = "the candidate";
    if (m->candidate_seq) /* the hub keeps no first seq for people known by NIK */
        snprintf(cand, sizeof cand, "seq %" PRIu64, m->candidate_seq);
    printf("match #%" PRIu64 " %s at %s: seq %" PRIu64 " (%s) is %s %s (%s)\n", m->id,
           decision_name(m->decision), or_dash(m->decided_at), m->seq, m->name,
           same ? "the same person as" : "not the same person as", cand, m->candidate_name);
    if (same)
        printf("  subject key %.12s... now resolves to %.12s...\n", m->subject_key,
               m->candidate_key);
    else
        printf("  the pair will not be proposed again\n");
    if (*m->note)
        printf("  note: %s\n", m->note);
}

bn_status_t ctl__run_match(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"note", required_argument, NULL, 'N'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *note = NULL;
    bool json = false;
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        if (c == 'N')
            note = optarg;
        else if (c == 'j')
            json = true;
        else if (c == 'h')
            return ctl__usage(ctl->cmd, stdout), BN_OK;
        else
            return ctl__bad_option(c, argv, err);
    }
    if (argc - optind != 2)
        return bn_error_set(err, BN_USAGE, 0, NULL, "needs confirm or reject and a match ID");
    Benang__V1__MatchDecision d;
    if (strcmp(argv[optind], "confirm") == 0)
        d = BENANG__V1__MATCH_DECISION__MATCH_DECISION_CONFIRMED;
    else if (strcmp(argv[optind], "reject") == 0)
        d = BENANG__V1__MATCH_DECISION__MATCH_DECISION_REJECTED;
    else
        return bn_error_set(err, BN_USAGE, 0, NULL,
                            "the decision must be confirm or reject (got \"%s\")", argv[optind]);
    uint64_t id = 0;
    bn_status_t st = ctl__parse_u64("ID", argv[optind + 1], &id, err);
    bn_query_t *q = NULL;
    if (st == BN_OK)
        st = open_query(ctl, &q, err);
    const Benang__V1__PossibleMatch *m = NULL;
    if (st == BN_OK)
        st = bn_query_match_decide(q, id, d, note, &m, err);
    if (st == BN_OK && json)
        st = print_json(&m->base, err);
    else if (st == BN_OK)
        print_decision(m);
    bn_query_destroy(&q);
    return st;
}

/* ---- explain --------------------------------------------------------------------------- */

static void print_explain(const Benang__V1__ExplainReply *x)
{
    char method[32] = "none";
    const Benang__V1__Linkage *l = x->link;
    if (l && l->method)
        ctl__enum_short(&benang__v1__link_method__descriptor, l->method, method, sizeof method);
    printf("event %" PRIu64 ": %s", x->seq, method);
    if (l && x->n_candidates) /* a probabilistic decision: the best candidate's score */
        printf(", score %.3f", l->score);
    putchar('\n');
    printf("  subject key  %s\n", or_dash(x->subject_key));
    printf("  thresholds   linked at or above %.3f, review list at or above %.3f\n", x->upper,
           x->lower);
    if (*x->block)
        printf("  block        %s\n", x->block);
    if (*x->name)
        printf("  name         %s\n", x->name);
    if (l && l->match_id)
        printf("  review item  match #%" PRIu64 " (benangctl matches)\n", l->match_id);
    if (x->n_candidates) {
        printf("  candidates\n");
        for (size_t i = 0; i < x->n_candidates; i++) {
            const Benang__V1__LinkCandidate *c = x->candidates[i];
            printf("    %.3f  (name %.3f, sex %s)  %-24s %.16s...\n", c->score, c->name_score,
                   c->sex_agrees ? "agrees" : "differs", c->name, c->subject_key);
        }
    }
    printf("  %s\n", x->text);
}

bn_status_t ctl__run_explain(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'h')
            return ctl__usage(ctl->cmd, stdout), BN_OK;
        else
            return ctl__bad_option(c, argv, err);
    }
    if (argc - optind != 1)
        return bn_error_set(err, BN_USAGE, 0, NULL, "needs exactly one SEQ");
    uint64_t seq = 0;
    bn_status_t st = ctl__parse_u64("SEQ", argv[optind], &seq, err);
    bn_query_t *q = NULL;
    if (st == BN_OK)
        st = open_query(ctl, &q, err);
    const Benang__V1__ExplainReply *x = NULL;
    if (st == BN_OK)
        st = bn_query_explain(q, seq, &x, err);
    if (st == BN_OK && json)
        st = print_json(&x->base, err);
    else if (st == BN_OK)
        print_explain(x);
    bn_query_destroy(&q);
    return st;
}
