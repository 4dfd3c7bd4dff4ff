/* views.h: the coordinator views served by the query thread.
 *
 * Overlaps (the alerts the rules raised), referrals (each thread's current
 * state), the program map (every program's current version), the linkage
 * review list, a coordinator's match decision, and the explanation of how an
 * event's subject was linked. Read from the store's indexes (store.h) in read
 * transactions, except the match decision, which is a short write.
 */
#ifndef BN_VIEWS_H
#define BN_VIEWS_H

#include "benang/status.h"
#include "benang/v1/protocol.pb-c.h"
#include "config.h"
#include "store.h"

/* Answer req (one of the view cases of QueryRequest.query) into rep: sets
 * rep->result_case and the result, allocating what it needs; the caller packs
 * rep and then calls bn_views_free(rep). Returns BN_OK, or the failure with err
 * set (BN_BAD_REQUEST / BN_NOT_FOUND name the field, BN_STORE), which the
 * caller sends as the reply's status. */
bn_status_t bn_views_answer(bn_store_t *s, const bn_config_t *cfg,
                            const Benang__V1__QueryRequest *req, Benang__V1__QueryReply *rep,
                            bn_error_t *err);
/* Free what bn_views_answer allocated in rep (not rep itself). */
void bn_views_free(Benang__V1__QueryReply *rep);

#endif
