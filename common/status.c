/* status.c: names, texts and wire numbers of bn_status_t, and bn_error_t helpers.
 *
 * Everything here is generated from BN_STATUS_LIST so that the code, its name,
 * its text and its wire number cannot drift apart. Shared by the hub, the
 * adapters and libbenang (it lives in the small bn_common library).
 */
#include "benang/status.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *text;
    int wire;
} rows[] = {
#define BN_X_ROW(name, wire, text) {"BN_" #name, text, wire},
    BN_STATUS_LIST(BN_X_ROW)
#undef BN_X_ROW
};

const char *bn_status_name(bn_status_t st)
{
    if ((unsigned)st >= BN_STATUS_COUNT_)
        return "BN_UNKNOWN_STATUS";
    return rows[st].name;
}

const char *bn_status_text(bn_status_t st)
{
    if ((unsigned)st >= BN_STATUS_COUNT_)
        return "unknown status";
    return rows[st].text;
}

int bn_status_to_wire(bn_status_t st)
{
    if ((unsigned)st >= BN_STATUS_COUNT_ || rows[st].wire == 0)
        return rows[BN_INTERNAL].wire;
    return rows[st].wire;
}

bn_status_t bn_status_from_wire(int wire)
{
    for (int i = 0; i < BN_STATUS_COUNT_; i++)
        if (rows[i].wire != 0 && rows[i].wire == wire)
            return (bn_status_t)i;
    return BN_PROTOCOL;
}

bn_status_t bn_error_vset(bn_error_t *err, bn_status_t st, int native, const char *where,
                          const char *fmt, va_list ap)
{
    if (!err)
        return st;
    err->status = st;
    err->native = native;
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    if (fmt)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    else
        snprintf(err->msg, sizeof err->msg, "%s", bn_status_text(st));
    return st;
}

bn_status_t bn_error_set(bn_error_t *err, bn_status_t st, int native, const char *where,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bn_error_vset(err, st, native, where, fmt, ap);
    va_end(ap);
    return st;
}

void bn_error_clear(bn_error_t *err)
{
    if (!err)
        return;
    err->status = BN_OK;
    err->native = 0;
    err->where[0] = '\0';
    err->msg[0] = '\0';
}

void bn_error_prefix_where(bn_error_t *err, const char *prefix)
{
    if (!err || !prefix || !*prefix)
        return;
    char tmp[sizeof err->where];
    snprintf(tmp, sizeof tmp, "%s%s", prefix, err->where);
    memcpy(err->where, tmp, sizeof tmp);
}

const char *bn_error_format(const bn_error_t *err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return "";
    if (!err) {
        snprintf(buf, size, "BN_OK");
        return buf;
    }
    if (err->where[0])
        snprintf(buf, size, "%s: %s: %s", bn_status_name(err->status), err->where,
                 err->msg[0] ? err->msg : bn_status_text(err->status));
    else
        snprintf(buf, size, "%s: %s", bn_status_name(err->status),
                 err->msg[0] ? err->msg : bn_status_text(err->status));
    return buf;
}
