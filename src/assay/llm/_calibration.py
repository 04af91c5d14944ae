"""Judge calibration: how well a judge (or any scorer) agrees with human labels on the cases
that people rated.

A labels file (CSV, JSONL or Parquet) holds one row per case (one human) or one row per case
and rater (``rater_column``; several humans). Its rows are matched to the run's scores on the
case id, on ``variant`` when the file has such a column (else the one variant named in the
spec, or the run's only variant) and on ``sample`` when the file has such a column (else
sample 0: with several samples per case, the humans rated the first output). The label of a
scorer is the column named after the scorer when there is one, else ``label_column``.

What is compared:

- pass/fail judges (``scale: pass_fail``): the judge's ``passed`` with a human label read as
  true/false, pass/fail, yes/no or 1/0 (any case);
- scale judges (an ordinal ``scale``): the judge's integer ``value`` with a whole-number human
  label. Categories are the whole numbers from the smallest to the largest label seen, so a
  scale value nobody used still keeps its distance.

Statistics (all from :mod:`assay.stats`, which checks them against scikit-learn, statsmodels
and the ``krippendorff`` package):

- one human per case: accuracy (share of equal labels, Wilson interval) and Cohen's kappa
  (``kind: nominal``) or weighted kappa (``kind: ordinal``, quadratic weights by default;
  Cohen 1960, 1968), with the Fleiss-Cohen-Everitt (1969) large-sample interval;
- several humans per case: the same two against the consensus label (the majority label for
  nominal data, the median for ordinal data; a tied majority or a median between two scale
  points has no consensus and is left out and counted), plus Krippendorff's alpha (2011;
  nominal or ordinal) among the humans alone (the ceiling the judge is measured against) and
  with the judge as one more rater. Both alphas use the same units: cases with at least two
  human labels and a determined judge score. Their interval is a seeded percentile bootstrap
  over units.

Every statistic is reported overall, per tag (``tag=<name>``) and, when several variants were
labelled, per variant (``variant=<name>``). Each item of a slice lands in exactly one count:
``n`` (used), ``n_excluded`` (no human label, no consensus, or fewer than two human labels for
alpha), ``n_undetermined`` and ``n_error`` (the judge could not decide or failed; never
coerced to a label). Slices with fewer than ``min_items`` used items have status ``too_few``
and no value. Label rows that match no scored output are counted and listed, never dropped
silently.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay._errors import InputError, repeated
from assay.llm._rows import read_records
from assay.stats import judge_agreement, krippendorff_alpha
from assay.stats._agreement import Agreement

PASS_FAIL, ORDINAL = "pass_fail", "ordinal"
SCALES = (PASS_FAIL, ORDINAL)
TOO_FEW = "too_few"
#: the columns of the calibration table, in order
CALIBRATION_COLUMNS = ("scorer", "slice", "statistic", "raters", "value", "ci_low", "ci_high", "n",
                       "n_excluded", "n_undetermined", "n_error", "method", "status", "note")
#: accepted pass/fail labels (compared case-insensitively, surrounding spaces ignored)
PASS_FAIL_WORDS = {"true": True, "pass": True, "yes": True, "1": True,
                   "false": False, "fail": False, "no": False, "0": False}
PASS_FAIL_ACCEPTED = "true/false, pass/fail, yes/no, 1/0 (any case)"
VARIANT, SAMPLE = "variant", "sample"
SCORE_KEYS = ("variant", "case_id", "sample", "tags", "scorer", "value", "passed", "status")
MAX_LISTED = 10


class CalibrationSpec(BaseModel):
    """Which judges to check against which human labels, and how (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the labels file (.csv, .jsonl or .parquet), relative to the suite file
    labels: str = Field(min_length=1)
    #: the scorers to calibrate; default: every judge of the suite (every scorer that has a label
    #: column named after it when the judges are not known)
    scorers: list[str] | None = None
    id_column: str = Field(default="case_id", min_length=1)
    #: long format, one row per case and rater; None: one row (one human) per case
    rater_column: str | None = None
    label_column: str = Field(default="label", min_length=1)
    #: the variant whose outputs the humans rated (default: the file's 'variant' column, else the
    #: run's only variant)
    variant: str | None = None
    #: nominal (Cohen's kappa, nominal alpha) or ordinal (weighted kappa, ordinal alpha);
    #: default nominal for pass/fail judges, ordinal for scale judges
    kind: Literal["nominal", "ordinal"] | None = None
    #: the weights of the ordinal (weighted) kappa
    weights: Literal["linear", "quadratic"] = "quadratic"
    #: slices with fewer used items are reported with status "too_few" and no value
    min_items: int = Field(default=10, ge=1)

    @field_validator("scorers")
    @classmethod
    def _scorers(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one scorer name, or leave 'scorers' out for every judge")
            dup = repeated(v)
            if dup:
                raise ValueError(f"scorers repeat: {', '.join(dup)}; list each once")
        return v


@dataclass(frozen=True)
class LabelCounts:
    """What happened to the label rows: read, matched to scored outputs, left out and why."""

    source: str
    sha256: str | None
    rows: int
    matched_rows: int
    unmatched_rows: int
    #: up to 10 case ids of unmatched rows, in file order
    unmatched_ids: tuple[str, ...]
    #: rows for variants other than the spec's ``variant`` (set aside, not compared)
    other_variant_rows: int
    #: distinct (variant, case, sample) outputs with at least one matched label row
    items: int
    raters: int
    variants: tuple[str, ...]
    #: which sample the labels refer to: "0" or "the labels' sample column"
    sample: str
    scorers: tuple[str, ...]
    #: scorer -> "pass_fail" or "ordinal" (what is compared)
    scales: dict[str, str] = field(default_factory=dict)
    #: scorer -> matched rows whose label for it is blank (counted in n_excluded)
    blank_labels: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, for the run record."""
        out = asdict(self)
        for key in ("unmatched_ids", "variants", "scorers"):
            out[key] = list(out[key])
        return out


@dataclass(frozen=True)
class Calibration:
    """The calibration table (``CALIBRATION_COLUMNS``) and the label counts behind it."""

    table: pd.DataFrame
    counts: LabelCounts

    def to_dict(self) -> dict[str, Any]:
        """Counts and table as JSON-ready values (NaN as None), for the run record."""
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in self.table.to_dict("records")]
        return {"counts": self.counts.to_dict(), "table": rows}


# --------------------------------------------------------------------------- reading labels


def judge_scales(scorers: Iterable[Any]) -> dict[str, str]:
    """``{judge name: "pass_fail" | "ordinal"}`` for the pointwise judges among scorer configs
    (``SuiteSpec.scorer_configs()``), to pass as ``calibrate(judge_kinds=...)``."""
    from assay.llm.judges import JudgeConfig

    return {s.label: (PASS_FAIL if isinstance(s.scale, str) else ORDINAL)
            for s in scorers if isinstance(s, JudgeConfig)}


def _read(path: Path) -> pd.DataFrame:
    rows = read_records(path, noun="label row", key="'labels' in the calibration spec", kinds="labels")
    return pd.DataFrame(rows, dtype=object) if path.suffix.lower() in (".jsonl", ".ndjson") \
        else pd.DataFrame(rows)


def _blank(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float | np.floating) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _source(labels: pd.DataFrame) -> str:
    return str(labels.attrs.get("source", "labels"))


def _rows(labels: pd.DataFrame) -> np.ndarray:
    """Row numbers for messages: the index when it is the file's row numbers, else positions."""
    if labels.index.name == "row":
        return labels.index.to_numpy()
    return np.arange(1, len(labels) + 1)


def _validated(labels: pd.DataFrame, spec: CalibrationSpec) -> pd.DataFrame:
    """Check the columns and keys of a labels table and normalise its ids (as text) and sample
    numbers; errors name the source, row and column."""
    source = _source(labels)
    if len(labels) == 0:
        raise InputError(f"{source}: no label rows; the labels file needs one row per labelled case "
                         "(or per case and rater)")
    cols = [str(c) for c in labels.columns]
    present = ", ".join(map(repr, cols))
    for what, col, fix in (("the case id", spec.id_column, "id_column"),
                           ("the rater", spec.rater_column, "rater_column")):
        if col is not None and col not in labels.columns:
            raise InputError(f"{source}: no column {col!r} ({what}); columns present: {present}. Set "
                             f"'{fix}' to the column holding {what}.")
    reserved = {spec.id_column, spec.rater_column, VARIANT, SAMPLE}
    if spec.scorers is not None:
        for s in spec.scorers:
            if s not in labels.columns and spec.label_column not in labels.columns:
                raise InputError(f"{source}: no label column for scorer {s!r}: give a column named {s!r} or "
                                 f"{spec.label_column!r} (label_column); columns present: {present}")
    elif spec.label_column not in labels.columns and not [c for c in cols if c not in reserved]:
        raise InputError(f"{source}: no label column {spec.label_column!r}; columns present: {present}. Set "
                         "'label_column', or name a column after each scorer it labels.")
    out = labels.copy()
    out.attrs = dict(labels.attrs)
    rows = _rows(labels)
    out.index = pd.Index(rows, name="row")
    key = [spec.id_column] + [c for c in (spec.rater_column, VARIANT) if c is not None and c in out.columns]
    for col in key:
        blank = [i for i, v in enumerate(out[col]) if _blank(v)]
        if blank:
            raise InputError(f"{source} row {rows[blank[0]]}, column {col!r}: empty ({len(blank)} rows); "
                             f"every label row needs a value in {col!r}")
        out[col] = [str(v) for v in out[col]]
    if SAMPLE in out.columns:
        samples = []
        for i, v in enumerate(out[SAMPLE]):
            number = _whole(v)
            if number is None or number < 0:
                raise InputError(f"{source} row {rows[i]}, column {SAMPLE!r}: {v!r} is not a sample number; "
                                 "use 0, 1, ... (the run's sample index) or drop the column for sample 0")
            samples.append(number)
        out[SAMPLE] = np.asarray(samples, dtype=np.int64)
        key.append(SAMPLE)
    dup = out.duplicated(key, keep=False).to_numpy()
    if dup.any():
        first = out[dup].iloc[0]
        same = np.flatnonzero(dup & (out[key] == first[key]).all(axis=1).to_numpy())
        what = ", ".join(f"{c}={first[c]!r}" for c in key)
        fix = ("each rater labels a case once" if spec.rater_column else
               "with one row per rater, set 'rater_column'; else keep one row per case")
        raise InputError(f"{source}: rows {', '.join(str(rows[i]) for i in same[:5])} repeat ({what}); "
                         f"{int(dup.sum())} rows are duplicates in all. {fix[0].upper() + fix[1:]}.")
    return out


def load_labels(spec: CalibrationSpec, base_dir: str | Path = ".") -> pd.DataFrame:
    """Read and validate the labels file of ``spec`` (relative to ``base_dir``, the suite's
    folder). The index is the file's row number (``row``, from 1); ``attrs`` hold the source
    path and the file's sha256. Errors name the file, row and column."""
    path = Path(spec.labels)
    path = path if path.is_absolute() else Path(base_dir) / path
    frame = _read(path)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    frame.attrs = {"source": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return _validated(frame, spec)


# --------------------------------------------------------------------------- label values


def _whole(value: Any) -> int | None:
    """A whole number from an int, an integral float or numeric text; None otherwise."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _pass_fail(value: Any) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer | float | np.floating) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return PASS_FAIL_WORDS.get(value.strip().lower())
    return None


def _parse_labels(values: pd.Series, rows: np.ndarray, scale: str, source: str, column: str,
                  scorer: str) -> list[Any]:
    """Labels as bool (pass/fail) or int (scale); blank stays None; anything else is an error."""
    parse = _pass_fail if scale == PASS_FAIL else _whole
    out: list[Any] = []
    bad: list[int] = []
    for i, v in enumerate(values):
        if _blank(v):
            out.append(None)
            continue
        got = parse(v)
        if got is None:
            bad.append(i)
        out.append(got)
    if bad:
        i = bad[0]
        more = f" ({len(bad) - 1} more rows like it)" if len(bad) > 1 else ""
        if scale == PASS_FAIL:
            accepted = f"scorer {scorer!r} is pass/fail; accepted labels: {PASS_FAIL_ACCEPTED}"
        else:
            accepted = f"scorer {scorer!r} rates on a scale; accepted labels: whole numbers (e.g. 1 to 5)"
        raise InputError(f"{source} row {rows[i]}, column {column!r}: {values.iloc[i]!r} is not a valid label"
                         f"{more}; {accepted}. Fix the label, or leave it blank to skip it (blanks are "
                         "counted).")
    return out


# --------------------------------------------------------------------------- matching


def _check_scores(scores: pd.DataFrame) -> None:
    missing = [c for c in SCORE_KEYS if c not in scores.columns]
    if missing:
        raise InputError(f"the scores table has no column(s) {', '.join(map(repr, missing))} (columns: "
                         f"{', '.join(map(str, scores.columns))}); pass a run's score table "
                         "(SuiteResult.scores)")
    dup = scores.duplicated(["variant", "case_id", "sample", "scorer"])
    if dup.any():
        r = scores[dup].iloc[0]
        raise InputError(f"the scores table repeats (variant={r['variant']!r}, case_id={r['case_id']!r}, "
                         f"sample={r['sample']!r}, scorer={r['scorer']!r}); one score per output and scorer")


def _unknown(what: str, name: str, known: list[str], fix: str) -> InputError:
    close = get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InputError(f"unknown {what} {name!r}{hint}; the run's {what}s: {', '.join(known) or 'none'}. "
                      f"{fix}")


def _variants(labels: pd.DataFrame, spec: CalibrationSpec, known: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(variant per row, mask of rows for the calibrated variant(s))."""
    fix = "Name one the humans rated."
    if spec.variant is not None and spec.variant not in known:
        raise _unknown("variant", spec.variant, known, "Set 'variant' to the one the humans rated.")
    if VARIANT in labels.columns:
        names = labels[VARIANT].to_numpy(dtype=object)
        rows = _rows(labels)
        for i, v in enumerate(names):
            if v not in known:
                err = _unknown("variant", str(v), known, fix)
                raise InputError(f"{_source(labels)} row {rows[i]}, column {VARIANT!r}: {err}") from None
        keep = np.ones(len(names), dtype=bool) if spec.variant is None else names == spec.variant
        return names, keep
    if spec.variant is None:
        if len(known) != 1:
            raise InputError(f"the run has {len(known)} variants ({', '.join(known)}) and {_source(labels)} "
                             "has no 'variant' column: set 'variant' in the calibration spec to the one the "
                             "humans rated, or add a 'variant' column")
        name = known[0]
    else:
        name = spec.variant
    return np.full(len(labels), name, dtype=object), np.ones(len(labels), dtype=bool)


def _scorers(labels: pd.DataFrame, spec: CalibrationSpec, known: list[str],
             kinds: Mapping[str, str] | None) -> list[str]:
    if spec.scorers is not None:
        for s in spec.scorers:
            if s not in known:
                raise _unknown("scorer", s, known, "List scorers of the run under 'scorers'.")
        return list(spec.scorers)
    generic = spec.label_column in labels.columns
    if kinds:
        chosen = [s for s in known if s in kinds and (generic or s in labels.columns)]
    else:
        chosen = [s for s in known if s in labels.columns]
        if not chosen and generic and len(known) == 1:
            chosen = list(known)
    if not chosen:
        raise InputError(f"{_source(labels)}: cannot tell which scorer the labels are for (judges: "
                         f"{', '.join(kinds or {}) or 'not given'}; columns: "
                         f"{', '.join(map(str, labels.columns))}). Set 'scorers', or name a label column "
                         f"after each scorer; the run's scorers: {', '.join(known)}")
    return chosen


def _infer_scale(scores: pd.DataFrame, raw_labels: pd.Series) -> str:
    """pass_fail when the scorer's ok values are 0/1 with a matching pass flag; with no ok score,
    pass_fail when some label is a pass/fail word; else ordinal."""
    ok = scores[scores["status"] == "ok"]
    if len(ok):
        values = ok["value"].to_numpy(dtype=np.float64)
        passed = ok["passed"].to_numpy(dtype=object)
        binary = bool(np.isin(values, (0.0, 1.0)).all())
        flags = all(isinstance(p, bool | np.bool_) for p in passed)
        return PASS_FAIL if binary and flags and all(bool(p) == (v == 1.0) for p, v in
                                                       zip(passed, values, strict=True)) else ORDINAL
    words = [v for v in raw_labels if isinstance(v, str) and v.strip().lower() in PASS_FAIL_WORDS
             and _whole(v) is None]
    return PASS_FAIL if words else ORDINAL


# --------------------------------------------------------------------------- statistics


def _consensus(values: list[Any], kind: str) -> Any:
    """Majority label (nominal) or median (ordinal); None on a tie / a median between labels."""
    if kind == "nominal":
        top = Counter(values).most_common()
        return top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else None
    med = float(np.median(np.asarray(values, dtype=np.float64)))
    if not med.is_integer():
        return None
    return bool(med) if isinstance(values[0], bool) else int(med)


def _row(scorer: str, slice_: str, raters: str, est: dict[str, Any], n_excluded: int, counts: tuple[int, int],
         min_items: int) -> dict[str, Any]:
    row = {"scorer": scorer, "slice": slice_, "statistic": est["statistic"], "raters": raters,
           "value": est["value"], "ci_low": est["ci_low"], "ci_high": est["ci_high"], "n": int(est["n"]),
           "n_excluded": n_excluded, "n_undetermined": counts[0], "n_error": counts[1],
           "method": est["method"], "status": est["status"], "note": est["note"]}
    if row["n"] < min_items:
        row.update(value=math.nan, ci_low=math.nan, ci_high=math.nan, status=TOO_FEW,
                   note=f"{row['n']} items used, fewer than min_items={min_items}")
    return row


def _agreement_rows(judge: list[Any], human: list[Any], cats: list[Hashable], kind: str, weights: str,
                    confidence: float) -> list[dict[str, Any]]:
    name = "cohen_kappa" if kind == "nominal" else f"weighted_kappa_{weights}"
    if not judge:
        method = "Wilson score interval"
        return [{"statistic": s, "value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0,
                 "method": m, "status": "undefined", "note": "no item to compare"}
                for s, m in (("accuracy", method), (name, "Fleiss-Cohen-Everitt (1969) large-sample SE, "
                                                          "normal interval"))]
    tab = judge_agreement(pd.Series(judge, dtype=object), pd.Series(human, dtype=object), kind=kind,  # type: ignore[arg-type]
                          weights=weights, labels=cats, confidence=confidence)  # type: ignore[arg-type]
    return tab.drop(columns=["group", "n_excluded"]).to_dict("records")


def _alpha(matrix: np.ndarray, level: str, confidence: float, replicates: int, seed: int) -> dict[str, Any]:
    name = f"krippendorff_alpha_{level}"
    if matrix.shape[1] == 0:
        return {"statistic": name, "value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0,
                "method": "percentile bootstrap over units", "status": "undefined",
                "note": "no case has 2 human labels and a determined judge score"}
    est: Agreement = krippendorff_alpha(matrix, level=level, confidence=confidence,  # type: ignore[arg-type]
                                        replicates=replicates, seed=seed)
    r = est.row()
    return {k: r[k] for k in ("statistic", "value", "ci_low", "ci_high", "n", "method", "status", "note")}


def _tags(value: Any) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(t) for t in value)


def _one_scorer(scorer: str, scale: str, scores: pd.DataFrame, labels: pd.DataFrame, keys: list[tuple],
                spec: CalibrationSpec, confidence: float, replicates: int, seed: int,
                several: bool) -> tuple[list[dict[str, Any]], int]:
    """Rows of the table for one scorer, and the number of blank labels."""
    source, rows = _source(labels), _rows(labels)
    column = scorer if scorer in labels.columns else spec.label_column
    if column not in labels.columns:
        raise InputError(f"{source}: no label column for scorer {scorer!r}: give a column named {scorer!r} "
                         f"or {spec.label_column!r} (label_column); columns: "
                         f"{', '.join(map(str, labels.columns))}")
    human = _parse_labels(labels[column], rows, scale, source, column, scorer)
    blanks = sum(h is None for h in human)
    kind = spec.kind or ("nominal" if scale == PASS_FAIL else "ordinal")
    own = scores[scores["scorer"] == scorer]
    own_variant = [str(v) for v in own["variant"]]
    own_case = [str(c) for c in own["case_id"]]
    own_status = [str(x) for x in own["status"]]
    own_value = own["value"].to_numpy(dtype=object)
    own_passed = own["passed"].to_numpy(dtype=object)
    own_tags = [_tags(t) for t in own["tags"]]
    index = {(v, c, int(s)): i for i, (v, c, s) in enumerate(zip(own_variant, own_case, own["sample"],
                                                                 strict=True))}
    ratings: dict[int, list[Any]] = {}  # position in `own` -> human labels
    for key, h in zip(keys, human, strict=True):
        pos = index.get(key)
        if pos is None:
            raise InputError(f"the scores table has no {scorer!r} score for variant {key[0]!r}, case "
                             f"{key[1]!r}, sample {key[2]}, though other scorers scored it; pass the run's "
                             "full score table")
        ratings.setdefault(pos, [])
        if h is not None:
            ratings[pos].append(h)
    items = sorted(ratings)
    judge: list[Any] = []
    status = [own_status[p] for p in items]
    for pos, st in zip(items, status, strict=True):
        if st != "ok":
            judge.append(None)
        elif scale == PASS_FAIL:
            if _blank(own_passed[pos]):
                raise InputError(f"scorer {scorer!r} has no pass/fail outcome on case {own_case[pos]!r} "
                                 "(it has no pass rule); calibrate its value instead: use whole-number "
                                 f"labels and pass judge_kinds={{{scorer!r}: 'ordinal'}}")
            judge.append(bool(own_passed[pos]))
        else:
            w = None if _blank(own_value[pos]) else _whole(float(own_value[pos]))
            if w is None:
                raise InputError(f"scorer {scorer!r} gave case {own_case[pos]!r} the value "
                                 f"{own_value[pos]!r}, not a whole number; scale calibration compares "
                                 "whole-number scores with whole-number human labels")
            judge.append(w)
    humans = [ratings[p] for p in items]
    if scale == PASS_FAIL:
        cats: list[Hashable] = [False, True]
    else:
        seen = [j for j in judge if j is not None] + [h for hs in humans for h in hs]
        cats = list(range(min(seen), max(seen) + 1)) if seen else []
    consensus = [_consensus(hs, kind) if hs else None for hs in humans]
    slices: dict[str, list[int]] = {"overall": list(range(len(items)))}
    tag_members: dict[str, list[int]] = {}
    for k, pos in enumerate(items):
        for t in own_tags[pos]:
            tag_members.setdefault(f"tag={t}", []).append(k)
    slices.update({t: tag_members[t] for t in sorted(tag_members)})
    variants = list(dict.fromkeys(own_variant[p] for p in items))
    if len(variants) > 1:
        for v in variants:
            slices[f"variant={v}"] = [k for k, p in enumerate(items) if own_variant[p] == v]
    out: list[dict[str, Any]] = []
    level = kind
    vs = ("judge vs majority" if kind == "nominal" else "judge vs median") if several else "judge vs human"
    for name, members in slices.items():
        labelled = [k for k in members if humans[k]]
        counts = (sum(status[k] == "undetermined" for k in labelled),
                  sum(status[k] == "error" for k in labelled))
        decided = [k for k in labelled if status[k] == "ok"]
        used = [k for k in decided if consensus[k] is not None]
        excluded = len(members) - len(used) - counts[0] - counts[1]
        for est in _agreement_rows([judge[k] for k in used], [consensus[k] for k in used], cats, kind,
                                   spec.weights, confidence):
            out.append(_row(scorer, name, vs, est, excluded, counts, spec.min_items))
        if not several:
            continue
        units = [k for k in decided if len(humans[k]) >= 2]
        width = max((len(humans[k]) for k in units), default=0)
        mat = np.full((width + 1, len(units)), np.nan)
        for u, k in enumerate(units):
            vals = [float(h) for h in humans[k]]
            mat[: len(vals), u] = vals
            mat[width, u] = float(judge[k])
        excluded = len(members) - len(units) - counts[0] - counts[1]
        out.append(_row(scorer, name, "humans", _alpha(mat[:width], level, confidence, replicates, seed),
                        excluded, counts, spec.min_items))
        out.append(_row(scorer, name, "humans + judge", _alpha(mat, level, confidence, replicates, seed),
                        excluded, counts, spec.min_items))
    return out, blanks


def calibrate(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    spec: CalibrationSpec,
    *,
    judge_kinds: Mapping[str, str] | None = None,
    confidence: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
) -> Calibration:
    """Agreement of judges with human labels, overall, per tag and per labelled variant.

    ``scores``: a run's score table (``SuiteResult.scores``). ``labels``: from
    :func:`load_labels` (or a DataFrame of the same shape). ``judge_kinds``: scorer ->
    "pass_fail" or "ordinal" (:func:`judge_scales` of the suite's scorers); scorers not in it
    are inferred from their scores. ``replicates``/``seed``: the bootstrap of Krippendorff's
    alpha (several raters only). Returns the table (``CALIBRATION_COLUMNS``) and the counts.
    """
    _check_scores(scores)
    labels = _validated(labels, spec)
    source = _source(labels)
    if judge_kinds is not None:
        bad = {k: v for k, v in judge_kinds.items() if v not in SCALES}
        if bad:
            raise InputError(f"judge_kinds values must be one of {', '.join(SCALES)}; got {bad!r}")
    known_variants = [str(v) for v in dict.fromkeys(scores["variant"])]
    known_scorers = [str(s) for s in dict.fromkeys(scores["scorer"])]
    names, keep = _variants(labels, spec, known_variants)
    chosen = _scorers(labels, spec, known_scorers, judge_kinds)
    ids = labels[spec.id_column].to_numpy(dtype=object)
    samples = labels[SAMPLE].to_numpy() if SAMPLE in labels.columns else np.zeros(len(labels), dtype=np.int64)
    scored = {(str(v), str(c), int(s)) for v, c, s in
              zip(scores["variant"], scores["case_id"], scores["sample"], strict=True)}
    keys = [(str(v), str(c), int(s)) for v, c, s in zip(names, ids, samples, strict=True)]
    matched = np.array([k in scored for k in keys], dtype=bool) & keep
    unmatched = ~np.array([k in scored for k in keys], dtype=bool) & keep
    if not matched.any():
        theirs = ", ".join(map(repr, list(dict.fromkeys(ids[unmatched]))[:3]))
        ours = ", ".join(map(repr, list(dict.fromkeys(scores["case_id"]))[:3]))
        raise InputError(f"{source}: none of the {int(keep.sum())} label rows matches a scored output (e.g. "
                         f"case ids {theirs}; the run has {ours}, ...). Check "
                         f"'id_column' ({spec.id_column!r}), 'variant' and the file.")
    use = labels[matched]
    use_keys = [k for k, m in zip(keys, matched, strict=True) if m]
    several = spec.rater_column is not None
    scales: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    blanks: dict[str, int] = {}
    for scorer in chosen:
        column = scorer if scorer in use.columns else spec.label_column
        raw = use[column] if column in use.columns else pd.Series([], dtype=object)
        scale = (judge_kinds or {}).get(scorer) or _infer_scale(scores[scores["scorer"] == scorer], raw)
        scales[scorer] = scale
        got, blanks[scorer] = _one_scorer(scorer, scale, scores, use, use_keys, spec, confidence, replicates,
                                          seed, several)
        rows.extend(got)
    table = pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))
    for col in ("value", "ci_low", "ci_high"):
        table[col] = table[col].astype(np.float64)
    for col in ("n", "n_excluded", "n_undetermined", "n_error"):
        table[col] = table[col].astype(np.int64)
    counts = LabelCounts(
        source=source, sha256=labels.attrs.get("sha256"), rows=len(labels), matched_rows=int(matched.sum()),
        unmatched_rows=int(unmatched.sum()),
        unmatched_ids=tuple(str(i) for i in list(dict.fromkeys(ids[unmatched]))[:MAX_LISTED]),
        other_variant_rows=int((~keep).sum()), items=len(set(use_keys)),
        raters=int(use[spec.rater_column].nunique()) if several else 1,
        variants=tuple(dict.fromkeys(k[0] for k in use_keys)),
        sample="the labels' sample column" if SAMPLE in labels.columns else "0",
        scorers=tuple(chosen), scales=scales, blank_labels=blanks)
    return Calibration(table, counts)
