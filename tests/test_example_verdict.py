"""The shipped example end to end: it holds because of the broker-channel regression, ships
without that cohort guard, and the example CI job acts on every exit code as documented."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLE, REPO, run_subprocess, write_spec

GUARD = "no channel loses AUC"
WORKFLOW = REPO / "examples" / "ci" / "assay-gate.yml"


@pytest.fixture(scope="module")
def full_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example at its shipped size (20,000 rows, the generator's defaults)."""
    root = tmp_path_factory.mktemp("credit_default_full")
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--out", str(root / "data")],
                   check=True, capture_output=True)
    shutil.copy(EXAMPLE / "spec.yaml", root / "spec.yaml")
    return root


def test_example_holds_on_the_cohort_regression(full_example: Path) -> None:
    out = full_example / "run"
    proc = run_subprocess("evaluate", full_example / "spec.yaml", "-o", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Verdict: HOLD (exit code 1)" in proc.stdout
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["decision"] == "hold"
    failing = [r for r in verdict["rules"] if r["status"] == "fail"]
    assert [r["name"] for r in failing] == [GUARD]
    broker = [t for t in failing[0]["targets"] if t["status"] == "fail"]
    assert [t["slice"] for t in broker] == ["channel=broker"]
    assert broker[0]["high"] < -0.02  # the whole paired interval is past the margin
    summary = (out / "summary.md").read_text()
    assert summary.startswith("## ❌ assay: **HOLD**")
    assert "no channel loses AUC" in summary and "channel=broker" in summary
    # one screen: the analyses are folded into <details> blocks below the verdict
    shown, folded = [], False
    for line in summary.splitlines():
        folded = folded or line.startswith("<details>")
        if not folded:
            shown.append(line)
        folded = folded and line != "</details>"
    assert len(shown) < 60
    for title in ("Fairness", "Calibration", "Operating points", "Weak segments"):
        assert f"<details><summary><b>{title}" in summary


def test_example_ships_without_the_cohort_guard(full_example: Path) -> None:
    spec = yaml.safe_load((full_example / "spec.yaml").read_text())
    spec["gates"] = [g for g in spec["gates"] if g["name"] != GUARD]
    path = write_spec(full_example / "no_guard.yaml", spec)
    proc = run_subprocess("evaluate", path, "-o", full_example / "run_no_guard")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verdict: SHIP (exit code 0)" in proc.stdout


def test_report_only_exits_0_but_reports_the_hold(full_example: Path) -> None:
    proc = run_subprocess("evaluate", full_example / "spec.yaml", "-o", full_example / "run_r",
                          "--report-only")
    assert proc.returncode == 0
    assert "Verdict: HOLD" in proc.stdout


def _step(name: str) -> dict:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    steps = [s for job in jobs.values() for s in job["steps"]]
    return next(s for s in steps if s.get("name") == name)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("code", "job_passes", "annotation"), [
    (0, True, ""), (3, True, "::warning"), (1, False, "::error"), (2, False, "::error"),
    (4, False, "::error")])
def test_ci_job_treats_exit_3_as_a_pass_with_a_warning(code: int, job_passes: bool,
                                                       annotation: str) -> None:
    """Run the workflow's own decision step with each exit code assay can give."""
    step = _step("Act on the verdict")
    assert step["env"]["CODE"] == "${{ steps.assay.outputs.code }}"
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True,
                          env={**os.environ, "CODE": str(code)}, timeout=30)
    assert (proc.returncode == 0) == job_passes, proc.stdout
    if annotation:
        assert proc.stdout.startswith(annotation)


def test_ci_job_records_the_exit_code_without_failing_early() -> None:
    """The evaluate step must not stop at a non-zero code before the summary is posted."""
    run = _step("Evaluate and gate")["run"]
    assert run.splitlines()[0] == "set +e"
    assert 'echo "code=$?" >> "$GITHUB_OUTPUT"' in run
    publish = _step("Publish the summary")
    assert publish["if"].startswith("always()")
    assert "summary.md" in publish["run"]


def test_power_command_matches_the_power_functions(full_example: Path) -> None:
    """`assay power` prints what assay.stats' sample-size functions give, from inputs and
    from a run's comparisons (the McNemar domain of recall is the positives: rows needed
    scale by the slice's share of them)."""
    import math

    import pandas as pd

    from assay.stats import normal_n, paired_proportion_n

    proc = run_subprocess("power", "--delta", "0.02", "--discordance", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert f"{paired_proportion_n(0.02, 0.1):,} rows detect a difference of 0.02" in proc.stdout
    proc = run_subprocess("power", "--delta", "0.01", "--sd", "0.3")
    assert f"{normal_n(0.01, 0.3):,} rows detect" in proc.stdout

    out = full_example / "run_power"
    run_subprocess("evaluate", full_example / "spec.yaml", "-o", out)
    comp = pd.read_parquet(out / "comparisons.parquet")
    row = comp[(comp.metric == "recall") & (comp.slice == "overall")].iloc[0]
    share = row.discordance / row.se**2 / row.n  # positives / rows
    expected = math.ceil(paired_proportion_n(0.02, row.discordance) / share)
    proc = run_subprocess("power", "--run", out, "--metric", "recall", "--delta", "0.02")
    assert proc.returncode == 0, proc.stderr
    assert f"{expected:,}" in proc.stdout
    auc = comp[(comp.metric == "roc_auc") & (comp.slice == "overall")].iloc[0]
    expected = normal_n(0.01, auc.se * math.sqrt(auc.n))
    proc = run_subprocess("power", "--run", out, "--metric", "roc_auc", "--delta", "0.01")
    assert f"{expected:,}" in proc.stdout
    bad = run_subprocess("power", "--run", out, "--metric", "rocauc", "--delta", "0.01")
    assert bad.returncode == 2 and "--metric: give one of the compared metrics" in bad.stderr
