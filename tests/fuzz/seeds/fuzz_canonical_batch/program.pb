
´"PRG-2026-STUNTING-RW052
2026-11-01JRW-05º…
PRG-2026-STUNTING-RW05!Pemberian makanan tambahan balitahealth"children-under-5*RW-05*RW-062

2026-11-01
2027-01-318xBAPBD