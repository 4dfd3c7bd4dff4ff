/* log.c: see log.h. The level is a global set once by main; writes are one fprintf per line,
 * which stdio makes atomic between threads. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bn_log_level_t g_level = BN_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

bool bn_log_parse_level(const char *s, bn_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (bn_log_level_t)i;
            return true;
        }
    return false;
}

void bn_log_set_level(bn_log_level_t level)
{
    g_level = level;
}

bool bn_log_enabled(bn_log_level_t level)
{
    return level >= g_level;
}

void bn_log(bn_log_level_t level, const char *msg, const char *fields_fmt, ...)
{
    if (level < g_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char fields[1024] = "";
    if (fields_fmt) {
        va_list ap;
        va_start(ap, fields_fmt);
        vsnprintf(fields, sizeof fields, fields_fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s%s%s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, names[level], msg, fields[0] ? " " : "", fields);
}

const char *bn_log_quote(const char *s, char *buf, unsigned size)
{
    unsigned o = 0;
    if (size < 3) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s && o + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (unsigned)snprintf(buf + o, size - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
