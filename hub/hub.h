/* hub.h: the benang hub: sockets, threads and the ingest loop.
 *
 * bn_hub_new() opens the store and the pseudonym key, binds the feed (XPUB),
 * starts the writer and query threads and binds the ingest ROUTER last, so a
 * hub that accepts requests is ready to store them. bn_hub_run() is the ingest
 * loop on the calling thread: read requests, translate and validate them
 * while the writer commits the previous batch, hand the writer the next
 * batch, ack committed requests and publish their events. On *stop it
 * finishes and acks what it accepted, then returns.
 */
#ifndef BN_HUB_H
#define BN_HUB_H

#include <signal.h>

#include "benang/status.h"
#include "config.h"

typedef struct bn_hub bn_hub_t;

/* cfg is borrowed and must outlive the hub. Returns BN_OK, BN_IO, BN_STORE,
 * BN_ZMQ (bind failed: err->where is the endpoint), BN_NOMEM, BN_INTERNAL. */
bn_status_t bn_hub_new(bn_hub_t **out, const bn_config_t *cfg, bn_error_t *err);
/* Serve until *stop becomes non-zero. Returns BN_OK after a clean drain, or
 * BN_ZMQ on a socket failure. */
bn_status_t bn_hub_run(bn_hub_t *h, const volatile sig_atomic_t *stop, bn_error_t *err);
/* Close everything; NULL-safe. */
void bn_hub_destroy(bn_hub_t **self_p);

#endif
