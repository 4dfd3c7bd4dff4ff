/* fuzz_check.h: what both fuzz targets do with the events an adapter produced.
 *
 * Validate each event, write it as JSON and read that JSON back (which must
 * always succeed: pbjson's output is valid input), then free everything.
 * A broken invariant aborts, which is how a fuzz target reports a finding.
 */
#ifndef BN_FUZZ_CHECK_H
#define BN_FUZZ_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "benang/adapter.h"
#include "benang/pbjson.h"
#include "validate.h"

static void bn_fuzz_check_events(bn_event_list_t *list)
{
    for (size_t i = 0; i < list->len; i++) {
        bn_error_t err;
        bn_event_validate(list->items[i], &err);
        char *text = bn_pbjson_to_string(&list->items[i]->base);
        if (!text)
            abort();
        json_error_t je;
        json_t *j = json_loads(text, 0, &je);
        ProtobufCMessage *back = NULL;
        if (!j || bn_pbjson_from_json(&benang__v1__event__descriptor, j, "$", &back, &err) != BN_OK)
            abort();
        protobuf_c_message_free_unpacked(back, NULL);
        json_decref(j);
        free(text);
    }
}

static int bn_fuzz_run(const char *adapter, const uint8_t *data, size_t size)
{
    const bn_adapter_ops_t *ops = bn_adapter_find(adapter);
    bn_adapter_ctx_t ctx = {.agency = "fuzz", .sector = "health", .max_events = 1000};
    bn_event_list_t list = {0};
    bn_error_t err;
    bn_status_t st = ops->translate(&ctx, data, size, &list, &err);
    if (st != BN_OK && (memchr(err.where, '\0', sizeof err.where) == NULL ||
                        memchr(err.msg, '\0', sizeof err.msg) == NULL))
        abort();
    if (st == BN_OK)
        bn_fuzz_check_events(&list);
    bn_event_list_clear(&list);
    return 0;
}

#endif
