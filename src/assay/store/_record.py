"""Recording an evaluation: ``running`` before the work, ``complete`` with the results after
it, ``failed`` or ``interrupted`` with the error when it does not finish."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from assay.store._schema import FAILED, INTERRUPTED
from assay.store._store import RunStore

if TYPE_CHECKING:
    from assay.results import EvaluationResult
    from assay.spec import EvalSpec


def _error_text(exc: BaseException) -> str:
    """The error as the user saw it, plus the innermost frames for internal errors."""
    from assay._errors import AssayError

    if isinstance(exc, AssayError):
        return f"{type(exc).__name__}: {exc}"
    return "".join(traceback.format_exception(exc, limit=-8))


def record_evaluation(
    store: RunStore,
    spec: EvalSpec,
    base_dir: str | Path,
    run: Callable[[], EvaluationResult],
    *,
    out: str | Path | None = None,
    command: str | None = None,
    rerun_of: str | None = None,
    check: Callable[[EvaluationResult], bool] | None = None,
) -> EvaluationResult:
    """Run ``run()`` as a recorded run of ``store``; ``out`` also writes the run folder
    before the run is marked complete, and ``check`` decides the ``reproduced`` flag of a
    rerun. The result carries its run id in ``result.extra["run_id"]``."""
    run_id = store.start_run(spec, base_dir, command=command, rerun_of=rerun_of)
    with recording(store, run_id):
        result = run()
        result.extra["run_id"] = run_id
        result.extra["store"] = store.display_url
        folder = result.write(out) if out is not None else None
        reproduced = check(result) if check is not None else None
        store.complete_run(run_id, result, folder=folder, reproduced=reproduced)
    return result


@contextmanager
def recording(store: RunStore, run_id: str) -> Iterator[None]:
    """Mark run ``run_id`` failed (or interrupted, on Ctrl-C) with its error when the block
    raises, and re-raise; the block marks it complete itself."""
    try:
        yield
    except BaseException as exc:
        status = INTERRUPTED if isinstance(exc, KeyboardInterrupt) else FAILED
        text = ("interrupted (Ctrl-C or SIGTERM) before the run finished"
                if status == INTERRUPTED else _error_text(exc))
        try:
            store.fail_run(run_id, text, status)
        except Exception as store_exc:  # the store is gone too: say so, keep the first error
            print(f"assay: could not mark run {run_id} as {status} in {store.display_url}: "
                  f"{store_exc}", file=sys.stderr)
        raise
