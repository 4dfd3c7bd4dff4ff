/* client.h: libbenang, what an agency or coordinator program links to talk to a hub.
 *
 * Three objects, one per hub endpoint:
 *   bn_publisher_t  ingest: publish payloads, blocking or pipelined (a window
 *                   of requests in flight), with the hub's acks;
 *   bn_query_t      query: fetch by seq range and topic prefix, hub status,
 *                   and the coordinator views (overlaps, referrals, program
 *                   map, linkage review and explanations);
 *   bn_subscriber_t feed: the live feed with prefix filters, optionally as a
 *                   catch-up subscription that first fetches from a seq and
 *                   then follows the feed with no gap and no repeat (a gap
 *                   seen on the feed is filled from the query endpoint).
 * None of them is thread-safe: use one per thread. Each owns its ZeroMQ
 * context unless one is passed in bn_client_options_t.
 *
 * Events handed out are protobuf-c messages owned by the library and valid
 * until the next call on the same object (or its destruction), unless the
 * call says otherwise.
 */
#ifndef BENANG_CLIENT_H
#define BENANG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benang/status.h"
#include "benang/v1/event.pb-c.h"
#include "benang/v1/protocol.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    void *zmq_context; /* share one ZeroMQ context, or NULL for a private one */
    int timeout_ms;    /* blocking calls give BN_TIMEOUT after this; default 10000; -1 forever */
} bn_client_options_t;

/* ---- publishing ------------------------------------------------------ */

typedef struct bn_publisher bn_publisher_t;

/* The hub's answer to one request. Owned by the library: valid until the next
 * call on the publisher. */
typedef struct {
    uint64_t request_id;
    bn_status_t status;               /* BN_OK, BN_DUPLICATE or the refusal */
    const Benang__V1__PublishReply *reply; /* the decoded reply: events, error, error_path */
} bn_publish_result_t;

/* Connect a DEALER to endpoint ("tcp://127.0.0.1:7701"). opts may be NULL.
 * Returns BN_OK, BN_ZMQ (bad endpoint: err->native = zmq_errno()), BN_NOMEM. */
bn_status_t bn_publisher_new(bn_publisher_t **out, const char *endpoint,
                             const bn_client_options_t *opts, bn_error_t *err);
void bn_publisher_destroy(bn_publisher_t **self_p);

/* Publish and wait for the ack. On return BN_OK/BN_DUPLICATE (or a refusal
 * status from the hub) res describes the hub's reply; BN_TIMEOUT, BN_ZMQ and
 * BN_PROTOCOL are local failures (the request may or may not have been
 * stored: publish the same payload again, the hub deduplicates).
 * adapter may be NULL (the agency's default). */
bn_status_t bn_publisher_publish(bn_publisher_t *p, const char *agency, const char *adapter,
                                 const void *payload, size_t len, bn_publish_result_t *res,
                                 bn_error_t *err);

/* Pipelined: send without waiting. *request_id (may be NULL) receives the id
 * the reply will carry. Never blocks for the hub's answer; call
 * bn_publisher_recv() to collect replies. Returns BN_OK, BN_ZMQ, BN_NOMEM. */
bn_status_t bn_publisher_send(bn_publisher_t *p, const char *agency, const char *adapter,
                              const void *payload, size_t len, uint64_t *request_id,
                              bn_error_t *err);
/* Add one serialized benang.v1.Event to a "canonical-batch" payload being
 * built in buf[0..cap): a serialized benang.v1.EventBatch is its events one
 * after another, each as field 1 (a tag byte, its length as a varint, its
 * bytes), so events already serialized are added without decoding them.
 * *used is the payload's length so far (0 for a new one) and grows by what
 * is written. Publish the payload with adapter "canonical-batch": the hub
 * stores every event of it or none, and acks them in this order. Returns
 * BN_OK, BN_TOO_LARGE (buf has no room; *used unchanged), BN_USAGE (NULL). */
bn_status_t bn_event_batch_add(uint8_t *buf, size_t cap, size_t *used, const void *event,
                               size_t len);
/* Bytes bn_event_batch_add() writes for an event of len bytes. */
size_t bn_event_batch_entry_size(size_t len);
/* Wait up to timeout_ms (-1 forever, 0 poll) for the next reply. BN_TIMEOUT
 * when none came; otherwise as bn_publisher_publish(). */
bn_status_t bn_publisher_recv(bn_publisher_t *p, int timeout_ms, bn_publish_result_t *res,
                              bn_error_t *err);
/* Mark the next request sent (publish or send) as the re-run of rejected
 * payload rejected_id: when the hub stores it, that rejected record is closed
 * in the same commit. Applies to one request. */
void bn_publisher_retry_of(bn_publisher_t *p, uint64_t rejected_id);

/* Requests sent and not yet answered. */
size_t bn_publisher_in_flight(const bn_publisher_t *p);

/* ---- query ----------------------------------------------------------- */

typedef struct bn_query bn_query_t;

bn_status_t bn_query_new(bn_query_t **out, const char *endpoint, const bn_client_options_t *opts,
                         bn_error_t *err);
void bn_query_destroy(bn_query_t **self_p);

/* Fetch events with from_seq <= seq <= to_seq (0: head), at most max_events
 * (0: hub default), whose topic starts with one of prefixes (n_prefixes 0:
 * all). On BN_OK *reply is the decoded FetchReply, owned by the library until
 * the next call on q. Returns BN_OK, BN_TIMEOUT, BN_ZMQ, BN_PROTOCOL, or the
 * hub's refusal status. */
bn_status_t bn_query_fetch(bn_query_t *q, uint64_t from_seq, uint64_t to_seq, uint32_t max_events,
                           const char *const *prefixes, size_t n_prefixes,
                           const Benang__V1__FetchReply **reply, bn_error_t *err);

/* One event of a raw fetch: its seq and its serialized benang.v1.Event bytes,
 * pointing into the reply the query object holds. */
typedef struct {
    uint64_t seq;
    const uint8_t *data;
    size_t len;
} bn_raw_event_t;

/* As bn_query_fetch(), without decoding the events: *events[0..*n_events)
 * point into the received reply and stay valid until the next call on q.
 * For consumers that store, forward or filter events (replay into another
 * store, a bridge) and decode only what they need
 * (benang__v1__event__unpack on data/len). head_seq and next_seq as in
 * FetchReply. Returns as bn_query_fetch(); BN_PROTOCOL when the reply is not
 * well-formed protobuf. */
bn_status_t bn_query_fetch_raw(bn_query_t *q, uint64_t from_seq, uint64_t to_seq,
                               uint32_t max_events, const char *const *prefixes, size_t n_prefixes,
                               const bn_raw_event_t **events, size_t *n_events, uint64_t *head_seq,
                               uint64_t *next_seq, bn_error_t *err);

/* Payloads refused by their adapter and kept by the hub: of agency (NULL or
 * "": all), ids >= from_id, at most max (0: 100, capped at 1000), or just
 * the one with id (0: a listing). Payload bytes only with include_payload.
 * *reply owned by the library until the next call on q. Returns as
 * bn_query_fetch(); BN_BAD_REQUEST when id is given and not kept. */
bn_status_t bn_query_rejected(bn_query_t *q, const char *agency, uint64_t from_id, uint32_t max,
                              uint64_t id, bool include_payload,
                              const Benang__V1__RejectedReply **reply, bn_error_t *err);

/* Hub status; *reply owned by the library until the next call on q. */
bn_status_t bn_query_status(bn_query_t *q, const Benang__V1__StatusReply **reply, bn_error_t *err);

/* ---- coordinator views (docs/coordinators.md) ------------------------- */

/* Send any QueryRequest and wait for its reply: the generic form of every
 * call above and below. req is the caller's; its request_id is overwritten
 * (the object numbers its requests). *reply is the decoded QueryReply, owned
 * by the library until the next call on q, whenever one came: with BN_OK, and
 * also when the hub refused (then err->msg and err->where are the reply's
 * error and error_path, and the return value the reply's status). NULL on a
 * local failure. Returns BN_OK; BN_USAGE (req NULL or with no query case this
 * library knows); BN_TIMEOUT, BN_ZMQ; BN_PROTOCOL (the reply does not decode,
 * or says OK without the result the query asks for); or the hub's refusal:
 * BN_BAD_REQUEST (a malformed filter, or an unknown seq, id or referral:
 * err->where names the field, e.g. "explain.seq"), BN_CONFLICT, BN_INTERNAL,
 * BN_UNAVAILABLE. */
bn_status_t bn_query_call(bn_query_t *q, Benang__V1__QueryRequest *req,
                          const Benang__V1__QueryReply **reply, bn_error_t *err);

/* The thin wrappers below build the request, call bn_query_call() and hand
 * out the result inside the reply (same lifetime: until the next call on q).
 * String filters may be NULL or "" (no filter); max 0 means the hub's default
 * (1000), capped by the hub at 10000. They return as bn_query_call(). */

/* Alerts raised by the overlap rules, ascending seq; when more than max
 * match, the newest max. since: "YYYY-MM-DD", alerts the hub recorded on or
 * after that UTC day. area, sector, kind: exact matches on the alert event's
 * area, sector and Alert.kind ("duplicate_service", ...). */
bn_status_t bn_query_overlaps(bn_query_t *q, const char *since, const char *area,
                              const char *sector, const char *kind, uint32_t max,
                              const Benang__V1__OverlapsReply **reply, bn_error_t *err);

/* Referral threads' current states, oldest request first. status
 * REFERRAL_STATUS_UNSPECIFIED: any; open_only: not rejected, completed, failed
 * or cancelled. referral_id: just that thread (BN_BAD_REQUEST with where
 * "referrals.referral_id" when the hub knows no such thread). */
bn_status_t bn_query_referrals(bn_query_t *q, const char *to_agency, const char *from_agency,
                               Benang__V1__ReferralStatus status, const char *referral_id,
                               bool open_only, uint32_t max,
                               const Benang__V1__ReferralsReply **reply, bn_error_t *err);

/* The current version of every program, ordered by sector, target group,
 * first area and period start. sector: the program's own sector (else its
 * agency's); area: any of the program's areas. */
bn_status_t bn_query_program_map(bn_query_t *q, const char *sector, const char *area,
                                 const char *target_group,
                                 const Benang__V1__ProgramMapReply **reply, bn_error_t *err);

/* The linkage review list, ascending id: pending matches only unless
 * include_decided. */
bn_status_t bn_query_matches(bn_query_t *q, bool include_decided, uint32_t max,
                             const Benang__V1__MatchesReply **reply, bn_error_t *err);

/* Decide possible match id: MATCH_DECISION_CONFIRMED (the same person) or
 * MATCH_DECISION_REJECTED; note may be NULL. *match is the updated record.
 * Deciding again the same way is a no-op. BN_BAD_REQUEST with where
 * "match_decision.decision" (another value) or "match_decision.id" (no such
 * match); BN_CONFLICT when it was decided the other way before. */
bn_status_t bn_query_match_decide(bn_query_t *q, uint64_t id, Benang__V1__MatchDecision decision,
                                  const char *note, const Benang__V1__PossibleMatch **match,
                                  bn_error_t *err);

/* How the subject of event seq was linked: method, score, thresholds, the
 * candidates compared (probabilistic decisions) and one sentence.
 * BN_BAD_REQUEST with where "explain.seq" when no event has that seq. */
bn_status_t bn_query_explain(bn_query_t *q, uint64_t seq, const Benang__V1__ExplainReply **reply,
                             bn_error_t *err);

/* ---- subscribing ----------------------------------------------------- */

typedef struct bn_subscriber bn_subscriber_t;

/* Subscribe to feed_endpoint with topic prefixes (n 0: everything).
 * When query_endpoint is not NULL the subscription is a catch-up one: events
 * from from_seq on (0 or 1: the beginning of the log) come first, from the
 * query endpoint, then the live feed follows with no gap and no repeat; a
 * seq gap on the feed (a slow subscriber dropped messages) is filled from the
 * query endpoint. Without a query endpoint it is a plain live subscription
 * (from_seq ignored) and gaps are not filled. */
bn_status_t bn_subscriber_new(bn_subscriber_t **out, const char *feed_endpoint,
                              const char *query_endpoint, const char *const *prefixes,
                              size_t n_prefixes, uint64_t from_seq,
                              const bn_client_options_t *opts, bn_error_t *err);
void bn_subscriber_destroy(bn_subscriber_t **self_p);

/* The next event, waiting up to timeout_ms (-1 forever). *ev is owned by the
 * subscriber until the next call. *topic (may be NULL) receives its topic,
 * same lifetime. Returns BN_OK, BN_TIMEOUT, BN_ZMQ, BN_PROTOCOL. */
bn_status_t bn_subscriber_next(bn_subscriber_t *s, int timeout_ms, const Benang__V1__Event **ev,
                               const char **topic, bn_error_t *err);

/* Last seq handed out (catch-up subscriptions), 0 before the first. */
uint64_t bn_subscriber_last_seq(const bn_subscriber_t *s);

/* "<type>.<sector>.<agency>" of ev into buf; returns buf. */
const char *bn_event_topic(const Benang__V1__Event *ev, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
