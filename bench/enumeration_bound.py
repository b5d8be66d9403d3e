#!/usr/bin/env python3
"""How much of another partner's list a hostile partner can find per day under
the coordinator's limits: an upper bound, computed on plaintext.

The attacker (a partner holding the key) tries (family name, given name, birth
year) combinations, most likely first by the frequencies of a public sample,
packing as many into each query as the protocol allows
(MAX_NAME_DATE_COMBINATIONS given-name x family-date tokens). The bound lets it
pack them in any order it likes (real queries must be products of classes and
(family, year) pairs, which is less efficient), and counts every victim record
whose combination was tried as found.

    poshuk bench attack --persons 20000 --seed 7 --out DIR   # writes DIR/victim and DIR/public
    python3 bench/enumeration_bound.py DIR/victim/ngo_ua.csv DIR/public/ngo_ua.csv
"""
import collections
import csv
import re
import sys

FEMININE = {"ська": "ськ", "цька": "цьк", "ова": "ов", "ева": "ев", "іна": "ін", "ина": "ин", "ая": "", "а": ""}
MASCULINE = {"ський": "ськ", "цький": "цьк", "ий": ""}


def year(text):
    found = re.search(r"(19|20)\d\d", text or "")
    return found.group(0) if found else None


def family_key(name):
    name = name.strip().lower()
    for suffix, stem in FEMININE.items():
        if name.endswith(suffix) and len(name) > len(suffix) + 3:
            return name[: -len(suffix)] + stem
    for suffix, stem in MASCULINE.items():
        if name.endswith(suffix):
            return name[: -len(suffix)] + stem
    return name


def combinations(path):
    out = []
    for row in csv.DictReader(open(path, encoding="utf-8")):
        born = year(row["birth_date"])
        if born and row["given_name"] and row["family_name"]:
            out.append((family_key(row["family_name"]), row["given_name"].strip().lower(), born))
    return out


def main():
    victim, public = combinations(sys.argv[1]), combinations(sys.argv[2])
    in_victim = collections.Counter(victim)
    families = collections.Counter(c[0] for c in public)
    givens = collections.Counter(c[1] for c in public)
    years = collections.Counter(c[2] for c in public)
    n = len(public)
    candidates = sorted(
        (
            (families[f] * givens[g] * years[y] / n**3, (f, g, y))
            for f, _ in families.most_common(400)
            for g, _ in givens.most_common(150)
            for y, _ in years.most_common(60)
        ),
        reverse=True,
    )
    print(f"victim records with family, given name and year: {len(victim)}")
    for per_query in (12, 24, 36, 96):
        for queries in (100, 300, 1000):
            tried = per_query * queries
            found = sum(in_victim[c] for _, c in candidates[:tried])
            print(f"{per_query:3} combinations/query x {queries:5} queries: {found:6} records = {found / len(victim):.2%}")


if __name__ == "__main__":
    main()
