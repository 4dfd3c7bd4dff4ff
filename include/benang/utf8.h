/* utf8.h: UTF-8 well-formedness, shared by the JSON mapping, validation and the hub.
 *
 * Protobuf-c does not check that string fields hold UTF-8, and jansson's
 * check is for its own input only, so every place that accepts text from
 * the wire uses this one function.
 */
#ifndef BENANG_UTF8_H
#define BENANG_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
bool bn_utf8_valid(const char *s, size_t len);

#endif
