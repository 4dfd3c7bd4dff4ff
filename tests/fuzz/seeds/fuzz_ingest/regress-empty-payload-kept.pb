puskesmas-a	canonicalen30:Tanjung BaratJRW-05²Ž
-
urn:benang:courseHYD-01Hidroponik dasaragricluu.terhydroponicsBLK Jakarta Selatan"

2024-11-10
2026-11-21(2Balai Warga RW 058(