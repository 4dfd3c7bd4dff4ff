/* testutil.h: the small test harness of benang's tests.
 *
 * CHECK macros that count and report failures with file:line, a temp
 * directory per test, and a real benang-hub child process on loopback ports
 * with its own data dir (integration tests). bn_test_finish() prints the
 * closing "N passed, N failed" line and gives main its exit code.
 */
#ifndef BN_TESTUTIL_H
#define BN_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

extern int bn_test_passed;
extern int bn_test_failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            bn_test_passed++;                                                          \
        } else {                                                                       \
            bn_test_failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                              \
    } while (0)

#define CHECK_MSG(cond, ...)                                                           \
    do {                                                                               \
        if (cond) {                                                                    \
            bn_test_passed++;                                                          \
        } else {                                                                       \
            bn_test_failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

/* Each argument is evaluated once. */
#define CHECK_EQ_U64(a, b)                                                             \
    do {                                                                               \
        uint64_t bn_a_ = (uint64_t)(a), bn_b_ = (uint64_t)(b);                         \
        CHECK_MSG(bn_a_ == bn_b_, "%s == %s: %llu != %llu", #a, #b,                    \
                  (unsigned long long)bn_a_, (unsigned long long)bn_b_);               \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *bn_sa_ = (a), *bn_sb_ = (b);                                       \
        if (!bn_sa_)                                                                   \
            bn_sa_ = "(null)";                                                         \
        CHECK_MSG(strcmp(bn_sa_, bn_sb_) == 0, "%s: \"%s\" != \"%s\"", #a, bn_sa_, bn_sb_); \
    } while (0)

/* Print "name: N passed, N failed" and return the process exit code. */
int bn_test_finish(const char *name);

/* A fresh directory under $TMPDIR (or /tmp), malloc'ed path. Aborts the test on failure. */
char *bn_test_tmpdir(const char *tag);
/* rm -rf path. */
void bn_test_rmrf(const char *path);
/* Whole file into a malloc'ed buffer (NUL-terminated), *len its size; NULL on failure. */
char *bn_test_read_file(const char *path, size_t *len);
/* Write buf to path; 0 on success. */
int bn_test_write_file(const char *path, const void *buf, size_t len);

typedef struct {
    pid_t pid;
    char dir[256];      /* temp dir: data/ and hub.yaml inside */
    char config[320];
    char log[320];      /* the hub's stderr goes here */
    char ingest[64];
    char feed[64];
    char query[64];
    unsigned magic; /* BN_TEST_PREPARED after bn_test_hub_prepare() */
} bn_test_hub_t;

#define BN_TEST_PREPARED 0x5eedbe1au

/* Create h's temp dir without starting anything, so a test can put files
 * there (agency files) before bn_test_hub_start(), which then uses it. */
void bn_test_hub_prepare(bn_test_hub_t *h);

/* Write a hub.yaml into a fresh temp dir and start benang-hub on it.
 * hub_extra: extra lines under "hub:" (each indented two spaces, newline
 * terminated), or NULL. agencies: the whole "agencies:" block, or NULL for a
 * default of three agencies (puskesmas-a health, klinik-b health, sekolah-c
 * education; all allow canonical and canonical-json). Waits until the query
 * endpoint answers status. Returns 0 on success. */
int bn_test_hub_start(bn_test_hub_t *h, const char *hub_extra, const char *agencies);
/* Start the hub again on the same dir, config and ports. 0 on success. */
int bn_test_hub_restart(bn_test_hub_t *h);
/* Send sig and wait for the process; returns its wait status, -1 if none. */
int bn_test_hub_stop(bn_test_hub_t *h, int sig);
/* Stop (SIGKILL) if running and remove the temp dir. */
void bn_test_hub_cleanup(bn_test_hub_t *h);
/* Print the tail of the hub's log to stderr (after a failure). */
void bn_test_hub_dump_log(const bn_test_hub_t *h);

/* Run a command line through /bin/sh; capture stdout into a malloc'ed
 * buffer (*out, may be NULL) and return the exit status (or -1). */
int bn_test_run(const char *cmdline, char **out);

/* A serialized canonical immunisation event (malloc'ed, *len its size):
 * source_id, the child's NIK (may be NULL), CVX code and dose number, and a
 * note of pad bytes in the facility field to reach a wanted size (0: none). */
uint8_t *bn_test_immunisation(const char *source_id, const char *nik, const char *cvx,
                              unsigned dose, size_t pad, size_t *len);

#endif
