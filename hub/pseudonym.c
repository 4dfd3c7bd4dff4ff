/* pseudonym.c: see pseudonym.h. */
#include "pseudonym.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN crypto_auth_hmacsha256_KEYBYTES

struct bn_pseudonym {
    unsigned char *key; /* sodium_malloc'ed, KEY_LEN bytes */
    /* HMAC state after absorbing the key (sodium_malloc'ed): each pseudonym
     * starts from a copy instead of hashing the key pads again, which halves
     * the cost on the hub's ingest thread. */
    crypto_auth_hmacsha256_state *keyed;
};

static bn_status_t create_key_file(const char *path, bn_error_t *err)
{
    unsigned char key[KEY_LEN];
    char hex[KEY_LEN * 2 + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex - 1, key, sizeof key);
    sodium_memzero(key, sizeof key);
    size_t n = strlen(hex);
    hex[n++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return bn_error_set(err, BN_IO, errno, path, "cannot create key file: %s",
                            strerror(errno));
    ssize_t w = write(fd, hex, n);
    int sync_rc = fsync(fd);
    close(fd);
    sodium_memzero(hex, sizeof hex);
    if (w != (ssize_t)n || sync_rc != 0)
        return bn_error_set(err, BN_IO, errno, path, "cannot write key file");
    return BN_OK;
}

static bn_status_t read_key_file(bn_pseudonym_t *p, const char *path, bn_error_t *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return bn_error_set(err, BN_IO, errno, path, "cannot open key file: %s", strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0 || (stt.st_mode & 077) != 0) {
        close(fd);
        return bn_error_set(err, BN_IO, 0, path,
                            "key file is readable by group or others; chmod 600 it");
    }
    char hex[KEY_LEN * 2 + 8];
    ssize_t r = read(fd, hex, sizeof hex - 1);
    close(fd);
    if (r < 0)
        return bn_error_set(err, BN_IO, errno, path, "cannot read key file: %s", strerror(errno));
    hex[r] = '\0';
    size_t bin_len = 0;
    int rc = sodium_hex2bin(p->key, KEY_LEN, hex, (size_t)r, " \r\n", &bin_len, NULL);
    sodium_memzero(hex, sizeof hex);
    if (rc != 0 || bin_len != KEY_LEN)
        return bn_error_set(err, BN_IO, 0, path, "key file must hold %d hex digits",
                            KEY_LEN * 2);
    return BN_OK;
}

bn_status_t bn_pseudonym_new(bn_pseudonym_t **out, const char *key_file, bn_error_t *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return bn_error_set(err, BN_INTERNAL, 0, NULL, "libsodium failed to initialise");
    bn_pseudonym_t *p = calloc(1, sizeof *p);
    if (!p || !(p->key = sodium_malloc(KEY_LEN))) {
        free(p);
        return bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pseudonym key");
    }
    bn_status_t st = BN_OK;
    if (access(key_file, F_OK) != 0 && (st = create_key_file(key_file, err)) != BN_OK)
        goto fail;
    if ((st = read_key_file(p, key_file, err)) != BN_OK)
        goto fail;
    if (!(p->keyed = sodium_malloc(sizeof *p->keyed))) {
        st = bn_error_set(err, BN_NOMEM, 0, NULL, "out of memory for the pseudonym key");
        goto fail;
    }
    crypto_auth_hmacsha256_init(p->keyed, p->key, KEY_LEN);
    *out = p;
    return BN_OK;
fail:
    bn_pseudonym_destroy(&p);
    return st;
}

void bn_pseudonym_destroy(bn_pseudonym_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_free((*self_p)->key);
    sodium_free((*self_p)->keyed);
    free(*self_p);
    *self_p = NULL;
}

bn_status_t bn_pseudonym_nik(const bn_pseudonym_t *p, const char *nik,
                             char out[BN_SUBJECT_KEY_HEX], bn_error_t *err)
{
    char digits[17];
    size_t n = 0;
    for (const char *c = nik; *c; c++) {
        if (*c == ' ' || *c == '.' || *c == '-')
            continue;
        if (*c < '0' || *c > '9' || n == 16)
            return bn_error_set(err, BN_INVALID_EVENT, 0, "subject.nik",
                                "NIK must be 16 digits (spaces, dots and dashes allowed)");
        digits[n++] = *c;
    }
    if (n != 16)
        return bn_error_set(err, BN_INVALID_EVENT, 0, "subject.nik",
                            "NIK must be 16 digits (got %zu)", n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st = *p->keyed;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)digits, 16);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(digits, sizeof digits);
    sodium_memzero(&st, sizeof st);
    sodium_bin2hex(out, BN_SUBJECT_KEY_HEX, mac, sizeof mac);
    return BN_OK;
}

void bn_pseudonym_text(const bn_pseudonym_t *p, const char *domain, const char *text,
                       char out[BN_SUBJECT_KEY_HEX])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st = *p->keyed;
    /* The domain and a separator first, so no text can collide with a NIK. */
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)domain, strlen(domain));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\0", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)text, strlen(text));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    sodium_bin2hex(out, BN_SUBJECT_KEY_HEX, mac, sizeof mac);
}
