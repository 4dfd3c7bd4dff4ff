ngo-bcanonical-json"–{
  "sourceId": "PRG-2026-STUNTING-RW05",
  "occurredAt": "2026-11-01",
  "area": "RW-05",
  "program": {
    "programId": "PRG-2026-STUNTING-RW05",
    "name": "Pemberian makanan tambahan balita",
    "sector": "health",
    "targetGroup": "children-under-5",
    "areas": ["RW-05", "RW-06"],
    "period": {"start": "2026-11-01", "end": "2027-01-31"},
    "targetCount": 120,
    "funding": "APBD"
  }
}
