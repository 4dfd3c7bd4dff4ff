
Ç"	REF-78-v122026-11-03T11:15:00+07:00B=3174050101150003"Andi Saputra*
2015-01-010:Tanjung Barat¢_
REF-78puskesmas-tanjung-baratrsud-pasar-minggu*suspected TB, chest X-ray08R
2026-11-03