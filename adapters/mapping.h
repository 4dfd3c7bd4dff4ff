/* mapping.h: the field-mapping language shared by the "csv" and "json" adapters.
 *
 * An operator maps source values (CSV columns, JSON paths) onto fields of
 * benang.v1.Event in YAML (docs/mapping.md). bn_mapping_new() compiles the
 * `fields:` and `type:` keys of one agency's settings node once, at hub
 * start: every target path is resolved to protobuf-c field descriptors, map
 * values and defaults are checked and enum names expanded, date formats are
 * parsed. bn_mapping_apply() then builds one Event per record directly in
 * protobuf-c's unpacked layout (no JSON in between: that is the hot path),
 * asking the adapter for source values through a lookup callback.
 *
 * The mapping knows nothing about CSV or JSON: a source is an opaque name
 * (a column name, a path text) that the adapter resolves itself; sources are
 * numbered 0..bn_mapping_source_count()-1, each distinct name once.
 *
 * Ownership: the mapping owns everything it returns pointers to; they live
 * until bn_mapping_destroy(). The settings node is not kept.
 */
#ifndef BN_MAPPING_H
#define BN_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include "benang/node.h"
#include "benang/status.h"
#include "benang/v1/event.pb-c.h"

typedef struct bn_mapping bn_mapping_t;

/* What differs between the adapters that use the language. */
typedef struct {
    const char *source_key;        /* "column" or "path": the key naming a source */
    const char *const *extra_keys; /* top-level keys the adapter reads itself; NULL-terminated */
} bn_mapping_dialect_t;

/* One source value of one record. s == NULL: absent (empty cells and JSON null
 * count as absent after trimming). items != NULL: a list of n values (a JSON
 * array); each item follows the same rules. */
typedef struct bn_mapping_value bn_mapping_value_t;
struct bn_mapping_value {
    const char *s;
    size_t len;
    const bn_mapping_value_t *items;
    size_t n;
};

/* How bn_mapping_apply() reads one record. */
typedef struct {
    void *ud;
    /* Fill *out with source src of the current record. The value must stay
     * valid until the next call. BN_OK, or a failure status with err filled
     * (the value exists but cannot be used, e.g. a JSON object). */
    bn_status_t (*lookup)(void *ud, size_t src, bn_mapping_value_t *out, bn_error_t *err);
    /* The place of source src in the input ("line 17, column \"tgl_lahir\"",
     * "$.data[3].tgl"), or of the record as a whole when src == SIZE_MAX. */
    void (*where)(void *ud, size_t src, char *buf, size_t size);
} bn_mapping_reader_t;

/* Compile the settings node (a map) into *out. Errors are BN_CONFIG at the
 * node's "file:line:col": unknown keys, unknown or hub-owned targets, a
 * target outside the `type:` body, bad map values or defaults, bad date
 * formats, missing source_id or occurred_at. Returns BN_OK, BN_CONFIG, BN_NOMEM. */
bn_status_t bn_mapping_new(bn_mapping_t **out, const bn_node_t *settings,
                           const bn_mapping_dialect_t *dialect, bn_error_t *err);
/* Free; NULL-safe; nulls *self_p. */
void bn_mapping_destroy(bn_mapping_t **self_p);

/* Number of distinct sources, and the i-th one's name (column name or path
 * text as written) and the settings node it was first written in (for the
 * adapter's own settings errors, e.g. a bad path). */
size_t bn_mapping_source_count(const bn_mapping_t *m);
const char *bn_mapping_source_name(const bn_mapping_t *m, size_t i);
const bn_node_t *bn_mapping_source_node(const bn_mapping_t *m, size_t i);
/* The body type ("training", ...). */
const char *bn_mapping_type(const bn_mapping_t *m);

/* Build one Event from the record rd reads. On BN_OK *out is a heap message
 * the caller frees with protobuf_c_message_free_unpacked(). Returns BN_OK,
 * BN_INVALID_EVENT (err->where from rd->where; no personal value echoed),
 * whatever rd->lookup returned, BN_NOMEM. */
bn_status_t bn_mapping_apply(const bn_mapping_t *m, const bn_mapping_reader_t *rd,
                             Benang__V1__Event **out, bn_error_t *err);

#endif
