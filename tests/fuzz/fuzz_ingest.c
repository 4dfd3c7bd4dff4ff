/* fuzz_ingest.c: libFuzzer target for the hub's request path without sockets.
 *
 * Any bytes as the body frame of an ingest message: bn_ingest_prepare()
 * decodes the PublishRequest, resolves agency and adapter, translates,
 * validates and completes the events. It must accept or refuse with a
 * status and a message; an accepted request has one packed event per event.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindings.h"
#include "config.h"
#include "ingest.h"
#include "pipeline.h"
#include "pseudonym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] = "hub:\n  max_payload_bytes: 65536\n"
                           "agencies:\n"
                           "  - id: puskesmas-a\n    sector: health\n"
                           "    adapters: [canonical, canonical-json, canonical-batch]\n"
                           "  - id: ngo-b\n    sector: ngo\n    adapters: [canonical-json]\n";

static bn_config_t *g_cfg;
static bn_bindings_t *g_bindings;
static bn_pseudonym_t *g_pseudo;

static void setup(void)
{
    bn_error_t err;
    char key[] = "/tmp/benang-fuzz-key-XXXXXX";
    int fd = mkstemp(key);
    if (fd < 0)
        abort();
    close(fd);
    unlink(key); /* bn_pseudonym_new creates it 0600 */
    if (bn_config_load_string(&g_cfg, "fuzz.yaml", yaml, sizeof yaml - 1, &err) != BN_OK ||
        bn_bindings_new(&g_bindings, g_cfg, &err) != BN_OK ||
        bn_pseudonym_new(&g_pseudo, key, &err) != BN_OK)
        abort();
    unlink(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_cfg)
        setup();
    zmq_msg_t id;
    zmq_msg_init(&id);
    bn_req_t *r = bn_req_new(&id, false);
    zmq_msg_close(&id);
    if (!r)
        return 0;
    bn_status_t st = bn_ingest_prepare(g_cfg, g_bindings, g_pseudo, "2026-11-29T00:00:00.000000Z",
                                       data, size, r);
    if (st == BN_OK) {
        if (r->events.len == 0 || r->n_results != r->events.len)
            abort();
        for (size_t i = 0; i < r->n_results; i++)
            if (!r->results[i].packed || r->results[i].base_len == 0 || !r->results[i].topic[0])
                abort();
    } else if (r->err.msg[0] == '\0' || r->status != st) {
        abort();
    }
    bn_req_destroy(&r);
    return 0;
}
