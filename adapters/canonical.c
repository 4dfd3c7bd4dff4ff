/* canonical.c: adapter "canonical": the payload is one serialized benang.v1.Event;
 * adapter "canonical-batch": one serialized benang.v1.EventBatch of them.
 *
 * The native format of benang: protoc-generated code in any language
 * produces it. protobuf-c checks the wire format; field contents (UTF-8,
 * dates, required fields) are left to bn_event_validate(), which the hub
 * runs on every event whatever adapter produced it.
 */
#include "adapters_internal.h"

/* The payload as message d, into the caller's arena when it gives one (the
 * hub's requests come with one); NULL with *st and err set when it is not
 * one, or out already holds events of another allocator. */
static ProtobufCMessage *unpack_payload(const bn_adapter_ctx_t *ctx, const bn_event_list_t *out,
                                        const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                        size_t len, bn_status_t *st, bn_error_t *err)
{
    if (out->len && out->arena != ctx->arena) {
        *st = bn_error_set(err, BN_USAGE, 0, NULL, "the list holds events of another allocator");
        return NULL;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, ctx->arena, len, data);
    if (!m)
        *st = bn_error_set(err, BN_BAD_PAYLOAD, 0, "payload",
                           "payload is not a serialized %s (%zu bytes)", d->name, len);
    return m;
}

static bn_status_t canonical_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data, size_t len,
                                       bn_event_list_t *out, bn_error_t *err)
{
    /* One event never exceeds max_events (0 or >= 1). */
    bn_status_t st = BN_OK;
    Benang__V1__Event *ev = (Benang__V1__Event *)unpack_payload(
        ctx, out, &benang__v1__event__descriptor, data, len, &st, err);
    if (!ev)
        return st;
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

static bn_status_t canonical_batch_translate(const bn_adapter_ctx_t *ctx, const uint8_t *data,
                                             size_t len, bn_event_list_t *out, bn_error_t *err)
{
    bn_status_t st = BN_OK;
    Benang__V1__EventBatch *b = (Benang__V1__EventBatch *)unpack_payload(
        ctx, out, &benang__v1__event_batch__descriptor, data, len, &st, err);
    if (!b)
        return st;
    if (b->base.n_unknown_fields) {
        /* An Event's bytes decode as a batch of nothing and unknown fields:
         * say so rather than "no events". */
        unsigned tag = b->base.unknown_fields[0].tag;
        benang__v1__event_batch__free_unpacked(b, ctx->arena);
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, "payload",
                            "payload is not a serialized benang.v1.EventBatch: it has field %u, "
                            "a batch has only events (1); one Event goes with adapter canonical",
                            tag);
    }
    if (ctx->max_events && b->n_events > ctx->max_events) {
        size_t n = b->n_events;
        benang__v1__event_batch__free_unpacked(b, ctx->arena);
        return bn_error_set(err, BN_TOO_LARGE, 0, "payload", "%zu events; at most %zu allowed", n,
                            ctx->max_events);
    }
    out->arena = ctx->arena;
    for (size_t i = 0; i < b->n_events; i++) {
        /* A pushed event is the list's (push nulls its slot here); after a
         * failure the rest go with the batch. */
        if (st == BN_OK && bn_event_list_push(out, &b->events[i]) != BN_OK)
            st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        if (b->events[i]) {
            benang__v1__event__free_unpacked(b->events[i], ctx->arena);
            b->events[i] = NULL;
        }
    }
    b->n_events = 0;
    benang__v1__event_batch__free_unpacked(b, ctx->arena);
    return st;
}

const bn_adapter_ops_t bn_adapter_canonical_batch = {
    .name = "canonical-batch",
    .summary = "one serialized benang.v1.EventBatch: several Events in one request",
    .translate = canonical_batch_translate,
};
