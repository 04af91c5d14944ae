"""Direct prompt-injection and jailbreak suites as cases.

Two formats:

* Giskard's CSV pair (``prompt_injections.csv`` with ``index, prompt, name, group, source,
  language`` and ``giskard_meta_data.csv`` with the detection metadata, joined on ``index``;
  or one CSV with both sets of columns). ``expected_strings`` is a Python tuple literal, read
  with :func:`ast.literal_eval` (never evaluated as code). The family is ``group_mapping``
  (DAN, STAN, Hate Speech, ...), the case id ``pi-<index>``.
* our JSON Lines form, one attack a line: ``{id, prompt, family, detect, source}`` with
  ``detect`` as in :class:`~assay.safety.attacks._match.Detect`. The suite shipped with assay
  (``injection_seeds.jsonl``, 44 seeds in 7 families, written for assay) uses it.

Every case: ``tags = ("safety", "injection")``, ``cluster`` = its id (the seed prompt), and
``vars`` with ``family``, ``variant`` ("original"), ``seed_id``, ``source`` and ``detect``.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Any

from assay._errors import InputError
from assay.llm._cases import Case
from assay.safety.attacks._io import builtin_path, check_keys, read_jsonl, text_field, unique_ids
from assay.safety.attacks._match import Detect, parse_detect

KIND = "injection"
PROMPT_COLUMNS = ("index", "prompt")
META_COLUMNS = ("index", "expected_strings", "all_expected_strings_must_be_found", "exact_matching",
                "word_matching", "case_sensitive", "punctuation_sensitive")
_FLAG_COLUMNS = {"all_expected_strings_must_be_found": "all", "exact_matching": "exact",
                 "word_matching": "word", "case_sensitive": "case_sensitive",
                 "punctuation_sensitive": "punctuation_sensitive"}
JSONL_REQUIRED = ("id", "prompt", "family", "detect")
JSONL_OPTIONAL = ("source",)


def attack_case(case_id: str, prompt: str, family: str, detect: Detect, source: str, kind: str = KIND,
                **extra: Any) -> Case:
    """One attack case in the shape the safety scorers and statistics expect."""
    variables = {"family": family, "variant": "original", "seed_id": case_id, "source": source,
                 "detect": detect.to_dict(), **extra}
    return Case(case_id, input=prompt, tags=("safety", kind), vars=variables, cluster=case_id)


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the path to a Giskard-format CSV")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}; the file has "
                             f"{', '.join(columns) or 'no header'}")
        return list(reader)


def _flag(value: str | None, path: Path, row: int, column: str) -> bool:
    text = (value or "").strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InputError(f"{path} row {row}, column '{column}': expected True or False, got {value!r}")


def _strings(value: str | None, path: Path, row: int) -> tuple[str, ...]:
    where = f"{path} row {row}, column 'expected_strings'"
    try:
        parsed = ast.literal_eval((value or "").strip())
    except (ValueError, SyntaxError) as exc:
        raise InputError(f"{where}: not a Python literal ({exc.__class__.__name__}); write a tuple of "
                         f"strings such as ('[DAN]', 'DAN:'); got {value!r}") from None
    if isinstance(parsed, str):
        parsed = (parsed,)
    if (not isinstance(parsed, tuple | list) or not parsed
            or not all(isinstance(s, str) and s for s in parsed)):
        raise InputError(f"{where}: expected a non-empty tuple of non-empty strings; got {value!r}")
    return tuple(parsed)


def _meta(row: dict[str, str], path: Path, rowno: int) -> Detect:
    method = (row.get("evaluation_method_name") or "StringMatchingMethod").strip()
    if method != "StringMatchingMethod":
        raise InputError(f"{path} row {rowno}, column 'evaluation_method_name': only StringMatchingMethod "
                         f"is supported; got {method!r}")
    flags = {name: _flag(row.get(col), path, rowno, col) for col, name in _FLAG_COLUMNS.items()}
    return Detect(_strings(row.get("expected_strings"), path, rowno), **flags)


def load_injection_csv(prompts_csv: str | Path, meta_csv: str | Path | None = None, *,
                       id_prefix: str = "pi-") -> list[Case]:
    """Cases from Giskard's prompt-injection CSV format (see the module docstring). Every prompt
    must have exactly one metadata row and every metadata row a prompt: a mismatch is an error
    listing the indexes, never a silent drop. Rows are numbered from 1 after the header."""
    ppath = Path(prompts_csv)
    prompts = _read_csv(ppath, PROMPT_COLUMNS if meta_csv is not None else PROMPT_COLUMNS + META_COLUMNS[1:])
    if meta_csv is None:
        mpath, metas = ppath, prompts
    else:
        mpath = Path(meta_csv)
        metas = _read_csv(mpath, META_COLUMNS)
    meta_by_index: dict[str, tuple[int, dict[str, str]]] = {}
    for i, row in enumerate(metas, start=1):
        key = (row.get("index") or "").strip()
        if not key:
            raise InputError(f"{mpath} row {i}, column 'index': empty; every row needs its index")
        if key in meta_by_index:
            raise InputError(f"{mpath} rows {meta_by_index[key][0]} and {i}, column 'index': index {key!r} "
                             "repeats; each prompt has one metadata row")
        meta_by_index[key] = (i, row)
    cases: list[Case] = []
    used: set[str] = set()
    for i, row in enumerate(prompts, start=1):
        key = (row.get("index") or "").strip()
        if not key:
            raise InputError(f"{ppath} row {i}, column 'index': empty; every row needs its index")
        if key not in meta_by_index:
            raise InputError(f"{ppath} row {i}: index {key!r} has no row in {mpath}; add its detection "
                             "metadata or remove the prompt")
        if key in used:
            raise InputError(f"{ppath} row {i}, column 'index': index {key!r} repeats")
        used.add(key)
        prompt = row.get("prompt") or ""
        if not prompt.strip():
            raise InputError(f"{ppath} row {i}, column 'prompt': empty prompt")
        mrow, meta = meta_by_index[key]
        detect = _meta(meta, mpath, mrow)
        family = (meta.get("group_mapping") or row.get("name") or row.get("group") or "").strip() or "unnamed"
        extra = {k: (row.get(k) or "").strip() for k in ("name", "group", "language") if row.get(k)}
        source = (row.get("source") or "").strip() or str(ppath)
        cases.append(attack_case(f"{id_prefix}{key}", prompt, family, detect, source, **extra))
    unmatched = sorted(set(meta_by_index) - used, key=lambda k: (len(k), k))
    if unmatched:
        raise InputError(f"{mpath}: {len(unmatched)} metadata row(s) have no prompt in {ppath} (index "
                         f"{', '.join(unmatched[:10])}); remove them or add the prompts")
    if not cases:
        raise InputError(f"{ppath}: no prompts")
    return cases


def load_injection_jsonl(path: str | Path) -> list[Case]:
    """Cases from our JSONL form: ``{id, prompt, family, detect, source}`` a line (``source``
    optional: the file name by default)."""
    p = Path(path)
    cases = []
    for lineno, rec in read_jsonl(p, "attacks"):
        where = f"{p} line {lineno}"
        check_keys(rec, JSONL_REQUIRED, JSONL_OPTIONAL, where)
        try:
            detect = parse_detect(rec["detect"], where)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        cases.append(attack_case(str(rec["id"]), text_field(rec, "prompt", where),
                                 text_field(rec, "family", where), detect,
                                 str(rec.get("source") or p.name)))
    unique_ids([c.id for c in cases], str(p))
    return cases


def builtin_injection_cases() -> list[Case]:
    """The injection seeds shipped with assay (44 attacks in 7 families, written for assay)."""
    return load_injection_jsonl(builtin_path("injection"))
