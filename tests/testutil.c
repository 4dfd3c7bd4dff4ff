/* testutil.c: see testutil.h. Integration helpers start the real benang-hub. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benang/client.h"
#include "benang/v1/event.pb-c.h"

int bn_test_passed;
int bn_test_failed;

int bn_test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, bn_test_passed, bn_test_failed);
    fflush(stdout);
    return bn_test_failed == 0 && bn_test_passed > 0 ? 0 : 1;
}

char *bn_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/benang-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *p = mkdtemp(tmpl);
    if (!p) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        exit(2);
    }
    return strdup(p);
}

void bn_test_rmrf(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

char *bn_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int bn_test_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(buf, 1, len, f);
    int rc = fclose(f);
    return w == len && rc == 0 ? 0 : -1;
}

static const char *default_agencies =
    "agencies:\n"
    "  - id: puskesmas-a\n"
    "    name: Puskesmas A\n"
    "    sector: health\n"
    "    adapters: [canonical, canonical-json, canonical-batch]\n"
    "  - id: klinik-b\n"
    "    name: Klinik B\n"
    "    sector: health\n"
    "    adapters: [canonical-json, canonical]\n"
    "  - id: sekolah-c\n"
    "    name: SD Negeri C\n"
    "    sector: education\n"
    "    adapters: [canonical, canonical-json, canonical-batch]\n"
    /* Every test event is about the same child: the overlap rules are tested
     * on their own (test_overlaps, test_views), not in every test's traffic. */
    "rules: []\n";

static int spawn(bn_test_hub_t *h)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(BN_HUB_BIN, BN_HUB_BIN, "--config", h->config, (char *)NULL);
        _exit(127);
    }
    h->pid = pid;
    /* Ready when the query endpoint answers status. */
    bn_client_options_t opts = {.timeout_ms = 200};
    for (int i = 0; i < 150; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            h->pid = 0;
            return -1;
        }
        bn_query_t *q = NULL;
        if (bn_query_new(&q, h->query, &opts, NULL) == BN_OK) {
            const Benang__V1__StatusReply *rep = NULL;
            bn_status_t s = bn_query_status(q, &rep, NULL);
            bn_query_destroy(&q);
            if (s == BN_OK)
                return 0;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

void bn_test_hub_prepare(bn_test_hub_t *h)
{
    memset(h, 0, sizeof *h);
    char *dir = bn_test_tmpdir("hub");
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    free(dir);
    h->magic = BN_TEST_PREPARED;
}

int bn_test_hub_start(bn_test_hub_t *h, const char *hub_extra, const char *agencies)
{
    if (h->magic != BN_TEST_PREPARED)
        bn_test_hub_prepare(h);
    snprintf(h->config, sizeof h->config, "%s/hub.yaml", h->dir);
    snprintf(h->log, sizeof h->log, "%s/hub.log", h->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        unsigned seed = (unsigned)getpid() * 2654435761u + (unsigned)time(NULL) + attempt * 7919u;
        /* below the kernel's ephemeral range (32768 and up), which the
         * clients' own connections draw their local ports from */
        int port = 20000 + (int)(seed % 12000u);
        snprintf(h->ingest, sizeof h->ingest, "tcp://127.0.0.1:%d", port);
        snprintf(h->feed, sizeof h->feed, "tcp://127.0.0.1:%d", port + 1);
        snprintf(h->query, sizeof h->query, "tcp://127.0.0.1:%d", port + 2);
        char yaml[8192];
        snprintf(yaml, sizeof yaml,
                 "hub:\n"
                 "  id: test-hub\n"
                 "  data_dir: %s/data\n"
                 "  log_level: debug\n"
                 "%s"
                 "endpoints:\n"
                 "  ingest: %s\n"
                 "  feed: %s\n"
                 "  query: %s\n"
                 "%s",
                 h->dir, hub_extra ? hub_extra : "", h->ingest, h->feed, h->query,
                 agencies ? agencies : default_agencies);
        if (bn_test_write_file(h->config, yaml, strlen(yaml)) != 0)
            return -1;
        if (spawn(h) == 0)
            return 0;
        bn_test_hub_dump_log(h);
    }
    return -1;
}

int bn_test_hub_restart(bn_test_hub_t *h)
{
    return spawn(h);
}

int bn_test_hub_stop(bn_test_hub_t *h, int sig)
{
    if (h->pid <= 0)
        return -1;
    kill(h->pid, sig);
    int st = 0;
    while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR) {
    }
    h->pid = 0;
    return st;
}

void bn_test_hub_cleanup(bn_test_hub_t *h)
{
    if (h->pid > 0)
        bn_test_hub_stop(h, SIGKILL);
    if (getenv("BN_KEEP_TMP") == NULL)
        bn_test_rmrf(h->dir);
}

void bn_test_hub_dump_log(const bn_test_hub_t *h)
{
    size_t len = 0;
    char *log = bn_test_read_file(h->log, &len);
    if (!log)
        return;
    const char *start = len > 4000 ? log + len - 4000 : log;
    fprintf(stderr, "---- hub log (%s) ----\n%s\n----\n", h->log, start);
    free(log);
}

int bn_test_run(const char *cmdline, char **out)
{
    FILE *p = popen(cmdline, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    char chunk[4096];
    while ((r = fread(chunk, 1, sizeof chunk, p)) > 0) {
        if (buf && n + r + 1 > cap) {
            while (n + r + 1 > cap)
                cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
        if (buf) {
            memcpy(buf + n, chunk, r);
            n += r;
        }
    }
    if (buf)
        buf[n] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint8_t *bn_test_immunisation(const char *source_id, const char *nik, const char *cvx,
                              unsigned dose, size_t pad, size_t *len)
{
    Benang__V1__Event ev = BENANG__V1__EVENT__INIT;
    Benang__V1__Subject sub = BENANG__V1__SUBJECT__INIT;
    Benang__V1__Immunisation imm = BENANG__V1__IMMUNISATION__INIT;
    Benang__V1__Coding vac = BENANG__V1__CODING__INIT;
    char facility[4096] = "Puskesmas Tanjung Barat ";
    size_t fl = strlen(facility);
    while (fl < pad && fl + 1 < sizeof facility)
        facility[fl++] = 'x';
    facility[fl] = '\0';
    vac.system = "http://hl7.org/fhir/sid/cvx";
    vac.code = (char *)cvx;
    vac.display = "vaccine";
    imm.vaccine = &vac;
    imm.dose_number = dose;
    imm.administered_on = "2026-11-02";
    imm.facility = facility;
    imm.status = BENANG__V1__IMMUNISATION_STATUS__IMMUNISATION_STATUS_COMPLETED;
    sub.nik = nik ? (char *)nik : "";
    sub.name = "Siti Aminah";
    sub.birth_date = "2025-03-14";
    sub.sex = BENANG__V1__SEX__SEX_FEMALE;
    sub.village = "Tanjung Barat";
    ev.source_id = (char *)source_id;
    ev.occurred_at = "2026-11-02T09:30:00+07:00";
    ev.subject = &sub;
    ev.body_case = BENANG__V1__EVENT__BODY_IMMUNISATION;
    ev.immunisation = &imm;
    size_t n = benang__v1__event__get_packed_size(&ev);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    benang__v1__event__pack(&ev, buf);
    *len = n;
    return buf;
}
