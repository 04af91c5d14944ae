"""The label's distribution: rows per class (and missing labels), a single class, rare
classes, values a binary or declared multiclass label should not have; for a regression
label, its range and any infinite values.

One ``GROUP BY label`` query (a single column read); classes beyond ``MAX_CLASSES`` are
summed into one ``(other)`` row, as in the data card.
"""

from __future__ import annotations

import math

from assay.data._files import quote_ident
from assay.quality._scan import Context, is_float, is_number
from assay.quality._table import FAIL, PASS, WARN, Row, pct, share
from assay.spec import EvalSpec

MAX_CLASSES = 50
MISSING = "(missing)"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def label_rows(ctx: Context, spec: EvalSpec, n: int) -> list[Row]:
    """One row per class (share of labelled rows), one for missing labels, and one table-level
    row when the label as a whole is unusable."""
    y, t = spec.label, ctx.columns[spec.label]
    q = quote_ident(y)
    if spec.task == "regression":
        return [_regression(ctx, spec, n)]
    nan = " OR isnan(v)" if is_float(t) else ""
    # group on the raw values, then print the few groups (a text cast of every row costs more)
    got = ctx.con.execute(
        f"SELECT CASE WHEN v IS NULL{nan} THEN NULL ELSE v::VARCHAR END AS v, c FROM (SELECT {q} AS v, "
        f"count(*) AS c FROM {ctx.view} GROUP BY 1) ORDER BY c DESC, 1 NULLS LAST").fetchall()
    missing = sum(int(c) for v, c in got if v is None)
    counts = [(str(v) or "(empty)", int(c)) for v, c in got if v is not None]
    labelled = n - missing
    declared: list[str] = []
    if spec.task == "multiclass" and spec.classes:
        declared = [_text(c) for c in spec.classes]
    elif spec.task == "binary" and spec.positive is not None:
        declared = [_text(spec.positive)]
    seen = {v for v, _ in counts}
    counts += [(v, 0) for v in declared if v not in seen]
    min_share = ctx.quality.labels.min_class_share
    threshold = f"warn < {pct(min_share)}; fail: one class"
    rows: list[Row] = []
    present = [v for v, c in counts if c > 0]
    problem = ""
    if labelled == 0:
        problem = f"no row has a label ({missing:,} missing): check the label column {y!r}"
    elif len(present) == 1:
        problem = (f"only one class among {labelled:,} labelled rows: metrics that compare classes (AUC, "
                   "recall, ...) are undefined; check the label column and any filter")
    elif spec.task == "binary" and len(present) > 2:
        problem = (f"a binary label has two values, but {y!r} has {len(present):,}: use task: multiclass, "
                   "or map the labels to two classes")
    elif declared and spec.task == "multiclass":
        extra = [v for v in present if v not in declared]
        if extra:
            problem = (f"{len(extra):,} value(s) outside the declared classes: "
                       f"{', '.join(map(repr, extra[:5]))}; add them to 'classes' or fix the labels")
    if problem:
        rows.append(Row("labels", FAIL, problem, column=y, threshold=threshold, count=labelled, n=n))
    shown = counts[:MAX_CLASSES]
    for i, (v, c) in enumerate(shown):
        level = v if ctx.shown.visible(y) else f"(withheld {i + 1})"
        sh = share(c, labelled)
        status = WARN if labelled and sh < min_share and len(present) > 1 else PASS
        msg = f"{y}={level}: {c:,} of {labelled:,} labelled rows ({pct(sh)})"
        if c == 0:
            msg += "; a declared class with no rows: its metrics cannot be computed"
        elif status == WARN:
            msg += (f", below min_class_share {pct(min_share)}: its metrics get wide intervals; collect "
                    "more rows of it, or lower quality.labels.min_class_share")
        rows.append(Row("labels", status, msg, column=y, level=level, value=sh, threshold=threshold,
                        count=c, n=labelled))
    rest = counts[MAX_CLASSES:]
    if rest:
        c = sum(m for _, m in rest)
        rows.append(Row("labels", PASS, f"{y}: {len(rest):,} more classes with {c:,} rows in all",
                        column=y, level="(other)", value=share(c, labelled), threshold=threshold,
                        count=c, n=labelled))
    rows.append(Row("labels", PASS, f"{y}: {missing:,} of {n:,} rows have no label "
                    f"({pct(share(missing, n))}); they are left out of every metric (and counted as "
                    "excluded)", column=y,
                    level=MISSING, value=share(missing, n), count=missing, n=n))
    return rows


def _regression(ctx: Context, spec: EvalSpec, n: int) -> Row:
    y = quote_ident(spec.label)
    t = ctx.columns[spec.label]
    if not is_number(t):
        return Row("labels", FAIL, f"{spec.label}: a regression label must be numeric, but the column is "
                   f"{t}; cast it in data.sql or fix the file", column=spec.label, n=n)
    x = f"{y}::DOUBLE"
    ok = f"{y} IS NOT NULL AND NOT isnan({x}) AND NOT isinf({x})"
    # no mean: a float sum's bits depend on the order threads add in, and reruns must match
    got = ctx.con.execute(
        f"SELECT count_if({ok}), count_if(isinf({x})), min({x}) FILTER (WHERE {ok}), "
        f"max({x}) FILTER (WHERE {ok}) FROM {ctx.view}").fetchall()[0]
    finite, inf = int(got[0]), int(got[1])
    label = spec.label
    if finite == 0:
        return Row("labels", FAIL, f"{label}: no finite label among {n:,} rows", column=label, n=n,
                   count=inf)
    stats = ""
    if ctx.shown.visible(label):
        stats = f" (min {got[2]:.6g}, max {got[3]:.6g})"
    if inf:
        return Row("labels", FAIL, f"{label}: {inf:,} infinite label(s){stats}; make them finite, or "
                   "null to count them as missing", column=label, value=share(inf, n), count=inf, n=n,
                   threshold="fail: any infinite")
    return Row("labels", PASS, f"{label}: {finite:,} finite labels{stats}", column=label,
               value=math.nan, count=0, n=finite, threshold="fail: any infinite")
