/* node.h: a read-only YAML tree with source positions, for adapter settings.
 *
 * The config loader copies each agency's `settings:` subtree into bn_node_t
 * values so that adapters can read their own settings (mappings, code
 * tables, separators) without depending on libyaml, and still report errors
 * as "config/agencies/sdn-01.yaml:14:9". Scalars keep their text; the adapter
 * decides what type it wants. Nodes are owned by the config and live as long
 * as it does.
 */
#ifndef BENANG_NODE_H
#define BENANG_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "benang/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { BN_NODE_SCALAR, BN_NODE_MAP, BN_NODE_SEQ } bn_node_kind_t;

typedef struct bn_node bn_node_t;
struct bn_node {
    bn_node_kind_t kind;
    const char *file;    /* the file it was read from (shared, owned by the tree's root) */
    unsigned line, col;  /* 1-based position of the node */
    char *scalar;        /* BN_NODE_SCALAR: the text (never NULL) */
    char **keys;         /* BN_NODE_MAP: keys[i] maps to items[i] */
    bn_node_t **items;   /* BN_NODE_MAP values or BN_NODE_SEQ elements */
    size_t n;
};

/* The value of key in a map, or NULL (also when node is NULL or not a map). */
const bn_node_t *bn_node_get(const bn_node_t *node, const char *key);
/* The scalar text of key in a map, or NULL when missing or not a scalar. */
const char *bn_node_str(const bn_node_t *node, const char *key);
/* "file:line:col" of node into buf (size >= 1); returns buf. */
const char *bn_node_where(const bn_node_t *node, char *buf, size_t size);
/* Fill err with st at node's position: "file:line:col", message from fmt. */
bn_status_t bn_node_error(bn_error_t *err, bn_status_t st, const bn_node_t *node, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* Tree building (the config loader). All return NULL on out of memory. */
bn_node_t *bn_node_new(bn_node_kind_t kind, const char *file, unsigned line, unsigned col);
/* Append to a map (key copied) or a sequence (key NULL); takes ownership of *child. */
bool bn_node_add(bn_node_t *parent, const char *key, bn_node_t **child);
/* Free a tree; NULL-safe; nulls *self_p. The file string is not freed. */
void bn_node_destroy(bn_node_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
