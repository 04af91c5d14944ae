"""Monitor benchmark: ``run_monitor`` over a prediction log, cold and incremental.

Usage::

    python benchmarks/bench_monitor.py [--sizes 1e6,1e7] [--days 30] [--out benchmarks/out]

For each size n it writes a seeded log of n rows over ``--days`` days (Parquet, one file):
10 numeric columns, 3 categorical ones (5, 20 and 50 levels), a score and a 0/1 label. The
monitor cuts daily windows, takes the first 7 as the reference, and computes drift of all
14 watched columns (5 statistics each on numbers, 3 on categories) and ROC AUC, accuracy and
log loss with intervals per window. Each run is a fresh process (wall seconds and peak RSS):

* **cold**: no run store, every window computed;
* **stored, first**: the same with a SQLite run store (windows written to it);
* **stored, again**: a second run over the unchanged log, every analysis window read back;
* **stored, +1 day**: a day of new rows appended as a second file: only that window is new.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SPEC = {"name": "bench", "timestamp": "ts", "prediction": "p", "label": "y",
        "window": {"every": "day"}, "reference": {"windows": 7},
        "alerts": [{"rule": "drift", "columns": "all", "band": 3}]}


def write_log(path: Path, n: int, days: int, seed: int, start_day: int = 0) -> None:
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(start_day * 86400, (start_day + days) * 86400, n))
    cols: dict[str, object] = {"ts": pa.array(np.datetime64("2026-01-01T00:00:00")
                                              + seconds.astype("timedelta64[s]"))}
    for i in range(10):
        cols[f"x{i}"] = rng.normal(size=n) * (i + 1)
    for i, k in enumerate((5, 20, 50)):
        cols[f"c{i}"] = pa.array(rng.integers(0, k, n).astype(str)).dictionary_encode()
    p = rng.uniform(size=n)
    cols["p"] = p
    cols["y"] = (rng.uniform(size=n) < p).astype(np.int8)
    pq.write_table(pa.table(cols), path)


def worker(log: str, store: str | None) -> None:
    from assay.monitor import parse_monitor_spec, run_monitor
    from assay.store import open_store

    spec = parse_monitor_spec(SPEC | {"log": {"path": log}})
    run_store = open_store(store) if store else None
    started = time.perf_counter()
    result = run_monitor(spec, ".", store=run_store)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "windows": len(result.windows),
                      "computed": int(result.extra["windows_computed"]),
                      "stored": int(result.extra["windows_stored"])}))


def run(log: str, store: str | None) -> dict:
    got = subprocess.run([sys.executable, __file__, "--worker", log, store or ""], check=True,
                         capture_output=True, text=True)
    return json.loads(got.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1] or None)
        return
    folder = args.out / "monitor"
    folder.mkdir(parents=True, exist_ok=True)
    print("| rows | run | windows (computed / read back) | wall (s) | peak MB |")
    print("|---:|---|---|---:|---:|")
    for size in args.sizes.split(","):
        n = int(float(size))
        logs = folder / f"log-{n}"
        logs.mkdir(exist_ok=True)
        for f in logs.glob("*.parquet"):
            f.unlink()
        write_log(logs / "part-0.parquet", n, args.days, seed=0)
        store = folder / f"runs-{n}.db"
        store.unlink(missing_ok=True)
        glob = str(logs / "*.parquet")
        steps = [("cold", None), ("stored, first", str(store)), ("stored, again", str(store))]
        for name, where in steps:
            r = run(glob, where)
            print(f"| {n:.0e} | {name} | {r['windows']} ({r['computed']} / {r['stored']}) | "
                  f"{r['seconds']:.2f} | {r['peak_mb']:,.0f} |", flush=True)
        write_log(logs / "part-1.parquet", n // args.days, 1, seed=1, start_day=args.days)
        r = run(glob, str(store))
        print(f"| {n:.0e} | stored, +1 day | {r['windows']} ({r['computed']} / {r['stored']}) | "
              f"{r['seconds']:.2f} | {r['peak_mb']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
