/* linkage_eval.c: benang-linkage-eval, precision and recall of the person linker.
 *
 * Builds a synthetic population of Jakarta Selatan from a seed, writes every
 * resident down the way two agencies would (a register that knows most of
 * them, and a second agency that knows all of them and writes names its own
 * way), then links each second record to the register with hub/linkage.c as
 * the hub does: blocking key, best candidate of the block, two thresholds.
 * The truth is known, so it counts right and wrong links and breaks the
 * misses down by what was planted in the record.
 *
 * What is planted and at what rate is in the tables of this file (plant[],
 * add_titles, make_twin, make_birth) and in docs/linkage.md; change both
 * together. Every name comes from the pools below: no personal data.
 * Library style: run() returns false when memory runs out, main() reports.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkage.h"

#define REF_YEAR 2025 /* ages are counted to this year */
#define MAX_TOK 5     /* words of a name */
#define TOK_LEN 24    /* bytes of a word as written, old spellings included */
#define RAW_LEN 200   /* bytes of a name as written */
#define POOL_WORDS 64 /* words in a pool */
#define POOL_TEXT 768 /* bytes of a pool's text */
#define MAX_RESIDENTS 1000000

/* ---- PRNG: splitmix64 ------------------------------------------------------- */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unit(rng_t *r)
{
    return (double)(rnd(r) >> 11) / 9007199254740992.0;
}

static size_t below(rng_t *r, size_t n)
{
    return (size_t)(unit(r) * (double)n);
}

static bool chance(rng_t *r, double p)
{
    return unit(r) < p;
}

/* ---- name pools (most frequent first) --------------------------------------- */

enum {
    JAV_M,
    JAV_F,
    JAV_OLD_M,
    JAV_OLD_F,
    JAV_2ND_M,
    JAV_2ND_F, /* Javanese */
    SUN_M,
    SUN_F,
    SUN_2ND_M,
    SUN_2ND_F, /* Sundanese */
    ISL_M,
    ISL_F,
    ISL_2ND_M,
    ISL_2ND_F, /* Betawi, Islamic */
    MOD_M,
    MOD_F,
    MOD_MID_M,
    MOD_MID_F,
    MOD_LAST_M,
    MOD_LAST_F, /* Arabic-derived, since 1990 */
    BTK_M,
    BTK_F,
    MARGA, /* Batak */
    MIN_M,
    MIN_F, /* Minangkabau */
    CHI_M,
    CHI_F,
    CHI_FAMILY,
    CHI_OLD_FAMILY,
    CHI_OLD_GIVEN, /* Chinese-Indonesian */
    ARB_FAMILY,    /* Hadhrami Arab families */
    N_POOLS
};

/* Each pool's words, separated by spaces, the commonest first. */
static const char *const pool_text[N_POOLS] = {
    [JAV_M] = "budi agus eko joko bambang hendra andi rudi adi dedi arif bayu hadi wahyu teguh "
              "heru bagus agung dani aditya yoga galih gilang rendi sigit ari yudi andri danang "
              "dimas bima satria arya raka danu ardi tri dwi anton irwan bowo gunawan prasetyo "
              "nugroho wibowo yanto edi hari imam kukuh sapto catur febri anang puguh sunu tyas",
    [JAV_F] = "sri dewi rina yuni ani dian ayu indah wulan rini ratna ika eka maya lina novi yanti "
              "sari tika intan citra kartika mega puspita diah endang tutik dwi tri retno wahyu "
              "lestari anik erna ning sekar ajeng laras galuh woro yuli siska desi fitri nanik "
              "tuti umi asih rahayu wiwik",
    [JAV_OLD_M] = "sutrisno sugiyanto suparman sumarno slamet wagiman paijo sarno tukiman "
                  "sudarsono sutarno mulyono purwanto suyanto sunarto suwarno supriyadi sutopo "
                  "kusno darmo ngadiman karso wahyudi haryono widodo sujono sudirman susilo "
                  "sukirman parman marjuki sukardi harjono sumadi kasiman jumadi sukarno sutejo "
                  "mujiono sarijo surono poniman wiryo karyono sugeng tarjo sumardi suroso",
    [JAV_OLD_F] = "sumiati suparmi sumarni tukiyem painem sulastri sutini murni suryani wahyuni "
                  "sumini sukini partini tumini ngatini sriyati kasmi sarinah wagiyem suwarni "
                  "juariyah sumirah poniyem sukarsih rukmini tarsih karsinah suyatmi jumiyati "
                  "mujiyem paini sarmi suciati sulasmi kasiyem sunarti darsih tugiyem rubiyah",
    [JAV_2ND_M] = "santoso setiawan prasetyo nugroho wibowo susanto kurniawan hidayat purnomo "
                  "saputra pratama wicaksono hartono utomo sulistyo wijaya prabowo firmansyah "
                  "cahyono nugraha permadi kusuma widodo suryanto raharjo handoko sasongko "
                  "hermawan laksono setyadi ramadhan adi darmawan wahyudi rahmadi triyono "
                  "mulyadi haryanto subagyo sutrisno",
    [JAV_2ND_F] = "lestari rahayu handayani wahyuni kurniasih setyowati purwati hartati yulianti "
                  "susanti anggraini permatasari wulandari puspitasari rahmawati utami astuti "
                  "safitri ningsih pratiwi kusumawati indrawati sulistyowati novitasari maharani "
                  "fitriani damayanti kartikasari agustina suryani wijayanti andriani nurhayati",
    [SUN_M] = "asep ujang dede cecep yayan dadang ade engkus aep iyan jajang ajat encep usep deden "
              "dadan tatang wawan oman maman agus ahmad rahmat ridwan iwan dodi yana endang ayi "
              "uus mamat rudi herman",
    [SUN_F] = "euis neneng iis enok eneng imas yati entin cucu ai nining lilis yayah teti tuti "
              "nenden rina siti dewi yuyun popon iyam ineu ucu nani nia lia ela dedeh eti",
    [SUN_2ND_M] = "saepudin sopyan hidayat kurniawan suherman permana sukmana suryana setiawan "
                  "gunawan rukmana supriatna sudrajat kusnadi nugraha ramdani firmansyah mulyana "
                  "hermawan saputra ruhiyat sumpena hamdani jaenudin rohman solihin syarifudin",
    [SUN_2ND_F] = "komariah rohaeti rohayati nurhayati sumiati kurniasih suryani mulyani marlina "
                  "rosita nuraeni juariah kartini hasanah maryati fatimah rostini jubaedah aisyah "
                  "halimah sopiah",
    [ISL_M] = "muhammad ahmad abdul hasan ali umar usman ismail ibrahim yusuf sulaiman zainal "
              "syaiful khairul nurdin jamaludin fauzi rahmat ridwan mahmud mansur amir salim "
              "soleh sanusi rohim maruf jaelani sobari udin hamid husin syamsudin abdullah "
              "rahman zakaria sahrul taufik munir arifin sholeh kholid ilyas rasyid yahya",
    [ISL_F] = "siti nur aminah fatimah khadijah aisyah maryam zubaidah rohmah hasanah mariam "
              "salamah halimah saodah maemunah rukayah juleha mumun nurhasanah nurjanah rohayah "
              "zainab romlah masitoh jamilah umi hafsah sofiah nafisah latifah munawaroh sholihah",
    [ISL_2ND_M] = "rahman hidayat fauzi hakim rahim aziz hamid malik karim syukur latif hasan "
                  "ridwan amin ramdhani hasyim arifin nurdin ismail sholeh muhidin syafii ikhsan "
                  "zulkarnain ramli efendi jaelani saputra hanafi mubarok",
    [ISL_2ND_F] = "aminah hasanah fatimah rohmah aisyah khadijah halimah zahra rahmawati nuraini "
                  "azizah mardiyah jamilah hidayati rohimah sholihah maulidia rahmah zakiyah "
                  "lathifah nurlaila mutmainah nurjanah salamah qomariah",
    [MOD_M] = "muhammad ahmad rizki naufal alif rafa fadhil hafiz arkan rayyan fathan daffa faris "
              "haidar zidan ghani raihan farhan ilham fikri zaki haikal dzaky akbar aditya bilal "
              "hamzah azzam kenzie athar alfarizi abizar arsyad nabil syahid yusuf",
    [MOD_F] = "aisyah zahra nayla aqila khalisa azzahra syifa alya kayla athaya adiba qonita "
              "zahira humaira salsabila nabila aulia anisa nadia keisha shakila aqilah hana najwa "
              "fatimah safa raisa alesha kirana naura zivana almira arsyila khansa syakira",
    [MOD_MID_M] = "nur rizki hafiz ramadhan maulana fadhillah azzam al dwi putra abdul rasyid "
                  "ilham akbar satria dzaki arka",
    [MOD_MID_F] = "nur putri aulia azzahra syakira zahra dwi nurul aisyah cahaya salsabila aurelia "
                  "najwa kirana anindya",
    [MOD_LAST_M] = "ramadhan pratama saputra hidayat maulana firdaus akbar hakim hanafi alfarizi "
                   "nugraha permana wijaya kusuma alghifari rizki putra syahputra ardiansyah "
                   "febrian setiawan rahman fadillah aditya prasetya mahendra alfatih zulkarnain "
                   "abdillah",
    [MOD_LAST_F] = "putri ramadhani azzahra aulia anggraini lestari rahmawati febriani septiani "
                   "oktaviani nuraini maharani safitri khairunnisa salsabila fitriani amalia "
                   "kusuma wulandari zahra rahma nabila pertiwi handayani syahputri humaira "
                   "rizkia andini puspita hasna",
    [BTK_M] = "togar maruli parlindungan binsar sahat tumpal hotman poltak martua bonar jonggi "
              "horas robert jhon yohanes daniel samuel yosua hendrik roy frans marihot sintong "
              "david michael andreas rudolf benny lamhot juntak torang ferdinand ucok gomgom tigor",
    [BTK_F] = "rosmawati maria debora ruth lasma rotua tiurma rusmina hotmaida nurmala sondang "
              "rosdiana lamria marlina yohana ester elisabet risma nova melati rosita mega friska "
              "lidia tiar rugun sarma uli intan grace",
    [MARGA] = "siregar simanjuntak nainggolan situmorang sitompul hutapea harahap nasution lubis "
              "pane sihombing simatupang panjaitan sinaga silalahi manurung pardede tampubolon "
              "hutagalung simbolon sitorus gultom sianturi pasaribu marpaung napitupulu purba "
              "saragih ginting tarigan sembiring damanik butarbutar hutabarat lumbantobing "
              "matondang batubara rangkuti daulay sirait hutauruk samosir sihotang aritonang",
    [MIN_M] = "syafrizal zulkifli yusrizal afrizal hendri rahmat fadli zainal syamsul irfan yunus "
              "darwis bustami nofrizal efendi jasman anwar asril defri rizal masri syahrial "
              "yulizar irwandi azwar elfizar jufri mukhlis nasrul yasir zulhendri arman dasrul "
              "erizal gusrizal hasbi ikhwan jonedi khairil yondri",
    [MIN_F] = "rosmaini desfita yulia nurhayati fitriani yusnidar rosna elfi yenni mardiah nelly "
              "syafrida gusnita ernawati rahmawati yulianis zuraida febriyanti yusmaniar "
              "asmaniar delfia elvi fauziah hayati isnaini jusniar khairani lely misnawati "
              "nurmaini rosmiati syofia upik wirdawati yenti zurnelis",
    [CHI_M] = "hendra budi ferry yohan michael kevin vincent jonathan william hengky johny tommy "
              "andy rudy willy steven ricky edward hartono darwin felix gilbert jason sugianto "
              "effendy suwandi gunadi teddy robby aldo",
    [CHI_F] = "lina susan stefanie jessica felicia amelia christine lanny lily meiliana lili "
              "sherly melinda liana wenny yenny linda vivian angela cindy elisabeth monica grace "
              "natalia silvia fransiska yuliana herlina susanti ratna",
    [CHI_FAMILY] = "wijaya gunawan halim santoso salim tanoto kurniawan hartono susanto "
                   "tanuwijaya setiadi lukito sugianto tjahjadi chandra hidayat lim tan ong "
                   "kusuma sutanto tanjaya hermanto widjaja lie gozali liman darmadi tedja "
                   "budiman husin anggono",
    [CHI_OLD_FAMILY] = "tan lim liem ong go oey kwee tjoa the lie ang gouw tjio khoe liauw njoo "
                       "kho sie tio han",
    [CHI_OLD_GIVEN] = "bun swie hong king liong hok kim siang tjoe hwa ing lan mei djien gwan "
                      "tiong kiat hian soen nio bing tjong hoei sioe lian tjwan",
    [ARB_FAMILY] = "alatas assegaf shahab alaydrus alhabsyi baswedan bahasuan alkaff aljufri "
                   "bawazier alhaddad basalamah bafagih",
};

/* A pool's words and the cumulative weights of a Zipf-like choice: the word
 * of rank k weighs 1 / (k + 1.5)^0.9, so the first few repeat a lot. */
typedef struct {
    char text[POOL_TEXT];
    const char *w[POOL_WORDS];
    double cum[POOL_WORDS];
    size_t n;
} pool_t;

typedef struct {
    rng_t rng;
    pool_t pool[N_POOLS];
    size_t villages; /* the first this many of villages[] */
} gen_t;

static void pools_init(gen_t *g)
{
    for (size_t p = 0; p < N_POOLS; p++) {
        pool_t *pl = &g->pool[p];
        snprintf(pl->text, sizeof pl->text, "%s", pool_text[p]);
        double total = 0;
        for (char *s = pl->text; *s && pl->n < POOL_WORDS;) {
            pl->w[pl->n] = s;
            total += pow((double)pl->n + 1.5, -0.9);
            pl->cum[pl->n++] = total;
            s += strcspn(s, " ");
            if (*s)
                *s++ = '\0';
        }
    }
}

static const char *pick(gen_t *g, int pool)
{
    const pool_t *pl = &g->pool[pool];
    double u = unit(&g->rng) * pl->cum[pl->n - 1];
    size_t i = 0;
    while (i + 1 < pl->n && pl->cum[i] <= u)
        i++;
    return pl->w[i];
}

/* Kelurahan of Jakarta Selatan; a resident lives in village k with weight
 * 1/sqrt(k + 1). */
static const char *const villages[] = {
    "Tanjung Barat",  "Lenteng Agung",    "Jagakarsa",        "Srengseng Sawah",
    "Ciganjur",       "Cipedak",          "Pasar Minggu",     "Jati Padang",
    "Pejaten Barat",  "Pejaten Timur",    "Kebagusan",        "Ragunan",
    "Cilandak Timur", "Cilandak Barat",   "Lebak Bulus",      "Pondok Labu",
    "Cipete Selatan", "Gandaria Selatan", "Pondok Pinang",    "Kebayoran Lama Utara",
    "Grogol Utara",   "Cipulir",          "Petukangan Utara", "Pesanggrahan",
    "Bintaro",        "Ulujami",          "Kalibata",         "Rawajati",
    "Duren Tiga",     "Pengadegan"};
#define N_VILLAGES (sizeof villages / sizeof villages[0])

/* Twins with paired names: the first's given name, the second's, their sexes. */
static const struct {
    const char *a, *b;
    char sa, sb;
} twin_pairs[] = {
    {"hasan", "husain", 'm', 'm'},   {"rizki", "rizka", 'm', 'f'},  {"putra", "putri", 'm', 'f'},
    {"fajar", "fajri", 'm', 'm'},    {"dimas", "dinda", 'm', 'f'},  {"rafa", "rafi", 'm', 'm'},
    {"naura", "naila", 'f', 'f'},    {"salsa", "salwa", 'f', 'f'},  {"alif", "alifa", 'm', 'f'},
    {"dewa", "dewi", 'm', 'f'},      {"aldi", "aldo", 'm', 'm'},    {"nadia", "nadila", 'f', 'f'},
    {"fahri", "fahra", 'm', 'f'},    {"rama", "sinta", 'm', 'f'},   {"wahyu", "wahyuni", 'm', 'f'},
    {"andi", "andini", 'm', 'f'},    {"rendi", "randi", 'm', 'm'},  {"dani", "dina", 'm', 'f'},
    {"yusuf", "yunus", 'm', 'm'},    {"kevin", "kenzo", 'm', 'm'},  {"zahra", "zahira", 'f', 'f'},
    {"farhan", "farhana", 'm', 'f'}, {"hasna", "husna", 'f', 'f'},  {"ikhsan", "ikhwan", 'm', 'm'},
    {"nia", "nina", 'f', 'f'},       {"rahmat", "rahmi", 'm', 'f'}, {"adam", "hawa", 'm', 'f'},
    {"aqila", "aulia", 'f', 'f'},    {"arga", "argi", 'm', 'm'},    {"bima", "sakti", 'm', 'm'},
};

/* Leading names so common that twins may both carry them. */
static const char *const common_lead[] = {"muhammad", "ahmad", "abdul", "siti", "nur",
                                          "sri",      "nurul", "dewi",  "putri"};

/* ---- the population --------------------------------------------------------- */

enum { G_JAV, G_SUN, G_BTW, G_BTK, G_MIN, G_CHI, G_ARB, G_COUNT };
static const double group_share[G_COUNT] = {0.39, 0.16, 0.22, 0.08, 0.07, 0.06, 0.02};

typedef struct {
    const char *tok[MAX_TOK];
    uint8_t n;
    int8_t family; /* index of a family name (marga, Chinese, Arab) shared with a twin, -1 none */
    char sex;      /* 'f' or 'm' */
    bool muslim, twin;
    bool in_register; /* the first agency knows this resident */
    uint8_t group, village;
    uint16_t year;
    uint8_t month, day;
} person_t;

static bool has_tok(const person_t *p, const char *t)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->tok[i], t) == 0)
            return true;
    return false;
}

static bool has_dup(const person_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = i + 1; j < p->n; j++)
            if (strcmp(p->tok[i], p->tok[j]) == 0)
                return true;
    return false;
}

/* True when every word of a is also in b. */
static bool subset(const person_t *a, const person_t *b)
{
    for (size_t i = 0; i < a->n; i++)
        if (!has_tok(b, a->tok[i]))
            return false;
    return true;
}

/* Append a word from a pool, avoiding a repeat within the name. */
static void add_pick(gen_t *g, person_t *p, int pool)
{
    if (p->n == MAX_TOK)
        return;
    const char *t = pick(g, pool);
    for (int i = 0; i < 4 && has_tok(p, t); i++)
        t = pick(g, pool);
    if (!has_tok(p, t))
        p->tok[p->n++] = t;
}

/* Share of Muslim children given an Arabic-derived name, by birth year. */
static double modern_share(int year)
{
    return year >= 2005 ? 0.50 : year >= 1995 ? 0.35 : year >= 1980 ? 0.15 : 0.05;
}

/* Fill p->tok for p's group, sex and birth year: how many words, from which
 * pools (docs/linkage.md has the shares). */
static void make_name(gen_t *g, person_t *p)
{
    rng_t *r = &g->rng;
    bool f = p->sex == 'f';
    int y = p->year;
    p->n = 0;
    p->family = -1;
    if (p->muslim &&
        (p->group == G_JAV || p->group == G_SUN || p->group == G_BTW || p->group == G_MIN) &&
        chance(r, modern_share(y))) {
        add_pick(g, p, f ? MOD_F : MOD_M);
        if (chance(r, 0.55))
            add_pick(g, p, f ? MOD_MID_F : MOD_MID_M);
        if (chance(r, 0.80))
            add_pick(g, p, f ? MOD_LAST_F : MOD_LAST_M);
        return;
    }
    switch (p->group) {
    case G_JAV:
        if (chance(r, y < 1965 ? 0.55 : y < 1995 ? 0.20 : 0.08)) { /* one name */
            add_pick(g, p,
                     y < 1980 || chance(r, 0.3) ? (f ? JAV_OLD_F : JAV_OLD_M)
                                                : (f ? JAV_F : JAV_M));
            break;
        }
        add_pick(g, p,
                 y < 1965 && chance(r, 0.6) ? (f ? JAV_OLD_F : JAV_OLD_M) : (f ? JAV_F : JAV_M));
        if (chance(r, y < 1995 ? 0.20 : 0.40))
            add_pick(g, p, f ? JAV_F : JAV_M);
        add_pick(g, p, f ? JAV_2ND_F : JAV_2ND_M);
        break;
    case G_SUN:
        add_pick(g, p, f ? SUN_F : SUN_M);
        if (chance(r, y < 1970 ? 0.35 : 0.12))
            break;
        if (chance(r, 0.15))
            add_pick(g, p, f ? SUN_F : SUN_M);
        add_pick(g, p, f ? SUN_2ND_F : SUN_2ND_M);
        break;
    case G_BTW:
        add_pick(g, p, f ? ISL_F : ISL_M);
        if (chance(r, y < 1970 ? 0.30 : 0.10))
            break;
        if (chance(r, 0.15))
            add_pick(g, p, f ? ISL_F : ISL_M);
        add_pick(g, p, f ? ISL_2ND_F : ISL_2ND_M);
        break;
    case G_BTK:
        add_pick(g, p, p->muslim ? (f ? ISL_F : ISL_M) : (f ? BTK_F : BTK_M));
        if (chance(r, 0.25))
            add_pick(g, p, f ? BTK_F : BTK_M);
        p->family = (int8_t)p->n;
        add_pick(g, p, MARGA);
        break;
    case G_MIN:
        add_pick(g, p, f ? MIN_F : MIN_M);
        if (chance(r, y < 1970 ? 0.40 : 0.25))
            break;
        add_pick(g, p, chance(r, 0.5) ? (f ? MIN_F : MIN_M) : (f ? ISL_2ND_F : ISL_2ND_M));
        break;
    case G_CHI:
        if (y < 1960 && chance(r, 0.5)) { /* Hokkien name, family first */
            p->family = 0;
            add_pick(g, p, CHI_OLD_FAMILY);
            add_pick(g, p, CHI_OLD_GIVEN);
            add_pick(g, p, CHI_OLD_GIVEN);
            break;
        }
        add_pick(g, p, f ? CHI_F : CHI_M);
        if (chance(r, 0.15))
            add_pick(g, p, f ? CHI_F : CHI_M);
        p->family = (int8_t)p->n;
        add_pick(g, p, CHI_FAMILY);
        break;
    default: /* G_ARB */
        add_pick(g, p, chance(r, modern_share(y)) ? (f ? MOD_F : MOD_M) : (f ? ISL_F : ISL_M));
        if (chance(r, 0.3))
            add_pick(g, p, f ? ISL_2ND_F : ISL_2ND_M);
        p->family = (int8_t)p->n;
        add_pick(g, p, ARB_FAMILY);
        break;
    }
    if (p->family >= p->n)
        p->family = -1;
}

static int days_in(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* Ages 0..84: flat to 45, then falling to a twentieth at 84 (Jakarta's
 * pyramid, roughly). Older residents' dates are often the "1 January" or
 * "31 December" written when the day was not known: 10% and 3% of those born
 * before 1975, in both agencies' records (they copy the identity card). */
static void make_birth(rng_t *r, person_t *p)
{
    int age;
    do
        age = (int)below(r, 85);
    while (!chance(r, age < 45 ? 1.0 : 1.0 - 0.95 * (double)(age - 45) / 40.0));
    p->year = (uint16_t)(REF_YEAR - age);
    p->month = (uint8_t)(1 + below(r, 12));
    p->day = (uint8_t)(1 + below(r, (size_t)days_in(p->year, p->month)));
    double u = unit(r);
    if (p->year < 1975 && u < 0.10)
        p->month = 1, p->day = 1;
    else if (p->year < 1975 && u < 0.13)
        p->month = 12, p->day = 31;
}

static uint8_t pick_village(gen_t *g)
{
    double total = 0;
    for (size_t i = 0; i < g->villages; i++)
        total += 1.0 / sqrt((double)i + 1.0);
    double u = unit(&g->rng) * total;
    for (size_t i = 0; i < g->villages; i++)
        if ((u -= 1.0 / sqrt((double)i + 1.0)) < 0)
            return (uint8_t)i;
    return (uint8_t)(g->villages - 1);
}

/* A resident: group, sex, religion (for titles and naming), birth, village,
 * name; absent is the share the register does not know. */
static void make_person(gen_t *g, person_t *p, double absent)
{
    rng_t *r = &g->rng;
    memset(p, 0, sizeof *p);
    double u = unit(r);
    p->group = G_COUNT - 1;
    for (int k = 0; k < G_COUNT; k++)
        if ((u -= group_share[k]) < 0) {
            p->group = (uint8_t)k;
            break;
        }
    p->sex = chance(r, 0.5) ? 'f' : 'm';
    p->muslim = p->group == G_BTK   ? chance(r, 0.30)
                : p->group == G_CHI ? chance(r, 0.05)
                : p->group == G_JAV ? chance(r, 0.90)
                                    : true;
    make_birth(r, p);
    p->village = pick_village(g);
    p->in_register = !chance(r, absent);
    make_name(g, p);
}

/* A twin of p (1.2% of births): same date, village, group and family. 35%
 * get a paired name (Hasan and Husain, Rizki and Rizka; p is renamed to
 * fit), the rest names of their own; of those, same-sex twins keep p's
 * common leading name (Muhammad, Siti, Nur) and, half the time, the last
 * name. Two in three twins are of the same sex. A family name (marga,
 * Chinese, Arab) is always shared. Twins never share their distinguishing
 * name: one twin's words are never all among the other's. The register
 * misses a twin 10% of the time, or half the time when it missed p. */
static void make_twin(gen_t *g, person_t *p, person_t *t)
{
    rng_t *r = &g->rng;
    *t = *p;
    t->twin = p->twin = true;
    t->in_register = p->in_register ? !chance(r, 0.10) : !chance(r, 0.5);
    bool paired = chance(r, 0.35), share_last = chance(r, 0.5);
    size_t n_pairs = sizeof twin_pairs / sizeof twin_pairs[0];
    for (int tries = 0; tries < 20; tries++) {
        size_t pr = paired ? below(r, n_pairs) : n_pairs;
        if (pr < n_pairs) {
            p->sex = twin_pairs[pr].sa;
            t->sex = twin_pairs[pr].sb;
            make_name(g, p);
        } else {
            t->sex = chance(r, 2.0 / 3.0) ? p->sex : (p->sex == 'f' ? 'm' : 'f');
        }
        make_name(g, t);
        if (p->family >= 0 && t->family >= 0)
            t->tok[t->family] = p->tok[p->family];
        else if (share_last && p->n >= 2 && t->n >= 2 && t->sex == p->sex)
            t->tok[t->n - 1] = p->tok[p->n - 1];
        size_t k = p->family == 0 ? 1 : 0; /* Hokkien names: the family name first */
        if (pr < n_pairs && k < p->n && k < t->n) {
            p->tok[k] = twin_pairs[pr].a;
            t->tok[k] = twin_pairs[pr].b;
        } else if (pr == n_pairs && t->sex == p->sex && t->n >= 2 && p->n >= 2) {
            for (size_t c = 0; c < sizeof common_lead / sizeof common_lead[0]; c++)
                if (strcmp(p->tok[0], common_lead[c]) == 0)
                    t->tok[0] = p->tok[0];
        }
        if (!has_dup(p) && !has_dup(t) && !subset(p, t) && !subset(t, p))
            return;
    }
    if (has_dup(p))
        make_name(g, p);
    do
        make_name(g, t);
    while (subset(p, t) || subset(t, p));
}

/* ---- writing a resident down as an agency does ------------------------------ */

/* What an agency plants, as a rate per record in the register (rate[0]) and
 * in the second agency (rate[1]); the counts and the misses are reported
 * under these names. */
enum {
    V_OLD,
    V_MUH,
    V_MUHDROP,
    V_ABD,
    V_VARIANT,
    V_TYPO,
    V_ABBR,
    V_ABBRLAST,
    V_DROP,
    V_SWAP,
    V_TITLE,
    V_JOIN,
    V_SEXMISS,
    V_SEXWRONG,
    V_DATE,
    V_COUNT
};
static const struct {
    const char *name;
    double rate[2];
} plant[V_COUNT] = {
    /* the whole name in the pre-1972 spelling: times old_by_era[] */
    [V_OLD] = {"old_spelling", {1.0, 1.0}},
    /* every Muhammad is spelled by muhammad_spellings[]: counted when not "Muhammad" */
    [V_MUH] = {"muhammad_spelling", {1.0, 1.0}},
    [V_MUHDROP] = {"muhammad_dropped", {0.01, 0.05}}, /* a leading Muhammad left out */
    [V_ABD] = {"abd", {0.10, 0.15}},                  /* Abdul written "Abd." */
    [V_VARIANT] = {"spelling_variant", {0.03, 0.08}}, /* one variant in one word */
    [V_TYPO] = {"typo", {0.03, 0.10}},                /* one slip in one word */
    [V_ABBR] = {"middle_initial", {0.03, 0.10}},      /* three words or more */
    [V_ABBRLAST] = {"last_initial", {0.0, 0.02}},     /* two words or more */
    [V_DROP] = {"middle_dropped", {0.01, 0.05}},      /* three words or more */
    [V_SWAP] = {"order_swapped", {0.01, 0.03}},       /* the last word first */
    [V_TITLE] = {"title", {0.5, 1.0}},                /* times the rates of add_titles */
    /* of names that allow it: "Nur Hasanah" as "Nurhasanah", "Nurhayati" as "Nur Hayati" */
    [V_JOIN] = {"joined_or_split", {0.05, 0.20}},
    [V_SEXMISS] = {"sex_missing", {0.02, 0.10}},
    [V_SEXWRONG] = {"sex_wrong", {0.001, 0.003}},
    [V_DATE] = {"date_error", {0.0, 0.01}}, /* day/month swapped, a day or a year off */
};

/* Old spelling by birth: before 1950, 1950-1972, after. */
static const double old_by_era[3] = {0.45, 0.20, 0.02};

/* Case of the whole name: upper, lower, else title case. */
static const double case_upper[2] = {0.60, 0.45}, case_lower[2] = {0.0, 0.10};

/* How Muhammad is written, with weights. */
static const struct {
    const char *s;
    double w;
} muhammad_spellings[] = {{"muhammad", 40}, {"muhamad", 14}, {"mohammad", 8},  {"mohamad", 6},
                          {"m.", 14},       {"moh.", 5},     {"mochammad", 3}, {"mochamad", 2},
                          {"muh.", 3},      {"mhd.", 2},     {"muhammat", 1},  {"mohd.", 1},
                          {"mukhammad", 1}};

typedef struct {
    char name[RAW_LEN];
    char birth[16];
    char village[64];
    bn_link_sex_t sex;
    uint32_t planted; /* 1 << V_* */
} record_t;

typedef struct {
    char t[MAX_TOK][TOK_LEN];
    size_t n;
} words_t;

/* Modern to old spelling in one pass: sy sj, ny nj, kh ch, c tj, j dj, y j,
 * u oe ("Yusuf Cahyono" is "Jusuf Tjahjono"). */
static void old_spelling(char *w)
{
    char o[TOK_LEN * 2];
    size_t n = 0;
    for (const char *p = w; *p && n + 3 < sizeof o; p++) {
        if ((p[0] == 's' || p[0] == 'n') && p[1] == 'y')
            o[n++] = *p++, o[n++] = 'j';
        else if (p[0] == 'k' && p[1] == 'h')
            o[n++] = 'c', o[n++] = 'h', p++;
        else if (*p == 'c')
            o[n++] = 't', o[n++] = 'j';
        else if (*p == 'j')
            o[n++] = 'd', o[n++] = 'j';
        else if (*p == 'y')
            o[n++] = 'j';
        else if (*p == 'u')
            o[n++] = 'o', o[n++] = 'e';
        else
            o[n++] = *p;
    }
    o[n < TOK_LEN ? n : TOK_LEN - 1] = '\0';
    memcpy(w, o, strlen(o) + 1);
}

static bool vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Replace len bytes at w[at] by to, if the word stays under TOK_LEN. */
static void splice(char *w, size_t at, size_t len, const char *to)
{
    char o[TOK_LEN * 2];
    size_t tl = strlen(to), wl = strlen(w);
    if (wl - len + tl >= TOK_LEN)
        return;
    memcpy(o, w, at);
    memcpy(o + at, to, tl);
    memcpy(o + at + tl, w + at + len, wl - at - len + 1);
    memcpy(w, o, strlen(o) + 1);
}

/* One of the spellings Indonesian names are written in, picked among those
 * that apply to w: final i/y, k/q, dh/d, dz/z, th/t, f/p, v/f, sy/s, kh/h,
 * ai/ae, a final h dropped, iy/i, a doubled consonant single, s doubled. */
static bool spelling_variant(rng_t *r, char *w)
{
    struct {
        size_t at, len;
        const char *to;
    } c[64];
    size_t n = 0, wl = strlen(w);
#define CAND(a, l, t)                                                                              \
    do {                                                                                           \
        if (n < 64)                                                                                \
            c[n].at = (a), c[n].len = (l), c[n].to = (t), n++;                                     \
    } while (0)
    if (wl < 3)
        return false;
    if (w[wl - 1] == 'i')
        CAND(wl - 1, 1, "y");
    if (w[wl - 1] == 'y')
        CAND(wl - 1, 1, "i");
    if (wl >= 5 && w[wl - 1] == 'h' && w[wl - 2] == 'a')
        CAND(wl - 1, 1, "");
    if (w[wl - 1] == 'z')
        CAND(wl - 1, 1, "dz");
    for (size_t i = 0; i < wl; i++) {
        char a = w[i], b = w[i + 1], prev = i ? w[i - 1] : 0;
        if (a == 'k' && (b == '\0' || b == 'i'))
            CAND(i, 1, "q");
        if (a == 'q')
            CAND(i, 1, "k");
        if (a == 'd' && b == 'h')
            CAND(i, 2, "d");
        if (a == 'd' && b == 'z')
            CAND(i, 2, "z");
        if (a == 'd' && vowel(prev) && vowel(b))
            CAND(i, 1, "dh");
        if (a == 't' && b == 'h')
            CAND(i, 2, "t");
        if (a == 't' && vowel(prev) && vowel(b))
            CAND(i, 1, "th");
        if (a == 'f')
            CAND(i, 1, "p");
        if (a == 'v')
            CAND(i, 1, "f");
        if (a == 's' && b == 'y')
            CAND(i, 2, "s");
        if (a == 's' && i == 0 && b == 'a')
            CAND(i, 1, "sy");
        if (a == 'k' && b == 'h')
            CAND(i, 2, "h");
        if (a == 'a' && b == 'i')
            CAND(i, 2, "ae");
        if (a == 'a' && b == 'e')
            CAND(i, 2, "ai");
        if (a == 'i' && b == 'y')
            CAND(i, 2, "i");
        if (a == 'i' && b == 'a' && i > 0 && !vowel(prev))
            CAND(i, 2, "iya");
        if (a == b && !vowel(a))
            CAND(i, 1, "");
        if (a == 's' && vowel(prev) && vowel(b))
            CAND(i, 1, "ss");
    }
#undef CAND
    if (n == 0)
        return false;
    size_t k = below(r, n);
    splice(w, c[k].at, c[k].len, c[k].to);
    return true;
}

/* QWERTY neighbours of each letter. */
static const char *const keys[26] = {
    "qwsz",   "vghn",  "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko",
    "huikmn", "jiolm", "kop",  "njk",    "bhjm", "iklp",   "ol",     "wa",     "edft",
    "awedxz", "rfgy",  "yhji", "cfgb",   "qase", "zsdc",   "tghu",   "asx"};

/* One typing slip in w: 35% a neighbouring key, 25% two letters swapped,
 * 25% a letter dropped, 15% a letter doubled. */
static bool typo(rng_t *r, char *w)
{
    size_t wl = strlen(w);
    if (wl < 3)
        return false;
    double u = unit(r);
    size_t i = below(r, wl);
    if (u < 0.35) {
        if (w[i] < 'a' || w[i] > 'z')
            return false;
        const char *k = keys[w[i] - 'a'];
        w[i] = k[below(r, strlen(k))];
    } else if (u < 0.60) {
        i = below(r, wl - 1);
        if (w[i] == w[i + 1])
            return false;
        char x = w[i];
        w[i] = w[i + 1];
        w[i + 1] = x;
    } else if (u < 0.85) {
        memmove(w + i, w + i + 1, wl - i);
    } else {
        if (wl + 1 >= TOK_LEN)
            return false;
        memmove(w + i + 1, w + i, wl - i + 1);
    }
    return true;
}

static const char *muhammad_spelling(rng_t *r)
{
    size_t n = sizeof muhammad_spellings / sizeof muhammad_spellings[0];
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += muhammad_spellings[i].w;
    double u = unit(r) * total;
    for (size_t i = 0; i < n; i++)
        if ((u -= muhammad_spellings[i].w) < 0)
            return muhammad_spellings[i].s;
    return muhammad_spellings[0].s;
}

static void remove_word(words_t *w, size_t i)
{
    for (size_t j = i; j + 1 < w->n; j++)
        memcpy(w->t[j], w->t[j + 1], TOK_LEN);
    w->n--;
}

/* "Nur Hasanah" -> "Nurhasanah" (Nur, Nurul, Abdul, Al before another
 * word), or "Nurhayati" -> "Nur Hayati" (a word of Nur and four letters or
 * more). False when the name has neither. */
static bool join_or_split(words_t *w)
{
    for (size_t i = 0; i + 1 < w->n; i++) {
        const char *t = w->t[i];
        if ((strcmp(t, "nur") == 0 || strcmp(t, "nurul") == 0 || strcmp(t, "abdul") == 0 ||
             strcmp(t, "al") == 0) &&
            strlen(t) + strlen(w->t[i + 1]) < TOK_LEN) {
            memmove(w->t[i] + strlen(t), w->t[i + 1], strlen(w->t[i + 1]) + 1);
            for (size_t j = i + 1; j + 1 < w->n; j++)
                memcpy(w->t[j], w->t[j + 1], TOK_LEN);
            w->n--;
            return true;
        }
    }
    for (size_t i = 0; i < w->n && w->n < MAX_TOK; i++)
        if (strncmp(w->t[i], "nur", 3) == 0 && strlen(w->t[i]) >= 7) {
            for (size_t j = w->n; j > i + 1; j--)
                memcpy(w->t[j], w->t[j - 1], TOK_LEN);
            memmove(w->t[i + 1], w->t[i] + 3, strlen(w->t[i] + 3) + 1);
            w->t[i][3] = '\0';
            w->n++;
            return true;
        }
    return false;
}

static void initial(char *t)
{
    t[1] = '.';
    t[2] = '\0';
}

/* The words of p as agency a (0 register, 1 second) changes them: spelling,
 * slips, initials, order. Returns the variations planted. */
static uint32_t vary_words(rng_t *r, const person_t *p, int a, words_t *w)
{
#define PLANT(v) (chance(r, plant[v].rate[a]) ? (planted |= 1u << (v), true) : false)
    uint32_t planted = 0;
    w->n = p->n;
    for (size_t i = 0; i < p->n; i++)
        snprintf(w->t[i], TOK_LEN, "%s", p->tok[i]);
    if (chance(r, old_by_era[p->year < 1950 ? 0 : p->year <= 1972 ? 1 : 2])) {
        for (size_t i = 0; i < w->n; i++)
            old_spelling(w->t[i]);
        planted |= 1u << V_OLD;
    }
    bool drop_first = false;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->tok[i], "muhammad") == 0) {
            if (i == 0 && p->n >= 2 && PLANT(V_MUHDROP)) {
                drop_first = true;
                continue;
            }
            const char *s = muhammad_spelling(r);
            if (strcmp(s, "muhammad") != 0) {
                snprintf(w->t[i], TOK_LEN, "%s", s);
                planted |= 1u << V_MUH;
            }
        } else if (strcmp(p->tok[i], "abdul") == 0 && PLANT(V_ABD)) {
            snprintf(w->t[i], TOK_LEN, "abd.");
        }
    }
    if (drop_first)
        remove_word(w, 0);
    if (chance(r, plant[V_JOIN].rate[a]) && join_or_split(w))
        planted |= 1u << V_JOIN;
    if (w->n && chance(r, plant[V_VARIANT].rate[a]) && spelling_variant(r, w->t[below(r, w->n)]))
        planted |= 1u << V_VARIANT;
    if (w->n && chance(r, plant[V_TYPO].rate[a]) && typo(r, w->t[below(r, w->n)]))
        planted |= 1u << V_TYPO;
    if (w->n >= 3 && PLANT(V_DROP))
        remove_word(w, 1 + below(r, w->n - 2));
    else if (w->n >= 3 && PLANT(V_ABBR))
        initial(w->t[1 + below(r, w->n - 2)]);
    if (w->n >= 2 && PLANT(V_ABBRLAST))
        initial(w->t[w->n - 1]);
    if (w->n >= 2 && PLANT(V_SWAP)) {
        char last[TOK_LEN];
        memcpy(last, w->t[w->n - 1], TOK_LEN);
        for (size_t j = w->n - 1; j > 0; j--)
            memcpy(w->t[j], w->t[j - 1], TOK_LEN);
        memcpy(w->t[0], last, TOK_LEN);
    }
#undef PLANT
    return planted;
}

/* Titles, at these rates times s: Haji or Hajjah for Muslims of 40 and over
 * 10%; otherwise Ny. for women of 22 and over 5%; Bapak or Ibu for adults 2%;
 * By. under 1 year 5%; An. under 12 6%; Dr., Ir., Drs. over 35 1%. Then a
 * degree after the name (S.Pd, S.E., A.Md.Keb...) for adults of 23 and over
 * 5%. One title in five is written without a space after its dot. */
static uint32_t add_titles(rng_t *r, const person_t *p, double s, char *pre, size_t precap,
                           char *post, size_t postcap)
{
    static const char *const haji_m[] = {"H.", "H", "Haji", "H."};
    static const char *const haji_f[] = {"Hj.", "Hj", "Hajjah", "Hj."};
    static const char *const degrees[] = {", S.Pd",      ", S.E.",   ", SH",    ", S.Kom",
                                          ", A.Md.Keb.", ", S.Pd.I", ", M.M.",  " S.T.",
                                          ", S.Sos",     " Amd",     ", S.Ag.", ", SKM"};
    static const char *const front[] = {"Dr.", "Ir.", "Drs.", "dr."};
    int age = REF_YEAR - p->year;
    bool f = p->sex == 'f';
    pre[0] = post[0] = '\0';
    uint32_t planted = 0;
    const char *t = NULL;
    if (p->muslim && age >= 40 && chance(r, 0.10 * s))
        t = f ? haji_f[below(r, 4)] : haji_m[below(r, 4)];
    else if (f && age >= 22 && chance(r, 0.05 * s))
        t = "Ny.";
    else if (age >= 25 && chance(r, 0.02 * s))
        t = f ? "Ibu" : "Bpk.";
    else if (age < 1 && chance(r, 0.05 * s))
        t = "By.";
    else if (age < 12 && chance(r, 0.06 * s))
        t = "An.";
    else if (age > 35 && chance(r, 0.01 * s))
        t = front[below(r, 4)];
    if (t) {
        snprintf(pre, precap, "%s%s", t, t[strlen(t) - 1] == '.' && chance(r, 0.2) ? "" : " ");
        planted |= 1u << V_TITLE;
    }
    if (age >= 23 && chance(r, 0.05 * s)) {
        snprintf(post, postcap, "%s", degrees[below(r, sizeof degrees / sizeof degrees[0])]);
        planted |= 1u << V_TITLE;
    }
    return planted;
}

enum { CASE_TITLE, CASE_UPPER, CASE_LOWER };

static void set_case(char *s, int mode)
{
    bool start = true;
    for (char *p = s; *p; p++) {
        bool lower = *p >= 'a' && *p <= 'z', upper = *p >= 'A' && *p <= 'Z';
        bool up = mode == CASE_UPPER || (mode == CASE_TITLE && start);
        if (up && lower)
            *p = (char)(*p - 'a' + 'A');
        else if (!up && upper)
            *p = (char)(*p - 'A' + 'a');
        start = !lower && !upper && *p != '\'';
    }
}

static void write_date(rng_t *r, const person_t *p, bool err, char *out, size_t cap)
{
    int y = p->year, m = p->month, d = p->day;
    if (err && d <= 12 && d != m) {
        int x = d;
        d = m;
        m = x;
    } else if (err && chance(r, 0.5)) {
        d = d > 1 ? d - 1 : d + 1;
    } else if (err) {
        y += chance(r, 0.5) ? 1 : -1;
    }
    snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
}

/* One record of p as agency a writes it: the name with its variations,
 * titles, case and stray spaces (3% a double space between words, 2% one
 * at the end); sex; birth date; village as "Kel. X" (20%), "Kelurahan X"
 * (10%), "KEL X" (5%) or "X", in capitals 40% of the time. */
static void render(gen_t *g, const person_t *p, int a, record_t *out)
{
    rng_t *r = &g->rng;
    words_t w;
    out->planted = vary_words(r, p, a, &w);
    char pre[16], post[24], body[RAW_LEN - 48]; /* so that all three fit in out->name */
    out->planted |= add_titles(r, p, plant[V_TITLE].rate[a], pre, sizeof pre, post, sizeof post);
    size_t bl = 0;
    body[0] = '\0';
    for (size_t i = 0; i < w.n; i++) {
        const char *sep = i == 0 ? "" : chance(r, 0.03) ? "  " : " ";
        int k = snprintf(body + bl, sizeof body - bl, "%s%s", sep, w.t[i]);
        if (k > 0 && (size_t)k < sizeof body - bl)
            bl += (size_t)k;
    }
    snprintf(out->name, sizeof out->name, "%s%s%s%s", pre, body, post, chance(r, 0.02) ? " " : "");
    double u = unit(r);
    set_case(out->name, u < case_upper[a]                   ? CASE_UPPER
                        : u < case_upper[a] + case_lower[a] ? CASE_LOWER
                                                            : CASE_TITLE);

    out->sex = p->sex == 'f' ? BN_LINK_SEX_FEMALE : BN_LINK_SEX_MALE;
    if (chance(r, plant[V_SEXMISS].rate[a])) {
        out->sex = BN_LINK_SEX_UNKNOWN;
        out->planted |= 1u << V_SEXMISS;
    } else if (chance(r, plant[V_SEXWRONG].rate[a])) {
        out->sex = out->sex == BN_LINK_SEX_FEMALE ? BN_LINK_SEX_MALE : BN_LINK_SEX_FEMALE;
        out->planted |= 1u << V_SEXWRONG;
    }
    bool date_err = chance(r, plant[V_DATE].rate[a]);
    if (date_err)
        out->planted |= 1u << V_DATE;
    write_date(r, p, date_err, out->birth, sizeof out->birth);
    u = unit(r);
    const char *prefix = u < 0.20 ? "Kel. " : u < 0.30 ? "Kelurahan " : u < 0.35 ? "KEL " : "";
    snprintf(out->village, sizeof out->village, "%s%s", prefix, villages[p->village]);
    if (chance(r, 0.4))
        set_case(out->village, CASE_UPPER);
}

/* ---- linking and counting ---------------------------------------------------- */

typedef struct {
    size_t residents, show, villages;
    uint64_t seed;
    double upper, lower, absent;
    bool json;
} opts_t;

/* A register record as the hub keeps it: block, normalised name, sex. */
typedef struct {
    char block[BN_LINK_BLOCK_MAX];
    char name[BN_LINK_NAME_MAX];
    bn_link_sex_t sex;
    uint32_t person;
} entry_t;

typedef struct {
    size_t first, twins, with_truth, blocking_misses, no_key, pairs;
    size_t tp, fp, fp_absent, possible, possible_true, no_match;
    size_t planted[V_COUNT], missed[V_COUNT], missed_clean;
    double gen_s, link_s;
} stats_t;

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp(x->block, y->block);
    return c ? c : (x->person > y->person) - (x->person < y->person);
}

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_pair(const char *what, const record_t *b, const char *bn, const entry_t *e,
                      double score)
{
    fprintf(stderr, "%s: \"%s\" (%s) -> %s%s%s score %.3f; planted:", what, b->name, bn,
            e ? "\"" : "", e ? e->name : "no candidate", e ? "\"" : "", score);
    for (int v = 0; v < V_COUNT; v++)
        if (b->planted & (1u << v))
            fprintf(stderr, " %s", plant[v].name);
    fputc('\n', stderr);
}

/* The best register entry in b's block (NULL: none), its score in *best,
 * whether the truth was in the block in *truth_seen. */
static const entry_t *best_candidate(const entry_t *idx, size_t n, const entry_t *me, size_t who,
                                     stats_t *st, double *best, bool *truth_seen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(idx[mid].block, me->block) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const entry_t *found = NULL;
    bn_link_person_t q = {me->name, me->sex};
    for (size_t j = lo; j < n && strcmp(idx[j].block, me->block) == 0; j++) {
        bn_link_person_t c = {idx[j].name, idx[j].sex};
        double s = bn_link_compare(&q, &c).score;
        st->pairs++;
        *truth_seen |= idx[j].person == who;
        if (!found || s > *best) {
            *best = s;
            found = &idx[j];
        }
    }
    return found;
}

/* Link each second record to the register and count against the truth. */
static void evaluate(const opts_t *o, const person_t *pp, const record_t *rb, const entry_t *idx,
                     size_t n, stats_t *st)
{
    size_t shown_fp = 0, shown_fn = 0;
    for (size_t i = 0; i < o->residents; i++) {
        const record_t *b = &rb[i];
        bool truth = pp[i].in_register, truth_seen = false;
        st->with_truth += truth;
        for (int v = 0; v < V_COUNT; v++)
            st->planted[v] += (b->planted >> v) & 1u;
        entry_t me;
        size_t bl = bn_link_block(b->birth, b->village, me.block, sizeof me.block);
        bn_link_name_normalise(b->name, me.name, sizeof me.name);
        me.sex = b->sex;
        const entry_t *best = NULL;
        double score = 0;
        if (bl && me.name[0])
            best = best_candidate(idx, n, &me, i, st, &score, &truth_seen);
        else
            st->no_key++;
        st->blocking_misses += truth && !truth_seen;
        bn_link_verdict_t v = best ? bn_link_verdict(score, o->upper, o->lower) : BN_LINK_NO_MATCH;
        bool right = best && best->person == i;
        if (v == BN_LINK_MATCH && right) {
            st->tp++;
            continue;
        }
        if (v == BN_LINK_MATCH) {
            st->fp++;
            st->fp_absent += !truth;
            if (shown_fp++ < o->show)
                show_pair(truth ? "wrong link" : "wrong link (not in the register)", b, me.name,
                          best, score);
        } else if (v == BN_LINK_POSSIBLE) {
            st->possible++;
            st->possible_true += right;
        } else {
            st->no_match++;
        }
        if (!truth)
            continue;
        st->missed_clean += b->planted == 0;
        for (int k = 0; k < V_COUNT; k++)
            st->missed[k] += (b->planted >> k) & 1u;
        if (truth_seen && v != BN_LINK_MATCH && shown_fn++ < o->show)
            show_pair(v == BN_LINK_POSSIBLE ? "missed (review)" : "missed", b, me.name, best,
                      score);
    }
}

/* Generate, write down, index the register, evaluate. False when out of memory. */
static bool run(const opts_t *o, stats_t *st)
{
    bool ok = false;
    gen_t *g = calloc(1, sizeof *g);
    person_t *pp = calloc(o->residents, sizeof *pp);
    record_t *ra = calloc(o->residents, sizeof *ra), *rb = calloc(o->residents, sizeof *rb);
    entry_t *idx = calloc(o->residents, sizeof *idx);
    if (!g || !pp || !ra || !rb || !idx)
        goto done;
    double t0 = now();
    g->rng.s = o->seed;
    g->villages = o->villages;
    pools_init(g);
    for (size_t i = 0; i < o->residents; i++) {
        make_person(g, &pp[i], o->absent);
        if (i + 1 < o->residents && chance(&g->rng, 0.012)) {
            make_twin(g, &pp[i], &pp[i + 1]);
            i++;
        }
    }
    for (size_t i = 0; i < o->residents; i++)
        render(g, &pp[i], 0, &ra[i]);
    for (size_t i = 0; i < o->residents; i++)
        render(g, &pp[i], 1, &rb[i]);
    st->gen_s = now() - t0;

    t0 = now();
    size_t n = 0;
    for (size_t i = 0; i < o->residents; i++) {
        st->twins += pp[i].twin;
        entry_t *e = &idx[n];
        if (!pp[i].in_register ||
            !bn_link_block(ra[i].birth, ra[i].village, e->block, sizeof e->block))
            continue;
        bn_link_name_normalise(ra[i].name, e->name, sizeof e->name);
        e->sex = ra[i].sex;
        e->person = (uint32_t)i;
        n++;
    }
    st->first = n;
    qsort(idx, n, sizeof *idx, entry_cmp);
    evaluate(o, pp, rb, idx, n, st);
    st->link_s = now() - t0;
    ok = true;
done:
    free(idx);
    free(rb);
    free(ra);
    free(pp);
    free(g);
    return ok;
}

/* ---- report and options ------------------------------------------------------ */

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void report_json(const opts_t *o, const stats_t *s)
{
    size_t links = s->tp + s->fp;
    printf("{\"residents\":%zu,\"villages\":%zu,\"seed\":%llu,\"upper\":%.3f,\"lower\":%.3f,"
           "\"absent\":%.3f,\"twins\":%zu,\"first_records\":%zu,\"second_records\":%zu,"
           "\"true_pairs\":%zu,\"blocking_misses\":%zu,\"unlinkable\":%zu,"
           "\"pairs_compared\":%zu,\"links\":%zu,\"true_positives\":%zu,"
           "\"false_positives\":%zu,\"false_positives_not_in_register\":%zu,"
           "\"false_negatives\":%zu,\"precision\":%.4f,\"recall\":%.4f,"
           "\"recall_in_block\":%.4f,\"possible\":%zu,\"possible_true\":%zu,"
           "\"recall_with_review\":%.4f,\"new_person\":%zu,\"generate_seconds\":%.3f,"
           "\"link_seconds\":%.3f,\"planted\":{",
           o->residents, o->villages, (unsigned long long)o->seed, o->upper, o->lower, o->absent,
           s->twins, s->first, o->residents, s->with_truth, s->blocking_misses, s->no_key, s->pairs,
           links, s->tp, s->fp, s->fp_absent, s->with_truth - s->tp, ratio(s->tp, links),
           ratio(s->tp, s->with_truth), ratio(s->tp, s->with_truth - s->blocking_misses),
           s->possible, s->possible_true, ratio(s->tp + s->possible_true, s->with_truth),
           s->no_match, s->gen_s, s->link_s);
    for (int v = 0; v < V_COUNT; v++)
        printf("%s\"%s\":%zu", v ? "," : "", plant[v].name, s->planted[v]);
    printf("},\"missed\":{\"nothing_planted\":%zu", s->missed_clean);
    for (int v = 0; v < V_COUNT; v++)
        printf(",\"%s\":%zu", plant[v].name, s->missed[v]);
    printf("}}\n");
}

static void report_text(const opts_t *o, const stats_t *s)
{
    size_t links = s->tp + s->fp;
    printf("residents        %zu in %zu villages (seed %llu), %zu of them twins\n", o->residents,
           o->villages, (unsigned long long)o->seed, s->twins);
    printf("records          register %zu, second agency %zu\n", s->first, o->residents);
    printf("thresholds       upper %.3f, lower %.3f\n", o->upper, o->lower);
    printf("pairs compared   %zu in %.3f s (generation %.3f s)\n", s->pairs, s->link_s, s->gen_s);
    printf("true pairs       %zu (%zu outside their block: date errors)\n", s->with_truth,
           s->blocking_misses);
    printf("links            %zu: %zu right, %zu wrong (%zu of those not in the register)\n", links,
           s->tp, s->fp, s->fp_absent);
    printf("precision        %.4f\n", ratio(s->tp, links));
    printf("recall           %.4f (%.4f of the pairs in one block)\n", ratio(s->tp, s->with_truth),
           ratio(s->tp, s->with_truth - s->blocking_misses));
    printf("possible matches %zu, %zu of them right (recall with review %.4f)\n", s->possible,
           s->possible_true, ratio(s->tp + s->possible_true, s->with_truth));
    printf("new person       %zu\n", s->no_match);
    printf("%-20s %8s %8s\n", "planted", "records", "missed");
    for (int v = 0; v < V_COUNT; v++)
        printf("%-20s %8zu %8zu\n", plant[v].name, s->planted[v], s->missed[v]);
    printf("%-20s %8s %8zu\n", "(nothing)", "", s->missed_clean);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: benang-linkage-eval [--residents N] [--seed N] [--upper X] [--lower X]\n"
            "                           [--absent X] [--villages N] [--show N] [--json]\n"
            "Precision and recall of the person linker (hub/linkage.c) on a synthetic\n"
            "population written down by two agencies (docs/linkage.md).\n"
            "  --residents N  residents (default 100000, at most %d)\n"
            "  --seed N       seed of the population and its records (default 1)\n"
            "  --upper X      link at or above this score (default %.2f)\n"
            "  --lower X      possible match at or above this score (default %.2f)\n"
            "  --absent X     share of residents the register does not know (default 0.10)\n"
            "  --villages N   kelurahan the residents live in, 1..%zu (default %zu)\n"
            "  --show N       print up to N wrong links and N misses to stderr\n"
            "  --json         one JSON object on stdout\n",
            MAX_RESIDENTS, BN_LINK_UPPER_DEFAULT, BN_LINK_LOWER_DEFAULT, N_VILLAGES, N_VILLAGES);
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* A whole number lo..hi. */
static bool parse_count(const char *s, double lo, double hi, size_t *out)
{
    double v;
    if (!parse_num(s, lo, hi, &v) || v != floor(v))
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    opts_t o = {.residents = 100000,
                .seed = 1,
                .villages = N_VILLAGES,
                .upper = BN_LINK_UPPER_DEFAULT,
                .lower = BN_LINK_LOWER_DEFAULT,
                .absent = 0.10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            o.json = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "benang-linkage-eval: %s: unknown option or missing value\n", a);
            usage(stderr);
            return 2;
        }
        const char *val = argv[++i];
        bool ok = false;
        if (strcmp(a, "--residents") == 0)
            ok = parse_count(val, 1, MAX_RESIDENTS, &o.residents);
        else if (strcmp(a, "--seed") == 0)
            ok = parse_seed(val, &o.seed);
        else if (strcmp(a, "--upper") == 0)
            ok = parse_num(val, 0, 1, &o.upper);
        else if (strcmp(a, "--lower") == 0)
            ok = parse_num(val, 0, 1, &o.lower);
        else if (strcmp(a, "--absent") == 0)
            ok = parse_num(val, 0, 1, &o.absent);
        else if (strcmp(a, "--villages") == 0)
            ok = parse_count(val, 1, N_VILLAGES, &o.villages);
        else if (strcmp(a, "--show") == 0)
            ok = parse_count(val, 0, 1e6, &o.show);
        if (!ok) {
            fprintf(stderr, "benang-linkage-eval: %s \"%s\": unknown option or bad value\n", a,
                    val);
            usage(stderr);
            return 2;
        }
    }
    if (o.lower > o.upper) {
        fprintf(stderr, "benang-linkage-eval: --lower %.3f is above --upper %.3f\n", o.lower,
                o.upper);
        return 2;
    }
    stats_t st;
    memset(&st, 0, sizeof st);
    if (!run(&o, &st)) {
        fprintf(stderr, "benang-linkage-eval: out of memory for %zu residents\n", o.residents);
        return 1;
    }
    if (o.json)
        report_json(&o, &st);
    else
        report_text(&o, &st);
    return 0;
}
