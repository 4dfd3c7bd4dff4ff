/* bench_hub.c: benang-bench's hub side: the child process, the run directory,
 * status and replay through the query endpoint, and the raw LMDB reference.
 *
 * The run directory is never on tmpfs unless asked (fsync is free there), and
 * the raw LMDB env lives in it next to the hub's data, so both pay the same
 * filesystem. The hub is stopped with SIGTERM and its exit status checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define FETCH_PAGE 10000

/* ---- query: status and replay ---------------------------------------------------- */

int bn_bench__status(bn_query_t *q, bn_bench_status_t *hs)
{
    const Benang__V1__StatusReply *rep = NULL;
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st = bn_query_status(q, &rep, &err);
    if (st != BN_OK || !rep) {
        fprintf(stderr, "bench: status: %s: %s\n", bn_status_name(st), err.msg);
        return -1;
    }
    hs->head = rep->head_seq;
    hs->commits = rep->commits;
    hs->committed = rep->committed_events;
    snprintf(hs->durability, sizeof hs->durability, "%s", rep->durability ? rep->durability : "");
    return 0;
}

/* Fetch seq 1..head in pages; *count events in *secs. decode: every event is
 * decoded by the client (bn_query_fetch) rather than handed out as bytes
 * (bn_query_fetch_raw): the first measures the client's protobuf-c decoding as
 * much as the hub. */
int bn_bench__replay(bn_query_t *q, uint64_t head, bool decode, uint64_t *count, double *secs)
{
    uint64_t from = 1, t0 = bn_bench__now_ns(), last = t0;
    bn_error_t err;
    bn_error_clear(&err);
    *count = 0;
    while (from <= head && !bn_bench_abort) {
        const Benang__V1__FetchReply *rep = NULL;
        const bn_raw_event_t *raw = NULL;
        size_t n = 0;
        uint64_t rhead = 0, next = 0;
        bn_status_t st = decode ? bn_query_fetch(q, from, head, FETCH_PAGE, NULL, 0, &rep, &err)
                                : bn_query_fetch_raw(q, from, head, FETCH_PAGE, NULL, 0, &raw, &n,
                                                     &rhead, &next, &err);
        if (st == BN_TIMEOUT && bn_bench__now_ns() - last < BN_BENCH_STALL_NS)
            continue;
        if (st != BN_OK || (decode && !rep)) {
            fprintf(stderr, "bench: replay: fetch from %" PRIu64 ": %s: %s\n", from,
                    bn_status_name(st), err.msg);
            return -1;
        }
        if (decode) {
            n = rep->n_events;
            next = rep->next_seq;
        }
        last = bn_bench__now_ns();
        *count += n;
        if (n == 0 || next <= from)
            break;
        from = next;
    }
    *secs = (double)(bn_bench__now_ns() - t0) / 1e9;
    return bn_bench_abort ? -1 : 0;
}

/* ---- raw LMDB reference ------------------------------------------------------------ */

/* n puts of the events' stored form, MDB_APPEND, a commit every batch puts. */
int bn_bench__raw_lmdb(const bn_bench_opts_t *o, const char *dir, bool nosync, uint64_t n,
                       uint64_t batch, double *secs)
{
    bn_bench_tmpl_t t;
    if (bn_bench__tmpl_make(&t, o->size, BN_BENCH_SID_PUB_LEN, false) != 0)
        return -1;
    char topic[160];
    int tl = snprintf(topic, sizeof topic, "immunisation.health.%s", o->agency);
    size_t vlen = 2 + (size_t)tl + t.proto_len;
    uint8_t *val = malloc(vlen);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = val ? mdb_env_create(&env) : ENOMEM;
    size_t map = (size_t)((n + 1000) * (vlen + 64) * 2 + (64u << 20));
    if (!rc)
        rc = mdb_env_set_mapsize(env, map);
    if (!rc)
        rc = mdb_env_set_maxdbs(env, 4);
    if (!rc && mkdir(dir, 0700) != 0 && errno != EEXIST)
        rc = errno;
    if (!rc)
        rc = mdb_env_open(env, dir, nosync ? MDB_NOSYNC : 0, 0600);
    if (!rc && !(rc = mdb_txn_begin(env, NULL, 0, &txn)))
        rc = mdb_dbi_open(txn, "events", MDB_CREATE, &dbi);
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    uint64_t t0 = bn_bench__now_ns();
    char sid[64];
    for (uint64_t i = 0; !rc && i < n && !bn_bench_abort; i++) {
        if (!txn && (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
            break;
        snprintf(sid, sizeof sid, BN_BENCH_SID_PUB_FMT, 'R', 0u, 0, i);
        bn_bench__tmpl_patch(t.proto, t.proto_sid_off, t.proto_nik_off, sid, BN_BENCH_SID_PUB_LEN,
                             i);
        bn_bench__tmpl_birth(t.proto, t.proto_birth_off, i);
        val[0] = (uint8_t)(tl >> 8);
        val[1] = (uint8_t)tl;
        memcpy(val + 2, topic, (size_t)tl);
        memcpy(val + 2 + tl, t.proto, t.proto_len);
        uint8_t kb[8];
        for (int b = 0; b < 8; b++)
            kb[b] = (uint8_t)((i + 1) >> (56 - 8 * b));
        MDB_val k = {8, kb}, v = {vlen, val};
        if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)) != 0)
            break;
        if ((i + 1) % batch == 0 || i + 1 == n) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
    }
    *secs = (double)(bn_bench__now_ns() - t0) / 1e9;
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (rc)
        fprintf(stderr, "bench: raw LMDB: %s\n", mdb_strerror(rc));
    free(val);
    bn_bench__tmpl_free(&t);
    return rc || bn_bench_abort ? -1 : 0;
}

/* ---- the hub process and the run directory ------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (path[0] && strcmp(path, "/") != 0 && lstat(path, &st) == 0)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool on_tmpfs(const char *path)
{
    struct statfs sf;
    return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

/* The run directory: --data-dir as given, or a fresh one under $TMPDIR or
 * /var/tmp (never tmpfs: the figures must be those of a disk). */
int bn_bench__run_dir_make(const bn_bench_opts_t *o, bn_bench_run_t *r)
{
    if (o->data_dir) {
        snprintf(r->dir, sizeof r->dir, "%s", o->data_dir);
        if (mkdir(r->dir, 0700) == 0)
            r->own_dir = true;
        else if (errno != EEXIST) {
            fprintf(stderr, "bench: mkdir %s: %s\n", r->dir, strerror(errno));
            return -1;
        }
    } else {
        const char *base = getenv("TMPDIR");
        if (!base || !*base || on_tmpfs(base))
            base = "/var/tmp";
        snprintf(r->dir, sizeof r->dir, "%s/benang-bench-XXXXXX", base);
        if (!mkdtemp(r->dir)) {
            fprintf(stderr, "bench: mkdtemp %s: %s\n", r->dir, strerror(errno));
            return -1;
        }
        r->own_dir = true;
    }
    if (on_tmpfs(r->dir))
        fprintf(stderr, "bench: warning: %s is on tmpfs: fsync costs nothing there\n", r->dir);
    snprintf(r->cfg, sizeof r->cfg, "%s/hub.yaml", r->dir);
    snprintf(r->log, sizeof r->log, "%s/hub.log", r->dir);
    snprintf(r->hubdata, sizeof r->hubdata, "%s/hub-data", r->dir);
    snprintf(r->rawdir, sizeof r->rawdir, "%s/raw-lmdb", r->dir);
    snprintf(r->floordir, sizeof r->floordir, "%s/floor-lmdb", r->dir);
    struct stat st;
    if (!r->own_dir &&
        (stat(r->hubdata, &st) == 0 || stat(r->rawdir, &st) == 0 || stat(r->floordir, &st) == 0)) {
        fprintf(stderr, "bench: %s already holds a previous run: give an empty directory\n",
                r->dir);
        return -1;
    }
    return 0;
}

void bn_bench__run_dir_clean(const bn_bench_opts_t *o, const bn_bench_run_t *r)
{
    if (!r->dir[0])
        return;
    if (o->keep) {
        fprintf(stderr, "bench: kept %s\n", r->dir);
        return;
    }
    if (r->own_dir) {
        rm_rf(r->dir);
    } else {
        rm_rf(r->hubdata);
        rm_rf(r->rawdir);
        rm_rf(r->floordir);
        remove(r->cfg);
        remove(r->log);
    }
}

/* Three free loopback ports, held open together so they differ. */
static int free_ports(int ports[3])
{
    int fds[3] = {-1, -1, -1}, rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &al) != 0)
            rc = -1;
        else
            ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

void bn_bench__hub_log_dump(const bn_bench_run_t *r)
{
    FILE *f = fopen(r->log, "r");
    if (!f)
        return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- hub log (%s) ----\n%s----\n", r->log, buf);
}

/* SIGTERM and wait up to 60 s; the hub's exit status, or -1 when it had to be killed. */
int bn_bench__hub_stop(bn_bench_run_t *r)
{
    if (r->pid <= 0)
        return 0;
    kill(r->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1200; i++) {
        pid_t w = waitpid(r->pid, &st, WNOHANG);
        if (w == r->pid) {
            r->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        if (w < 0 && errno != EINTR)
            break;
        bn_bench__sleep_ms(50);
    }
    fprintf(stderr, "bench: hub did not stop within 60 s of SIGTERM: killed\n");
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
    r->pid = 0;
    return -1;
}

static int write_config(const bn_bench_opts_t *o, const bn_bench_run_t *r)
{
    uint64_t total = o->events + o->prefill + (uint64_t)(o->lat_rate * o->lat_seconds) + 1000;
    uint64_t map_mb = total * (o->size + 250) * 2 / (1u << 20);
    if (map_mb < 1024)
        map_mb = 1024;
    FILE *f = fopen(r->cfg, "w");
    if (!f) {
        fprintf(stderr, "bench: %s: %s\n", r->cfg, strerror(errno));
        return -1;
    }
    fprintf(f,
            "hub:\n  id: bench-hub\n  data_dir: %s\n  log_level: info\n  durability: %s\n"
            "  map_size_mb: %" PRIu64 "\n",
            r->hubdata, o->buffered ? "buffered" : "sync", map_mb);
    for (int i = 0; i < o->n_hub_options; i++) {
        const char *kv = o->hub_options[i], *eq = strchr(kv, '=');
        fprintf(f, "  %.*s: %s\n", (int)(eq - kv), kv, eq + 1);
    }
    fprintf(f,
            "endpoints:\n  ingest: %s\n  feed: %s\n  query: %s\n"
            "agencies:\n  - id: %s\n    name: Bench Puskesmas\n    sector: health\n"
            "    adapters: [canonical, canonical-json, fhir, canonical-batch]\n%s",
            r->ingest, r->feed, r->query, o->agency, o->no_rules ? "rules: []\n" : "");
    return fclose(f) == 0 ? 0 : -1;
}

/* Start the hub on free loopback ports and wait until status answers. */
int bn_bench__hub_start(const bn_bench_opts_t *o, bn_bench_run_t *r)
{
    for (int attempt = 0; attempt < 3 && !bn_bench_abort; attempt++) {
        int ports[3];
        if (free_ports(ports) != 0) {
            fprintf(stderr, "bench: no free loopback port: %s\n", strerror(errno));
            return -1;
        }
        snprintf(r->ingest, sizeof r->ingest, "tcp://127.0.0.1:%d", ports[0]);
        snprintf(r->feed, sizeof r->feed, "tcp://127.0.0.1:%d", ports[1]);
        snprintf(r->query, sizeof r->query, "tcp://127.0.0.1:%d", ports[2]);
        if (write_config(o, r) != 0)
            return -1;
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, 1); /* stdout is the bench's JSON */
                dup2(fd, 2);
                close(fd);
            }
            execl(o->hub_bin, o->hub_bin, "--config", r->cfg, (char *)NULL);
            fprintf(stderr, "exec %s: %s\n", o->hub_bin, strerror(errno));
            _exit(127);
        }
        r->pid = pid;
        bn_client_options_t copts = {.timeout_ms = 200};
        for (int i = 0; i < 150 && !bn_bench_abort; i++) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                r->pid = 0;
                break;
            }
            bn_query_t *q = NULL;
            if (bn_query_new(&q, r->query, &copts, NULL) == BN_OK) {
                const Benang__V1__StatusReply *rep = NULL;
                bn_status_t s = bn_query_status(q, &rep, NULL);
                bn_query_destroy(&q);
                if (s == BN_OK)
                    return 0;
            }
            bn_bench__sleep_ms(100);
        }
        bn_bench__hub_stop(r);
        bn_bench__hub_log_dump(r);
        rm_rf(r->hubdata);
    }
    fprintf(stderr, "bench: the hub (%s) did not start\n", o->hub_bin);
    return -1;
}
