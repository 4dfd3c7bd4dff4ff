/* test_adapters_hub: the demo kelurahan's agencies publish in their own formats
 * through a real hub: FHIR, HL7 v2, CSV and mapped JSON, the public reference
 * messages in ../shared/fixtures, one resident linked across three formats,
 * all-or-nothing payloads, and a refused payload re-run after its mapping is
 * fixed (benangctl rejected retry). */
#include <signal.h>
#include <stdlib.h>

#include "benang/client.h"
#include "testutil.h"

static bn_client_options_t opts = {.timeout_ms = 10000};

static bn_status_t publish_file(bn_publisher_t *p, const char *agency, const char *path,
                                bn_publish_result_t *res)
{
    size_t len = 0;
    char *data = bn_test_read_file(path, &len);
    if (!data) {
        fprintf(stderr, "cannot read %s\n", path);
        return BN_IO;
    }
    bn_error_t err;
    bn_status_t st = bn_publisher_publish(p, agency, NULL, data, len, res, &err);
    if (st != BN_OK && st != BN_DUPLICATE)
        fprintf(stderr, "  %s as %s: %s %s: %s\n", path, agency, bn_status_name(st),
                res->reply ? res->reply->error_path : "", res->reply ? res->reply->error : err.msg);
    free(data);
    return st;
}

static uint64_t first_seq; /* of the last expect_events() */

static size_t expect_events(bn_publisher_t *p, const char *agency, const char *file, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/config/examples/%s", BN_SOURCE_DIR, file);
    bn_publish_result_t res;
    bn_status_t st = publish_file(p, agency, path, &res);
    CHECK_MSG(st == BN_OK, "%s: %s", file, bn_status_name(st));
    size_t got = st == BN_OK && res.reply ? res.reply->n_events : 0;
    first_seq = got ? res.reply->events[0]->seq : 0;
    CHECK_MSG(got == n, "%s: %zu events, want %zu", file, got, n);
    return got;
}

/* The subject_key of the event at seq (malloc'ed), or NULL. */
static char *subject_key(bn_query_t *q, uint64_t seq)
{
    const Benang__V1__FetchReply *fr = NULL;
    bn_error_t err;
    if (bn_query_fetch(q, seq, seq, 1, NULL, 0, &fr, &err) != BN_OK || fr->n_events != 1 ||
        !fr->events[0]->subject)
        return NULL;
    return strdup(fr->events[0]->subject->subject_key);
}

static void write_yayasan(const bn_test_hub_t *h, bool with_gagal)
{
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/config/agencies/yayasan-tani-kota.yaml", BN_SOURCE_DIR);
    snprintf(dst, sizeof dst, "%s/yayasan.yaml", h->dir);
    size_t len = 0;
    char *y = bn_test_read_file(src, &len);
    CHECK(y != NULL);
    if (!y)
        return;
    const char *from = "map: {LULUS: completed, DAFTAR: enrolled}";
    char *at = strstr(y, from);
    CHECK(at != NULL);
    if (with_gagal && at) {
        char out[8192];
        snprintf(out, sizeof out, "%.*smap: {LULUS: completed, DAFTAR: enrolled, GAGAL: failed}%s",
                 (int)(at - y), y, at + strlen(from));
        bn_test_write_file(dst, out, strlen(out));
    } else {
        bn_test_write_file(dst, y, len);
    }
    free(y);
}

int main(void)
{
    char agencies[4096];
    const char *files[] = {"puskesmas-tanjung-barat", "rsud-pasar-minggu", "klinik-sehat-bersama",
                           "sdn-tanjung-barat-01", "blk-jakarta-selatan", "sudin-sosial-jaksel"};
    size_t o = (size_t)snprintf(agencies, sizeof agencies, "agencies:\n");
    for (size_t i = 0; i < 6; i++)
        o += (size_t)snprintf(agencies + o, sizeof agencies - o,
                              "  - file: %s/config/agencies/%s.yaml\n", BN_SOURCE_DIR, files[i]);
    snprintf(agencies + o, sizeof agencies - o, "  - file: yayasan.yaml\n");
    bn_test_hub_t h = {0};
    /* the yayasan file lives in the hub's temp dir: it is edited below */
    bn_test_hub_prepare(&h);
    write_yayasan(&h, false);
    if (bn_test_hub_start(&h, NULL, agencies) != 0) {
        bn_test_hub_dump_log(&h);
        return 1;
    }
    bn_error_t err;
    bn_publisher_t *p = NULL;
    bn_query_t *q = NULL;
    CHECK(bn_publisher_new(&p, h.ingest, &opts, &err) == BN_OK);
    CHECK(bn_query_new(&q, h.query, &opts, &err) == BN_OK);

    size_t n = 0;
    uint64_t s1, s2, s3; /* alerts of the overlap rules may come in between */
    n += expect_events(p, "puskesmas-tanjung-barat", "puskesmas-bundle-immunization.json", 1);
    s1 = first_seq;
    n += expect_events(p, "klinik-sehat-bersama", "klinik-immunization.json", 1);
    s2 = first_seq;
    n += expect_events(p, "rsud-pasar-minggu", "rsud-vxu.hl7", 1);
    s3 = first_seq;
    n += expect_events(p, "puskesmas-tanjung-barat", "puskesmas-referral.json", 1);
    n += expect_events(p, "sudin-sosial-jaksel", "sudin-sosial-task-accepted.json", 1);
    n += expect_events(p, "rsud-pasar-minggu", "rsud-ref.hl7", 1);
    n += expect_events(p, "sdn-tanjung-barat-01", "sdn-bias.csv", 3);
    n += expect_events(p, "blk-jakarta-selatan", "blk-peserta.csv", 3);
    CHECK_EQ_U64(n, 12);

    /* one child, three systems, three formats: one pseudonym */
    char *k1 = subject_key(q, s1), *k2 = subject_key(q, s2), *k3 = subject_key(q, s3);
    CHECK(k1 && strlen(k1) == 64);
    CHECK(k1 && k2 && strcmp(k1, k2) == 0);
    CHECK(k1 && k3 && strcmp(k1, k3) == 0);
    free(k1), free(k2), free(k3);

    /* all or nothing: a CSV with one bad date stores none of its rows */
    const char *csv = "no_peserta,nik,nama,tgl_lahir,kode_kursus,kategori,mulai,selesai,status,jam,"
                      "lokasi\nBLK-X-1,,A,01-01-1990,K,c,01/12/2026,02/12/2026,DAFTAR,1,L\n"
                      "BLK-X-2,,B,01-01-1990,K,c,32/12/2026,02/12/2026,DAFTAR,1,L\n";
    bn_publish_result_t res;
    const Benang__V1__StatusReply *sr = NULL;
    CHECK(bn_query_status(q, &sr, &err) == BN_OK && sr);
    uint64_t head_before = sr ? sr->head_seq : 0;
    CHECK(head_before >= n);
    CHECK(bn_publisher_publish(p, "blk-jakarta-selatan", NULL, csv, strlen(csv), &res, &err) ==
          BN_INVALID_EVENT);
    CHECK_MSG(res.reply && strstr(res.reply->error_path, "line 3"), "path %s",
              res.reply ? res.reply->error_path : "");
    CHECK(bn_query_status(q, &sr, &err) == BN_OK && sr->head_seq == head_before);

    /* the public reference messages: NIST VXU through the hospital's HL7 v2 adapter,
     * the FHIR-Converter bundle through the Puskesmas' FHIR adapter, ADT ignored */
    char path[700];
    snprintf(path, sizeof path, "%s/../shared/fixtures/hl7v2/vxu_v04_nist_iz_1.1_admin_child_max.hl7",
             BN_SOURCE_DIR);
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        CHECK(publish_file(p, "rsud-pasar-minggu", path, &res) == BN_OK && res.reply->n_events == 1);
        snprintf(path, sizeof path,
                 "%s/../shared/fixtures/fhir/"
                 "fhir-converter-bundle-batch-patient-immunization-from-nist-vxu.json",
                 BN_SOURCE_DIR);
        CHECK(publish_file(p, "puskesmas-tanjung-barat", path, &res) == BN_OK &&
              res.reply->n_events >= 1);
        snprintf(path, sizeof path, "%s/../shared/fixtures/hl7v2/adt_a01_v2.3_accmgr.hl7",
                 BN_SOURCE_DIR);
        CHECK(publish_file(p, "rsud-pasar-minggu", path, &res) == BN_BAD_PAYLOAD);
        CHECK(res.reply && strstr(res.reply->error, "no events"));
    } else {
        printf("note: ../shared/fixtures not found; reference messages skipped\n");
    }

    /* a format change: status GAGAL is not mapped yet -> refused and kept */
    const char *ytk = "{\"data\":{\"peserta\":[{\"id\":\"YTK-9\",\"nik\":\"3174090101880004\","
                      "\"pelatihan\":{\"kode\":\"K\",\"judul\":\"J\",\"kategori\":\"c\"},"
                      "\"sesi\":[{\"tanggal\":\"2026-11-20\"}],\"status\":\"GAGAL\"}]}}";
    CHECK(bn_publisher_publish(p, "yayasan-tani-kota", NULL, ytk, strlen(ytk), &res, &err) ==
          BN_INVALID_EVENT);
    uint64_t rid = res.reply ? res.reply->rejected_id : 0;
    CHECK(rid > 0);
    bn_publisher_destroy(&p);
    bn_query_destroy(&q);

    /* the operator fixes the mapping, restarts the hub and re-runs it */
    CHECK(bn_test_hub_stop(&h, SIGTERM) == 0);
    write_yayasan(&h, true);
    CHECK(bn_test_hub_restart(&h) == 0);
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s rejected retry --agency yayasan-tani-kota --config %s 2>&1",
             BN_CTL_BIN, h.config);
    CHECK(bn_test_run(cmd, &out) == 0);
    CHECK_MSG(out && strstr(out, "stored seq="), "got: %s", out);
    free(out);
    CHECK(bn_query_new(&q, h.query, &opts, &err) == BN_OK);
    const Benang__V1__RejectedReply *rr = NULL;
    CHECK(bn_query_rejected(q, "yayasan-tani-kota", 0, 0, 0, false, &rr, &err) == BN_OK &&
          rr->total == 0);
    const Benang__V1__FetchReply *fr = NULL;
    const char *tr[] = {"training.ngo.yayasan-tani-kota"};
    CHECK(bn_query_fetch(q, 1, 0, 0, tr, 1, &fr, &err) == BN_OK && fr->n_events == 1 &&
          fr->events[0]->training &&
          fr->events[0]->training->participant_status ==
              BENANG__V1__PARTICIPANT_STATUS__PARTICIPANT_STATUS_FAILED);
    bn_query_destroy(&q);

    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_test_hub_cleanup(&h);
    return bn_test_finish("test_adapters_hub");
}
