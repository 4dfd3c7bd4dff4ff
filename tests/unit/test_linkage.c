/* test_linkage: the pure person-linkage functions (linkage.h), as a reader of
 * docs/linkage.md would check them: Jaro-Winkler against the values in
 * Winkler's papers, name normalisation (titles, degrees, old spellings, the
 * spellings of Muhammad), the blocking key, scores of pairs that should and
 * should not link, sex disagreement, the verdict at the thresholds, and the
 * edges: empty names, names far longer than the buffer, bytes that are not
 * UTF-8. Uses only linkage.h and the CHECK macros.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linkage.h"
#include "testutil.h"

#define UPPER BN_LINK_UPPER_DEFAULT
#define LOWER BN_LINK_LOWER_DEFAULT

static double jw(const char *a, const char *b)
{
    return bn_link_jaro_winkler(a, strlen(a), b, strlen(b));
}

#define CHECK_NEAR(x, want, eps)                                                                   \
    do {                                                                                           \
        double bn_x_ = (x);                                                                        \
        CHECK_MSG(fabs(bn_x_ - (want)) <= (eps), "%s = %.4f, want %.4f", #x, bn_x_,                \
                  (double)(want));                                                                 \
    } while (0)

/* The normalised form of name (a static buffer: one call per expression). */
static const char *norm(const char *name)
{
    static char out[BN_LINK_NAME_MAX];
    bn_link_name_normalise(name, out, sizeof out);
    return out;
}

/* Both names normalise to the same string. */
#define CHECK_SAME(a, b)                                                                           \
    do {                                                                                           \
        char bn_na_[BN_LINK_NAME_MAX], bn_nb_[BN_LINK_NAME_MAX];                                   \
        bn_link_name_normalise((a), bn_na_, sizeof bn_na_);                                        \
        bn_link_name_normalise((b), bn_nb_, sizeof bn_nb_);                                        \
        CHECK_MSG(strcmp(bn_na_, bn_nb_) == 0, "\"%s\" -> \"%s\", \"%s\" -> \"%s\"", (a), bn_na_,  \
                  (b), bn_nb_);                                                                    \
    } while (0)

/* Score of two raw names after normalisation, with their sexes. */
static bn_link_score_t pair(const char *a, bn_link_sex_t sa, const char *b, bn_link_sex_t sb)
{
    char na[BN_LINK_NAME_MAX], nb[BN_LINK_NAME_MAX];
    bn_link_name_normalise(a, na, sizeof na);
    bn_link_name_normalise(b, nb, sizeof nb);
    bn_link_person_t pa = {na, sa}, pb = {nb, sb};
    return bn_link_compare(&pa, &pb);
}

static double score(const char *a, const char *b)
{
    return pair(a, BN_LINK_SEX_UNKNOWN, b, BN_LINK_SEX_UNKNOWN).score;
}

static void test_jaro_winkler(void)
{
    /* Winkler (1990) and the examples usually quoted with it. */
    CHECK_NEAR(jw("MARTHA", "MARHTA"), 0.961, 0.0005);
    CHECK_NEAR(jw("DIXON", "DICKSONX"), 0.813, 0.0005);
    CHECK_NEAR(jw("DWAYNE", "DUANE"), 0.840, 0.0005);
    CHECK_NEAR(jw("JONES", "JOHNSON"), 0.832, 0.0005);
    CHECK_NEAR(jw("MASSEY", "MASSIE"), 0.933, 0.0005);
    /* The prefix adjustment only above a Jaro of 0.7 (Winkler's strcmp95):
     * three of six letters agree, the first three, Jaro 2/3, left as it is. */
    CHECK_NEAR(jw("abcxyz", "abcpqr"), 2.0 / 3.0, 1e-9);
    CHECK(jw("budi", "budi") == 1.0);
    CHECK(jw("", "") == 1.0);
    CHECK(jw("budi", "") == 0.0 && jw("", "budi") == 0.0);
    CHECK(jw("abc", "xyz") == 0.0);
    CHECK(jw("a", "a") == 1.0 && jw("a", "b") == 0.0);
    CHECK_NEAR(jw("MARHTA", "MARTHA"), jw("MARTHA", "MARHTA"), 1e-12);

    /* Strings longer than it looks at: equal ones still 1, nothing overrun. */
    size_t n = 5000;
    char *x = malloc(n), *y = malloc(n);
    CHECK(x && y);
    if (x && y) {
        for (size_t i = 0; i < n; i++)
            x[i] = y[i] = (char)('a' + i % 26);
        CHECK(bn_link_jaro_winkler(x, n, y, n) == 1.0);
        y[n - 1] = '#';
        double s = bn_link_jaro_winkler(x, n, y, n);
        CHECK(s >= 0.0 && s <= 1.0);
    }
    free(x);
    free(y);
}

static void test_normalise_titles(void)
{
    CHECK_STR(norm("Hj. Siti Djoebaedah"), norm("Siti Jubaidah"));
    CHECK_SAME("Hj. Siti Djoebaedah", "SITI JUBAIDAH");
    CHECK_SAME("Dr. H. Muhammad Rizki, S.Pd., M.M.", "Muhammad Rizki");
    CHECK_SAME("Prof. Dr. Ir. Budi Santoso, M.Sc.", "budi santoso");
    CHECK_SAME("Ny. Hj. Aminah", "Aminah");
    CHECK_SAME("Hajjah Aminah", "Aminah");
    CHECK_SAME("Hadjah Aminah", "Aminah"); /* old spelling of the title too */
    CHECK_SAME("Bpk. Sutrisno", "Sutrisno");
    CHECK_SAME("Ibu Sulastri", "Sulastri");
    CHECK_SAME("An. Budi", "Budi");
    CHECK_SAME("By. Ny. Siti Aminah", "Siti Aminah"); /* a newborn under the mother's name */
    CHECK_SAME("Alm. Sutrisno", "Sutrisno (alm)");
    CHECK_SAME("Dra. Endang Lestari, S.Pd.I", "Endang Lestari");
    CHECK_SAME("Dewi Lestari, A.Md.Keb.", "Dewi Lestari");
    CHECK_SAME("Budi Santoso SE", "Budi Santoso");
    CHECK_SAME("H.Ahmad", "Ahmad"); /* no space after the dot */
    CHECK_SAME("Ahmad bin Abdullah", "Ahmad Abdullah");
    CHECK_SAME("Siti binti Umar", "Siti Umar");
    /* Titles count only in front, connectors only after a name. */
    CHECK_STR(norm("Bin Laden"), "bin laden");
    CHECK_STR(norm("Ahmad H."), "ahmad h");
    /* A name that is all titles is no name. */
    CHECK_STR(norm("Hj."), "");
    CHECK_STR(norm("Ny. Hj. Dr."), "");
}

static void test_normalise_spelling(void)
{
    /* The Soewandi and Van Ophuijsen spellings. */
    CHECK_SAME("Soekarno", "Sukarno");
    CHECK_SAME("Tjipto Mangoenkoesoemo", "Cipto Mangunkusumo");
    CHECK_SAME("Sjahrir", "Syahrir");
    CHECK_SAME("Njoman", "Nyoman");
    CHECK_SAME("Chairul", "Khairul");
    CHECK_SAME("Pandjaitan", "Panjaitan"); /* dj before nj */
    CHECK_SAME("Wahjudi", "Wahyudi");      /* the old j is the new y */
    CHECK_SAME("Hendra Widjaja", "Hendra Wijaya");
    CHECK_SAME("Joesoef", "Yusuf");
    /* Letters written either way. */
    CHECK_SAME("Rizky", "Rizki");
    CHECK_SAME("Rizqi", "Rizki");
    CHECK_SAME("Ramadhan", "Ramadan");
    CHECK_SAME("Zaenal", "Zainal");
    CHECK_SAME("Yusup", "Yusuf");
    CHECK_SAME("Novi", "Nofi");
    CHECK_SAME("Abdullah", "Abdulah"); /* doubled letters */
    CHECK_SAME("Abd. Rahman", "Abdul Rahman");
    /* The spellings of Muhammad. */
    static const char *const muhammad[] = {
        "Muhammad", "Muhamad", "Mohammad", "Mohamad",  "Mochammad", "Mochamad",
        "Muhammat", "Muhamat", "Moh.",     "Moch.",    "Muh.",      "Mhd.",
        "M.",       "Mohd.",   "Mohammed", "MUHAMMAD", "Moehammad", "Mukhammad"};
    for (size_t i = 0; i < sizeof muhammad / sizeof muhammad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s Rizki Ramadhan", muhammad[i]);
        CHECK_SAME(name, "Muhammad Rizki Ramadhan");
    }
    CHECK_SAME("M.", "Muhammad");
    CHECK_STR(norm("Budi M."), "budi m"); /* a last initial is not Muhammad */
    CHECK_STR(norm("Siti M. Aminah"), "siti m aminah");
}

static void test_normalise_shape(void)
{
    CHECK_STR(norm("  BUDI   santoso  "), "budi santoso");
    CHECK_STR(norm("Siti-Aminah"), "siti aminah");
    CHECK_STR(norm("budi,santoso;"), "budi santoso");
    CHECK_SAME("Ma'ruf Amin", "Maruf Amin");
    CHECK_SAME("Ma\xe2\x80\x99ruf Amin", "Maruf Amin"); /* a curly apostrophe */
    CHECK_SAME("Jos\xc3\xa9", "Jose");                  /* Latin-1 letters folded */
    CHECK_SAME("Andr\xc3\xa9 Sihombing", "ANDRE SIHOMBING");
    CHECK_SAME("Budi\xc2\xa0Santoso", "Budi Santoso"); /* a no-break space */
    CHECK_STR(norm(""), "");
    CHECK_STR(norm("  ,.;  "), "");

    char out[BN_LINK_NAME_MAX];
    CHECK(bn_link_name_normalise(NULL, out, sizeof out) == 0 && out[0] == '\0');
    /* Capacity: always terminated, never a trailing space. */
    CHECK(bn_link_name_normalise("Siti Aminah", out, 1) == 0 && out[0] == '\0');
    CHECK(bn_link_name_normalise("Siti Aminah", out, 6) == 4);
    CHECK_STR(out, "siti");
    CHECK(bn_link_name_normalise("Siti Aminah", out, 9) == 8);
    CHECK_STR(out, "siti ami");

    /* Normalising a normalised name changes nothing (the linker stores them). */
    static const char *const names[] = {"Hj. Siti Djoebaedah",
                                        "Dr. H. M. Rizki, S.Pd.",
                                        "Tjoa Bun Liong",
                                        "Mochammad Chairul",
                                        "By. Ny. Siti Aminah",
                                        "Andr\xc3\xa9 Wijaja",
                                        "Budi M.",
                                        "Hhj Aminah",
                                        "Tjhin Soen",
                                        "Nnj Oeoeoe",
                                        "Ddjoko Ssjahrir",
                                        "Abd Rahman bin Umar"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char once[BN_LINK_NAME_MAX], twice[BN_LINK_NAME_MAX];
        bn_link_name_normalise(names[i], once, sizeof once);
        bn_link_name_normalise(once, twice, sizeof twice);
        CHECK_MSG(strcmp(once, twice) == 0, "%s: \"%s\" then \"%s\"", names[i], once, twice);
    }
}

static void test_normalise_limits(void)
{
    /* Far longer than the buffer: cut to fit, terminated, no overflow. */
    size_t n = 20000;
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    if (!big)
        return;
    for (size_t i = 0; i < n; i++)
        big[i] = "Siti Aminah "[i % 12];
    big[n] = '\0';
    char out[BN_LINK_NAME_MAX];
    size_t len = bn_link_name_normalise(big, out, sizeof out);
    CHECK(len > 0 && len < sizeof out && strlen(out) == len);
    CHECK(out[len - 1] != ' ');
    CHECK(strncmp(out, "siti aminah siti", 16) == 0);

    /* One word of 20000 letters. */
    memset(big, 'a', n);
    len = bn_link_name_normalise(big, out, sizeof out);
    CHECK(len < sizeof out && strlen(out) == len);

    /* A cut never splits a UTF-8 sequence ("ŝ" is two bytes, not folded). */
    for (size_t i = 0; i + 1 < n; i += 2)
        big[i] = (char)0xC5, big[i + 1] = (char)0x9D;
    big[n - (n % 2)] = '\0';
    len = bn_link_name_normalise(big, out, sizeof out);
    CHECK(len > 0 && len % 2 == 0 && (unsigned char)out[len - 1] == 0x9D);

    /* Bytes that are not UTF-8 are kept as they are and do not crash. */
    len =
        bn_link_name_normalise("Bud\xffi \xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28 \xc3", out, sizeof out);
    CHECK(len > 0 && len < sizeof out && strlen(out) == len);
    CHECK(strncmp(out, "bud\xffi", 5) == 0);

    /* Very many words. */
    for (size_t i = 0; i < n; i++)
        big[i] = i % 2 ? ' ' : 'x';
    big[n] = '\0';
    len = bn_link_name_normalise(big, out, sizeof out);
    CHECK(len < sizeof out && strlen(out) == len);
    bn_link_person_t p = {big, BN_LINK_SEX_UNKNOWN}, q = {out, BN_LINK_SEX_UNKNOWN};
    bn_link_score_t s = bn_link_compare(&p, &q); /* raw, unnormalised names are survived */
    CHECK(s.score >= 0 && s.score <= 1);
    free(big);
}

static void test_block(void)
{
    char out[BN_LINK_BLOCK_MAX];
    CHECK(bn_link_block("1990-05-01", "Kel. Tanjung Barat", out, sizeof out) == 24);
    CHECK_STR(out, "1990-05-01|tanjung barat");
    bn_link_block("1990-05-01", "KELURAHAN  TANJUNG-BARAT", out, sizeof out);
    CHECK_STR(out, "1990-05-01|tanjung barat");
    bn_link_block("1990-05-01", "Tanjung Barat", out, sizeof out);
    CHECK_STR(out, "1990-05-01|tanjung barat");
    bn_link_block("2001-12-31", "Desa Tjipedak", out, sizeof out);
    CHECK_STR(out, "2001-12-31|cipedak");
    bn_link_block("1950-01-01", "Kel. Tandjung Barat", out, sizeof out);
    CHECK_STR(out, "1950-01-01|tanjung barat");
    bn_link_block("2001-12-31T08:00:00+07:00", "Cipedak", out, sizeof out);
    CHECK_STR(out, "2001-12-31|cipedak");
    bn_link_block("2001-12-31", "RW 05", out, sizeof out); /* a code is a village too */
    CHECK_STR(out, "2001-12-31|rw 05");

    /* No block: no date, no village, a village that is only "Kel.", a date
     * that is not YYYY-MM-DD, or no room. */
    CHECK(bn_link_block("", "Cipedak", out, sizeof out) == 0 && out[0] == '\0');
    CHECK(bn_link_block(NULL, "Cipedak", out, sizeof out) == 0);
    CHECK(bn_link_block("2001-12-31", "", out, sizeof out) == 0);
    CHECK(bn_link_block("2001-12-31", NULL, out, sizeof out) == 0);
    CHECK(bn_link_block("2001-12-31", "Kel.", out, sizeof out) == 0);
    CHECK(bn_link_block("31-12-2001", "Cipedak", out, sizeof out) == 0);
    CHECK(bn_link_block("2001-12-3", "Cipedak", out, sizeof out) == 0);
    CHECK(bn_link_block("2001-12-31", "Cipedak", out, 12) == 0 && out[0] == '\0');
    CHECK(bn_link_block("2001-12-31", "Cipedak", out, 19) == 18);
}

static void test_compare(void)
{
    const bn_link_sex_t F = BN_LINK_SEX_FEMALE, M = BN_LINK_SEX_MALE, U = BN_LINK_SEX_UNKNOWN;
    bn_link_score_t s = pair("Siti Aminah", F, "SITI AMINAH", F);
    CHECK(s.score == 1.0 && s.name_score == 1.0 && s.sex_agrees);

    /* The same person as two agencies write her or him. */
    CHECK(score("Hj. Siti Djoebaedah", "Siti Jubaidah") >= UPPER);
    CHECK(score("Siregar Togar", "Togar Siregar") >= UPPER);     /* order */
    CHECK(score("Siti Nur Aisyah", "Siti Aisyah") >= UPPER);     /* a middle name left out */
    CHECK(score("Muhammad Rizki", "Rizki") >= UPPER);            /* Muhammad left out */
    CHECK(score("Galih S.", "Galih Santoso") >= UPPER);          /* an initial */
    CHECK(score("Siti N. Aisyah", "Siti Nur Aisyah") >= UPPER);  /* an initial */
    CHECK(score("Nur Hasanah", "Nurhasanah") >= UPPER);          /* one word or two */
    CHECK(score("Bambang Santoso", "Bambang Santsoo") >= UPPER); /* a typo */
    CHECK(score("Siti Nur Aisyah", "Siti Nru Aisyah") >= UPPER); /* letters swapped */
    CHECK(score("Rizky Ramadhan", "M. Rizki Ramadan") >= UPPER);

    /* Different people. A common first name does not carry the pair ... */
    CHECK(score("Siti Aminah", "Siti Aisyah") < UPPER);
    CHECK(score("Muhammad Rizki", "Muhammad Rizal") < UPPER);
    CHECK(score("Sri Lestari", "Umi Lestari") < UPPER);
    CHECK(score("Budi Santoso", "Agus Santoso") < LOWER);
    /* ... nor does a name that is only part of the other one ... */
    CHECK(score("Nur Aisyah", "Aisyah") < UPPER);
    CHECK(score("Ahmad Rizki Ramadhan", "Rizki Ramadhan") < UPPER); /* not a middle name */
    CHECK(score("S.", "Santoso") < LOWER);                          /* an initial alone */
    CHECK(score("Siti H.", "Siti Hasanah Rohimah") < UPPER);        /* initial and a dropped name */
    CHECK(score("Budi", "Sutrisno") < LOWER);

    /* Sex: both known and different lowers the score below the link; an
     * identical name lands on the review list; unknown never counts. */
    s = pair("Siti Aminah", F, "Siti Aminah", M);
    CHECK(!s.sex_agrees && s.name_score == 1.0 && s.score < UPPER);
    CHECK(bn_link_verdict(s.score, UPPER, LOWER) == BN_LINK_POSSIBLE);
    s = pair("Rizki Ramadhan", M, "Rizka Ramadhan", F); /* twins */
    CHECK(!s.sex_agrees && s.score < LOWER);
    s = pair("Siti Aminah", F, "Siti Aminah", U);
    CHECK(s.sex_agrees && s.score == 1.0);
    bn_link_person_t a = {"siti aminah", (bn_link_sex_t)7}, b = {"siti aminah", M};
    CHECK(bn_link_compare(&a, &b).sex_agrees); /* a value out of range is unknown */

    /* No name is no evidence. */
    CHECK(score("", "Siti Aminah") == 0.0);
    CHECK(score("", "") == 0.0);
    CHECK(score("Hj.", "Hj.") == 0.0);
    bn_link_person_t e = {"", F};
    CHECK(bn_link_compare(&e, &e).score == 0.0);

    /* Every score stays in 0..1. */
    static const char *const names[] = {
        "",         "a",
        "Siti",     "Siti Aminah",
        "M. Rizki", "Siti Nur Aisyah Putri Rahma Wulandari Lestari Dewi"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
            bn_link_score_t x = pair(names[i], F, names[j], M);
            CHECK(x.score >= 0 && x.score <= 1 && x.name_score >= 0 && x.name_score <= 1);
        }
}

static void test_verdict(void)
{
    CHECK(bn_link_verdict(1.0, UPPER, LOWER) == BN_LINK_MATCH);
    CHECK(bn_link_verdict(UPPER, UPPER, LOWER) == BN_LINK_MATCH);
    CHECK(bn_link_verdict(UPPER - 1e-9, UPPER, LOWER) == BN_LINK_POSSIBLE);
    CHECK(bn_link_verdict(LOWER, UPPER, LOWER) == BN_LINK_POSSIBLE);
    CHECK(bn_link_verdict(LOWER - 1e-9, UPPER, LOWER) == BN_LINK_NO_MATCH);
    CHECK(bn_link_verdict(0.0, UPPER, LOWER) == BN_LINK_NO_MATCH);
    /* hub.yaml's thresholds arrive as thousandths. */
    CHECK(bn_link_verdict(0.92, 920 / 1000.0, 800 / 1000.0) == BN_LINK_MATCH);
    CHECK(bn_link_verdict(0.8, 920 / 1000.0, 800 / 1000.0) == BN_LINK_POSSIBLE);
    /* Equal thresholds: no review band. */
    CHECK(bn_link_verdict(0.85, 0.9, 0.9) == BN_LINK_NO_MATCH);
    CHECK(bn_link_verdict(0.9, 0.9, 0.9) == BN_LINK_MATCH);
    CHECK(LOWER <= UPPER);
}

int main(void)
{
    test_jaro_winkler();
    test_normalise_titles();
    test_normalise_spelling();
    test_normalise_shape();
    test_normalise_limits();
    test_block();
    test_compare();
    test_verdict();
    return bn_test_finish("test_linkage");
}
