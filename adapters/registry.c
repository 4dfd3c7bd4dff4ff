/* registry.c: the table of every adapter benang knows, looked up by name.
 *
 * A static, const table: adding an adapter is one line here plus its
 * extern in adapters_internal.h. No registration at run time, no globals
 * that change.
 */
#include <string.h>

#include "adapters_internal.h"

static const bn_adapter_ops_t *const adapters[] = {
    &bn_adapter_canonical,
    &bn_adapter_canonical_json,
    &bn_adapter_canonical_batch,
    &bn_adapter_fhir,
    &bn_adapter_hl7v2,
    &bn_adapter_csv,
    &bn_adapter_json,
};

const bn_adapter_ops_t *bn_adapter_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        if (strcmp(adapters[i]->name, name) == 0)
            return adapters[i];
    return NULL;
}

const bn_adapter_ops_t *bn_adapter_at(size_t i)
{
    return i < sizeof adapters / sizeof adapters[0] ? adapters[i] : NULL;
}
