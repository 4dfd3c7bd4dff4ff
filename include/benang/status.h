/* status.h: the one status enum of benang and the error detail that goes with it.
 *
 * Every fallible benang call returns a bn_status_t. The *kind* of failure is the
 * code; the *exact* failure (what, where, the foreign cause) goes into an
 * optional bn_error_t the caller passes in. Codes, names and texts come from one
 * X-macro list so they cannot drift. Wire statuses (benang.v1.Status) map onto
 * the first codes one to one; see bn_status_to_wire().
 */
#ifndef BENANG_STATUS_H
#define BENANG_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, wire code, text). Wire code 0 means "not a wire status": it is
 * sent as STATUS_INTERNAL when it has to cross the wire. */
#define BN_STATUS_LIST(X)                                                        \
    X(OK, 1, "success")                                                          \
    X(DUPLICATE, 2, "already stored with the same content")                      \
    X(BAD_FRAME, 3, "wrong ZeroMQ frame layout")                                 \
    X(BAD_REQUEST, 4, "request does not decode")                                 \
    X(BAD_PAYLOAD, 5, "payload cannot be read by its adapter")                   \
    X(INVALID_EVENT, 6, "event field missing or invalid")                        \
    X(UNKNOWN_AGENCY, 7, "unknown agency")                                       \
    X(UNKNOWN_ADAPTER, 8, "unknown adapter or not allowed for agency")           \
    X(TOO_LARGE, 9, "payload too large")                                         \
    X(UNAVAILABLE, 10, "temporarily unavailable, retry later")                   \
    X(INTERNAL, 11, "internal error")                                            \
    X(CONFLICT, 12, "contradicts the stored state")                              \
    X(NOMEM, 0, "out of memory")                                                 \
    X(IO, 0, "input/output error")                                               \
    X(CONFIG, 0, "configuration error")                                          \
    X(STORE, 0, "store error")                                                   \
    X(STORE_FULL, 0, "store map or disk full")                                   \
    X(NOT_FOUND, 0, "not found")                                                 \
    X(TIMEOUT, 0, "timed out")                                                   \
    X(ZMQ, 0, "ZeroMQ error")                                                    \
    X(PROTOCOL, 0, "protocol error from peer")                                   \
    X(USAGE, 0, "invalid argument")                                              \
    X(INTERRUPTED, 0, "interrupted")

typedef enum {
#define BN_X_ENUM(name, wire, text) BN_##name,
    BN_STATUS_LIST(BN_X_ENUM)
#undef BN_X_ENUM
        BN_STATUS_COUNT_
} bn_status_t;

/* Detail of a failure. All strings are NUL-terminated and truncated to fit. */
typedef struct {
    bn_status_t status; /* the same code the call returned */
    int native;         /* errno, zmq_errno(), an MDB_* code... or 0 */
    char where[160];    /* "config/hub.yaml:12:5", "$.events[2].occurred_at", "RXA-5" or "" */
    char msg[320];      /* one sentence, no personal data */
} bn_error_t;

/* "BN_OK", "BN_BAD_FRAME", ... Never NULL. */
const char *bn_status_name(bn_status_t st);
/* Short text of the code. Never NULL. */
const char *bn_status_text(bn_status_t st);
/* benang.v1.Status number for st (STATUS_INTERNAL for non-wire codes). */
int bn_status_to_wire(bn_status_t st);
/* Inverse of bn_status_to_wire(); unknown numbers give BN_PROTOCOL. */
bn_status_t bn_status_from_wire(int wire);

/* Fill err (when not NULL) and return st, so a failure is one line:
 *     return bn_error_set(err, BN_IO, errno, path, "cannot open: %s", strerror(errno));
 * where may be NULL. */
bn_status_t bn_error_set(bn_error_t *err, bn_status_t st, int native, const char *where,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bn_status_t bn_error_vset(bn_error_t *err, bn_status_t st, int native, const char *where,
                          const char *fmt, va_list ap);
/* Reset to BN_OK with empty strings. NULL-safe. */
void bn_error_clear(bn_error_t *err);
/* Prefix err->where with "prefix" (e.g. "$.events[3]" + ".occurred_at"). NULL-safe. */
void bn_error_prefix_where(bn_error_t *err, const char *prefix);
/* "BN_CODE: where: msg" into buf (always NUL-terminated); returns buf. */
const char *bn_error_format(const bn_error_t *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
