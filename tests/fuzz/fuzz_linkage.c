/* fuzz_linkage.c: libFuzzer target for the person linkage functions (linkage.h).
 *
 * The input is a flags byte and then two strings split at the first newline:
 * two names (also used as a birth date and a village). Each goes through
 * bn_link_name_normalise at several capacities, bn_link_block and
 * bn_link_compare both ways. Beyond "no crash, no overread": lengths and
 * terminators are right, the output is lowercase with single spaces, a
 * smaller capacity gives a prefix of the full result, normalising twice
 * changes nothing, scores stay in 0..1, and a name compared with itself
 * scores 1. The strings are copied to exact-size buffers so ASan sees any
 * read past their end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linkage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool in01(double x)
{
    return x >= 0.0 && x <= 1.0;
}

/* Normalise name at capacity cap into an exact-size buffer; check its shape. */
static size_t normalise(const char *name, size_t cap, char *out)
{
    char *buf = malloc(cap);
    if (!buf)
        abort();
    size_t n = bn_link_name_normalise(name, buf, cap);
    check(n < cap && strlen(buf) == n);
    check(n == 0 || (buf[0] != ' ' && buf[n - 1] != ' '));
    for (size_t i = 0; i < n; i++) {
        check(!(buf[i] >= 'A' && buf[i] <= 'Z'));
        check(!(buf[i] == ' ' && buf[i + 1] == ' '));
    }
    memcpy(out, buf, n + 1);
    free(buf);
    return n;
}

static void one_name(const char *name, bn_link_sex_t sex, size_t small_cap)
{
    char full[BN_LINK_NAME_MAX], small[BN_LINK_NAME_MAX], again[BN_LINK_NAME_MAX];
    size_t n = normalise(name, sizeof full, full);
    size_t sn = normalise(name, small_cap, small);
    check(sn <= n && memcmp(small, full, sn) == 0);
    check(normalise(name, 1, small) == 0);
    /* A name that was not cut to fit normalises to itself. */
    if (n + 8 < sizeof full) {
        size_t n2 = normalise(full, sizeof again, again);
        check(n2 == n && strcmp(again, full) == 0);
    }
    bn_link_person_t me = {full, sex};
    bn_link_score_t s = bn_link_compare(&me, &me);
    check(in01(s.score) && in01(s.name_score) && s.sex_agrees);
    check(n == 0 || s.score == 1.0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t al = nl ? (size_t)(nl - data) : size;
    char *a = copy(data, al);
    char *b = nl ? copy(nl + 1, size - al - 1) : copy(data, 0);
    bn_link_sex_t sa = (bn_link_sex_t)(flags & 3), sb = (bn_link_sex_t)((flags >> 2) & 3);
    size_t small_cap = 1 + (flags >> 4) * 8;

    one_name(a, sa, small_cap);
    one_name(b, sb, small_cap);

    char na[BN_LINK_NAME_MAX], nb[BN_LINK_NAME_MAX];
    normalise(a, sizeof na, na);
    normalise(b, sizeof nb, nb);
    bn_link_person_t pa = {na, sa}, pb = {nb, sb}, ra = {a, sa}, rb = {b, sb};
    bn_link_score_t ab = bn_link_compare(&pa, &pb), ba = bn_link_compare(&pb, &pa);
    check(in01(ab.score) && in01(ab.name_score) && in01(ba.score) && in01(ba.name_score));
    check(ab.sex_agrees == ba.sex_agrees && ab.score <= ab.name_score);
    bn_link_score_t raw = bn_link_compare(&ra, &rb); /* stored names are not trusted either */
    check(in01(raw.score) && in01(raw.name_score));
    check(in01(bn_link_jaro_winkler(a, al, b, strlen(b))));
    check(bn_link_jaro_winkler(a, al, a, al) == 1.0);
    bn_link_verdict_t v = bn_link_verdict(ab.score, 0.92, 0.80);
    check(v == BN_LINK_MATCH || v == BN_LINK_POSSIBLE || v == BN_LINK_NO_MATCH);

    char block[BN_LINK_BLOCK_MAX];
    size_t bl = bn_link_block(a, b, block, sizeof block);
    check(bl < sizeof block && strlen(block) == bl);
    bl = bn_link_block("2019-07-04", b, block, small_cap);
    check(bl < small_cap && strlen(block) == bl);
    check(bl == 0 || (bl > 11 && memcmp(block, "2019-07-04|", 11) == 0));

    free(a);
    free(b);
    return 0;
}
