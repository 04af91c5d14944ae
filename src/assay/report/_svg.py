"""Small inline-SVG charts for the HTML report: curves, reliability, confusion, forest plots.

Each builder returns :class:`markupsafe.Markup` holding one ``<svg>`` element. Every piece
of user-supplied text (model names, slice labels, class labels) goes through
:func:`markupsafe.escape`; coordinates are written with one decimal, so a chart's size
depends on its points and rows, never on the evaluated rows behind them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Model colours (Okabe-Ito, readable with colour-vision deficiencies); cycled with dashes.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#555555", "#000000"]
DASHES = ["", "6 3", "2 2", "8 3 2 3"]
GRID = "#e3e6ea"
AXIS = "#59636e"
BETTER, WORSE, UNCLEAR = "#1a7f37", "#cf222e", "#6e7781"


def color(i: int) -> str:
    """The i-th series colour."""
    return PALETTE[i % len(PALETTE)]


def dash(i: int) -> str:
    """The i-th series dash pattern (solid for the first len(PALETTE) series)."""
    return DASHES[(i // len(PALETTE)) % len(DASHES)]


def _f(v: float) -> str:
    """A coordinate with one decimal and no trailing zeros."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finite(*vs: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in vs)


def fmt(v: float | None, digits: int = 3, sign: bool = False) -> str:
    """A number for people: ``digits`` decimals for values near 1, significant digits when
    very large or small; an em dash when undefined."""
    if v is None or not math.isfinite(v):
        return "—"
    a = abs(v)
    plus = "+" if sign else ""
    if a >= 1e5:
        return f"{v:{plus}.{digits}g}"
    if a != 0 and a < 10 ** -digits:
        return f"{v:{plus}.2g}"
    if a >= 100:
        return f"{v:{plus},.1f}"
    return f"{v:{plus}.{digits}f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (about ``count`` of them)."""
    if not (_finite(lo, hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = mag * 10
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (m * mag) <= count:
            step = m * mag
            break
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-6:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi - step * 1e-6:
        ticks.append(round(v, 12))
    return ticks


def _tick_label(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-6:
        decimals += 1
    s = f"{v:.{decimals}f}"
    return "0" if float(s) == 0 else s


@dataclass(frozen=True)
class _Frame:
    """A plot area inside a chart and the mapping from data to pixels."""

    left: float
    top: float
    width: float
    height: float
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0

    def x(self, v: float) -> float:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * self.width

    def y(self, v: float) -> float:
        return self.top + self.height - (v - self.y0) / (self.y1 - self.y0) * self.height


def _svg(width: float, height: float, label: str, body: list[str], cls: str = "chart") -> Markup:
    head = (f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} '
            f'{_f(height)}" width="{_f(width)}" height="{_f(height)}" role="img" '
            f'aria-label="{escape(label)}"><title>{escape(label)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _axes(fr: _Frame, xticks: Sequence[float], yticks: Sequence[float], x_label: str,
          y_label: str) -> list[str]:
    out = []
    for t in xticks:
        x = _f(fr.x(t))
        out.append(f'<line x1="{x}" y1="{_f(fr.top)}" x2="{x}" y2="{_f(fr.top + fr.height)}" '
                   f'stroke="{GRID}"/>')
        out.append(f'<text x="{x}" y="{_f(fr.top + fr.height + 14)}" text-anchor="middle" '
                   f'class="tick">{_tick_label(t, xticks)}</text>')
    for t in yticks:
        y = _f(fr.y(t))
        out.append(f'<line x1="{_f(fr.left)}" y1="{y}" x2="{_f(fr.left + fr.width)}" y2="{y}" '
                   f'stroke="{GRID}"/>')
        out.append(f'<text x="{_f(fr.left - 5)}" y="{_f(fr.y(t) + 3.5)}" text-anchor="end" '
                   f'class="tick">{_tick_label(t, yticks)}</text>')
    out.append(f'<rect x="{_f(fr.left)}" y="{_f(fr.top)}" width="{_f(fr.width)}" '
               f'height="{_f(fr.height)}" fill="none" stroke="{AXIS}"/>')
    out.append(f'<text x="{_f(fr.left + fr.width / 2)}" y="{_f(fr.top + fr.height + 32)}" '
               f'text-anchor="middle" class="axis">{escape(x_label)}</text>')
    if y_label:
        cx, cy = fr.left - 36, fr.top + fr.height / 2
        out.append(f'<text transform="translate({_f(cx)},{_f(cy)}) rotate(-90)" text-anchor="middle" '
                   f'class="axis">{escape(y_label)}</text>')
    return out


def _path(fr: _Frame, xs: Sequence[float | None], ys: Sequence[float | None]) -> str:
    parts: list[str] = []
    move = True
    for x, y in zip(xs, ys, strict=False):
        if not _finite(x, y):
            move = True
            continue
        parts.append(f"{'M' if move else 'L'}{_f(fr.x(x))},{_f(fr.y(y))}")
        move = False
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    """One curve of a line chart."""

    name: str
    x: Sequence[float | None]
    y: Sequence[float | None]
    color: str
    dash: str = ""


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str,
               diagonal: bool = False, hlines: Sequence[tuple[float, str, str]] = (),
               vlines: Sequence[tuple[float, str, str]] = (), size: int = 290) -> Markup:
    """Curves on the unit square (ROC, precision-recall, metrics across thresholds), with an
    optional diagonal, horizontal reference lines ``(y, colour, tooltip)`` such as a
    prevalence baseline, and vertical ones ``(x, colour, tooltip)`` such as chosen
    thresholds."""
    fr = _Frame(48, 10, size, size)
    ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    body = _axes(fr, ticks, ticks, x_label, y_label)
    if diagonal:
        body.append(f'<line x1="{_f(fr.x(0))}" y1="{_f(fr.y(0))}" x2="{_f(fr.x(1))}" y2="{_f(fr.y(1))}" '
                    f'stroke="{AXIS}" stroke-dasharray="4 4"><title>chance</title></line>')
    for y, col, tip in hlines:
        if _finite(y):
            body.append(f'<line x1="{_f(fr.x(0))}" y1="{_f(fr.y(y))}" x2="{_f(fr.x(1))}" '
                        f'y2="{_f(fr.y(y))}" stroke="{col}" stroke-dasharray="4 4" opacity="0.8">'
                        f'<title>{escape(tip)}</title></line>')
    for x, col, tip in vlines:
        if _finite(x) and 0 <= x <= 1:
            body.append(f'<line x1="{_f(fr.x(x))}" y1="{_f(fr.y(0))}" x2="{_f(fr.x(x))}" '
                        f'y2="{_f(fr.y(1))}" stroke="{col}" stroke-dasharray="3 3" stroke-width="1.5">'
                        f'<title>{escape(tip)}</title></line>')
    for s in series:
        d = _path(fr, s.x, s.y)
        if d:
            extra = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            body.append(f'<path d="{d}" fill="none" stroke="{s.color}" stroke-width="2"{extra}>'
                        f'<title>{escape(s.name)}</title></path>')
    return _svg(fr.left + size + 12, fr.top + size + 40, title, body)


@dataclass(frozen=True)
class Reliability:
    """One model's reliability cells (see ``assay.metrics._curves.reliability``)."""

    name: str
    cells: dict[str, list[float]]
    color: str


def reliability_diagram(models: Sequence[Reliability], *, title: str, size: int = 290) -> Markup:
    """Observed positive share against mean score per bin, with Wilson whiskers, the
    diagonal of perfect calibration and a strip of the share of rows per bin."""
    strip = 44
    fr = _Frame(48, 10, size, size)
    ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    body = _axes(fr, ticks, ticks, "mean predicted score", "observed positive share")
    body.append(f'<line x1="{_f(fr.x(0))}" y1="{_f(fr.y(0))}" x2="{_f(fr.x(1))}" y2="{_f(fr.y(1))}" '
                f'stroke="{AXIS}" stroke-dasharray="4 4"><title>perfect calibration</title></line>')
    base = fr.top + fr.height + 42 + strip
    k = max(len(models), 1)
    for i, m in enumerate(models):
        c = m.cells
        total = sum(c.get("weight", [])) or 1.0
        share_max = max((w / total for w in c.get("weight", [])), default=1.0) or 1.0
        for lo, hi, w in zip(c["bin_low"], c["bin_high"], c["weight"], strict=False):
            bw = (fr.x(hi) - fr.x(lo)) / k
            h = (w / total) / share_max * strip
            body.append(f'<rect x="{_f(fr.x(lo) + i * bw)}" y="{_f(base - h)}" '
                        f'width="{_f(max(bw - 1, 0.5))}" height="{_f(h)}" fill="{m.color}" opacity="0.55">'
                        f'<title>{escape(m.name)}: '
                        f'{fmt(w / total * 100, 1)}% of rows in [{fmt(lo, 2)}, {fmt(hi, 2)})</title></rect>')
        pts = []
        for j, x in enumerate(c["mean_score"]):
            y, lo, hi = c["observed"][j], c["observed_low"][j], c["observed_high"][j]
            if not _finite(x, y):
                continue
            px = fr.x(x) + (i - (k - 1) / 2) * 2.0  # nudge overlapping whiskers apart
            if _finite(lo, hi):
                body.append(f'<line x1="{_f(px)}" y1="{_f(fr.y(lo))}" x2="{_f(px)}" y2="{_f(fr.y(hi))}" '
                            f'stroke="{m.color}" opacity="0.7"/>')
            pts.append((px, fr.y(y)))
            tip = (f"{escape(m.name)}: scores in [{fmt(c['bin_low'][j], 2)}, {fmt(c['bin_high'][j], 2)}): "
                   f"mean score {fmt(x)}, observed {fmt(y)} [{fmt(lo)}, {fmt(hi)}], "
                   f"rows {fmt(c['weight'][j], 0)}")
            body.append(f'<circle cx="{_f(px)}" cy="{_f(fr.y(y))}" r="3.2" fill="{m.color}">'
                        f'<title>{tip}</title></circle>')
        if len(pts) > 1:
            d = "".join(f"{'M' if n == 0 else 'L'}{_f(x)},{_f(y)}" for n, (x, y) in enumerate(pts))
            body.append(f'<path d="{d}" fill="none" stroke="{m.color}" stroke-width="1.5" opacity="0.8"/>')
    body.append(f'<line x1="{_f(fr.left)}" y1="{_f(base)}" x2="{_f(fr.left + fr.width)}" y2="{_f(base)}" '
                f'stroke="{AXIS}"/>')
    body.append(f'<text x="{_f(fr.left - 5)}" y="{_f(base - strip / 2 + 3)}" text-anchor="end" '
                f'class="tick">rows</text>')
    return _svg(fr.left + size + 12, base + 8, title, body)


def _count(v: float) -> str:
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def confusion_heatmap(labels: Sequence[str], matrix: Sequence[Sequence[float]], *, title: str,
                      size: int = 300) -> Markup:
    """A confusion matrix (rows = true class, columns = predicted), shaded by the share of
    each true class; cells show the count and that share when there is room."""
    n = max(len(labels), 1)
    cell = max(min(size / n, 64.0), 6.0)
    left, top = 96.0, 34.0
    body = [f'<text x="{_f(left + cell * n / 2)}" y="12" text-anchor="middle" class="axis">predicted</text>',
            f'<text transform="translate(12,{_f(top + cell * n / 2)}) rotate(-90)" text-anchor="middle" '
            f'class="axis">true</text>']
    show_labels = cell >= 14
    for j, lab in enumerate(labels):
        if show_labels:
            body.append(f'<text x="{_f(left + (j + 0.5) * cell)}" y="{_f(top - 6)}" text-anchor="middle" '
                        f'class="tick">{escape(_clip(lab, max(int(cell / 6), 3)))}<title>{escape(lab)}'
                        f'</title></text>')
            body.append(f'<text x="{_f(left - 6)}" y="{_f(top + (j + 0.5) * cell + 3.5)}" '
                        f'text-anchor="end" class="tick">{escape(_clip(lab, 14))}<title>{escape(lab)}'
                        f'</title></text>')
    for i, row in enumerate(matrix):
        total = sum(row) or 1.0
        for j, v in enumerate(row):
            share = v / total
            x, y = left + j * cell, top + i * cell
            tip = (f"true {escape(labels[i])}, predicted {escape(labels[j])}: {_count(v)} "
                   f"({fmt(share * 100, 1)}% of true {escape(labels[i])})")
            body.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(cell)}" height="{_f(cell)}" '
                        f'fill="#0b5cad" fill-opacity="{share * 0.9 + 0.04:.2f}" stroke="#fff">'
                        f'<title>{tip}</title></rect>')
            if cell >= 34:
                ink = "#fff" if share > 0.5 else "#1f2328"
                body.append(f'<text x="{_f(x + cell / 2)}" y="{_f(y + cell / 2 - 1)}" text-anchor="middle" '
                            f'class="cell" fill="{ink}">{_count(v)}</text>'
                            f'<text x="{_f(x + cell / 2)}" y="{_f(y + cell / 2 + 11)}" text-anchor="middle" '
                            f'class="pct" fill="{ink}">{fmt(share * 100, 1)}%</text>')
    return _svg(left + cell * n + 10, top + cell * n + 10, title, body)


@dataclass(frozen=True)
class ForestRow:
    """One row of a forest plot: an estimate with its interval."""

    label: str
    value: float
    low: float
    high: float
    color: str
    tip: str
    group: str = ""
    strong: bool = False


def _forest(rows: Sequence[ForestRow], refs: Sequence[tuple[float, str, str, str]], *, title: str,
            x_label: str, sign: bool) -> Markup:
    label_w, plot_w, text_w = 250.0, 380.0, 176.0
    row_h = 18.0 if len(rows) <= 30 else 16.0
    top = 8.0
    fr_h = row_h * max(len(rows), 1)
    values = [v for r in rows for v in (r.value, r.low, r.high) if _finite(v)]
    values += [v for v, *_ in refs if _finite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05 * (abs(lo) or 1), hi + 0.05 * (abs(hi) or 1)
    pad = (hi - lo) * 0.04
    ticks = nice_ticks(lo - pad, hi + pad)
    fr = _Frame(label_w, top, plot_w, fr_h, x0=ticks[0], x1=ticks[-1] if len(ticks) > 1 else ticks[0] + 1)
    body = []
    for t in ticks:
        x = _f(fr.x(t))
        body.append(f'<line x1="{x}" y1="{_f(top)}" x2="{x}" y2="{_f(top + fr_h)}" stroke="{GRID}"/>')
        body.append(f'<text x="{x}" y="{_f(top + fr_h + 14)}" text-anchor="middle" class="tick">'
                    f'{_tick_label(t, ticks)}</text>')
    body.append(f'<text x="{_f(fr.left + plot_w / 2)}" y="{_f(top + fr_h + 31)}" text-anchor="middle" '
                f'class="axis">{escape(x_label)}</text>')
    previous = None
    for i, r in enumerate(rows):
        y = top + (i + 0.5) * row_h
        if i and r.group != previous:
            body.append(f'<line x1="4" y1="{_f(top + i * row_h)}" x2="{_f(label_w + plot_w + text_w)}" '
                        f'y2="{_f(top + i * row_h)}" stroke="#c9ced4"/>')
        previous = r.group
        if r.label:
            weight = ' font-weight="600"' if r.strong else ""
            body.append(f'<text x="{_f(label_w - 8)}" y="{_f(y + 4)}" text-anchor="end" class="label"'
                        f'{weight}>{escape(_clip(r.label, 34))}<title>{escape(r.label)}</title></text>')
        if _finite(r.low, r.high):
            body.append(f'<line x1="{_f(fr.x(r.low))}" y1="{_f(y)}" x2="{_f(fr.x(r.high))}" y2="{_f(y)}" '
                        f'stroke="{r.color}" stroke-width="2"/>')
        if _finite(r.value):
            shape = (f'<rect x="{_f(fr.x(r.value) - 4)}" y="{_f(y - 4)}" width="8" height="8" '
                     if r.strong else f'<circle cx="{_f(fr.x(r.value))}" cy="{_f(y)}" r="3.6" ')
            body.append(f'{shape}fill="{r.color}"><title>{escape(r.tip)}</title>'
                        f'{"</rect>" if r.strong else "</circle>"}')
        ci = f" [{fmt(r.low, sign=sign)}, {fmt(r.high, sign=sign)}]" if _finite(r.low, r.high) else ""
        body.append(f'<text x="{_f(label_w + plot_w + 8)}" y="{_f(y + 4)}" class="num" fill="{r.color}">'
                    f'{fmt(r.value, sign=sign)}{ci}</text>')
    for v, col, tip, pattern in refs:
        if _finite(v) and fr.x0 <= v <= fr.x1:
            x = _f(fr.x(v))
            extra = f' stroke-dasharray="{pattern}"' if pattern else ""
            body.append(f'<line x1="{x}" y1="{_f(top)}" x2="{x}" y2="{_f(top + fr_h)}" stroke="{col}" '
                        f'stroke-width="1.5"{extra}><title>{escape(tip)}</title></line>')
    body.append(f'<rect x="{_f(fr.left)}" y="{_f(top)}" width="{_f(plot_w)}" height="{_f(fr_h)}" '
                f'fill="none" stroke="{AXIS}"/>')
    return _svg(label_w + plot_w + text_w, top + fr_h + 40, title, body, cls="chart forest")


def forest_plot(rows: Sequence[ForestRow], overall: Sequence[tuple[float, str, str]], *, title: str,
                x_label: str) -> Markup:
    """A metric per slice with interval whiskers; ``overall`` holds one ``(value, colour,
    tooltip)`` per model, drawn as a dashed vertical line."""
    refs = [(v, col, tip, "5 3") for v, col, tip in overall]
    return _forest(rows, refs, title=title, x_label=x_label, sign=False)


def delta_forest_plot(rows: Sequence[ForestRow], bounds: Sequence[tuple[float, str]] = (), *,
                      title: str, x_label: str) -> Markup:
    """Candidate minus baseline per slice with interval whiskers, a solid zero line and a
    dashed line per gate bound ``(value, tooltip)``."""
    refs = [(0.0, AXIS, "no change", ""), *[(v, WORSE, tip, "5 3") for v, tip in bounds]]
    return _forest(rows, refs, title=title, x_label=x_label, sign=True)


# ---------------------------------------------------------------------------- time series


@dataclass(frozen=True)
class TimeSeries:
    """One line of a time-series chart: a value per window in time order (None or NaN leave
    a gap), with an optional shaded interval ``low``..``high`` and, when ``tips`` is given,
    a marker with that tooltip on every window that has a value. ``role`` becomes the
    path's class (``series``, ``band``, ``threshold``, ...), so a reader (or a test) can
    tell the lines apart."""

    name: str
    y: Sequence[float | None]
    color: str
    dash: str = ""
    low: Sequence[float | None] | None = None
    high: Sequence[float | None] | None = None
    tips: Sequence[str] | None = None
    role: str = "series"
    width: float = 2.0


@dataclass(frozen=True)
class Mark:
    """A marked window on a time-series chart: filled for an alert, hollow for a window
    past its threshold without an alert."""

    index: int
    y: float
    color: str
    tip: str
    filled: bool = True


def _tick_indices(n: int, count: int) -> list[int]:
    if n <= 0:
        return []
    if n <= count:
        return list(range(n))
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)})


def _band_paths(fr: _Frame, low: Sequence[float | None], high: Sequence[float | None], col: str,
                name: str) -> list[str]:
    """Shaded interval polygons, one per run of windows where both ends are finite."""
    out, run = [], []
    pairs = list(zip(low, high, strict=False)) + [(None, None)]
    for i, (lo, hi) in enumerate(pairs):
        if _finite(lo, hi):
            run.append((i, lo, hi))
            continue
        if len(run) == 1:
            j, a, b = run[0]
            out.append(f'<line x1="{_f(fr.x(j))}" y1="{_f(fr.y(a))}" x2="{_f(fr.x(j))}" y2="{_f(fr.y(b))}" '
                       f'stroke="{col}" stroke-opacity="0.35" stroke-width="4" class="ci"/>')
        elif run:
            top = [f"{_f(fr.x(j))},{_f(fr.y(b))}" for j, _, b in run]
            bottom = [f"{_f(fr.x(j))},{_f(fr.y(a))}" for j, a, _ in reversed(run)]
            out.append(f'<polygon points="{" ".join(top + bottom)}" fill="{col}" fill-opacity="0.18" '
                       f'stroke="none" class="ci"><title>{escape(name)}: interval</title></polygon>')
        run = []
    return out


def time_chart(labels: Sequence[str], series: Sequence[TimeSeries], *, title: str, y_label: str = "",
               hlines: Sequence[tuple[float, str, str]] = (), shade: Sequence[tuple[int, int, str]] = (),
               marks: Sequence[Mark] = (), width: int = 520, height: int = 170, ticks: int = 5,
               zero: bool = False) -> Markup:
    """A value per window over time: ``labels`` (one per window, in time order) name the
    x axis, a few of them as ticks; ``series`` are lines (with interval bands); ``hlines``
    are dashed horizontal lines ``(y, colour, tooltip)`` such as a fixed threshold;
    ``shade`` are ranges of windows ``(first, last, tooltip)`` drawn on a grey background
    (the reference windows); ``marks`` are circled windows (alerts). ``zero`` keeps 0 on
    the y axis (counts, shares, distances). The size grows with windows and lines only."""
    n = len(labels)
    fr0 = _Frame(54, 10, width, height)
    values = [v for s in series for seq in (s.y, s.low or (), s.high or ()) for v in seq if _finite(v)]
    values += [y for y, *_ in hlines if _finite(y)] + [m.y for m in marks if _finite(m.y)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = (lo - pad if not (zero and lo == 0) else lo), hi + pad
    yticks = nice_ticks(lo, hi, 4)
    if len(yticks) < 2:
        yticks = [lo, hi]
    fr = _Frame(fr0.left, fr0.top, fr0.width, fr0.height, x0=-0.5, x1=max(n, 1) - 0.5,
                y0=yticks[0], y1=yticks[-1])
    body: list[str] = []
    for i0, i1, tip in shade:
        x0, x1 = fr.x(max(i0, 0) - 0.5), fr.x(min(i1, n - 1) + 0.5)
        body.append(f'<rect x="{_f(x0)}" y="{_f(fr.top)}" width="{_f(max(x1 - x0, 0.5))}" '
                    f'height="{_f(fr.height)}" fill="#eaeef2" class="shade"><title>{escape(tip)}</title>'
                    '</rect>')
    for t in yticks:
        y = _f(fr.y(t))
        body.append(f'<line x1="{_f(fr.left)}" y1="{y}" x2="{_f(fr.left + fr.width)}" y2="{y}" '
                    f'stroke="{GRID}"/>')
        body.append(f'<text x="{_f(fr.left - 5)}" y="{_f(fr.y(t) + 3.5)}" text-anchor="end" '
                    f'class="tick">{_tick_label(t, yticks)}</text>')
    idx = _tick_indices(n, ticks)
    for k, i in enumerate(idx):
        x = fr.x(i)
        anchor = "start" if k == 0 and len(idx) > 1 else "end" if k == len(idx) - 1 and len(idx) > 1 \
            else "middle"
        body.append(f'<line x1="{_f(x)}" y1="{_f(fr.top + fr.height)}" x2="{_f(x)}" '
                    f'y2="{_f(fr.top + fr.height + 4)}" stroke="{AXIS}"/>')
        body.append(f'<text x="{_f(x)}" y="{_f(fr.top + fr.height + 15)}" text-anchor="{anchor}" '
                    f'class="tick">{escape(_clip(labels[i], 18))}</text>')
    body.append(f'<rect x="{_f(fr.left)}" y="{_f(fr.top)}" width="{_f(fr.width)}" height="{_f(fr.height)}" '
                f'fill="none" stroke="{AXIS}"/>')
    if y_label:
        cx, cy = fr.left - 40, fr.top + fr.height / 2
        body.append(f'<text transform="translate({_f(cx)},{_f(cy)}) rotate(-90)" text-anchor="middle" '
                    f'class="axis">{escape(_clip(y_label, 28))}</text>')
    for s in series:
        if s.low is not None and s.high is not None:
            body += _band_paths(fr, s.low, s.high, s.color, s.name)
    for y, col, tip in hlines:
        if _finite(y):
            body.append(f'<line x1="{_f(fr.left)}" y1="{_f(fr.y(y))}" x2="{_f(fr.left + fr.width)}" '
                        f'y2="{_f(fr.y(y))}" stroke="{col}" stroke-dasharray="5 3" stroke-width="1.5" '
                        f'class="hline"><title>{escape(tip)}</title></line>')
    xs = list(range(n))
    for s in series:
        d = _path(fr, xs, s.y)
        if not d:
            continue
        extra = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        if "L" not in d:  # a lone window: a dot, since a one-point path draws nothing
            x, y = d[1:].split(",")
            body.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{s.color}" class="{s.role}-dot"/>')
        body.append(f'<path d="{d}" fill="none" stroke="{s.color}" stroke-width="{_f(s.width)}"{extra} '
                    f'class="{s.role}"><title>{escape(s.name)}</title></path>')
        if s.tips is not None:
            for i, (y, tip) in enumerate(zip(s.y, s.tips, strict=False)):
                if _finite(y):
                    body.append(f'<circle cx="{_f(fr.x(i))}" cy="{_f(fr.y(y))}" r="2.2" fill="{s.color}" '
                                f'class="point"><title>{escape(tip)}</title></circle>')
    for m in marks:
        if _finite(m.y) and 0 <= m.index < n:
            fill = m.color if m.filled else "#fff"
            cls = "alert" if m.filled else "flagged"
            body.append(f'<circle cx="{_f(fr.x(m.index))}" cy="{_f(fr.y(m.y))}" r="4" fill="{fill}" '
                        f'stroke="{m.color}" stroke-width="1.5" class="{cls}"><title>{escape(m.tip)}'
                        f'</title></circle>')
    return _svg(fr.left + width + 14, fr.top + height + 22, title, body, cls="chart timeseries")
