"""PII and secret detectors on the labelled set: precision and recall per kind with Wilson
intervals, and throughput; scrubadub side by side where it is installed.

Usage::

    python benchmarks/bench_pii.py [--data tests/data/pii_labelled.jsonl] [--repeat 3]
                                   [--confidence 0.95] [--out benchmarks/out] [--skip-peers]

Data: the frozen labelled set built by ``scripts/build_pii_labelled_set.py`` (3,720 texts:
Faker positives in 8 locales, mixed records and 240 tricky negatives per kind). It is
synthetic and templated: figures on it say how the detectors do on these formats and these
traps, not on free text in the wild.

Measures (``evaluate_detector``): a prediction counts when it overlaps a gold span of the same
kind (same scheme on the per-scheme rows); precision over predictions, recall over gold spans,
Wilson intervals; ``neg flagged`` is the number of tricky negatives aimed at the kind that got
a prediction of the kind. Throughput: texts per second over the whole set (best of
``--repeat`` passes, one process, after one warm-up pass), for all kinds together and for each
kind alone (``find_pii(text, kinds=[kind])``).

Peer: scrubadub 2.0.1 (``pip install scrubadub==2.0.1``; it does not change numpy, pandas or
scipy), run with a ``Scrubber`` for each record's own locale (its best case: its phone and id
detectors are locale-specific). Its filth types map to assay kinds as email -> email, phone ->
phone, credit_card -> card, social_security_number -> national_id/us_ssn (en_US),
national_insurance_number -> national_id/uk_nino (en_GB) and credential -> secret (it finds
``username: ... password: ...`` pairs only, so that row says little); it has no IBAN or IP
detector, and its other types (url, twitter, postcode, driving licence, ...) are outside
assay's kinds and are not counted. Compared rows: the kinds both cover, and the two id schemes.

Writes ``OUT/bench_pii.csv`` (one row per detector, kind and scheme).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from assay.safety.pii import KINDS, Finding, evaluate_detector, find_pii, load_labelled

REPO = Path(__file__).resolve().parents[1]
SCRUBADUB_KINDS = {"email": ("email", "email"), "phone": ("phone", "phone"), "credit_card": ("card", "card"),
                   "social_security_number": ("national_id", "us_ssn"),
                   "national_insurance_number": ("national_id", "uk_nino"),
                   "credential": ("secret", "credential")}
SCRUBADUB_DETECTORS = {"email": ["email"], "phone": ["phone"], "card": ["credit_card"],
                       "national_id": ["social_security_number", "national_insurance_number"],
                       "secret": ["credential"]}


def throughput(find: Callable[[str], Any], texts: Sequence[str], repeat: int) -> float:
    """Texts per second: best of ``repeat`` timed passes after one warm-up pass."""
    for t in texts:
        find(t)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for t in texts:
            find(t)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


class Scrubadub:
    """scrubadub as a ``find`` function: a Scrubber per locale, filth mapped to assay kinds."""

    def __init__(self, locales: dict[str, str], detectors: list[str] | None = None) -> None:
        import scrubadub

        self.locales = locales  # text -> locale
        self.detectors = detectors
        self.scrubbers: dict[str, Any] = {}
        self._scrubadub = scrubadub
        self.unmapped = 0

    def scrubber(self, locale: str) -> Any:
        if locale not in self.scrubbers:
            if self.detectors is None:
                self.scrubbers[locale] = self._scrubadub.Scrubber(locale=locale)
            else:
                base = self._scrubadub.Scrubber(locale=locale)
                keep = [d for d in self.detectors if d in base._detectors]
                self.scrubbers[locale] = self._scrubadub.Scrubber(detector_list=keep, locale=locale)
        return self.scrubbers[locale]

    def __call__(self, text: str) -> list[Finding]:
        out = []
        for filth in self.scrubber(self.locales.get(text, "en_US")).iter_filth(text):
            mapped = SCRUBADUB_KINDS.get(filth.type)
            if mapped is None:
                self.unmapped += 1
                continue
            out.append(Finding(mapped[0], mapped[1], filth.beg, filth.end, text[filth.beg:filth.end]))
        return out


def fmt(table: pd.DataFrame) -> str:
    rows = []
    for _, r in table.iterrows():
        def ci(v: float, lo: float, hi: float) -> str:
            return "n/a" if v != v else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
        rows.append({"detector": r.detector, "kind": r.kind if r.scheme == "*" else f"{r.kind}/{r.scheme}",
                     "gold": r.n_gold, "recall [CI]": ci(r.recall, r.recall_low, r.recall_high),
                     "pred": r.n_pred, "precision [CI]": ci(r.precision, r.precision_low, r.precision_high),
                     "neg flagged": f"{r.neg_flagged}/{r.neg_records}" if r.scheme == "*" else "",
                     "texts/s": "" if r.texts_per_s != r.texts_per_s else f"{r.texts_per_s:,.0f}"})
    return pd.DataFrame(rows).to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / "tests" / "data" / "pii_labelled.jsonl")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args(argv)

    records = load_labelled(args.data)
    texts = [r["text"] for r in records]
    print(f"{len(records)} texts from {args.data}")

    ours = evaluate_detector(records, confidence=args.confidence)
    ours.insert(0, "detector", "assay")
    speed = {k: throughput(lambda t, k=k: find_pii(t, [k]), texts, args.repeat) for k in KINDS}
    ours["texts_per_s"] = [speed[k] if s == "*" else float("nan") for k, s in zip(ours.kind, ours.scheme,
                                                                                   strict=True)]
    total = throughput(find_pii, texts, args.repeat)
    print(f"\nassay find_pii, all kinds: {total:,.0f} texts/s (best of {args.repeat})\n")
    print(fmt(ours))
    tables = [ours]

    if not args.skip_peers:
        try:
            import scrubadub  # noqa: F401
        except ImportError:
            print("\nscrubadub is not installed (pip install scrubadub==2.0.1): no side-by-side table")
        else:
            locales = {r["text"]: r.get("locale", "en_US") for r in records}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                peer_find = Scrubadub(locales)
                peer = evaluate_detector(records, find=peer_find, confidence=args.confidence,
                                         by_scheme=("national_id",))
                peer_total = throughput(peer_find, texts, max(1, args.repeat - 2))
                peer_speed = {k: throughput(Scrubadub(locales, d), texts, max(1, args.repeat - 2))
                              for k, d in SCRUBADUB_DETECTORS.items()}
            peer.insert(0, "detector", "scrubadub")
            peer["texts_per_s"] = [peer_speed.get(k, float("nan")) if s == "*" else float("nan")
                                   for k, s in zip(peer.kind, peer.scheme, strict=True)]
            tables.append(peer)
            both = pd.concat([ours, peer], ignore_index=True)
            keep = (both.kind.isin(["email", "phone", "card", "secret"]) & (both.scheme == "*")) | \
                (both.kind.eq("national_id") & both.scheme.isin(["us_ssn", "uk_nino"]))
            side = both[keep].sort_values(["kind", "scheme", "detector"], kind="stable")
            print(f"\nscrubadub 2.0.1, a Scrubber per record locale: {peer_total:,.0f} texts/s with its "
                  f"default detectors; {peer_find.unmapped} findings of types outside assay's kinds not "
                  "counted")
            print("side by side on the kinds both cover (scrubadub 'secret' = its credential detector "
                  "only):\n")
            print(fmt(side))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_pii.csv"
    pd.concat(tables, ignore_index=True).to_csv(path, index=False)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
