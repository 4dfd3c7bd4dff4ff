/* test_rejected: payloads refused by their adapter are kept, listed, retained up to
 * hub.rejected_max, survive a restart, and can be re-run (benangctl rejected). */
#include <signal.h>
#include <stdlib.h>

#include "benang/client.h"
#include "testutil.h"

static bn_client_options_t opts = {.timeout_ms = 10000};

static uint64_t refuse(bn_publisher_t *p, const char *json)
{
    bn_publish_result_t res;
    bn_error_t err;
    bn_status_t st =
        bn_publisher_publish(p, "puskesmas-a", "canonical-json", json, strlen(json), &res, &err);
    CHECK_MSG(st == BN_BAD_PAYLOAD || st == BN_INVALID_EVENT, "got %s", bn_status_name(st));
    return res.reply ? res.reply->rejected_id : 0;
}

int main(void)
{
    bn_test_hub_t h = {0};
    if (bn_test_hub_start(&h, "  rejected_max: 3\n", NULL) != 0) {
        bn_test_hub_dump_log(&h);
        return 1;
    }
    bn_error_t err;
    bn_publisher_t *p = NULL;
    bn_query_t *q = NULL;
    CHECK(bn_publisher_new(&p, h.ingest, &opts, &err) == BN_OK);
    CHECK(bn_query_new(&q, h.query, &opts, &err) == BN_OK);

    const char *bad[] = {
        "{\"sourceId\":\"R-1\",\"occurredAt\":\"2026-11-0",
        "{\"sourceId\":\"R-2\",\"occurredAt\":\"31/12/2026\",\"immunisation\":{\"vaccine\":"
        "{\"system\":\"cvx\",\"code\":\"08\"}}}",
        "[1,2]",
        "{\"sourceId\":\"R-4\",\"occurredAt\":\"2026-11-01\"}",
        "{\"sourceId\":7}",
    };
    for (size_t i = 0; i < 5; i++)
        CHECK_EQ_U64(refuse(p, bad[i]), i + 1);

    /* retention: only the 3 newest are kept */
    const Benang__V1__RejectedReply *rep = NULL;
    CHECK(bn_query_rejected(q, NULL, 0, 0, 0, false, &rep, &err) == BN_OK);
    CHECK(rep && rep->n_items == 3 && rep->total == 3);
    if (rep && rep->n_items == 3) {
        CHECK_EQ_U64(rep->items[0]->id, 3);
        CHECK_STR(rep->items[0]->agency, "puskesmas-a");
        CHECK_STR(rep->items[0]->adapter, "canonical-json");
        CHECK(rep->items[0]->payload.len == 0 && rep->items[0]->payload_len == 5);
        CHECK_EQ_U64(rep->items[1]->id, 4);
        CHECK(strstr(rep->items[1]->error_path, "") != NULL && rep->items[1]->error[0]);
    }
    CHECK(bn_query_rejected(q, "klinik-b", 0, 0, 0, false, &rep, &err) == BN_OK);
    CHECK(rep && rep->n_items == 0 && rep->total == 0);
    CHECK(bn_query_rejected(q, NULL, 0, 0, 5, true, &rep, &err) == BN_OK);
    CHECK(rep && rep->n_items == 1 && rep->items[0]->payload.len == strlen(bad[4]) &&
          memcmp(rep->items[0]->payload.data, bad[4], strlen(bad[4])) == 0);
    CHECK(bn_query_rejected(q, NULL, 0, 0, 1, true, &rep, &err) == BN_BAD_REQUEST);

    /* kept across a restart; the status counts them */
    bn_publisher_destroy(&p);
    bn_query_destroy(&q);
    CHECK(bn_test_hub_stop(&h, SIGTERM) == 0);
    CHECK(bn_test_hub_restart(&h) == 0);
    CHECK(bn_query_new(&q, h.query, &opts, &err) == BN_OK);
    const Benang__V1__StatusReply *sr = NULL;
    CHECK(bn_query_status(q, &sr, &err) == BN_OK && sr && sr->rejected == 3 && sr->head_seq == 0);

    /* benangctl lists them and a retry that fails again leaves the record */
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s rejected --agency puskesmas-a --config %s 2>&1", BN_CTL_BIN,
             h.config);
    CHECK(bn_test_run(cmd, &out) == 0);
    CHECK_MSG(out && strstr(out, "#3 ") && strstr(out, "#5 ") && !strstr(out, "#2 ") &&
                  strstr(out, "3 kept"),
              "got: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s rejected retry 4 --config %s 2>&1", BN_CTL_BIN, h.config);
    CHECK(bn_test_run(cmd, &out) == 1);
    CHECK_MSG(out && strstr(out, "#4: still refused"), "got: %s", out);
    free(out);
    CHECK(bn_query_rejected(q, NULL, 0, 0, 4, false, &rep, &err) == BN_OK);
    CHECK(bn_query_status(q, &sr, &err) == BN_OK && sr && sr->rejected == 3);
    bn_query_destroy(&q);

    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_test_hub_cleanup(&h);
    return bn_test_finish("test_rejected");
}
