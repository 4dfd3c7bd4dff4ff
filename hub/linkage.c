/* linkage.c: name normalisation, Jaro-Winkler and pair scoring (see linkage.h).
 *
 * Everything here is a pure function of its arguments: no allocation, no
 * state, only const tables. A name is read as chunks (runs of letters, digits,
 * '.', '-' and apostrophes); a chunk is a degree ("S.Pd.") when its letters
 * spell one and a name token came before it, otherwise it is split at '.' and
 * '-' into tokens. Leading tokens that are titles or honorifics are dropped,
 * as are "bin"/"binti" and degrees after the first name token. Each kept
 * token is brought to one spelling by rewriting rules run to a fixed point,
 * so normalising a normalised name changes nothing (the fuzz target checks
 * it): the linker stores normalised names and compares them again later.
 *
 * Two names are compared word by word: each word of one is paired with a
 * word of the other (in written order, or in the best other order at a small
 * cost), the Jaro-Winkler similarities of the pairs are averaged, and a few
 * named penalties allow for an initial, one middle name left out, or a name
 * written as one word or two. A word-wise mean keeps a shared common word
 * ("Siti", "Muhammad") from carrying two different people the way it does in
 * one Jaro-Winkler over the whole strings.
 *
 * Work is bounded: a name is read into NORM_MAX bytes and NORM_TOKENS tokens,
 * the rest is ignored; a comparison looks at CMP_TOKENS words and JW_MAX
 * bytes. docs/linkage.md gives the rules and the measured figures.
 */
#include "linkage.h"

#include <stdint.h>
#include <string.h>

#define NORM_MAX 256   /* bytes of normalised name kept before truncating to cap */
#define NORM_TOKENS 24 /* tokens kept */
#define CHUNK_MAX 64   /* bytes of one chunk looked at; the rest of it is skipped */
#define JW_MAX BN_LINK_JW_MAX
#define CMP_TOKENS 8 /* words of a name bn_link_compare looks at */

/* ---- tables ----------------------------------------------------------------- */

/* Titles and honorifics dropped while no name token has been kept: religious
 * (haji, hajjah, old "Hadji", kyai haji, ustadz), academic and professional
 * prefixes (dr, drs, dra, ir, prof), forms of address (bapak, ibu, nyonya,
 * nona, saudara, tuan), the health records' "An." (anak) and "By." (bayi),
 * Javanese raden. A token is looked up as written (lowercase) and as
 * rewritten (rewrite_token), so "Hj." and "Hadjah" are found. */
static const char *const leading_titles[] = {
    "h",      "hj",    "haji",     "hajah",   "hja",     "hajjah", "hayah", "hayi",
    "dr",     "drs",   "dra",      "drg",     "ir",      "prof",   "bpk",   "bapak",
    "pak",    "ibu",   "bu",       "ny",      "nya",     "nyonya", "nn",    "nona",
    "sdr",    "sdri",  "sdra",     "saudara", "saudari", "tn",     "tuan",  "an",
    "anak",   "by",    "bayi",     "kh",      "kiai",    "kyai",   "ust",   "ustad",
    "ustadz", "ustaz", "ustadzah", "ustazah", "raden",   "rr",     NULL};

/* Dropped wherever they stand: the deceased markers, often written after. */
static const char *const any_titles[] = {"alm", "almh", "almarhum", "almarhumah", NULL};

/* Patronymic connectors, dropped after the first name token. */
static const char *const connectors[] = {"bin", "binti", "bt", "bte", "binte", "bint", NULL};

/* Academic and professional degrees (letters only), dropped after the first
 * name token: "Budi Santoso, S.Pd., M.M." is "budi santoso". */
static const char *const degrees[] = {
    "spd",   "spdi", "spdsd", "sag",  "sh",   "shi",  "se",   "sei",    "sak",    "mm",
    "mba",   "msi",  "mpd",   "mpdi", "mkes", "mkom", "mh",   "mag",    "mt",     "msc",
    "skom",  "st",   "ssos",  "ssi",  "skm",  "skep", "sked", "sfarm",  "sip",    "sikom",
    "shut",  "stp",  "spt",   "sp",   "spog", "spa",  "amd",  "amdkeb", "amdkep", "amkeb",
    "amkep", "amg",  "amf",   "apt",  "ners", "ns",   "phd",  "bsc",    "llm",    "lc",
    "drs",   "dra",  "ir",    "dr",   "prof", "mpsi", "spsi", "ssn",    "sds",    NULL};

/* The spellings of Muhammad, as written and as rewritten below (a token is
 * checked both ways). All become MUHAMMAD; so does a lone "m" as the first
 * word ("M. Rizki"), but not elsewhere ("Budi M." is an initial). */
static const char *const muhammad_forms[] = {
    "muhammad", "muhamad",   "mohammad", "mohamad",  "mochammad", "mochamad", "mokhamad",
    "mukhamad", "muchammad", "muchamad", "muhammat", "muhamat",   "mohamat",  "mohammed",
    "mohamed",  "muhammed",  "muhamed",  "mohd",     "muhd",      "mhd",      "moh",
    "moch",     "mokh",      "muh",      "much",     "mukh",      "mhmd",     "mochd",
    "md",       "moehammad", "moehamad", NULL};
#define MUHAMMAD "muhamad"

/* Rewrites of a token, applied in this order, each over the whole token, the
 * set repeated with the doubled-letter collapse until nothing changes. The
 * Van Ophuijsen and Soewandi spellings (before 1972) first: oe -> u, dj -> j
 * before nj -> ny (so "Pandjaitan" and "Panjaitan" meet), tj -> c, sj -> sy,
 * ch -> kh. */
typedef struct {
    const char *from, *to;
} rewrite_t;
static const rewrite_t old_spelling[] = {{"oe", "u"},  {"dj", "j"},  {"tj", "c"}, {"sj", "sy"},
                                         {"nj", "ny"}, {"ch", "kh"}, {NULL, NULL}};

/* Villages: the same but nj, which today's names of places keep as written
 * ("Tanjung", old "Tandjung"). */
static const rewrite_t old_place_spelling[] = {{"oe", "u"},  {"dj", "j"},  {"tj", "c"},
                                               {"sj", "sy"}, {"ch", "kh"}, {NULL, NULL}};

/* Letters Indonesian names are written with either way, merged after the
 * old spellings are undone: j and y (the old spelling wrote y as j, so
 * "Jusuf", "Wahjudi", "Soerja" meet "Yusuf", "Wahyudi", "Surya"), dh and d
 * (Ramadhan, Ramadan), q and k (Rizqi, Rizki), ae and ai (Zaenal, Zainal),
 * f, v and p (Yusuf, Yusup; Novi, Nofi; the Sundanese write p for f). Each
 * was kept because it raised recall on the synthetic population without
 * costing precision (docs/linkage.md); th/t, dz/z, kh/h, sy/s, iy/i and a
 * final h were tried and left out. */
static const rewrite_t phonetic[] = {{"j", "y"}, {"dh", "d"}, {"q", "k"},  {"ae", "ai"},
                                     {"f", "p"}, {"v", "p"},  {NULL, NULL}};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if ((*list)[0] == s[0] && strcmp(*list, s) == 0)
            return true;
    return false;
}

/* ---- token rewriting ------------------------------------------------------- */

/* Replace every from by to in t (from one or two letters, to no longer).
 * True when something changed. */
static bool replace_all(char *t, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *r = strchr(t, from[0]);
    if (!r)
        return false;
    bool changed = false;
    char *w = r;
    while (*r) {
        if (r[0] == from[0] && (fl == 1 || r[1] == from[1])) {
            memcpy(w, to, tl);
            w += tl;
            r += fl;
            changed = true;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return changed;
}

static bool is_ascii_letter(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

/* "abdullah" -> "abdulah": doubled ASCII letters collapse to one. */
static bool collapse_doubles(char *t)
{
    bool changed = false;
    char *w = t;
    for (char *r = t; *r; r++) {
        if (w > t && *r == w[-1] && is_ascii_letter((unsigned char)*r)) {
            changed = true;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
    return changed;
}

/* A final y is an i ("Rizky", "Fitry"); after j -> y, so also a final j. */
static bool final_y(char *t)
{
    size_t l = strlen(t);
    if (l >= 3 && t[l - 1] == 'y') {
        t[l - 1] = 'i';
        return true;
    }
    return false;
}

/* One spelling per token: the collapse, the old spellings and the phonetic
 * merges (phonetic: names only), repeated to a fixed point. Each pass either
 * shortens the token or turns letters into ones no rule starts from, so the
 * loop ends long before its bound. */
static void rewrite_with(char *t, const rewrite_t *old, bool phonetic_too)
{
    bool changed = true;
    for (int pass = 0; changed && pass < CHUNK_MAX; pass++) {
        changed = collapse_doubles(t);
        for (const rewrite_t *r = old; r->from; r++)
            changed |= replace_all(t, r->from, r->to);
        if (!phonetic_too)
            continue;
        for (const rewrite_t *r = phonetic; r->from; r++)
            changed |= replace_all(t, r->from, r->to);
        changed |= final_y(t);
    }
}

/* A name token: rewritten, and any spelling of Muhammad made one. */
static void rewrite_token(char *t)
{
    bool muhammad = in_list(muhammad_forms, t);
    rewrite_with(t, old_spelling, true);
    if (muhammad || in_list(muhammad_forms, t))
        strcpy(t, MUHAMMAD);
    else if (strcmp(t, "abd") == 0) /* "Abd. Rahman" */
        strcpy(t, "abdul");
}

/* ---- reading a name -------------------------------------------------------- */

typedef struct {
    char buf[NORM_MAX];
    size_t len;
    size_t start[NORM_TOKENS], n;
} tokens_t;

static void tokens_add(tokens_t *tk, const char *t)
{
    size_t tl = strlen(t);
    size_t need = (tk->n ? 1 : 0) + tl;
    if (!tl || tk->n == NORM_TOKENS || tk->len + need >= NORM_MAX)
        return;
    if (tk->n)
        tk->buf[tk->len++] = ' ';
    tk->start[tk->n++] = tk->len;
    memcpy(tk->buf + tk->len, t, tl);
    tk->len += tl;
    tk->buf[tk->len] = '\0';
}

/* A token is in a list as written or as rewritten. */
static bool listed(const char *const *list, const char *raw, const char *rewritten)
{
    return in_list(list, raw) || in_list(list, rewritten);
}

/* One token of a chunk: dropped, or rewritten and kept. */
static void take_token(tokens_t *tk, const char *raw)
{
    char t[CHUNK_MAX + 1];
    strcpy(t, raw);
    rewrite_token(t);
    if (listed(any_titles, raw, t))
        return;
    if (tk->n == 0 && listed(leading_titles, raw, t))
        return;
    if (tk->n > 0 && (listed(connectors, raw, t) || listed(degrees, raw, t)))
        return;
    tokens_add(tk, t);
}

/* A chunk: letters, digits, bytes >= 0x80, with '.' marking where it splits. */
static void take_chunk(tokens_t *tk, const char *chunk)
{
    if (tk->n > 0) {
        char key[CHUNK_MAX + 1];
        size_t kl = 0;
        for (const char *p = chunk; *p; p++)
            if (*p != '.')
                key[kl++] = *p;
        key[kl] = '\0';
        char rk[CHUNK_MAX + 1];
        strcpy(rk, key);
        rewrite_token(rk);
        if (listed(degrees, key, rk))
            return;
    }
    char t[CHUNK_MAX + 1];
    size_t tl = 0;
    for (const char *p = chunk;; p++) {
        if (*p == '.' || *p == '\0') {
            t[tl] = '\0';
            if (tl)
                take_token(tk, t);
            tl = 0;
            if (!*p)
                break;
        } else {
            t[tl++] = *p;
        }
    }
}

/* Latin-1 supplement letters (U+00C0..U+00FF, UTF-8 C3 80..C3 BF) folded to
 * ASCII; 0 for the two signs in the block (multiplication, division). */
static const char latin1_fold[64] = "aaaaaaaceeeeiiiidnooooo\0ouuuuyts"
                                    "aaaaaaaceeeeiiiidnooooo\0ouuuuyty";

/* What byte p[0] of a name is to the reader: a chunk byte (written to *c, *adv
 * bytes consumed), a byte to skip (apostrophes), or a separator. */
enum { CH_SEP, CH_SKIP, CH_BYTE, CH_SPLIT };

static int classify(const unsigned char *p, char *c, size_t *adv)
{
    *adv = 1;
    unsigned char b = p[0];
    if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')) {
        *c = (char)b;
        return CH_BYTE;
    }
    if (b >= 'A' && b <= 'Z') {
        *c = (char)(b - 'A' + 'a');
        return CH_BYTE;
    }
    if (b == '.' || b == '-')
        return CH_SPLIT;
    if (b == '\'' || b == '`')
        return CH_SKIP;
    if (b < 0x80)
        return CH_SEP;
    if (b == 0xC2 && p[1] == 0xA0) { /* no-break space */
        *adv = 2;
        return CH_SEP;
    }
    if (b == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBF) {
        *adv = 2;
        *c = latin1_fold[p[1] - 0x80];
        return *c ? CH_BYTE : CH_SEP;
    }
    if ((b == 0xE2 && p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x99)) ||
        (b == 0xCA && p[1] == 0xBC)) { /* curly and modifier apostrophes */
        *adv = b == 0xE2 ? 3 : 2;
        return CH_SKIP;
    }
    *c = (char)b; /* other non-ASCII bytes are kept as they are */
    return CH_BYTE;
}

/* Cut s (length len) to at most max bytes without splitting a UTF-8
 * sequence or leaving a trailing space. */
static size_t cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* Back off over continuation bytes to the lead byte (at most 3). */
    for (int i = 0; i < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; i++)
        n--;
    if (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n = max; /* not UTF-8 anyway: cut where it falls */
    while (n > 0 && s[n - 1] == ' ')
        n--;
    return n;
}

size_t bn_link_name_normalise(const char *name, char *out, size_t cap)
{
    if (!out || cap == 0)
        return 0;
    tokens_t tk;
    tk.len = tk.n = 0;
    tk.buf[0] = '\0';
    char chunk[CHUNK_MAX + 1];
    size_t cl = 0;
    const unsigned char *p = (const unsigned char *)(name ? name : "");
    for (;;) {
        char c = 0;
        size_t adv = 1;
        int k = *p ? classify(p, &c, &adv) : CH_SEP;
        /* An apostrophe after a byte >= 0x80 splits: skipping it could join
         * two bytes into a sequence folded on the next reading. */
        if (k == CH_SKIP && cl > 0 && (unsigned char)chunk[cl - 1] >= 0x80)
            k = CH_SPLIT;
        if (k == CH_BYTE && cl < CHUNK_MAX)
            chunk[cl++] = c;
        else if (k == CH_SPLIT && cl < CHUNK_MAX && cl > 0 && chunk[cl - 1] != '.')
            chunk[cl++] = '.';
        else if (k == CH_SEP && cl > 0) {
            chunk[cl] = '\0';
            take_chunk(&tk, chunk);
            cl = 0;
        }
        if (!*p || tk.n == NORM_TOKENS)
            break;
        /* classify() looked at most at the bytes up to a NUL, never past it */
        for (size_t i = 0; i < adv && *p; i++)
            p++;
    }
    /* A lone "m" as the first word abbreviates Muhammad ("M. Rizki", and
     * "M." alone); anywhere else it is an initial ("Budi M."). */
    char fixed[NORM_MAX + sizeof MUHAMMAD];
    const char *src = tk.buf;
    size_t len = tk.len;
    if (tk.n >= 1 && tk.buf[0] == 'm' && (tk.buf[1] == ' ' || tk.buf[1] == '\0')) {
        size_t ml = strlen(MUHAMMAD);
        memcpy(fixed, MUHAMMAD, ml);
        memcpy(fixed + ml, tk.buf + 1, tk.len); /* with its NUL */
        src = fixed;
        len = tk.len - 1 + ml;
    }
    size_t n = cut(src, len, cap - 1);
    memcpy(out, src, n);
    out[n] = '\0';
    return n;
}

/* ---- blocking key ---------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t bn_link_block(const char *birth_date, const char *village, char *out, size_t cap)
{
    if (!out || cap == 0)
        return 0;
    out[0] = '\0';
    if (!birth_date || !village)
        return 0;
    /* YYYY-MM-DD, possibly followed by a time: the date part only. */
    const char *d = birth_date;
    for (int i = 0; i < 10; i++)
        if ((i == 4 || i == 7) ? d[i] != '-' : !is_digit(d[i]))
            return 0;
    if (d[10] != '\0' && d[10] != 'T' && d[10] != ' ')
        return 0;
    char v[NORM_MAX];
    size_t vl = 0;
    const unsigned char *p = (const unsigned char *)village;
    char word[CHUNK_MAX + 1];
    size_t wl = 0;
    /* Words of the village: letters and digits, lowercase, Latin-1 folded;
     * "kel", "kelurahan", "desa", "ds" dropped; old spellings rewritten. */
    for (;;) {
        char c = 0;
        size_t adv = 1;
        int k = *p ? classify(p, &c, &adv) : CH_SEP;
        if (k == CH_BYTE && wl < CHUNK_MAX)
            word[wl++] = c;
        else if ((k == CH_SEP || k == CH_SPLIT) && wl > 0) {
            word[wl] = '\0';
            wl = 0;
            if (strcmp(word, "kel") != 0 && strcmp(word, "kelurahan") != 0 &&
                strcmp(word, "desa") != 0 && strcmp(word, "ds") != 0) {
                rewrite_with(word, old_place_spelling, false);
                size_t l = strlen(word);
                if (vl + l + 1 < sizeof v) {
                    if (vl)
                        v[vl++] = ' ';
                    memcpy(v + vl, word, l);
                    vl += l;
                }
            }
        }
        if (!*p)
            break;
        for (size_t i = 0; i < adv && *p; i++)
            p++;
    }
    if (vl == 0 || 11 + vl + 1 > cap)
        return 0;
    memcpy(out, d, 10);
    out[10] = '|';
    memcpy(out + 11, v, vl);
    out[11 + vl] = '\0';
    return 11 + vl;
}

/* ---- Jaro-Winkler ---------------------------------------------------------- */

/* Jaro (1989) with Winkler's (1990) prefix adjustment: up to 4 agreeing
 * leading characters, scale 0.1, applied as in Winkler's strcmp95 only when
 * the Jaro similarity is above 0.7. Characters match within a window of
 * half the longer string less one, or min_range if that is wider (0 for the
 * standard comparator; bn_link_compare uses 1 between words). */
static double jw_window(const char *a, size_t alen, const char *b, size_t blen, size_t min_range)
{
    if (alen > JW_MAX)
        alen = JW_MAX;
    if (blen > JW_MAX)
        blen = JW_MAX;
    if (alen == 0 && blen == 0)
        return 1.0;
    if (alen == 0 || blen == 0)
        return 0.0;
    size_t longer = alen > blen ? alen : blen;
    size_t range = longer / 2 > 0 ? longer / 2 - 1 : 0;
    if (range < min_range)
        range = min_range;
    bool am[JW_MAX], bm[JW_MAX];
    memset(am, 0, alen);
    memset(bm, 0, blen);
    size_t m = 0;
    for (size_t i = 0; i < alen; i++) {
        size_t lo = i > range ? i - range : 0;
        size_t hi = i + range + 1 < blen ? i + range + 1 : blen;
        for (size_t j = lo; j < hi; j++)
            if (!bm[j] && a[i] == b[j]) {
                am[i] = bm[j] = true;
                m++;
                break;
            }
    }
    if (m == 0)
        return 0.0;
    size_t half = 0, k = 0;
    for (size_t i = 0; i < alen; i++) {
        if (!am[i])
            continue;
        while (!bm[k])
            k++;
        if (a[i] != b[k])
            half++;
        k++;
    }
    double md = (double)m;
    double jaro = (md / (double)alen + md / (double)blen + (md - (double)(half / 2)) / md) / 3.0;
    if (jaro <= 0.7)
        return jaro;
    size_t l = 0;
    while (l < 4 && l < alen && l < blen && a[l] == b[l])
        l++;
    return jaro + (double)l * 0.1 * (1.0 - jaro);
}

double bn_link_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen)
{
    return jw_window(a, alen, b, blen, 0);
}

/* ---- comparing two people -------------------------------------------------- */

typedef struct {
    const char *s[CMP_TOKENS];
    size_t len[CMP_TOKENS];
    size_t n;
} words_t;

static void split_words(const char *s, words_t *w)
{
    w->n = 0;
    size_t total = 0;
    while (*s && w->n < CMP_TOKENS) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        if (e > s) {
            size_t l = (size_t)(e - s);
            if (total + l > JW_MAX)
                break;
            w->s[w->n] = s;
            w->len[w->n++] = l;
            total += l;
        }
        s = e;
    }
}

#define DROP_PENALTY 0.05    /* a middle name (or Muhammad) missing from one of the two */
#define INITIAL_PENALTY 0.03 /* per initial read as the name it abbreviates */
#define ORDER_PENALTY 0.02   /* the names agree only in another order */
#define JOIN_PENALTY 0.03    /* the names agree only with their spaces taken out */
#define WORD_MIN_RANGE 1     /* the least matching window between two words */

/* The words of two names of as many words, side by side: sim[i][j] the
 * similarity of word i of a and word j of b, init[i][j] when that is an
 * initial read as the word it begins. */
typedef struct {
    size_t n;
    double sim[CMP_TOKENS][CMP_TOKENS];
    bool init[CMP_TOKENS][CMP_TOKENS];
} grid_t;

/* Initials count only in a name that has a full word besides. */
static bool initials_allowed(const words_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->len[i] > 1)
            return w->n > 1;
    return false;
}

static void fill_grid(const words_t *a, const words_t *b, bool initials, grid_t *g)
{
    g->n = a->n;
    initials = initials && initials_allowed(a) && initials_allowed(b);
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) {
            g->init[i][j] =
                initials && (a->len[i] == 1) != (b->len[j] == 1) && a->s[i][0] == b->s[j][0];
            /* Words of three letters get a window of one, where Jaro's is
             * none, so that "nru" is "nur" with two letters swapped rather
             * than two letters wrong. */
            g->sim[i][j] = g->init[i][j]
                               ? 1.0
                               : jw_window(a->s[i], a->len[i], b->s[j], b->len[j], WORD_MIN_RANGE);
        }
}

/* Score of a pairing, perm[i] the word of b paired with word i of a: the
 * mean similarity less INITIAL_PENALTY per initial used. */
static double pairing_score(const grid_t *g, const size_t *perm)
{
    double sum = 0;
    size_t n_init = 0;
    for (size_t i = 0; i < g->n; i++) {
        sum += g->sim[i][perm[i]];
        n_init += g->init[i][perm[i]];
    }
    return sum / (double)g->n - INITIAL_PENALTY * (double)n_init;
}

/* Best pairing over all orders, by trying them (PERM_MAX words at most;
 * longer names keep their order). */
#define PERM_MAX 5
static void best_order(const grid_t *g, size_t *perm, bool *used, size_t k, double *best)
{
    if (k == g->n) {
        double s = pairing_score(g, perm);
        if (s > *best)
            *best = s;
        return;
    }
    for (size_t j = 0; j < g->n; j++)
        if (!used[j]) {
            used[j] = true;
            perm[k] = j;
            best_order(g, perm, used, k + 1, best);
            used[j] = false;
        }
}

/* Two names of as many words: in written order, or in the best other order
 * less ORDER_PENALTY. */
static double aligned(const words_t *a, const words_t *b, bool initials)
{
    grid_t g;
    fill_grid(a, b, initials, &g);
    size_t perm[CMP_TOKENS] = {0};
    bool used[CMP_TOKENS] = {false};
    for (size_t i = 0; i < g.n; i++)
        perm[i] = i;
    double best = pairing_score(&g, perm);
    if (g.n > 1 && g.n <= PERM_MAX) {
        double other = -1;
        best_order(&g, perm, used, 0, &other);
        if (other - ORDER_PENALTY > best)
            best = other - ORDER_PENALTY;
    }
    return best;
}

static bool is_muhammad(const char *s, size_t l)
{
    return l == strlen(MUHAMMAD) && memcmp(s, MUHAMMAD, l) == 0;
}

/* The words of w run together ("nur hasanah" -> "nurhasanah"). */
static size_t squeeze(const words_t *w, char *out)
{
    size_t len = 0;
    for (size_t i = 0; i < w->n; i++) {
        memcpy(out + len, w->s[i], w->len[i]);
        len += w->len[i];
    }
    out[len] = '\0';
    return len;
}

static double name_similarity(const char *an, const char *bn)
{
    words_t a, b;
    split_words(an, &a);
    split_words(bn, &b);
    if (a.n == 0 || b.n == 0)
        return 0.0; /* no name is no evidence, even against no name */
    if (a.n == b.n)
        return aligned(&a, &b, true);
    double best = 0;
    /* One middle name, or Muhammad anywhere, left out by one of the writers:
     * "Siti Nur Aisyah" and "Siti Aisyah", "Muhammad Rizki" and "Rizki". */
    const words_t *lg = a.n > b.n ? &a : &b, *sh = a.n > b.n ? &b : &a;
    if (lg->n == sh->n + 1)
        for (size_t i = 0; i < lg->n; i++) {
            bool middle = i > 0 && i + 1 < lg->n;
            if (!middle && !is_muhammad(lg->s[i], lg->len[i]))
                continue;
            words_t w = *lg;
            for (size_t j = i; j + 1 < w.n; j++) {
                w.s[j] = w.s[j + 1];
                w.len[j] = w.len[j + 1];
            }
            w.n--;
            double s = aligned(&w, sh, false) - DROP_PENALTY;
            if (s > best)
                best = s;
        }
    /* A name written as one word or two: "Nurhasanah", "Nur Hasanah". */
    char x[JW_MAX + 1], y[JW_MAX + 1];
    size_t xl = squeeze(&a, x), yl = squeeze(&b, y);
    double s = bn_link_jaro_winkler(x, xl, y, yl) - JOIN_PENALTY;
    return s > best ? s : best;
}

bn_link_score_t bn_link_compare(const bn_link_person_t *a, const bn_link_person_t *b)
{
    bn_link_score_t r;
    r.name_score = name_similarity(a && a->name ? a->name : "", b && b->name ? b->name : "");
    /* Anything but female or male (a stored byte the linker casts) is unknown. */
    bool ak = a && (a->sex == BN_LINK_SEX_FEMALE || a->sex == BN_LINK_SEX_MALE);
    bool bk = b && (b->sex == BN_LINK_SEX_FEMALE || b->sex == BN_LINK_SEX_MALE);
    r.sex_agrees = !(ak && bk && a->sex != b->sex);
    if (r.name_score < 0)
        r.name_score = 0;
    r.score = r.sex_agrees ? r.name_score : r.name_score - BN_LINK_SEX_PENALTY;
    if (r.score < 0)
        r.score = 0;
    return r;
}

bn_link_verdict_t bn_link_verdict(double score, double upper, double lower)
{
    if (score >= upper)
        return BN_LINK_MATCH;
    if (score >= lower)
        return BN_LINK_POSSIBLE;
    return BN_LINK_NO_MATCH;
}
