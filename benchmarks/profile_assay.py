"""Where assay's time and memory go, on the bench_core data (run bench_core.py first).

    python benchmarks/profile_assay.py [--rows 1e7] [--engine numpy] [--bootstrap 1000]
                                       [--out benchmarks/out] [--top 15]

To profile exactly the code bench_core.py measured, put its frozen copy first on the path:
``PYTHONPATH=benchmarks/out/assay_snapshot python benchmarks/profile_assay.py``.

Each mode runs ``assay.evaluate`` once in its own fresh process (the default, ``all``, runs
them in turn):

* ``cprofile``: top functions by cumulative and by own time;
* ``lines``: per-line wall time (callees included) inside the hot functions;
* ``sql``: wall time of every DuckDB statement assay issues;
* ``memory``: a 5 ms RSS sampler thread records the main thread's Python stack whenever RSS
  reaches a new high, so the stack at the peak says which line holds the memory;
* ``heap``: tracemalloc snapshots of the live NumPy/Python heap by allocating line at three
  points of the numpy engine (which arrays are alive, and how big).

Profiling adds overhead; use bench_core.py for the timings.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import COHORTS, assay_source_digest, column_bytes, data_path  # noqa: E402


def _rss(key: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def spec_for(path: Path, engine: str, bootstrap: int) -> dict:
    return {"data": {"path": str(path)}, "task": "binary", "label": "label",
            "models": [{"name": "m", "score": "score"}],
            "slices": [{"column": c} for c in COHORTS], "metrics": "all",
            "confidence": 0.95, "bootstrap": bootstrap, "min_slice_size": 1, "engine": engine}


def run_cprofile(spec: dict, top: int) -> str:
    import assay

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    res = assay.evaluate(spec)
    prof.disable()
    wall = time.perf_counter() - t0
    out = io.StringIO()
    out.write(f"wall under cProfile: {wall:.3f} s; stages: "
              + ", ".join(f"{k} {v:.3f}" for k, v in res.timings.items()) + "\n")
    for key in ("cumulative", "tottime"):
        out.write(f"\n--- top {top} by {key} ---\n")
        st = pstats.Stats(prof, stream=out)
        st.strip_dirs().sort_stats(key).print_stats(top)
    return out.getvalue()


def run_memory(spec: dict) -> dict:
    import assay

    main_id = threading.get_ident()
    base = _rss()
    state = {"peak": base, "stack": [], "timeline": [], "stop": False}

    def sampler() -> None:
        t0 = time.perf_counter()
        while not state["stop"]:
            r = _rss()
            state["timeline"].append((round(time.perf_counter() - t0, 3), r))
            if r > state["peak"]:
                frame = sys._current_frames().get(main_id)
                state["peak"] = r
                state["stack"] = [f"{fs.filename.split('site-packages/')[-1].split('src/')[-1]}:"
                                  f"{fs.lineno} {fs.name}: {(fs.line or '').strip()}"
                                  for fs in traceback.extract_stack(frame)][-8:]
            time.sleep(0.005)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    res = assay.evaluate(spec)
    state["stop"] = True
    th.join()
    # coarse timeline: RSS above the post-import baseline, every ~0.1 s
    tl = state["timeline"]
    step = max(1, len(tl) // 40)
    return {"rss_after_import_mb": base / 1e6, "peak_above_import_mb": (state["peak"] - base) / 1e6,
            "vmhwm_above_import_mb": (_rss("VmHWM") - base) / 1e6,
            "stack_at_peak": state["stack"], "timings": res.timings,
            "timeline_mb": [(t, round((r - base) / 1e6)) for t, r in tl[::step]]}


def run_lines(spec: dict, targets: tuple[str, ...]) -> str:
    """Per-line wall time (callees included) inside the hot functions, via sys.settrace.

    Only the named functions are traced, so the overhead is one callback per executed line
    of them, negligible next to whole-column NumPy operations."""
    import linecache

    import assay

    acc: dict[tuple[str, int], list] = {}
    last: dict[int, tuple[tuple[str, int], float]] = {}

    def local(frame, event, arg):
        now = time.perf_counter()
        fid = id(frame)
        prev = last.get(fid)
        if prev is not None:
            key, t = prev
            a = acc.setdefault(key, [0.0, 0])
            a[0] += now - t
            a[1] += 1
        if event == "return":
            last.pop(fid, None)
        else:
            last[fid] = ((frame.f_code.co_filename, frame.f_lineno), time.perf_counter())
        return local

    def glob(frame, event, arg):
        if event == "call" and frame.f_code.co_name in targets \
                and "/assay/" in frame.f_code.co_filename:
            return local
        return None

    sys.settrace(glob)
    t0 = time.perf_counter()
    res = assay.evaluate(spec)
    wall = time.perf_counter() - t0
    sys.settrace(None)
    rows = sorted(acc.items(), key=lambda kv: -kv[1][0])
    out = [f"wall with line tracing: {wall:.3f} s; stages: "
           + ", ".join(f"{k} {v:.3f}" for k, v in res.timings.items()),
           f"{'seconds':>8s} {'hits':>5s}  line"]
    for (fn, ln), (t, hits) in rows:
        if t < 0.01:
            continue
        src = linecache.getline(fn, ln).strip()
        out.append(f"{t:8.3f} {hits:5d}  {fn.split('src/')[-1]}:{ln}  {src[:90]}")
    return "\n".join(out)


def run_sql(spec: dict) -> str:
    """Wall time of every DuckDB statement assay issues (execute + fetch), via a proxy
    connection patched into assay.data._sources (no source edit)."""
    import re
    import types

    import duckdb

    import assay
    import assay.data._sources as sources

    log: list[tuple[float, str]] = []

    class Result:
        def __init__(self, inner, sql, t0):
            self._inner, self._sql, self._t0 = inner, sql, t0

        def __getattr__(self, name):
            attr = getattr(self._inner, name)
            if not callable(attr) or not name.startswith(("fetch", "to_", "arrow", "df")):
                return attr

            def call(*a, **kw):
                out = attr(*a, **kw)
                log.append((time.perf_counter() - self._t0, self._sql))
                return out
            return call

    class Con:
        def __init__(self, inner):
            self._inner = inner

        def execute(self, sql, *a, **kw):
            t0 = time.perf_counter()
            return Result(self._inner.execute(sql, *a, **kw), sql, t0)

        def sql(self, sql, *a, **kw):
            t0 = time.perf_counter()
            return Result(self._inner.sql(sql, *a, **kw), sql, t0)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    shim = types.SimpleNamespace(**{k: getattr(duckdb, k) for k in dir(duckdb)
                                    if not k.startswith("__")})
    shim.connect = lambda *a, **kw: Con(duckdb.connect(*a, **kw))
    sources.duckdb = shim
    t0 = time.perf_counter()
    res = assay.evaluate(spec)
    wall = time.perf_counter() - t0
    total = sum(t for t, _ in log)
    out = [f"wall {wall:.3f} s; {len(log)} DuckDB statements took {total:.3f} s; stages: "
           + ", ".join(f"{k} {v:.3f}" for k, v in res.timings.items()),
           f"{'seconds':>8s}  statement (literals shortened)"]
    for t, q in sorted(log, key=lambda x: -x[0])[:20]:
        q = re.sub(r"\[('[^']*',? ?)+\]", "[...]", " ".join(q.split()))
        out.append(f"{t:8.3f}  {q[:230]}")
    return "\n".join(out)


def run_heap(spec: dict, top: int = 12) -> str:
    """Live NumPy/Python heap by allocating line (tracemalloc) at three points of the numpy
    engine: after the rows are fetched, at the end of aggregate_numpy (its requests still
    alive) and when the row passes start (after extras). Wrappers are installed on
    assay._evaluate's module globals; no source edit."""
    import tracemalloc

    import assay
    import assay._evaluate as ev

    shots: list[tuple[str, tracemalloc.Snapshot, int]] = []

    def shot(label: str) -> None:
        shots.append((label, tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0]))

    def wrap(name: str, label: str, before: bool = False):
        orig = getattr(ev, name)

        def inner(*a, **kw):
            if before:
                shot(label)
            out = orig(*a, **kw)
            if not before:
                shot(label)
            return out
        setattr(ev, name, inner)

    wrap("_fetch_rows", "after _fetch_rows")
    wrap("aggregate_numpy", "end of aggregate_numpy (state requests alive)")
    wrap("cell_replicates", "start of row passes (after extras)", before=True)
    tracemalloc.start(1)
    assay.evaluate(spec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = [f"tracemalloc peak {peak / 1e6:.0f} MB (Python + NumPy heap; DuckDB/Arrow not traced)"]
    for label, snap, cur in shots:
        out.append(f"\n--- {label}: {cur / 1e6:.0f} MB live; top lines ---")
        for stat in snap.statistics("lineno")[:top]:
            if stat.size < 5e6:
                break
            fr = stat.traceback[0]
            out.append(f"{stat.size / 1e6:8.0f} MB {stat.count:5d} blocks  "
                       f"{fr.filename.split('/assay/')[-1]}:{fr.lineno}  "
                       f"{linecache_line(fr.filename, fr.lineno)[:80]}")
    return "\n".join(out)


def linecache_line(fn: str, ln: int) -> str:
    import linecache

    return linecache.getline(fn, ln).strip()


HOT = ("evaluate_spec", "_fetch_rows", "_model_arrays", "numpy_states", "aggregate_numpy",
       "load_rows", "build_partition", "_column_dimension", "check_dataset", "classes")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--engine", default="numpy", choices=["numpy", "duckdb"])
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--mode", default="all",
                    choices=["all", "cprofile", "lines", "sql", "memory", "heap"])
    args = ap.parse_args()
    path = data_path(args.out, int(args.rows))
    if not path.is_file():
        print(f"{path} not found: run benchmarks/bench_core.py --rows {args.rows:g} first")
        return 1
    spec = spec_for(path, args.engine, args.bootstrap)
    if args.mode != "all":
        d = assay_source_digest()
        print(f"[{args.mode}] assay from {d['root']} (sha256 {d['sha256']}), "
              f"{int(args.rows):,} rows, engine {args.engine}, bootstrap {args.bootstrap}")
    if args.mode == "all":  # a fresh process each, so none sees another's caches
        for mode in ("cprofile", "lines", "sql", "memory", "heap"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--mode", mode], check=True)
        return 0
    if args.mode == "cprofile":
        print(run_cprofile(spec, args.top))
    elif args.mode == "lines":
        print(run_lines(spec, HOT))
    elif args.mode == "sql":
        print(run_sql(spec))
    elif args.mode == "heap":
        print(run_heap(spec))
    else:
        m = run_memory(spec)
        cb = column_bytes(path)["total"]  # after the run, so it does not move the baseline
        m["column_bytes_mb"] = cb / 1e6
        m["peak_over_column_bytes"] = m["vmhwm_above_import_mb"] * 1e6 / cb
        print(json.dumps(m, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
