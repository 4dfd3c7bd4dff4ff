/* canonical.c: adapter "canonical": the payload is one serialized benang.v1.Event.
 *
 * The native format of benang: protoc-generated code in any language
 * produces it. protobuf-c checks the wire format; field contents (UTF-8,
 * dates, required fields) are left to bn_event_validate(), which the hub
 * runs on every event whatever adapter produced it.
 */
#include "adapters_internal.h"

static bn_status_t canonical_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                       bn_event_list_t *out, bn_error_t *err)
{
    /* One event never exceeds max_events (0 or >= 1). Into the caller's
     * arena when it gives one: the hub's requests come with one. */
    if (out->len && out->arena != ctx->arena)
        return bn_error_set(err, BN_USAGE, 0, NULL, "the list holds events of another allocator");
    Benang__V1__Event *ev = benang__v1__event__unpack(ctx->arena, len, data);
    if (!ev)
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, "payload",
                            "payload is not a serialized benang.v1.Event (%zu bytes)", len);
    out->arena = ctx->arena;
    if (bn_event_list_push(out, &ev) != BN_OK) {
        benang__v1__event__free_unpacked(ev, ctx->arena);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    return BN_OK;
}

const bn_adapter_ops_t bn_adapter_canonical = {
    .name = "canonical",
    .summary = "one serialized benang.v1.Event (protobuf binary)",
    .translate = canonical_translate,
};
