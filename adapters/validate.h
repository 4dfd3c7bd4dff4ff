/* validate.h: the checks every event passes before the hub stores it, whatever adapter made it.
 *
 * Pure functions over a Benang__V1__Event: required fields, date formats,
 * enum values, lengths, UTF-8 validity of every string (protobuf-c does not
 * check it), and the agreement of `type` with the body. Errors name the field
 * as a JSON-style path under the event ("occurred_at",
 * "immunisation.vaccine.code"); the caller prefixes the event's own place
 * ("$.events[2]." or "event 3: ").
 */
#ifndef BN_VALIDATE_H
#define BN_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benang/status.h"
#include "benang/v1/event.pb-c.h"

/* Longest string field accepted (bytes). */
#define BN_VALIDATE_MAX_STRING 4096

/* The body's type name ("immunisation", ...) or NULL when no body is set. */
const char *bn_event_body_type(const Benang__V1__Event *ev);

/* Check ev as it came from an adapter; fill ev->type from the body when it is
 * empty (the only change made). Hub-owned fields (seq, event_id, agency,
 * recorded_at, sector, supersedes_seq, subject.subject_key) are ignored: the
 * hub overwrites them. Returns BN_OK or BN_INVALID_EVENT (err->where = field
 * path, err->msg = what is wrong), BN_NOMEM. */
bn_status_t bn_event_validate(Benang__V1__Event *ev, bn_error_t *err);
/* The same for an event that lives in alloc (NULL: malloc): the type it may
 * fill in is allocated there. */
bn_status_t bn_event_validate_in(Benang__V1__Event *ev, ProtobufCAllocator *alloc, bn_error_t *err);

/* RFC 3339 date-time with offset or Z, or a full date YYYY-MM-DD (allow_date). */
bool bn_valid_timestamp(const char *s, bool allow_date);
/* YYYY-MM-DD with a real calendar day. */
bool bn_valid_date(const char *s);
/* Seconds since the epoch of a timestamp as bn_valid_timestamp accepts (a
 * plain date is its UTC midnight). False when it is not one. */
bool bn_timestamp_seconds(const char *s, int64_t *secs);
/* The calendar day a date or date-time names, as written (its first ten
 * characters), in days since 1970-01-01. False when it is not one. */
bool bn_date_days(const char *s, int32_t *days);

/* Every string field of msg, recursively, is valid UTF-8 and at most
 * BN_VALIDATE_MAX_STRING bytes; on failure err->where is the field path. */
bn_status_t bn_message_check_strings(const ProtobufCMessage *msg, bn_error_t *err);

/* Replace a protobuf-c string field's value by a malloc'ed copy of val,
 * freeing the previous value unless it is the descriptor default.
 * Returns BN_OK or BN_NOMEM. */
bn_status_t bn_pb_set_string(char **field, const char *val);
/* The same in alloc (NULL: malloc and free), for events that live in an
 * arena (bn_event_list_t.arena). */
bn_status_t bn_pb_set_string_in(ProtobufCAllocator *alloc, char **field, const char *val);

#endif
