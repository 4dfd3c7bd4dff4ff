/* ingest.h: one PublishRequest body -> a bn_req_t ready for the writer, or a refusal.
 *
 * Decodes the request, resolves agency and adapter, enforces the payload
 * limit, runs the adapter, validates every event, then completes the
 * hub-owned fields: agency, sector, default area, type, the pseudonymous
 * subject_key (the NIK is cleared unless hub.store_nik), the topic and the
 * content hash used by the idempotency check, computed over the event packed
 * without seq, event_id, recorded_at and supersedes_seq (the writer appends
 * those, see bn_event_result_t); recorded_at is the caller's stamp, taken once
 * per loop turn rather than per request.
 * Runs on the ingest thread while the writer commits the previous batch.
 */
#ifndef BN_INGEST_H
#define BN_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "bindings.h"
#include "config.h"
#include "pipeline.h"
#include "pseudonym.h"

/* Fill req from body. Returns BN_OK (req->events and req->results ready) or
 * the refusal status, which is also stored in req->status with req->err
 * naming the problem: BN_BAD_REQUEST, BN_UNKNOWN_AGENCY, BN_UNKNOWN_ADAPTER,
 * BN_TOO_LARGE, BN_BAD_PAYLOAD, BN_INVALID_EVENT, BN_NOMEM. */
bn_status_t bn_ingest_prepare(const bn_config_t *cfg, const bn_bindings_t *bindings,
                              const bn_pseudonym_t *pseudo, const char *recorded_at,
                              const uint8_t *body, size_t len, bn_req_t *req);

/* The current time as RFC 3339 UTC with microseconds ("2026-11-29T01:02:03.456789Z"). */
void bn_ingest_stamp(char out[64]);

#endif
