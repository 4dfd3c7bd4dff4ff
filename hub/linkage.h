/* linkage.h: probabilistic person linkage, the pure part (no store, no keys).
 *
 * Where an agency sends no NIK, the hub links a record to a person it has
 * seen before by comparing it with the people who share its blocking key
 * (birth date + normalised village). Names are normalised first (case,
 * spacing, punctuation, titles and honorifics, the old Indonesian spellings
 * oe/u, dj/j, tj/c, sj/sy, nj/ny, ch/kh, doubled letters, the many spellings
 * of Muhammad) and compared with Jaro-Winkler; the score of a pair combines
 * the name similarity with agreement of sex. Two thresholds decide, as in a
 * client registry: score >= upper links, lower <= score < upper is a possible
 * match for a coordinator to review, below lower is a different person.
 * See docs/linkage.md for the method and its measured precision and recall.
 */
#ifndef BN_LINKAGE_H
#define BN_LINKAGE_H

#include <stdbool.h>
#include <stddef.h>

#define BN_LINK_NAME_MAX 128  /* normalised names are truncated to fit */
#define BN_LINK_BLOCK_MAX 160

/* The defaults hub.yaml's linkage section starts from (docs/linkage.md). */
#define BN_LINK_UPPER_DEFAULT 0.92
#define BN_LINK_LOWER_DEFAULT 0.80

/* Sex as the linker sees it: unknown never counts against a pair. */
typedef enum { BN_LINK_SEX_UNKNOWN = 0, BN_LINK_SEX_FEMALE = 1, BN_LINK_SEX_MALE = 2 } bn_link_sex_t;

/* One record as compared: its normalised name (bn_link_name_normalise) and sex. */
typedef struct {
    const char *name;
    bn_link_sex_t sex;
} bn_link_person_t;

typedef struct {
    double score;      /* 0..1, what the thresholds are applied to */
    double name_score; /* Jaro-Winkler of the normalised names (best of the orderings tried) */
    bool sex_agrees;   /* false only when both sexes are known and differ */
} bn_link_score_t;

typedef enum { BN_LINK_NO_MATCH = 0, BN_LINK_POSSIBLE = 1, BN_LINK_MATCH = 2 } bn_link_verdict_t;

/* Normalise a person's name into out (always NUL-terminated, at most cap-1
 * bytes; cap >= 1). UTF-8 input; letters outside ASCII are kept as they are.
 * Returns the length written. An empty or all-title name gives "". */
size_t bn_link_name_normalise(const char *name, char *out, size_t cap);

/* The blocking key "YYYY-MM-DD|village" with the village normalised like a
 * name (case, spacing, punctuation; "Kel." and "Kelurahan" dropped). Returns
 * the length, or 0 when birth_date or village is empty (no block: the record
 * cannot be linked probabilistically). */
size_t bn_link_block(const char *birth_date, const char *village, char *out, size_t cap);

/* Jaro-Winkler similarity of two byte strings, 0..1 (1: equal; both empty: 1). */
double bn_link_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen);

/* Score a pair of records in the same block. */
bn_link_score_t bn_link_compare(const bn_link_person_t *a, const bn_link_person_t *b);

/* The verdict of a score under the thresholds (lower <= upper). */
bn_link_verdict_t bn_link_verdict(double score, double upper, double lower);

#endif
