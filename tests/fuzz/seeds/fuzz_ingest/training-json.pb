ngo-bcanonical-json"ý[
  {
    "sourceId": "BLK-HYD-2026-11-P014",
    "occurredAt": "2026-11-10",
    "area": "RW-05",
    "subject": {"nik": "3174052306880004", "name": "Joko Susilo", "birthDate": "1988-06-23", "sex": "SEX_MALE", "village": "Tanjung Barat"},
    "training": {
      "course": {"system": "urn:benang:course", "code": "HYD-01", "display": "Hidroponik dasar"},
      "courseCategory": "agriculture.hydroponics",
      "provider": "BLK Jakarta Selatan",
      "period": {"start": "2026-11-10", "end": "2026-11-21"},
      "participantStatus": "PARTICIPANT_STATUS_ENROLLED",
      "location": "Balai Warga RW 05",
      "hours": 40
    }
  }
]
