/* fuzz_canonical_json.c: libFuzzer target for the "canonical-json" adapter.
 *
 * Any bytes: one object, an array or NDJSON as far as the adapter can tell;
 * translate, then validate and JSON round-trip every event (see fuzz_check.h).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bn_fuzz_run("canonical-json", data, size);
}
