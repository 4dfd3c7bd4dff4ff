/* subscriber.c: bn_subscriber_t, the live feed, optionally as a catch-up subscription.
 *
 * The feed is a SUB socket with one ZMQ_SUBSCRIBE per topic prefix; each
 * message is [topic]["Event"]. Without a query endpoint that is all: events
 * are handed out as they come, a message dropped by a full queue is lost.
 *
 * A catch-up subscription (the ZeroMQ guide's "Clone" pattern) gives every
 * matching event from from_seq on, once, in seq order:
 *   1. subscribe FIRST (in bn_subscriber_new), so nothing published from now
 *      on can be missed by both the feed and the fetches below;
 *   2. fetch from the query endpoint, page by page from the cursor, with the
 *      same prefixes, until a reply says next_seq > head_seq (caught up);
 *      meanwhile the feed's messages wait in the SUB queue;
 *   3. follow the feed: an event with seq < cursor was already handed out
 *      (or lies before from_seq): dropped as a repeat; seq == cursor: handed
 *      out; seq > cursor: possibly a gap, filled from the query endpoint.
 *
 * The cursor is "every seq below it was handed out or does not match", which
 * is not "last handed out + 1": with prefix filters the seqs of the feed are
 * not contiguous (seq 7 matches, 8 and 9 are someone else's, 10 matches), so
 * an event past the cursor is not proof of a loss, and the only way to know is
 * to ask. A gap [cursor, seq] is therefore fetched with the same prefixes and
 * the cursor is moved to the fetch reply's next_seq, i.e. as far as the hub
 * looked, never by the seqs of the events found alone: a range with no
 * matching event is filled by an empty reply. The live event that revealed
 * the gap (and any others already queued, drained first so that one fetch
 * covers a burst) is not kept: the fetch of [cursor, max seq seen] returns it
 * too. An unfiltered subscription sees seq == cursor and never asks; a
 * filtered one asks once per burst of feed messages.
 *
 * Two more holes are closed by the same mechanism: the subscription reaches
 * the hub asynchronously, so the first events after the catch-up may miss the
 * feed; and the last message before a quiet period may be dropped. So when
 * the feed has been quiet for IDLE_POLL_MS, the subscriber fetches from the
 * cursor to the head once more before waiting on.
 *
 * Fetches use the options' timeout; timeout_ms of bn_subscriber_next() bounds
 * the wait on the feed. A failed fetch leaves the state as it was: the next
 * call tries again.
 *
 * Ownership: a fetched event points into the query object's last reply
 * (valid until the next fetch, which only happens in a later call); a live
 * event is unpacked here and freed at the start of the next call. Either way:
 * valid until the next call on the subscriber, as client.h promises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benang/client.h"
#include "wire.h"

#define TOPIC_MAX 768     /* agency + type + sector are limited well below this */
#define PAGE_EVENTS 1000  /* events per catch-up fetch */
#define DRAIN_MAX 10000   /* feed messages drained in one go when a gap shows */
#define IDLE_POLL_MS 1000 /* a quiet feed: look at the log after this long */

struct bn_subscriber {
    bn_wire_context_t zc;
    void *sub;
    bn_query_t *query; /* NULL: a plain live subscription */
    char **prefixes;
    size_t n_prefixes;
    int timeout_ms;
    bool catching_up;         /* fetch from the cursor to the head before reading the feed */
    uint64_t cursor;          /* every seq below it was handed out or does not match */
    uint64_t fill_to;         /* a gap to fill: fetch [cursor, fill_to] first */
    uint64_t last;            /* last seq handed out */
    int64_t last_activity_ms; /* last feed message or fetch */
    const Benang__V1__FetchReply *page; /* borrowed from query, being handed out */
    size_t page_pos;
    uint64_t page_from;     /* the cursor when page was fetched */
    Benang__V1__Event *out; /* the live event handed out last, owned */
    char topic[TOPIC_MAX];
};

static bn_status_t subscribe_all(bn_subscriber_t *s, const char *const *prefixes, size_t n,
                                 bn_error_t *err)
{
    if (n == 0)
        return zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, "", 0) == 0
                   ? BN_OK
                   : bn_wire__zfail(err, NULL, "cannot subscribe");
    s->prefixes = calloc(n, sizeof *s->prefixes);
    if (!s->prefixes)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!prefixes[i])
            return bn_error_set(err, BN_USAGE, 0, "prefixes", "prefix %zu is NULL", i);
        s->prefixes[i] = strdup(prefixes[i]);
        if (!s->prefixes[i])
            return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
        s->n_prefixes = i + 1;
        if (zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, prefixes[i], strlen(prefixes[i])) != 0)
            return bn_wire__zfail(err, prefixes[i], "cannot subscribe");
    }
    return BN_OK;
}

bn_status_t bn_subscriber_new(bn_subscriber_t **out, const char *feed_endpoint,
                              const char *query_endpoint, const char *const *prefixes,
                              size_t n_prefixes, uint64_t from_seq, const bn_client_options_t *opts,
                              bn_error_t *err)
{
    *out = NULL;
    if (n_prefixes && !prefixes)
        return bn_error_set(err, BN_USAGE, 0, "prefixes", "prefixes is NULL");
    bn_subscriber_t *s = calloc(1, sizeof *s);
    if (!s)
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    s->timeout_ms = bn_wire__timeout(opts);
    s->cursor = from_seq ? from_seq : 1;
    s->last_activity_ms = bn_wire__now_ms();
    bn_status_t st = bn_wire__context_open(&s->zc, opts, err);
    if (st == BN_OK)
        st = bn_wire__connect(s->zc.ctx, ZMQ_SUB, feed_endpoint, s->timeout_ms, &s->sub, err);
    /* subscribe before the first fetch: see the file comment */
    if (st == BN_OK)
        st = subscribe_all(s, prefixes, n_prefixes, err);
    if (st == BN_OK && query_endpoint) {
        bn_client_options_t qo = {.zmq_context = s->zc.ctx, .timeout_ms = s->timeout_ms};
        st = bn_query_new(&s->query, query_endpoint, &qo, err);
        s->catching_up = true;
    }
    if (st != BN_OK) {
        bn_subscriber_destroy(&s);
        return st;
    }
    *out = s;
    return BN_OK;
}

void bn_subscriber_destroy(bn_subscriber_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bn_subscriber_t *s = *self_p;
    bn_query_destroy(&s->query); /* its socket lives in our context: close it first */
    if (s->out)
        benang__v1__event__free_unpacked(s->out, NULL);
    if (s->sub)
        zmq_close(s->sub);
    bn_wire__context_close(&s->zc);
    for (size_t i = 0; i < s->n_prefixes; i++)
        free(s->prefixes[i]);
    free(s->prefixes);
    free(s);
    *self_p = NULL;
}

uint64_t bn_subscriber_last_seq(const bn_subscriber_t *s)
{
    return s->last;
}

const char *bn_event_topic(const Benang__V1__Event *ev, char *buf, size_t size)
{
    if (size)
        snprintf(buf, size, "%s.%s.%s", ev->type ? ev->type : "", ev->sector ? ev->sector : "",
                 ev->agency ? ev->agency : "");
    return buf;
}

/* Fetch [cursor, to] (to 0: up to the head) as the page to hand out next. */
static bn_status_t fetch_page(bn_subscriber_t *s, uint64_t to, bn_error_t *err)
{
    const Benang__V1__FetchReply *r = NULL;
    bn_status_t st = bn_query_fetch(s->query, s->cursor, to, PAGE_EVENTS,
                                    (const char *const *)s->prefixes, s->n_prefixes, &r, err);
    if (st != BN_OK)
        return st;
    s->page = r;
    s->page_pos = 0;
    s->page_from = s->cursor;
    s->last_activity_ms = bn_wire__now_ms();
    return BN_OK;
}

/* The next event of the page not handed out yet, or NULL when it is used up. */
static const Benang__V1__Event *take_fetched(bn_subscriber_t *s)
{
    while (s->page_pos < s->page->n_events) {
        const Benang__V1__Event *e = s->page->events[s->page_pos++];
        if (e->seq < s->cursor)
            continue; /* cannot happen with a sane hub: never hand out twice */
        s->cursor = e->seq + 1;
        s->last = e->seq;
        bn_event_topic(e, s->topic, sizeof s->topic);
        return e;
    }
    return NULL;
}

/* The page is handed out: move the cursor as far as the hub looked. */
static bn_status_t end_page(bn_subscriber_t *s, bn_error_t *err)
{
    const Benang__V1__FetchReply *r = s->page;
    s->page = NULL;
    if (r->next_seq > s->cursor)
        s->cursor = r->next_seq;
    bool progress = r->n_events > 0 || r->next_seq > s->page_from;
    if (s->catching_up) {
        if (r->next_seq > r->head_seq)
            s->catching_up = false;
        else if (!progress) {
            s->catching_up = false; /* do not spin: follow the feed */
            return bn_error_set(err, BN_PROTOCOL, 0, "fetch",
                                "the hub's fetch from seq %llu made no progress (head %llu)",
                                (unsigned long long)s->page_from, (unsigned long long)r->head_seq);
        }
        return BN_OK;
    }
    if (s->fill_to >= s->cursor && !progress) {
        uint64_t to = s->fill_to;
        s->cursor = to + 1; /* accept the loss rather than ask forever */
        return bn_error_set(err, BN_PROTOCOL, 0, "fetch",
                            "the feed sent seq %llu but the hub's log ends at seq %llu",
                            (unsigned long long)to, (unsigned long long)r->head_seq);
    }
    return BN_OK;
}

/* One [topic][Event] message from the feed, unpacked; its topic into s->topic. */
static bn_status_t recv_live(bn_subscriber_t *s, int64_t deadline, Benang__V1__Event **out,
                             bn_error_t *err)
{
    *out = NULL;
    zmq_msg_t f[2];
    zmq_msg_init(&f[0]);
    zmq_msg_init(&f[1]);
    int n = 0;
    bn_status_t st = bn_wire__recv(s->sub, deadline, f, 2, &n, err);
    if (st == BN_OK && n != 2)
        st = bn_error_set(err, BN_PROTOCOL, 0, "feed",
                          "feed message of %d frame(s), expected [topic][Event]", n);
    if (st == BN_OK && zmq_msg_size(&f[0]) >= TOPIC_MAX)
        st = bn_error_set(err, BN_PROTOCOL, 0, "feed", "topic frame of %zu bytes is too long",
                          zmq_msg_size(&f[0]));
    if (st == BN_OK) {
        *out = benang__v1__event__unpack(NULL, zmq_msg_size(&f[1]), zmq_msg_data(&f[1]));
        if (!*out)
            st = bn_error_set(err, BN_PROTOCOL, 0, "feed frame 2",
                              "feed frame of %zu bytes is not a benang.v1.Event",
                              zmq_msg_size(&f[1]));
    }
    if (st == BN_OK) {
        memcpy(s->topic, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
        s->topic[zmq_msg_size(&f[0])] = '\0';
    }
    if (st == BN_OK || st == BN_PROTOCOL)
        s->last_activity_ms = bn_wire__now_ms();
    zmq_msg_close(&f[0]);
    zmq_msg_close(&f[1]);
    return st;
}

/* Wait on the feed. In a catch-up subscription a feed quiet for IDLE_POLL_MS
 * sends us to the log once more: BN_OK with *out NULL. */
static bn_status_t wait_live(bn_subscriber_t *s, int64_t deadline, Benang__V1__Event **out,
                             bn_error_t *err)
{
    int64_t wake = deadline;
    if (s->query && s->last_activity_ms + IDLE_POLL_MS < wake)
        wake = s->last_activity_ms + IDLE_POLL_MS;
    bn_status_t st = recv_live(s, wake, out, err);
    if (st == BN_TIMEOUT && s->query && bn_wire__now_ms() >= s->last_activity_ms + IDLE_POLL_MS) {
        s->catching_up = true;
        return BN_OK;
    }
    return st;
}

/* A live event seq > cursor: drain what else is queued so one fetch covers it all. */
static void note_gap(bn_subscriber_t *s, uint64_t seq)
{
    if (seq > s->fill_to)
        s->fill_to = seq;
    for (int i = 0; i < DRAIN_MAX; i++) {
        Benang__V1__Event *e = NULL;
        bn_error_t ignored;
        if (recv_live(s, bn_wire__deadline(0), &e, &ignored) != BN_OK)
            break;
        if (e->seq > s->fill_to)
            s->fill_to = e->seq;
        benang__v1__event__free_unpacked(e, NULL);
    }
}

/* Take a live event: hand it out (*keep true), or note a repeat or a gap. */
static void on_live(bn_subscriber_t *s, Benang__V1__Event *e, bool *keep)
{
    *keep = !s->query || e->seq == s->cursor;
    if (*keep) {
        s->out = e;
        s->last = e->seq;
        if (s->query)
            s->cursor = e->seq + 1;
        return;
    }
    if (e->seq > s->cursor)
        note_gap(s, e->seq);
    benang__v1__event__free_unpacked(e, NULL);
}

bn_status_t bn_subscriber_next(bn_subscriber_t *s, int timeout_ms, const Benang__V1__Event **ev,
                               const char **topic, bn_error_t *err)
{
    *ev = NULL;
    if (topic)
        *topic = NULL;
    if (s->out)
        benang__v1__event__free_unpacked(s->out, NULL);
    s->out = NULL;
    int64_t deadline = bn_wire__deadline(timeout_ms);
    for (;;) {
        bn_status_t st = BN_OK;
        if (s->page) {
            *ev = take_fetched(s);
            if (!*ev)
                st = end_page(s, err);
        } else if (s->query && s->catching_up) {
            st = fetch_page(s, 0, err);
        } else if (s->query && s->fill_to >= s->cursor) {
            st = fetch_page(s, s->fill_to, err);
        } else {
            Benang__V1__Event *e = NULL;
            bool keep = false;
            st = wait_live(s, deadline, &e, err);
            if (st == BN_OK && e)
                on_live(s, e, &keep);
            if (keep)
                *ev = e;
        }
        if (st != BN_OK)
            return st;
        if (*ev) {
            if (topic)
                *topic = s->topic;
            return BN_OK;
        }
    }
}
