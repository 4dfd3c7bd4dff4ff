/* linkprep.c: see linkprep.h. */
#include "linkprep.h"

/* FNV-1a over what a NIK subject brings, to know it was recorded lately. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return (h ^ 0x1f) * 1099511628211ULL;
}

uint64_t bn_linker_seen_hash(const Benang__V1__Subject *s, const char *agency)
{
    uint64_t h = 14695981039346656037ULL;
    h = fnv(h, s->subject_key);
    h = fnv(h, s->name);
    h = fnv(h, s->birth_date);
    h = fnv(h, s->village);
    h = fnv(h, s->local_id);
    h = fnv(h, agency);
    h = (h ^ (uint64_t)s->sex) * 1099511628211ULL;
    return h | 1; /* 0 marks an empty slot */
}

void bn_linker_prepare(const Benang__V1__Subject *subject, const char *agency,
                       bn_linker_prep_t *out)
{
    out->seen = bn_linker_seen_hash(subject, agency);
    out->block_len =
        bn_link_block(subject->birth_date, subject->village, out->block, sizeof out->block);
    bn_link_name_normalise(subject->name ? subject->name : "", out->name, sizeof out->name);
}
