
¦"	REF-77-v122026-11-03T10:00:00+07:00B:3174054407900002"	Rina Wati*
1990-07-040:Tanjung Barat¢À
REF-77puskesmas-tanjung-baratsudin-sosial-jaksel"D
http://snomed.info/sct	105480006Refusal of treatment by patient*2needs social assistance for transport to follow-up08R
2026-11-03