"""Toxicity: the default detector on the held-out split of Davidson et al. (2017), with intervals,
its speed, and error-rate gaps on the dialect-marker proxy grouping.

Usage::

    python benchmarks/bench_toxicity.py [--data ../shared/data/offensive_language/labeled_data.csv]
                                        [--repeat 3] [--out benchmarks/out] [--skip-peers]

Data: 24,783 English tweets from 2017 labelled by crowd workers (SOURCE.md next to the file);
positive = class 0 (hate speech) or 1 (offensive language). Only the held-out split is used:
:func:`assay.safety.toxicity.heldout_mask` with the default model's recorded ``test_percent``.
The script checks that the split's text digests equal those in the model's provenance (so the
split is the one the model was not trained on) and that :func:`check_overlap` finds no exact,
normalised or near-duplicate match between the training and held-out texts; otherwise it stops
without reporting anything.

Reported (stdout, and ``OUT/toxicity_heldout.csv``, ``OUT/toxicity_groups.csv``,
``OUT/toxicity_summary.md``):

* precision, recall, F1 and accuracy at threshold 0.5 with 95% intervals (Wilson; F1 by a
  seeded multinomial bootstrap of the confusion cells);
* throughput: held-out texts scored per second, best of ``--repeat`` runs, after one warm-up
  (featurisation included; model loading timed separately);
* false positive and false negative rates per proxy group (``marker``: the text contains one
  of ``DIALECT_MARKERS``; ``rest``: it does not), Wilson intervals, and the gap with Newcombe
  intervals. The grouping is a documented proxy, not a demographic label.

Peer: ``alt-profanity-check`` (``profanity_check.predict_prob``), when installed, on the same
texts. **Its figures here are inflated**: its model was trained on data that includes this same
Davidson et al. set (its README lists it among its training sources), so some held-out texts
were in its training data. It is shown for speed and as a ceiling, not as a fair comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from assay.safety.toxicity import (
    PROXY_NAME,
    check_overlap,
    default_detector,
    default_provenance,
    dialect_marker_proxy,
    group_error_rates,
    heldout_mask,
    measure_scores,
    texts_digest,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "offensive_language" / "labeled_data.csv"
INFLATED = "INFLATED: trained on data including Davidson et al. 2017"


def load_heldout(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(train texts, held-out texts, held-out labels); stops when the data or split differ from
    the model's provenance, or when the two sides overlap."""
    prov = default_provenance()
    if not path.is_file():
        sys.exit(f"{path} not found; pass --data with the path of labeled_data.csv")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != prov["data"]["file_sha256"]:
        sys.exit(f"{path}: sha256 {digest} differs from the file the default model was trained on "
                 f"({prov['data']['file_sha256']}); its held-out split cannot be rebuilt from it")
    df = pd.read_csv(path, keep_default_na=False)
    texts = df["tweet"].astype(str).tolist()
    y = df["class"].isin([0, 1]).to_numpy()
    mask = heldout_mask(texts, prov["split"]["test_percent"])
    train = [t for t, k in zip(texts, mask, strict=True) if not k]
    test = [t for t, k in zip(texts, mask, strict=True) if k]
    if (texts_digest(train), texts_digest(test)) != (prov["split"]["train_texts_sha256"],
                                                     prov["split"]["test_texts_sha256"]):
        sys.exit("the rebuilt split differs from the one in the model's provenance; refusing to report")
    overlap = check_overlap(train, test)
    if not overlap.clean:
        sys.exit(f"refusing to report: {overlap.summary()}")
    print(f"held-out split: {len(test)} texts ({int(y[mask].sum())} toxic), train {len(train)}; "
          f"overlap check: {overlap.summary()}")
    return train, test, y[mask]


def timed(fn: Callable[[list[str]], np.ndarray], texts: list[str], repeat: int) -> tuple[np.ndarray, float]:
    """(scores, best seconds over ``repeat`` runs after one warm-up)."""
    scores = np.asarray(fn(texts), dtype=np.float64)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - start)
    return scores, best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args(argv)
    _, test, y = load_heldout(args.data)

    start = time.perf_counter()
    default_detector.cache_clear()
    det = default_detector()
    load_s = time.perf_counter() - start
    detectors: list[tuple[str, Callable[[list[str]], np.ndarray], str]] = [
        (det.name, det.score, "held out (no overlap)")]
    if not args.skip_peers:
        try:
            from profanity_check import predict_prob
        except ImportError:
            print("alt-profanity-check is not installed; its row is left out")
        else:
            detectors.append(("alt-profanity-check", lambda t: predict_prob(t), INFLATED))

    rows, groups = [], []
    proxy = dialect_marker_proxy(test)
    for name, fn, note in detectors:
        scores, seconds = timed(fn, test, args.repeat)
        m = measure_scores(scores, y, detector=name, threshold=0.5, confidence=0.95, seed=0)
        for metric, v in m.metrics.items():
            rows.append({"detector": name, "metric": metric, "value": v.value, "ci_low": v.ci_low,
                         "ci_high": v.ci_high, "n": v.n, "method": v.method, "note": note})
        rows.append({"detector": name, "metric": "texts_per_second", "value": len(test) / seconds,
                     "ci_low": np.nan, "ci_high": np.nan, "n": len(test),
                     "method": f"best of {args.repeat} after a warm-up", "note": note})
        g = group_error_rates(scores, y, proxy, threshold=0.5, confidence=0.95)
        g.insert(0, "detector", name)
        g["note"] = note
        groups.append(g)
    table = pd.DataFrame(rows)
    group_table = pd.concat(groups, ignore_index=True)
    sizes = pd.Series(proxy).value_counts()

    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "toxicity_heldout.csv", index=False)
    group_table.to_csv(args.out / "toxicity_groups.csv", index=False)

    def fmt(r: pd.Series) -> str:
        return f"{r.value:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]"

    lines = [f"# Toxicity on the Davidson et al. (2017) held-out split ({len(test)} tweets, "
             f"{int(y.sum())} toxic)", "",
             f"Default model loaded in {load_s * 1000:.0f} ms. Threshold 0.5, 95% intervals.", "",
             "| detector | precision | recall | F1 | accuracy | texts/s | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, _, note in detectors:
        sub = table[table.detector == name].set_index("metric")
        cells = [fmt(sub.loc[k]) for k in ("precision", "recall", "f1", "accuracy")]
        cells.append(f"{sub.loc['texts_per_second'].value:,.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {note} |")
    lines += ["", f"Groups: {PROXY_NAME}; marker {sizes.get('marker', 0)} texts, "
                  f"rest {sizes.get('rest', 0)}.",
              "", "| detector | group | FPR | FNR |", "| --- | --- | --- | --- |"]
    for name, _, note in detectors:
        g = group_table[group_table.detector == name]
        for grp in g.group.unique():
            cells = []
            for metric in (("fpr", "fnr") if " - " not in grp else ("fpr_gap", "fnr_gap")):
                r = g[(g.group == grp) & (g.metric == metric)].iloc[0]
                cells.append(f"{r.value:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] (n={r.n})" if " - " in grp
                             else f"{r.value:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}] (n={r.n})")
            label = name if note.startswith("held") else f"{name} ({INFLATED})"
            lines.append(f"| {label} | {grp} | {cells[0]} | {cells[1]} |")
    text = "\n".join(lines) + "\n"
    (args.out / "toxicity_summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
