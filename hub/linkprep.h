/* linkprep.h: a subject's linkage inputs, made apart from the linker.
 *
 * What the linker (linker.h) needs of a subject that depends on the subject
 * and its agency alone. Pure and thread-safe: the hub's ingest thread makes
 * it while it completes an event, so that the writer, the serial stage,
 * does not; the linker makes it itself when it is not given.
 */
#ifndef BN_LINKPREP_H
#define BN_LINKPREP_H

#include <stddef.h>
#include <stdint.h>

#include "benang/v1/event.pb-c.h"
#include "linkage.h"

/* The recently-seen hash, the block and the normalised name (normalising a
 * name and a village was a fifth of the writer's time per event). */
typedef struct bn_linker_prep {
    uint64_t seen;                 /* the recently-seen table's hash (never 0) */
    size_t block_len;              /* 0: no block (no valid birth date or village) */
    char block[BN_LINK_BLOCK_MAX]; /* bn_link_block() */
    char name[BN_LINK_NAME_MAX];   /* bn_link_name_normalise(), "" when none */
} bn_linker_prep_t;

/* The recently-seen hash alone (what bn_linker_prepare puts in seen). */
uint64_t bn_linker_seen_hash(const Benang__V1__Subject *subject, const char *agency);

/* Fill *out for subject (its subject_key, when it has one, already set) of
 * agency. Pure: any thread. */
void bn_linker_prepare(const Benang__V1__Subject *subject, const char *agency,
                       bn_linker_prep_t *out);

#endif
