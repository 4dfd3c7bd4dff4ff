ngo-bcanonical-json"ž{
  "sourceId": "IMM-2026-000123",
  "occurredAt": "2026-11-02T09:30:00+07:00",
  "area": "RW-03",
  "subject": {
    "nik": "3174051203250001",
    "localId": "RM-00981",
    "name": "Siti Aminah",
    "birthDate": "2025-03-12",
    "sex": "SEX_FEMALE",
    "village": "Tanjung Barat",
    "rw": "03",
    "rt": "007"
  },
  "immunisation": {
    "vaccine": {"system": "http://hl7.org/fhir/sid/cvx", "code": "10", "display": "IPV"},
    "doseNumber": 2,
    "administeredOn": "2026-11-02",
    "facility": "Puskesmas Kelurahan Tanjung Barat",
    "lotNumber": "IPV2611A",
    "status": "IMMUNISATION_STATUS_COMPLETED",
    "route": "IM",
    "site": "left thigh"
  }
}
