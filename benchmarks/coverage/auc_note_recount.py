"""Recount of the ROC AUC caution notes on the main grid under assay's current note rules.

The AUC intervals (unweighted logit DeLong) did not change when the "approximate" rule
gained its second branch (smaller class < 100 rows and an estimate >= 0.9 or <= 0.1), so
coverage_study.py's coverage numbers stand; only the note counts change. This script
regenerates exactly the same samples as coverage_study.py (same seeds, same data model),
calls assay for ``roc_auc`` only (``replicates=1``: the unweighted AUC does not use the
bootstrap replicates), checks that the coverage matches results.json, and reports the
coverage with and without a caution note. Cells with n = 5000 are skipped: their smaller
class has about 250 or more rows, so no note can fire there.

Run::

    python benchmarks/coverage/auc_note_recount.py \
        [--out benchmarks/coverage/auc_note_recount.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coverage_study import (  # noqa: E402
    BASE_SEED,
    CONFIDENCE,
    FLAGS,
    GRID_AUC,
    GRID_PREV,
    cell_key,
    note_flags,
    simulate_binary,
)

from assay._estimate import estimate  # noqa: E402

CAUTION = FLAGS["approximate"][0] | FLAGS["perfect_separation"][0]
TIED = "all scores tied"


def run_cell(n: int, prev: float, auc: float, sims: int) -> dict:
    key = cell_key("binary", n, prev, auc)
    n_int = flagged = flagged_cov = clean = clean_cov = 0
    by_rule = {"smaller<25": [0, 0], "extreme estimate, 25<=smaller<100": [0, 0]}
    tied = 0
    for i in range(sims):
        rng = np.random.default_rng([BASE_SEED, key, i])
        y, s = simulate_binary(n, prev, auc, rng)
        e = estimate("binary", y, s, metrics=["roc_auc"], confidence=CONFIDENCE,
                     seed=key * 1_000_000 + i, replicates=1)["roc_auc"]
        if e.status != "ok" or not (math.isfinite(e.low) and math.isfinite(e.high)):
            continue
        n_int += 1
        hit = e.low <= auc <= e.high
        tied += TIED in e.note
        if note_flags(e.note) & CAUTION or TIED in e.note:
            flagged += 1
            flagged_cov += hit
            smaller = min(int(y.sum()), n - int(y.sum()))
            rule = "smaller<25" if smaller < 25 else "extreme estimate, 25<=smaller<100"
            by_rule[rule][0] += 1
            by_rule[rule][1] += hit
        else:
            clean += 1
            clean_cov += hit
    return {
        "n": n, "prevalence": prev, "auc": auc, "sims": sims, "with_interval": n_int,
        "coverage": (flagged_cov + clean_cov) / n_int if n_int else math.nan,
        "flagged": flagged, "coverage_flagged": flagged_cov / flagged if flagged else math.nan,
        "unflagged": clean, "coverage_unflagged": clean_cov / clean if clean else math.nan,
        "flagged_by_rule": {k: {"count": c, "coverage": h / c if c else math.nan}
                            for k, (c, h) in by_rule.items()},
        "all_scores_tied": tied,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                  "auc_note_recount.json"))
    args = ap.parse_args(argv)
    with open(os.path.join(os.path.dirname(__file__), "results.json")) as f:
        saved = {(r["n"], r["prevalence"], r["auc"]): r for r in json.load(f)["rows"]
                 if r["metric"] == "roc_auc"}
    t0 = time.perf_counter()
    rows = []
    for n in (50, 500):
        for prev in GRID_PREV:
            for auc in GRID_AUC:
                r = run_cell(n, prev, auc, args.sims)
                old = saved[(n, prev, auc)]
                r["previous_rule"] = {"flagged": old["flagged"],
                                      "coverage_flagged": old["coverage_flagged"],
                                      "unflagged": old["unflagged"],
                                      "coverage_unflagged": old["coverage_unflagged"]}
                r["coverage_matches_results_json"] = (
                    r["with_interval"] == old["defined"]
                    and abs(r["coverage"] - old["coverage"]) < 1e-12)
                rows.append(r)
                print(json.dumps(r), file=sys.stderr)
    wall = time.perf_counter() - t0
    with open(args.out, "w") as f:
        json.dump({"sims": args.sims, "wall_seconds": wall, "rows": rows}, f, indent=1)
    lines = ["| n | prevalence | AUC | coverage (with interval) | same as results.json "
             "| caution note now: count (coverage) | no note now: count (coverage) "
             "| of the noted: smaller < 25 | of the noted: extreme estimate, 25-99 "
             "| previous rule: noted / not noted |", "|" + "---|" * 10]

    def cc(k, c):
        return f"{k} ({c:.3f})" if k else "0"
    for r in rows:
        a, b = r["flagged_by_rule"].values()
        p = r["previous_rule"]
        lines.append(
            f"| {r['n']} | {r['prevalence']:g} | {r['auc']:g} | {r['coverage']:.3f} (of "
            f"{r['with_interval']}) | {'yes' if r['coverage_matches_results_json'] else 'NO'} | "
            f"{cc(r['flagged'], r['coverage_flagged'])} | "
            f"{cc(r['unflagged'], r['coverage_unflagged'])} | "
            f"{cc(a['count'], a['coverage'])} | {cc(b['count'], b['coverage'])} | "
            f"{p['flagged']} / {p['unflagged']} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(f"ROC AUC caution notes on the main grid under the current rules, {args.sims} "
                f"simulations per cell (same samples as coverage_study.py); wall {wall:.0f} s. "
                "Output of `auc_note_recount.py`. Caution note: \"approximate\" (smaller class "
                "< 25, or < 100 with an estimate >= 0.9 or <= 0.1) or the perfect-separation / "
                "tied-scores stand-in.\n\n" + table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
