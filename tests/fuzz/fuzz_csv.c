/* fuzz_csv.c: libFuzzer target for the "csv" adapter with a fixed mapping.
 *
 * The settings are built in code as a bn_node_t tree (no YAML), the way the
 * config loader would: a job-training export, ";" or "," chosen by the first
 * input byte, with a template, a map with default, dates, a number and a
 * split list, so every conversion path is reachable. Each produced event is
 * validated and JSON round-tripped (fuzz_check.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add(bn_node_t *map, const char *key, bn_node_t *child)
{
    if (!child || !bn_node_add(map, key, &child))
        abort();
}

static bn_node_t *text(const char *s)
{
    bn_node_t *n = bn_node_new(BN_NODE_SCALAR, "fuzz.yaml", 1, 1);
    if (!n || !(n->scalar = strdup(s)))
        abort();
    return n;
}

/* {k1: v1, k2: v2} (k2 may be NULL). */
static bn_node_t *spec(const char *k1, const char *v1, const char *k2, const char *v2)
{
    bn_node_t *m = bn_node_new(BN_NODE_MAP, "fuzz.yaml", 1, 1);
    if (!m)
        abort();
    add(m, k1, text(v1));
    if (k2)
        add(m, k2, text(v2));
    return m;
}

static bn_node_t *settings(const char *sep)
{
    bn_node_t *s = bn_node_new(BN_NODE_MAP, "fuzz.yaml", 1, 1),
              *f = bn_node_new(BN_NODE_MAP, "fuzz.yaml", 1, 1),
              *map = bn_node_new(BN_NODE_MAP, "fuzz.yaml", 1, 1);
    if (!s || !f || !map)
        abort();
    add(s, "separator", text(sep));
    add(s, "type", text("training"));
    add(f, "source_id", spec("template", "{no}-{kode}", NULL, NULL));
    add(f, "occurred_at", spec("column", "mulai", "format", "%d/%m/%Y"));
    add(f, "subject.nik", spec("column", "nik", NULL, NULL));
    add(f, "subject.birth_date", spec("column", "lahir", "format", "iso8601"));
    add(map, "LULUS", text("completed"));
    add(map, "DAFTAR", text("enrolled"));
    bn_node_t *st = spec("column", "status", "default", "attending");
    add(st, "map", map);
    add(f, "training.participant_status", st);
    add(f, "training.hours", spec("column", "jam", NULL, NULL));
    add(f, "training.period.end", spec("column", "selesai", "format", "epoch"));
    add(f, "training.course.code", spec("column", "kode", NULL, NULL));
    add(s, "fields", f);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)bn_fuzz_run; /* fuzz_check.h's runner passes no settings */
    const bn_adapter_ops_t *ops = bn_adapter_find("csv");
    bn_node_t *node = settings(size && data[0] == ';' ? ";" : ",");
    void *cfg = NULL;
    bn_error_t err;
    if (ops->settings_new(node, &cfg, &err) != BN_OK)
        abort();
    bn_adapter_ctx_t ctx = {
        .agency = "fuzz", .sector = "employment", .settings = cfg, .max_events = 1000};
    bn_event_list_t list = {0};
    bn_status_t st = ops->translate(&ctx, data, size, &list, &err);
    if (st != BN_OK && (memchr(err.where, '\0', sizeof err.where) == NULL ||
                        memchr(err.msg, '\0', sizeof err.msg) == NULL))
        abort();
    if (st == BN_OK)
        bn_fuzz_check_events(&list);
    bn_event_list_clear(&list);
    ops->settings_free(cfg);
    bn_node_destroy(&node);
    return 0;
}
