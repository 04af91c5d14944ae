"""The safety tables of a suite run: failure rates per check and attack family (and per attack
variant), with intervals clustered by seed prompt, and the failing examples with sensitive
values masked.

A *check* is a safety scorer (``injection``, ``canary``, ``refusal_correct``, ``pii_leak``,
``pii``, ``toxicity``) under its suite name. Its failures are its ok scores that did not pass:
an obeyed injection, a leaked canary, a wrong refusal decision, a leak, a toxic output.
Undetermined and error scores are counted beside the rate, never in it. A refusal check adds
two rows of its own: ``over_refusal`` (should-answer cases refused) and ``under_refusal``
(should-refuse cases answered). Families and variants come from the cases' ``vars``
(``family``, ``variant``); clusters from the cases' ``cluster`` (the seed prompt).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay.safety._stats import clustered_rate

#: the scorer kinds whose failures are safety findings
SAFETY_KINDS = ("injection", "canary", "refusal_correct", "pii_leak", "pii", "toxicity")
SAFETY_COLUMNS = ["variant", "check", "by", "level", "n", "clusters", "failures", "rate", "ci_low", "ci_high",
                  "n_eff", "deff", "method", "n_undetermined", "n_error"]
FAILURE_COLUMNS = ["variant", "check", "family", "attack", "case_id", "sample", "prompt", "output", "reason"]


def safety_checks(scorers: list[Any]) -> dict[str, str]:
    """Suite scorer label -> kind, for the scorers that are safety checks."""
    return {s.label: s.kind for s in scorers if getattr(s, "kind", None) in SAFETY_KINDS}


def _row(variant: str, check: str, by: str, level: str, sel: pd.DataFrame,
         confidence: float) -> dict[str, Any]:
    ok = sel[(sel["status"] == "ok") & sel["passed"].notna()]
    r = clustered_rate(~ok["passed"].astype(bool).to_numpy(), ok["cluster"].to_numpy(), confidence)
    return {"variant": variant, "check": check, "by": by, "level": level, "n": r.n, "clusters": r.clusters,
            "failures": r.failures, "rate": r.rate, "ci_low": r.low, "ci_high": r.high, "n_eff": r.n_eff,
            "deff": r.deff, "method": r.method,
            "n_undetermined": int((sel["status"] == "undetermined").sum()),
            "n_error": int((sel["status"] == "error").sum())}


def safety_table(scores: pd.DataFrame, cases: list[Any], checks: dict[str, str],
                 confidence: float) -> pd.DataFrame:
    """Failure rates per variant and check: overall (``by`` all), per family and per attack
    variant, and for refusal checks the over- and under-refusal rates (``SAFETY_COLUMNS``)."""
    rows: list[dict[str, Any]] = []
    sel_all = scores[scores["scorer"].isin(list(checks))]
    if sel_all.empty:
        return pd.DataFrame(columns=SAFETY_COLUMNS)
    by_id = {c.id: c for c in cases}
    ids = sel_all["case_id"].astype(str)
    frame = sel_all.assign(
        family=[str(by_id[i].vars.get("family", "all")) if i in by_id else "all" for i in ids],
        attack=[str(by_id[i].vars.get("variant", "original")) if i in by_id else "original" for i in ids],
        should_refuse=[by_id[i].vars.get("should_refuse") if i in by_id else None for i in ids])
    if "cluster" not in frame.columns:
        frame = frame.assign(cluster=frame["case_id"])
    for variant in dict.fromkeys(frame["variant"]):
        for check, kind in checks.items():
            g = frame[(frame["variant"] == variant) & (frame["scorer"] == check)]
            if g.empty:
                continue
            rows.append(_row(variant, check, "all", "all", g, confidence))
            for fam in dict.fromkeys(g["family"]):
                rows.append(_row(variant, check, "family", fam, g[g["family"] == fam], confidence))
            attacks = list(dict.fromkeys(g["attack"]))
            if len(attacks) > 1:
                for a in attacks:
                    rows.append(_row(variant, check, "variant", a, g[g["attack"] == a], confidence))
            if kind == "refusal_correct":
                flag = g["should_refuse"].map(lambda v: v if isinstance(v, bool) else None)
                for name, want in (("over_refusal", False), ("under_refusal", True)):
                    part = g[(flag == want).to_numpy(dtype=bool)]
                    if not part.empty:
                        rows.append(_row(variant, name, "all", "all", part, confidence))
                        for fam in dict.fromkeys(part["family"]):
                            rows.append(_row(variant, name, "family", fam, part[part["family"] == fam],
                                             confidence))
    return pd.DataFrame(rows, columns=SAFETY_COLUMNS)


def _prompt(case: Any) -> str:
    if case is None:
        return ""
    users = [m["content"] for m in case.messages if m.get("role") == "user"]
    return str(users[-1] if users else case.input or "")


def masker(case: Any) -> Any:
    """Masks the case's canary token and any PII or secret in a text shown in a report."""
    secrets = [str(case.vars["canary"])] if case is not None and case.vars.get("canary") else []

    def mask(text: str) -> str:
        from assay.safety.pii import mask_text

        if not isinstance(text, str):  # a missing answer (NaN, None) has nothing to mask
            return text

        for s in secrets:
            text = text.replace(s, s[:3] + "\u2026[canary masked]")
        return mask_text(text)
    return mask


def safety_failures(scores: pd.DataFrame, outputs: pd.DataFrame, cases: list[Any], checks: dict[str, str],
                    limit: int = 25) -> pd.DataFrame:
    """The failing cases of each variant and check (at most ``limit`` each), prompt and output
    with canary tokens, PII and secrets masked (``FAILURE_COLUMNS``)."""
    failed = scores[scores["scorer"].isin(list(checks)) & (scores["status"] == "ok")
                    & (scores["passed"].astype("boolean") == False)]  # noqa: E712 - nullable column
    if failed.empty:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    by_id = {c.id: c for c in cases}
    text = {(str(r.variant), str(r.case_id), int(r.sample)): r.text for r in outputs.itertuples(index=False)}
    rows = []
    # attacks first (what a reviewer looks at first), then refusals, leaks and toxicity
    rank = {label: SAFETY_KINDS.index(kind) for label, kind in checks.items()}
    order = {v: i for i, v in enumerate(dict.fromkeys(scores["variant"]))}
    failed = failed.assign(_v=failed["variant"].map(order), _rank=failed["scorer"].map(rank)).sort_values(
        ["_v", "_rank"], kind="stable")
    for (variant, check), g in failed.groupby(["variant", "scorer"], sort=False):
        for r in g.head(limit).itertuples(index=False):
            case = by_id.get(str(r.case_id))
            mask = masker(case)
            out = text.get((str(variant), str(r.case_id), int(r.sample))) or ""
            rows.append({"variant": variant, "check": check,
                         "family": str(case.vars.get("family", "")) if case else "",
                         "attack": str(case.vars.get("variant", "")) if case else "",
                         "case_id": r.case_id, "sample": int(r.sample), "prompt": mask(_prompt(case)),
                         "output": mask(str(out)), "reason": mask(str(r.reason))})
    out_frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
    return out_frame.astype({"sample": np.int64})
