/* adapters_internal.h: the adapter tables the registry lists, shared inside bn_adapters only.
 *
 * Each adapter file defines one const bn_adapter_ops_t and keeps everything
 * else static; registry.c is the one place that names them all.
 */
#ifndef BN_ADAPTERS_INTERNAL_H
#define BN_ADAPTERS_INTERNAL_H

#include "benang/adapter.h"

/* "canonical": one serialized benang.v1.Event (protobuf binary). */
extern const bn_adapter_ops_t bn_adapter_canonical;
/* "canonical-batch": one serialized benang.v1.EventBatch (several Events). */
extern const bn_adapter_ops_t bn_adapter_canonical_batch;
/* "canonical-json": the proto3 JSON mapping of Event: one object, an array, or NDJSON. */
extern const bn_adapter_ops_t bn_adapter_canonical_json;

/* "fhir": FHIR R4 JSON: Immunization, ServiceRequest, Task, Bundle (with Patient). */
extern const bn_adapter_ops_t bn_adapter_fhir;
/* "hl7v2": HL7 v2.x ER7: VXU^V04 (immunisations), REF^I12 (referrals), batches. */
extern const bn_adapter_ops_t bn_adapter_hl7v2;
/* "csv": RFC 4180 CSV, one event per row, columns mapped in the agency's settings. */
extern const bn_adapter_ops_t bn_adapter_csv;
/* "json": any JSON, fields mapped in the agency's settings (same mapping language as csv). */
extern const bn_adapter_ops_t bn_adapter_json;

#endif
