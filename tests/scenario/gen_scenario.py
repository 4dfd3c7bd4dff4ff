#!/usr/bin/python3
"""gen_scenario.py: a month of the demo kelurahan's traffic, with planted findings.

    gen_scenario.py --seed N --out DIR [--month 2026-10]

Builds a synthetic population of Tanjung Barat (Jakarta Selatan) and the
month of traffic its agencies send to benang, each in its own format:

  puskesmas-tanjung-barat  FHIR R4 transaction Bundles (Patient + Immunization),
                           ServiceRequest referrals to sudin-sosial-jaksel and
                           rsud-pasar-minggu, program plans (canonical-json)
  klinik-sehat-bersama     FHIR Immunization (contained Patient) or batch Bundles,
                           a third of them without a NIK; programs (canonical-json)
  rsud-pasar-minggu        HL7 v2.5.1 VXU^V04 (a day's messages per file),
                           REF^I12 referrals out, REF^I13 answers to the Puskesmas
  sdn-tanjung-barat-01     BIAS lists: ';' CSV with a BOM and CRLF; programs
  blk-jakarta-selatan      participant lists: ',' CSV; programs
  yayasan-tani-kota        participant exports: its own JSON, 40% without NIK; programs
  sudin-sosial-jaksel      FHIR Task updates answering referrals; programs

Reproducible: the same seed and month give byte-identical output. Writes into
DIR/payloads/ one file per agency per batch (a day's bundle, a class list, one
referral message...) named NNNN-<UTC time>-<agency>-<what>.<ext>, so that
sorting the names gives the order to publish in (chronological by the latest
event time in each file: the hub's unanswered-referral timer runs on event
time), and:

  DIR/manifest.json  the files in order: agency, adapter, the events each must
                     become (type, source_id, whether it carries a NIK, referral
                     id and status), and the counts per agency and type
  DIR/planted.json   the planted findings {id, kind, rule, members: [[agency,
                     source_id], ...], note}, the planted near-misses (same
                     shape, with what makes them near), the expected end state
                     of every referral thread, and the counts

Background traffic is built so that it cannot raise a finding by accident:
each child gets each dose once, one person's trainings of one category never
overlap, no two agencies' programs share a sector, target group and area in
overlapping periods, every referral is answered well within 72 hours, and no
two people of the same birth date have names the hub's linker could confuse
(checked with a port of hub/linkage.c below).
"""
import argparse
import calendar
import datetime as dt
import json
import os
import random
import shutil
import sys

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
UTC = dt.timezone.utc

PKM = "puskesmas-tanjung-barat"
KLINIK = "klinik-sehat-bersama"
RSUD = "rsud-pasar-minggu"
SDN = "sdn-tanjung-barat-01"
BLK = "blk-jakarta-selatan"
YTK = "yayasan-tani-kota"
SOS = "sudin-sosial-jaksel"

DEFAULT_ADAPTER = {PKM: "fhir", KLINIK: "fhir", RSUD: "hl7v2", SDN: "csv", BLK: "csv",
                   YTK: "json", SOS: "fhir"}

VILLAGE = "Tanjung Barat"
N_RW = 10
CVX = "http://hl7.org/fhir/sid/cvx"
NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
ADMIN_CODE_EXT = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
ICD10 = "http://hl7.org/fhir/sid/icd-10"

RULE_OF_KIND = {
    "duplicate_service": "duplicate-immunisation-dose",
    "overlapping_training": "overlapping-training",
    "overlapping_program": "overlapping-program",
    "unanswered_referral": "unanswered-referral",
}

# ---------------------------------------------------------------------------
# Person linkage, as hub/linkage.c does it (normalisation, Jaro-Winkler, the
# pair score). Used to keep background records apart and to check that every
# planted spelling variant links. Keep in step with hub/linkage.c.
# ---------------------------------------------------------------------------

LEADING_TITLES = set("""h hj haji hajah hja hajjah hayah hayi dr drs dra drg ir prof bpk bapak pak
ibu bu ny nya nyonya nn nona sdr sdri sdra saudara saudari tn tuan an anak by bayi kh kiai kyai ust
ustad ustadz ustaz ustadzah ustazah raden rr""".split())
ANY_TITLES = {"alm", "almh", "almarhum", "almarhumah"}
CONNECTORS = {"bin", "binti", "bt", "bte", "binte", "bint"}
DEGREES = set("""spd spdi spdsd sag sh shi se sei sak mm mba msi mpd mpdi mkes mkom mh mag mt msc
skom st ssos ssi skm skep sked sfarm sip sikom shut stp spt sp spog spa amd amdkeb amdkep amkeb
amkep amg amf apt ners ns phd bsc llm lc drs dra ir dr prof mpsi spsi ssn sds""".split())
MUHAMMAD_FORMS = set("""muhammad muhamad mohammad mohamad mochammad mochamad mokhamad mukhamad
muchammad muchamad muhammat muhamat mohamat mohammed mohamed muhammed muhamed mohd muhd mhd moh
moch mokh muh much mukh mhmd mochd md moehammad moehamad""".split())
OLD_SPELLING = [("oe", "u"), ("dj", "j"), ("tj", "c"), ("sj", "sy"), ("nj", "ny"), ("ch", "kh")]
PHONETIC = [("j", "y"), ("dh", "d"), ("q", "k"), ("ae", "ai"), ("f", "p"), ("v", "p")]


def _collapse(t):
    out = []
    for ch in t:
        if out and ch == out[-1] and "a" <= ch <= "z":
            continue
        out.append(ch)
    return "".join(out)


def _rewrite(t, full=True):
    for _ in range(64):
        before = t
        t = _collapse(t)
        for a, b in OLD_SPELLING:
            t = t.replace(a, b)
        if full:
            for a, b in PHONETIC:
                t = t.replace(a, b)
            if len(t) >= 3 and t.endswith("y"):
                t = t[:-1] + "i"
        if t == before:
            break
    return t


def _rewrite_token(t):
    muh = t in MUHAMMAD_FORMS
    t = _rewrite(t)
    if muh or t in MUHAMMAD_FORMS:
        return "muhamad"
    return "abdul" if t == "abd" else t


def normalise_name(name):
    """bn_link_name_normalise for ASCII names."""
    tokens = []
    chunks, cur = [], []
    for ch in name + " ":
        c = ch.lower()
        if ("a" <= c <= "z") or ("0" <= c <= "9"):
            cur.append(c)
        elif c in ".-":
            if cur and cur[-1] != ".":
                cur.append(".")
        elif c in "'`":
            continue
        elif cur:
            chunks.append("".join(cur))
            cur = []
    for chunk in chunks:
        if tokens:
            key = chunk.replace(".", "")
            if key in DEGREES or _rewrite_token(key) in DEGREES:
                continue
        for raw in chunk.split("."):
            if not raw:
                continue
            t = _rewrite_token(raw)
            if raw in ANY_TITLES or t in ANY_TITLES:
                continue
            if not tokens and (raw in LEADING_TITLES or t in LEADING_TITLES):
                continue
            if tokens and (raw in CONNECTORS or t in CONNECTORS or raw in DEGREES or t in DEGREES):
                continue
            tokens.append(t)
    if tokens and tokens[0] == "m":
        tokens[0] = "muhamad"
    return " ".join(tokens)


def _jw(a, b, min_range=0):
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    rng_ = max(len(a), len(b)) // 2 - 1 if max(len(a), len(b)) // 2 > 0 else 0
    rng_ = max(rng_, min_range)
    am, bm = [False] * len(a), [False] * len(b)
    m = 0
    for i, ca in enumerate(a):
        for j in range(max(0, i - rng_), min(len(b), i + rng_ + 1)):
            if not bm[j] and b[j] == ca:
                am[i] = bm[j] = True
                m += 1
                break
    if m == 0:
        return 0.0
    half, k = 0, 0
    for i, ca in enumerate(a):
        if not am[i]:
            continue
        while not bm[k]:
            k += 1
        if ca != b[k]:
            half += 1
        k += 1
    jaro = (m / len(a) + m / len(b) + (m - half // 2) / m) / 3.0
    if jaro <= 0.7:
        return jaro
    p = 0
    while p < 4 and p < len(a) and p < len(b) and a[p] == b[p]:
        p += 1
    return jaro + p * 0.1 * (1.0 - jaro)


def _aligned(a, b, initials):
    def ok(w):
        return any(len(x) > 1 for x in w) and len(w) > 1
    initials = initials and ok(a) and ok(b)
    n = len(a)
    sim = [[0.0] * n for _ in range(n)]
    ini = [[False] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            ini[i][j] = initials and (len(a[i]) == 1) != (len(b[j]) == 1) and a[i][0] == b[j][0]
            sim[i][j] = 1.0 if ini[i][j] else _jw(a[i], b[j], 1)

    def score(perm):
        return sum(sim[i][perm[i]] for i in range(n)) / n - 0.03 * sum(ini[i][perm[i]] for i in range(n))
    best = score(list(range(n)))
    if 1 < n <= 5:
        import itertools
        other = max(score(p) for p in itertools.permutations(range(n)))
        if other - 0.02 > best:
            best = other - 0.02
    return best


def name_similarity(an, bn):
    a, b = an.split()[:8], bn.split()[:8]
    if not a or not b:
        return 0.0
    if len(a) == len(b):
        return _aligned(a, b, True)
    best = 0.0
    lg, sh = (a, b) if len(a) > len(b) else (b, a)
    if len(lg) == len(sh) + 1:
        for i in range(len(lg)):
            middle = 0 < i < len(lg) - 1
            if not middle and lg[i] != "muhamad":
                continue
            w = lg[:i] + lg[i + 1:]
            best = max(best, _aligned(w, sh, False) - 0.05)
    s = _jw("".join(a), "".join(b)) - 0.03
    return max(s, best)


def link_score(name_a, sex_a, name_b, sex_b):
    """bn_link_compare on raw names; sex 'F', 'M' or None (unknown)."""
    s = name_similarity(normalise_name(name_a), normalise_name(name_b))
    if sex_a and sex_b and sex_a != sex_b:
        s -= 0.15
    return max(s, 0.0)


LINK_UPPER, LINK_LOWER = 0.92, 0.80

# ---------------------------------------------------------------------------
# Names (drawn from the lists of tools/linkage_eval.c, shortened)
# ---------------------------------------------------------------------------

W = str.split
NAMES = {
    "jav_m": W("budi agus eko joko bambang hendra andi rudi adi dedi arif bayu hadi wahyu teguh heru "
               "bagus agung dani yoga galih gilang rendi sigit yudi andri danang dimas bima satria "
               "arya raka danu ardi anton irwan gunawan prasetyo nugroho yanto edi hari imam kukuh"),
    "jav_f": W("sri dewi rina yuni ani dian ayu indah wulan rini ratna ika eka maya lina novi yanti "
               "sari tika intan citra kartika mega puspita diah endang tutik retno lestari anik erna "
               "sekar ajeng laras galuh yuli siska desi fitri nanik tuti umi asih rahayu wiwik"),
    "jav_old_m": W("sutrisno sugiyanto suparman sumarno slamet wagiman paijo sarno tukiman sudarsono "
                   "sutarno mulyono purwanto suyanto sunarto suwarno supriyadi sutopo kusno darmo "
                   "ngadiman karso haryono widodo sujono sudirman susilo sukirman parman sukardi"),
    "jav_old_f": W("sumiati suparmi sumarni tukiyem painem sulastri sutini murni suryani wahyuni sumini "
                   "sukini partini tumini ngatini sriyati kasmi sarinah wagiyem suwarni juariyah sumirah"),
    "jav_last_m": W("santoso setiawan prasetyo nugroho wibowo susanto kurniawan hidayat purnomo saputra "
                    "pratama wicaksono hartono utomo sulistyo wijaya prabowo firmansyah cahyono nugraha "
                    "permadi kusuma suryanto raharjo handoko sasongko hermawan laksono ramadhan darmawan"),
    "jav_last_f": W("lestari rahayu handayani wahyuni kurniasih setyowati purwati hartati yulianti "
                    "susanti anggraini permatasari wulandari puspitasari rahmawati utami astuti safitri "
                    "ningsih pratiwi kusumawati indrawati novitasari maharani fitriani damayanti"),
    "sun_m": W("asep ujang dede cecep yayan dadang ade engkus aep iyan jajang ajat encep usep deden "
               "dadan tatang wawan oman maman ridwan iwan dodi yana"),
    "sun_f": W("euis neneng iis enok eneng imas yati entin cucu nining lilis yayah teti nenden yuyun "
               "popon nani nia lia ela dedeh eti"),
    "sun_last": W("saepudin sopyan suherman permana sukmana suryana rukmana supriatna sudrajat kusnadi "
                  "ramdani mulyana ruhiyat sumpena hamdani jaenudin rohman solihin"),
    "isl_m": W("muhammad ahmad abdul hasan ali umar usman ismail ibrahim yusuf sulaiman zainal syaiful "
               "khairul nurdin jamaludin fauzi rahmat mahmud mansur amir salim soleh sanusi hamid "
               "husin syamsudin abdullah zakaria sahrul taufik munir arifin kholid ilyas rasyid yahya"),
    "isl_f": W("siti nur aminah fatimah khadijah aisyah maryam zubaidah rohmah hasanah halimah saodah "
               "maemunah rukayah juleha zainab romlah masitoh jamilah hafsah sofiah nafisah latifah"),
    "isl_last": W("rahman hidayat fauzi hakim rahim aziz hamid malik karim syukur latif hasan amin "
                  "ramdhani hasyim arifin nurdin ismail sholeh muhidin syafii ikhsan zulkarnain ramli"),
    "mod_m": W("muhammad ahmad rizki naufal alif rafa fadhil hafiz arkan rayyan fathan daffa faris "
               "haidar zidan ghani raihan farhan ilham fikri zaki haikal akbar bilal hamzah azzam "
               "kenzie athar abizar arsyad nabil syahid"),
    "mod_f": W("aisyah zahra nayla aqila khalisa syifa alya kayla athaya adiba qonita zahira humaira "
               "salsabila nabila aulia anisa nadia keisha shakila hana najwa safa raisa alesha kirana "
               "naura zivana almira arsyila khansa syakira"),
    "mod_mid_m": W("nur rizki hafiz maulana azzam dwi putra abdul rasyid ilham satria arka"),
    "mod_mid_f": W("nur putri aulia azzahra dwi nurul cahaya salsabila aurelia najwa kirana anindya"),
    "mod_last_m": W("ramadhan pratama saputra hidayat maulana firdaus akbar hakim hanafi alfarizi "
                    "nugraha permana wijaya kusuma alghifari syahputra ardiansyah febrian setiawan "
                    "rahman fadillah aditya prasetya mahendra alfatih abdillah"),
    "mod_last_f": W("putri ramadhani azzahra aulia anggraini lestari rahmawati febriani septiani "
                    "oktaviani nuraini maharani safitri khairunnisa salsabila fitriani amalia kusuma "
                    "wulandari rahma nabila pertiwi handayani syahputri rizkia andini puspita hasna"),
    "btk_m": W("togar maruli parlindungan binsar sahat tumpal hotman poltak martua bonar horas robert "
               "yohanes daniel samuel yosua hendrik frans david michael andreas benny"),
    "btk_f": W("rosmawati maria debora ruth lasma rotua tiurma rusmina sondang rosdiana lamria marlina "
               "yohana ester risma nova melati friska lidia"),
    "btk_marga": W("siregar simanjuntak nainggolan situmorang sitompul hutapea harahap nasution lubis "
                   "sihombing simatupang panjaitan sinaga silalahi manurung pardede tampubolon "
                   "hutagalung simbolon sitorus gultom sianturi pasaribu marpaung napitupulu"),
    "chi_m": W("hendra budi ferry yohan michael kevin vincent jonathan william hengky tommy andy rudy "
               "steven ricky edward darwin felix jason teddy"),
    "chi_f": W("lina susan stefanie jessica felicia amelia christine lanny lily meiliana sherly "
               "melinda liana wenny linda vivian angela cindy monica grace"),
    "chi_family": W("wijaya gunawan halim santoso salim tanoto kurniawan hartono susanto tanuwijaya "
                    "setiadi lukito sugianto chandra lim tan kusuma sutanto hermanto budiman"),
}


def cap(w):
    return w[:1].upper() + w[1:]


def make_name(rng, sex, cohort):
    """A name for one person: cohort 'baby', 'child', 'adult' or 'elder'."""
    f = sex == "F"
    pick = lambda k: rng.choice(NAMES[k])  # noqa: E731
    r = rng.random()
    if cohort in ("baby", "child") and r < (0.75 if cohort == "baby" else 0.55):
        parts = [pick("mod_f" if f else "mod_m")]
        if rng.random() < 0.45:
            parts.append(pick("mod_mid_f" if f else "mod_mid_m"))
        parts.append(pick("mod_last_f" if f else "mod_last_m"))
    elif cohort == "elder" and r < 0.45:
        parts = [pick("jav_old_f" if f else "jav_old_m")]
        if rng.random() < 0.3:
            parts.append(pick("jav_last_f" if f else "jav_last_m"))
    else:
        r = rng.random()
        if r < 0.45:
            parts = [pick("jav_f" if f else "jav_m"), pick("jav_last_f" if f else "jav_last_m")]
        elif r < 0.62:
            parts = [pick("sun_f" if f else "sun_m"), pick("sun_last")]
        elif r < 0.82:
            parts = [pick("isl_f" if f else "isl_m"), pick("isl_last")]
        elif r < 0.92:
            parts = [pick("btk_f" if f else "btk_m"), pick("btk_marga")]
        else:
            parts = [pick("chi_f" if f else "chi_m"), pick("chi_family")]
    # no word twice ("Hasan Hasan")
    out = []
    for p in parts:
        if p not in out:
            out.append(p)
    return " ".join(cap(p) for p in out)


def _old_spelling_variants(word):
    """Spellings of one word from before 1972 that the linker reads as the word."""
    w = word.lower()
    outs = []
    if "u" in w:
        i = w.index("u")
        outs.append(w[:i] + "oe" + w[i + 1:])
    if "j" in w:
        outs.append(w.replace("j", "dj", 1))
    if "c" in w:
        outs.append(w.replace("c", "tj", 1))
    if w.startswith("y") or "ya" in w or "yu" in w:
        outs.append(w.replace("y", "j", 1))
    if "sy" in w:
        outs.append(w.replace("sy", "sj", 1))
    if "kh" in w:
        outs.append(w.replace("kh", "ch", 1))
    if w.endswith("i") and len(w) > 3:
        outs.append(w[:-1] + "y")
    if "f" in w:
        outs.append(w.replace("f", "p", 1))
    for d in "lmnst":
        if d in w[1:-1] and d + d not in w:
            i = w.index(d, 1)
            outs.append(w[:i] + d + w[i:])
            break
    return [cap(o) for o in outs if o != w]


def variant_name(rng, name, cohort, sex=None, allow_order=False):
    """Another way an agency writes the same name; the linker's normalised
    form stays the same (or the order changes, allow_order)."""
    words = name.split()
    target = normalise_name(name)
    options = []
    for i, wd in enumerate(words):
        for v in _old_spelling_variants(wd):
            options.append(" ".join(words[:i] + [v] + words[i + 1:]))
    if words[0].lower() in ("muhammad", "muhamad"):
        for form in ("Muhamad", "Mochamad", "Moh.", "M.", "Mohammad"):
            options.append(" ".join([form] + words[1:]))
    if cohort in ("baby", "child"):
        options.append("An. " + name)
    else:
        if sex == "F":
            options.append(rng.choice(["Ibu ", "Hj. ", "Ny. "]) + name)
        elif sex == "M":
            options.append(rng.choice(["Bpk. ", "H. ", "Tn. "]) + name)
        options.append(name + ", S.Pd.")
        options.append(name + ", S.E.")
    options.append(name.upper())
    rng.shuffle(options)
    for o in options:
        if o != name and normalise_name(o) == target:
            # one more change on top, half of the time
            if rng.random() < 0.4:
                o = o.upper()
            return o
    if allow_order and len(words) >= 2:
        return words[-1] + ", " + " ".join(words[:-1])
    return name.upper()


# ---------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------

class Person:
    __slots__ = ("pid", "nik", "name", "sex", "birth", "rw", "rt", "street", "cohort", "nisn",
                 "grade", "rm_pkm", "rm_klinik", "mr_rsud", "member_ytk", "reserved")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


STREETS = W("Melati Kenanga Mawar Anggrek Dahlia Flamboyan Cempaka Teratai Kamboja Seruni Nangka "
            "Rambutan Duku Manggis Belimbing Jambu Sawo Kemuning")
POSYANDU = ["Melati", "Mawar", "Anggrek", "Kenanga", "Dahlia", "Flamboyan", "Cempaka", "Teratai",
            "Kamboja", "Seruni"]


class Population:
    def __init__(self, rng, month_start):
        self.rng = rng
        self.people = []
        self.by_birth = {}
        self.nik_serial = {}
        self.month_start = month_start
        self.nisn_used = set()

    def _nik(self, birth, sex):
        day = birth.day + (40 if sex == "F" else 0)
        prefix = "317409%02d%02d%02d" % (day, birth.month, birth.year % 100)
        n = self.nik_serial.get(prefix, 0) + 1 + self.rng.randrange(3)
        self.nik_serial[prefix] = n
        return prefix + "%04d" % n

    def _name_ok(self, name, sex, birth):
        for other in self.by_birth.get(birth, []):
            if link_score(name, sex, other.name, other.sex) >= 0.78 or \
               link_score(name, None, other.name, None) >= 0.80:
                return False
        return True

    def add(self, cohort, birth, sex=None, name=None):
        rng = self.rng
        sex = sex or ("F" if rng.random() < 0.5 else "M")
        if name is None:
            for _ in range(200):
                name = make_name(rng, sex, cohort)
                if self._name_ok(name, sex, birth):
                    break
            else:
                raise RuntimeError("cannot find a distinct name")
        p = Person(pid=len(self.people), nik=self._nik(birth, sex), name=name, sex=sex,
                   birth=birth, rw=1 + rng.randrange(N_RW), rt=1 + rng.randrange(12),
                   street="Jl. %s No. %d" % (rng.choice(STREETS), 1 + rng.randrange(60)),
                   cohort=cohort, reserved=None)
        p.rm_pkm = "RM-%06d" % (100000 + p.pid)
        p.rm_klinik = "KSB-%06d" % (400000 + p.pid * 7)
        p.mr_rsud = "MR-%06d" % (700000 + p.pid * 3)
        p.member_ytk = "YTK-A-%05d" % (10000 + p.pid)
        self.people.append(p)
        self.by_birth.setdefault(birth, []).append(p)
        return p

    def namesake(self, of, cohort, birth, sex=None):
        """A different person with exactly the same name (a near-miss), born
        on `birth` or, when somebody born that day has a similar name, a
        day or a few later."""
        for _ in range(30):
            if self._name_ok(of.name, sex or of.sex, birth):
                break
            birth += dt.timedelta(days=1)
        return self.add(cohort, birth, sex=sex or of.sex, name=of.name)


def rand_date(rng, lo, hi):
    return lo + dt.timedelta(days=rng.randrange((hi - lo).days + 1))


def add_months(d, n):
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


# ---------------------------------------------------------------------------
# Event records (what each file must become) and payload writers
# ---------------------------------------------------------------------------

def at(day, hh, mm=0):
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=WIB)


def hub_time(x):
    """The instant the hub's event clock takes from an occurred_at: a date is
    its UTC midnight."""
    if isinstance(x, dt.datetime):
        return x.astimezone(UTC)
    return dt.datetime(x.year, x.month, x.day, tzinfo=UTC)


class Imm:
    """One immunisation as an agency records it."""
    __slots__ = ("agency", "source_id", "person", "when", "cvx", "display", "dose", "status",
                 "with_nik", "written_name", "location", "lot", "performer", "reason", "dose_text",
                 "bias_code")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


VACCINES = {
    "08": "Hep B, pediatric (HB0)", "19": "BCG", "178": "OPV bivalent", "102": "DTP-HB-Hib",
    "133": "PCV13", "122": "Rotavirus", "10": "IPV", "04": "MR", "28": "DT", "139": "Td",
    "137": "HPV",
}
LOT_PREFIX = {"08": "HB", "19": "BCG", "178": "OPV", "102": "PEN", "133": "PCV", "122": "ROT",
              "10": "IPV", "04": "MR", "28": "DT", "139": "TD", "137": "HPV"}
# Indonesia's routine schedule (age in months -> [(cvx, dose)])
SCHEDULE = [
    (0, [("08", 1)]),
    (1, [("19", 1), ("178", 1)]),
    (2, [("102", 1), ("178", 2), ("133", 1), ("122", 1)]),
    (3, [("102", 2), ("178", 3), ("133", 2), ("122", 2)]),
    (4, [("102", 3), ("178", 4), ("10", 1), ("122", 3)]),
    (9, [("04", 1), ("10", 2)]),
    (12, [("133", 3)]),
    (18, [("102", 4), ("04", 2)]),
]
BIAS_CVX = {"MR": "04", "DT": "28", "TD": "139", "HPV": "137"}
PERFORMERS_PKM = ["Bidan Rina", "Bidan Sari", "Bidan Nur", "dr. Andi", "Bidan Wulan"]
PERFORMERS_KLINIK = ["dr. Felicia", "dr. Hendra", "Bidan Yuli"]
PERFORMERS_RSUD = [("D-31", "Hartono", "Agus"), ("D-44", "Simanjuntak", "Ruth"),
                   ("D-52", "Wibowo", "Dimas")]


def fhir_patient(p, pid_key, name, with_nik, local_system, local_value, village=VILLAGE,
                 name_style="text", rng=None):
    res = {"resourceType": "Patient"}
    if pid_key:
        res["id"] = pid_key
    ids = []
    if with_nik:
        nik = p.nik
        if rng is not None and rng.random() < 0.15:
            nik = "%s %s %s %s" % (nik[:4], nik[4:8], nik[8:12], nik[12:])
        ids.append({"system": NIK_SYSTEM, "value": nik})
    if local_value:
        ids.append({"system": local_system, "value": local_value})
    if ids:
        res["identifier"] = ids
    if name_style == "text":
        res["name"] = [{"use": "official", "text": name}]
    else:
        words = name.split()
        if len(words) == 1:
            res["name"] = [{"given": words}]
        else:
            res["name"] = [{"given": words[:-1], "family": words[-1]}]
    res["gender"] = "female" if p.sex == "F" else "male"
    res["birthDate"] = p.birth.isoformat()
    res["address"] = [{
        "line": [p.street], "city": "Jakarta Selatan",
        "extension": [{"url": ADMIN_CODE_EXT, "extension": [
            {"url": "village", "valueString": village},
            {"url": "rw", "valueCode": "%03d" % p.rw},
            {"url": "rt", "valueCode": "%03d" % p.rt}]}]}]
    return res


def fhir_immunization(im, patient_ref):
    res = {"resourceType": "Immunization", "id": im.source_id, "status": im.status}
    if im.reason:
        res["statusReason"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "code": im.reason[0], "display": im.reason[1]}]}
    res["vaccineCode"] = {"coding": [{"system": CVX, "code": im.cvx, "display": VACCINES[im.cvx]}]}
    res["patient"] = {"reference": patient_ref}
    res["occurrenceDateTime"] = im.when.isoformat()
    res["location"] = {"display": im.location}
    if im.status == "completed":
        res["lotNumber"] = im.lot
    res["performer"] = [{"actor": {"display": im.performer}}]
    if im.dose_text:
        res["protocolApplied"] = [{"doseNumberString": im.dose_text}]
    elif im.dose:
        res["protocolApplied"] = [{"doseNumberPositiveInt": im.dose}]
    return res


def hl7_ts(x):
    return x.strftime("%Y%m%d%H%M%S") + x.strftime("%z")


def hl7_name(name):
    words = name.split()
    if len(words) == 1:
        return words[0]
    return "%s^%s%s" % (words[-1], words[0], ("^" + " ".join(words[1:-1])) if len(words) > 2 else "")


def hl7_pid(p, name, with_nik=True):
    ids = ["%s^^^RSUD-PM^MR" % p.mr_rsud]
    if with_nik:
        ids.append("%s^^^DUKCAPIL^NIK" % p.nik)
    return "PID|1||%s||%s||%s|%s|||%s^^%s^Jakarta Selatan^12530^IDN^H" % (
        "~".join(ids), hl7_name(name), p.birth.strftime("%Y%m%d"), p.sex, p.street, VILLAGE)


# ---------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------

class Scenario:
    def __init__(self, seed, month):
        self.rng = random.Random(seed)
        self.seed = seed
        y, m = (int(x) for x in month.split("-"))
        self.m0 = dt.date(y, m, 1)
        self.ndays = calendar.monthrange(y, m)[1]
        self.m1 = dt.date(y, m, self.ndays)
        self.pop = Population(self.rng, self.m0)
        self.imms = []            # Imm
        self.bias_days = []       # (date, [(vaccine, [Imm...])])
        self.trainings = []       # dict
        self.programs = []        # dict
        self.referrals = []       # dict (thread)
        self.planted = []
        self.near = []
        self.counters = {}
        self.person_trainings = {}  # pid -> [(category, start, end)]
        self.program_slots = {}     # (sector, tg, area) -> [(agency, start, end, pid)]

    def next_id(self, key, start=1):
        n = self.counters.get(key, start - 1) + 1
        self.counters[key] = n
        return n

    def day(self, n):
        return self.m0 + dt.timedelta(days=n - 1)

    def plant(self, kind, members, note):
        self.planted.append({"id": "P%03d" % (len(self.planted) + 1), "kind": kind,
                             "rule": RULE_OF_KIND[kind], "members": members, "note": note})

    def near_miss(self, kind, members, note, why):
        self.near.append({"id": "N%03d" % (len(self.near) + 1), "kind": kind,
                          "near": why, "members": members, "note": note})

    # ---- population -------------------------------------------------------
    def build_population(self):
        rng, pop = self.rng, self.pop
        m0 = self.m0
        # babies: born in the 19 months before the month and in it
        lo = add_months(m0, -19)
        for _ in range(1150):
            pop.add("baby", rand_date(rng, lo, m0 - dt.timedelta(days=1)))
        for _ in range(40):
            pop.add("baby", rand_date(rng, m0, self.m1 - dt.timedelta(days=2)))
        # pupils of SD Negeri Tanjung Barat 01: school year from July
        sy = m0.year if m0.month >= 7 else m0.year - 1
        for grade in range(1, 7):
            by = sy - 6 - grade
            for _ in range(80):
                b = rand_date(rng, dt.date(by, 7, 1), dt.date(by + 1, 6, 30))
                p = pop.add("child", b)
                p.grade = grade
                while True:
                    nisn = "0%02d%07d" % (b.year % 100, rng.randrange(10 ** 7))
                    if nisn not in pop.nisn_used:
                        pop.nisn_used.add(nisn)
                        break
                p.nisn = nisn
        for _ in range(2300):
            pop.add("adult", rand_date(rng, dt.date(m0.year - 58, 1, 1), dt.date(m0.year - 19, 1, 1)))
        for _ in range(550):
            pop.add("elder", rand_date(rng, dt.date(m0.year - 85, 1, 1), dt.date(m0.year - 60, 1, 1)))

    def free(self, cohort, pred=None):
        """An unreserved person of the cohort (reserved for one planted item)."""
        cands = [p for p in self.pop.people if p.cohort == cohort and p.reserved is None
                 and (pred is None or pred(p))]
        p = self.rng.choice(cands)
        return p

    # ---- immunisations -----------------------------------------------------
    def imm(self, agency, person, when, cvx, dose, with_nik=True, written=None, status="completed",
            reason=None, dose_text=None, location=None):
        rng = self.rng
        if agency == PKM:
            sid = "imm-pkm-%d-%06d" % (when.year, self.next_id("pkm-imm", 4100))
            loc = location or "Puskesmas Kelurahan Tanjung Barat"
            perf = rng.choice(PERFORMERS_PKM)
        elif agency == KLINIK:
            sid = "ksb-imm-%05d" % self.next_id("ksb-imm", 88900)
            loc = "Klinik Sehat Bersama"
            perf = rng.choice(PERFORMERS_KLINIK)
        else:
            sid = "RSUD-IMM-%05d" % self.next_id("rsud-imm", 56000)
            loc = "RSUD-PM-POLI-ANAK"
            perf = rng.choice(PERFORMERS_RSUD)
        im = Imm(agency=agency, source_id=sid, person=person, when=when, cvx=cvx,
                 display=VACCINES[cvx], dose=dose, status=status, with_nik=with_nik,
                 written_name=written or person.name, location=loc,
                 lot="%s%02d%02d%s" % (LOT_PREFIX[cvx], when.year % 100, when.month, rng.choice("ABC")),
                 performer=perf, reason=reason, dose_text=dose_text)
        self.imms.append(im)
        return im

    def visit_time(self, agency, d):
        rng = self.rng
        if agency == PKM:
            return at(d, 8 + rng.randrange(6), rng.randrange(0, 60, 5))
        if agency == KLINIK:
            return at(d, 9 + rng.randrange(11), rng.randrange(0, 60, 5))
        return at(d, 8 + rng.randrange(7), rng.randrange(0, 60, 5))

    def workday(self, d):
        while d.weekday() == 6:
            d += dt.timedelta(days=1)
        return d

    def background_immunisations(self):
        rng = self.rng
        posyandu_day = {rw: self.day(3 + 2 * (rw - 1) + rng.randrange(2)) for rw in range(1, N_RW + 1)}
        for p in self.pop.people:
            if p.cohort != "baby" or p.reserved is not None:
                continue
            for age, doses in SCHEDULE:
                due = add_months(p.birth, age)
                if age == 0:
                    when_d = p.birth
                    if not (self.m0 <= when_d <= self.m1):
                        continue
                    r = rng.random()
                    agency = RSUD if r < 0.5 else KLINIK if r < 0.8 else PKM
                    when = self.visit_time(agency, when_d)
                    # newborns: no NIK yet, written as the mother's baby
                    written = p.name
                    with_nik = rng.random() < 0.3
                    if not with_nik and agency == RSUD:
                        written = self.newborn_name(p)
                    for cvx, dose in doses:
                        self.imm(agency, p, when, cvx, dose, with_nik=with_nik or agency == PKM,
                                 written=written if agency == RSUD else p.name)
                    continue
                due = due + dt.timedelta(days=rng.randrange(12))
                if not (self.m0 <= due <= self.m1):
                    continue
                r = rng.random()
                agency = PKM if r < 0.66 else KLINIK if r < 0.9 else RSUD
                if agency == PKM and rng.random() < 0.6 and posyandu_day[p.rw] >= due - dt.timedelta(days=10):
                    d = posyandu_day[p.rw]
                    loc = "Posyandu %s RW %02d" % (POSYANDU[p.rw - 1], p.rw)
                    when = at(d, 8 + rng.randrange(3), rng.randrange(0, 60, 5))
                else:
                    d = self.workday(due)
                    loc = None
                    when = self.visit_time(agency, d)
                if agency == KLINIK:
                    with_nik = rng.random() < 0.68
                elif agency == RSUD:
                    with_nik = rng.random() < 0.9
                else:
                    with_nik = True
                written = p.name
                if not with_nik and rng.random() < 0.5:
                    written = variant_name(rng, p.name, "baby")
                for cvx, dose in doses:
                    if agency == KLINIK and rng.random() < 0.04:
                        # out of stock at the clinic: recorded as not done
                        self.imm(agency, p, when, cvx, dose, with_nik, written, status="not-done",
                                 reason=("OSTOCK", "product out of stock"))
                        continue
                    self.imm(agency, p, when, cvx, dose, with_nik, written, location=loc)

    def newborn_name(self, p):
        """'By. Ny. <mother>': a newborn without a name or NIK yet, as
        hospitals write it; the mother's name must not look like another
        child's of the same birth date."""
        used = self.__dict__.setdefault("_newborn_names", {}).setdefault(p.birth, [])
        others = [q.name for q in self.pop.by_birth.get(p.birth, []) if q.pid != p.pid] + used
        for _ in range(200):
            name = "By. Ny. " + make_name(self.rng, "F", "adult")
            if all(link_score(name, None, o, None) < 0.75 for o in others):
                used.append(name)
                return name
        raise RuntimeError("no distinct newborn name")

    def baby_at_age(self, months, pred=None, day_lo=1, day_hi=None):
        """An unreserved baby whose age in months, on some day of the month
        between day_lo and day_hi, is `months` (and not a newborn)."""
        day_hi = day_hi or self.ndays
        lo = add_months(self.day(day_lo), -months - 1) + dt.timedelta(days=1)
        hi = add_months(self.day(day_hi), -months)
        return self.free("baby", lambda p: lo <= p.birth <= hi and (pred is None or pred(p)))

    def plant_immunisations(self):
        rng = self.rng

        def reserve(p, tag):
            assert p.reserved is None
            p.reserved = tag
            return p

        def pick_slot():
            age, doses = rng.choice([s for s in SCHEDULE if s[0] in (2, 3, 4, 9, 12, 18)])
            return age, rng.choice(doses)

        # D1: Puskesmas and klinik, NIK on both sides
        for i in range(4):
            age, (cvx, dose) = pick_slot()
            p = reserve(self.baby_at_age(age), "D1")
            d1 = self.workday(self.day(2 + rng.randrange(14)))
            d2 = self.workday(d1 + dt.timedelta(days=3 + rng.randrange(10)))
            a = self.imm(PKM, p, self.visit_time(PKM, d1), cvx, dose)
            b = self.imm(KLINIK, p, self.visit_time(KLINIK, d2), cvx, dose)
            self.plant("duplicate_service", [[PKM, a.source_id], [KLINIK, b.source_id]],
                       "dose %d of CVX %s by the Puskesmas and the clinic, NIK on both" % (dose, cvx))
        # D2: Puskesmas with NIK, klinik without NIK and a spelling variant
        for i in range(4):
            age, (cvx, dose) = pick_slot()
            p = reserve(self.baby_at_age(age), "D2")
            d1 = self.workday(self.day(2 + rng.randrange(14)))
            d2 = self.workday(d1 + dt.timedelta(days=3 + rng.randrange(10)))
            a = self.imm(PKM, p, self.visit_time(PKM, d1), cvx, dose)
            v = variant_name(rng, p.name, "baby")
            b = self.imm(KLINIK, p, self.visit_time(KLINIK, d2), cvx, dose, with_nik=False, written=v)
            self.plant("duplicate_service", [[PKM, a.source_id], [KLINIK, b.source_id]],
                       "dose %d of CVX %s; the clinic sent no NIK and wrote %r for %r"
                       % (dose, cvx, v, p.name))
        # D5: hospital (HL7 v2, NIK) then Puskesmas (NIK) / clinic (no NIK)
        for i in range(2):
            age, (cvx, dose) = pick_slot()
            p = reserve(self.baby_at_age(age), "D5")
            d1 = self.workday(self.day(2 + rng.randrange(14)))
            d2 = self.workday(d1 + dt.timedelta(days=4 + rng.randrange(10)))
            a = self.imm(RSUD, p, self.visit_time(RSUD, d1), cvx, dose)
            if i == 0:
                b = self.imm(PKM, p, self.visit_time(PKM, d2), cvx, dose)
                note = "dose %d of CVX %s by the hospital (VXU) and the Puskesmas" % (dose, cvx)
            else:
                v = variant_name(rng, p.name, "baby")
                b = self.imm(KLINIK, p, self.visit_time(KLINIK, d2), cvx, dose, with_nik=False, written=v)
                note = "dose %d of CVX %s by the hospital (VXU) and the clinic without NIK (%r)" % (dose, cvx, v)
            self.plant("duplicate_service", [[RSUD, a.source_id], [b.agency, b.source_id]], note)

        # Near-misses -----------------------------------------------------
        # same name, different person: first both with NIK (different NIKs),
        # then the second without NIK and with a different birth date
        for with_nik in (True, False):
            for i in range(3):
                age, (cvx, dose) = pick_slot()
                p = reserve(self.baby_at_age(age, day_lo=1, day_hi=12), "N-namesake")
                q = self.pop.namesake(p, "baby", p.birth + dt.timedelta(days=1 + rng.randrange(10)))
                reserve(q, "N-namesake")
                d1 = self.workday(self.day(13 + rng.randrange(4)))
                d2 = self.workday(d1 + dt.timedelta(days=2 + rng.randrange(6)))
                a = self.imm(PKM, p, self.visit_time(PKM, d1), cvx, dose)
                b = self.imm(KLINIK, q, self.visit_time(KLINIK, d2), cvx, dose, with_nik=with_nik)
                if with_nik:
                    why = "two children both named %r, different NIKs" % p.name
                    kind = "same name, different person (different NIK)"
                else:
                    why = ("%r twice; the clinic's child (no NIK) was born %d days later"
                           % (p.name, (q.birth - p.birth).days))
                    kind = "same name, no NIK, different birth date"
                self.near_miss("duplicate_service", [[PKM, a.source_id], [KLINIK, b.source_id]],
                               why, kind)
        # same child, same vaccine, next dose four weeks later elsewhere
        for i in range(3):
            age = rng.choice([2, 3])
            cvx = rng.choice(["102", "178", "133", "122"])
            dose = dict(dict(SCHEDULE)[age])[cvx]
            p = reserve(self.baby_at_age(age, day_lo=1, day_hi=2), "N-nextdose")
            d1 = self.day(2)
            d2 = d1 + dt.timedelta(days=28)
            if d2.weekday() == 6:
                d2 += dt.timedelta(days=1)
            a = self.imm(PKM, p, self.visit_time(PKM, d1), cvx, dose)
            with_nik = i != 0
            b = self.imm(KLINIK, p, self.visit_time(KLINIK, d2), cvx, dose + 1, with_nik=with_nik,
                         written=p.name if with_nik else variant_name(rng, p.name, "baby"))
            self.near_miss("duplicate_service", [[PKM, a.source_id], [KLINIK, b.source_id]],
                           "CVX %s dose %d then dose %d, 28 days apart" % (cvx, dose, dose + 1),
                           "same vaccine, different dose")
        # the clinic did not give it (already immunised): status not-done
        for i in range(2):
            age, (cvx, dose) = pick_slot()
            p = reserve(self.baby_at_age(age), "N-notdone")
            d1 = self.workday(self.day(2 + rng.randrange(14)))
            d2 = self.workday(d1 + dt.timedelta(days=3 + rng.randrange(8)))
            a = self.imm(PKM, p, self.visit_time(PKM, d1), cvx, dose)
            b = self.imm(KLINIK, p, self.visit_time(KLINIK, d2), cvx, dose, status="not-done",
                         reason=("IMMUNE", "immunity"))
            self.near_miss("duplicate_service", [[PKM, a.source_id], [KLINIK, b.source_id]],
                           "CVX %s dose %d given by the Puskesmas; the clinic recorded it not done" % (cvx, dose),
                           "second record has status not-done")
        # same child, same dose number, different vaccine at two agencies
        for i in range(2):
            age = rng.choice([2, 3, 4])
            (c1, d_1), (c2, d_2) = rng.sample(dict(SCHEDULE)[age], 2)
            p = reserve(self.baby_at_age(age), "N-othervaccine")
            d1 = self.workday(self.day(2 + rng.randrange(14)))
            d2 = self.workday(d1 + dt.timedelta(days=1 + rng.randrange(8)))
            a = self.imm(PKM, p, self.visit_time(PKM, d1), c1, d_1)
            b = self.imm(RSUD, p, self.visit_time(RSUD, d2), c2, d_2)
            self.near_miss("duplicate_service", [[PKM, a.source_id], [RSUD, b.source_id]],
                           "CVX %s dose %d and CVX %s dose %d" % (c1, d_1, c2, d_2),
                           "same child, different vaccine")

    # ---- school BIAS -------------------------------------------------------
    def school(self):
        rng = self.rng
        pupils = [p for p in self.pop.people if p.cohort == "child"]
        d_mr = self.workday(self.day(12 + rng.randrange(3)))
        if d_mr.weekday() == 5:
            d_mr += dt.timedelta(days=2)
        d_dt = d_mr + dt.timedelta(days=7)
        d_hpv = d_mr + dt.timedelta(days=8)
        plan = [(d_mr, "MR", lambda p: p.grade == 1),
                (d_dt, "DT", lambda p: p.grade == 1),
                (d_dt, "TD", lambda p: p.grade in (2, 5)),
                (d_hpv, "HPV", lambda p: p.grade in (5, 6) and p.sex == "F")]
        # planted: the Puskesmas gave MR/DT to a grade-1 pupil a week or more before the school team
        self.school_rows = {}  # date -> list of (person, code, status, with_nik, written)
        planted_school = {}
        for i in range(5):
            code = "MR" if i % 2 == 0 else "DT"
            sday = d_mr if code == "MR" else d_dt
            p = self.free("child", lambda x: x.grade == 1 and x.pid not in planted_school)
            p.reserved = "D3" if i < 3 else "D4"
            pday = self.workday(sday - dt.timedelta(days=6 + rng.randrange(4)))
            a = self.imm(PKM, p, self.visit_time(PKM, pday), BIAS_CVX[code], 0, dose_text="BIAS")
            with_nik = i < 3
            if with_nik:
                written = p.name
            elif i == 3 and len(p.name.split()) >= 2:
                w = p.name.split()
                written = "%s, %s" % (w[-1], " ".join(w[:-1]))  # family name first, as on a class list
            else:
                written = variant_name(rng, p.name, "child", p.sex)
            planted_school[p.pid] = (code, with_nik, written)
            sid = "%s-%s" % (p.nisn, code)
            self.plant("duplicate_service", [[PKM, a.source_id], [SDN, sid]],
                       "BIAS %s (CVX %s) by the Puskesmas on %s and the school team on %s; %s"
                       % (code, BIAS_CVX[code], pday, sday,
                          "NIK on both" if with_nik else "the school sent no NIK and wrote %r for %r"
                          % (written, p.name)))
        for d, code, pred in plan:
            for p in pupils:
                if not pred(p):
                    continue
                if p.pid in planted_school:
                    pc, with_nik, written = planted_school[p.pid]
                    if pc != code:
                        continue  # the other vaccine: only the planted record for this child
                    self.school_rows.setdefault(d, []).append((p, code, "SUDAH", with_nik, written))
                    continue
                if p.reserved is not None:
                    continue
                status = "TIDAK" if rng.random() < 0.04 else ("SUDAH" if rng.random() < 0.8 else "")
                with_nik = rng.random() < 0.72
                written = p.name
                r = rng.random()
                if r < 0.15:
                    w = p.name.split()
                    if len(w) >= 2:
                        written = "%s, %s" % (w[-1], " ".join(w[:-1]))
                elif r < 0.25:
                    written = p.name.upper()
                self.school_rows.setdefault(d, []).append((p, code, status, with_nik, written))

    # ---- trainings ---------------------------------------------------------
    BLK_COURSES = [
        ("HID-01", "Hidroponik", "agriculture.hydroponics", 4, 40, "Balai Warga RW 05"),
        ("MJ-01", "Tata boga", "hospitality.culinary", 6, 120, "BLK Jakarta Selatan"),
        ("KUE-01", "Pembuatan kue dan roti", "hospitality.culinary", 4, 80, "BLK Jakarta Selatan"),
        ("BAR-01", "Barista", "hospitality.barista", 3, 60, "BLK Jakarta Selatan"),
        ("MTR-01", "Teknisi sepeda motor", "automotive.motorcycle", 8, 240, "BLK Jakarta Selatan"),
        ("JHT-01", "Menjahit", "fashion.sewing", 6, 160, "Balai Warga RW 02"),
        ("DGM-01", "Pemasaran digital UMKM", "it.digital-marketing", 3, 48, "BLK Jakarta Selatan"),
        ("LAS-01", "Pengelasan", "manufacturing.welding", 8, 240, "BLK Jakarta Selatan"),
        ("LST-01", "Instalasi listrik rumah", "construction.electrical", 6, 160, "BLK Jakarta Selatan"),
    ]
    YTK_COURSES = [
        ("HIDRO-DASAR", "Hidroponik untuk pemula", "agriculture.hydroponics", 3),
        ("KOMPOS-1", "Kompos rumah tangga", "agriculture.compost", 1),
        ("BUDIKDAMBER", "Budidaya ikan dalam ember", "fisheries.aquaculture", 2),
        ("KEBUN-GIZI", "Kebun sayur pekarangan", "agriculture.urban-farming", 3),
        ("OLAH-PANGAN", "Pengolahan hasil panen", "food.processing", 2),
    ]

    def _free_for(self, p, cat, start, end):
        for c, s, e in self.person_trainings.get(p.pid, []):
            if c == cat and s <= end + dt.timedelta(days=1) and start <= e + dt.timedelta(days=1):
                return False
        return True

    def _enrol(self, p, cat, start, end):
        self.person_trainings.setdefault(p.pid, []).append((cat, start, end))

    def trainings_all(self):
        rng = self.rng
        mondays = [self.day(i) for i in range(1, self.ndays + 1) if self.day(i).weekday() == 0]
        weekends = [self.day(i) for i in range(1, self.ndays + 1) if self.day(i).weekday() == 5]
        self.blk_cohorts = []   # dict(code, title, cat, start, end, hours, loc, rows=[...])
        self.ytk_classes = []   # dict(code, title, cat, sessions, end, rows)
        for idx, (code, title, cat, weeks, hours, loc) in enumerate(self.BLK_COURSES):
            for start in mondays[idx % 2::2][:2]:
                end = start + dt.timedelta(days=7 * weeks - 3)
                self.blk_cohorts.append({"code": code, "title": title, "cat": cat, "start": start,
                                         "end": end, "hours": hours, "loc": loc, "rows": []})
        for idx, (code, title, cat, n_sessions) in enumerate(self.YTK_COURSES):
            for k in range(2):
                first = weekends[(idx + 2 * k) % len(weekends)]
                if k == 1 and first == self.ytk_classes[-1]["sessions"][0]:
                    first = weekends[(idx + 2 * k + 1) % len(weekends)]
                sessions = [first + dt.timedelta(days=7 * s) for s in range(n_sessions)]
                self.ytk_classes.append({"code": code, "title": title, "cat": cat,
                                         "sessions": sessions, "end": sessions[-1], "rows": []})
        # planted and near-miss pairs first, so background stays clear of them
        self.plant_trainings()
        adults = [p for p in self.pop.people if p.cohort == "adult" and p.reserved is None]
        for c in self.blk_cohorts:
            n = 14 + rng.randrange(10)
            for p in rng.sample(adults, n * 2):
                if len([r for r in c["rows"] if r["bg"]]) >= n:
                    break
                if not self._free_for(p, c["cat"], c["start"], c["end"]):
                    continue
                self._enrol(p, c["cat"], c["start"], c["end"])
                st = "DAFTAR"
                c["rows"].append({"p": p, "status": st, "bg": True, "name": self._blk_name(p),
                                  "sid": "BLK-%d-%04d" % (c["start"].year, self.next_id("blk", 1200))})
        for c in self.ytk_classes:
            n = 8 + rng.randrange(10)
            start, end = c["sessions"][0], c["end"]
            for p in rng.sample(adults, n * 2):
                if len([r for r in c["rows"] if r["bg"]]) >= n:
                    break
                if not self._free_for(p, c["cat"], start, end):
                    continue
                self._enrol(p, c["cat"], start, end)
                with_nik = rng.random() < 0.6
                c["rows"].append({"p": p, "bg": True, "with_nik": with_nik,
                                  "name": p.name if with_nik or rng.random() < 0.5
                                  else variant_name(rng, p.name, "adult", p.sex),
                                  "sid": "YTK-%d-%04d" % (start.year, self.next_id("ytk", 300))})
        for c in self.blk_cohorts:
            rng.shuffle(c["rows"])
        for c in self.ytk_classes:
            rng.shuffle(c["rows"])

    def _blk_name(self, p):
        r = self.rng.random()
        if r < 0.1:
            return p.name.upper()
        if r < 0.15:
            return p.name + self.rng.choice([", S.E.", ", S.Pd.", ", A.Md."])
        return p.name

    def plant_trainings(self):
        rng = self.rng

        def adult(tag):
            p = self.free("adult")
            p.reserved = tag
            return p

        def blk_row(c, p, status="DAFTAR"):
            sid = "BLK-%d-%04d" % (c["start"].year, self.next_id("blk", 1200))
            c["rows"].append({"p": p, "status": status, "bg": False, "name": p.name, "sid": sid})
            self._enrol(p, c["cat"], c["start"], c["end"])
            return sid

        def ytk_row(c, p, with_nik=True, name=None):
            sid = "YTK-%d-%04d" % (c["sessions"][0].year, self.next_id("ytk", 300))
            c["rows"].append({"p": p, "bg": False, "with_nik": with_nik, "name": name or p.name,
                              "sid": sid})
            self._enrol(p, c["cat"], c["sessions"][0], c["end"])
            return sid

        def overlapping(cat, later=True):
            """A BLK cohort and a yayasan class of category cat that overlap,
            the class starting after the cohort (its file comes later)."""
            pairs = [(b, y) for b in self.blk_cohorts for y in self.ytk_classes
                     if b["cat"] == cat and y["cat"] == cat and y["sessions"][0] <= b["end"]
                     and b["start"] <= y["end"] and (not later or y["sessions"][0] > b["start"])]
            return rng.choice(pairs)

        # T1: BLK and yayasan, NIK on both
        for i in range(5):
            b, y = overlapping("agriculture.hydroponics")
            p = adult("T1")
            s1, s2 = blk_row(b, p), ytk_row(y, p)
            self.plant("overlapping_training", [[BLK, s1], [YTK, s2]],
                       "hydroponics at BLK %s..%s and at the yayasan %s..%s, NIK on both"
                       % (b["start"], b["end"], y["sessions"][0], y["end"]))
        # T2: the yayasan without NIK, spelling variant
        for i in range(5):
            b, y = overlapping("agriculture.hydroponics")
            p = adult("T2")
            v = variant_name(rng, p.name, "adult", p.sex)
            s1, s2 = blk_row(b, p), ytk_row(y, p, with_nik=False, name=v)
            self.plant("overlapping_training", [[BLK, s1], [YTK, s2]],
                       "hydroponics at BLK and the yayasan; the yayasan has no NIK and wrote %r for %r"
                       % (v, p.name))
        # T3: two BLK culinary courses at once
        culinary = [c for c in self.blk_cohorts if c["cat"] == "hospitality.culinary"]
        pairs = [(a, b) for a in culinary for b in culinary if a["code"] < b["code"]
                 and a["start"] <= b["end"] and b["start"] <= a["end"]]
        for i in range(2):
            a, b = rng.choice(pairs)
            p = adult("T3")
            s1, s2 = blk_row(a, p), blk_row(b, p)
            self.plant("overlapping_training", [[BLK, s1], [BLK, s2]],
                       "BLK %s and %s (both hospitality.culinary) at the same time" % (a["code"], b["code"]))
        # near-misses: touching periods (the yayasan class starts the day after the BLK cohort ends)
        for i in range(3):
            hid = [c for c in self.blk_cohorts if c["cat"] == "agriculture.hydroponics"]
            b = min(hid, key=lambda c: c["end"])
            start = b["end"] + dt.timedelta(days=1)
            c = {"code": "HIDRO-LANJUT", "title": "Hidroponik lanjutan", "cat": "agriculture.hydroponics",
                 "sessions": [start, start + dt.timedelta(days=7)], "end": start + dt.timedelta(days=7),
                 "rows": []}
            if i == 0:
                self.ytk_classes.append(c)
            else:
                c = [x for x in self.ytk_classes if x["code"] == "HIDRO-LANJUT"][0]
            p = adult("TN-touch")
            s1, s2 = blk_row(b, p), ytk_row(c, p, with_nik=(i != 2),
                                              name=None if i != 2 else variant_name(rng, p.name, "adult", p.sex))
            self.near_miss("overlapping_training", [[BLK, s1], [YTK, s2]],
                           "hydroponics at BLK until %s and at the yayasan from %s" % (b["end"], start),
                           "periods touch but do not overlap")
        # dropped out of the BLK cohort, then joined the yayasan's class
        for i in range(2):
            b, y = overlapping("agriculture.hydroponics")
            p = adult("TN-dropped")
            s1, s2 = blk_row(b, p, status="KELUAR"), ytk_row(y, p)
            self.near_miss("overlapping_training", [[BLK, s1], [YTK, s2]],
                           "overlapping hydroponics, but dropped out of the BLK cohort",
                           "participant dropped out")
        # overlapping, different categories
        for i in range(2):
            b, y = rng.choice([(b, y) for b in self.blk_cohorts for y in self.ytk_classes
                               if b["cat"] == "hospitality.culinary" and y["cat"] == "agriculture.compost"
                               and y["sessions"][0] <= b["end"] and b["start"] <= y["end"]])
            p = adult("TN-othercat")
            s1, s2 = blk_row(b, p), ytk_row(y, p)
            self.near_miss("overlapping_training", [[BLK, s1], [YTK, s2]],
                           "culinary at BLK and compost at the yayasan at the same time",
                           "different course category")
        # same name, different person (different NIK), overlapping hydroponics
        for i in range(2):
            b, y = overlapping("agriculture.hydroponics")
            p = adult("TN-namesake")
            q = self.pop.namesake(p, "adult", p.birth + dt.timedelta(days=200 + rng.randrange(3000)))
            q.reserved = "TN-namesake"
            s1, s2 = blk_row(b, p), ytk_row(y, q)
            self.near_miss("overlapping_training", [[BLK, s1], [YTK, s2]],
                           "two people named %r, different NIKs and birth dates" % p.name,
                           "same name, different person")

    # ---- programs ----------------------------------------------------------
    PROGRAMS = [
        # (agency, sector, target_group, name, funding)
        (PKM, "health", "children-under-5", "Pemberian makanan tambahan balita", "APBD"),
        (PKM, "health", "pregnant-women", "Kelas ibu hamil", "BOK"),
        (PKM, "health", "elderly", "Posbindu PTM lansia", "BOK"),
        (PKM, "health", "school-children", "Penjaringan kesehatan anak sekolah", "BOK"),
        (KLINIK, "health", "children-under-5", "Pemantauan gizi balita", "CSR"),
        (KLINIK, "health", "elderly", "Senam dan cek kesehatan lansia", "mandiri"),
        (KLINIK, "health", "pregnant-women", "Kelas persiapan persalinan", "mandiri"),
        (SOS, "social", "elderly", "Bantuan pangan lansia", "APBD"),
        (SOS, "social", "low-income-households", "Bantuan sembako keluarga prasejahtera", "APBN"),
        (SOS, "social", "people-with-disabilities", "Rehabilitasi sosial penyandang disabilitas", "APBD"),
        (YTK, "social", "low-income-households", "Paket sembako dan kebun gizi keluarga", "donasi"),
        (YTK, "health", "children-under-5", "Dapur gizi balita", "donasi"),
        (YTK, "employment", "youth-unemployed", "Pertanian kota untuk pemuda", "donasi"),
        (YTK, "education", "school-children", "Bimbingan belajar anak", "donasi"),
        (BLK, "employment", "youth-unemployed", "Pelatihan berbasis kompetensi pemuda", "APBN"),
        (BLK, "employment", "women-entrepreneurs", "Pelatihan wirausaha perempuan", "APBD"),
        (SDN, "education", "school-children", "Les baca tulis hitung", "BOS"),
        (SDN, "health", "school-children", "Makan siang bergizi di sekolah", "APBN"),
    ]
    ABBREV = {PKM: "PKM", KLINIK: "KSB", SOS: "SOS", YTK: "YTK", BLK: "BLK", SDN: "SDN"}

    def _slots_clash(self, agency, sector, tg, areas, start, end):
        """The other agencies' programs this one would overlap with (per area)."""
        hits = []
        for a in areas:
            for (ag, s, e, pid) in self.program_slots.get((sector, tg, a), []):
                if ag != agency and s <= end and start <= e:
                    hits.append((a, ag, pid))
        return hits

    def _add_program(self, agency, sector, tg, name, funding, areas, start, end, plan_day):
        pid = "PRG-%s-%d-%03d" % (self.ABBREV[agency], start.year, self.next_id("prg-" + agency))
        for a in areas:
            self.program_slots.setdefault((sector, tg, a), []).append((agency, start, end, pid))
        self.programs.append({"agency": agency, "id": pid, "sector": sector, "tg": tg, "name": name,
                              "funding": funding, "areas": areas, "start": start, "end": end,
                              "plan_day": plan_day, "count": 20 + self.rng.randrange(180)})
        return pid

    def programs_all(self):
        rng = self.rng
        rws = ["RW-%02d" % i for i in range(1, N_RW + 1)]

        def period():
            start = add_months(self.m0, rng.randrange(3)) + dt.timedelta(days=rng.choice([0, 0, 14]))
            end = add_months(start, 1 + rng.randrange(5)) - dt.timedelta(days=1)
            return start, end

        def plan_day():
            return self.day(1 + rng.randrange(self.ndays - 3))

        by_key = {}
        for t in self.PROGRAMS:
            by_key.setdefault((t[1], t[2]), []).append(t)
        shared = [k for k, v in by_key.items() if len({t[0] for t in v}) >= 2]
        used_pairs = set()

        # planted: two agencies, same sector and target group, one shared area, overlapping
        for i in range(10):
            key = shared[i % len(shared)]
            ta, tb = rng.sample(by_key[key], 2) if len(by_key[key]) > 2 else by_key[key]
            if ta[0] == tb[0]:
                continue
            for _ in range(500):
                x = rng.choice(rws)
                ya = rng.choice([r for r in rws if r != x])
                yb = rng.choice([r for r in rws if r not in (x, ya)])
                areas_a = sorted([x, ya]) if rng.random() < 0.5 else [x]
                areas_b = sorted([x, yb]) if rng.random() < 0.5 else [x]
                sa, ea = period()
                sb = sa + dt.timedelta(days=rng.randrange(max(1, (ea - sa).days)))
                eb = add_months(sb, 1 + rng.randrange(3))
                if self._slots_clash(ta[0], key[0], key[1], areas_a, sa, ea) or \
                   self._slots_clash(tb[0], key[0], key[1], areas_b, sb, eb) or \
                   any(self.program_slots.get((key[0], key[1], a)) for a in set(areas_a) | set(areas_b)):
                    continue
                d1 = plan_day()
                d2 = d1 + dt.timedelta(days=1 + rng.randrange(max(1, self.ndays - d1.day)))
                if d2 > self.m1:
                    d2 = self.m1
                pa = self._add_program(ta[0], key[0], key[1], ta[3], ta[4], areas_a, sa, ea, d1)
                pb = self._add_program(tb[0], key[0], key[1], tb[3], tb[4], areas_b, sb, eb, d2)
                self.plant("overlapping_program", [[ta[0], pa], [tb[0], pb]],
                           "%s programs for %s in %s: %s %s..%s and %s %s..%s"
                           % (key[0], key[1], x, ta[0], sa, ea, tb[0], sb, eb))
                break

        def empty_areas(key, n):
            free = [a for a in rws if not self.program_slots.get((key[0], key[1], a))]
            return sorted(rng.sample(free, n)) if len(free) >= n else None

        # near-misses: same sector and group, different areas, overlapping
        for i in range(3):
            key = shared[(i + 3) % len(shared)]
            ta, tb = [t for t in by_key[key]][:2]
            ar = empty_areas(key, 2)
            if not ar or ta[0] == tb[0]:
                continue
            sa, ea = period()
            pa = self._add_program(ta[0], key[0], key[1], ta[3], ta[4], [ar[0]], sa, ea, plan_day())
            pb = self._add_program(tb[0], key[0], key[1], tb[3], tb[4], [ar[1]], sa, ea, plan_day())
            self.near_miss("overlapping_program", [[ta[0], pa], [tb[0], pb]],
                           "%s for %s: %s in %s, %s in %s, same period" % (key[0], key[1], ta[0], ar[0], tb[0], ar[1]),
                           "different area")
        # same area, back-to-back periods
        for i in range(3):
            key = shared[(i + 5) % len(shared)]
            ta, tb = [t for t in by_key[key]][:2]
            ar = empty_areas(key, 1)
            if not ar or ta[0] == tb[0]:
                continue
            sa = self.m0 + dt.timedelta(days=rng.randrange(20))
            ea = add_months(sa, 1 + rng.randrange(2))
            sb = ea + dt.timedelta(days=1)
            eb = add_months(sb, 2)
            pa = self._add_program(ta[0], key[0], key[1], ta[3], ta[4], ar, sa, ea, plan_day())
            pb = self._add_program(tb[0], key[0], key[1], tb[3], tb[4], ar, sb, eb, plan_day())
            self.near_miss("overlapping_program", [[ta[0], pa], [tb[0], pb]],
                           "%s for %s in %s: %s until %s, %s from %s" % (key[0], key[1], ar[0], ta[0], ea, tb[0], sb),
                           "periods do not overlap (back to back)")
        # same agency twice (the rule wants two agencies)
        for i in range(2):
            t = [x for x in self.PROGRAMS if x[0] in (PKM, SOS)][i * 3 % 7]
            key = (t[1], t[2])
            ar = empty_areas(key, 1)
            if not ar:
                continue
            sa, ea = period()
            pa = self._add_program(t[0], key[0], key[1], t[3], t[4], ar, sa, ea, plan_day())
            pb = self._add_program(t[0], key[0], key[1], t[3] + " (tahap 2)", t[4], ar, sa + dt.timedelta(days=7),
                                   ea + dt.timedelta(days=30), plan_day())
            self.near_miss("overlapping_program", [[t[0], pa], [t[0], pb]],
                           "%s runs two %s programs for %s in %s at once" % (t[0], key[0], key[1], ar[0]),
                           "same agency")
        # same group and area and time, different sector
        for i in range(2):
            (ta, tb) = [((PKM, "health", "elderly", "Posbindu PTM lansia", "BOK"),
                         (SOS, "social", "elderly", "Bantuan pangan lansia", "APBD")),
                        ((SDN, "education", "school-children", "Les baca tulis hitung", "BOS"),
                         (PKM, "health", "school-children", "Penjaringan kesehatan anak sekolah", "BOK"))][i]
            for _ in range(200):
                a = rng.choice(rws)
                if not self.program_slots.get((ta[1], ta[2], a)) and not self.program_slots.get((tb[1], tb[2], a)):
                    break
            sa, ea = period()
            pa = self._add_program(ta[0], ta[1], ta[2], ta[3], ta[4], [a], sa, ea, plan_day())
            pb = self._add_program(tb[0], tb[1], tb[2], tb[3], tb[4], [a], sa, ea, plan_day())
            self.near_miss("overlapping_program", [[ta[0], pa], [tb[0], pb]],
                           "%s (%s) and %s (%s) for %s in %s" % (ta[0], ta[1], tb[0], tb[1], ta[2], a),
                           "different sector")
        # background: every template a few times, clear of other agencies
        for t in self.PROGRAMS:
            for k in range(2):
                for _ in range(300):
                    n = 1 + rng.randrange(3)
                    areas = sorted(rng.sample(rws, n))
                    s, e = period()
                    if not self._slots_clash(t[0], t[1], t[2], areas, s, e):
                        self._add_program(t[0], t[1], t[2], t[3], t[4], areas, s, e, plan_day())
                        break

    # ---- referrals ---------------------------------------------------------
    PKM_SOS_REASONS = [
        ("Z59.6", "Low income", "keluarga belum terdaftar DTKS, perlu bantuan biaya pengobatan"),
        ("Z60.2", "Problems related to living alone", "lansia tinggal sendiri, perlu pendampingan"),
        ("E44.0", "Moderate protein-energy malnutrition", "balita gizi kurang, keluarga perlu bantuan pangan"),
        ("Z73.6", "Limitation of activities due to disability", "perlu alat bantu dan pendampingan disabilitas"),
        ("A15.0", "Tuberculosis of lung", "bantuan transport untuk pengobatan TB"),
    ]
    PKM_RSUD_REASONS = [
        ("I10", "Essential (primary) hypertension", "hipertensi tidak terkontrol"),
        ("E11.9", "Type 2 diabetes mellitus without complications", "kontrol gula darah, rujukan spesialis"),
        ("O09.9", "Supervision of high-risk pregnancy, unspecified", "kehamilan risiko tinggi"),
        ("A15.0", "Tuberculosis of lung", "suspek TB, foto toraks"),
        ("R62.8", "Other lack of expected normal physiological development", "gagal tumbuh, rujukan dokter anak"),
    ]
    RSUD_SOS_REASONS = [
        ("E44.0", "Gizi kurang sedang"), ("Z59.6", "Pasien tidak mampu, perlu PBI JKN"),
        ("Z60.2", "Lansia terlantar pasca rawat inap"), ("Z73.6", "Pasien disabilitas perlu pendampingan"),
    ]

    def referrals_all(self):
        rng = self.rng
        people = [p for p in self.pop.people if p.reserved is None and p.cohort in ("adult", "elder", "baby")]
        threads = []

        def subject_for(reason):
            code = reason[0]
            if code in ("E44.0", "R62.8"):
                pred = lambda p: p.cohort == "baby"  # noqa: E731
            elif code == "O09.9":
                pred = lambda p: p.cohort == "adult" and p.sex == "F" and p.birth.year >= self.m0.year - 40  # noqa: E731
            elif code == "Z60.2":
                pred = lambda p: p.cohort == "elder"  # noqa: E731
            else:
                pred = lambda p: p.cohort in ("adult", "elder")  # noqa: E731
            return rng.choice([p for p in people if pred(p)])

        def thread(kind, day, hour, person, answer=None):
            """answer: list of (hours after request, status) or None (never)."""
            req = at(day, hour, rng.randrange(0, 60, 5))
            if kind in ("pkm-sos", "pkm-rsud"):
                rid = "ref-%d-%04d" % (req.year, self.next_id("pkm-ref", 120))
            else:
                rid = "RUJ-RSUD-%d-%04d" % (req.year, self.next_id("rsud-ref", 200))
            th = {"kind": kind, "id": rid, "req": req, "person": person, "updates": [],
                  "from": RSUD if kind == "rsud-sos" else PKM,
                  "to": RSUD if kind == "pkm-rsud" else SOS,
                  "priority": rng.choice(["routine"] * 4 + ["urgent"])}
            if kind == "pkm-sos":
                th["reason"] = rng.choice(self.PKM_SOS_REASONS)
            elif kind == "pkm-rsud":
                th["reason"] = rng.choice(self.PKM_RSUD_REASONS)
            else:
                th["reason"] = rng.choice(self.RSUD_SOS_REASONS)
            th["person"] = subject_for(th["reason"])
            for h, st in answer or []:
                th["updates"].append((req + dt.timedelta(minutes=int(round(h * 60))), st))
            threads.append(th)
            return th

        def background_answers(kind):
            r = rng.random()
            first = 2 + rng.random() * 44
            if kind == "pkm-rsud":
                return [(first, "accepted" if r < 0.85 else "rejected")]
            if r < 0.08:
                return [(4 + rng.random() * 36, "cancelled")]
            if r < 0.2:
                return [(first, "rejected")]
            ups = [(first, "accepted")]
            if rng.random() < 0.65:
                t2 = first + 24 + rng.random() * 72
                ups.append((t2, "in-progress"))
                if rng.random() < 0.5:
                    ups.append((t2 + 48 + rng.random() * 120, "completed"))
            return ups

        for kind, n in (("pkm-sos", 70), ("rsud-sos", 28), ("pkm-rsud", 36)):
            for _ in range(n):
                d = self.workday(self.day(1 + rng.randrange(self.ndays - 3)))
                thread(kind, d, 8 + rng.randrange(7), None, background_answers(kind))
        for kind, n in (("pkm-sos", 6), ("rsud-sos", 3), ("pkm-rsud", 3)):
            for _ in range(n):
                d = self.workday(self.day(1 + rng.randrange(23)))
                th = thread(kind, d, 8 + rng.randrange(7), None, None)
                th["planted"] = True
        for kind, n in (("pkm-sos", 4), ("rsud-sos", 2), ("pkm-rsud", 2), ("pkm-cancel", 2)):
            for i in range(n):
                d = self.workday(self.day(1 + rng.randrange(23)))
                p = None
                if kind == "pkm-cancel":
                    th = thread("pkm-sos", d, 9 + rng.randrange(6), p, [(70, "cancelled")])
                    th["near"] = "withdrawn by the sender at 70 hours"
                else:
                    st = "rejected" if i == 1 and kind == "pkm-sos" else "accepted"
                    ups = [(70, st)]
                    if st == "accepted" and kind != "pkm-rsud":
                        ups.append((100, "in-progress"))
                    th = thread(kind, d, 9 + rng.randrange(6), p, ups)
                    th["near"] = "answered (%s) at 70 hours" % st
        threads.sort(key=lambda t: t["req"])
        self.threads = threads
        for th in threads:
            sender = th["from"]
            if th.get("planted"):
                self.plant("unanswered_referral", [[sender, th["id"]]],
                           "%s -> %s requested %s, never answered" % (th["from"], th["to"], th["req"].isoformat()))
                th["referral_id"] = th["id"]
            elif th.get("near"):
                self.near_miss("unanswered_referral", [[sender, th["id"]]],
                               "%s -> %s requested %s" % (th["from"], th["to"], th["req"].isoformat()),
                               th["near"])

    # ---- files ---------------------------------------------------------------
    def write(self, out):
        self.files = []
        self._pkm_imm_files()
        self._klinik_files()
        self._rsud_vxu_files()
        self._school_files()
        self._blk_files()
        self._ytk_files()
        self._program_files()
        self._referral_files()
        order = {PKM: 0, KLINIK: 1, RSUD: 2, SDN: 3, BLK: 4, YTK: 5, SOS: 6}
        self.files.sort(key=lambda f: (f["key"], order[f["agency"]], f["label"]))
        pdir = os.path.join(out, "payloads")
        os.makedirs(pdir)
        manifest = []
        for i, f in enumerate(self.files, 1):
            name = "%04d-%s-%s-%s.%s" % (i, f["key"].strftime("%Y%m%dT%H%M%SZ"), f["agency"], f["label"], f["ext"])
            data = f["data"] if isinstance(f["data"], bytes) else f["data"].encode("utf-8")
            with open(os.path.join(pdir, name), "wb") as fh:
                fh.write(data)
            manifest.append({"file": "payloads/" + name, "agency": f["agency"], "adapter": f["adapter"],
                             "clock": f["key"].strftime("%Y-%m-%dT%H:%M:%SZ"), "events": f["events"]})
        counts = {}
        for m in manifest:
            for e in m["events"]:
                k = "%s/%s" % (m["agency"], e["type"])
                counts[k] = counts.get(k, 0) + 1
        refs = {}
        for th in self.threads:
            final = th["updates"][-1][1] if th["updates"] else "requested"
            refs[th["id"]] = {"from": th["from"], "to": th["to"], "requested_at": th["req"].isoformat(),
                              "status": "REFERRAL_STATUS_" + final.upper().replace("-", "_"),
                              "overdue": bool(th.get("planted")),
                              "role": "planted" if th.get("planted") else "near-miss" if th.get("near") else "background"}
        by_kind = {}
        for p in self.planted:
            by_kind[p["kind"]] = by_kind.get(p["kind"], 0) + 1
        near_kind = {}
        for p in self.near:
            k = "%s: %s" % (p["kind"], p["near"])
            near_kind[k] = near_kind.get(k, 0) + 1
        with open(os.path.join(out, "manifest.json"), "w") as fh:
            json.dump({"seed": self.seed, "month": self.m0.strftime("%Y-%m"), "files": manifest,
                       "events_per_agency_type": dict(sorted(counts.items())),
                       "events": sum(counts.values())}, fh, indent=1)
        with open(os.path.join(out, "planted.json"), "w") as fh:
            json.dump({"seed": self.seed, "month": self.m0.strftime("%Y-%m"),
                       "rules": RULE_OF_KIND,
                       "planted_per_kind": by_kind, "near_misses_per_kind": near_kind,
                       "planted": self.planted, "near_misses": self.near,
                       "referrals": refs,
                       "population": len(self.pop.people),
                       "events_per_agency_type": dict(sorted(counts.items()))}, fh, indent=1)
        return manifest, counts

    def add_file(self, agency, label, ext, data, events, adapter=None):
        key = max(hub_time(e.pop("_t")) for e in events)
        self.files.append({"agency": agency, "adapter": adapter or DEFAULT_ADAPTER[agency], "label": label,
                           "ext": ext, "data": data, "events": events, "key": key})

    @staticmethod
    def ev(type_, sid, t, nik=None, **kw):
        e = {"type": type_, "source_id": sid, "_t": t}
        if nik is not None:
            e["nik"] = nik
        e.update(kw)
        return e

    def _imm_events(self, ims):
        return [self.ev("immunisation", im.source_id, im.when, nik=im.with_nik,
                        vaccine=im.cvx, dose=im.dose, status=im.status) for im in ims]

    def _pkm_imm_files(self):
        sessions = {}
        for im in self.imms:
            if im.agency == PKM:
                sessions.setdefault((im.when.date(), im.location), []).append(im)
        for k, (key, ims) in enumerate(sorted(sessions.items(), key=lambda x: (x[0][0], x[0][1]))):
            d, loc = key
            ims.sort(key=lambda x: (x.when, x.source_id))
            entries, pats = [], {}
            for im in ims:
                p = im.person
                if p.pid not in pats:
                    u = "urn:uuid:%s" % self._uuid()
                    pats[p.pid] = u
                    entries.append({"fullUrl": u, "resource": fhir_patient(
                        p, None, im.written_name, im.with_nik,
                        "https://puskesmas-tanjung-barat.example/id/rm", p.rm_pkm, rng=self.rng),
                        "request": {"method": "POST", "url": "Patient"}})
                entries.append({"fullUrl": "urn:uuid:%s" % self._uuid(),
                                "resource": fhir_immunization(im, pats[p.pid]),
                                "request": {"method": "POST", "url": "Immunization"}})
            bid = "pkm-tb-%s-%03d" % (d.isoformat(), k + 1)
            doc = {"resourceType": "Bundle", "id": bid, "type": "transaction", "entry": entries}
            self.add_file(PKM, "imm-" + bid, "json", json.dumps(doc, indent=1, ensure_ascii=False),
                          self._imm_events(ims))

    def _uuid(self):
        r = self.rng.getrandbits(128)
        h = "%032x" % r
        return "%s-%s-4%s-%s-%s" % (h[:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) % 4] + h[17:20], h[20:32])

    def _klinik_files(self):
        days = {}
        for im in self.imms:
            if im.agency == KLINIK:
                days.setdefault(im.when.date(), []).append(im)
        for d in sorted(days):
            ims = sorted(days[d], key=lambda x: (x.when, x.source_id))
            # a visit (one child, one time) per resource; single visits go as one Immunization
            if len(ims) == 1:
                im = ims[0]
                pat = fhir_patient(im.person, "pat", im.written_name, im.with_nik,
                                   "https://klinik-sehat-bersama.example/id/rm", im.person.rm_klinik,
                                   village="Kel. Tanjung Barat", name_style="parts", rng=self.rng)
                res = fhir_immunization(im, "#pat")
                res = dict([("resourceType", "Immunization"), ("id", im.source_id), ("contained", [pat])]
                           + [(k, v) for k, v in res.items() if k not in ("resourceType", "id")])
                self.add_file(KLINIK, "imm-" + im.source_id, "json", json.dumps(res, indent=1),
                              self._imm_events(ims))
                continue
            entries, pats = [], {}
            for im in ims:
                p = im.person
                if p.pid not in pats:
                    pid = "ksb-pat-%d" % p.pid
                    pats[p.pid] = "Patient/" + pid
                    entries.append({"fullUrl": "https://klinik-sehat-bersama.example/fhir/Patient/" + pid,
                                    "resource": fhir_patient(p, pid, im.written_name, im.with_nik,
                                                             "https://klinik-sehat-bersama.example/id/rm",
                                                             p.rm_klinik, village="Kel. Tanjung Barat",
                                                             name_style="parts", rng=self.rng),
                                    "request": {"method": "PUT", "url": "Patient/" + pid}})
                entries.append({"fullUrl": "https://klinik-sehat-bersama.example/fhir/Immunization/" + im.source_id,
                                "resource": fhir_immunization(im, pats[p.pid]),
                                "request": {"method": "POST", "url": "Immunization"}})
            bid = "ksb-batch-%s" % d.isoformat()
            doc = {"resourceType": "Bundle", "id": bid, "type": "batch", "entry": entries}
            self.add_file(KLINIK, "imm-" + bid, "json", json.dumps(doc, indent=1), self._imm_events(ims))

    def _rsud_vxu_files(self):
        days = {}
        for im in self.imms:
            if im.agency == RSUD:
                days.setdefault(im.when.date(), []).append(im)
        for d in sorted(days):
            ims = sorted(days[d], key=lambda x: (x.when, x.source_id))
            visits = {}
            for im in ims:
                visits.setdefault((im.person.pid, im.when), []).append(im)
            msgs = []
            for (pid, when), vis in sorted(visits.items(), key=lambda x: (x[0][1], x[0][0])):
                p = vis[0].person
                ctl = "RSUD-%s-%04d" % (when.strftime("%Y%m%d"), self.next_id("rsud-msh", 1))
                segs = ["MSH|^~\\&|SIMRS|RSUD-PM|BENANG|DINKES|%s||VXU^V04^VXU_V04|%s|P|2.5.1"
                        % (hl7_ts(when + dt.timedelta(minutes=20)), ctl),
                        hl7_pid(p, vis[0].written_name, vis[0].with_nik)]
                for im in vis:
                    doc_id, fam, giv = im.performer
                    segs.append("ORC|RE||%s^SIMRS" % im.source_id)
                    status = "CP" if im.status == "completed" else "NA"
                    segs.append("RXA|0|1|%s||%s^%s^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001|"
                                "%s^%s^%s|^^^RSUD-PM-POLI-ANAK||||%s||BIO^Bio Farma^MVX|||%s|A"
                                % (when.strftime("%Y%m%d%H%M"), im.cvx, im.display, doc_id, fam, giv,
                                   im.lot, status))
                    segs.append("OBX|1|NM|30973-2^Dose number in series^LN|1|%d||||||F" % im.dose)
                msgs.append("\r".join(segs) + "\r")
            self.add_file(RSUD, "vxu-%s" % d.isoformat(), "hl7", "".join(msgs), self._imm_events(ims))

    def _school_files(self):
        for d in sorted(self.school_rows):
            rows = self.school_rows[d]
            rows.sort(key=lambda r: (r[0].grade, r[0].name, r[1]))
            lines = ["No;NISN;NIK;Nama Siswa;Tgl Lahir;JK;Alamat;RW;Vaksin;Tgl Imunisasi;Keterangan"]
            events = []
            for i, (p, code, status, with_nik, written) in enumerate(rows, 1):
                name = written
                if any(c in name for c in ';",\n'):
                    name = '"' + name.replace('"', '""') + '"'
                addr = p.street
                if self.rng.random() < 0.1:
                    addr = '"%s\nRT %03d"' % (p.street, p.rt)
                code_w = code if code != "TD" else self.rng.choice(["TD", "Td"])
                lines.append(";".join([str(i), p.nisn, p.nik if with_nik else "", name,
                                       p.birth.strftime("%d-%m-%Y"), "P" if p.sex == "F" else "L", addr,
                                       "%02d" % p.rw, code_w, d.strftime("%d/%m/%Y"), status]))
                events.append(self.ev("immunisation", "%s-%s" % (p.nisn, code_w), d, nik=with_nik,
                                      vaccine=BIAS_CVX[code], dose=0,
                                      status="not-done" if status == "TIDAK" else "completed"))
            data = "\ufeff" + "\r\n".join(lines) + "\r\n"
            self.add_file(SDN, "bias-%s" % d.isoformat(), "csv", data, events)

    def _blk_files(self):
        by_start = {}
        for c in self.blk_cohorts:
            by_start.setdefault(c["start"], []).append(c)
        for start in sorted(by_start):
            lines = ["no_peserta,nik,nama,tgl_lahir,kode_kursus,kategori,mulai,selesai,status,jam,lokasi"]
            events = []
            for c in by_start[start]:
                for r in c["rows"]:
                    p = r["p"]
                    name = r["name"]
                    if "," in name or '"' in name:
                        name = '"' + name.replace('"', '""') + '"'
                    lines.append(",".join([r["sid"], p.nik, name, p.birth.strftime("%d-%m-%Y"), c["code"],
                                           c["cat"], c["start"].strftime("%d/%m/%Y"),
                                           c["end"].strftime("%d/%m/%Y"), r["status"], str(c["hours"]),
                                           c["loc"]]))
                    events.append(self.ev("training", r["sid"], c["start"], nik=True, category=c["cat"],
                                          start=c["start"].isoformat(), end=c["end"].isoformat(),
                                          status={"DAFTAR": "enrolled", "KELUAR": "dropped_out",
                                                  "LULUS": "completed", "GAGAL": "failed"}[r["status"]]))
            self.add_file(BLK, "peserta-%s" % start.isoformat(), "csv", "\n".join(lines) + "\n", events)
        # end-of-course results of cohorts that end within the month (new versions)
        by_end = {}
        for c in self.blk_cohorts:
            if c["end"] <= self.m1:
                by_end.setdefault(c["end"], []).append(c)
        for end in sorted(by_end):
            lines = ["no_peserta,nik,nama,tgl_lahir,kode_kursus,kategori,mulai,selesai,status,jam,lokasi"]
            events = []
            for c in by_end[end]:
                for r in c["rows"]:
                    if not r["bg"] or r["status"] != "DAFTAR":
                        continue
                    p = r["p"]
                    x = self.rng.random()
                    st = "LULUS" if x < 0.88 else "GAGAL" if x < 0.95 else "KELUAR"
                    name = r["name"]
                    if "," in name:
                        name = '"' + name + '"'
                    lines.append(",".join([r["sid"], p.nik, name, p.birth.strftime("%d-%m-%Y"), c["code"],
                                           c["cat"], c["start"].strftime("%d/%m/%Y"),
                                           c["end"].strftime("%d/%m/%Y"), st, str(c["hours"]), c["loc"]]))
                    ev = self.ev("training", r["sid"], c["start"], nik=True, category=c["cat"],
                                 start=c["start"].isoformat(), end=c["end"].isoformat(),
                                 status={"LULUS": "completed", "GAGAL": "failed", "KELUAR": "dropped_out"}[st])
                    ev["_t"] = c["start"]
                    events.append(ev)
            if events:
                # exported the evening the courses end: the file goes after that day's traffic
                for e in events:
                    e["_t"] = at(end, 17)
                self.add_file(BLK, "hasil-%s" % end.isoformat(), "csv", "\n".join(lines) + "\n", events)

    def _ytk_files(self):
        for c in sorted(self.ytk_classes, key=lambda c: (c["sessions"][0], c["code"])):
            peserta, events = [], []
            hours = {1: 4, 2: 8, 3: 12}.get(len(c["sessions"]), 8)
            one_day = len(c["sessions"]) == 1
            for r in c["rows"]:
                p = r["p"]
                rec = {"id": r["sid"], "id_anggota": p.member_ytk if self.rng.random() < 0.7 or not r["with_nik"] else None,
                       "nik": p.nik if r["with_nik"] else None, "nama": r["name"],
                       "lahir": p.birth.isoformat(), "jenis_kelamin": "P" if p.sex == "F" else "L",
                       "kelurahan": self.rng.choice([VILLAGE, VILLAGE, "Kel. Tanjung Barat", "TANJUNG BARAT"]),
                       "rw": "%02d" % p.rw,
                       "pelatihan": {"kode": c["code"], "judul": c["title"], "kategori": c["cat"]},
                       "sesi": [{"tanggal": s.isoformat(), "jam": hours // len(c["sessions"])} for s in c["sessions"]],
                       "selesai": c["end"].isoformat(),
                       "status": "LULUS" if one_day else "DAFTAR", "total_jam": hours}
                if rec["id_anggota"] is None:
                    del rec["id_anggota"]
                if rec["nik"] is None:
                    rec["nik"] = None if self.rng.random() < 0.5 else ""
                peserta.append(rec)
                events.append(self.ev("training", r["sid"], c["sessions"][0], nik=r["with_nik"], category=c["cat"],
                                      start=c["sessions"][0].isoformat(), end=c["end"].isoformat(),
                                      status="completed" if one_day else "enrolled"))
            if not peserta:
                continue
            first = c["sessions"][0]
            doc = {"lembaga": "Yayasan Tani Kota", "dibuat": at(first, 7).isoformat(),
                   "kelas": "%s-%s" % (c["code"], first.isoformat()), "data": {"peserta": peserta}}
            self.add_file(YTK, "kelas-%s-%s" % (c["code"].lower(), first.isoformat()), "json",
                          json.dumps(doc, indent=1, ensure_ascii=False), events)

    def _program_files(self):
        groups = {}
        for pg in self.programs:
            groups.setdefault((pg["agency"], pg["plan_day"]), []).append(pg)
        for (agency, d) in sorted(groups):
            arr, events = [], []
            for pg in groups[(agency, d)]:
                arr.append({"sourceId": pg["id"], "occurredAt": d.isoformat(), "area": pg["areas"][0],
                            "program": {"programId": pg["id"], "name": pg["name"], "sector": pg["sector"],
                                        "targetGroup": pg["tg"], "areas": pg["areas"],
                                        "period": {"start": pg["start"].isoformat(), "end": pg["end"].isoformat()},
                                        "targetCount": pg["count"], "funding": pg["funding"]}})
                events.append(self.ev("program", pg["id"], d, sector=pg["sector"], target_group=pg["tg"],
                                      areas=pg["areas"]))
            self.add_file(agency, "program-%s" % d.isoformat(), "json", json.dumps(arr, indent=1),
                          events, adapter="canonical-json")

    def _referral_files(self):
        rng = self.rng
        for th in self.threads:
            p = th["person"]
            r = th["reason"]
            code, disp, text = r[0], r[1], r[2] if len(r) > 2 else r[1]
            if th["kind"] in ("pkm-sos", "pkm-rsud"):
                perf = "Organization/SUDIN-SOS-JS" if th["to"] == SOS else "Organization/RSUD-PM"
                sr = {"resourceType": "ServiceRequest", "id": th["id"],
                      "contained": [fhir_patient(p, "p", p.name, True, "https://puskesmas-tanjung-barat.example/id/rm",
                                                 p.rm_pkm, rng=rng)],
                      "status": "active", "intent": "order", "priority": th["priority"],
                      "subject": {"reference": "#p"}, "authoredOn": th["req"].isoformat(),
                      "requester": {"reference": "Organization/PKM-TB"}, "performer": [{"reference": perf}],
                      "reasonCode": [{"coding": [{"system": ICD10, "code": code, "display": disp}], "text": text}],
                      "note": [{"text": text}]}
                self.add_file(PKM, "referral-" + th["id"], "json", json.dumps(sr, indent=1),
                              [self.ev("referral", th["id"], th["req"], nik=True, referral_id=th["id"],
                                       status="REFERRAL_STATUS_REQUESTED", from_agency=PKM, to_agency=th["to"])])
            else:
                msg = "\r".join([
                    "MSH|^~\\&|SIMRS|RSUD-PM|BENANG|DINSOS|%s||REF^I12^REF_I12|RSUD-REF-%s|P|2.5.1"
                    % (hl7_ts(th["req"]), th["id"][-4:]),
                    "RF1|P^Pending^HL70283|%s|SOC^Social^HL70281||O^Outpatient^HL70284|%s^SIMRS|%s||%s|%s^%s^I10"
                    % ("U^Urgent^HL70280" if th["priority"] == "urgent" else "R^Routine^HL70280", th["id"],
                       hl7_ts(th["req"]), th["req"].strftime("%Y%m%d"), code, disp),
                    "PRD|RP^Referring Provider^HL70286|Hartono^Agus|||||RSUD-PM^^^RSUDPRD",
                    "PRD|RT^Referred to Provider^HL70286|Santoso^Budi|||||DINSOS-JKS^^^DINSOSPID",
                    hl7_pid(p, p.name)]) + "\r"
                self.add_file(RSUD, "ref-" + th["id"], "hl7", msg,
                              [self.ev("referral", th["id"], th["req"], nik=True, referral_id=th["id"],
                                       status="REFERRAL_STATUS_REQUESTED", from_agency=RSUD, to_agency=SOS)])
            for k, (when, st) in enumerate(th["updates"], 1):
                status_enum = "REFERRAL_STATUS_" + st.upper().replace("-", "_")
                if st == "cancelled" and th["from"] == PKM:
                    # the Puskesmas withdraws its own request: a new version of the ServiceRequest
                    sr = json.loads(json.dumps(self._last_sr(th)))
                    sr["status"] = "revoked"
                    sr["meta"] = {"lastUpdated": when.isoformat()}
                    sr["authoredOn"] = when.isoformat()
                    sr["note"] = [{"text": "dibatalkan: pasien pindah domisili"}]
                    self.add_file(PKM, "referral-%s-revoked" % th["id"], "json", json.dumps(sr, indent=1),
                                  [self.ev("referral", th["id"], when, nik=True, referral_id=th["id"],
                                           status=status_enum)])
                elif th["to"] == SOS:
                    tid = "sos-task-%05d" % self.next_id("sos-task", 700)
                    task = {"resourceType": "Task", "id": tid,
                            "basedOn": [{"reference": "ServiceRequest/" + th["id"]}],
                            "status": st, "intent": "order", "authoredOn": th["req"].isoformat(),
                            "lastModified": when.isoformat(),
                            "requester": {"reference": "Organization/PKM-TB" if th["from"] == PKM else "Organization/RSUD-PM"},
                            "owner": {"reference": "Organization/SUDIN-SOS-JS"}}
                    if st == "rejected":
                        task["note"] = [{"text": "tidak memenuhi kriteria, diarahkan ke program kelurahan"}]
                    self.add_file(SOS, "task-%s-%s" % (th["id"], st), "json", json.dumps(task, indent=1),
                                  [self.ev("referral", "Task/" + tid, when, referral_id=th["id"], status=status_enum)])
                else:
                    # the hospital answers the Puskesmas' referral with REF^I13
                    rf = {"accepted": "A^Accepted^HL70283", "rejected": "R^Rejected^HL70283"}[st]
                    msg = "\r".join([
                        "MSH|^~\\&|SIMRS|RSUD-PM|BENANG|PKM-TB|%s||REF^I13^REF_I12|RSUD-REF-ANS-%05d|P|2.5.1"
                        % (hl7_ts(when), self.next_id("rsud-ans", 1)),
                        "RF1|%s|R^Routine^HL70280|MED^Medical^HL70281||O^Outpatient^HL70284|%s^SIMPUS|||%s|%s^%s^I10"
                        % (rf, th["id"], th["req"].strftime("%Y%m%d"), code, disp),
                        "PRD|RP^Referring Provider^HL70286|Rina^Bidan|||||PKM-TB-01^^^PRD",
                        "PRD|RT^Referred to Provider^HL70286|Hartono^Agus|||||RSUD-PM^^^PRD",
                        hl7_pid(p, p.name)]) + "\r"
                    self.add_file(RSUD, "ref-%s-%s" % (th["id"], st), "hl7", msg,
                                  [self.ev("referral", th["id"], when, nik=True, referral_id=th["id"],
                                           status=status_enum)])

    def _last_sr(self, th):
        for f in reversed(self.files):
            if f["label"] == "referral-" + th["id"]:
                return json.loads(f["data"])
        raise KeyError(th["id"])

    # ---- checks ----------------------------------------------------------------
    def check_linkage(self):
        """Every record without a NIK must link to no one else: compare it
        with every other person recorded in its block (birth date + village;
        every record here names Tanjung Barat). The planted ones must also
        link to their person's NIK records (score at or above the upper
        threshold)."""
        recs = []  # (pid, birth, written name, sex, has NIK, agency, source_id)
        for im in self.imms:
            recs.append((im.person.pid, im.person.birth, im.written_name, im.person.sex, im.with_nik,
                         im.agency, im.source_id))
        for d, rows in self.school_rows.items():
            for p, code, st, with_nik, written in rows:
                recs.append((p.pid, p.birth, written, p.sex, with_nik, SDN, "%s-%s" % (p.nisn, code)))
        for c in self.blk_cohorts:
            for r in c["rows"]:
                recs.append((r["p"].pid, r["p"].birth, r["name"], None, True, BLK, r["sid"]))
        for c in self.ytk_classes:
            for r in c["rows"]:
                recs.append((r["p"].pid, r["p"].birth, r["name"], r["p"].sex, r["with_nik"], YTK, r["sid"]))
        for th in self.threads:
            recs.append((th["person"].pid, th["person"].birth, th["person"].name, th["person"].sex, True,
                         th["from"], th["id"]))
        planted = {(a, s) for p in self.planted for a, s in p["members"]}
        block = {}
        for r in recs:
            block.setdefault(r[1], []).append(r)
        problems = []
        for r in recs:
            if r[4]:
                continue
            for o in block[r[1]]:
                sc = link_score(r[2], r[3], o[2], o[3])
                if o[0] != r[0] and sc >= LINK_LOWER:
                    problems.append("record %r of person %d scores %.3f against %r of person %d"
                                    % (r[2], r[0], sc, o[2], o[0]))
            if (r[5], r[6]) in planted:
                own = [o for o in block[r[1]] if o[0] == r[0] and o[4]]
                if not own:
                    problems.append("planted record %s %s has no NIK record of its person to link to" % r[5:7])
                for o in own:
                    sc = link_score(r[2], r[3], o[2], o[3])
                    if sc < LINK_UPPER:
                        problems.append("planted record %r of person %d scores only %.3f against its own %r"
                                        % (r[2], r[0], sc, o[2]))
        return problems


def generate(seed, out, month):
    sc = Scenario(seed, month)
    sc.build_population()
    sc.plant_immunisations()
    sc.background_immunisations()
    sc.school()
    sc.trainings_all()
    sc.programs_all()
    sc.referrals_all()
    problems = sc.check_linkage()
    if os.path.isdir(out):
        for sub in ("payloads",):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        for fn in ("manifest.json", "planted.json"):
            if os.path.exists(os.path.join(out, fn)):
                os.remove(os.path.join(out, fn))
    os.makedirs(out, exist_ok=True)
    manifest, counts = sc.write(out)
    return sc, manifest, counts, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--month", default="2026-10", help="YYYY-MM (default 2026-10)")
    a = ap.parse_args()
    sc, manifest, counts, problems = generate(a.seed, a.out, a.month)
    if problems:
        for p in problems[:20]:
            print("gen_scenario: linkage check: " + p, file=sys.stderr)
        print("gen_scenario: %d linkage problems (names the hub could confuse); try another seed"
              % len(problems), file=sys.stderr)
        return 1
    n = sum(counts.values())
    print("gen_scenario: seed %d, %s: %d residents, %d files, %d events"
          % (a.seed, a.month, len(sc.pop.people), len(manifest), n))
    for k, v in sorted(counts.items()):
        print("  %-40s %5d" % (k, v))
    kinds = {}
    for p in sc.planted:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    nk = {}
    for p in sc.near:
        nk[p["kind"]] = nk.get(p["kind"], 0) + 1
    print("  planted:     " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    print("  near-misses: " + ", ".join("%s %d" % kv for kv in sorted(nk.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
