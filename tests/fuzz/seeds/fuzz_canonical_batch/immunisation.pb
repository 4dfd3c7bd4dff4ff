
ü"IMM-2026-00012322026-11-02T09:30:00+07:00BO3174051203250001RM-00981"Siti Aminah*
2025-03-120:Tanjung BaratB03J007JRW-03ªu
&
http://hl7.org/fhir/sid/cvx10IPV
2026-11-02"!Puskesmas Kelurahan Tanjung Barat*IPV2611A0BIMJ
left thigh