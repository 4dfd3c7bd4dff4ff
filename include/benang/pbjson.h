/* pbjson.h: proto3 JSON mapping <-> protobuf-c messages, generic over descriptors.
 *
 * Written once for every message of the schema (and any other protobuf-c
 * message): field names in lowerCamelCase (the original snake_case name is
 * accepted too on input), enums as their value names (numbers accepted on
 * input), 64-bit integers as decimal strings on output (strings or numbers on
 * input), bytes as base64, repeated fields as arrays, unset/default fields
 * omitted on output. Used by the canonical-json adapter and by
 * `benangctl tail --json`.
 *
 * Input is strict: unknown fields, wrong JSON types, out-of-range numbers,
 * unknown enum names and invalid UTF-8 are errors whose err->where is a JSON
 * path ("$.subject.birthDate", "$.immunisation.vaccine.code").
 */
#ifndef BENANG_PBJSON_H
#define BENANG_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "benang/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Build a new message of type desc from the JSON object obj. On BN_OK *out is a
 * heap message the caller frees with protobuf_c_message_free_unpacked(*out, NULL).
 * path is the JSON path of obj used as the prefix of err->where ("$" at the
 * top). Returns BN_OK, BN_INVALID_EVENT (wrong type, unknown field, bad value),
 * BN_NOMEM. */
bn_status_t bn_pbjson_from_json(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                                const char *path, ProtobufCMessage **out, bn_error_t *err);

/* A new JSON object for msg (caller json_decref()s it), or NULL on out of memory. */
json_t *bn_pbjson_to_json(const ProtobufCMessage *msg);

/* msg as one line of compact JSON, malloc'ed (caller frees), or NULL on out of memory. */
char *bn_pbjson_to_string(const ProtobufCMessage *msg);

#ifdef __cplusplus
}
#endif
#endif
