/* utf8.c: the one UTF-8 well-formedness check of benang (see benang/utf8.h). */
#include "benang/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t bn_utf8_check(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            /* ASCII runs, eight bytes at a time */
            uint64_t w;
            while (len - i >= 8 && (memcpy(&w, p + i, 8), (w & 0x8080808080808080u) == 0))
                i += 8;
            while (i < len && p[i] < 0x80)
                i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

bool bn_utf8_valid(const char *s, size_t len)
{
    return bn_utf8_check(s, len) == len;
}

const char *bn_utf8_echo(const char *s, size_t len, char *buf, size_t size)
{
    size_t k = len < BN_ECHO_MAX ? len : BN_ECHO_MAX;
    if (k + 4 > size)
        k = size > 4 ? size - 4 : 0;
    while (k < len && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    for (size_t i = 0; i < k; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    snprintf(buf + k, size - k, "%s", k < len ? "..." : "");
    return buf;
}
