/* mapping_dates.h: date conversions of the mapping language (csv and json adapters).
 *
 * Patterns know %d %m %Y %H %M %S and %%; the results are "YYYY-MM-DD" or an
 * RFC 3339 date-time with the given offset. Pure functions: no allocation,
 * out is always NUL-terminated when they return true.
 */
#ifndef BN_MAPPING_DATES_H
#define BN_MAPPING_DATES_H

#include <stdbool.h>
#include <stddef.h>

/* A valid pattern (known directives only); *has_time when it reads a time of day. */
bool bn_mapping__pattern_ok(const char *p, bool *has_time);
/* s[0..len) read by pattern pat into out; off is the UTC offset ("+07:00") for
 * date-times, date_only keeps the date. False when s does not match. */
bool bn_mapping__date_pattern(const char *pat, const char *off, bool date_only, const char *s,
                              size_t len, char *out, size_t size);
/* Seconds (or milliseconds, ms) since 1970 -> RFC 3339 UTC, or the UTC date. */
bool bn_mapping__date_epoch(bool ms, bool date_only, const char *s, size_t len, char *out,
                            size_t size);
/* An ISO 8601 / RFC 3339 date or date-time, checked, into out (its date when date_only). */
bool bn_mapping__date_iso(bool date_only, const char *s, size_t len, char *out, size_t size);

#endif
