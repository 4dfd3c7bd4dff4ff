/* ctl.h: what the files of benangctl share: the command context, the command
 * table row, and the helpers every command uses (internal to the tool). */
#ifndef BN_CTL_H
#define BN_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "benang/status.h"
#include "config.h"

enum { EP_INGEST, EP_FEED, EP_QUERY };

typedef struct ctl_cmd ctl_cmd_t;

typedef struct {
    const char *config_path;
    bool config_given;    /* --config on the command line: it must load */
    const char *endpoint; /* --endpoint: the command's main socket */
    const char *over[3];  /* --ingest, --feed, --query */
    int timeout_ms;
    bool help;            /* --help before the command: print the usage, run nothing */
    bool version;         /* --version: print it, run nothing */
    const ctl_cmd_t *cmd; /* the command being run */
    bn_config_t *cfg;     /* loaded on first need, owned */
} ctl_t;

struct ctl_cmd {
    const char *name;
    const char *args;    /* the usage line after the name */
    const char *summary; /* one line for the command list */
    const char *help;    /* the options, for COMMAND --help */
    bn_status_t (*run)(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
};

/* "usage: benangctl ... COMMAND ARGS" and the command's help text. */
void ctl__usage(const ctl_cmd_t *c, FILE *f);
/* getopt_long's complaint as a usage error (argv/optind as getopt left them). */
bn_status_t ctl__bad_option(int c, char **argv, bn_error_t *err);
/* Reset getopt before a command parses its own options. */
void ctl__getopt_reset(void);
/* Load ctl->config_path into ctl->cfg once. */
bn_status_t ctl__load_config(ctl_t *ctl, bn_error_t *err);
/* The endpoint (EP_INGEST, EP_FEED, EP_QUERY) to use; main_socket: --endpoint applies. */
bn_status_t ctl__endpoint(ctl_t *ctl, int ep, bool main_socket, const char **out, bn_error_t *err);
/* The whole of path ("-": stdin), malloc'ed. */
bn_status_t ctl__read_all(const char *path, uint8_t **out, size_t *len, bn_error_t *err);
/* Parse a decimal u64 option value. */
bn_status_t ctl__parse_u64(const char *opt, const char *s, uint64_t *out, bn_error_t *err);
/* An enum value's name without its type prefix, lower case ("completed",
 * "in_progress"), into buf; the number when d has no such value. Returns buf. */
const char *ctl__enum_short(const ProtobufCEnumDescriptor *d, int v, char *buf, size_t size);

/* Commands defined in ctl_ops.c. */
bn_status_t ctl__run_translate(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
bn_status_t ctl__run_rejected(ctl_t *ctl, int argc, char **argv, bn_error_t *err);

/* The coordinator views, defined in ctl_views.c. */
bn_status_t ctl__run_overlaps(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
bn_status_t ctl__run_referrals(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
bn_status_t ctl__run_program_map(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
bn_status_t ctl__run_matches(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
bn_status_t ctl__run_match(ctl_t *ctl, int argc, char **argv, bn_error_t *err);
bn_status_t ctl__run_explain(ctl_t *ctl, int argc, char **argv, bn_error_t *err);

#endif
