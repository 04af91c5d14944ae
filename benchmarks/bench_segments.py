"""Weak-segment discovery benchmark: assay's ``analyse_segments`` vs SliceLine, pysubgroup and a
plain pandas groupby loop, on the same seeded data with one planted weak segment.

Usage::

    taskset -c 0,1 python benchmarks/bench_segments.py [--rows 1e6] [--peer-rows 1e5 1e6]
                                                       [--timeout 300] [--mem-gb 16]
                                                       [--repeat 3] [--out benchmarks/out]

For every size it builds seeded binary-classification data with n rows and 10 candidate
columns: ``x0``..``x5`` numeric (normal, 2% missing) and ``c0``..``c3`` text with 5, 10, 20 and
30 levels of unequal frequency. The model errs at 10% everywhere except in the planted
segment ``c1 = c1_03 & x2 >= q75(x2)`` (2% of rows), where it errs at 30%.

Each tool runs in a fresh subprocess (data generation and imports excluded from the time;
a tool that runs past ``--timeout`` seconds is stopped, and its address space is capped at
``--mem-gb`` GiB so that a peer that outgrows memory fails with MemoryError instead of
taking the machine down; both are reported as such):

* **assay**: ``assay.analysis.segments.analyse_segments`` on an ``AnalysisRows`` (default
  ``ErrorAnalysisSpec``: up to 3 conditions, quartile bins, min_size 50, fdr 0.05), i.e.
  the encoding, the search on the discovery half, the tests on the test half, BH, ranking,
  pruning, examples. Median of ``--repeat`` runs.
* **pandas groupby loop**: the same 175 column combinations (10 + 45 + 120) as
  ``df.groupby(cols, observed=True)["err"].agg(["size", "sum"])`` on the same discretised
  columns (quartile bins with ``pd.qcut``, missing as its own level), segments with >= 50
  rows ranked by excess errors n x (error - overall); no split, no test, no pruning.
* **SliceLine** (pip ``sliceline``; Sagadeeva & Boehm, SIGMOD 2021; sparse linear
  algebra, numba scoring when numba imports): ``Slicefinder(alpha=0.99, k=10, max_l=3,
  min_sup=max(50, 1% of rows))`` on the same discretised columns as integer codes. alpha
  0.99 because its size penalty (1 - alpha) (n / size - 1) hides a 2% slice at the default
  0.6 (and at 0.95); min_sup 1% because with min_sup 50 its candidate matrices outgrow
  memory (killed at 1e5 rows on a 24 GB machine).
* **pysubgroup** (``Apriori``, depth 3, ``WRAccQF`` on the binary error target, 10 results)
  with ``create_selectors(nbins=4)``.

"Found" says whether the tool's top segment is the planted one (``c1 = c1_03`` and the top
quartile of ``x2``, nothing else). The script prints one table and writes ``OUT/bench_segments.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from _meter import Meter  # shared with bench_drift.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# benchmarks/coverage (a folder) would shadow the coverage package that numba imports
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path.pop(0)
SEED = 20240611
LEVELS = {"c0": 5, "c1": 10, "c2": 20, "c3": 30}
PLANT_LEVEL = "c1_03"
MIN_SIZE = 50
SLICELINE_MIN_SHARE = 0.01  # SliceLine's min_sup: max(MIN_SIZE, 1% of rows); see the doc
TOOLS = ("assay", "pandas", "sliceline", "pysubgroup")


# ==== data ===============================================================================


def make_data(n: int):
    """Seeded columns, labels and scores; the error is 30% in the planted segment, else 10%."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    cols = {}
    for j in range(6):
        x = rng.normal(0.0, j + 1.0, n)
        x[rng.random(n) < 0.02] = np.nan
        cols[f"x{j}"] = x
    for name, k in LEVELS.items():
        share = np.linspace(1.0, 3.0, k)
        levels = np.array([f"{name}_{i:02d}" for i in range(k)], dtype=object)
        cols[name] = levels[rng.choice(k, n, p=share / share.sum())]
    q75 = np.nanquantile(cols["x2"], 0.75)
    bad = (cols["c1"] == PLANT_LEVEL) & (cols["x2"] >= q75)
    y = (rng.random(n) < 0.3).astype(np.int8)
    wrong = rng.random(n) < np.where(bad, 0.3, 0.1)
    pred = np.where(wrong, 1 - y, y)
    score = np.where(pred == 1, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.5, n))
    return cols, y, score, float(q75)


def discretised(cols: dict):
    """Integer codes for the peers: quartile bins (pd.qcut) for numbers, categories for
    text; missing is its own code."""
    import numpy as np
    import pandas as pd

    out = {}
    for name, v in cols.items():
        if v.dtype == object:
            codes = pd.Categorical(v).codes
        else:
            codes = pd.qcut(v, 4, labels=False, duplicates="drop")
            codes = np.where(np.isnan(codes), -1, codes)
        out[name] = np.asarray(codes, dtype=np.int64) + 1  # 0 = missing
    return pd.DataFrame(out)


def _is_planted(conds: dict) -> bool:
    """conds: column -> description; planted = c1 level 03 and x2's top bin only."""
    return set(conds) == {"c1", "x2"} and "03" in str(conds["c1"]) and conds["x2"] == "top"


def _decode(cols: dict, column: str, code: int) -> str:
    """A peer's code on the discretised columns as text (text level, or Q1..Q4 / missing)."""
    import pandas as pd

    if code == 0:
        return "missing"
    if cols[column].dtype == object:
        return str(pd.Categorical(cols[column]).categories[code - 1])
    return f"Q{code}"


def _peer_result(cols: dict, pairs: list[tuple[str, int]]) -> tuple[dict, str]:
    conds = {c: _decode(cols, c, v) for c, v in pairs}
    text = " & ".join(f"{c} = {v}" for c, v in conds.items()) or "(none)"
    if "x2" in conds:
        conds["x2"] = "top" if conds["x2"] == "Q4" else conds["x2"]
    return conds, text


# ==== workers (fresh subprocesses) ========================================================


def _run_assay(cols, y, score, q75):
    import numpy as np

    from assay.analysis._rows import AnalysisRows
    from assay.analysis.segments import analyse_segments
    from assay.spec import ErrorAnalysisSpec

    n = y.size
    rows = AnalysisRows(model="m", task="binary", y=y, scores=score, w=None,
                        key=np.arange(n, dtype=np.uint64), row_number=np.arange(1, n + 1),
                        classes=["0", "1"], threshold=0.5, confidence=0.95, replicates=1000,
                        seed=(0, 0), min_slice_size=30, columns=cols)
    clock = Meter()
    out = analyse_segments(rows, ErrorAnalysisSpec(min_size=MIN_SIZE))
    timing = clock.stop()
    table = out.tables["segments"]
    top = json.loads(table.iloc[0]["conditions"]) if len(table) else []
    conds = {}
    for c in top:
        if c["column"] == "x2":
            conds["x2"] = "top" if c["op"] == ">=" and abs(c["value"] - q75) < 0.1 else c
        else:
            conds[c["column"]] = c["value"]
    s = out.charts["summary"]["m"]
    return timing, {"top": table.iloc[0]["segment"] if len(table) else "(none)",
                  "found": _is_planted(conds), "reported": len(table),
                  "detail": f"{s['searched']} searched, {s['tested']} tested, "
                            f"{s['significant']} significant, {s['reported']} reported"}


def _run_pandas(cols, y, score, q75):
    from itertools import combinations


    clock = Meter()
    df = discretised(cols)
    df["err"] = ((score >= 0.5).astype(int) != y).astype(float)
    overall = df["err"].mean()
    names = [c for c in df.columns if c != "err"]
    best = []
    for r in (1, 2, 3):
        for combo in combinations(names, r):
            g = df.groupby(list(combo), observed=True)["err"].agg(["size", "sum"])
            g = g[g["size"] >= MIN_SIZE]
            impact = g["sum"] - g["size"] * overall
            if len(impact):
                j = impact.idxmax()
                best.append((float(impact.max()), combo, j if isinstance(j, tuple) else (j,)))
    best.sort(key=lambda b: -b[0])
    timing = clock.stop()
    _, combo, values = best[0]
    conds, text = _peer_result(cols, [(c, int(v)) for c, v in zip(combo, values, strict=True)])
    return timing, {"top": text, "found": _is_planted(conds), "reported": 1,
                    "detail": "175 groupbys; top by excess errors; no test"}


def _run_sliceline(cols, y, score, q75):
    import warnings


    warnings.filterwarnings("ignore")
    from sliceline.slicefinder import Slicefinder

    clock = Meter()
    X = discretised(cols)
    err = ((score >= 0.5).astype(int) != y).astype(float)
    min_sup = max(MIN_SIZE, int(SLICELINE_MIN_SHARE * y.size))
    sf = Slicefinder(alpha=0.99, k=10, max_l=3, min_sup=min_sup, verbose=False)
    sf.fit(X, err)
    timing = clock.stop()
    top = sf.top_slices_[0] if len(sf.top_slices_) else []
    conds, text = _peer_result(cols, [(c, int(v)) for c, v in zip(X.columns, top, strict=False)
                                      if v is not None])
    return timing, {"top": text, "found": _is_planted(conds), "reported": len(sf.top_slices_),
                    "detail": f"alpha 0.99, k 10, max_l 3, min_sup {min_sup}; no test"}


def _run_pysubgroup(cols, y, score, q75):
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    import pysubgroup as ps

    clock = Meter()
    df = pd.DataFrame(cols)
    df["err"] = (score >= 0.5).astype(int) != y
    target = ps.BinaryTarget("err", True)
    space = ps.create_selectors(df, nbins=4, ignore=["err"])
    task = ps.SubgroupDiscoveryTask(df, target, space, result_set_size=10, depth=3,
                                    qf=ps.WRAccQF())
    result = ps.Apriori().execute(task)
    timing = clock.stop()
    frame = result.to_dataframe()
    text = str(frame.iloc[0]["subgroup"]) if len(frame) else "(none)"
    conds = {}
    for part in text.split(" AND "):
        if part.startswith("c1=="):
            conds["c1"] = part
        elif part.startswith("x2"):
            conds["x2"] = "top" if ">=" in part and "<" not in part.replace(">=", "") else part
        else:
            conds[part.split("=")[0].split("<")[0].split(">")[0].strip(": ")] = part
    return timing, {"top": text, "found": _is_planted(conds), "reported": len(frame),
                  "detail": "Apriori, depth 3, WRAcc, 10 results; no test"}


def worker(tool: str, n: int, mem_gb: float) -> dict:
    import resource

    cap = int(mem_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    cols, y, score, q75 = make_data(n)
    run = {"assay": _run_assay, "pandas": _run_pandas, "sliceline": _run_sliceline,
           "pysubgroup": _run_pysubgroup}[tool]
    timing, info = run(cols, y, score, q75)
    info.update(timing)
    return info


# ==== driver ==============================================================================


def spawn(tool: str, n: int, timeout: float, mem_gb: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", tool, str(n), str(mem_gb)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "note": f"stopped after {timeout:.0f} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": "error", "note": last[:160]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["status"] = "ok"
    return out


def available(tool: str) -> str | None:
    module = {"sliceline": "sliceline", "pysubgroup": "pysubgroup"}.get(tool)
    if module is None:
        return None
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return None if probe.returncode == 0 else f"not importable (pip install {module})"


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for m in ("numpy", "pandas", "scipy", "scikit-learn", "sliceline", "pysubgroup", "numba"):
        try:
            out[m] = version(m)
        except PackageNotFoundError:
            out[m] = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", nargs="+", type=float, default=[1e6], help="assay's sizes")
    ap.add_argument("--peer-rows", nargs="+", type=float, default=[1e5, 1e6])
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per peer run")
    ap.add_argument("--mem-gb", type=float, default=16.0, help="address-space cap per run")
    ap.add_argument("--repeat", type=int, default=3, help="assay runs per size (median)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), float(args.worker[2]))))
        return
    sizes = sorted({int(n) for n in args.rows} | {int(n) for n in args.peer_rows})
    results = []
    print(f"cpus (affinity): {len(os.sched_getaffinity(0))}, versions: {versions()}")
    assay_sizes = {int(n) for n in args.rows} | {int(n) for n in args.peer_rows}
    for n in sizes:
        for tool in TOOLS:
            if n not in (assay_sizes if tool == "assay" else {int(r) for r in args.peer_rows}):
                continue
            missing = available(tool)
            if missing:
                results.append({"rows": n, "tool": tool, "status": "absent", "note": missing})
                continue
            runs = [spawn(tool, n, args.timeout, args.mem_gb)
                    for _ in range(args.repeat if tool == "assay" else 1)]
            ok = [r for r in runs if r["status"] == "ok"]
            row = dict(ok[0] if ok else runs[0], rows=n, tool=tool)
            if ok:
                row["wall"] = statistics.median(r["wall"] for r in ok)
                row["walls"] = [r["wall"] for r in ok]
            results.append(row)
            print(f"  {n:>9,} {tool:<11} {row['status']} {row.get('wall', float('nan')):.2f} s"
                  f"  {row.get('top', row.get('note'))}", flush=True)
    print_table(results)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_segments.json"
    path.write_text(json.dumps({"versions": versions(), "results": results}, indent=2))
    print(f"wrote {path}")


def print_table(results: list[dict]) -> None:
    print("\n| rows | tool | wall (s) | CPU (s) | peak MB | planted segment found | top segment | note |")
    print("|---:|---|---:|---:|---:|---|---|---|")
    for r in results:
        if r.get("status") != "ok":
            print(f"| {r['rows']:.0e} | {r['tool']} | – | – | – | – | – | {r['status']}: "
                  f"{r.get('note', '')} |")
            continue
        walls = r.get("walls", [r["wall"]])
        note = r["detail"] + (f"; runs {', '.join(f'{w:.2f}' for w in walls)} s"
                              if len(walls) > 1 else "")
        print(f"| {r['rows']:.0e} | {r['tool']} | {r['wall']:.2f} | {r['cpu']:.2f} | "
              f"{r['peak_mb']:.0f} | {'yes' if r['found'] else 'no'} | `{r['top']}` | {note} |")


if __name__ == "__main__":
    main()
