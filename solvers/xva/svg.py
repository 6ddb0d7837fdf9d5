"""Exposure profile plot (EPE, ENE, PFE over time) as a hand-written SVG."""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

from solvers.xva.schema import Instance, is_finite_number

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 70
SERIES = (
    ("pfe", "PFE 97.5%", "#d62728", "6 4"),
    ("epe", "EPE", "#1f77b4", ""),
    ("ene", "ENE (drawn below 0)", "#2ca02c", ""),
)


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values from at most ``low`` to at least ``high`` (steps of 1, 2 or 5 times a power of ten)."""
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _series(exposure: dict[str, Any], name: str, length: int) -> list[float] | None:
    values = exposure.get(name)
    if not isinstance(values, list) or len(values) != length or not all(is_finite_number(v) for v in values):
        return None
    return [float(v) for v in values]


def render_svg(inst: Instance, result: dict[str, Any]) -> str:
    """The exposure profiles of ``result['solution']`` (an API result object) as an SVG document."""
    solution = result.get("solution") if isinstance(result, dict) else None
    exposure = solution.get("exposure") if isinstance(solution, dict) else None
    times = None
    if isinstance(exposure, dict) and isinstance(exposure.get("times"), list):
        times = _series(exposure, "times", len(exposure["times"]))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>'
    )
    if not isinstance(exposure, dict) or not times or len(times) < 2:
        return head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no exposure profile</text></svg>'
    curves = {}
    for key, _, _, _ in SERIES:
        values = _series(exposure, key, len(times))
        if values is not None:
            curves[key] = [-v for v in values] if key == "ene" else values
    all_values = [v for values in curves.values() for v in values] or [0.0]
    y_ticks = nice_ticks(min(0.0, *all_values), max(0.0, *all_values))
    x_ticks = nice_ticks(times[0], times[-1])
    x_low, x_high = x_ticks[0], x_ticks[-1]
    y_low, y_high = y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(t: float) -> float:
        return LEFT + (t - x_low) / (x_high - x_low) * plot_w

    def y_of(v: float) -> float:
        return TOP + (y_high - v) / (y_high - y_low) * plot_h

    parts = [head]
    cva = solution.get("cva") if isinstance(solution, dict) else None
    title = f"Exposure profile ({len(inst.trades)} trades)"
    if is_finite_number(cva):
        title += f" — CVA {cva:.6g}"
    parts.append(f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>')
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.2f}" x2="{WIDTH - RIGHT}" y2="{y:.2f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{tick:g}</text>')
    for tick in x_ticks:
        x = x_of(tick)
        parts.append(f'<line x1="{x:.2f}" y1="{TOP + plot_h}" x2="{x:.2f}" y2="{TOP + plot_h + 5}" stroke="black"/>')
        parts.append(f'<text x="{x:.2f}" y="{TOP + plot_h + 18}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{y_of(0.0):.2f}" x2="{WIDTH - RIGHT}" y2="{y_of(0.0):.2f}" stroke="#888"/>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h + 36}" text-anchor="middle">time (years)</text>')
    parts.append(
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">discounted exposure</text>'
    )
    for slot, (key, label, colour, dash) in enumerate(SERIES):
        if key not in curves:
            continue
        points = " ".join(f"{x_of(t):.2f},{y_of(v):.2f}" for t, v in zip(times, curves[key], strict=True))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="{key}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr} points="{points}"/>'
        )
        x, y = LEFT + 40 + 190 * slot, HEIGHT - 10
        parts.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 25}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        parts.append(f'<text x="{x + 30}" y="{y}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
