/* pause_probe.c: benang-pause-probe, does this machine stop running us now and then?
 *
 * Two threads (or --spinners 1) spin on the clock (one per core of a two-core machine) and
 * note every gap longer than --gap-ms between two readings: time in which
 * neither the program nor the kernel ran them. With --fsync DIR a third
 * thread writes and fdatasyncs a small file in DIR meanwhile, as the hub does
 * in sync mode. On a virtual machine whose host caps its CPU time per period
 * (with disk work counted in), the gaps come at that period; that is what
 * the hub's sync latency figures meet on the development machine (see
 * docs/benchmarks.md). Prints one line per gap of the first thread, then a
 * summary per thread; exit 0, or 2 on a usage error.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_GAPS 4096

typedef struct {
    int id;
    uint64_t run_ns, gap_ns;
    uint64_t at[MAX_GAPS], len[MAX_GAPS];
    size_t n;
} spinner_t;

static atomic_bool stop_io;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *spin(void *arg)
{
    spinner_t *s = arg;
    uint64_t start = now_ns(), last = start;
    for (;;) {
        uint64_t t = now_ns();
        if (t - start > s->run_ns)
            break;
        if (t - last > s->gap_ns && s->n < MAX_GAPS) {
            s->at[s->n] = last - start;
            s->len[s->n++] = t - last;
        }
        last = t;
    }
    return NULL;
}

static void *sync_loop(void *arg)
{
    const char *path = arg;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        return NULL;
    }
    char page[4096];
    memset(page, 'x', sizeof page);
    for (unsigned k = 0; !atomic_load(&stop_io); k++) {
        for (unsigned p = 0; p < 30; p++) /* about what one small group commit writes */
            if (pwrite(fd, page, sizeof page, (off_t)((k * 37 + p * 11) % 400) * 4096) < 0)
                break;
        fdatasync(fd);
    }
    close(fd);
    unlink(path);
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: benang-pause-probe [--seconds N] [--gap-ms G] [--spinners K] [--fsync DIR]\n"
               "\n"
               "Spins K threads [2] on the clock for N seconds [4] and reports every gap\n"
               "longer than G ms [2] in which they did not run. --fsync DIR: one more\n"
               "thread writes 30 pages and fdatasyncs a file in DIR meanwhile.\n");
}

int main(int argc, char **argv)
{
    double seconds = 4, gap_ms = 2;
    int spinners = 2;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--gap-ms") && i + 1 < argc) {
            gap_ms = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--spinners") && i + 1 < argc) {
            spinners = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--fsync") && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "benang-pause-probe: unknown or incomplete option \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!(seconds > 0 && seconds <= 600) || !(gap_ms > 0) || spinners < 1 || spinners > 2) {
        fprintf(stderr, "benang-pause-probe: --seconds must be in (0, 600], --gap-ms above 0, "
                        "--spinners 1 or 2\n");
        return 2;
    }
    static spinner_t sp[2];
    pthread_t th[2], io;
    char path[4200];
    bool with_io = dir != NULL;
    if (with_io) {
        snprintf(path, sizeof path, "%s/benang-pause-probe.%ld", dir, (long)getpid());
        pthread_create(&io, NULL, sync_loop, path);
    }
    for (int i = 0; i < spinners; i++) {
        sp[i].id = i;
        sp[i].run_ns = (uint64_t)(seconds * 1e9);
        sp[i].gap_ns = (uint64_t)(gap_ms * 1e6);
        pthread_create(&th[i], NULL, spin, &sp[i]);
    }
    for (int i = 0; i < spinners; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop_io, true);
    if (with_io)
        pthread_join(io, NULL);
    for (size_t g = 0; g < sp[0].n; g++)
        printf("gap %.1f ms at %.1f ms\n", sp[0].len[g] / 1e6, sp[0].at[g] / 1e6);
    for (int i = 0; i < spinners; i++) {
        double total = 0;
        for (size_t g = 0; g < sp[i].n; g++)
            total += sp[i].len[g] / 1e6;
        printf("thread %d: %zu gaps over %.1f ms, %.0f ms in all, over %.1f s%s\n", i, sp[i].n,
               gap_ms, total, seconds, with_io ? ", with fdatasync" : "");
    }
    return 0;
}
