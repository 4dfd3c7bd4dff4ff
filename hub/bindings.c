/* bindings.c: see bindings.h. A flat table of (agency, adapter, settings) rows. */
#include "bindings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const bn_agency_conf_t *agency;
    const bn_adapter_ops_t *ops;
    void *settings;
} row_t;

struct bn_bindings {
    row_t *rows;
    size_t n;
};

static const char *known_adapters(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; bn_adapter_at(i) && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", bn_adapter_at(i)->name);
    return buf;
}

static bn_status_t bind_agency(bn_bindings_t *b, const bn_config_t *cfg,
                               const bn_agency_conf_t *ag, bn_error_t *err)
{
    char list[300];
    for (size_t j = 0; j < ag->n_adapters; j++) {
        const bn_adapter_ops_t *ops = bn_adapter_find(ag->adapters[j]);
        if (!ops)
            return bn_error_set(err, BN_CONFIG, 0, cfg->path,
                                "agency %s: adapter \"%.64s\" does not exist; known adapters are %s",
                                ag->id, ag->adapters[j], known_adapters(list, sizeof list));
        const bn_node_t *node = bn_node_get(ag->settings, ops->name);
        row_t *r = &b->rows[b->n++];
        r->agency = ag;
        r->ops = ops;
        if (ops->settings_new) {
            bn_status_t st = ops->settings_new(node, &r->settings, err);
            if (st != BN_OK)
                return st;
        } else if (node) {
            return bn_node_error(err, BN_CONFIG, node, "agency %s: adapter %s takes no settings",
                                 ag->id, ops->name);
        }
    }
    for (size_t k = 0; ag->settings && k < ag->settings->n; k++)
        if (!bn_agency_allows(ag, ag->settings->keys[k]))
            return bn_node_error(err, BN_CONFIG, ag->settings->items[k],
                                 "agency %s: settings for \"%.64s\", which is not in its adapters list",
                                 ag->id, ag->settings->keys[k]);
    return BN_OK;
}

bn_status_t bn_bindings_new(bn_bindings_t **out, const bn_config_t *cfg, bn_error_t *err)
{
    *out = NULL;
    size_t total = 0;
    for (size_t i = 0; i < cfg->n_agencies; i++)
        total += cfg->agencies[i].n_adapters;
    bn_bindings_t *b = calloc(1, sizeof *b);
    if (!b || !(b->rows = calloc(total ? total : 1, sizeof *b->rows))) {
        free(b);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    }
    for (size_t i = 0; i < cfg->n_agencies; i++) {
        bn_status_t st = bind_agency(b, cfg, &cfg->agencies[i], err);
        if (st != BN_OK) {
            bn_bindings_destroy(&b);
            return st;
        }
    }
    *out = b;
    return BN_OK;
}

void bn_bindings_destroy(bn_bindings_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_bindings_t *b = *self_p;
    for (size_t i = 0; i < b->n; i++)
        if (b->rows[i].ops->settings_free)
            b->rows[i].ops->settings_free(b->rows[i].settings);
    free(b->rows);
    free(b);
    *self_p = NULL;
}

bn_status_t bn_bindings_resolve(const bn_bindings_t *b, const bn_agency_conf_t *ag,
                                const char *adapter, const bn_adapter_ops_t **ops,
                                const void **settings, bn_error_t *err)
{
    (void)err; /* the caller words the message: it knows how to quote the name */
    const char *name = adapter && *adapter ? adapter : ag->adapters[0];
    for (size_t i = 0; i < b->n; i++)
        if (b->rows[i].agency == ag && strcmp(b->rows[i].ops->name, name) == 0) {
            *ops = b->rows[i].ops;
            *settings = b->rows[i].settings;
            return BN_OK;
        }
    *ops = NULL;
    *settings = NULL;
    return BN_UNKNOWN_ADAPTER;
}
