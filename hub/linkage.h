/* linkage.h: probabilistic person linkage, the pure part (no store, no keys).
 *
 * Where an agency sends no NIK, the hub links a record to a person it has
 * seen before by comparing it with the people who share its blocking key
 * (birth date + normalised village). Names are normalised first (case,
 * spacing, punctuation, titles, honorifics and degrees, the old Indonesian
 * spellings oe/u, dj/j, tj/c, sj/sy, nj/ny, ch/kh, letters written either
 * way such as j/y and f/p, doubled letters, the many spellings of Muhammad)
 * and compared word by word with Jaro-Winkler; the score of a pair is that
 * name similarity, lowered when both sexes are known and differ. Two
 * thresholds decide, as in a client registry: score >= upper links, lower <=
 * score < upper is a possible match for a coordinator to review, below lower
 * is a different person. Everything here is pure: no allocation, no state.
 * See docs/linkage.md for the method and its measured precision and recall.
 */
#ifndef BN_LINKAGE_H
#define BN_LINKAGE_H

#include <stdbool.h>
#include <stddef.h>

#define BN_LINK_NAME_MAX 128 /* normalised names are truncated to fit */
#define BN_LINK_BLOCK_MAX 160
#define BN_LINK_JW_MAX 256       /* bytes of each string Jaro-Winkler looks at */
#define BN_LINK_SEX_PENALTY 0.18 /* taken off the score when the sexes differ */

/* The defaults hub.yaml's linkage section starts from. On the synthetic
 * population of benang-linkage-eval they give precision 0.9999 and recall
 * 0.972 (docs/linkage.md has the table and the command). */
#define BN_LINK_UPPER_DEFAULT 0.92
#define BN_LINK_LOWER_DEFAULT 0.80

/* Sex as the linker sees it: unknown never counts against a pair. */
typedef enum {
    BN_LINK_SEX_UNKNOWN = 0,
    BN_LINK_SEX_FEMALE = 1,
    BN_LINK_SEX_MALE = 2
} bn_link_sex_t;

/* One record as compared: its normalised name (bn_link_name_normalise) and sex. */
typedef struct {
    const char *name;
    bn_link_sex_t sex;
} bn_link_person_t;

typedef struct {
    double score;      /* 0..1, what the thresholds are applied to */
    double name_score; /* 0..1, the names' similarity: the mean Jaro-Winkler of their
                        * paired words in the best reading tried (written order, another
                        * order, an initial read out, one middle name or Muhammad left
                        * out, words joined), less that reading's penalty */
    bool sex_agrees;   /* false only when both sexes are known and differ */
} bn_link_score_t;

typedef enum { BN_LINK_NO_MATCH = 0, BN_LINK_POSSIBLE = 1, BN_LINK_MATCH = 2 } bn_link_verdict_t;

/* Normalise a person's name into out (always NUL-terminated, at most cap-1
 * bytes, never ending inside a UTF-8 sequence or on a space; cap 0 writes
 * nothing).
 * UTF-8 input: Latin-1 letters are folded to ASCII ("José" is "jose"), other
 * bytes, valid or not, are kept as they are. NULL reads as "". Returns the
 * length written. An empty or all-title name gives "". Normalising a
 * result that was not cut to fit gives it back unchanged. */
size_t bn_link_name_normalise(const char *name, char *out, size_t cap);

/* The blocking key "YYYY-MM-DD|village": the date part of birth_date (which
 * must start YYYY-MM-DD, a time after it is ignored) and the village in
 * lowercase words ("Kel.", "Kelurahan", "Desa", "Ds." dropped, old spellings
 * rewritten but nj kept). Returns the length, or 0 with out "" when there is
 * no block: birth_date or village missing, empty or not of that form, or no
 * room in cap. Such a record cannot be linked probabilistically. */
size_t bn_link_block(const char *birth_date, const char *village, char *out, size_t cap);

/* Jaro-Winkler similarity of two byte strings, 0..1 (1: equal; both empty:
 * 1; one empty: 0): Winkler's prefix scale 0.1 over at most 4 characters,
 * applied when the Jaro similarity is above 0.7 (as in his strcmp95). Looks
 * at the first BN_LINK_JW_MAX bytes of each. */
double bn_link_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen);

/* Score a pair of records in the same block; names are normalised ones
 * (anything is survived, but only those compare as documented). An empty
 * name scores 0 against anything. Both sexes known and different: score is
 * name_score less BN_LINK_SEX_PENALTY, so even an identical name stays below
 * the default upper threshold and lands on the review list. a or b NULL
 * reads as empty. */
bn_link_score_t bn_link_compare(const bn_link_person_t *a, const bn_link_person_t *b);

/* The verdict of a score under the thresholds (lower <= upper): MATCH at or
 * above upper, POSSIBLE at or above lower, NO_MATCH below. */
bn_link_verdict_t bn_link_verdict(double score, double upper, double lower);

#endif
