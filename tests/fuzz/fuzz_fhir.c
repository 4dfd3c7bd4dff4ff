/* fuzz_fhir.c: libFuzzer target for the "fhir" adapter (FHIR R4 JSON, no settings).
 *
 * Any bytes: translate, then validate and JSON round-trip every event (see fuzz_check.h).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bn_fuzz_run("fhir", data, size);
}
