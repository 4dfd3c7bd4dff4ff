/* pipeline.c: batches and requests of the ingest -> writer pipeline (see pipeline.h). */
#include "pipeline.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bn_batch_t *bn_batch_new(void)
{
    return calloc(1, sizeof(bn_batch_t));
}

bn_status_t bn_batch_push(bn_batch_t *b, bn_req_t **req)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        bn_req_t **n = realloc(b->reqs, cap * sizeof *n);
        if (!n)
            return BN_NOMEM;
        b->reqs = n;
        b->cap = cap;
    }
    b->n_events += (*req)->events.len;
    b->reqs[b->len++] = *req;
    *req = NULL;
    return BN_OK;
}

void bn_batch_destroy(bn_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_batch_t *b = *self_p;
    for (size_t i = 0; i < b->len; i++)
        bn_req_destroy(&b->reqs[i]);
    free(b->reqs);
    bn_batch_clear_alerts(b);
    free(b->alerts);
    free(b);
    *self_p = NULL;
}

bn_event_result_t *bn_batch_add_alert(bn_batch_t *b)
{
    if (b->n_alerts == b->cap_alerts) {
        size_t cap = b->cap_alerts ? b->cap_alerts * 2 : 8;
        bn_event_result_t *n = realloc(b->alerts, cap * sizeof *n);
        if (!n)
            return NULL;
        b->alerts = n;
        b->cap_alerts = cap;
    }
    bn_event_result_t *a = &b->alerts[b->n_alerts++];
    memset(a, 0, sizeof *a);
    return a;
}

void bn_batch_clear_alerts(bn_batch_t *b)
{
    for (size_t i = 0; i < b->n_alerts; i++)
        free(b->alerts[i].packed);
    b->n_alerts = 0;
}

bn_req_t *bn_req_new(zmq_msg_t *identity, bool req_style)
{
    bn_req_t *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, offsetof(bn_req_t, arena));
    bn_arena_init(&r->arena);
    zmq_msg_init(&r->identity);
    zmq_msg_move(&r->identity, identity);
    r->req_style = req_style;
    r->status = BN_OK;
    return r;
}

void bn_req_destroy(bn_req_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_req_t *r = *self_p;
    zmq_msg_close(&r->identity);
    free(r->payload);
    bn_event_list_clear(&r->events);
    free(r->events.items);
    bn_arena_release(&r->arena); /* results, packed bytes, arena events */
    free(r);
    *self_p = NULL;
}

size_t bn_subject_tail(const char *key, const Benang__V1__Linkage *link, uint8_t *out, size_t cap)
{
    Benang__V1__Subject sub = BENANG__V1__SUBJECT__INIT;
    Benang__V1__Event tail = BENANG__V1__EVENT__INIT;
    sub.subject_key = (char *)key;
    sub.link = (Benang__V1__Linkage *)link; /* only read by pack */
    tail.subject = &sub;
    size_t n = benang__v1__event__get_packed_size(&tail);
    return n <= cap ? benang__v1__event__pack(&tail, out) : 0;
}

void bn_event_id_for(const char *hub_id, uint64_t seq, char out[37])
{
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)hub_id, strlen(hub_id) + 1);
    unsigned char sb[8];
    for (int i = 0; i < 8; i++)
        sb[i] = (unsigned char)(seq >> (56 - 8 * i));
    crypto_generichash_update(&st, sb, sizeof sb);
    crypto_generichash_final(&st, h, sizeof h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80); /* UUID version 8: custom */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) { /* on the hot path: no printf */
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
}

int bn_recv_routed(void *sock, zmq_msg_t env[2], int *n_env, zmq_msg_t *body, int *n_body)
{
    int n = 0;
    *n_env = 0;
    *n_body = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        int more = zmq_msg_more(&part);
        if (n == 0 || (n == 1 && zmq_msg_size(&part) == 0 && more)) {
            zmq_msg_move(&env[(*n_env)++], &part);
        } else {
            zmq_msg_move(body, &part);
            (*n_body)++;
        }
        zmq_msg_close(&part);
        n++;
        if (!more)
            return 0;
    }
}
