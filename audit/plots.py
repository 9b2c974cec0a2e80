"""Server-rendered SVG plots for the review pages (pure Python, no Django, no JS).

Why SVG strings and not a plotting library: the pages must render the same picture for
every auditor without scripts or a headless matplotlib, and the output is small, testable
text. Every label is XML-escaped; numbers are formatted here, never by the browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape as _html_escape

POSITIVE = "#c0392b"  # pushes the output up
NEGATIVE = "#2471a3"  # pushes it down
NEUTRAL = "#7f8c8d"
FONT = "font-family='Helvetica, Arial, sans-serif' font-size='13'"


_XML_INVALID = {c: None for c in range(32) if c not in (9, 10, 13)} | {0xFFFE: None, 0xFFFF: None}


def escape(text: str) -> str:
    """XML-escape and drop the control characters XML 1.0 cannot hold at all."""
    return _html_escape(str(text).translate(_XML_INVALID), quote=True)


def _fmt(value: float) -> str:
    return f"{value:+.3f}" if abs(value) < 100 else f"{value:+.1f}"


def _svg(width: int, height: int, title: str, body: list[str], *, plot_id: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' id='{escape(plot_id)}' role='img' "
        f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' {FONT}>"
        f"<title>{escape(title)}</title>"
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='#ffffff'/>"
        + "".join(body)
        + "</svg>"
    )


def shap_waterfall_svg(
    *,
    base_value: float,
    values: Mapping[str, float],
    output: float,
    labels: Mapping[str, str] | None = None,
    title: str = "SHAP waterfall",
    top: int = 10,
    width: int = 900,
    plot_id: str = "shap-waterfall",
) -> str:
    """A waterfall from the base value to the output, one bar per top feature.

    The `top` features by |value| get their own bar (largest first); the rest are summed into
    one "other features" bar so the bars still add up from base to output exactly.

    Args:
        base_value: the explainer's expected output over the background.
        values: SHAP value per feature name.
        output: the model output explained (base + sum(values)).
        labels: feature name -> text shown (e.g. "eGFR 38 mL/min/1.73m2"); default the name.
    """
    labels = labels or {}
    ranked = sorted(values.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    shown = [(labels.get(k, k), float(v)) for k, v in ranked[:top]]
    rest = sum(float(v) for _, v in ranked[top:])
    if len(ranked) > top:
        shown.append((f"{len(ranked) - top} other features", rest))
    # label_w leaves a 70 px gutter after the labels for the value text of negative bars.
    row_h, top_pad, label_w, right_pad = 26, 44, 400, 90
    height = top_pad + row_h * (len(shown) + 1) + 40
    # Running totals decide the x range: every partial sum must fit.
    points = [base_value]
    for _, v in shown:
        points.append(points[-1] + v)
    points.append(output)
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    plot_w = width - label_w - right_pad

    def x(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    text_x = label_w - 78  # labels end here, before the gutter
    body = [
        f"<text x='10' y='22' font-size='15' font-weight='bold'>{escape(title)}</text>",
        f"<line x1='{x(base_value):.1f}' y1='{top_pad - 6}' x2='{x(base_value):.1f}' "
        f"y2='{height - 30}' stroke='{NEUTRAL}' stroke-dasharray='4 3'/>",
        f"<text x='{x(base_value):.1f}' y='{height - 12}' text-anchor='middle' "
        f"fill='{NEUTRAL}'>base {base_value:.3f}</text>",
    ]
    running = base_value
    for i, (label, v) in enumerate(shown):
        y = top_pad + i * row_h
        x0, x1 = sorted((x(running), x(running + v)))
        color = POSITIVE if v >= 0 else NEGATIVE
        body.append(
            f"<text x='{text_x}' y='{y + 17}' text-anchor='end'>{escape(label[:48])}</text>"
        )
        body.append(
            f"<rect class='bar' x='{x0:.1f}' y='{y + 4}' width='{max(x1 - x0, 1.5):.1f}' "
            f"height='{row_h - 8}' fill='{color}'><title>{escape(label)}: {_fmt(v)}</title></rect>"
        )
        anchor_x = x1 + 4 if v >= 0 else x0 - 4
        anchor = "start" if v >= 0 else "end"
        body.append(
            f"<text x='{anchor_x:.1f}' y='{y + 17}' text-anchor='{anchor}' fill='{color}'>"
            f"{_fmt(v)}</text>"
        )
        running += v
    y = top_pad + len(shown) * row_h
    body.append(
        f"<line x1='{x(output):.1f}' y1='{top_pad - 6}' x2='{x(output):.1f}' y2='{y + row_h}' "
        f"stroke='#000000' stroke-width='1.5'/>"
    )
    body.append(
        f"<text x='{text_x}' y='{y + 17}' text-anchor='end' font-weight='bold'>"
        f"output {output:.3f}</text>"
    )
    return _svg(width, height, title, body, plot_id=plot_id)


def rate_bars_svg(
    *,
    rows: Sequence[tuple[str, float | None, int]],
    title: str,
    width: int = 900,
    plot_id: str = "override-rate",
) -> str:
    """Horizontal bars of a rate in [0, 1] per group: (label, rate or None, n answered)."""
    row_h, top_pad, label_w = 26, 44, 260
    plot_w = width - label_w - 120
    height = top_pad + row_h * max(len(rows), 1) + 36
    body = [f"<text x='10' y='22' font-size='15' font-weight='bold'>{escape(title)}</text>"]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tx = label_w + tick * plot_w
        body.append(
            f"<line x1='{tx:.1f}' y1='{top_pad - 4}' x2='{tx:.1f}' y2='{height - 28}' "
            f"stroke='#dddddd'/><text x='{tx:.1f}' y='{height - 12}' text-anchor='middle' "
            f"fill='{NEUTRAL}'>{tick:.0%}</text>"
        )
    if not rows:
        body.append(f"<text x='{label_w}' y='{top_pad + 17}' fill='{NEUTRAL}'>no feedback</text>")
    for i, (label, rate, n) in enumerate(rows):
        y = top_pad + i * row_h
        body.append(
            f"<text x='{label_w - 8}' y='{y + 17}' text-anchor='end'>{escape(label[:36])}</text>"
        )
        if rate is None:
            body.append(f"<text x='{label_w + 4}' y='{y + 17}' fill='{NEUTRAL}'>no feedback</text>")
            continue
        w = max(rate * plot_w, 1.5)
        body.append(
            f"<rect class='bar' x='{label_w}' y='{y + 4}' width='{w:.1f}' height='{row_h - 8}' "
            f"fill='{POSITIVE}'><title>{escape(label)}: {rate:.1%} of {n}</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{y + 17}'>{rate:.0%} (n={n})</text>"
        )
    return _svg(width, height, title, body, plot_id=plot_id)


def rate_trend_svg(
    *,
    points: Sequence[tuple[str, float | None, int]],
    title: str,
    width: int = 900,
    height: int = 260,
    plot_id: str = "override-trend",
) -> str:
    """A line of a rate in [0, 1] over ordered periods: (period label, rate or None, n)."""
    left, right, top_pad, bottom = 60, 30, 40, 50
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    body = [f"<text x='10' y='22' font-size='15' font-weight='bold'>{escape(title)}</text>"]
    for tick in (0.0, 0.5, 1.0):
        ty = top_pad + (1 - tick) * plot_h
        body.append(
            f"<line x1='{left}' y1='{ty:.1f}' x2='{width - right}' y2='{ty:.1f}' "
            f"stroke='#dddddd'/><text x='{left - 6}' y='{ty + 4:.1f}' text-anchor='end' "
            f"fill='{NEUTRAL}'>{tick:.0%}</text>"
        )
    known = [(i, label, rate, n) for i, (label, rate, n) in enumerate(points) if rate is not None]
    count = len(points)

    def px(i: int) -> float:
        return left + (plot_w / 2 if count == 1 else i * plot_w / (count - 1))

    if not known:
        body.append(f"<text x='{left + 10}' y='{top_pad + 20}' fill='{NEUTRAL}'>no feedback</text>")
    else:
        path = " ".join(
            f"{'M' if j == 0 else 'L'}{px(i):.1f},{top_pad + (1 - r) * plot_h:.1f}"
            for j, (i, _, r, _) in enumerate(known)
        )
        body.append(f"<path d='{path}' fill='none' stroke='{POSITIVE}' stroke-width='2'/>")
        for i, label, rate, n in known:
            body.append(
                f"<circle cx='{px(i):.1f}' cy='{top_pad + (1 - rate) * plot_h:.1f}' r='4' "
                f"fill='{POSITIVE}'><title>{escape(label)}: {rate:.1%} of {n}</title></circle>"
            )
    step = max(1, count // 8)
    for i, (label, _, _) in enumerate(points):
        if i % step == 0 or i == count - 1:
            body.append(
                f"<text x='{px(i):.1f}' y='{height - bottom + 18}' text-anchor='middle' "
                f"fill='{NEUTRAL}'>{escape(label)}</text>"
            )
    return _svg(width, height, title, body, plot_id=plot_id)
