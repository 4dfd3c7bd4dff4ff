/* pseudonym.h: the keyed pseudonym of a resident's NIK (HMAC-SHA256, libsodium).
 *
 * The hub secret is 32 random bytes kept hex-encoded in a key file created on
 * first start with mode 0600; a key file readable by group or others is
 * refused. The key lives in sodium_malloc'ed memory and is never logged.
 * subject_key = lowercase hex of HMAC-SHA256(key, normalised NIK), where the
 * normalised NIK is its 16 digits with spaces, dots and dashes removed.
 */
#ifndef BN_PSEUDONYM_H
#define BN_PSEUDONYM_H

#include "benang/status.h"

#define BN_SUBJECT_KEY_HEX 65 /* 64 hex digits + NUL */

typedef struct bn_pseudonym bn_pseudonym_t;

/* Load key_file, creating it (0600, in an existing directory) when missing.
 * Returns BN_OK, BN_IO (unreadable, wrong permissions, bad content: err->where
 * is the path), BN_NOMEM, BN_INTERNAL (libsodium failed to initialise). */
bn_status_t bn_pseudonym_new(bn_pseudonym_t **out, const char *key_file, bn_error_t *err);
void bn_pseudonym_destroy(bn_pseudonym_t **self_p);

/* Normalise nik and write its pseudonym into out. BN_OK or BN_INVALID_EVENT
 * (not 16 digits after normalisation; the NIK itself is never echoed). */
bn_status_t bn_pseudonym_nik(const bn_pseudonym_t *p, const char *nik,
                             char out[BN_SUBJECT_KEY_HEX], bn_error_t *err);

/* A pseudonym for a person known without a NIK: HMAC-SHA256 of domain, a NUL
 * byte and text (e.g. domain "person", text "<block>|<normalised name>"), so
 * it never equals a NIK's pseudonym. */
void bn_pseudonym_text(const bn_pseudonym_t *p, const char *domain, const char *text,
                       char out[BN_SUBJECT_KEY_HEX]);

#endif
