/* test_pseudonym: the key file (created 0600, refused when group/other can read it,
 * malformed content) and the NIK pseudonym (normalised, keyed, never the NIK itself). */
#include <stdlib.h>
#include <sodium.h>
#include <sys/stat.h>

#include "pseudonym.h"
#include "testutil.h"

int main(void)
{
    char *dir = bn_test_tmpdir("pseudo");
    char path[600], path2[600];
    snprintf(path, sizeof path, "%s/hub.key", dir);
    snprintf(path2, sizeof path2, "%s/other.key", dir);
    bn_pseudonym_t *p = NULL, *p2 = NULL;
    bn_error_t err;

    CHECK(bn_pseudonym_new(&p, path, &err) == BN_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    size_t len = 0;
    char *text = bn_test_read_file(path, &len);
    CHECK(text && len == 65 && text[64] == '\n');
    free(text);

    char a[BN_SUBJECT_KEY_HEX], b[BN_SUBJECT_KEY_HEX], c[BN_SUBJECT_KEY_HEX];
    CHECK(bn_pseudonym_nik(p, "3174051203250001", a, &err) == BN_OK);
    CHECK(strlen(a) == 64 && strstr(a, "3174051203250001") == NULL);
    /* it is HMAC-SHA256 of the 16 digits under the key in the file */
    {
        unsigned char key[32], mac[32];
        char hex[65];
        size_t kl = 0;
        char *kt = bn_test_read_file(path, NULL);
        CHECK(kt && sodium_hex2bin(key, sizeof key, kt, 64, NULL, &kl, NULL) == 0 && kl == 32);
        free(kt);
        crypto_auth_hmacsha256(mac, (const unsigned char *)"3174051203250001", 16, key);
        sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
        CHECK_STR(a, hex);
    }
    CHECK(bn_pseudonym_nik(p, "3174.0512-0325 0001", b, &err) == BN_OK);
    CHECK_STR(b, a); /* the same NIK, written differently */
    CHECK(bn_pseudonym_nik(p, "3174051203250002", c, &err) == BN_OK);
    CHECK(strcmp(a, c) != 0);
    CHECK(bn_pseudonym_nik(p, "317405120325000", c, &err) == BN_INVALID_EVENT);
    CHECK_STR(err.where, "subject.nik");
    CHECK(bn_pseudonym_nik(p, "31740512032500011", c, &err) == BN_INVALID_EVENT);
    CHECK(bn_pseudonym_nik(p, "3174O51203250001", c, &err) == BN_INVALID_EVENT);
    CHECK(strstr(err.msg, "3174") == NULL); /* never echoed */

    /* the key persists: a second load gives the same pseudonyms */
    bn_pseudonym_destroy(&p);
    CHECK(p == NULL);
    bn_pseudonym_destroy(&p);
    CHECK(bn_pseudonym_new(&p, path, &err) == BN_OK);
    CHECK(bn_pseudonym_nik(p, "3174051203250001", b, &err) == BN_OK);
    CHECK_STR(b, a);
    /* another key, another pseudonym */
    CHECK(bn_pseudonym_new(&p2, path2, &err) == BN_OK);
    CHECK(bn_pseudonym_nik(p2, "3174051203250001", c, &err) == BN_OK);
    CHECK(strcmp(a, c) != 0);
    bn_pseudonym_destroy(&p2);

    /* a key file others can read is refused, and so is garbage */
    CHECK(chmod(path2, 0644) == 0);
    CHECK(bn_pseudonym_new(&p2, path2, &err) == BN_IO);
    CHECK(strstr(err.msg, "chmod 600") != NULL);
    CHECK_STR(err.where, path2);
    CHECK(chmod(path2, 0600) == 0);
    CHECK(bn_test_write_file(path2, "not hex\n", 8) == 0);
    CHECK(bn_pseudonym_new(&p2, path2, &err) == BN_IO);
    CHECK(strstr(err.msg, "hex digits") != NULL);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir/hub.key", dir);
    CHECK(bn_pseudonym_new(&p2, missing, &err) == BN_IO);
    CHECK(p2 == NULL);

    bn_pseudonym_destroy(&p);
    bn_test_rmrf(dir);
    free(dir);
    return bn_test_finish("test_pseudonym");
}
