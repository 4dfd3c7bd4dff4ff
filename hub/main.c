/* main.c: benang-hub, the broker daemon. Parses the command line, loads the
 * config, runs the hub until SIGINT/SIGTERM. The only place that prints fatal
 * errors and chooses the exit code. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "hub.h"
#include "log.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: benang-hub [--config FILE] [--check] [--help] [--version]\n"
            "\n"
            "Run the benang integration hub: ingest (ROUTER), live feed (XPUB) and\n"
            "query (ROUTER) endpoints over ZeroMQ, with a durable LMDB log.\n"
            "\n"
            "  -c, --config FILE  hub configuration (default: %s)\n"
            "      --check        load and validate the configuration, then exit\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "\n"
            "SIGINT or SIGTERM stops the hub cleanly: the batch in hand is committed\n"
            "and acknowledged first. Logs go to stderr as key=value lines.\n"
            "Exit status: 0 clean stop, 1 runtime failure, 2 usage or configuration error.\n",
            BN_CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
    const char *path = BN_CONFIG_DEFAULT_PATH;
    int check = 0;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'k': check = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("benang-hub %s\n", BN_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "benang-hub: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    bn_error_t err;
    bn_error_clear(&err);
    bn_config_t *cfg = NULL;
    if (bn_config_load(&cfg, path, &err) != BN_OK) {
        fprintf(stderr, "benang-hub: %s: %s\n", err.where[0] ? err.where : path, err.msg);
        return 2;
    }
    if (check) {
        printf("%s: ok (%zu agencies)\n", path, cfg->n_agencies);
        bn_config_destroy(&cfg);
        return 0;
    }
    bn_log_level_t level = BN_LOG_INFO;
    bn_log_parse_level(cfg->log_level, &level);
    bn_log_set_level(level);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    bn_hub_t *hub = NULL;
    int rc = 0;
    if (bn_hub_new(&hub, cfg, &err) != BN_OK && err.status == BN_CONFIG) {
        /* adapter settings are checked at start: report them like a load error */
        fprintf(stderr, "benang-hub: %s: %s\n", err.where[0] ? err.where : path, err.msg);
        rc = 2;
    } else if (!hub) {
        char q[400];
        bn_log(BN_LOG_ERROR, "start_failed", "status=%s where=%s error=%s",
               bn_status_name(err.status), err.where[0] ? err.where : "-",
               bn_log_quote(err.msg, q, sizeof q));
        rc = 1;
    } else if (bn_hub_run(hub, &g_stop, &err) != BN_OK) {
        bn_log(BN_LOG_ERROR, "run_failed", "status=%s", bn_status_name(err.status));
        rc = 1;
    }
    bn_hub_destroy(&hub);
    if (rc == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        bn_log(BN_LOG_INFO, "stopped", "cpu_user_s=%.3f cpu_sys_s=%.3f max_rss_kb=%ld",
               ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    }
    bn_config_destroy(&cfg);
    return rc;
}
