"""Drift benchmark: assay's ``drift_table`` vs Evidently's default data-drift report vs a SciPy loop.

Usage::

    taskset -c 0,1 python benchmarks/bench_drift.py [--sizes 1e6,1e7] [--quick] [--repeat 3]
                                                    [--skip-evidently-above 1e6]
                                                    [--skip-scipy-above 1e7] [--out benchmarks/out]

For every size n it builds a seeded reference and current dataset of n rows each (cached as
Parquet under ``OUT/data``, categorical columns dictionary-encoded): 10 numeric columns of
varied shapes and 3 categorical ones,

* ``shifted`` normal, mean moved by 0.25 SD in current; ``lognormal`` (skewed);
  ``student_t2`` (heavy tails, t with 2 degrees of freedom, scale x1.1 in current);
  ``uniform``; ``exponential``; ``poisson`` (integers 0..~20); ``gamma``; ``beta``;
  ``bimodal`` (mixture of two normals, weights 0.5/0.5 -> 0.6/0.4); ``normal_missing``
  (2% NaN);
* ``cat5`` (5 levels), ``cat20`` (20 levels; current has a level ``cat20_new`` not in the
  reference, 1% of rows), ``cat50`` (50 levels, Zipf-like shares, slightly reshuffled in current).

Each tool runs in a fresh subprocess that reads the Parquet files (not timed) and then times:

* **assay**: ``assay.drift.drift_table(reference, current)`` on the pandas DataFrames (all five
  statistics for numeric columns, PSI / chi-square / JS for categorical ones, the default
  decision per column); median of ``--repeat`` runs. Also **assay (Arrow)**: the same on
  pyarrow Tables.
* **Evidently** 0.7.x: ``Report([DataDriftPreset()]).run(current, reference)`` with a
  ``DataDefinition`` naming the same numerical and categorical columns, i.e. its default
  data-drift report (one default test per column). Evidently 0.7.23 imports
  ``pandas.core.dtypes.common.infer_dtype_from_object``, which pandas 3 removed; the worker
  defines it (identity) before the import: it is only used by a legacy data-integrity test
  that this report does not run. Skipped above ``--skip-evidently-above`` rows (default 1e6;
  it needs minutes and about 20 GB at 1e7).
* **SciPy loop**: per numeric column ``ks_2samp`` and ``wasserstein_distance`` (and ``np.std``
  to norm it), per categorical column ``chi2_contingency(correction=False)`` and
  ``jensenshannon`` on the level counts (``value_counts``). Missing values dropped.

Wall time, process CPU time (user + sys of all threads) and peak memory (VmHWM after a reset,
minus RSS after reading the data; Linux only) are reported. The script prints one table per
size, the largest difference between assay and SciPy per statistic next to assay's stated
error bound, and the targets; everything goes to ``OUT/bench_drift.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from _meter import Meter  # shared with bench_segments.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# benchmarks/coverage (a folder) would shadow the coverage package some imports use
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path.pop(0)
SEED = 20240620
VERSION = "v1"
NUMERIC = ["shifted", "lognormal", "student_t2", "uniform", "exponential", "poisson", "gamma", "beta",
           "bimodal", "normal_missing"]
CATEGORICAL = {"cat5": 5, "cat20": 20, "cat50": 50}
TOOLS = ("assay", "assay_arrow", "evidently", "scipy")
LABELS = {"assay": "assay drift_table (pandas)", "assay_arrow": "assay drift_table (Arrow)",
          "evidently": "Evidently DataDriftPreset", "scipy": "SciPy loop"}


# ==== data =================================================================================


def make_frame(n: int, current: bool):
    """One seeded dataset (reference or current) of n rows."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED + (1 if current else 0))
    d: dict[str, object] = {}
    d["shifted"] = rng.normal(0.25 if current else 0.0, 1.0, n)
    d["lognormal"] = rng.lognormal(0.0, 1.0, n)
    d["student_t2"] = rng.standard_t(2, n) * (1.1 if current else 1.0)
    d["uniform"] = rng.uniform(0.0, 1.0, n)
    d["exponential"] = rng.exponential(1.0, n)
    d["poisson"] = rng.poisson(4.0, n).astype(np.int64)
    d["gamma"] = rng.gamma(2.0, 2.0, n)
    d["beta"] = rng.beta(2.0, 5.0, n)
    first = rng.random(n) < (0.6 if current else 0.5)
    d["bimodal"] = np.where(first, rng.normal(-2.0, 1.0, n), rng.normal(2.0, 1.0, n))
    x = rng.normal(0.0, 1.0, n)
    x[rng.random(n) < 0.02] = np.nan
    d["normal_missing"] = x
    for name, k in CATEGORICAL.items():
        levels = [f"{name}_{i:02d}" for i in range(k)]
        share = 1.0 / np.arange(1, k + 1) if k == 50 else np.linspace(1.0, 3.0, k)
        if current and k == 50:
            share = share[rng.permutation(k)] * 0.2 + share * 0.8
        share = share / share.sum()
        if current and k == 20:
            levels.append(f"{name}_new")
            share = np.append(share * 0.99, 0.01)
        codes = rng.choice(len(levels), n, p=share)
        d[name] = pd.Categorical.from_codes(codes, categories=levels)
    return pd.DataFrame(d)


def data_paths(n: int, out: Path) -> tuple[Path, Path]:
    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    return tuple(folder / f"drift_{role}_{n}_seed{SEED}_{VERSION}.parquet" for role in ("ref", "cur"))  # type: ignore[return-value]


def ensure_data(n: int, out: Path) -> tuple[Path, Path]:
    paths = data_paths(n, out)
    for path, current in zip(paths, (False, True), strict=True):
        if not path.exists():
            t = time.perf_counter()
            frame = make_frame(n, current)
            tmp = path.with_suffix(".tmp")
            frame.to_parquet(tmp, index=False)
            tmp.rename(path)
            print(f"  wrote {path.name} ({time.perf_counter() - t:.1f} s)", flush=True)
    return paths


# ==== workers (fresh subprocesses) ============================================================


def _read(n: int, out: Path, arrow: bool = False):
    import pandas as pd
    import pyarrow.parquet as pq

    ref_path, cur_path = data_paths(n, out)
    if arrow:
        return pq.read_table(ref_path), pq.read_table(cur_path)
    return pd.read_parquet(ref_path), pd.read_parquet(cur_path)


def worker_assay(n: int, out: Path, repeat: int, arrow: bool) -> dict:
    from assay.drift import drift_table

    ref, cur = _read(n, out, arrow)
    runs = []
    table = None
    for _ in range(repeat):
        meter = Meter()
        table = drift_table(ref, cur)
        runs.append(meter.stop())
    assert table is not None
    rows = table.replace({float("nan"): None}).to_dict(orient="records")
    best = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return {**best, "runs": [r["wall"] for r in runs], "rows": rows}


def worker_evidently(n: int, out: Path) -> dict:
    import warnings

    import pandas.core.dtypes.common as common

    if not hasattr(common, "infer_dtype_from_object"):  # removed in pandas 3; see the module doc
        common.infer_dtype_from_object = lambda t: t  # type: ignore[attr-defined]
    warnings.filterwarnings("ignore")
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = _read(n, out)
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=list(CATEGORICAL))
    meter = Meter()
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    cur_ds = Dataset.from_pandas(cur, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
    result = meter.stop()
    values = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            values[config["column"]] = {"method": config.get("method"), "threshold": config.get("threshold"),
                                        "value": float(metric["value"])}
    return {**result, "version": evidently.__version__, "columns": values}


def worker_scipy(n: int, out: Path) -> dict:
    import numpy as np
    import pandas as pd
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref, cur = _read(n, out)
    meter = Meter()
    values: dict[str, dict] = {}
    for c in NUMERIC:
        x, y = ref[c].dropna().to_numpy(), cur[c].dropna().to_numpy()
        ks = stats.ks_2samp(x, y)
        w = stats.wasserstein_distance(x, y)
        values[c] = {"ks": float(ks.statistic), "ks_p": float(ks.pvalue), "wasserstein": w / float(np.std(x)),
                     "wasserstein_raw": w}
    for c in CATEGORICAL:
        r = ref[c].value_counts(dropna=True)
        k = cur[c].value_counts(dropna=True)
        levels = sorted(set(r.index[r > 0]) | set(k.index[k > 0]))
        table = np.array([[r.get(lv, 0) for lv in levels], [k.get(lv, 0) for lv in levels]])
        chi = stats.chi2_contingency(table, correction=False)
        values[c] = {"chi_square": float(chi.statistic), "chi_square_p": float(chi.pvalue),
                     "js_distance": float(jensenshannon(table[0], table[1]))}
    result = meter.stop()
    return {**result, "columns": values, "pandas": pd.__version__}


def run_worker(tool: str, n: int, out: Path, repeat: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--n", str(n), "--out", str(out),
           "--repeat", str(repeat)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ==== comparison and report =====================================================================


def _p_range(row: dict) -> tuple[float, float]:
    """KS p-values at the ends of D's bracket (value +- error_bound): where the exact p lies."""
    from scipy.stats import kstwo

    n, m = float(row["n_ref"]), float(row["n_cur"])
    en = round(n * m / (n + m))
    d, b = row["value"], row["error_bound"] or 0.0
    return float(kstwo.sf(min(d + b, 1.0), en)), float(kstwo.sf(max(d - b, 0.0), en))


def compare(assay: dict, scipy: dict) -> list[dict]:
    """Largest |assay - SciPy| per statistic, with assay's largest stated error bound."""
    rows = {(r["column"], r["statistic"]): r for r in assay["rows"]}
    checks = [("ks", "ks", NUMERIC), ("ks p-value", "ks_p", NUMERIC),
              ("wasserstein (normed)", "wasserstein", NUMERIC),
              ("chi_square", "chi_square", list(CATEGORICAL)),
              ("chi_square p-value", "chi_square_p", list(CATEGORICAL)),
              ("js_distance", "js_distance", list(CATEGORICAL))]
    out = []
    for label, key, columns in checks:
        stat = key.removesuffix("_p")
        diffs, bounds, inside = [], [], True
        for c in columns:
            row = rows[(c, stat)]
            ref = scipy["columns"][c][key]
            if key == "ks_p":  # the exact p must lie between the p-values at the ends of D's bracket
                low, high = _p_range(row)
                diff, bound = abs(row["p_value"] - ref), (high - low) / 2
                inside &= low * (1 - 1e-9) <= ref <= high * (1 + 1e-9) + 1e-300
            else:
                mine = row["p_value"] if key.endswith("_p") else row["value"]
                diff, bound = abs(mine - ref), row["error_bound"] or 0.0
                inside &= diff <= bound + 1e-9 * max(1.0, abs(ref))
            diffs.append(diff)
            bounds.append(bound)
        out.append({"statistic": label, "max_abs_diff": max(diffs), "max_error_bound": max(bounds),
                    "within_bound": bool(inside)})
    return out


def compare_evidently(assay: dict, evidently: dict) -> dict:
    """Evidently's per-column default value vs assay's default-row value (same method)."""
    names = {"Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "js_distance"}
    rows = {(r["column"], r["statistic"]): r for r in assay["rows"]}
    diffs: dict[str, float] = {}
    for column, v in evidently["columns"].items():
        stat = names.get(v["method"])
        if stat is None:
            continue
        diffs[stat] = max(diffs.get(stat, 0.0), abs(rows[(column, stat)]["value"] - v["value"]))
    return diffs


def fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="comma-separated row counts (each side)")
    parser.add_argument("--quick", action="store_true", help="1e5 rows only")
    parser.add_argument("--repeat", type=int, default=3, help="assay runs per size (median reported)")
    parser.add_argument("--skip-evidently-above", type=float, default=1e6)
    parser.add_argument("--skip-scipy-above", type=float, default=1e7)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.out.resolve()
    if args.worker:
        if args.worker in ("assay", "assay_arrow"):
            res = worker_assay(args.n, out, args.repeat, arrow=args.worker == "assay_arrow")
        elif args.worker == "evidently":
            res = worker_evidently(args.n, out)
        else:
            res = worker_scipy(args.n, out)
        print(json.dumps(res, default=float))
        return

    sizes = [100_000] if args.quick else [int(float(s)) for s in args.sizes.split(",")]
    import numpy
    import pandas
    import pyarrow
    import scipy

    try:
        from importlib.metadata import version

        ev_version = version("evidently")
    except Exception:  # noqa: BLE001
        ev_version = "not installed"
    meta = {"machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "versions": {"numpy": numpy.__version__, "pandas": pandas.__version__, "scipy": scipy.__version__,
                         "pyarrow": pyarrow.__version__, "evidently": ev_version},
            "load_before": os.getloadavg()}
    print(f"machine: {meta['machine']}; CPU affinity {meta['affinity']}; versions {meta['versions']}")
    report: dict = {"meta": meta, "sizes": {}}
    for n in sizes:
        print(f"\n== {n:,} rows (reference and current each) ==", flush=True)
        ensure_data(n, out)
        results: dict[str, dict] = {}
        for tool in TOOLS:
            if tool == "evidently" and n > args.skip_evidently_above:
                results[tool] = {"skipped": f"n > --skip-evidently-above {args.skip_evidently_above:g}"}
                continue
            if tool == "scipy" and n > args.skip_scipy_above:
                results[tool] = {"skipped": f"n > --skip-scipy-above {args.skip_scipy_above:g}"}
                continue
            print(f"  {LABELS[tool]} ...", flush=True)
            results[tool] = run_worker(tool, n, out, args.repeat if tool.startswith("assay") else 1)
        ev = results["evidently"].get("wall")
        print("\n| rows | tool | wall (s) | CPU (s) | vs Evidently | peak MB | note |")
        print("|---:|---|---:|---:|---:|---:|---|")
        for tool in TOOLS:
            r = results[tool]
            if "wall" not in r:
                print(f"| {n:.0e} | {LABELS[tool]} | – | – | – | – | {r.get('skipped') or r.get('error')} |")
                continue
            speed = f"{ev / r['wall']:.0f}x faster" if ev and tool != "evidently" else ("1x" if ev else "–")
            note = ""
            if "runs" in r:
                note = "runs " + ", ".join(f"{w:.2f}" for w in r["runs"]) + " s"
            print(f"| {n:.0e} | {LABELS[tool]} | {r['wall']:.2f} | {r['cpu']:.2f} | {speed} | "
                  f"{fmt(r['peak_mb'], 0)} | {note} |")
        entry = {"results": {k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in results.items()}}
        if "rows" in results["assay"] and "columns" in results["scipy"]:
            entry["vs_scipy"] = compare(results["assay"], results["scipy"])
            print("\n| statistic | max abs(assay - SciPy) | max stated error bound | within bound |")
            print("|---|---:|---:|---|")
            for c in entry["vs_scipy"]:
                within = "yes" if c["within_bound"] else "NO"
                print(f"| {c['statistic']} | {c['max_abs_diff']:.3g} | {c['max_error_bound']:.3g} "
                      f"| {within} |")
            print("(ks p-value: the bound is half the range of p over D's bracket; "
                  "'within' = SciPy's p lies in that range)")
        if "rows" in results["assay"] and "columns" in results["evidently"]:
            entry["vs_evidently"] = compare_evidently(results["assay"], results["evidently"])
            print("max |assay - Evidently| on Evidently's default statistic: "
                  + ", ".join(f"{k} {v:.3g}" for k, v in entry["vs_evidently"].items()))
        if "rows" in results["assay"]:
            decided = [r for r in results["assay"]["rows"] if r["default"]]
            entry["assay_drifted"] = sorted(r["column"] for r in decided if r["drifted"])
            print("assay: drifted (default statistic):", ", ".join(entry["assay_drifted"]) or "none")
        report["sizes"][str(n)] = entry
        targets = []
        if n == 1_000_000 and ev and "wall" in results["assay"]:
            targets.append(f"1e6: {ev / results['assay']['wall']:.0f}x faster than Evidently (target >= 30x)")
        if n == 10_000_000 and "wall" in results["assay"]:
            targets.append(f"1e7: {results['assay']['wall']:.2f} s (target <= 5 s on 2 cores)")
        for t in targets:
            print("target:", t)
    report["meta"]["load_after"] = os.getloadavg()
    path = out / "bench_drift.json"
    path.write_text(json.dumps(report, indent=2, default=float))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
