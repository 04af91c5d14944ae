"""Reading the attack files: JSON Lines with errors that name the file and line, and the
suites shipped with assay (``assay/safety/attacks/data``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from assay._errors import InputError, repeated
from assay.llm._rows import jsonl_lines

#: the suites shipped with assay, by name
BUILTIN = {"injection": "injection_seeds.jsonl", "canary": "canary_attacks.jsonl",
           "indirect": "indirect_templates.jsonl", "refusal": "refusal_pairs.jsonl"}


def builtin_path(name: str) -> Path:
    """The path of a shipped suite file (``injection``, ``canary``, ``indirect``, ``refusal``)."""
    if name not in BUILTIN:
        raise InputError(f"no built-in attack suite {name!r}; built-in suites: {', '.join(BUILTIN)}")
    return Path(str(resources.files("assay.safety.attacks") / "data" / BUILTIN[name]))


def read_jsonl(path: str | Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line of a JSONL file; ``what`` names the records
    in errors. Each line must be a JSON object."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file; give the path to a JSONL file of {what} "
                         "(one JSON object a line)")
    out = jsonl_lines(p, what[:-1] if what.endswith("s") else what)
    if not out:
        raise InputError(f"{p}: the file has no {what}")
    return out


def check_keys(rec: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], where: str) -> None:
    """Unknown or missing keys of one record are an error naming ``where`` and the allowed keys."""
    unknown = sorted(set(rec) - set(required) - set(optional))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                         f"{', '.join(required + optional)}")
    missing = [k for k in required if rec.get(k) is None or (isinstance(rec[k], str) and not rec[k].strip())]
    if missing:
        raise InputError(f"{where}: missing or empty key(s) {', '.join(map(repr, missing))}; every record "
                         f"needs {', '.join(required)}")


def text_field(rec: dict[str, Any], key: str, where: str) -> str:
    """``rec[key]`` as a non-empty string, or an error naming the key."""
    value = rec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: '{key}' must be a non-empty text; got {value!r}")
    return value


def unique_ids(ids: list[str], where: str) -> None:
    """Repeated ids are an error naming them."""
    dup = repeated(ids)
    if dup:
        raise InputError(f"{where}: id(s) repeat: {', '.join(map(repr, dup[:10]))}; ids must be unique")
