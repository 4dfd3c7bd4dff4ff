/* log.h: the hub's log sink: one line per event on stderr, key=value fields.
 *
 *     ts=2026-11-29T01:02:03.456Z level=info msg=ready ingest=tcp://127.0.0.1:7701
 *
 * The level is the only global state besides the config (set in main).
 * Callers never pass personal data (names, NIKs, birth dates): log agency
 * ids, seqs, statuses and the error's where/msg, which adapters keep free of
 * personal values.
 */
#ifndef BN_LOG_H
#define BN_LOG_H

#include <stdbool.h>

typedef enum { BN_LOG_DEBUG = 0, BN_LOG_INFO, BN_LOG_WARN, BN_LOG_ERROR } bn_log_level_t;

/* Parse "debug" | "info" | "warn" | "error". */
bool bn_log_parse_level(const char *s, bn_log_level_t *out);
void bn_log_set_level(bn_log_level_t level);
bool bn_log_enabled(bn_log_level_t level);
/* Log "ts=... level=... msg=<msg> <fields>" where fields is printf-formatted
 * key=value pairs. Values with spaces are the caller's to quote (use %s with
 * bn_log_quote() output). */
void bn_log(bn_log_level_t level, const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* s made safe for a key=value log line: double-quoted, with quotes, backslashes
 * and control bytes escaped, truncated to fit buf. Returns buf. */
const char *bn_log_quote(const char *s, char *buf, unsigned size);

#endif
