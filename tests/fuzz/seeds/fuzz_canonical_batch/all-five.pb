
ü"IMM-2026-00012322026-11-02T09:30:00+07:00BO3174051203250001RM-00981"Siti Aminah*
2025-03-120:Tanjung BaratB03J007JRW-03ªu
&
http://hl7.org/fhir/sid/cvx10IPV
2026-11-02"!Puskesmas Kelurahan Tanjung Barat*IPV2611A0BIMJ
left thigh
´"PRG-2026-STUNTING-RW052
2026-11-01JRW-05º…
PRG-2026-STUNTING-RW05!Pemberian makanan tambahan balitahealth"children-under-5*RW-05*RW-062

2026-11-01
2027-01-318xBAPBD
¦"	REF-77-v122026-11-03T10:00:00+07:00B:3174054407900002"	Rina Wati*
1990-07-040:Tanjung Barat¢À
REF-77puskesmas-tanjung-baratsudin-sosial-jaksel"D
http://snomed.info/sct	105480006Refusal of treatment by patient*2needs social assistance for transport to follow-up08R
2026-11-03
Ç"	REF-78-v122026-11-03T11:15:00+07:00B=3174050101150003"Andi Saputra*
2015-01-010:Tanjung Barat¢_
REF-78puskesmas-tanjung-baratrsud-pasar-minggu*suspected TB, chest X-ray08R
2026-11-03
ù"BLK-HYD-2026-11-P0142
2026-11-10B<3174052306880004"Joko Susilo*
1988-06-230:Tanjung BaratJRW-05²Ž
-
urn:benang:courseHYD-01Hidroponik dasaragriculture.hydroponicsBLK Jakarta Selatan"

2026-11-10
2026-11-21(2Balai Warga RW 058(