/* hl7v2_parse.h: HL7 v2.x ER7 reading for the hl7v2 adapter (internal to bn_adapters).
 *
 * A reader walks the payload once and hands out one message at a time as an
 * array of segments that point into the payload (nothing is copied). Fields,
 * repetitions, components and subcomponents are slices found on demand; only
 * a value the adapter keeps is decoded (escape sequences, UTF-8 check) into a
 * caller buffer. Batch envelopes (FHS, BHS, BTS, FTS) are consumed by the
 * reader and never reach the adapter; BTS-1 and FTS-1 counts are checked.
 * Places are numbered the HL7 way: MSH-9 is the ninth field counting the
 * field separator itself as MSH-1; repetitions, components and
 * subcomponents are 1-based.
 */
#ifndef BN_HL7V2_PARSE_H
#define BN_HL7V2_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benang/status.h"

/* A slice of the payload; n == 0 means empty or absent. */
typedef struct {
    const char *p;
    size_t n;
} bn_hl7_str_t;

/* The delimiters of MSH-1 and MSH-2; tc is the v2.7+ truncation character or 0. */
typedef struct {
    char fs, cs, rs, es, ss, tc;
} bn_hl7_enc_t;

typedef struct {
    const char *p; /* the segment's text, from its name, trailing blanks trimmed */
    size_t n;
    unsigned line; /* 1-based line of the payload */
    char name[4];
} bn_hl7_seg_t;

typedef struct {
    bn_hl7_enc_t enc;
    bn_hl7_seg_t *segs; /* segs[0] is the MSH; grows as needed, reused across messages */
    size_t nseg, cap;
    unsigned number;    /* 1-based number of the message in the payload */
} bn_hl7_msg_t;

typedef struct {
    const char *p;
    size_t len, pos;
    unsigned line;     /* line of the next segment */
    unsigned messages; /* messages handed out so far */
    bn_hl7_enc_t enc;  /* of the last header segment (MSH, BHS, FHS) */
    size_t cr, lf;     /* the next CR and LF at or after pos (when eol_known) */
    bool eol_known;
    bool pending;      /* next holds a segment already read */
    bn_hl7_seg_t next;
    bool in_batch, in_file;
    unsigned batch_msgs, file_batches;
} bn_hl7_reader_t;

/* Start reading data[0..len) (a UTF-8 byte order mark is skipped). */
void bn_hl7__reader_init(bn_hl7_reader_t *r, const uint8_t *data, size_t len);

/* Read the next message into msg. *got is false at the end of the payload.
 * Returns BN_OK, BN_BAD_PAYLOAD ("missing MSH", bad MSH-1/MSH-2, bad segment
 * name, a segment outside any message, wrong BTS-1/FTS-1 count; err->where
 * names the line) or BN_NOMEM. */
bn_status_t bn_hl7__next(bn_hl7_reader_t *r, bn_hl7_msg_t *msg, bool *got, bn_error_t *err);

/* Free msg's segment array; the struct may be reused. NULL-safe. */
void bn_hl7__msg_free(bn_hl7_msg_t *msg);

/* True when seg is named name (three characters). */
bool bn_hl7__is(const bn_hl7_seg_t *seg, const char *name);

/* Field n (HL7 numbering) of seg, all repetitions; empty when absent. */
bn_hl7_str_t bn_hl7__field(const bn_hl7_enc_t *e, const bn_hl7_seg_t *seg, unsigned n);
/* Part k (1-based) of s split at separator sep; empty when absent. */
bn_hl7_str_t bn_hl7__part(bn_hl7_str_t s, char sep, unsigned k);
/* seg-field(rep).comp.sub with 0 meaning "all of it" for comp and sub. */
bn_hl7_str_t bn_hl7__get(const bn_hl7_enc_t *e, const bn_hl7_seg_t *seg, unsigned field,
                         unsigned rep, unsigned comp, unsigned sub);
/* Number of repetitions of a field (0 when empty). */
unsigned bn_hl7__reps(const bn_hl7_enc_t *e, bn_hl7_str_t field);

/* Decode escape sequences of v into buf (cap bytes with the NUL) and check the
 * result is UTF-8 without NUL bytes. On failure returns false and *why says
 * what is wrong (a static string or buf itself). */
bool bn_hl7__decode(const bn_hl7_enc_t *e, bn_hl7_str_t v, char *buf, size_t cap,
                    const char **why);

/* HL7 DTM "YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]" as RFC 3339 into out (>= 40
 * bytes): a date-time with offset when the value has a time and an offset
 * (its own, else def_tz "+HHMM" when given), else the date YYYY-MM-DD.
 * date_out (>= 11 bytes, may be NULL) receives the date alone.
 * Returns false when v is not a real date-time or has less than a day. */
bool bn_hl7__dtm(bn_hl7_str_t v, bn_hl7_str_t def_tz, char *out, char *date_out);
/* The "+HHMM"/"-HHMM" offset at the end of a DTM, or empty. */
bn_hl7_str_t bn_hl7__dtm_tz(bn_hl7_str_t v);

/* "message M, SEG[k]-F(r).C.S (line L)" into buf: k counts segments of the
 * same name in the message up to seg; zeros leave out rep (or 1), comp, sub. */
const char *bn_hl7__where(const bn_hl7_msg_t *m, const bn_hl7_seg_t *seg, unsigned field,
                          unsigned rep, unsigned comp, unsigned sub, char *buf, size_t size);

#endif
