"""LLM suite cases (inline, JSONL, CSV, Parquet) and prompt templates: what the model is
sent, content hashes, and errors that name the file, row, case and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from assay._errors import InputError
from assay.llm._cases import Case, cases_sha256, load_cases
from assay.llm._prompts import PromptSpec, render_messages

CASES = [
    {"id": "c1", "input": "What is 2+2?", "expected": "4", "tags": ["math"]},
    {"id": "c2", "input": "Capital of France?", "expected": "Paris",
     "context": [{"id": "d1", "text": "Paris is the capital of France."}], "tags": ["geo", "rag"],
     "vars": {"lang": "en"}},
    {"id": "c3", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                              {"role": "user", "content": "bye?"}]},
]


def test_inline_jsonl_csv_and_parquet_give_the_same_cases(tmp_path: Path) -> None:
    inline = load_cases(CASES, tmp_path)
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(c) for c in CASES) + "\n\n")
    frame = pd.DataFrame([{**c, "tags": ";".join(c.get("tags", [])),
                           **{k: json.dumps(c[k]) for k in ("context", "messages", "vars") if k in c}}
                          for c in CASES])
    frame.to_csv(tmp_path / "c.csv", index=False)
    frame.to_parquet(tmp_path / "c.parquet")
    for name in ("c.jsonl", "c.csv", "c.parquet"):
        got = load_cases(name, tmp_path)
        assert got == inline, name
    assert inline[1].context == ({"id": "d1", "text": "Paris is the capital of France."},)
    assert inline[1].tags == ("geo", "rag") and inline[1].vars == {"lang": "en"}
    assert cases_sha256(inline) == cases_sha256(load_cases("c.jsonl", tmp_path))
    changed = [dict(c) for c in CASES]
    changed[0]["expected"] = "four"
    assert cases_sha256(load_cases(changed, tmp_path)) != cases_sha256(inline)


@pytest.mark.parametrize(("cases", "message"), [
    ([{"input": "x"}], r"cases\[0\]: the case has no 'id'"),
    ([{"id": "a"}], r"case 'a'\): give 'input' .* or 'messages'"),
    ([{"id": "a", "input": "x"}, {"id": "a", "input": "y"}], r"case id 'a' repeats \(row 1 and row 2\)"),
    ([{"id": "a", "input": "x", "answer": "y"}], r"unknown case field\(s\) 'answer'.*under 'vars'"),
    ([{"id": "a", "messages": [{"role": "robot", "content": "x"}]}], r"messages\[0\] must be"),
    ([{"id": "a", "input": "x", "context": [{"id": "d"}]}], r"context\[0\] must be text or \{id, text\}"),
    ([], "no cases"),
])
def test_bad_cases_are_named(tmp_path: Path, cases: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_cases(cases, tmp_path)


def test_file_errors_name_the_file_and_row(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "input": "x"}\n{"id": "b", \n')
    with pytest.raises(InputError, match=r"bad.jsonl line 2: not valid JSON"):
        load_cases("bad.jsonl", tmp_path)
    bad = pd.DataFrame([{"id": "a", "input": "x", "context": "[not json"}])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=r"bad.csv row 1 \(case 'a'\): 'context' is not valid JSON"):
        load_cases("bad.csv", tmp_path)
    with pytest.raises(InputError, match="cases file not found"):
        load_cases("missing.jsonl", tmp_path)


def test_templates_render_case_fields_and_conversations() -> None:
    c1, c2, c3 = load_cases(CASES, Path("."))
    rag = PromptSpec(name="rag", system="Answer in {{ lang | default('en') }}.",
                     template="{% for d in context %}[{{ d.id }}] {{ d.text }}\n{% endfor %}Q: {{ input }}")
    assert render_messages(rag, c2) == (
        {"role": "system", "content": "Answer in en."},
        {"role": "user", "content": "[d1] Paris is the capital of France.\nQ: Capital of France?"})
    plain = PromptSpec(name="plain")
    assert render_messages(plain, c1) == ({"role": "user", "content": "What is 2+2?"},)
    # a conversation keeps its turns; the system text goes first
    assert render_messages(PromptSpec(name="s", system="Be brief."), c3) == (
        {"role": "system", "content": "Be brief."}, *c3.messages)
    few_shot = PromptSpec(name="fs", messages=[{"role": "user", "content": "1+1?"},
                                               {"role": "assistant", "content": "2"},
                                               {"role": "user", "content": "{{ input }}"}])
    assert render_messages(few_shot, c1)[-1] == {"role": "user", "content": "What is 2+2?"}


def test_template_errors_and_prompt_hash() -> None:
    c1 = Case("c1", "x")
    with pytest.raises(InputError, match=r"prompt 'p', case 'c1': 'lang' is undefined; add it"):
        render_messages(PromptSpec(name="p", template="{{ lang }}: {{ input }}"), c1)
    with pytest.raises(ValueError, match="template syntax error at line 1"):
        PromptSpec(name="p", template="{{ input ")
    with pytest.raises(ValueError, match="not both"):
        PromptSpec(name="p", template="x", messages=[{"role": "user", "content": "y"}])
    a = PromptSpec(name="p", template="Q: {{ input }}")
    assert a.sha256 == PromptSpec(name="p", template="Q: {{ input }}").sha256
    assert a.sha256 != PromptSpec(name="p", template="Q:  {{ input }}").sha256
    # the sandbox refuses attribute tricks
    with pytest.raises(InputError, match="the template failed"):
        escape = "{{ input.__class__.__mro__[1].__subclasses__() }}"
        render_messages(PromptSpec(name="p", template=escape), c1)
