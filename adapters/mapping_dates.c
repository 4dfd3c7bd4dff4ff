/* mapping_dates.c: the date conversions of the mapping language (see mapping_dates.h).
 *
 * Split from mapping.c, which compiles and applies mappings: these are pure
 * text-to-text functions with no knowledge of fields or records.
 */
#include "mapping_dates.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* ---- dates ----------------------------------------------------------------- */

bool bn_mapping__pattern_ok(const char *p, bool *has_time)
{
    *has_time = false;
    bool has_y = false, has_m = false, has_d = false;
    for (; *p; p++) {
        if (*p != '%')
            continue;
        switch (*++p) {
        case 'Y':
            has_y = true;
            break;
        case 'm':
            has_m = true;
            break;
        case 'd':
            has_d = true;
            break;
        case 'H':
        case 'M':
        case 'S':
            *has_time = true;
            break;
        case '%':
            break;
        default:
            return false;
        }
    }
    return has_y && has_m && has_d;
}

/* Up to max digits (at least one) at *s, advancing it. */
static int take_num(const char **s, const char *end, int max)
{
    int v = 0, n = 0;
    while (*s < end && n < max && **s >= '0' && **s <= '9')
        v = v * 10 + (*(*s)++ - '0'), n++;
    return n ? v : -1;
}

/* v as exactly width decimal digits at o; v is in 0..10^width-1. Returns the end. */
static char *put_digits(char *o, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        o[i] = (char)('0' + v % 10);
    return o + width;
}

/* s[0..len) read by pattern pat into out ("YYYY-MM-DD" or with "THH:MM:SS" + offset). */
bool bn_mapping__date_pattern(const char *pat, const char *off, bool date_only, const char *s,
                              size_t len, char *out, size_t size)
{
    const char *end = s + len;
    int y = -1, mo = -1, d = -1, h = 0, mi = 0, sec = 0;
    for (const char *p = pat; *p; p++) {
        if (*p == '%' && p[1] != '%') {
            char c = *++p;
            int v = take_num(&s, end, c == 'Y' ? 4 : 2);
            if (v < 0 || (c == 'Y' && v < 1000))
                return false;
            *(c == 'Y'   ? &y
              : c == 'm' ? &mo
              : c == 'd' ? &d
              : c == 'H' ? &h
              : c == 'M' ? &mi
                         : &sec) = v;
        } else if (*p == ' ') {
            while (s < end && *s == ' ')
                s++;
        } else {
            p += *p == '%';
            if (s == end || *s != *p)
                return false;
            s++;
        }
    }
    if (s != end || h > 23 || mi > 59 || sec > 59)
        return false;
    /* Written by hand rather than with snprintf: this runs for every date of
     * every record. take_num() bounds each number to its field's width. */
    bool with_time = off && !date_only;
    size_t off_len = with_time ? strlen(off) : 0;
    if (size < (with_time ? 20 + off_len : 11))
        return false;
    char *o = put_digits(out, y, 4);
    *o++ = '-';
    o = put_digits(o, mo, 2);
    *o++ = '-';
    o = put_digits(o, d, 2);
    *o = '\0';
    if (!bn_valid_date(out))
        return false;
    if (with_time) {
        *o++ = 'T';
        o = put_digits(o, h, 2);
        *o++ = ':';
        o = put_digits(o, mi, 2);
        *o++ = ':';
        o = put_digits(o, sec, 2);
        memcpy(o, off, off_len + 1);
    }
    return true;
}

/* Seconds (or milliseconds) since 1970 in s[0..len) -> RFC 3339 UTC, or the UTC date. */
bool bn_mapping__date_epoch(bool ms, bool date_only, const char *s, size_t len, char *out,
                            size_t size)
{
    bool neg = len > 0 && s[0] == '-';
    int64_t v = 0;
    if (len == (size_t)neg || len - neg > 15)
        return false;
    for (size_t i = neg; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    int64_t frac = ms ? v % 1000 : 0, secs = ms ? v / 1000 : v;
    if (neg)
        secs = -secs - (frac != 0), frac = frac ? 1000 - frac : 0;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0)
        rem += 86400, days--;
    /* civil from days (proleptic Gregorian), 1970-01-01 = 0 */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    if (y < 1 || y > 9999)
        return false;
    int n = snprintf(out, size, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
    if (!date_only) {
        n += snprintf(out + n, size - (size_t)n, "T%02d:%02d:%02d", (int)(rem / 3600),
                      (int)(rem / 60 % 60), (int)(rem % 60));
        if (frac)
            n += snprintf(out + n, size - (size_t)n, ".%03d", (int)frac);
        snprintf(out + n, size - (size_t)n, "Z");
    }
    return true;
}

bool bn_mapping__date_iso(bool date_only, const char *s, size_t len, char *out, size_t size)
{
    if (len + 1 > size)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    if (!bn_valid_timestamp(out, true))
        return false;
    if (date_only)
        out[10] = '\0';
    return true;
}
