/* test_linker: bn_linker_resolve on a real store and pending index.
 *
 * A NIK subject (its subject_key the NIK's pseudonym) keeps that key with
 * method NIK, leaves one person entry in the pending index (block = birth
 * date + village, value = key, sex, normalised name: built here from the
 * subject's fields, independently of linker.c) and links the agency's
 * record number to the key; the same record again adds nothing, another
 * spelling of the name is another entry, another agency's record number
 * links to the same key. A NIK subject without a birth date has no block
 * and no entry. A subject without a NIK gets a deterministic key of its own
 * (method NEW), the same one again on a second store with the same key file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkage.h"
#include "linker.h"
#include "pend.h"
#include "pseudonym.h"
#include "store.h"
#include "testutil.h"

static const char KEY_A[] = "3f1c6a0e9b7d4c2a8e5f1b3d7c9a0e2f4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";

typedef struct {
    bn_store_t *store;
    bn_pend_t *pend;
    bn_linker_seen_t *seen;
    bn_linker_options_t opt;
    bn_pseudonym_t *pseudo;
    bool prepared; /* resolve with a bn_linker_prepare() made here (the hub's way) */
} fix_t;

static int fix_open(fix_t *f, const char *dir, const char *name)
{
    memset(f, 0, sizeof *f);
    char path[600], keyfile[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(keyfile, sizeof keyfile, "%s/%s.key", dir, name);
    bn_store_options_t so = {.dir = path, .map_size = 1ull << 28};
    bn_error_t err;
    f->seen = calloc(1, sizeof *f->seen);
    if (bn_store_open(&f->store, &so, &err) != BN_OK || bn_pend_new(&f->pend, &err) != BN_OK ||
        bn_pseudonym_new(&f->pseudo, keyfile, &err) != BN_OK || !f->seen) {
        fprintf(stderr, "fixture %s: %s\n", name, err.msg);
        return -1;
    }
    f->opt = (bn_linker_options_t){
        .upper = 0.9, .lower = 0.7, .max_block = 50, .seen = f->seen, .pend = f->pend};
    return 0;
}

static void fix_close(fix_t *f)
{
    bn_pend_destroy(&f->pend);
    bn_store_destroy(&f->store);
    bn_pseudonym_destroy(&f->pseudo);
    free(f->seen);
}

typedef struct {
    char key[BN_SUBJECT_KEY_HEX];
    Benang__V1__LinkMethod method;
    size_t gathered; /* pending entries after the resolve */
    bn_status_t st;
} outcome_t;

/* Resolve s for agency in one committed transaction. */
static outcome_t resolve(fix_t *f, const Benang__V1__Subject *s, const char *agency)
{
    outcome_t o = {.st = BN_INTERNAL};
    bn_error_t err;
    bn_store_txn_t *t = NULL;
    if (bn_store_begin(f->store, &t, &err) != BN_OK)
        return o;
    char linked[BN_SUBJECT_KEY_HEX];
    Benang__V1__Linkage link;
    bn_linker_prep_t prep;
    if (f->prepared)
        bn_linker_prepare(s, agency, &prep);
    o.st = bn_linker_resolve(&f->opt, f->pseudo, t, agency, 7, "2026-11-29T00:00:00Z", s,
                             f->prepared ? &prep : NULL, o.key, &link, linked, &err);
    o.method = link.method;
    if (o.st == BN_OK)
        o.st = bn_store_commit(&t, &err);
    else
        bn_store_abort(&t);
    o.gathered = bn_pend_gathered(f->pend);
    return o;
}

/* The person entry the linker should have made for s under key. */
static bool holds_person(const fix_t *f, const Benang__V1__Subject *s, const char *key)
{
    char block[BN_LINK_BLOCK_MAX], name[BN_LINK_NAME_MAX];
    size_t bl = bn_link_block(s->birth_date, s->village, block, sizeof block);
    bn_link_name_normalise(s->name, name, sizeof name);
    uint8_t val[64 + 1 + BN_LINK_NAME_MAX];
    memcpy(val, key, 64);
    val[64] = (uint8_t)(s->sex == BENANG__V1__SEX__SEX_FEMALE ? BN_LINK_SEX_FEMALE
                        : s->sex == BENANG__V1__SEX__SEX_MALE ? BN_LINK_SEX_MALE
                                                              : BN_LINK_SEX_UNKNOWN);
    size_t nl = strlen(name);
    memcpy(val + 65, name, nl);
    return bl && bn_pend_people_has(f->pend, block, bl, val, 65 + nl);
}

/* The key the store links agency's record number to ("" when none). */
static void local_link(fix_t *f, const char *agency, const char *local_id, char out[65])
{
    out[0] = '\0';
    char k[200];
    int kl = snprintf(k, sizeof k, "%s%c%s", agency, '\0', local_id);
    bn_error_t err;
    bn_store_txn_t *t = NULL;
    const uint8_t *v;
    size_t vl;
    if (bn_store_begin(f->store, &t, &err) != BN_OK)
        return;
    if (bn_store_txn_get(t, BN_DB_LOCALIDS, k, (size_t)kl, &v, &vl, &err) == BN_OK && vl == 64) {
        memcpy(out, v, 64);
        out[64] = '\0';
    }
    bn_store_abort(&t);
}

static void test_nik_subject(const char *dir, bool prepared)
{
    Benang__V1__Subject s = BENANG__V1__SUBJECT__INIT;
    s.subject_key = (char *)KEY_A;
    s.name = "  Siti   AMINAH ";
    s.birth_date = "2019-03-14";
    s.village = "Tanjung Barat";
    s.sex = BENANG__V1__SEX__SEX_FEMALE;
    s.local_id = "RM-0012345";

    fix_t f;
    if (fix_open(&f, dir, prepared ? "nikp" : "nik") != 0)
        return;
    f.prepared = prepared;
    outcome_t a = resolve(&f, &s, "puskesmas-a");
    CHECK(a.st == BN_OK);
    CHECK(strcmp(a.key, KEY_A) == 0);
    CHECK(a.method == BENANG__V1__LINK_METHOD__LINK_METHOD_NIK);
    CHECK_EQ_U64(a.gathered, 1);
    CHECK(holds_person(&f, &s, KEY_A));
    char l[65];
    local_link(&f, "puskesmas-a", "RM-0012345", l);
    CHECK(strcmp(l, KEY_A) == 0);

    /* The same record again: nothing new gathered. */
    CHECK_EQ_U64(resolve(&f, &s, "puskesmas-a").gathered, 1);
    /* The same person under another spelling is a new entry. */
    s.name = "Siti Aminah binti Ahmad";
    CHECK_EQ_U64(resolve(&f, &s, "puskesmas-a").gathered, 2);
    CHECK(holds_person(&f, &s, KEY_A));
    /* Another agency's record of the same person: the entry is held already,
     * and that agency's record number links to the key too. */
    CHECK_EQ_U64(resolve(&f, &s, "rsud-b").gathered, 2);
    local_link(&f, "rsud-b", "RM-0012345", l);
    CHECK(strcmp(l, KEY_A) == 0);

    /* A NIK subject without a birth date has no block: no person entry. */
    Benang__V1__Subject n = BENANG__V1__SUBJECT__INIT;
    n.subject_key = (char *)KEY_A;
    n.name = "Dewi";
    n.village = "Cilandak";
    outcome_t o = resolve(&f, &n, "puskesmas-a");
    CHECK(o.st == BN_OK && strcmp(o.key, KEY_A) == 0);
    CHECK_EQ_U64(o.gathered, 2);
    fix_close(&f);
}

static void test_no_nik(const char *dir, bool prepared)
{
    Benang__V1__Subject s = BENANG__V1__SUBJECT__INIT;
    s.name = "Budi Santoso";
    s.birth_date = "2018-07-01";
    s.village = "Cilandak";
    s.sex = BENANG__V1__SEX__SEX_MALE;
    fix_t f, g;
    const char *n1 = prepared ? "nonikp" : "nonik", *n2 = prepared ? "nonikp2" : "nonik2";
    if (fix_open(&f, dir, n1) != 0)
        return;
    f.prepared = prepared;
    outcome_t p = resolve(&f, &s, "puskesmas-a");
    CHECK(p.st == BN_OK && strlen(p.key) == 64 && strcmp(p.key, KEY_A) != 0);
    CHECK(p.method == BENANG__V1__LINK_METHOD__LINK_METHOD_NEW);
    CHECK(holds_person(&f, &s, p.key));
    fix_close(&f);
    /* Deterministic: a second store with the same key file gives the same key. */
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/%s.key", dir, n1);
    snprintf(b, sizeof b, "%s/%s.key", dir, n2);
    if (rename(a, b) != 0 || fix_open(&g, dir, n2) != 0)
        return;
    g.prepared = prepared;
    outcome_t q = resolve(&g, &s, "puskesmas-a");
    CHECK(q.st == BN_OK && strcmp(q.key, p.key) == 0);
    fix_close(&g);
}

int main(void)
{
    char *dir = bn_test_tmpdir("linker");
    /* Each twice: the linker making its inputs, and given them made apart
     * (the hub makes them on the ingest thread). */
    for (int prepared = 0; prepared < 2; prepared++) {
        test_nik_subject(dir, prepared);
        test_no_nik(dir, prepared);
    }
    bn_test_rmrf(dir);
    free(dir);
    return bn_test_finish("test_linker");
}
