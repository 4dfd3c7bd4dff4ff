/* test_benangctl: the operator CLI against a real hub: check-config, publish,
 * tail (human and --json, topic filter), status --json, help and usage errors. */
#include <stdlib.h>

#include "testutil.h"

static int ctl(const bn_test_hub_t *h, const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s --config %s 2>&1", BN_CTL_BIN, args, h->config);
    return bn_test_run(cmd, out);
}

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

int main(void)
{
    bn_test_hub_t h = {0};
    if (bn_test_hub_start(&h, NULL, NULL) != 0) {
        bn_test_hub_dump_log(&h);
        return 1;
    }
    char *out = NULL;
    char args[1024];

    CHECK(ctl(&h, "check-config", &out) == 0 && strstr(out, "ok (3 agencies)"));
    free(out);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.yaml", h.dir);
    const char *bad_yaml = "hub:\n  durability: fast\nagencies: []\n";
    bn_test_write_file(bad, bad_yaml, strlen(bad_yaml));
    snprintf(args, sizeof args, "check-config %s", bad);
    CHECK(ctl(&h, args, &out) == 1);
    CHECK_MSG(out && strstr(out, "bad.yaml:2:15: hub.durability"), "got: %s", out);
    free(out);

    /* mappings are checked too: an unknown target field, placed in the agency file */
    char agency[512], hubf[512];
    snprintf(agency, sizeof agency, "%s/sd.yaml", h.dir);
    const char *sd = "id: sd\nsector: education\nadapters: [csv]\nsettings:\n  csv:\n"
                     "    type: training\n    fields:\n      source_id: {column: a}\n"
                     "      occurred_at: {column: b, format: \"%d/%m/%Y\"}\n"
                     "      training.colour: {column: c}\n";
    bn_test_write_file(agency, sd, strlen(sd));
    snprintf(hubf, sizeof hubf, "%s/hub2.yaml", h.dir);
    const char *hub2 = "agencies:\n  - file: sd.yaml\n";
    bn_test_write_file(hubf, hub2, strlen(hub2));
    snprintf(args, sizeof args, "check-config %s", hubf);
    CHECK(ctl(&h, args, &out) == 1);
    CHECK_MSG(out && strstr(out, "sd.yaml:10:") && strstr(out, "colour"), "got: %s", out);
    free(out);

    snprintf(args, sizeof args,
             "publish --agency puskesmas-a --adapter canonical-json %s/config/examples/canonical/immunisation.json",
             BN_SOURCE_DIR);
    CHECK(ctl(&h, args, &out) == 0);
    CHECK_MSG(out && strstr(out, "seq=1 ") && strstr(out, "source_id=IMM-2026-000123"), "got: %s",
              out);
    free(out);
    CHECK(ctl(&h, args, &out) == 0);
    CHECK_MSG(out && strstr(out, "seq=1 ") && strstr(out, "duplicate"), "got: %s", out);
    free(out);
    snprintf(args, sizeof args,
             "publish -a puskesmas-a -A canonical-json %s/config/examples/canonical/referrals.ndjson",
             BN_SOURCE_DIR);
    CHECK(ctl(&h, args, &out) == 0);
    CHECK_MSG(out && strstr(out, "seq=2 ") && strstr(out, "seq=3 "), "got: %s", out);
    free(out);
    snprintf(args, sizeof args,
             "publish --agency nobody --adapter canonical-json %s/config/examples/canonical/program.json",
             BN_SOURCE_DIR);
    CHECK(ctl(&h, args, &out) == 1);
    CHECK_MSG(out && strstr(out, "BN_UNKNOWN_AGENCY") && strstr(out, "nobody"), "got: %s", out);
    free(out);

    CHECK(ctl(&h, "tail --json", &out) == 0);
    CHECK_MSG(count_lines(out, "\n") == 3, "got: %s", out);
    CHECK(out && strstr(out, "\"subjectKey\":\""));
    CHECK_MSG(out && !strstr(out, "3174051203250001") && !strstr(out, "\"nik\""),
              "NIK in tail output: %s", out);
    free(out);
    CHECK(ctl(&h, "tail --topic referral. --json", &out) == 0);
    CHECK_MSG(count_lines(out, "\"referralId\"") == 2 && count_lines(out, "\n") == 2, "got: %s",
              out);
    free(out);
    CHECK(ctl(&h, "tail --from 2 --limit 1", &out) == 0);
    CHECK_MSG(count_lines(out, "\n") == 1 && strstr(out, "referral.health.puskesmas-a"), "got: %s",
              out);
    free(out);
    CHECK(ctl(&h, "status --json", &out) == 0);
    CHECK_MSG(out && strstr(out, "\"headSeq\":\"3\"") && strstr(out, "\"durability\":\"sync\""),
              "got: %s", out);
    free(out);

    const char *cmds[] = {"check-config", "publish", "tail", "status"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        CHECK(ctl(&h, args, &out) == 0 && strstr(out, "usage: benangctl"));
        free(out);
    }
    CHECK(ctl(&h, "frobnicate", &out) == 2);
    free(out);
    CHECK(ctl(&h, "publish", &out) == 2 && strstr(out, "--agency"));
    free(out);

    if (bn_test_failed)
        bn_test_hub_dump_log(&h);
    bn_test_hub_cleanup(&h);
    return bn_test_finish("test_benangctl");
}
