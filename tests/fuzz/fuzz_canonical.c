/* fuzz_canonical.c: libFuzzer target for the "canonical" adapter (protobuf binary Event).
 *
 * Any bytes: translate, then validate and JSON round-trip every event (see fuzz_check.h).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bn_fuzz_run("canonical", data, size);
}
