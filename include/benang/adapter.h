/* adapter.h: the interface every source-format adapter implements.
 *
 * An adapter is a pure function: the agency's payload bytes plus that
 * agency's settings in, zero or more benang.v1.Event out, or an error that
 * names the place in the input. Adapters touch no socket, no store, no global
 * and do not log. The hub validates and completes what they produce (agency,
 * seq, event_id, recorded_at, subject_key) afterwards.
 *
 * Ownership: events appended to a bn_event_list_t are heap messages in
 * protobuf-c's own layout (every string, array and sub-message malloc'ed,
 * empty strings pointing at the descriptor default), so the list frees them
 * with protobuf_c_message_free_unpacked(msg, NULL); or, when the list names
 * an arena, they live in that arena and its owner frees them.
 */
#ifndef BENANG_ADAPTER_H
#define BENANG_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "benang/node.h"
#include "benang/status.h"
#include "benang/v1/event.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    Benang__V1__Event **items;
    size_t len;
    size_t cap;
    /* NULL: every event is malloc'ed, and clearing frees them. Otherwise
     * every event lives in this allocator (an adapter sets it to the
     * bn_adapter_ctx_t.arena it unpacked into, before its first push): the
     * allocator's owner frees them all at once, clearing only forgets
     * them, and whoever changes a string in them allocates it there too
     * (bn_pb_set_string_in). One list never mixes the two. */
    ProtobufCAllocator *arena;
} bn_event_list_t;

/* Take ownership of *ev (nulled on success). BN_NOMEM leaves *ev with the caller. */
bn_status_t bn_event_list_push(bn_event_list_t *list, Benang__V1__Event **ev);
/* Free every event and reset to empty; the list itself may be reused. NULL-safe. */
void bn_event_list_clear(bn_event_list_t *list);

/* What an adapter is told about the request. Borrowed for the call only. */
typedef struct {
    const char *agency;     /* the publishing agency id */
    const char *sector;     /* that agency's sector */
    const void *settings;   /* the agency's adapter settings (adapter-specific), or NULL */
    size_t max_events;      /* refuse payloads that would yield more (0: no limit) */
    /* An allocator that outlives the list's events, or NULL: an adapter that
     * unpacks events with protobuf-c may unpack them into it (then it sets
     * out->arena to it); others ignore it and malloc. */
    ProtobufCAllocator *arena;
} bn_adapter_ctx_t;

typedef struct {
    const char *name; /* "canonical", "canonical-json", ... */
    const char *summary;
    /* Build this adapter's settings for one agency from its YAML node
     * (agencies[i].settings.<adapter name>; NULL when the agency gives none).
     * *out is what translate() later receives as ctx->settings (may stay NULL).
     * Called at hub start and by `benangctl check-config`, never per request.
     * Errors name the place with bn_node_error() (err->where "file:line:col"):
     * unknown keys, unknown target fields, bad date formats, unreachable paths.
     * Returns BN_OK, BN_CONFIG, BN_NOMEM. NULL when the adapter has no settings. */
    bn_status_t (*settings_new)(const bn_node_t *node, void **out, bn_error_t *err);
    /* Free what settings_new built; NULL-safe. NULL when settings_new is NULL. */
    void (*settings_free)(void *settings);
    /* Append the events of data[0..len) to out. On failure out may hold some
     * events already: the caller clears it (a request is all-or-nothing).
     * Returns BN_OK, BN_BAD_PAYLOAD (unreadable: err->where names the place),
     * BN_INVALID_EVENT (readable but a field is wrong), BN_TOO_LARGE (more
     * than ctx->max_events), BN_NOMEM. */
    bn_status_t (*translate)(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                             bn_event_list_t *out, bn_error_t *err);
} bn_adapter_ops_t;

/* The registry: the adapter called name, or NULL. The returned table is static. */
const bn_adapter_ops_t *bn_adapter_find(const char *name);
/* The i-th registered adapter, or NULL past the end (for --help listings). */
const bn_adapter_ops_t *bn_adapter_at(size_t i);

#ifdef __cplusplus
}
#endif
#endif
