/* ctl_ops.c: benangctl's operator commands for adapters: translate (dry run of a
 * mapping) and rejected (list and re-run payloads the hub's adapters refused).
 *
 * translate runs the very code path of the hub's ingest (bn_ingest_prepare:
 * adapter, validation, hub fields) without a hub, so what it prints is what
 * the hub would store. It pseudonymises NIKs with the hub's key when this
 * user can read it, else with a throw-away key (said on stderr).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benang/client.h"
#include "benang/pbjson.h"
#include "benang/v1/protocol.pb-c.h"
#include "bindings.h"
#include "ctl.h"
#include "ingest.h"
#include "pipeline.h"
#include "pseudonym.h"

/* ---- translate --------------------------------------------------------------- */

static bn_status_t open_key(const bn_config_t *cfg, bn_pseudonym_t **p, char *tmp, size_t tsize,
                            bn_error_t *err)
{
    tmp[0] = '\0';
    if (access(cfg->key_file, R_OK) == 0)
        return bn_pseudonym_new(p, cfg->key_file, err);
    const char *dir = getenv("TMPDIR");
    snprintf(tmp, tsize, "%s/benangctl-key-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return bn_error_set(err, BN_IO, 0, tmp, "cannot create a temporary key");
    close(fd);
    unlink(tmp); /* bn_pseudonym_new creates it 0600 */
    fprintf(stderr, "benangctl: note: %s is not readable here; subject keys below come from a "
                    "throw-away key and will not match the hub's\n",
            cfg->key_file);
    return bn_pseudonym_new(p, tmp, err);
}

static bn_status_t print_prepared(const bn_req_t *r, bn_error_t *err)
{
    for (size_t i = 0; i < r->n_results; i++) {
        const bn_event_result_t *res = &r->results[i];
        Benang__V1__Event *ev = benang__v1__event__unpack(NULL, res->base_len, res->packed);
        char *j = ev ? bn_pbjson_to_string(&ev->base) : NULL;
        if (ev)
            benang__v1__event__free_unpacked(ev, NULL);
        if (!j)
            return bn_error_set(err, BN_NOMEM, 0, NULL, "cannot print event %zu", i);
        puts(j);
        free(j);
    }
    return BN_OK;
}

static bn_status_t translate_payload(const bn_config_t *cfg, const char *agency,
                                     const char *adapter, const uint8_t *data, size_t len,
                                     bn_error_t *err)
{
    bn_bindings_t *b = NULL;
    bn_pseudonym_t *p = NULL;
    char tmp[600];
    bn_status_t st = bn_bindings_new(&b, cfg, err);
    if (st == BN_OK)
        st = open_key(cfg, &p, tmp, sizeof tmp, err);
    Benang__V1__PublishRequest pr = BENANG__V1__PUBLISH_REQUEST__INIT;
    pr.agency = (char *)agency;
    pr.adapter = (char *)(adapter ? adapter : "");
    pr.payload.data = (uint8_t *)data;
    pr.payload.len = len;
    size_t n = benang__v1__publish_request__get_packed_size(&pr);
    uint8_t *body = st == BN_OK ? malloc(n ? n : 1) : NULL;
    zmq_msg_t id;
    zmq_msg_init(&id);
    bn_req_t *r = body ? bn_req_new(&id, false) : NULL;
    zmq_msg_close(&id);
    if (st == BN_OK && !r)
        st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
    if (st == BN_OK) {
        char stamp[64];
        bn_ingest_stamp(stamp);
        benang__v1__publish_request__pack(&pr, body);
        st = bn_ingest_prepare(cfg, b, p, stamp, body, n, r);
        if (st != BN_OK)
            *err = r->err;
        else
            st = print_prepared(r, err);
    }
    bn_req_destroy(&r);
    free(body);
    if (tmp[0])
        unlink(tmp);
    bn_pseudonym_destroy(&p);
    bn_bindings_destroy(&b);
    return st;
}

bn_status_t ctl__run_translate(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                         {"adapter", required_argument, NULL, 'A'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *agency = NULL, *adapter = NULL;
    ctl__getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":a:A:h", opts, NULL)) != -1) {
        if (c == 'a')
            agency = optarg;
        else if (c == 'A')
            adapter = optarg;
        else if (c == 'h')
            return ctl__usage(ctl->cmd, stdout), BN_OK;
        else
            return ctl__bad_option(c, argv, err);
    }
    if (!agency)
        return bn_error_set(err, BN_USAGE, 0, NULL, "--agency ID is required");
    if (argc - optind != 1)
        return bn_error_set(err, BN_USAGE, 0, NULL, "exactly one FILE (\"-\" for stdin)");
    bn_status_t st = ctl__load_config(ctl, err);
    uint8_t *data = NULL;
    size_t len = 0;
    if (st == BN_OK)
        st = ctl__read_all(argv[optind], &data, &len, err);
    if (st == BN_OK)
        st = translate_payload(ctl->cfg, agency, adapter, data, len, err);
    free(data);
    return st;
}

/* ---- rejected ------------------------------------------------------------------- */

static void print_rejected(const Benang__V1__Rejected *r)
{
    printf("#%" PRIu64 "  %s  %s  %s  %s  %s%s%s  (%" PRIu64 " bytes)\n", r->id, r->received_at,
           r->agency, r->adapter, bn_status_name(bn_status_from_wire(r->status)), r->error_path,
           *r->error_path ? ": " : "", r->error, r->payload_len);
}

static bn_status_t list_rejected(bn_query_t *q, const char *agency, uint64_t from, uint32_t limit,
                                 bool json, bn_error_t *err)
{
    const Benang__V1__RejectedReply *rep = NULL;
    bn_status_t st = bn_query_rejected(q, agency, from, limit, 0, false, &rep, err);
    if (st != BN_OK)
        return st;
    for (size_t i = 0; i < rep->n_items; i++) {
        if (json) {
            char *j = bn_pbjson_to_string(&rep->items[i]->base);
            if (!j)
                return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
            puts(j);
            free(j);
        } else {
            print_rejected(rep->items[i]);
        }
    }
    if (!json)
        fprintf(stderr, "%zu shown, %" PRIu64 " kept%s%s\n", rep->n_items, rep->total,
                agency ? " for " : "", agency ? agency : "");
    return BN_OK;
}

/* Re-run one kept payload through the ingest endpoint as a retry of its id. */
static bn_status_t retry_one(bn_query_t *q, bn_publisher_t *p, uint64_t id, bool *still_refused,
                             bn_error_t *err)
{
    const Benang__V1__RejectedReply *rep = NULL;
    bn_status_t st = bn_query_rejected(q, NULL, 0, 0, id, true, &rep, err);
    if (st != BN_OK)
        return st;
    const Benang__V1__Rejected *r = rep->items[0];
    bn_publisher_retry_of(p, id);
    bn_publish_result_t res;
    st = bn_publisher_publish(p, r->agency, r->adapter, r->payload.data, r->payload.len, &res,
                              err);
    if (st == BN_OK || st == BN_DUPLICATE) {
        printf("#%" PRIu64 ": stored", id);
        for (size_t i = 0; i < res.reply->n_events; i++)
            printf(" seq=%" PRIu64 "%s", res.reply->events[i]->seq,
                   res.reply->events[i]->duplicate ? "(duplicate)" : "");
        printf("\n");
        return BN_OK;
    }
    if (res.reply) { /* refused again: the hub kept it under a new id */
        printf("#%" PRIu64 ": still refused: %s: %s%s%s (still kept)\n", id, bn_status_name(st),
               res.reply->error_path, *res.reply->error_path ? ": " : "", res.reply->error);
        *still_refused = true;
        return BN_OK;
    }
    return st;
}

static bn_status_t retry_rejected(ctl_t *ctl, bn_query_t *q, const char *agency, uint64_t id,
                                  bn_error_t *err)
{
    const char *ep = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    bn_publisher_t *p = NULL;
    bn_status_t st = ctl__endpoint(ctl, EP_INGEST, false, &ep, err);
    if (st == BN_OK)
        st = bn_publisher_new(&p, ep, &o, err);
    bool refused = false;
    if (st == BN_OK && id) {
        st = retry_one(q, p, id, &refused, err);
    } else if (st == BN_OK) { /* every kept payload of the agency, oldest first */
        uint64_t from = 0;
        for (;;) {
            const Benang__V1__RejectedReply *rep = NULL;
            if ((st = bn_query_rejected(q, agency, from, 100, 0, false, &rep, err)) != BN_OK ||
                rep->n_items == 0)
                break;
            size_t n = rep->n_items;
            uint64_t *ids = malloc(n * sizeof *ids);
            if (!ids) {
                st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory");
                break;
            }
            for (size_t i = 0; i < n; i++)
                ids[i] = rep->items[i]->id;
            for (size_t i = 0; st == BN_OK && i < n; i++)
                st = retry_one(q, p, ids[i], &refused, err);
            from = ids[n - 1] + 1;
            free(ids);
            if (st != BN_OK)
                break;
        }
    }
    bn_publisher_destroy(&p);
    if (st == BN_OK && refused)
        return bn_error_set(err, BN_BAD_PAYLOAD, 0, NULL,
                            "some payloads are still refused; fix the mapping and retry");
    return st;
}

bn_status_t ctl__run_rejected(ctl_t *ctl, int argc, char **argv, bn_error_t *err)
{
    static const struct option opts[] = {
        {"agency", required_argument, NULL, 'a'}, {"from", required_argument, NULL, 'F'},
        {"limit", required_argument, NULL, 'n'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *agency = NULL;
    uint64_t from = 0, limit = 100, id = 0;
    bool json = false;
    bn_status_t st = BN_OK;
    ctl__getopt_reset();
    int c;
    while (st == BN_OK && (c = getopt_long(argc, argv, ":a:n:jh", opts, NULL)) != -1) {
        if (c == 'a')
            agency = optarg;
        else if (c == 'F')
            st = ctl__parse_u64("--from", optarg, &from, err);
        else if (c == 'n')
            st = ctl__parse_u64("--limit", optarg, &limit, err);
        else if (c == 'j')
            json = true;
        else if (c == 'h')
            return ctl__usage(ctl->cmd, stdout), BN_OK;
        else
            return ctl__bad_option(c, argv, err);
    }
    bool retry = optind < argc && strcmp(argv[optind], "retry") == 0;
    if (st == BN_OK && retry && optind + 1 < argc)
        st = ctl__parse_u64("ID", argv[optind + 1], &id, err);
    if (st != BN_OK)
        return st;
    if (optind + (retry ? (id ? 2 : 1) : 0) < argc)
        return bn_error_set(err, BN_USAGE, 0, NULL, "unexpected argument \"%s\"",
                            argv[argc - 1]);
    if (retry && !id && !agency)
        return bn_error_set(err, BN_USAGE, 0, NULL, "retry needs an ID or --agency ID");
    const char *ep = NULL;
    bn_client_options_t o = {.timeout_ms = ctl->timeout_ms};
    bn_query_t *q = NULL;
    st = ctl__endpoint(ctl, EP_QUERY, !retry, &ep, err);
    if (st == BN_OK)
        st = bn_query_new(&q, ep, &o, err);
    if (st == BN_OK)
        st = retry ? retry_rejected(ctl, q, agency, id, err)
                   : list_rejected(q, agency, from, (uint32_t)(limit > 1000 ? 1000 : limit), json,
                                   err);
    bn_query_destroy(&q);
    return st;
}
