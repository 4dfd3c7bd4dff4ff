/* fuzz_canonical_batch.c: libFuzzer target for the "canonical-batch" adapter
 * (a protobuf binary EventBatch of Events).
 *
 * Any bytes: translate, then validate and JSON round-trip every event (see fuzz_check.h).
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bn_fuzz_run("canonical-batch", data, size);
}
