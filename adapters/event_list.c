/* event_list.c: the growable list of events an adapter appends to (see adapter.h).
 *
 * The list owns its events: each is a heap message in protobuf-c's own
 * layout and is freed with protobuf_c_message_free_unpacked(), unless they
 * live in the list's arena (its owner frees them). Capacity doubles from 8;
 * clearing frees the events and the array so that a cleared list holds no
 * memory and may be reused (the arena is kept).
 */
#include <stdint.h>
#include <stdlib.h>

#include "benang/adapter.h"

bn_status_t bn_event_list_push(bn_event_list_t *list, Benang__V1__Event **ev)
{
    if (!list || !ev || !*ev)
        return BN_USAGE;
    if (list->len == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        if (cap < list->cap || cap > SIZE_MAX / sizeof *list->items)
            return BN_NOMEM;
        Benang__V1__Event **items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return BN_NOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->len++] = *ev;
    *ev = NULL;
    return BN_OK;
}

void bn_event_list_clear(bn_event_list_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->len && !list->arena; i++)
        if (list->items[i])
            protobuf_c_message_free_unpacked(&list->items[i]->base, NULL);
    free(list->items);
    list->items = NULL;
    list->len = 0;
    list->cap = 0;
}
