/* fuzz_hl7v2.c: libFuzzer target for the "hl7v2" adapter (HL7 v2.x ER7).
 *
 * Any bytes: translate without settings, then validate and JSON round-trip
 * every event (see fuzz_check.h).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bn_fuzz_run("hl7v2", data, size);
}
