
ù"BLK-HYD-2026-11-P0142
2026-11-10B<3174052306880004"Joko Susilo*
1988-06-230:Tanjung BaratJRW-05²Ž
-
urn:benang:courseHYD-01Hidroponik dasaragriculture.hydroponicsBLK Jakarta Selatan"

2026-11-10
2026-11-21(2Balai Warga RW 058(