"""Command line over the prediction cache: ``assay cache info`` and ``assay cache clear``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assay._errors import InputError
from assay.models import PredictionCache, default_cache_dir

console = Console(stderr=False)

cache_app = typer.Typer(no_args_is_help=True, help="Inspect and clear the prediction cache.")

DirOption = Annotated[Path | None, typer.Option(
    "--dir", help="Cache folder (default: $ASSAY_CACHE_DIR, else $XDG_CACHE_HOME/assay/predictions, "
                  "else ~/.cache/assay/predictions).")]


#: characters of a key shown by 'info'; 'clear --key' takes any unique prefix this long or longer
PREFIX = 16
MIN_PREFIX = 6


def _cache(folder: Path | None) -> PredictionCache:
    return PredictionCache(folder if folder is not None else default_cache_dir())


def _full_key(cache: PredictionCache, key: str) -> str | None:
    """The one cached key starting with ``key`` (at least MIN_PREFIX characters), or None."""
    key = key.strip().lower()
    if len(key) < MIN_PREFIX:
        raise InputError(f"--key: give at least {MIN_PREFIX} characters of a key, as 'assay cache info' "
                         f"lists them; got {key!r}")
    matches = [k for k in cache.info()["key"] if k.startswith(key)]
    if len(matches) > 1:
        shown = ", ".join(m[:PREFIX] for m in matches)
        raise InputError(f"--key: {key!r} starts {len(matches)} keys ({shown}); give more characters")
    return matches[0] if matches else None


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@cache_app.command("info")
def cache_info(folder: DirOption = None) -> None:
    """List the cached models: key, rows, shards, size, last written."""
    cache = _cache(folder)
    info = cache.info()
    if info.empty:
        console.print(f"The prediction cache at {cache.root} is empty.")
        return
    table = Table(title=f"Prediction cache {cache.root}", title_justify="left")
    table.add_column("key (prefix)", no_wrap=True)
    for col in ("rows", "shards", "size"):
        table.add_column(col, justify="right")
    table.add_column("modified (UTC)")
    for r in info.itertuples():
        table.add_row(r.key[:PREFIX], f"{r.rows:,}", str(r.shards), _size(r.bytes),
                      r.modified.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)
    console.print(f"{len(info)} model key(s), {int(info['rows'].sum()):,} rows, "
                  f"{_size(int(info['bytes'].sum()))}")


@cache_app.command("clear")
def cache_clear(
    key: Annotated[str | None, typer.Option(
        "--key", help="Only this model key, or a unique prefix of it (see 'assay cache info').")] = None,
    folder: DirOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove cached predictions: one model key, or all of them."""
    cache = _cache(folder)
    if key is not None:
        full = _full_key(cache, key)
        if full is None:
            console.print(f"No entries under key {key} in {cache.root}.")
            return
        key = full
    what = f"key {key}" if key else "every entry"
    if key is None and cache.info().empty:
        console.print(f"The prediction cache at {cache.root} is empty; nothing to clear.")
        return
    if not yes and not typer.confirm(f"Remove {what} from the prediction cache at {cache.root}?"):
        console.print("Nothing removed.")
        return
    entries, size = cache.clear(key)
    console.print(f"Removed {entries:,} entries ({_size(size)}) from {cache.root}.")
