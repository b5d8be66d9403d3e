#!/usr/bin/env python3
"""Plaintext baseline for poshuk: Splink 4 (DuckDB) probabilistic linkage.

What it measures
    poshuk links missing-person records through keyed hashes.  This script runs
    the tool an analyst would reach for on the *plaintext* instead -- Splink 4
    with Jaro-Winkler name comparisons -- on the same `poshuk synth` output, and
    scores it against truth.csv.  For each pairing (ngo_ua-ru_sources,
    ngo_ua-intl_org, ru_sources-intl_org) it trains and runs a `link_only` model
    and reports: precision / recall / F1 with "match" = match_probability >=
    --threshold; the best F1 over all thresholds and the threshold reaching it;
    recall@1 (for each left record with a true match, is its top-scored
    candidate a true match?); blocking_recall (share of true pairs that the
    blocking rules generated at all); wall time (preprocess + train + predict).
    Each cross pair is counted once; true pairs never generated count as misses.

Preprocessing (what a typical analyst would do): names and places are
transliterated to ASCII with unidecode, lowercased, punctuation stripped;
birth_date is split into year/month/day (partial dates keep what they have,
and only complete dates fill `birth_date`); the first document id loses its
`type:` prefix, is unidecoded, uppercased and stripped of separators.  Sex "U"
counts as unknown.  other_names is not used.

Run
    pip install -r bench/requirements.txt
    python3 bench/splink_peer.py DIR [--threshold 0.5] [--json] [-v]
where DIR holds ngo_ua.csv, ru_sources.csv, intl_org.csv and truth.csv; or
    python3 bench/splink_peer.py --febrl DIR [--json]
where DIR is written by bench/febrl_export.py: FEBRL1-3 deduplicated
(`dedupe_only`) and FEBRL4 linked, on given name, surname, date of birth and
suburb (written as birth_place) only, with the same comparisons as above.
--json prints {"tool", "threshold", "pairings": [{left, right, precision,
recall, f1, best_threshold, best_f1, recall_at_1, seconds, ...counts}]}.
Runs offline and in memory.  Seeds are fixed and metrics rounded to 6 digits,
so reruns print the same numbers (DuckDB's parallel sums jitter the 15th digit).
"""
import argparse
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time

try:
    import numpy as np
    import pandas as pd
    from unidecode import unidecode
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"splink_peer: cannot import {exc.name!r}. This benchmark needs Splink 4 "
             "with DuckDB; install the pinned versions with\n"
             "    pip install -r bench/requirements.txt")

SOURCES = ("ngo_ua", "ru_sources", "intl_org")
PAIRINGS = [("ngo_ua", "ru_sources"), ("ngo_ua", "intl_org"), ("ru_sources", "intl_org")]
SEED = 42
DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


def clean_text(value):
    """Cyrillic/Latin -> lowercase ASCII words; None when nothing is left."""
    s = unidecode(value or "").lower()
    s = re.sub(r"['`\"]", "", s)                 # apostrophes join (Мар'яна -> mariana)
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()    # other punctuation separates
    return s or None


def clean_document(value):
    first = (value or "").split(";")[0].strip()
    if ":" in first:
        first = first.split(":", 1)[1]
    s = re.sub(r"[^A-Z0-9]", "", unidecode(first).upper())
    return s or None


def soundex(name):
    """American Soundex of an ASCII name (DuckDB has no soundex function)."""
    if not isinstance(name, str) or not name:  # None, or NaN from an empty cell
        return None
    letters = re.sub(r"[^a-z]", "", name)
    if not letters:
        return None
    codes = {c: str(d) for d, group in enumerate(
        ["aeiouyhw", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r"]) for c in group}
    out, last = letters[0].upper(), codes[letters[0]]
    for c in letters[1:]:
        code = codes[c]
        if code != "0" and code != last:
            out += code
        if c not in "hw":
            last = code
    return (out + "000")[:4]


def load_source(path):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = pd.DataFrame({"record_id": raw["record_id"]})
    for col in ("given_name", "family_name", "patronymic", "birth_place"):
        df[col] = raw[col].map(clean_text)
    df["sex"] = raw["sex"].str.strip().str.upper().map(lambda s: s if s in ("M", "F") else None)
    parts = []
    for text in raw["birth_date"].str.strip():
        m = DATE_RE.match(text)
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)
        parts.append((y, mo and mo.zfill(2), d and d.zfill(2)))
    df["birth_year"], df["birth_month"], df["birth_day"] = ([p[i] for p in parts] for i in range(3))
    # Only a complete date is a "birth_date"; partial dates live in the parts.
    df["birth_date"] = [f"{y}-{mo}-{d}" if y and mo and d else None for y, mo, d in parts]
    df["document"] = raw["document_ids"].map(clean_document)
    df["family_soundex"] = df["family_name"].map(soundex)
    return df.astype(object).where(df.notna(), None)


def date_comparison():
    """Exact date / same year+month / same year (month unknown) / same year / else.

    NullLevel(birth_year) catches missing dates; a year-only or year-month date
    can reach at most the level its known parts allow.
    """
    def year():
        return cll.ExactMatchLevel("birth_year")
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("birth_date").configure(label_for_charts="exact date"),
            cll.And(year(), cll.ExactMatchLevel("birth_month")).configure(
                label_for_charts="same year and month"),
            cll.And(year(), cll.NullLevel("birth_month")).configure(
                label_for_charts="same year, month unknown on a side"),
            year().configure(label_for_charts="same year, month differs"),
            cll.ElseLevel(),
        ])


def name_comparisons():
    """Given and family names: Jaro-Winkler at 0.92 and 0.8, frequency-adjusted."""
    return [
        cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]).configure(
            term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("family_name", [0.92, 0.8]).configure(
            term_frequency_adjustments=True),
    ]


def settings():
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="record_id",
        comparisons=[
            *name_comparisons(),
            cl.JaroWinklerAtThresholds("patronymic", [0.92, 0.8]),
            date_comparison(),
            cl.JaroWinklerAtThresholds("birth_place", [0.92]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("document"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("family_name"),
            block_on("given_name", "birth_year"),
            block_on("birth_date"),
            block_on("document"),
            block_on("substr(family_name, 1, 3)", "birth_year"),
            block_on("family_soundex", "birth_year"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def train_u_and_m(train, name):
    """u by random sampling, then m by EM: Splink's tutorial recipe (block on names
    to learn the date and the rest, then on the date to learn the names).  A session
    that finds no pairs is skipped; predict() then falls back to default m values."""
    train.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    for cols in (("given_name", "family_name"), ("birth_date",)):
        try:
            train.estimate_parameters_using_expectation_maximisation(block_on(*cols))
        except Exception as exc:  # noqa: BLE001 - report and carry on
            print(f"splink_peer: {name}: EM blocked on {'+'.join(cols)} skipped: "
                  f"{str(exc).splitlines()[0]}", file=sys.stderr)


def run_splink(left_df, right_df, left, right):
    """Train and predict; returns DataFrame(left_id, right_id, p) of all candidates."""
    linker = Linker([left_df, right_df], settings(), DuckDBAPI(),
                    input_table_aliases=[left, right], set_up_basic_logging=False)
    train = linker.training
    train.estimate_probability_two_random_records_match(
        [block_on("family_name", "birth_date"), block_on("document")], recall=0.7)
    if linker._settings_obj._probability_two_random_records_match == 0:
        # Tiny inputs: no deterministic match at all would pin every score to 0.
        linker._settings_obj._probability_two_random_records_match = (
            1 / max(len(left_df), len(right_df)))
    train_u_and_m(train, f"{left}-{right}")
    pred = linker.inference.predict()
    pairs = linker.misc.query_sql(
        "select source_dataset_l, record_id_l, record_id_r, match_probability "
        f"from {pred.physical_name}")
    # Splink orders each pair by (source_dataset, id); put `left` on the left.
    flip = pairs["source_dataset_l"] != left
    out = pd.DataFrame({
        "left_id": np.where(flip, pairs["record_id_r"], pairs["record_id_l"]),
        "right_id": np.where(flip, pairs["record_id_l"], pairs["record_id_r"]),
        "p": pairs["match_probability"].astype(float)})
    return out.groupby(["left_id", "right_id"], as_index=False)["p"].max()


def score(cands, truth, left, right, threshold):
    tl = truth[truth["source"] == left][["record_id", "person_id"]]
    tr = truth[truth["source"] == right][["record_id", "person_id"]]
    true = tl.merge(tr, on="person_id", suffixes=("_l", "_r"))
    true_set = set(zip(true["record_id_l"], true["record_id_r"]))
    n_true = len(true_set)
    cands = cands.copy()
    cands["hit"] = [(a, b) in true_set for a, b in zip(cands["left_id"], cands["right_id"])]

    def prf(tp, n_pred):
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_true if n_true else 0.0
        return prec, rec, (2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0)

    sel = cands["p"] >= threshold
    precision, recall, f1 = prf(int(cands.loc[sel, "hit"].sum()), int(sel.sum()))

    # Best F1: cut the descending-probability list after each distinct value.
    ranked = cands.sort_values("p", ascending=False, kind="mergesort")
    p, tp = ranked["p"].to_numpy(), np.cumsum(ranked["hit"].to_numpy())
    ends = np.flatnonzero(np.append(p[1:] != p[:-1], True)) if len(p) else np.array([], int)
    f1s = 2 * tp[ends] / (ends + 1 + n_true) if len(ends) else np.array([0.0])
    best = int(np.argmax(f1s))
    best_threshold = float(f"{p[ends[best]]:.6g}") if len(ends) else None

    # recall@1: top candidate (ties broken by right id) of each left record with a match.
    top = cands.sort_values(["left_id", "p", "right_id"], ascending=[True, False, True])
    top = top.drop_duplicates("left_id").set_index("left_id")["hit"]
    matched_left = set(true["record_id_l"])
    r_at_1 = (sum(bool(top.get(l, False)) for l in matched_left) / len(matched_left)
              if matched_left else 0.0)
    return {"precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6),
            "best_threshold": best_threshold, "best_f1": round(float(f1s[best]), 6),
            "recall_at_1": round(r_at_1, 6), "true_pairs": n_true,
            "candidate_pairs": len(cands),
            "blocking_recall": round(float(cands["hit"].sum()) / n_true, 6) if n_true else 0.0}


def febrl_settings(link_type):
    """The comparisons above, on the four FEBRL fields poshuk also uses."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_id",
        comparisons=[
            *name_comparisons(),
            date_comparison(),
            cl.JaroWinklerAtThresholds("birth_place", [0.92]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("family_name"),
            block_on("given_name", "birth_year"),
            block_on("birth_date"),
            block_on("substr(family_name, 1, 3)", "birth_year"),
            block_on("family_soundex", "birth_year"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def load_febrl(path):
    """A FEBRL export as load_source reads a synth file (no patronymic, sex or document)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("patronymic", "sex", "document_ids"):
        raw[col] = ""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as out:
        raw.to_csv(out, index=False)
    try:
        return load_source(out.name)
    finally:
        os.unlink(out.name)


def run_febrl(directory, threshold):
    results = []
    for name in ("febrl1", "febrl2", "febrl3", "febrl4"):
        base = os.path.join(directory, name)
        if not os.path.isdir(base):
            continue
        start = time.perf_counter()
        truth = pd.read_csv(os.path.join(base, "truth.csv"), dtype=str, keep_default_na=False)
        entity = dict(zip(truth["record_id"], truth["entity"]))
        with contextlib.redirect_stdout(sys.stderr):
            if name == "febrl4":
                frames = [load_febrl(os.path.join(base, "a.csv")),
                          load_febrl(os.path.join(base, "b.csv"))]
                linker = Linker(frames, febrl_settings("link_only"), DuckDBAPI(),
                                input_table_aliases=["a", "b"], set_up_basic_logging=False)
                ids = [list(frames[0]["record_id"]), list(frames[1]["record_id"])]
            else:
                frame = load_febrl(os.path.join(base, "records.csv"))
                linker = Linker(frame, febrl_settings("dedupe_only"), DuckDBAPI(),
                                set_up_basic_logging=False)
                ids = [list(frame["record_id"])]
            train = linker.training
            train.estimate_probability_two_random_records_match(
                [block_on("family_name", "birth_date")], recall=0.7)
            train_u_and_m(train, name)
            pred = linker.inference.predict()
            pairs = linker.misc.query_sql(
                f"select record_id_l, record_id_r, match_probability from {pred.physical_name}")
        hits = [entity.get(a) is not None and entity.get(a) == entity.get(b)
                for a, b in zip(pairs["record_id_l"], pairs["record_id_r"])]
        p = pairs["match_probability"].astype(float).to_numpy()
        hits = np.array(hits, dtype=bool)
        if name == "febrl4":
            counts = pd.Series([entity[i] for i in ids[1]]).value_counts()
            n_true = int(sum(counts.get(entity[i], 0) for i in ids[0]))
        else:
            counts = pd.Series([entity[i] for i in ids[0]]).value_counts()
            n_true = int(sum(n * (n - 1) // 2 for n in counts))

        def prf(cut):
            sel = p >= cut
            tp, n_pred = int(hits[sel].sum()), int(sel.sum())
            prec = tp / n_pred if n_pred else 1.0
            rec = tp / n_true if n_true else 0.0
            return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)

        precision, recall, f1 = prf(threshold)
        best_f1 = max(prf(step / 100)[2] for step in range(1, 100))
        results.append({"data_set": name if name != "febrl4" else "febrl4 (external check)",
                        "true_pairs": n_true, "blocking_recall": round(float(hits.sum()) / n_true, 6),
                        "precision": round(precision, 6), "recall": round(recall, 6),
                        "f1": round(f1, 6), "best_f1": round(best_f1, 6),
                        "seconds": round(time.perf_counter() - start, 3)})
    return results


def main():
    if "--febrl" in sys.argv:
        ap = argparse.ArgumentParser(description="Splink on the FEBRL data sets")
        ap.add_argument("--febrl", action="store_true")
        ap.add_argument("dir")
        ap.add_argument("--threshold", type=float, default=0.5)
        ap.add_argument("--json", action="store_true")
        args = ap.parse_args()
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
        logging.getLogger("splink").setLevel(logging.ERROR)
        results = run_febrl(args.dir, args.threshold)
        if args.json:
            json.dump({"tool": "splink", "threshold": args.threshold, "data_sets": results},
                      sys.stdout, indent=2)
            print()
        else:
            for r in results:
                print(r)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory written by `poshuk synth`")
    ap.add_argument("--threshold", type=float, default=0.5,
                    help="match-probability threshold for precision/recall/F1")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("-v", "--verbose", action="store_true", help="show Splink's training log")
    args = ap.parse_args()

    for name in (*SOURCES, "truth"):
        if not os.path.isfile(os.path.join(args.dir, name + ".csv")):
            sys.exit(f"splink_peer: {os.path.join(args.dir, name + '.csv')} not found")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.INFO if args.verbose else logging.ERROR)
    truth = pd.read_csv(os.path.join(args.dir, "truth.csv"), dtype=str, keep_default_na=False)

    results = []
    for left, right in PAIRINGS:
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for our output only
            left_df = load_source(os.path.join(args.dir, left + ".csv"))
            right_df = load_source(os.path.join(args.dir, right + ".csv"))
            cands = run_splink(left_df, right_df, left, right)
        seconds = time.perf_counter() - start
        row = {"left": left, "right": right,
               **score(cands, truth, left, right, args.threshold),
               "seconds": round(seconds, 3),
               "left_records": len(left_df), "right_records": len(right_df)}
        results.append(row)
        if not args.json:
            print(f"{left} - {right}: done in {seconds:.1f}s", file=sys.stderr)

    if args.json:
        json.dump({"tool": "splink", "threshold": args.threshold, "pairings": results},
                  sys.stdout, indent=2)
        print()
        return
    print(f"Splink (DuckDB, Jaro-Winkler) baseline on {args.dir}, "
          f"threshold {args.threshold}")
    cols = [("pairing", 24), ("precision", 9), ("recall", 7), ("f1", 6), ("best_f1", 7),
            ("@thresh", 8), ("recall@1", 8), ("blocked", 7), ("true", 6), ("cands", 8),
            ("sec", 6)]
    print("  ".join(f"{c:>{w}}" for c, w in cols))  # blocked = true pairs among candidates
    for r in results:
        vals = [f"{r['left']}-{r['right']}", f"{r['precision']:.3f}", f"{r['recall']:.3f}",
                f"{r['f1']:.3f}", f"{r['best_f1']:.3f}",
                "-" if r["best_threshold"] is None else f"{r['best_threshold']:.3g}",
                f"{r['recall_at_1']:.3f}", f"{r['blocking_recall']:.3f}", str(r["true_pairs"]),
                str(r["candidate_pairs"]),
                f"{r['seconds']:.1f}"]
        print("  ".join(f"{v:>{w}}" for v, (_, w) in zip(vals, cols)))


if __name__ == "__main__":
    main()
