#!/usr/bin/env python3
"""gen_bias_csv.py: the CSV benchmark file of docs/benchmarks.md.

Writes N rows (default 10,000) in the column layout of the primary school's
BIAS export (config/examples/sdn-bias.csv): UTF-8 with a BOM, ';' separators,
CRLF line ends, quoted cells with commas in them, three date columns. The rows
are synthetic and deterministic (no real people), so every run of the
benchmark reads the same bytes.

    tools/gen_bias_csv.py [ROWS] > /tmp/sdn-10k.csv
"""
import sys


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    out = sys.stdout.buffer
    out.write("\ufeffNo;NISN;NIK;Nama Siswa;Tgl Lahir;JK;Alamat;RW;Vaksin;"
              "Tgl Imunisasi;Keterangan\r\n".encode())
    vaccines = ("MR", "DT", "TD")
    for i in range(rows):
        line = (f'{i + 1};01{i:08d};31740901{i:08d};"Siswa {i}, Putri";'
                f'{i % 28 + 1:02d}-{i % 12 + 1:02d}-2018;{"P" if i % 2 == 0 else "L"};'
                f'"Jl. Melati No. {i % 90}";{i % 9 + 1:02d};{vaccines[i % 3]};'
                f'{i % 28 + 1:02d}/11/2026;SUDAH\r\n')
        out.write(line.encode())


if __name__ == "__main__":
    main()
