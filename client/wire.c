/* wire.c: ZeroMQ and protobuf plumbing shared by the libbenang client files.
 *
 * See wire.h. Every ZeroMQ failure is translated here into a bn_status_t with
 * zmq_errno() in err->native; nothing here prints, retries behind the caller's
 * back, or keeps state beyond the objects the caller passes in.
 */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define SOCK_HWM 100000
#define HEARTBEAT_IVL_MS 5000
#define HEARTBEAT_TIMEOUT_MS 15000

bn_status_t bn_wire__zfail(bn_error_t *err, const char *where, const char *what)
{
    int e = zmq_errno();
    if (e == EAGAIN)
        return bn_error_set(err, BN_TIMEOUT, e, where, "%s: timed out", what);
    if (e == EINTR)
        return bn_error_set(err, BN_INTERRUPTED, e, where, "%s: interrupted by a signal", what);
    return bn_error_set(err, BN_ZMQ, e, where, "%s: %s", what, zmq_strerror(e));
}

bn_status_t bn_wire__context_open(bn_wire_context_t *wc, const bn_client_options_t *opts,
                                  bn_error_t *err)
{
    wc->ctx = opts ? opts->zmq_context : NULL;
    wc->owned = false;
    if (wc->ctx)
        return BN_OK;
    wc->ctx = zmq_ctx_new();
    if (!wc->ctx)
        return bn_wire__zfail(err, NULL, "cannot create a ZeroMQ context");
    wc->owned = true;
    return BN_OK;
}

void bn_wire__context_close(bn_wire_context_t *wc)
{
    if (!wc || !wc->ctx)
        return;
    if (wc->owned) {
        while (zmq_ctx_term(wc->ctx) != 0 && zmq_errno() == EINTR) {
        }
    }
    wc->ctx = NULL;
    wc->owned = false;
}

int bn_wire__timeout(const bn_client_options_t *opts)
{
    if (!opts || opts->timeout_ms == 0)
        return BN_WIRE_DEFAULT_TIMEOUT_MS;
    return opts->timeout_ms < 0 ? -1 : opts->timeout_ms;
}

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

bn_status_t bn_wire__connect(void *ctx, int type, const char *endpoint, int send_timeout_ms,
                             void **sock, bn_error_t *err)
{
    *sock = NULL;
    if (!endpoint || !*endpoint)
        return bn_error_set(err, BN_USAGE, 0, NULL, "no endpoint given");
    void *s = zmq_socket(ctx, type);
    if (!s)
        return bn_wire__zfail(err, endpoint, "cannot create a socket");
    int rc = set_int(s, ZMQ_LINGER, 0);
    rc |= set_int(s, ZMQ_SNDHWM, SOCK_HWM);
    rc |= set_int(s, ZMQ_RCVHWM, SOCK_HWM);
    rc |= set_int(s, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS);
    rc |= set_int(s, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS);
    if (type == ZMQ_DEALER) {
        rc |= set_int(s, ZMQ_IMMEDIATE, 1);
        rc |= set_int(s, ZMQ_SNDTIMEO, send_timeout_ms < 0 ? -1 : send_timeout_ms);
    }
    if (rc != 0 || zmq_connect(s, endpoint) != 0) {
        bn_status_t st = bn_wire__zfail(err, endpoint, "cannot connect");
        zmq_close(s);
        return st;
    }
    *sock = s;
    return BN_OK;
}

int64_t bn_wire__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bn_wire__deadline(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : bn_wire__now_ms() + timeout_ms;
}

int bn_wire__remaining(int64_t deadline)
{
    if (deadline == INT64_MAX)
        return -1;
    int64_t left = deadline - bn_wire__now_ms();
    if (left <= 0)
        return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

bn_status_t bn_wire__send_pb(void *sock, const ProtobufCMessage *msg, int flags, const char *what,
                             bn_error_t *err)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, len) != 0)
        return bn_error_set(err, BN_NOMEM, zmq_errno(), NULL, "%s: cannot allocate %zu bytes", what,
                            len);
    if (len)
        protobuf_c_message_pack(msg, zmq_msg_data(&m));
    while (zmq_msg_send(&m, sock, flags) < 0) {
        if (zmq_errno() == EINTR)
            continue; /* the send had not started: safe to try again */
        bn_status_t st = bn_wire__zfail(err, NULL, what);
        if (st == BN_TIMEOUT)
            bn_error_set(err, BN_TIMEOUT, EAGAIN, NULL, "%s: cannot send, the hub is not connected",
                         what);
        zmq_msg_close(&m);
        return st;
    }
    return BN_OK;
}

/* Wait for POLLIN until deadline. */
static bn_status_t wait_in(void *sock, int64_t deadline, bn_error_t *err)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, bn_wire__remaining(deadline));
    if (rc > 0)
        return BN_OK;
    if (rc == 0)
        return bn_error_set(err, BN_TIMEOUT, 0, NULL, "no answer before the timeout");
    return bn_wire__zfail(err, NULL, "waiting for a message");
}

bn_status_t bn_wire__recv(void *sock, int64_t deadline, zmq_msg_t *frames, int max, int *n,
                          bn_error_t *err)
{
    *n = 0;
    bn_status_t st = BN_OK;
    int total = 0;
    /* A message already queued (a pipelined publisher's usual case) is taken
     * without a poll: zmq_poll costs a poll(2) and a fork check per call, the
     * most expensive part of a pipelined publisher on a virtual machine. */
    bool polled = false;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        /* Later frames of a message arrive with the first. */
        while (zmq_msg_recv(&part, sock, total ? 0 : ZMQ_DONTWAIT) < 0) {
            if (total == 0 && !polled && zmq_errno() == EAGAIN) {
                if ((st = wait_in(sock, deadline, err)) != BN_OK) {
                    zmq_msg_close(&part);
                    return st;
                }
                polled = true;
                continue;
            }
            if (zmq_errno() == EINTR)
                continue;
            st = bn_wire__zfail(err, NULL, "receiving a message");
            zmq_msg_close(&part);
            /* EAGAIN after POLLIN on the first frame: nothing there after all */
            if (total == 0 && st == BN_TIMEOUT)
                return bn_error_set(err, BN_TIMEOUT, 0, NULL, "no answer before the timeout");
            return st;
        }
        int more = zmq_msg_more(&part);
        if (*n < max)
            zmq_msg_move(&frames[(*n)++], &part);
        zmq_msg_close(&part);
        total++;
        if (!more)
            break;
    }
    if (total > max)
        return bn_error_set(err, BN_PROTOCOL, 0, NULL, "message of %d frames, expected at most %d",
                            total, max);
    return BN_OK;
}

bn_status_t bn_wire__recv_body(void *sock, int64_t deadline, zmq_msg_t *body, bn_error_t *err)
{
    zmq_msg_t f[BN_WIRE_MAX_FRAMES];
    for (int i = 0; i < BN_WIRE_MAX_FRAMES; i++)
        zmq_msg_init(&f[i]);
    zmq_msg_init(body);
    int n = 0;
    bn_status_t st = bn_wire__recv(sock, deadline, f, 2, &n, err);
    if (st == BN_OK && n == 2 && zmq_msg_size(&f[0]) != 0)
        st = bn_error_set(err, BN_PROTOCOL, 0, "frame 1",
                          "reply of two frames whose first is not the empty delimiter");
    if (st == BN_OK)
        zmq_msg_move(body, &f[n - 1]);
    for (int i = 0; i < BN_WIRE_MAX_FRAMES; i++)
        zmq_msg_close(&f[i]);
    return st;
}
