"""Import a user's function named ``module:function`` or ``file.py:function`` (a path
relative to the spec's folder): tools, agents and LLM providers written as Python."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay._errors import InputError


def load_function(ref: str, base_dir: Path, what: str) -> Callable[..., Any]:
    """``module:function`` or ``file.py:function`` (a path relative to ``base_dir``) imported."""
    target, _, name = ref.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target)
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise InputError(f"{what}: {path} not found; give file.py:function relative to the suite's "
                                 "folder")
            digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
            module_name = f"_assay_agent_{digest}"
            module = sys.modules.get(module_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(module_name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        fn = getattr(module, name)
    except (ImportError, AttributeError, SyntaxError) as exc:
        raise InputError(f"{what}: cannot load {ref!r} ({exc.__class__.__name__}: {exc}); give "
                         "'module:function' importable from the working directory or 'file.py:function' "
                         "relative to the suite's folder") from None
    if not callable(fn):
        raise InputError(f"{what}: {ref!r} is not a function")
    return fn  # type: ignore[no-any-return]
