"""Supplement to coverage_study.py: coverage of assay's slice-vs-rest gap intervals.

One slice ("g=a") and the rest of the rows ("g=b") are drawn from the SAME binormal model
(coverage_study.simulate_binary), so the true gap is 0; a gap interval should contain 0 in
95% of simulations. Runs ``assay.evaluate`` (the full pipeline, DuckDB engine) with one
slice dimension; reports the gap interval's coverage overall, and separately for the
samples where the slice's own estimate sits at a boundary with a standard error of 0
(F1 with no true positive in the slice; AUC with perfect separation in the slice). There
the slice's standard error is 0; the earlier ``gap()`` combined SEs (Wald), so these gaps
never covered. ``gap()`` in metrics/_base.py now uses MOVER on the two sides' own interval
limits (Zou & Donner 2008), so the column shows whether that fixed them.

Run::

    python benchmarks/coverage/gap_check.py [--sims 1000] \
        [--out benchmarks/coverage/gap_check.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coverage_study import simulate_binary  # noqa: E402

import assay  # noqa: E402

BASE_SEED = 20_240_613
REST = 2000
#: (metric, slice rows, prevalence, population AUC)
CONFIGS = (
    ("accuracy", 50, 0.05, 0.7),
    ("f1", 50, 0.05, 0.7),
    ("f1", 500, 0.05, 0.7),
    ("roc_auc", 50, 0.1, 0.95),
    ("roc_auc", 500, 0.05, 0.95),
    ("roc_auc", 500, 0.5, 0.7),
)


def _boundary(metric: str, row: dict) -> bool:
    if metric == "f1":
        return row["value"] == 0.0
    if metric == "roc_auc":
        return "perfect separation" in str(row["note"])
    return False


def run_config(cfg: tuple) -> dict:
    (metric, n_slice, prev, auc), sims = cfg
    cover = special = special_cover = with_gap = 0
    for i in range(sims):
        rng = np.random.default_rng([BASE_SEED, n_slice, int(prev * 100), int(auc * 100), i])
        y, s = simulate_binary(n_slice + REST, prev, auc, rng)
        g = np.array(["a"] * n_slice + ["b"] * REST)
        res = assay.evaluate(data={"y": y, "s": s, "g": g}, task="binary", label="y",
                             predictions={"m": s}, slices=[{"column": "g"}], metrics=[metric],
                             seed=i)
        t = res.table
        row = t[(t["metric"] == metric) & (t["slice"] == "g=a")].iloc[0].to_dict()
        if not (math.isfinite(row["gap_low"]) and math.isfinite(row["gap_high"])):
            continue
        with_gap += 1
        hit = row["gap_low"] <= 0.0 <= row["gap_high"]
        cover += hit
        if _boundary(metric, row):
            special += 1
            special_cover += hit
    return {
        "metric": metric, "slice_rows": n_slice, "rest_rows": REST, "prevalence": prev,
        "auc": auc, "sims": sims, "with_gap_interval": with_gap,
        "gap_coverage": cover / with_gap if with_gap else math.nan,
        "boundary_se0": special,
        "gap_coverage_boundary": special_cover / special if special else math.nan,
        "gap_coverage_other": ((cover - special_cover) / (with_gap - special)
                               if with_gap > special else math.nan),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "gap_check.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with Pool(2) as pool:
        rows = pool.map(run_config, [(c, args.sims) for c in CONFIGS], chunksize=1)
    wall = time.perf_counter() - t0
    with open(args.out, "w") as f:
        json.dump({"sims": args.sims, "wall_seconds": wall, "rows": rows}, f, indent=1)
    lines = ["| metric | slice rows | rest rows | prevalence | AUC | gap coverage (of with interval) "
             "| slice at a boundary, SE 0 | gap coverage there | gap coverage elsewhere |",
             "|" + "---|" * 9]
    for r in rows:
        b = r["boundary_se0"]
        lines.append(
            f"| {r['metric']} | {r['slice_rows']} | {r['rest_rows']} | {r['prevalence']:g} | "
            f"{r['auc']:g} | {r['gap_coverage']:.3f} (of {r['with_gap_interval']}) | {b} | "
            f"{r['gap_coverage_boundary']:.3f} | {r['gap_coverage_other']:.3f} |"
            if b else
            f"| {r['metric']} | {r['slice_rows']} | {r['rest_rows']} | {r['prevalence']:g} | "
            f"{r['auc']:g} | {r['gap_coverage']:.3f} (of {r['with_gap_interval']}) | 0 | — | "
            f"{r['gap_coverage_other']:.3f} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(f"Slice-vs-rest gap intervals, true gap 0, {args.sims} simulations per row, "
                f"nominal 0.95; wall {wall:.0f} s on 2 workers. Output of `gap_check.py`.\n\n"
                + table)
    print(table)
    print(f"wall {wall:.1f} s; wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
