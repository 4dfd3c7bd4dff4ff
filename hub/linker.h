/* linker.h: who an event is about, decided in the writer's transaction.
 *
 * Every subject gets a pseudonymous subject_key. With a NIK it is the keyed
 * pseudonym of the NIK (pseudonym.h). Without one, the agency's own record
 * number links to the person it was first seen with; failing that, the record
 * is compared (linkage.h) with the people of its block (birth date + village):
 * above the upper threshold it takes the best candidate's key; between the
 * thresholds it gets a key of its own and a possible match goes on the review
 * list; below, a key of its own. A coordinator's decision on a possible match
 * (bn_linker_decide) is stored and honoured from then on: a confirmed key
 * resolves to the candidate's, a rejected pair is never proposed again.
 */
#ifndef BN_LINKER_H
#define BN_LINKER_H

#include <stdint.h>

#include "benang/status.h"
#include "benang/v1/protocol.pb-c.h"
#include "linkage.h"
#include "linkprep.h"
#include "pend.h"
#include "pseudonym.h"
#include "store.h"

/* Subjects with a NIK recorded lately, exactly as they came (key, name, birth
 * date, village, sex): seeing one again needs no normalising and no index
 * write. A direct-mapped table of 64-bit hashes; the writer owns it and
 * empties it when a batch is not committed (what it remembers must be in
 * the store). 4 Mi slots, 32 MB: four per resident of a district of a
 * million, so ~78 % of a returning resident's records are known here
 * instead of looked up in the people index (1 Mi slots: ~37 %). */
#define BN_LINKER_SEEN_SLOTS (1u << 22)
typedef struct {
    uint64_t slot[BN_LINKER_SEEN_SLOTS];
} bn_linker_seen_t;

typedef struct {
    double upper, lower;    /* thresholds, lower <= upper */
    uint32_t max_block;     /* most candidates compared per block */
    bn_linker_seen_t *seen; /* may be NULL */
    bn_pend_t *pend;        /* new people entries wait here (NULL: straight to LMDB) */
} bn_linker_options_t;

/* Resolve ev->subject within txn t for the event about to be stored at seq
 * (prep: bn_linker_prepare() of the same subject and agency, or NULL to
 * have it made here):
 * fills key (64 hex + NUL) and link (method, score, match id; linked_key, a
 * buffer of the caller's that link->linked_key points at, for POSSIBLE),
 * records the person in the people/localids indexes, and for probabilistic
 * decisions an explanation under seq (and a possible match when one is
 * raised). recorded_at stamps new review items. Events without a subject, or
 * with neither NIK, local id nor name + birth date + village, get key "".
 * Returns BN_OK or a store status. */
bn_status_t bn_linker_resolve(const bn_linker_options_t *opt, const bn_pseudonym_t *pseudo,
                              bn_store_txn_t *t, const char *agency, uint64_t seq,
                              const char *recorded_at, const Benang__V1__Subject *subject,
                              const bn_linker_prep_t *prep, char key[BN_SUBJECT_KEY_HEX],
                              Benang__V1__Linkage *link,
                              char linked_key[BN_SUBJECT_KEY_HEX], bn_error_t *err);

/* A coordinator's decision on possible match id (any thread; its own short
 * write transaction). decision is BENANG__V1__MATCH_DECISION__CONFIRMED or
 * __REJECTED; note may be NULL; decided_at is an RFC 3339 stamp. On BN_OK
 * *out is the updated record (benang__v1__possible_match__free_unpacked).
 * Returns BN_OK, BN_NOT_FOUND (no such id), BN_USAGE (bad decision),
 * BN_CONFLICT (already decided the other way), BN_STORE. */
bn_status_t bn_linker_decide(bn_store_t *s, uint64_t id, int decision, const char *note,
                             const char *decided_at, Benang__V1__PossibleMatch **out,
                             bn_error_t *err);

#endif
