/* adapter_bench.c: benang-adapter-bench, the translation rate of each adapter on one core.
 *
 * Loads a hub config (default config/hub.yaml, so the demo agencies and their
 * settings), then for each (agency, payload file) given on the command line
 * translates the payload N times with that agency's default adapter and
 * settings, validating every event as the hub does, and prints one JSON object
 * per line: adapter, bytes, events per payload, events/s, payloads/s, MB/s.
 * No hub, no sockets: the adapter alone, single-threaded.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benang/adapter.h"
#include "bindings.h"
#include "config.h"
#include "validate.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

/* Translate data n times; 0 on success, with the rates printed. */
static int run_one(const bn_bindings_t *b, const bn_agency_conf_t *ag, const char *file,
                   long n, bool validate)
{
    const bn_adapter_ops_t *ops = NULL;
    const void *settings = NULL;
    bn_error_t err;
    size_t len = 0;
    char *data = slurp(file, &len);
    if (!data || bn_bindings_resolve(b, ag, NULL, &ops, &settings, &err) != BN_OK) {
        fprintf(stderr, "benang-adapter-bench: %s: cannot read, or no adapter\n", file);
        free(data);
        return 1;
    }
    bn_adapter_ctx_t ctx = {ag->id, ag->sector, settings, 100000};
    bn_event_list_t list = {0};
    size_t per = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        bn_status_t st = ops->translate(&ctx, (const uint8_t *)data, len, &list, &err);
        for (size_t k = 0; validate && st == BN_OK && k < list.len; k++)
            st = bn_event_validate(list.items[k], &err);
        if (st != BN_OK) {
            fprintf(stderr, "benang-adapter-bench: %s: %s: %s: %s\n", file, bn_status_name(st),
                    err.where, err.msg);
            bn_event_list_clear(&list);
            free(list.items);
            free(data);
            return 1;
        }
        per = list.len;
        bn_event_list_clear(&list);
    }
    double secs = now_s() - t0;
    printf("{\"agency\":\"%s\",\"adapter\":\"%s\",\"file\":\"%s\",\"bytes\":%zu,"
           "\"events_per_payload\":%zu,\"iterations\":%ld,\"seconds\":%.3f,"
           "\"validated\":%s,\"events_per_s\":%.0f,\"payloads_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
           ag->id, ops->name, file, len, per, n, secs, validate ? "true" : "false", (double)per * (double)n / secs,
           (double)n / secs, (double)len * (double)n / secs / 1e6);
    free(list.items);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = BN_CONFIG_DEFAULT_PATH;
    long n = 20000;
    bool validate = true;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"iterations", required_argument, NULL, 'n'},
                                         {"no-validate", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:n:h", opts, NULL)) != -1) {
        if (c == 'c')
            path = optarg;
        else if (c == 'n')
            n = strtol(optarg, NULL, 10);
        else if (c == 'V')
            validate = false;
        else {
            printf("usage: benang-adapter-bench [--config FILE] [--iterations N] [--no-validate]\n"
                   "                            AGENCY=FILE...\n"
                   "\n"
                   "Translate each FILE N times (default 20000) with AGENCY's default adapter and\n"
                   "settings, validating every event as the hub does (unless --no-validate: the\n"
                   "adapter alone); one JSON line per FILE.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (n <= 0 || optind >= argc) {
        fprintf(stderr, "benang-adapter-bench: give AGENCY=FILE arguments (see --help)\n");
        return 2;
    }
    bn_config_t *cfg = NULL;
    bn_bindings_t *b = NULL;
    bn_error_t err;
    if (bn_config_load(&cfg, path, &err) != BN_OK || bn_bindings_new(&b, cfg, &err) != BN_OK) {
        fprintf(stderr, "benang-adapter-bench: %s: %s\n", err.where[0] ? err.where : path,
                err.msg);
        bn_config_destroy(&cfg);
        return 2;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        const bn_agency_conf_t *ag = NULL;
        if (eq) {
            *eq = '\0';
            ag = bn_config_agency(cfg, argv[i]);
        }
        if (!ag) {
            fprintf(stderr, "benang-adapter-bench: %s: not AGENCY=FILE of a configured agency\n",
                    argv[i]);
            rc = 2;
            continue;
        }
        rc |= run_one(b, ag, eq + 1, n, validate);
    }
    bn_bindings_destroy(&b);
    bn_config_destroy(&cfg);
    return rc;
}
