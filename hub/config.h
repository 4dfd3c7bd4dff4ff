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

/* The fields an overlap rule can require to match (bits of bn_rule_conf_t.match). */
typedef enum {
    BN_RULE_F_SUBJECT = 1 << 0,         /* the same person (subject_key) */
    BN_RULE_F_VACCINE = 1 << 1,         /* immunisation: vaccine system + code */
    BN_RULE_F_DOSE = 1 << 2,            /* immunisation: dose_number */
    BN_RULE_F_COURSE_CATEGORY = 1 << 3, /* training: course_category */
    BN_RULE_F_COURSE = 1 << 4,          /* training: course system + code */
    BN_RULE_F_PROVIDER = 1 << 5,        /* training: provider */
    BN_RULE_F_SECTOR = 1 << 6,          /* program: program sector; others: the agency's sector */
    BN_RULE_F_TARGET_GROUP = 1 << 7,    /* program: target_group */
    BN_RULE_F_AREA = 1 << 8,            /* program: any one of its areas; others: the event's area */
} bn_rule_field_t;

#define BN_RULE_UNSET UINT32_MAX

/* One overlap rule (hub.yaml `rules:`; the shipped defaults when absent). */
typedef struct {
    char *id;                 /* [a-z0-9][a-z0-9-]{0,62}; names the rule in alerts */
    char *kind;               /* [a-z0-9_]{1,32}: alert.<kind>.<sector> */
    char *type;               /* immunisation | training | program | referral */
    char **match;             /* field names as written */
    size_t n_match;
    uint32_t match_bits;      /* the same as bn_rule_field_t bits */
    uint32_t within_days;     /* dates at most this many days apart (BN_RULE_UNSET: not this relation) */
    bool periods_overlap;     /* periods share at least one day */
    bool across_agencies;     /* only events of different agencies */
    uint32_t answer_within_hours; /* referral: an answer is due within this (BN_RULE_UNSET: none) */
    uint32_t clock_lag_hours;     /* referral: wall clock minus this also advances the event clock; 0: event time only */
    bool enabled;
} bn_rule_conf_t;

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
    uint32_t rule_index_flush;    /* overlap-rule index entries held in memory before one sorted write, at least; default 1000000 (~100 MB of memory), 1..10000000 */
    uint32_t rule_index_flush_max; /* ... at most, as the index grows (half the entries indexed); default 2000000 (two generations: ~600 MB at most), 1..50000000 */
    uint64_t rule_index_era_events; /* events per era of the two big indexes (pend.h): a pass writes into its own era only; default 1000000, 1000..10^12 */
    /* endpoints: */
    char *ingest_endpoint;    /* default tcp://127.0.0.1:7701 */
    char *feed_endpoint;      /* default tcp://127.0.0.1:7702 */
    char *query_endpoint;     /* default tcp://127.0.0.1:7703 */
    /* linkage: */
    double link_upper;        /* link at or above; default BN_LINK_UPPER_DEFAULT */
    double link_lower;        /* possible match at or above (review list); default BN_LINK_LOWER_DEFAULT */
    uint32_t link_max_block;  /* most people compared per birth date + village; default 2000 */
    /* rules (the shipped defaults when the section is absent): */
    bn_rule_conf_t *rules;
    size_t n_rules;
    bool rules_default;       /* true when taken from the shipped defaults */
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

/* The shipped default rules as YAML (what an absent `rules:` means). */
extern const char bn_config_default_rules[];

/* True when the agency may use adapter name. */
bool bn_agency_allows(const bn_agency_conf_t *a, const char *adapter);

#endif
