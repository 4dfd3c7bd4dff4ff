/* adapter_harness.h: run one adapter the way the hub does, for adapter unit tests.
 *
 * An agency's settings come from a YAML file next to the fixtures (or a
 * string), loaded with the hub's own config loader so positions are real;
 * payloads are translated with those settings. Header-only (static inline):
 * each test includes it once.
 */
#ifndef BN_ADAPTER_HARNESS_H
#define BN_ADAPTER_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "config.h"
#include "testutil.h"

typedef struct {
    const char *adapter; /* "csv", "json", ... */
    const char *dir;     /* fixture subdirectory */
    const char *sector;
    bn_config_t *conf;
    void *settings;
} bn_test_agency_t;

static inline const bn_adapter_ops_t *bn_test_agency_ops(const bn_test_agency_t *a)
{
    return bn_adapter_find(a->adapter);
}

/* Settings of the first agency of a YAML text. */
static inline bn_status_t bn_test_agency_from(bn_test_agency_t *a, const char *name,
                                              const char *yaml, size_t len, bn_error_t *err)
{
    a->conf = NULL;
    a->settings = NULL;
    bn_status_t st = bn_config_load_string(&a->conf, name, yaml, len, err);
    CHECK_MSG(st == BN_OK, "%s: %s: %s", name, err->where, err->msg);
    if (st != BN_OK)
        return st;
    const bn_node_t *node = bn_node_get(a->conf->agencies[0].settings, a->adapter);
    return bn_test_agency_ops(a)->settings_new(node, &a->settings, err);
}

/* Settings of the one agency in fixtures/<dir>/<file>; false (checked) on failure. */
static inline bool bn_test_agency_load(bn_test_agency_t *a, const char *file)
{
    char path[512];
    size_t len = 0;
    bn_error_t err;
    snprintf(path, sizeof path, "%s/%s/%s", BN_FIXTURES, a->dir, file);
    char *yaml = bn_test_read_file(path, &len);
    CHECK_MSG(yaml != NULL, "cannot read %s", path);
    if (!yaml)
        return false;
    bn_status_t st = bn_test_agency_from(a, path, yaml, len, &err);
    free(yaml);
    CHECK_MSG(st == BN_OK, "%s: %s: %s", path, err.where, err.msg);
    return st == BN_OK;
}

static inline void bn_test_agency_free(bn_test_agency_t *a)
{
    bn_test_agency_ops(a)->settings_free(a->settings);
    bn_config_destroy(&a->conf);
}

static inline bn_status_t bn_test_agency_run(const bn_test_agency_t *a, const char *data,
                                             size_t len, size_t max, bn_event_list_t *out,
                                             bn_error_t *err)
{
    bn_adapter_ctx_t ctx = {
        .agency = "t", .sector = a->sector, .settings = a->settings, .max_events = max};
    bn_error_clear(err);
    return bn_test_agency_ops(a)->translate(&ctx, (const uint8_t *)data, len, out, err);
}

static inline bn_status_t bn_test_agency_run_file(const bn_test_agency_t *a, const char *file,
                                                  bn_event_list_t *out, bn_error_t *err)
{
    char path[512];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/%s", BN_FIXTURES, a->dir, file);
    char *data = bn_test_read_file(path, &len);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    bn_status_t st = data ? bn_test_agency_run(a, data, len, 0, out, err) : BN_IO;
    free(data);
    return st;
}

#endif
