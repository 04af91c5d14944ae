"""What a data card measures about an evaluation set: schema and label distribution."""

from __future__ import annotations

from typing import Any

from assay.data._files import columns_of, quote_ident
from assay.data._sources import EvalRows

#: label values listed in a card; the rest are summed as "(other)"
MAX_LABELS = 50


def profile(rows: EvalRows) -> dict[str, Any]:
    """Column -> type, and the label's distribution over all rows (missing labels included):
    counts per value for classification, summary statistics for regression."""
    con = rows.con
    schema = {c: t for c, t in columns_of(con, "assay_data").items() if not c.startswith("__")}
    label = quote_ident(rows.spec.label)
    if rows.spec.task == "regression":
        got = con.execute(
            f"SELECT count({label}), count(*) - count({label}), min({label}), "
            f"quantile_cont({label}, 0.5), max({label}), avg({label}), stddev_samp({label}) "
            "FROM assay_data").fetchall()[0]
        keys = ("count", "missing", "min", "median", "max", "mean", "sd")
        labels: dict[str, Any] = {k: (None if v is None else float(v)) for k, v in zip(keys, got,
                                                                                       strict=True)}
        labels["count"], labels["missing"] = int(got[0]), int(got[1])
    else:
        counts = con.execute(
            f"SELECT {label}::VARCHAR AS v, count(*) AS n FROM assay_data GROUP BY 1 "
            "ORDER BY n DESC, v NULLS LAST").fetchall()
        labels = {"(missing)" if v is None else str(v): int(n) for v, n in counts[:MAX_LABELS]}
        if len(counts) > MAX_LABELS:
            labels["(other)"] = sum(int(n) for _, n in counts[MAX_LABELS:])
    return {"rows": rows.n_rows, "schema": schema, "labels": labels}
