/* TEMPORARY placeholder for hub/linkage.c (being written by another engineer). */
#include "linkage.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
size_t bn_link_name_normalise(const char *name, char *out, size_t cap)
{
    size_t n = 0; bool sp = true;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)c)) { if (!sp) { out[n++] = ' '; sp = true; } continue; }
        if (c == 'd' && p[1] && tolower((unsigned char)p[1]) == 'j') continue;
        out[n++] = c; sp = false;
    }
    while (n && out[n-1] == ' ') n--;
    out[n] = 0;
    if (strncmp(out, "kel ", 4) == 0) memmove(out, out + 4, strlen(out + 4) + 1);
    return strlen(out);
}
size_t bn_link_block(const char *b, const char *v, char *out, size_t cap)
{
    if (!b || !*b || !v || !*v) return 0;
    char vn[128]; bn_link_name_normalise(v, vn, sizeof vn);
    int n = snprintf(out, cap, "%s|%s", b, vn);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
double bn_link_jaro_winkler(const char *a, size_t al, const char *b, size_t bl)
{
    if (!al && !bl)
        return 1;
    if (!al || !bl)
        return 0;
    size_t md = (al > bl ? al : bl) / 2; if (md) md--;
    bool am[256] = {0}, bm[256] = {0}; if (al > 255) al = 255; if (bl > 255) bl = 255;
    size_t m = 0;
    for (size_t i = 0; i < al; i++) { size_t lo = i > md ? i - md : 0, hi = i + md + 1 < bl ? i + md + 1 : bl;
        for (size_t j = lo; j < hi; j++) if (!bm[j] && a[i] == b[j]) { am[i] = bm[j] = true; m++; break; } }
    if (!m) return 0;
    size_t t = 0, k = 0;
    for (size_t i = 0; i < al; i++) if (am[i]) { while (!bm[k]) k++; if (a[i] != b[k]) t++; k++; }
    double jm = ((double)m / al + (double)m / bl + (double)(m - t / 2) / m) / 3;
    size_t l = 0; while (l < 4 && l < al && l < bl && a[l] == b[l]) l++;
    return jm + l * 0.1 * (1 - jm);
}
bn_link_score_t bn_link_compare(const bn_link_person_t *a, const bn_link_person_t *b)
{
    bn_link_score_t s; s.name_score = bn_link_jaro_winkler(a->name, strlen(a->name), b->name, strlen(b->name));
    s.sex_agrees = !(a->sex && b->sex && a->sex != b->sex);
    s.score = s.sex_agrees ? s.name_score : s.name_score * 0.8; return s;
}
bn_link_verdict_t bn_link_verdict(double s, double u, double l) { return s >= u ? BN_LINK_MATCH : s >= l ? BN_LINK_POSSIBLE : BN_LINK_NO_MATCH; }
