/* pipeline.h: the units of work passed between the hub's ingest and writer threads.
 *
 * The ingest thread turns each PublishRequest into a bn_req_t (translated,
 * validated, completed events with their content hashes) and gathers them in
 * a bn_batch_t. The writer thread takes a whole batch, assigns seqs and writes
 * it in one LMDB transaction (group commit), fills in each request's results,
 * and hands the batch back; the ingest thread then acks and publishes. A batch
 * is owned by exactly one thread at a time: ownership moves with the pointer
 * sent over the inproc pipe.
 */
#ifndef BN_PIPELINE_H
#define BN_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "arena.h"
#include "benang/adapter.h"
#include "benang/status.h"
#include "store.h"

/* Room the ingest thread leaves after the packed event for the writer's tail. */
#define BN_EVENT_TAIL_MAX 512

typedef struct {
    uint64_t seq;
    uint64_t supersedes_seq;
    bool duplicate;
    bool stored;          /* a new version written by this request: publish it */
    uint8_t hash[BN_STORE_HASH_LEN];
    char topic[200];
    char event_id[37];
    /* The serialized Event. The ingest thread packs it without the hub-assigned
     * seq, event_id, recorded_at and supersedes_seq (those bytes are what the
     * content hash covers, base_len of them); the writer appends those fields
     * as a tail, which protobuf parsers merge like any other field order.
     * With BN_EVENT_TAIL_MAX bytes to spare; in the request's arena (an
     * alert's: malloc'ed). */
    uint8_t *packed;
    size_t packed_len;
    size_t base_len;
    /* The subject's linkage inputs, made by the ingest thread (linker.h), in
     * the request's arena; NULL: no subject, or the writer makes them. */
    const struct bn_linker_prep *prep;
    /* For a subject with a NIK: bn_subject_tail() of its key with method
     * NIK, what the linker always decides for one, packed by the ingest
     * thread (in the arena); NULL otherwise. */
    const uint8_t *nik_tail;
    size_t nik_tail_len;
} bn_event_result_t;

typedef struct {
    zmq_msg_t identity;   /* ROUTER routing id of the publisher */
    bool req_style;       /* a REQ peer: reply with the empty delimiter frame */
    uint64_t request_id;
    const char *agency;   /* borrowed from the config */
    char recorded_at[64]; /* when the hub received it, RFC 3339 UTC */
    bn_event_list_t events;
    bn_event_result_t *results; /* n_results == events.len entries */
    size_t n_results;
    bn_status_t status;   /* set by ingest on refusal, by the writer otherwise */
    bn_error_t err;
    /* A payload its adapter refused travels to the writer too, to be kept as a
     * rejected record (refused && keep); its reply waits for that commit. */
    bool refused;
    bool keep;
    char adapter[64];
    uint8_t *payload;     /* kept refusals only: a copy of the payload, malloc'ed */
    size_t payload_len;
    uint64_t retry_of;    /* PublishRequest.retry_of */
    uint64_t rejected_id; /* set by the writer when kept */
    /* Where results, their packed bytes and (when events.arena points at
     * its pb) the events live, until bn_req_destroy(). Last: not zeroed. */
    bn_arena_t arena;
} bn_req_t;

typedef struct {
    bn_req_t **reqs;
    size_t len, cap;
    size_t n_events;
    /* Alert events the writer stored after the batch's requests (overlap
     * rules and referral timers), to publish after them: seq, topic, packed. */
    bn_event_result_t *alerts;
    size_t n_alerts, cap_alerts;
} bn_batch_t;

bn_batch_t *bn_batch_new(void);
/* Take ownership of *req (nulled). BN_OK or BN_NOMEM. */
bn_status_t bn_batch_push(bn_batch_t *b, bn_req_t **req);
void bn_batch_destroy(bn_batch_t **self_p);
/* A zeroed alert result at the end of b->alerts; NULL on NOMEM. */
bn_event_result_t *bn_batch_add_alert(bn_batch_t *b);
/* Drop the alerts (a retried batch). */
void bn_batch_clear_alerts(bn_batch_t *b);

/* A new request for identity (moved in: the caller's msg is reinitialised). NULL on NOMEM. */
bn_req_t *bn_req_new(zmq_msg_t *identity, bool req_style);
void bn_req_destroy(bn_req_t **self_p);

/* The event_id of seq under hub_id: a UUID-shaped string derived from both,
 * so a duplicate's reply gives the original id without a read. */
void bn_event_id_for(const char *hub_id, uint64_t seq, char out[37]);

/* The bytes that record how linkage decided a subject, to follow a stored
 * event's packed bytes: an Event with only subject.subject_key = key and
 * subject.link = *link (protobuf parsers merge it into the subject). Packed
 * into out when it fits cap; returns its length, or 0 when it does not. */
size_t bn_subject_tail(const char *key, const Benang__V1__Linkage *link, uint8_t *out, size_t cap);

/* Receive one whole multipart message from a ROUTER: the routing envelope
 * (the identity, plus the empty delimiter frame of a REQ peer) into env[0..2)
 * (*n_env set), the last body frame into body, the number of body frames into
 * *n_body (1 in a well-formed message). All msgs are initialised by the
 * caller and closed by the caller. Returns 0, or -1 on a ZeroMQ error. */
int bn_recv_routed(void *sock, zmq_msg_t env[2], int *n_env, zmq_msg_t *body, int *n_body);

#endif
