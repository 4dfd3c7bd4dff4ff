/* test_config.c: hub.yaml loading, through the public API of hub/config.h.
 *
 * The shipped config/hub.yaml must load with the demo kelurahan's values; a
 * minimal file gets every documented default; each kind of mistake is
 * reported with the exact file:line:col and a message naming the key. Reads
 * as the example of how to load a config and report its error.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "config.h"
#include "testutil.h"

/* The smallest valid agencies block: four lines. */
#define AG                                                                                         \
    "agencies:\n"                                                                                  \
    "  - id: a\n"                                                                                  \
    "    sector: health\n"                                                                         \
    "    adapters: [canonical]\n"

static bn_status_t load(const char *yaml, bn_config_t **c, bn_error_t *err)
{
    bn_error_clear(err);
    return bn_config_load_string(c, "t.yaml", yaml, strlen(yaml), err);
}

/* yaml must fail with BN_CONFIG at where, the message containing msg. */
#define EXPECT_ERR(yaml, where_, msg_)                                                             \
    do {                                                                                           \
        bn_config_t *c_ = (bn_config_t *)1;                                                        \
        bn_error_t e_;                                                                             \
        bn_status_t st_ = load((yaml), &c_, &e_); /* CHECK_* evaluate twice on failure */          \
        CHECK_EQ_U64(st_, BN_CONFIG);                                                              \
        CHECK(c_ == NULL);                                                                         \
        CHECK_EQ_U64(e_.status, BN_CONFIG);                                                        \
        CHECK_STR(e_.where, (where_));                                                             \
        CHECK_MSG(strstr(e_.msg, (msg_)) != NULL, "\"%s\" lacks \"%s\"", e_.msg, (msg_));          \
        bn_config_destroy(&c_);                                                                    \
    } while (0)

static void test_default_file(void)
{
    bn_config_t *c = NULL;
    bn_error_t e;
    bn_status_t st = bn_config_load(&c, BN_SOURCE_DIR "/config/hub.yaml", &e);
    CHECK_MSG(st == BN_OK, "%s: %s", e.where, e.msg);
    if (st != BN_OK)
        return;
    CHECK_STR(c->path, BN_SOURCE_DIR "/config/hub.yaml");
    CHECK_STR(c->hub_id, "benang-tanjung-barat");
    CHECK_STR(c->data_dir, "./data");
    CHECK_STR(c->log_level, "info");
    CHECK_EQ_U64(c->durability, BN_DURABILITY_SYNC);
    CHECK_EQ_U64(c->sync_interval_ms, 200);
    CHECK_EQ_U64(c->max_payload_bytes, 1048576);
    CHECK_EQ_U64(c->max_batch_events, 4096);
    CHECK_EQ_U64(c->max_events_per_request, 10000);
    CHECK_EQ_U64(c->map_size_mb, 1024);
    CHECK_STR(c->key_file, "./data/hub.key");
    CHECK(!c->store_nik);
    CHECK_STR(c->ingest_endpoint, "tcp://127.0.0.1:7701");
    CHECK_STR(c->feed_endpoint, "tcp://127.0.0.1:7702");
    CHECK_STR(c->query_endpoint, "tcp://127.0.0.1:7703");

    static const char *const ids[] = {"puskesmas-tanjung-barat", "rsud-pasar-minggu",
                                      "klinik-sehat-bersama",    "sdn-tanjung-barat-01",
                                      "blk-jakarta-selatan",     "yayasan-tani-kota",
                                      "sudin-sosial-jaksel"};
    static const char *const sectors[] = {"health",     "health", "health", "education",
                                          "employment", "ngo",    "social"};
    CHECK_EQ_U64(c->n_agencies, 7);
    for (size_t i = 0; i < 7 && i < c->n_agencies; i++) {
        const bn_agency_conf_t *a = &c->agencies[i];
        CHECK_STR(a->id, ids[i]);
        CHECK_STR(a->sector, sectors[i]);
        CHECK(a->name && strlen(a->name) > 0);
        CHECK(a->n_adapters >= 1);
    }
    /* each agency publishes in its own system's format (one file each in config/agencies) */
    static const char *const defaults[] = {"fhir", "hl7v2", "fhir", "csv", "csv", "json", "fhir"};
    for (size_t i = 0; i < 7 && i < c->n_agencies; i++) {
        CHECK_STR(c->agencies[i].adapters[0], defaults[i]);
        CHECK(c->agencies[i].settings != NULL);
    }
    CHECK_EQ_U64(c->n_sources, 7);
    const bn_agency_conf_t *rs = bn_config_agency(c, "rsud-pasar-minggu");
    CHECK(rs == &c->agencies[1]);
    CHECK_STR(rs ? rs->name : "(missing)", "RSUD Pasar Minggu");
    CHECK(bn_agency_allows(rs, "hl7v2"));
    CHECK(!bn_agency_allows(rs, "canonical"));
    CHECK(!bn_agency_allows(rs, "fhir"));
    CHECK(bn_config_agency(c, "no-such-agency") == NULL);
    bn_config_destroy(&c);
    CHECK(c == NULL);
}

static void test_defaults(void)
{
    bn_config_t *c = NULL;
    bn_error_t e;
    bn_status_t st = load(AG, &c, &e);
    CHECK_MSG(st == BN_OK, "%s: %s", e.where, e.msg);
    if (st != BN_OK)
        return;
    CHECK_STR(c->path, "t.yaml");
    CHECK_STR(c->hub_id, "benang");
    CHECK_STR(c->data_dir, "./data");
    CHECK_STR(c->log_level, "info");
    CHECK_EQ_U64(c->durability, BN_DURABILITY_SYNC);
    CHECK_EQ_U64(c->sync_interval_ms, 200);
    CHECK_EQ_U64(c->max_payload_bytes, 1048576);
    CHECK_EQ_U64(c->max_batch_events, 4096);
    CHECK_EQ_U64(c->max_events_per_request, 10000);
    CHECK_EQ_U64(c->map_size_mb, 1024);
    CHECK_STR(c->key_file, "./data/hub.key");
    CHECK(!c->store_nik);
    CHECK_EQ_U64(c->rule_index_flush, 1000000);
    CHECK_EQ_U64(c->rule_index_flush_max, 2000000);
    CHECK_STR(c->ingest_endpoint, "tcp://127.0.0.1:7701");
    CHECK_STR(c->feed_endpoint, "tcp://127.0.0.1:7702");
    CHECK_STR(c->query_endpoint, "tcp://127.0.0.1:7703");
    CHECK_EQ_U64(c->n_agencies, 1);
    CHECK_STR(c->agencies[0].id, "a");
    CHECK_STR(c->agencies[0].name, "a"); /* name defaults to the id */
    CHECK_STR(c->agencies[0].area, "");
    CHECK_EQ_U64(c->agencies[0].n_adapters, 1);
    CHECK_STR(c->agencies[0].adapters[0], "canonical");
    bn_config_destroy(&c);

    /* An empty section is an empty mapping: defaults. */
    st = load("hub:\nendpoints:\n" AG, &c, &e);
    CHECK_EQ_U64(st, BN_OK);
    CHECK_STR(c ? c->hub_id : "(missing)", "benang");
    bn_config_destroy(&c);
}

static void test_values(void)
{
    bn_config_t *c = NULL;
    bn_error_t e;
    bn_status_t st = load("hub:\n"
                          "  id: h1\n"
                          "  data_dir: /var/lib/benang/\n"
                          "  log_level: debug\n"
                          "  durability: buffered\n"
                          "  sync_interval_ms: 60000\n"
                          "  max_payload_bytes: 67108864\n"
                          "  max_batch_events: 1\n"
                          "  max_events_per_request: \"1000000\"\n"
                          "  map_size_mb: 1048576\n"
                          "  store_nik: yes\n"
                          "endpoints:\n"
                          "  ingest: ipc:///tmp/in\n"
                          "  feed: inproc://feed\n"
                          "agencies:\n"
                          "  - id: 0a-b\n"
                          "    name: Klinik \"B\"\n"
                          "    sector: social_care-2\n"
                          "    area: \"31.74.09\"\n"
                          "    adapters:\n"
                          "      - csv\n"
                          "      - canonical\n",
                          &c, &e);
    CHECK_MSG(st == BN_OK, "%s: %s", e.where, e.msg);
    if (st != BN_OK)
        return;
    CHECK_STR(c->hub_id, "h1");
    CHECK_STR(c->key_file, "/var/lib/benang/hub.key"); /* no double slash */
    CHECK_STR(c->log_level, "debug");
    CHECK_EQ_U64(c->durability, BN_DURABILITY_BUFFERED);
    CHECK_EQ_U64(c->sync_interval_ms, 60000);
    CHECK_EQ_U64(c->max_payload_bytes, 67108864);
    CHECK_EQ_U64(c->max_batch_events, 1);
    CHECK_EQ_U64(c->max_events_per_request, 1000000);
    CHECK_EQ_U64(c->map_size_mb, 1048576);
    CHECK(c->store_nik);
    CHECK_STR(c->ingest_endpoint, "ipc:///tmp/in");
    CHECK_STR(c->feed_endpoint, "inproc://feed");
    CHECK_STR(c->query_endpoint, "tcp://127.0.0.1:7703");
    CHECK_STR(c->agencies[0].id, "0a-b");
    CHECK_STR(c->agencies[0].name, "Klinik \"B\"");
    CHECK_STR(c->agencies[0].sector, "social_care-2");
    CHECK_STR(c->agencies[0].area, "31.74.09");
    CHECK_EQ_U64(c->agencies[0].n_adapters, 2);
    CHECK_STR(c->agencies[0].adapters[0], "csv");
    CHECK(bn_agency_allows(bn_config_agency(c, "0a-b"), "canonical"));
    bn_config_destroy(&c);

    /* key_file given, and store_nik spelled false / no. */
    st = load("hub:\n  key_file: /k\n  store_nik: no\n" AG, &c, &e);
    CHECK_EQ_U64(st, BN_OK);
    CHECK_STR(c ? c->key_file : "(missing)", "/k");
    CHECK(c && !c->store_nik);
    bn_config_destroy(&c);
}

static void test_hub_errors(void)
{
    EXPECT_ERR("hub:\n  durability: fast\n" AG, "t.yaml:2:15",
               "hub.durability: must be one of sync, buffered (got \"fast\")");
    EXPECT_ERR("hub:\n  log_level: verbose\n" AG, "t.yaml:2:14",
               "hub.log_level: must be one of debug, info, warn, error (got \"verbose\")");
    EXPECT_ERR("hub:\n  id: x\n  foo: 1\n" AG, "t.yaml:3:3",
               "hub.foo: unknown key; known keys are id, data_dir, log_level, durability, "
               "sync_interval_ms, max_payload_bytes, max_batch_events, max_events_per_request, "
               "map_size_mb, key_file, store_nik");
    EXPECT_ERR("hub:\n  data_dir:\n    a: b\n" AG, "t.yaml:3:5",
               "hub.data_dir: expected a scalar (got a mapping)");
    EXPECT_ERR("hub:\n  id: [a, b]\n" AG, "t.yaml:2:7",
               "hub.id: expected a scalar (got a sequence)");
    EXPECT_ERR("hub:\n  data_dir: \"\"\n" AG, "t.yaml:2:13", "hub.data_dir: must not be empty");
    EXPECT_ERR("hub:\n  max_batch_events: abc\n" AG, "t.yaml:2:21",
               "hub.max_batch_events: must be a whole number (got \"abc\")");
    EXPECT_ERR("hub:\n  map_size_mb: -5\n" AG, "t.yaml:2:16",
               "hub.map_size_mb: must not be negative (got \"-5\")");
    EXPECT_ERR("hub:\n  rule_index_flush_max: 0\n" AG, "t.yaml:2:25", "hub.rule_index_flush_max");
    EXPECT_ERR("hub:\n  sync_interval_ms: 10ms\n" AG, "t.yaml:2:21",
               "hub.sync_interval_ms: must be a whole number (got \"10ms\")");
    EXPECT_ERR("hub:\n  sync_interval_ms: 1.5\n" AG, "t.yaml:2:21", "must be a whole number");
    EXPECT_ERR("hub:\n  max_payload_bytes: 99999999999999999999999\n" AG, "t.yaml:2:22",
               "hub.max_payload_bytes: must be between 1 and 67108864");
    /* 2^64 + 5 must not wrap around to 5. */
    EXPECT_ERR("hub:\n  max_payload_bytes: 18446744073709551621\n" AG, "t.yaml:2:22",
               "hub.max_payload_bytes: must be between 1 and 67108864");
    EXPECT_ERR("hub:\n  sync_interval_ms: 0\n" AG, "t.yaml:2:21",
               "hub.sync_interval_ms: must be between 1 and 60000 (got \"0\")");
    EXPECT_ERR("hub:\n  sync_interval_ms: 60001\n" AG, "t.yaml:2:21",
               "must be between 1 and 60000 (got \"60001\")");
    /* Larger than uint32 must not wrap into range. */
    EXPECT_ERR("hub:\n  max_batch_events: 4294967297\n" AG, "t.yaml:2:21",
               "hub.max_batch_events: must be between 1 and 100000");
    EXPECT_ERR("hub:\n  store_nik: maybe\n" AG, "t.yaml:2:14",
               "hub.store_nik: must be true, false, yes or no (got \"maybe\")");
    EXPECT_ERR("hub:\n  id: a\n  id: b\n" AG, "t.yaml:3:3", "hub.id: duplicate key");
    EXPECT_ERR("hub: 5\n" AG, "t.yaml:1:6", "hub: expected a mapping (got a scalar)");
}

static void test_endpoint_errors(void)
{
    EXPECT_ERR("endpoints:\n  feed: http://x\n" AG, "t.yaml:2:9",
               "endpoints.feed: must start with tcp://, ipc:// or inproc:// (got \"http://x\")");
    EXPECT_ERR("endpoints:\n  query: tcp://\n" AG, "t.yaml:2:10", "endpoints.query: must start");
    EXPECT_ERR("endpoints:\n  pub: tcp://a:1\n" AG, "t.yaml:2:3",
               "endpoints.pub: unknown key; known keys are ingest, feed, query");
}

static void test_agency_errors(void)
{
    EXPECT_ERR("hub:\n  id: x\n", "t.yaml:1:1", "at least one agency is required");
    EXPECT_ERR("agencies: []\n", "t.yaml:1:11", "agencies: at least one agency is required");
    EXPECT_ERR("agencies:\n", "t.yaml:1:10", "agencies: at least one agency is required");
    EXPECT_ERR("agencies:\n  id: a\n", "t.yaml:2:3",
               "agencies: expected a sequence of agencies (got a mapping)");
    EXPECT_ERR(AG "  - id: a\n    sector: social\n    adapters: [canonical]\n", "t.yaml:5:9",
               "agencies[1].id: duplicate agency id \"a\"");
    EXPECT_ERR("agencies:\n  - id: Puskesmas\n    sector: health\n    adapters: [x]\n",
               "t.yaml:2:9",
               "agencies[0].id: must match [a-z0-9][a-z0-9-]{0,62} (got \"Puskesmas\")");
    EXPECT_ERR("agencies:\n  - id: -a\n    sector: health\n    adapters: [x]\n", "t.yaml:2:9",
               "agencies[0].id: must match");
    EXPECT_ERR("agencies:\n  - id: a\n    sector: Health\n    adapters: [x]\n", "t.yaml:3:13",
               "agencies[0].sector: must match [a-z0-9_-]{1,32} (got \"Health\")");
    EXPECT_ERR("agencies:\n  - id: a\n    sector: health\n    adapters: []\n", "t.yaml:4:15",
               "agencies[0].adapters: must have 1 to 64 entries (got 0)");
    EXPECT_ERR("agencies:\n  - id: a\n    sector: health\n    adapters: [canonical, \"\"]\n",
               "t.yaml:4:27", "agencies[0].adapters[1]: must not be empty");
    EXPECT_ERR("agencies:\n  - id: a\n    sector: health\n    adapters: [csv, csv]\n",
               "t.yaml:4:21", "agencies[0].adapters[1]: listed twice (got \"csv\")");
    EXPECT_ERR("agencies:\n  - id: a\n    sector: health\n    adapters: canonical\n", "t.yaml:4:15",
               "agencies[0].adapters: expected a sequence (got a scalar)");
    EXPECT_ERR("agencies:\n  - id: a\n    adapters: [x]\n", "t.yaml:2:5",
               "agencies[0]: missing key sector");
    EXPECT_ERR("agencies:\n  - id: a\n    sector: health\n    adapters: [x]\n    phone: 1\n",
               "t.yaml:5:5", "agencies[0].phone: unknown key; known keys are id, name, sector");
    EXPECT_ERR("agencies:\n  - just-a-name\n", "t.yaml:2:5",
               "agencies[0]: expected a mapping (got a scalar)");

    /* An id of 63 characters is fine, 64 is not. */
    char yaml[512];
    const char *id63 = "a23456789012345678901234567890123456789012345678901234567890123";
    snprintf(yaml, sizeof yaml, "agencies:\n  - id: %s\n    sector: s\n    adapters: [x]\n", id63);
    bn_config_t *c = NULL;
    bn_error_t e;
    bn_status_t st = load(yaml, &c, &e);
    CHECK_EQ_U64(st, BN_OK);
    bn_config_destroy(&c);
    snprintf(yaml, sizeof yaml, "agencies:\n  - id: %s4\n    sector: s\n    adapters: [x]\n", id63);
    EXPECT_ERR(yaml, "t.yaml:2:9", "agencies[0].id: longer than 63 characters");
}

static void test_document_errors(void)
{
    EXPECT_ERR("", "t.yaml:1:1", "empty configuration");
    EXPECT_ERR("# only a comment\n", "t.yaml:1:1", "empty configuration");
    EXPECT_ERR("- a\n- b\n", "t.yaml:1:1", "expected a mapping with the keys hub, endpoints");
    EXPECT_ERR("foo: 1\n" AG, "t.yaml:1:1",
               "foo: unknown key; known keys are hub, endpoints, agencies, linkage, rules");
    EXPECT_ERR("? [hub]\n: 1\n" AG, "t.yaml:1:3", "keys must be plain names (got a sequence)");
    EXPECT_ERR("hub:\n  ? {id: x}\n  : 1\n" AG, "t.yaml:2:5",
               "hub: keys must be plain names (got a mapping)");
    EXPECT_ERR("hub:\n  id: \"a\\0b\"\n" AG, "t.yaml:2:7", "hub.id: contains a NUL byte");
    EXPECT_ERR("hub:\n  id: \xff\xfe\n" AG, "t.yaml:2:7",
               "YAML syntax: invalid leading UTF-8 octet");
    EXPECT_ERR("hub: {}\nhub: {}\n" AG, "t.yaml:2:1", "hub: duplicate key");
    EXPECT_ERR(AG "---\nhub: {}\n", "t.yaml:6:1", "only one YAML document is allowed");
    /* libyaml's own problem, at its mark. */
    EXPECT_ERR("hub:\n  id: [a\n" AG, "t.yaml:3:9",
               "YAML syntax: did not find expected ',' or ']'");
    EXPECT_ERR("hub:\n  id: a\n b: c\n", "t.yaml:3:2", "YAML syntax:");
    EXPECT_ERR("hub: *nope\n", "t.yaml:1:6", "YAML syntax: found undefined alias");

    /* A NULL err is allowed. */
    bn_config_t *c = NULL;
    bn_status_t st = bn_config_load_string(&c, "t.yaml", "x: 1\n", 5, NULL);
    CHECK_EQ_U64(st, BN_CONFIG);
    CHECK(c == NULL);
}

static void test_files(void)
{
    bn_config_t *c = NULL;
    bn_error_t e;
    bn_error_clear(&e);
    bn_status_t st = bn_config_load(&c, "/nonexistent/benang/hub.yaml", &e);
    CHECK_EQ_U64(st, BN_IO);
    CHECK(c == NULL);
    CHECK_EQ_U64(e.native, ENOENT);
    CHECK_STR(e.where, "/nonexistent/benang/hub.yaml");
    CHECK(strstr(e.msg, "cannot open") != NULL);

    char *dir = bn_test_tmpdir("config");
    char path[512];
    snprintf(path, sizeof path, "%s/hub.yaml", dir);
    const char *bad = "hub:\n  durability: fast\n" AG;
    CHECK(bn_test_write_file(path, bad, strlen(bad)) == 0);
    st = bn_config_load(&c, path, &e);
    CHECK_EQ_U64(st, BN_CONFIG);
    char where[600];
    snprintf(where, sizeof where, "%s:2:15", path);
    CHECK_STR(e.where, where);
    CHECK_STR(e.msg, "hub.durability: must be one of sync, buffered (got \"fast\")");

    CHECK(bn_test_write_file(path, "", 0) == 0);
    st = bn_config_load(&c, path, &e);
    CHECK_EQ_U64(st, BN_CONFIG);
    CHECK(strstr(e.msg, "empty configuration") != NULL);

    CHECK(bn_test_write_file(path, AG, strlen(AG)) == 0);
    st = bn_config_load(&c, path, &e);
    CHECK_EQ_U64(st, BN_OK);
    CHECK_STR(c ? c->path : "(missing)", path);
    bn_config_destroy(&c);
    bn_test_rmrf(dir);
    free(dir);
}

static void test_destroy(void)
{
    bn_config_destroy(NULL);
    bn_config_t *c = NULL;
    bn_config_destroy(&c);
    CHECK(c == NULL);
    CHECK(bn_config_agency(NULL, "a") == NULL);
    CHECK(!bn_agency_allows(NULL, "canonical"));

    bn_error_t e;
    bn_status_t st = load(AG, &c, &e);
    CHECK_EQ_U64(st, BN_OK);
    CHECK(bn_config_agency(c, NULL) == NULL);
    CHECK(!bn_agency_allows(bn_config_agency(c, "a"), NULL));
    bn_config_destroy(&c);
    CHECK(c == NULL);
    bn_config_destroy(&c); /* idempotent */

    /* Failing in the middle of the second agency frees the first one
     * (LeakSanitizer checks). */
    EXPECT_ERR(AG "  - id: b\n    sector: health\n    adapters: [x, \"\"]\n", "t.yaml:7:19",
               "agencies[1].adapters[1]: must not be empty");
}

/* Agencies in their own files, settings kept as nodes with the file's name. */
static void test_agency_files(void)
{
    char *dir = bn_test_tmpdir("cfgfiles");
    char path[600], sub[600];
    snprintf(sub, sizeof sub, "%s/agencies", dir);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(path, sizeof path, "%s/agencies/sd.yaml", dir);
    const char *sd = "id: sdn-01\nsector: education\nadapters: [csv]\n"
                     "settings:\n  csv:\n    separator: \";\"\n";
    CHECK(bn_test_write_file(path, sd, strlen(sd)) == 0);
    snprintf(path, sizeof path, "%s/hub.yaml", dir);
    const char *hub = "agencies:\n  - id: pkm\n    sector: health\n    adapters: [fhir]\n"
                      "  - file: agencies/sd.yaml\n";
    CHECK(bn_test_write_file(path, hub, strlen(hub)) == 0);
    bn_config_t *c = NULL;
    bn_error_t err;
    bn_status_t st = bn_config_load(&c, path, &err);
    CHECK_MSG(st == BN_OK, "%s: %s", err.where, err.msg);
    const bn_agency_conf_t *a = bn_config_agency(c, "sdn-01");
    CHECK(a && strcmp(a->sector, "education") == 0 && a->n_adapters == 1);
    const bn_node_t *csv = a ? bn_node_get(a->settings, "csv") : NULL;
    CHECK(csv && strcmp(bn_node_str(csv, "separator"), ";") == 0);
    char where[200];
    CHECK(csv && strstr(bn_node_where(bn_node_get(csv, "separator"), where, sizeof where),
                        "agencies/sd.yaml:6:16") != NULL);
    bn_config_destroy(&c);

    /* an error inside the agency file is placed in that file */
    const char *bad = "id: sdn-01\nsector: Education!\nadapters: [csv]\n";
    snprintf(path, sizeof path, "%s/agencies/sd.yaml", dir);
    CHECK(bn_test_write_file(path, bad, strlen(bad)) == 0);
    snprintf(path, sizeof path, "%s/hub.yaml", dir);
    CHECK(bn_config_load(&c, path, &err) == BN_CONFIG);
    CHECK_MSG(strstr(err.where, "agencies/sd.yaml:2:9") != NULL, "where %s", err.where);
    /* a missing file is placed where hub.yaml names it */
    const char *missing = "agencies:\n  - file: agencies/none.yaml\n";
    CHECK(bn_test_write_file(path, missing, strlen(missing)) == 0);
    CHECK(bn_config_load(&c, path, &err) == BN_CONFIG);
    CHECK_MSG(strstr(err.where, "hub.yaml:2:11") != NULL && strstr(err.msg, "none.yaml"),
              "%s: %s", err.where, err.msg);
    CHECK(c == NULL);
    bn_test_rmrf(dir);
    free(dir);
}

static void test_rules(void)
{
    bn_config_t *c = NULL;
    bn_error_t e;
    /* No rules: section: the four shipped defaults. */
    CHECK_EQ_U64(load(AG, &c, &e), BN_OK);
    CHECK_EQ_U64(c->n_rules, 4);
    CHECK(c->rules_default);
    CHECK_STR(c->rules[0].id, "duplicate-immunisation-dose");
    CHECK_EQ_U64(c->rules[0].match_bits,
                 BN_RULE_F_SUBJECT | BN_RULE_F_VACCINE | BN_RULE_F_DOSE);
    CHECK_EQ_U64(c->rules[0].within_days, 365);
    CHECK(c->rules[2].across_agencies && c->rules[2].periods_overlap);
    CHECK_EQ_U64(c->rules[3].answer_within_hours, 72);
    CHECK_EQ_U64(c->rules[3].clock_lag_hours, 48);
    CHECK(c->link_upper > c->link_lower);
    bn_config_destroy(&c);
    /* An empty list: no rules at all. */
    CHECK_EQ_U64(load("rules: []\n" AG, &c, &e), BN_OK);
    CHECK_EQ_U64(c->n_rules, 0);
    bn_config_destroy(&c);
    CHECK_EQ_U64(load("linkage:\n  upper: 0.95\n  lower: 0.7\n" AG, &c, &e), BN_OK);
    CHECK(c->link_upper > 0.949 && c->link_upper < 0.951 && c->link_lower > 0.699);
    bn_config_destroy(&c);
    EXPECT_ERR("linkage:\n  upper: 0.7\n  lower: 0.9\n" AG, "t.yaml:2:3",
               "linkage.lower: must not be above linkage.upper");
    EXPECT_ERR("linkage:\n  upper: high\n" AG, "t.yaml:2:10",
               "linkage.upper: must be a number from 0 to 1 (got \"high\")");
    EXPECT_ERR("rules:\n  - id: r\n    kind: k\n    type: immunisation\n    match: [subject, "
               "colour]\n    within_days: 3\n" AG,
               "t.yaml:5:22", "rules[0].match[1]: unknown field \"colour\"");
    EXPECT_ERR("rules:\n  - id: r\n    kind: k\n    type: program\n    match: [vaccine]\n"
               "    periods_overlap: true\n" AG,
               "t.yaml:5:13", "rules[0].match[0]: program events have no field \"vaccine\"");
    EXPECT_ERR("rules:\n  - id: r\n    kind: k\n    type: training\n    match: [subject]\n" AG,
               "t.yaml:2:5", "rules[0]: give exactly one time relation");
    EXPECT_ERR("rules:\n  - id: r\n    kind: k\n    type: referral\n" AG, "t.yaml:2:5",
               "rules[0]: a referral rule needs answer_within_hours");
    EXPECT_ERR("rules:\n  - id: r\n    kind: Bad Kind\n    type: referral\n" AG, "t.yaml:3:11",
               "rules[0].kind: must match [a-z0-9_]{1,32}");
    EXPECT_ERR("rules:\n  - id: r\n    kind: k\n    type: referral\n    answer_within_hours: 1\n"
               "  - id: r\n    kind: k\n    type: referral\n    answer_within_hours: 2\n" AG,
               "t.yaml:6:5", "rules[1].id: duplicate rule id \"r\"");
    EXPECT_ERR("rules:\n  - id: r\n    kind: k\n    type: parcel\n" AG, "t.yaml:4:11",
               "rules[0].type: must be one of immunisation, training, program, referral");
}

int main(void)
{
    test_rules();
    test_agency_files();
    test_default_file();
    test_defaults();
    test_values();
    test_hub_errors();
    test_endpoint_errors();
    test_agency_errors();
    test_document_errors();
    test_files();
    test_destroy();
    return bn_test_finish("test_config");
}
