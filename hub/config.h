/* config.h: hub.yaml, loaded once into a const table of settings.
 *
 * The loader walks a table of keys (name, type, default, bounds) over the
 * libyaml document, so every error reads
 *     config/hub.yaml:12:5: hub.durability: must be one of sync, buffered (got "fast")
 * Unknown keys are errors. After loading, a bn_config_t is never modified; a
 * reload builds a new one. Used by benang-hub and by `benangctl` (check-config,
 * endpoints).
 */
#ifndef BN_CONFIG_H
#define BN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benang/node.h"
#include "benang/status.h"

#define BN_CONFIG_DEFAULT_PATH "config/hub.yaml"

typedef enum { BN_DURABILITY_SYNC = 0, BN_DURABILITY_BUFFERED = 1 } bn_durability_t;

typedef struct {
    char *id;            /* [a-z0-9][a-z0-9-]{0,62}: appears in topics */
    char *name;          /* human name, free text */
    char *sector;        /* health | education | social | employment | ngo | ... ([a-z0-9_-]+) */
    char *area;          /* default area code of its events, may be "" */
    char **adapters;     /* allowed adapter names, adapters[0] is the default */
    size_t n_adapters;
    bn_node_t *settings; /* `settings:` mapping adapter name -> its settings, or NULL */
} bn_agency_conf_t;

typedef struct {
    char *path;               /* the file it was loaded from */
    /* hub: */
    char *hub_id;             /* default "benang" */
    char *data_dir;           /* default "./data" (relative to the working directory) */
    char *log_level;          /* debug | info | warn | error; default info */
    bn_durability_t durability;   /* default sync */
    uint32_t sync_interval_ms;    /* buffered mode: fsync period; default 200, 1..60000 */
    uint64_t max_payload_bytes;   /* default 1048576, 1..67108864 */
    uint32_t max_batch_events;    /* events per group commit; default 4096, 1..100000 */
    uint32_t max_events_per_request; /* default 10000, 1..1000000 */
    uint64_t map_size_mb;         /* initial LMDB map size; default 1024, 1..1048576; grows by itself */
    char *key_file;               /* pseudonym key; default "<data_dir>/hub.key" */
    bool store_nik;               /* keep NIK in clear; default false */
    uint64_t rejected_max;        /* rejected payloads kept for retry (oldest dropped); default 10000, 0..1000000 */
    /* endpoints: */
    char *ingest_endpoint;    /* default tcp://127.0.0.1:7701 */
    char *feed_endpoint;      /* default tcp://127.0.0.1:7702 */
    char *query_endpoint;     /* default tcp://127.0.0.1:7703 */
    /* agencies: */
    bn_agency_conf_t *agencies;
    size_t n_agencies;
    /* Agency files read besides path ("- file: agencies/x.yaml"), owned. */
    char **sources;
    size_t n_sources;
} bn_config_t;

/* Load and validate path. On BN_OK *out is a new config (bn_config_destroy).
 * Returns BN_OK, BN_IO (cannot read: err->native = errno), BN_CONFIG
 * (err->where = "file:line:col", err->msg = "key: what is wrong (got \"...\")"),
 * BN_NOMEM. */
bn_status_t bn_config_load(bn_config_t **out, const char *path, bn_error_t *err);

/* The same from a string; name is used in err->where in place of a file name. */
bn_status_t bn_config_load_string(bn_config_t **out, const char *name, const char *text,
                                  size_t len, bn_error_t *err);

/* NULL-safe, idempotent, nulls *self_p. */
void bn_config_destroy(bn_config_t **self_p);

/* The agency with that id, or NULL. Borrowed: lives as long as c. */
const bn_agency_conf_t *bn_config_agency(const bn_config_t *c, const char *id);

/* True when the agency may use adapter name. */
bool bn_agency_allows(const bn_agency_conf_t *a, const char *adapter);

#endif
