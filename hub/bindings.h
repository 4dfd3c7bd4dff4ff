/* bindings.h: each agency's adapters, resolved and with their settings built.
 *
 * Built once from the loaded config: for every agency, every adapter it lists
 * must exist in the registry, and each adapter's settings (the agency's
 * `settings.<adapter>` node) are built by the adapter itself, so a bad
 * mapping is a start-up error with its file:line:col, never a per-request
 * surprise. `settings` keys naming an adapter the agency does not list are
 * errors too. Used by benang-hub (per request) and benangctl (check-config,
 * translate). Read-only after construction, safe to share between threads.
 */
#ifndef BN_BINDINGS_H
#define BN_BINDINGS_H

#include "benang/adapter.h"
#include "benang/status.h"
#include "config.h"

typedef struct bn_bindings bn_bindings_t;

/* cfg is borrowed and must outlive the bindings. Returns BN_OK, BN_CONFIG
 * (unknown adapter, bad settings: err->where = file:line:col when known), BN_NOMEM. */
bn_status_t bn_bindings_new(bn_bindings_t **out, const bn_config_t *cfg, bn_error_t *err);
void bn_bindings_destroy(bn_bindings_t **self_p);

/* The adapter for a request of agency ag: adapter (NULL or "" = the agency's
 * default) with its settings for this agency. Returns BN_OK,
 * BN_UNKNOWN_ADAPTER (no such adapter, or not listed for the agency). */
bn_status_t bn_bindings_resolve(const bn_bindings_t *b, const bn_agency_conf_t *ag,
                                const char *adapter, const bn_adapter_ops_t **ops,
                                const void **settings, bn_error_t *err);

#endif
