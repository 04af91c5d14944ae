"""Drift statistics (``assay.drift``) against SciPy and hand computations.

Every statistic is compared with an independent reference on the same values: KS with
``scipy.stats.ks_2samp``, Wasserstein with ``scipy.stats.wasserstein_distance`` (normed by
``np.std`` of the reference), chi-square with ``scipy.stats.chi2_contingency(correction=False)``,
Jensen-Shannon with ``scipy.spatial.distance.jensenshannon`` and PSI by hand. Binned KS and
Wasserstein must contain SciPy's exact value within their reported ``error_bound``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from assay import InputError
from assay.drift import (
    DEFAULT_THRESHOLDS,
    DRIFT_COLUMNS,
    DriftConfig,
    drift_rows,
    drift_table,
    learn_bins,
    merge_sketches,
    sketch,
    sketch_windows,
)

SEED = 20240620
N_BIG = 200_000  # above the default exact_max (100,000): KS and Wasserstein come from the fine bins


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def _row(table: pd.DataFrame, column: str, statistic: str) -> pd.Series:
    sel = table[(table["column"] == column) & (table["statistic"] == statistic)]
    assert len(sel) == 1, f"expected one {statistic} row for {column}, got {len(sel)}"
    return sel.iloc[0]


def _table(ref: np.ndarray | list, cur: np.ndarray | list, config: DriftConfig | None = None,
           name: str = "x") -> pd.DataFrame:
    return drift_table(pd.DataFrame({name: ref}), pd.DataFrame({name: cur}), config=config)


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def _psi_by_hand(ref_counts: list[int], cur_counts: list[int], eps: float = 1e-4) -> float:
    n_ref, n_cur = sum(ref_counts), sum(cur_counts)
    total = 0.0
    for r, c in zip(ref_counts, cur_counts, strict=True):
        p = max(r / n_ref, eps)
        q = max(c / n_cur, eps)
        total += (q - p) * math.log(q / p)
    return total


# --- binned KS and Wasserstein against SciPy's exact values -------------------------------------

SHAPES = {
    "normal, shifted 0.05": lambda r, n: (r.normal(0, 1, n), r.normal(0.05, 1, n)),
    "lognormal (skewed)": lambda r, n: (r.lognormal(0, 1, n), r.lognormal(0.03, 1.05, n)),
    "Cauchy (heavy tails)": lambda r, n: (r.standard_cauchy(n), r.standard_cauchy(n) * 1.1),
    "Pareto (heavy right tail)": lambda r, n: (r.pareto(1.5, n), r.pareto(1.4, n)),
    "zero-inflated": lambda r, n: (np.where(r.random(n) < 0.6, 0.0, r.exponential(3, n)),
                                   np.where(r.random(n) < 0.5, 0.0, r.exponential(3, n))),
    "far shift": lambda r, n: (r.normal(0, 1, n), r.normal(8, 1, n)),
}
SMOOTH = {"normal, shifted 0.05", "lognormal (skewed)", "Cauchy (heavy tails)", "Pareto (heavy right tail)"}


@pytest.mark.parametrize("n_cur", [N_BIG, 700])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_binned_ks_and_wasserstein_bracket_scipy(shape: str, n_cur: int) -> None:
    ref, cur = SHAPES[shape](_rng(len(shape)), N_BIG)
    cur = cur[:n_cur]
    table = _table(ref, cur)
    ks, w = _row(table, "x", "ks"), _row(table, "x", "wasserstein")
    exact = stats.ks_2samp(ref, cur, method="asymp")
    assert abs(ks["value"] - exact.statistic) <= ks["error_bound"] + 1e-12
    en = round(N_BIG * n_cur / (N_BIG + n_cur))
    assert ks["p_value"] == pytest.approx(stats.kstwo.sf(ks["value"], en), rel=1e-8, abs=1e-300)
    # the p-value of the exact D lies within the p-values at the ends of D's bracket
    p_low, p_high = (stats.kstwo.sf(ks["value"] + s * ks["error_bound"], en) for s in (1, -1))
    assert p_low * (1 - 1e-9) <= exact.pvalue <= p_high * (1 + 1e-9) + 1e-300
    if ks["error_bound"] > 0 and p_high > p_low:
        assert "p_value between" in ks["note"]
    w_exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert abs(w["value"] - w_exact) <= w["error_bound"] * (1 + 1e-9) + 1e-12
    assert "fine bins" in ks["method"] and "fine bins" in w["method"]
    if shape in SMOOTH:
        # the bracket is tight on smooth data; a 700-row window adds its own per-value steps
        assert ks["error_bound"] < (0.005 if n_cur == N_BIG else 0.01)
        assert w["error_bound"] < 0.01


@pytest.mark.parametrize("kind", ["poisson", "rounded normal", "int64 ties"])
def test_binned_statistics_are_exact_on_discrete_columns(kind: str) -> None:
    rng = _rng(7)
    if kind == "poisson":
        ref, cur = rng.poisson(4.0, N_BIG), rng.poisson(4.1, N_BIG)
    elif kind == "rounded normal":  # decimal values that are not on any binary grid
        ref, cur = np.round(rng.normal(0, 1, N_BIG), 1), np.round(rng.normal(0.02, 1, N_BIG), 1)
    else:
        ref, cur = rng.integers(-50, 50, N_BIG), rng.integers(-48, 52, N_BIG)
    table = _table(ref, cur)
    ks, w = _row(table, "x", "ks"), _row(table, "x", "wasserstein")
    exact = stats.ks_2samp(ref, cur, method="asymp")
    assert ks["error_bound"] == 0 and w["error_bound"] == 0
    assert ks["value"] == pytest.approx(exact.statistic, abs=1e-12)
    # with D exact, the binned p-value is ks_2samp's asymptotic p-value
    assert ks["p_value"] == pytest.approx(exact.pvalue, rel=1e-8, abs=1e-300)
    assert w["value"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)


def test_ks_asymptotic_p_matches_scipy_across_sizes() -> None:
    # unequal sizes exercise round(n m / (n + m)); small integer support keeps D exact when binned
    rng = _rng(3)
    for n_ref, n_cur in [(150_000, 120_001), (110_000, 3_333)]:
        ref, cur = rng.integers(0, 6, n_ref), rng.integers(0, 6, n_cur) + (rng.random(n_cur) < 0.05)
        ks = _row(_table(ref, cur), "x", "ks")
        exact = stats.ks_2samp(ref, cur, method="asymp")
        assert ks["value"] == pytest.approx(exact.statistic, abs=1e-12)
        assert ks["p_value"] == pytest.approx(exact.pvalue, rel=1e-8, abs=1e-300)


def test_fast_asymptotic_p_matches_scipy_kstwo() -> None:
    # where SciPy's kstwo.sf loops over N terms (2.2 <= N D^2 < 370, N <= 1e6) assay sums them
    # with NumPy; everywhere else it calls kstwo.sf itself
    from assay.drift._ks import ks_asymptotic_p, smirnov_sf

    for n in (1500, 3001, 50_000, 200_000):
        for nx2 in (0.3, 2.19, 2.2, 10.0, 100.0, 369.0, 400.0):
            d = math.sqrt(nx2 / n)
            expected = stats.kstwo.sf(d, n)
            assert ks_asymptotic_p(d, 2 * n, 2 * n) == pytest.approx(expected, rel=1e-8, abs=1e-300)
    for n, e in ((50, 0.1), (999, 0.05), (5000, 0.03)):
        assert smirnov_sf(n, e) == pytest.approx(special.smirnov(n, e), rel=1e-10)
    assert (smirnov_sf(10, 0.0), smirnov_sf(10, 1.0)) == (1.0, 0.0)


# --- exact path (both samples at most exact_max) -------------------------------------------------


@pytest.mark.parametrize("sizes", [(3000, 2500), (60_000, 30_001)])
@pytest.mark.parametrize("dtype", ["float", "int"])
def test_exact_ks_and_wasserstein_match_scipy(dtype: str, sizes: tuple[int, int]) -> None:
    # up to 10,000 values ks_2samp gives the exact p; above, D from our merge, asymptotic p
    rng = _rng(11)
    ref, cur = rng.normal(0, 2, sizes[0]), rng.normal(0.05, 2, sizes[1])
    if dtype == "int":
        ref, cur = np.round(ref).astype(np.int64), np.round(cur).astype(np.int64)
    table = _table(ref, cur)
    ks, w = _row(table, "x", "ks"), _row(table, "x", "wasserstein")
    exact = stats.ks_2samp(ref, cur)
    assert ks["value"] == pytest.approx(exact.statistic, abs=1e-15)
    assert ks["p_value"] == pytest.approx(exact.pvalue, rel=1e-9)
    assert w["value"] == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)
    assert ks["error_bound"] == 0 and w["error_bound"] == 0
    assert "exact" in ks["method"] and "exact" in w["method"]
    assert f"raw W1 {stats.wasserstein_distance(ref, cur):.6g}" in w["note"]


def test_exact_and_binned_agree_when_forced() -> None:
    rng = _rng(12)
    ref, cur = rng.gamma(2.0, 1.0, 20_000), rng.gamma(2.1, 1.0, 20_000)
    exact = _table(ref, cur)
    binned = _table(ref, cur, DriftConfig(exact_max=0))
    for stat in ("ks", "wasserstein"):
        e, b = _row(exact, "x", stat), _row(binned, "x", stat)
        assert abs(e["value"] - b["value"]) <= b["error_bound"] + 1e-12
        assert b["error_bound"] > 0
    for stat in ("psi", "js_distance", "chi_square"):  # binned by definition: identical
        assert _row(exact, "x", stat)["value"] == _row(binned, "x", stat)["value"]


# --- categorical: chi-square, JS, PSI -----------------------------------------------------------


def test_categorical_statistics_match_scipy_and_hand_psi() -> None:
    rng = _rng(21)
    ref = rng.choice(["a", "b", "c", "d", "e"], 5000, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(object)
    cur = rng.choice(["a", "b", "c", "d", "z"], 4000, p=[0.35, 0.3, 0.2, 0.1, 0.05]).astype(object)
    ref[::97] = None  # missing values: excluded and counted
    cur[::50] = np.nan
    table = _table(ref, cur)
    levels = ["a", "b", "c", "d", "e", "z"]  # "e" absent in current, "z" unseen in the reference
    r_counts = [int(np.sum(ref == lv)) for lv in levels]
    c_counts = [int(np.sum(cur == lv)) for lv in levels]
    chi = _row(table, "x", "chi_square")
    expected = stats.chi2_contingency(np.array([r_counts, c_counts]), correction=False)
    assert chi["value"] == pytest.approx(expected.statistic, rel=1e-12)
    assert chi["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert "2 x 6 table" in chi["method"]
    js = _row(table, "x", "js_distance")
    assert js["value"] == pytest.approx(jensenshannon(r_counts, c_counts), rel=1e-12)
    psi = _row(table, "x", "psi")
    assert psi["value"] == pytest.approx(_psi_by_hand(r_counts, c_counts), rel=1e-12)
    assert (chi["n_ref"], chi["missing_ref"]) == (sum(r_counts), int(pd.isna(ref).sum()))
    assert (chi["n_cur"], chi["missing_cur"]) == (sum(c_counts), int(pd.isna(cur).sum()))
    assert "1 reference levels absent in current: 'e'" in chi["note"]
    assert "levels unseen in the reference (unseen): 'z'" in chi["note"]
    assert chi["kind"] == "categorical"
    assert set(table["statistic"]) == {"psi", "chi_square", "js_distance"}  # KS and W: numeric only


def test_psi_floors_empty_bins_and_unseen_levels_pool() -> None:
    ref = ["a"] * 60 + ["b"] * 40
    cur = ["a"] * 50 + ["x"] * 30 + ["y"] * 20  # "b" empty in current; x, y unseen
    table = _table(ref, cur)
    # bins: a, b, (other), (unseen); (other) is empty in both
    assert _row(table, "x", "psi")["value"] == pytest.approx(
        _psi_by_hand([60, 40, 0, 0], [50, 0, 0, 50]), rel=1e-12)
    chi = _row(table, "x", "chi_square")
    assert chi["value"] == pytest.approx(
        stats.chi2_contingency([[60, 40, 0], [50, 0, 50]], correction=False).statistic, rel=1e-12)
    assert "'x' (30), 'y' (20)" in chi["note"]
    eps = DriftConfig(psi_eps=1e-3)
    assert _row(_table(ref, cur, eps), "x", "psi")["value"] == pytest.approx(
        _psi_by_hand([60, 40, 0, 0], [50, 0, 0, 50], eps=1e-3), rel=1e-12)


def test_max_levels_pools_rare_reference_levels_apart_from_unseen() -> None:
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 6 + ["e"] * 4
    cur = ["a"] * 40 + ["b"] * 30 + ["d"] * 20 + ["new"] * 10
    config = DriftConfig(max_levels=2)
    bins = learn_bins("x", pd.Series(ref), config)
    assert bins.levels == ("a", "b") and bins.other_levels == frozenset({"c", "d", "e"})
    table = _table(ref, cur, config)
    chi = _row(table, "x", "chi_square")
    # a, b, (other) = c + d + e, (unseen) = new
    expected = stats.chi2_contingency([[50, 30, 20, 0], [40, 30, 20, 10]], correction=False)
    assert chi["value"] == pytest.approx(expected.statistic, rel=1e-12)
    assert "3 rare reference levels beyond max_levels=2 pooled as (other)" in chi["note"]


def test_categorical_input_forms_agree() -> None:
    rng = _rng(31)
    ref = rng.choice(["lo", "mid", "hi"], 3000).astype(object)
    cur = rng.choice(["lo", "mid", "hi", "new"], 2000).astype(object)
    ref[5], cur[7] = None, None
    expected = _table(ref, cur)
    forms = {
        "Categorical": (pd.Categorical(ref), pd.Categorical(cur)),
        "str dtype": (pd.array(ref, dtype="str"), pd.array(cur, dtype="str")),
        "arrow dictionary": (pa.array(ref).dictionary_encode(), pa.array(cur).dictionary_encode()),
        "arrow string": (pa.array(ref), pa.array(cur)),
    }
    for form, (r, c) in forms.items():
        if form.startswith("arrow"):
            got = drift_table(pa.table({"x": r}), pa.table({"x": pa.chunked_array([c[:900], c[900:]])}))
        else:
            got = drift_table(pd.DataFrame({"x": r}), pd.DataFrame({"x": c}))
        pd.testing.assert_frame_equal(got, expected, obj=form)


def test_forced_categorical_integers_and_floats_share_levels() -> None:
    ref = np.array([1, 2, 2, 3, 3, 3] * 50)
    cur = np.array([1.0, 2.0, np.nan, 3.0, 3.0, 4.0] * 40)  # NaN made it float: 1.0 is level "1"
    table = _table(ref, cur, DriftConfig(categorical=["x"]))
    chi = _row(table, "x", "chi_square")
    expected = stats.chi2_contingency([[50, 100, 150, 0], [40, 40, 80, 40]], correction=False)
    assert chi["kind"] == "categorical"
    assert chi["value"] == pytest.approx(expected.statistic, rel=1e-12)
    assert chi["missing_cur"] == 40


# --- numeric PSI, JS and chi-square on the reference-quantile bins ----------------------------


def test_numeric_coarse_bins_are_reference_deciles_and_statistics_match() -> None:
    rng = _rng(41)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(0.3, 1.2, 40_000)
    config = DriftConfig()
    bins = learn_bins("x", ref, config)
    # coarse bin of each value, from its fine code (an independent path from the sketch's sums)
    starts = np.array(bins.coarse_starts)
    ref_bin = np.searchsorted(starts, bins.codes(ref), side="right") - 1
    cur_bin = np.searchsorted(starts, bins.codes(cur), side="right") - 1
    r = np.bincount(ref_bin, minlength=starts.size)
    c = np.bincount(cur_bin, minlength=starts.size)
    assert starts.size == 12  # below-min, 10 deciles, above-max
    labels = bins.coarse_labels()
    assert len(labels) == bins.n_coarse == 12
    assert (labels[0], labels[-1]) == ("below reference min", "above reference max")
    assert r[0] == 0 and r[-1] == 0
    np.testing.assert_allclose(r[1:-1] / ref.size, 0.1, atol=0.005)
    assert c[0] > 0 and c[-1] > 0  # the current spreads beyond the reference range
    table = _table(ref, cur, config)
    assert _row(table, "x", "psi")["value"] == pytest.approx(_psi_by_hand(list(r), list(c)), rel=1e-12)
    assert _row(table, "x", "js_distance")["value"] == pytest.approx(jensenshannon(r, c), rel=1e-12)
    chi = _row(table, "x", "chi_square")
    expected = stats.chi2_contingency(np.array([r, c]), correction=False)
    assert chi["value"] == pytest.approx(expected.statistic, rel=1e-12)
    assert chi["p_value"] == pytest.approx(expected.pvalue, rel=1e-8, abs=1e-300)


def test_fine_codes_are_monotone_and_span_the_reference() -> None:
    rng = _rng(51)
    ref = np.concatenate([rng.normal(0, 1, 5000), rng.standard_cauchy(5000) * 1e3, [0.0]])
    bins = learn_bins("x", ref, DriftConfig())
    probe = np.sort(np.concatenate([
        ref, rng.normal(0, 1, 20_000), rng.uniform(-1e-12, 1e-12, 1000), np.arange(-300, 300, 0.5),
        [-1e300, -1e30, 1e30, 1e300, 5e-324, -5e-324],
        np.nextafter(ref, np.inf), np.nextafter(ref, -np.inf), [-np.finfo(float).max, np.finfo(float).max]]))
    codes = bins.codes(probe)
    assert np.all(np.diff(codes) >= 0)
    assert tuple(bins.codes([ref.min(), ref.max()])) == bins.ref_codes
    assert bins.ref_codes[1] - bins.ref_codes[0] == 4096  # fine_bins across the reference range
    assert bins.codes([-np.finfo(float).max])[0] == 0
    assert bins.codes([np.finfo(float).max])[0] == bins.grid_bins + 1
    assert bins.codes([np.nan, np.inf, None])[0] == bins.missing_bin


# --- edge cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [60, N_BIG])
def test_constant_in_both(n: int) -> None:
    table = _table(np.full(n, 5.0), np.full(n // 2, 5.0))
    got = {s: _row(table, "x", s) for s in ("psi", "ks", "chi_square", "js_distance", "wasserstein")}
    assert (got["ks"]["value"], got["ks"]["p_value"]) == (0.0, 1.0)
    assert got["wasserstein"]["value"] == 0.0 and got["wasserstein"]["error_bound"] == 0.0
    assert (got["chi_square"]["value"], got["chi_square"]["p_value"]) == (0.0, 1.0)
    assert got["psi"]["value"] == 0.0 and got["js_distance"]["value"] == 0.0
    assert not table["drifted"].any() and (table["status"] == "ok").all()
    assert "reference is constant, divided by 0.001" in got["wasserstein"]["note"]


@pytest.mark.parametrize("n", [80, N_BIG])
def test_constant_reference_only(n: int) -> None:
    rng = _rng(61)
    ref, cur = np.full(n, 5.0), rng.normal(5.0, 1.0, n)
    table = _table(ref, cur)
    ks, w = _row(table, "x", "ks"), _row(table, "x", "wasserstein")
    exact = stats.ks_2samp(ref, cur, method="asymp" if n > 100_000 else "auto")
    assert abs(ks["value"] - exact.statistic) <= ks["error_bound"] + 1e-12
    w_raw = stats.wasserstein_distance(ref, cur)
    assert abs(w["value"] - w_raw / 0.001) <= w["error_bound"] * (1 + 1e-9) + 1e-9
    psi = _row(table, "x", "psi")
    # reference in one bin; current below and above it: PSI is large and says so
    assert psi["value"] > 1 and psi["drifted"]
    assert w["drifted"] and w["default"] == (n > 1000)


def test_missing_and_infinite_values_are_counted_and_excluded() -> None:
    rng = _rng(71)
    ref = rng.normal(0, 1, 3000)
    cur = rng.normal(0.1, 1, 2000)
    ref[::10] = np.nan
    cur[::7] = np.nan
    cur[3], cur[4] = np.inf, -np.inf
    table = _table(ref, cur)
    ks, w = _row(table, "x", "ks"), _row(table, "x", "wasserstein")
    fr, fc = _finite(ref), _finite(cur)
    exact = stats.ks_2samp(fr, fc)
    assert ks["value"] == pytest.approx(exact.statistic) and ks["p_value"] == pytest.approx(exact.pvalue)
    assert w["value"] == pytest.approx(stats.wasserstein_distance(fr, fc) / np.std(fr), rel=1e-12)
    assert (ks["n_ref"], ks["missing_ref"]) == (fr.size, ref.size - fr.size)
    assert (ks["n_cur"], ks["missing_cur"]) == (fc.size, cur.size - fc.size)
    assert "infinite values counted as missing: 0 in reference, 2 in current" in ks["note"]


def test_nullable_and_object_columns() -> None:
    ref = pd.Series([1, 2, None, 4, 5, 6, 7, 8] * 20, dtype="Int64")
    cur = pd.Series([2.0, None, 4.5, 6.0, 9.0] * 20, dtype=object)
    table = drift_table(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur.astype("Float64")}))
    fr, fc = ref.dropna().to_numpy(float), cur.dropna().to_numpy(float)
    ks = _row(table, "x", "ks")
    assert ks["value"] == pytest.approx(stats.ks_2samp(fr, fc).statistic)
    assert (ks["missing_ref"], ks["missing_cur"]) == (20, 20)


def test_timestamps_are_numeric_in_seconds() -> None:
    rng = _rng(72)
    start = np.datetime64("2024-03-01T00:00:00", "ns")
    ref = start + rng.integers(0, 86_400, 400).astype("timedelta64[s]")
    cur = start + rng.integers(3_600, 90_000, 300).astype("timedelta64[s]")
    cur[:4] = np.datetime64("NaT")
    expected_ref = ref.astype("datetime64[s]").astype(np.int64).astype(float)
    expected_cur = cur[4:].astype("datetime64[s]").astype(np.int64).astype(float)
    exact = stats.ks_2samp(expected_ref, expected_cur)
    for r, c in ((pd.Series(ref), pd.Series(cur)), (pa.array(ref), pa.array(cur))):
        frame = pa.table if isinstance(r, pa.Array) else pd.DataFrame
        ks = _row(drift_table(frame({"t": r}), frame({"t": c})), "t", "ks")
        assert ks["kind"] == "numeric" and ks["missing_cur"] == 4
        assert ks["value"] == pytest.approx(exact.statistic) and ks["p_value"] == pytest.approx(exact.pvalue)


def test_all_missing_window_is_undefined() -> None:
    table = _table(np.arange(100.0), np.full(30, np.nan))
    assert (table["status"] == "undefined").all()
    assert table["value"].isna().all() and not table["drifted"].any()
    assert table["note"].str.contains("current has no non-missing values \\(30 missing\\)").all()
    assert (table["missing_cur"] == 30).all() and (table["n_cur"] == 0).all()
    cat = _table(["a", "b"] * 10, [None] * 5)
    assert (cat["status"] == "undefined").all() and (cat["missing_cur"] == 5).all()


def test_one_row_window() -> None:
    rng = _rng(81)
    ref = rng.normal(0, 1, 500)
    table = _table(ref, [1.5])
    exact = stats.ks_2samp(ref, [1.5])
    ks = _row(table, "x", "ks")
    assert ks["value"] == pytest.approx(exact.statistic) and ks["p_value"] == pytest.approx(exact.pvalue)
    assert _row(table, "x", "wasserstein")["value"] == pytest.approx(
        stats.wasserstein_distance(ref, [1.5]) / np.std(ref))
    big = _table(rng.normal(0, 1, N_BIG), [1.5])  # binned reference, one current value
    ks_big = _row(big, "x", "ks")
    assert ks_big["error_bound"] < 0.001 and ks_big["status"] == "ok"


# --- sketches: windows and merging --------------------------------------------------------------


def test_sketch_windows_equal_per_window_sketches_and_merge_to_the_whole() -> None:
    rng = _rng(91)
    n = 30_000
    x = rng.lognormal(0, 1, n)
    x[rng.random(n) < 0.01] = np.nan
    x[5] = np.inf
    window = rng.integers(0, 4, n)
    window[window == 3] = 2  # window 3 stays empty
    config = DriftConfig(exact_max=8000)
    bins = learn_bins("x", x, config)
    per = sketch_windows(bins, x, window, 4)
    for w in range(4):
        one = sketch(bins, x[window == w])
        assert (per[w].n, per[w].n_missing, per[w].n_infinite) == (one.n, one.n_missing, one.n_infinite)
        np.testing.assert_array_equal(per[w].counts, one.counts)
        np.testing.assert_array_equal(per[w].mins, one.mins)
        np.testing.assert_array_equal(per[w].maxs, one.maxs)
        assert per[w].sum_u == pytest.approx(one.sum_u, rel=1e-9, abs=1e-9)
        if one.values is None:
            assert per[w].values is None
        else:
            np.testing.assert_array_equal(per[w].values, one.values)
    assert per[3].n == 0 and per[0].values is not None  # ~7,400 rows: exact
    whole = sketch(bins, x)
    merged = merge_sketches(per)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_array_equal(merged.mins, whole.mins)
    assert (merged.n, merged.n_missing) == (whole.n, whole.n_missing)
    assert merged.values is None  # 29,700 values > exact_max
    assert merged.std(bins) == pytest.approx(np.std(_finite(x)), rel=1e-9)
    small = merge_sketches(per[:1])
    np.testing.assert_array_equal(small.values, np.sort(_finite(x[window == 0])))
    # drift of window 0 vs the merged rest, from sketches only, against SciPy on the rows
    rest = merge_sketches(per[1:])
    rows = pd.DataFrame(drift_rows(bins, rest, per[0], config), columns=DRIFT_COLUMNS)
    ref_rows, cur_rows = _finite(x[window != 0]), _finite(x[window == 0])
    ks, w = _row(rows, "x", "ks"), _row(rows, "x", "wasserstein")
    assert ks["error_bound"] > 0  # the merged rest (22,000 values) is binned
    assert abs(ks["value"] - stats.ks_2samp(ref_rows, cur_rows).statistic) <= ks["error_bound"] + 1e-12
    w_exact = stats.wasserstein_distance(ref_rows, cur_rows) / np.std(ref_rows)
    assert abs(w["value"] - w_exact) <= w["error_bound"] * (1 + 1e-9) + 1e-12


def test_categorical_sketch_windows() -> None:
    rng = _rng(92)
    ref = pd.Series(rng.choice(["a", "b", "c"], 1000))
    cur = pd.Series(rng.choice(["a", "b", "c", "new", "newer"], 900)).astype("category")
    window = np.repeat([0, 1, 2], 300)
    bins = learn_bins("x", ref, DriftConfig())
    per = sketch_windows(bins, cur, window, 3)
    for w in range(3):
        one = sketch(bins, cur[window == w])
        np.testing.assert_array_equal(per[w].counts, one.counts)
        assert per[w].unseen == one.unseen and per[w].unseen
    merged = merge_sketches(per)
    np.testing.assert_array_equal(merged.counts, sketch(bins, cur).counts)
    assert dict(merged.unseen) == dict(sketch(bins, cur).unseen)


# --- decisions and configuration -----------------------------------------------------------------


def test_default_method_by_kind_and_size() -> None:
    rng = _rng(101)
    small = drift_table(pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(list("ab"), 1000)}),
                        pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("ab"), 500)}))
    big = drift_table(pd.DataFrame({"x": rng.normal(size=1001), "c": rng.choice(list("ab"), 1001)}),
                      pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("ab"), 500)}))
    pick = lambda t: dict(t.loc[t["default"], ["column", "statistic"]].itertuples(index=False))  # noqa: E731
    assert pick(small) == {"x": "ks", "c": "chi_square"}
    assert pick(big) == {"x": "wasserstein", "c": "js_distance"}
    assert list(small.columns) == DRIFT_COLUMNS
    assert small.groupby("column")["default"].sum().eq(1).all()


def test_drift_decision_rules_and_overrides() -> None:
    rng = _rng(102)
    ref, cur = rng.normal(0, 1, 3000), rng.normal(0.15, 1, 3000)
    table = _table(ref, cur)
    for _, row in table.iterrows():
        if row["statistic"] in ("ks", "chi_square"):
            assert row["drifted"] == (row["p_value"] < row["threshold"])
            assert "p_value <" in row["method"]
        else:
            assert row["drifted"] == (row["value"] >= row["threshold"])
            assert "value >=" in row["method"]
        assert row["threshold"] == DEFAULT_THRESHOLDS[row["statistic"]]
    w = _row(table, "x", "wasserstein")
    assert w["drifted"] and w["default"]
    looser = _table(ref, cur, DriftConfig(thresholds={"wasserstein": w["value"] + 0.01}))
    assert not _row(looser, "x", "wasserstein")["drifted"]
    by_psi = _table(ref, cur, DriftConfig(statistics=["ks"], method={"x": "psi"}))
    assert list(by_psi["statistic"]) == ["psi", "ks"]  # the decider is computed though not listed
    assert _row(by_psi, "x", "psi")["default"] and not _row(by_psi, "x", "ks")["default"]


def test_deterministic_output() -> None:
    rng = _rng(111)
    ref = pd.DataFrame({"x": rng.normal(size=N_BIG), "c": rng.choice(list("abc"), N_BIG)})
    cur = pd.DataFrame({"x": rng.normal(size=N_BIG), "c": rng.choice(list("abcd"), N_BIG)})
    first, second = drift_table(ref, cur), drift_table(ref, cur)
    pd.testing.assert_frame_equal(first, second)
    assert first.to_json() == second.to_json()


def test_bad_input_errors_name_the_problem() -> None:
    ref = pd.DataFrame({"amount": [1.0, 2.0, 3.0], "region": ["a", "b", "c"]})
    cur = pd.DataFrame({"amount": ["x", "y", "z"], "region": ["a", "b", "b"]})
    with pytest.raises(InputError, match=r"columns names columns not in the data: \['amout'\].*'amount'"):
        drift_table(ref, ref, columns=["amout"])
    with pytest.raises(InputError, match="'amount' is numeric in the reference but not in the current"):
        drift_table(ref, cur)
    with pytest.raises(InputError, match="drift method 'ks' for column 'region' needs a numeric column"):
        drift_table(ref, ref, config=DriftConfig(method={"region": "ks"}))
    with pytest.raises(InputError, match=r"'categorical' names columns not in the data: \['regon'\]"):
        drift_table(ref, ref, config=DriftConfig(categorical=["regon"]))
    with pytest.raises(ValidationError, match="both categorical and numeric"):
        DriftConfig(categorical=["a"], numeric=["a"])
    with pytest.raises(ValidationError, match=r"thresholds.ks is a p-value level"):
        DriftConfig(thresholds={"ks": 5})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        DriftConfig(bins=3)
    with pytest.raises(ValidationError):
        DriftConfig(statistics=["kolmogorov"])
    bins = learn_bins("amount", ref["amount"], DriftConfig())
    with pytest.raises(InputError, match=r"row 1 has window index 7, outside 0..1"):
        sketch_windows(bins, ref["amount"], np.array([0, 7, 1]), 2)
    with pytest.raises(InputError, match="the values are not numeric"):
        sketch(bins, cur["amount"])
    with pytest.raises(InputError, match="pandas DataFrame or a pyarrow Table"):
        drift_table({"amount": [1]}, ref)
