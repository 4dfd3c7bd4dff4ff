/* writer.h: the hub's writer thread: group commit of whole batches into the store.
 *
 * The thread connects a PAIR socket to pipe_endpoint (bound by the ingest
 * thread) and receives batch pointers (bn_batch_t *, ownership moves with
 * the pointer). For each batch it runs one LMDB write transaction: for every
 * event, the idempotency check (same key and content: duplicate; same key,
 * new content: a new version that records the seq it supersedes), the seq,
 * the event_id, the serialized bytes and the per-type/per-agency counters;
 * then one commit (fsync in sync mode) and the batch goes back on the pipe
 * with every request's status and results filled in. A NULL pointer stops
 * the thread. In buffered mode the thread also syncs the environment every
 * sync_interval_ms.
 *
 * Each new event is also understood in the same transaction: its subject
 * linked (linker.h), the overlap rules checked and the event indexed
 * (rules.h), its referral thread moved on (referrals.h; an impossible
 * transition refuses the whole request with BN_CONFLICT, before any of it is
 * stored). Findings, and referral timers that came due, become alert events
 * appended after the batch's own events, in the same commit; they travel
 * back in batch->alerts for the ingest thread to publish. An empty batch is
 * a timer tick: it commits only when a timer fired.
 */
#ifndef BN_WRITER_H
#define BN_WRITER_H

#include "benang/status.h"
#include "config.h"
#include "pseudonym.h"
#include "store.h"

typedef struct bn_writer bn_writer_t;

/* Start the thread. zctx, store and cfg are borrowed and must outlive it.
 * feed (the hub's bound XPUB socket) passes to the thread, which publishes
 * each batch's stored events and alerts right after its commit; the caller
 * must not use it again until bn_writer_join() (then it closes it).
 * Returns BN_OK, BN_ZMQ, BN_NOMEM, BN_INTERNAL (thread creation). */
bn_status_t bn_writer_start(bn_writer_t **out, void *zctx, const char *pipe_endpoint, void *feed,
                            bn_store_t *store, const bn_pseudonym_t *pseudo,
                            const bn_config_t *cfg, bn_error_t *err);
/* Join the thread (the caller has sent NULL on the pipe) and free; NULL-safe. */
void bn_writer_join(bn_writer_t **self_p);

#endif
