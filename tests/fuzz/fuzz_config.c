/* fuzz_config.c: libFuzzer target for the hub.yaml loader.
 *
 * Any bytes as a config file: it loads or fails with a status and a message
 * that has a place; nothing leaks, nothing crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bn_config_t *cfg = NULL;
    bn_error_t err;
    bn_error_clear(&err);
    bn_status_t st = bn_config_load_string(&cfg, "fuzz.yaml", (const char *)data, size, &err);
    if (st == BN_OK) {
        if (!cfg || cfg->n_agencies == 0 || !bn_config_agency(cfg, cfg->agencies[0].id))
            abort(); /* a loaded config always has a findable first agency */
    } else if (cfg != NULL || err.status != st || err.msg[0] == '\0') {
        abort(); /* a failure leaves no config and always says why */
    }
    bn_config_destroy(&cfg);
    return 0;
}
