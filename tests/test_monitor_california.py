"""A real geographic shift: NannyML's California housing reference and analysis periods
(../shared/data/california_housing_drift), monitored month by month.

The rows are in geographic order, so each month covers other regions and the reference
months already differ among themselves: alert bands come from the reference months' own
variation (each month compared with the reference without it, mean + 3 SD), never from a
fixed constant. Per month, the statistics are checked against SciPy and the AUC against
scikit-learn; the months whose Latitude PSI leaves the band, the leave-one-out check on the
reference months, and the months where performance falls are asserted by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from assay.monitor import parse_monitor_spec, run_monitor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "california_housing_drift"
pytestmark = pytest.mark.skipif(not (DATA / "california_housing_reference.csv").is_file(),
                                reason=f"shared data not found at {DATA} (CI always has ../shared; "
                                       "run from a checkout beside it)")
FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude",
            "Longitude"]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    ref = pd.read_csv(DATA / "california_housing_reference.csv", parse_dates=["timestamp"])
    an = pd.read_csv(DATA / "california_housing_analysis.csv", parse_dates=["timestamp"])
    gt = pd.read_csv(DATA / "california_housing_analysis_gt.csv")
    return ref, an.merge(gt, on="id", how="left", validate="one_to_one")


@pytest.fixture(scope="module")
def result():
    sql = (f"SELECT * FROM read_csv('{DATA / 'california_housing_reference.csv'}') UNION ALL BY NAME "
           f"SELECT a.*, g.clf_target FROM read_csv('{DATA / 'california_housing_analysis.csv'}') a "
           f"JOIN read_csv('{DATA / 'california_housing_analysis_gt.csv'}') g USING (id)")
    spec = parse_monitor_spec({
        "name": "california", "log": {"sql": sql}, "timestamp": "timestamp", "id": "id",
        "prediction": "y_pred_proba", "label": "clf_target", "window": {"every": "month"},
        "reference": {"until": "2021-06-01"}, "columns": FEATURES, "bootstrap": 300,
        "alerts": [{"rule": "drift", "name": "geography", "columns": ["Latitude", "Longitude"],
                    "statistic": "psi", "band": 3},
                   {"rule": "drift", "columns": "all", "band": 3}]})
    return run_monitor(spec, ".")


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%Y-%m")


def test_windows_are_the_months(result, frames) -> None:
    ref, an = frames
    win = result.windows
    assert list(win.loc[win["role"] == "reference", "window"]) == sorted(_month(ref["timestamp"]).unique())
    analysis = win[win["role"] == "analysis"]
    assert list(analysis["window"]) == sorted(_month(an["timestamp"]).unique())
    assert analysis["n"].tolist() == _month(an["timestamp"]).value_counts().sort_index().tolist()
    assert analysis["n"].iloc[-1] == 216  # the partial last month


def test_statistics_per_month_match_scipy(result, frames) -> None:
    ref, an = frames
    d = result.drift
    months = _month(an["timestamp"])
    for month in sorted(months.unique()):
        cur = an[months == month]
        for col in ("Latitude", "Longitude", "MedInc", "y_pred_proba"):
            rows = d[(d["window"] == month) & (d["column"] == col)].set_index("statistic")
            ks = stats.ks_2samp(ref[col], cur[col])
            assert rows.loc["ks", "value"] == pytest.approx(ks.statistic, abs=1e-12)
            assert rows.loc["ks", "p_value"] == pytest.approx(ks.pvalue, rel=1e-6, abs=1e-300)
            w1 = stats.wasserstein_distance(ref[col], cur[col]) / ref[col].std(ddof=0)
            assert rows.loc["wasserstein", "value"] == pytest.approx(w1, rel=1e-9)
            assert rows.loc["wasserstein", "error_bound"] == 0  # exact at these sizes


def test_reference_months_leave_one_out(result) -> None:
    """Each reference month against a band from the other seven (mean + 3 SD of their
    statistics): at most one month may fall outside, per column and statistic."""
    d = result.drift
    ref = d[(d["role"] == "reference") & (d["status"] == "ok")]
    worst = 0
    for (_col, _stat), rows in ref.groupby(["column", "statistic"]):
        values = rows["value"].to_numpy()
        flagged = 0
        for i in range(values.size):  # the band computed here, independently of the monitor's
            others = np.delete(values, i)
            flagged += values[i] > others.mean() + 3 * others.std(ddof=1)
        worst = max(worst, flagged)
    assert worst <= 1


def test_geographic_shift_alerts(result) -> None:
    a = result.alerts
    geo = a[a["rule"] == "geography"]
    assert sorted(geo.loc[geo["target"] == "Latitude", "window"]) == ["2021-08", "2021-09"]
    assert geo.loc[geo["target"] == "Longitude"].empty
    # the deciding statistic (normed Wasserstein) varies so much between the reference months
    # (one region each) that no month leaves its band on Latitude or Longitude
    default = a[(a["rule"] != "geography") & a["target"].isin(["Latitude", "Longitude"])]
    assert default.empty
    psi = result.drift[(result.drift["column"] == "Latitude") & (result.drift["statistic"] == "psi")]
    ref = psi.loc[psi["role"] == "reference", "value"].to_numpy()
    row = psi[psi["window"] == "2021-09"].iloc[0]
    assert row["band_mean"] == pytest.approx(ref.mean()) and row["band_sd"] == pytest.approx(ref.std(ddof=1))
    assert row["band_high"] == pytest.approx(ref.mean() + 3 * ref.std(ddof=1))
    assert row["value"] > row["band_high"] > row["band_mean"]


def test_performance_per_month_with_intervals(result, frames) -> None:
    _, an = frames
    p = result.performance[result.performance["metric"] == "roc_auc"].set_index("window")
    months = _month(an["timestamp"])
    for month in sorted(months.unique()):
        cur = an[months == month]
        row = p.loc[month]
        found = re.search(r"\|value - exact\| <= ([0-9.e+-]+)", row["note"])
        bound = float(found.group(1)) if found else 0.0
        assert abs(row["value"] - roc_auc_score(cur["clf_target"], cur["y_pred_proba"])) <= bound + 1e-12
        assert row["ci_low"] < row["value"] < row["ci_high"]
        assert row["n"] == len(cur)
    floor = p.loc[p["role"] == "reference", "value"].min()  # the worst reference month
    falls = sorted(p.index[(p["role"] == "analysis") & (p["ci_high"] < floor)])
    holds = sorted(p.index[(p["role"] == "analysis") & (p["ci_low"] > floor)])
    assert falls == ["2021-08", "2021-09", "2021-11", "2022-03"]
    assert holds == ["2021-06", "2021-10", "2021-12", "2022-01", "2022-02", "2022-04", "2022-05"]
