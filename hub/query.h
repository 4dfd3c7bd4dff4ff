/* query.h: the hub's query service, a ROUTER in its own thread.
 *
 * Serves QueryRequest -> QueryReply (fetch by seq range and topic prefix,
 * status and statistics, rejected payloads, and the coordinator views of
 * views.h) from LMDB read transactions, so it never blocks ingest; a
 * coordinator's match decision is the one short write (bn_store_update). Fetch replies are assembled from the stored event bytes without
 * decoding them. Malformed requests get a QueryReply with BAD_FRAME or
 * BAD_REQUEST and the thread keeps serving.
 */
#ifndef BN_QUERY_H
#define BN_QUERY_H

#include "benang/status.h"
#include "config.h"
#include "store.h"

typedef struct bn_query_service bn_query_service_t;

/* Bind cfg->query_endpoint and start the thread. zctx, store, cfg borrowed.
 * Returns BN_OK, BN_ZMQ (bind failed: err->where is the endpoint), BN_NOMEM, BN_INTERNAL. */
bn_status_t bn_query_service_start(bn_query_service_t **out, void *zctx, bn_store_t *store,
                                   const bn_config_t *cfg, bn_error_t *err);
/* Stop the thread, join and free; NULL-safe. */
void bn_query_service_stop(bn_query_service_t **self_p);

#endif
