/* wire.h: internal helpers shared by the libbenang client files (not installed).
 *
 * ZeroMQ context and socket set-up with the options every client socket wants,
 * packing a protobuf-c message straight into a zmq_msg_t, and receiving one
 * multi-frame message with a deadline. Everything translates zmq_errno() into a
 * bn_status_t plus a bn_error_t at this edge, so publisher.c, query.c and
 * subscriber.c never look at errno themselves.
 *
 * Names are bn_wire__*: shared between the files of the client module only.
 */
#ifndef BN_CLIENT_WIRE_H
#define BN_CLIENT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "benang/client.h"

/* Most frames one client message may have; more is a protocol error. */
#define BN_WIRE_MAX_FRAMES 4
/* Default of bn_client_options_t.timeout_ms when opts is NULL or it is 0. */
#define BN_WIRE_DEFAULT_TIMEOUT_MS 10000

/* The ZeroMQ context of one client object: borrowed from the options or owned. */
typedef struct {
    void *ctx;
    bool owned; /* true: created here, terminated by bn_wire__context_close() */
} bn_wire_context_t;

/* Use opts->zmq_context or create a private context.
 * Returns BN_OK, BN_ZMQ. */
bn_status_t bn_wire__context_open(bn_wire_context_t *wc, const bn_client_options_t *opts,
                                  bn_error_t *err);
/* Terminate the context when owned (all its sockets must be closed). NULL-safe. */
void bn_wire__context_close(bn_wire_context_t *wc);

/* The effective timeout of opts: timeout_ms, BN_WIRE_DEFAULT_TIMEOUT_MS when
 * opts is NULL or timeout_ms is 0, -1 for "forever" (any negative value). */
int bn_wire__timeout(const bn_client_options_t *opts);

/* A new socket of type (ZMQ_DEALER or ZMQ_SUB) connected to endpoint, with
 * LINGER 0 (a destroyed client never hangs on unsent requests), generous
 * send/receive high-water marks (pipelined publishers, bursts on the feed),
 * ZMQ_IMMEDIATE on DEALERs (requests are not queued to a peer that is not
 * connected, so a send to a dead hub times out instead of piling up) with
 * send_timeout_ms as ZMQ_SNDTIMEO, and TCP heartbeats so a dead hub is noticed.
 * *sock is closed by the caller with zmq_close(). Returns BN_OK, BN_ZMQ
 * (err->native = zmq_errno(), err->where = endpoint). */
bn_status_t bn_wire__connect(void *ctx, int type, const char *endpoint, int send_timeout_ms,
                             void **sock, bn_error_t *err);

/* Milliseconds on a monotonic clock. */
int64_t bn_wire__now_ms(void);
/* A deadline timeout_ms from now; INT64_MAX for timeout_ms < 0. */
int64_t bn_wire__deadline(int timeout_ms);
/* Milliseconds left until deadline for zmq_poll: -1 for INT64_MAX, 0 when passed. */
int bn_wire__remaining(int64_t deadline);

/* Pack msg into one frame and send it with flags (0 or ZMQ_SNDMORE).
 * Returns BN_OK, BN_NOMEM, BN_TIMEOUT (ZMQ_SNDTIMEO passed: the hub is not
 * connected), BN_INTERRUPTED (a signal), BN_ZMQ. what names the message in
 * err->msg ("PublishRequest"). */
bn_status_t bn_wire__send_pb(void *sock, const ProtobufCMessage *msg, int flags, const char *what,
                             bn_error_t *err);

/* Wait until deadline for one message and receive all its frames into
 * frames[0..*n-1] (the caller zmq_msg_close()s each of them, whatever the
 * status; *n is 0 unless BN_OK or BN_PROTOCOL). A message of more than max
 * frames is received entirely, the extra frames dropped, and gives
 * BN_PROTOCOL. Returns BN_OK, BN_TIMEOUT, BN_INTERRUPTED, BN_ZMQ, BN_PROTOCOL. */
bn_status_t bn_wire__recv(void *sock, int64_t deadline, zmq_msg_t *frames, int max, int *n,
                          bn_error_t *err);

/* Receive one reply on a DEALER: the body frame, skipping the empty delimiter
 * a REQ-style peer puts first. *body is initialised here and closed by the
 * caller in every case. Returns as bn_wire__recv(); BN_PROTOCOL when the
 * message is not [body] or [empty][body]. */
bn_status_t bn_wire__recv_body(void *sock, int64_t deadline, zmq_msg_t *body, bn_error_t *err);

/* err from the last ZeroMQ failure: BN_TIMEOUT for EAGAIN, BN_INTERRUPTED for
 * EINTR, BN_ZMQ otherwise; what says what was being done. Returns the status. */
bn_status_t bn_wire__zfail(bn_error_t *err, const char *where, const char *what);

#endif
