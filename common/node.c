/* node.c: the read-only YAML tree of adapter settings (see benang/node.h). */
#include "benang/node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const bn_node_t *bn_node_get(const bn_node_t *node, const char *key)
{
    if (!node || node->kind != BN_NODE_MAP || !key)
        return NULL;
    for (size_t i = 0; i < node->n; i++)
        if (strcmp(node->keys[i], key) == 0)
            return node->items[i];
    return NULL;
}

const char *bn_node_str(const bn_node_t *node, const char *key)
{
    const bn_node_t *v = bn_node_get(node, key);
    return v && v->kind == BN_NODE_SCALAR ? v->scalar : NULL;
}

const char *bn_node_where(const bn_node_t *node, char *buf, size_t size)
{
    if (!node)
        snprintf(buf, size, "(built-in)");
    else
        snprintf(buf, size, "%s:%u:%u", node->file ? node->file : "?", node->line, node->col);
    return buf;
}

bn_status_t bn_node_error(bn_error_t *err, bn_status_t st, const bn_node_t *node, const char *fmt,
                          ...)
{
    char where[160];
    bn_node_where(node, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(err, st, 0, where, fmt, ap);
    va_end(ap);
    return st;
}

bn_node_t *bn_node_new(bn_node_kind_t kind, const char *file, unsigned line, unsigned col)
{
    bn_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    return n;
}

bool bn_node_add(bn_node_t *parent, const char *key, bn_node_t **child)
{
    if (parent->kind == BN_NODE_SCALAR || (parent->kind == BN_NODE_MAP) != (key != NULL))
        return false;
    bn_node_t **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
    if (!items)
        return false;
    parent->items = items;
    if (key) {
        char **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);
        char *copy = strdup(key);
        if (keys)
            parent->keys = keys;
        if (!keys || !copy) {
            free(copy);
            return false;
        }
        keys[parent->n] = copy;
    }
    items[parent->n++] = *child;
    *child = NULL;
    return true;
}

void bn_node_destroy(bn_node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_node_t *n = *self_p;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        bn_node_destroy(&n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->scalar);
    free(n);
    *self_p = NULL;
}
