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

/* The offset of the first byte of s[0..len) that starts an ill-formed
 * sequence, or len when all of it is well-formed. */
size_t bn_utf8_check(const char *s, size_t len);

/* Longest value echoed in an error message (bytes, before "..."). */
#define BN_ECHO_MAX 40

/* s[0..len) made fit to quote in an error message, into buf (size >= 5):
 * at most BN_ECHO_MAX bytes, cut on a UTF-8 character boundary, control
 * characters as '?', "..." appended when cut. Returns buf. Callers never echo
 * personal data (names, NIKs, birth dates) at all. */
const char *bn_utf8_echo(const char *s, size_t len, char *buf, size_t size);

#endif
