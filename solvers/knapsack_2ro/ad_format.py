"""The Arslan & Detienne text form of a two-stage robust knapsack: ``n C Γ``, then ``p̄ p̂ t c f`` per item.

:func:`read_ad_text` turns it into the ``json`` form's dict, every problem reported with its line.
"""

from __future__ import annotations

import math

from solvers.base import JSON, InvalidInstance
from solvers.knapsack_2ro.schema import MAX_ITEMS


def _integral(token: str, loc: list[str | int], errors: list[JSON], what: str) -> int | None:
    """Parse an integral number (``546`` or ``546.0``) or record an error."""
    value = _number(token, loc, errors, what)
    if value is None:
        return None
    if value != math.floor(value):
        errors.append({"loc": loc, "msg": f"{what} must be an integer"})
        return None
    return int(value)


def _number(token: str, loc: list[str | int], errors: list[JSON], what: str) -> float | None:
    """Parse a finite number or record an error."""
    try:
        value = float(token)
    except ValueError:
        errors.append({"loc": loc, "msg": f"{what} {token[:40]!r} is not a number"})
        return None
    if not math.isfinite(value):
        errors.append({"loc": loc, "msg": f"{what} must be finite"})
        return None
    return value


def read_ad_text(text: str) -> JSON:
    """Turn an Arslan & Detienne file (``n C Γ``, then ``p̄ p̂ t c f`` per item) into a ``json`` dict."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidInstance([{"loc": ["text"], "msg": "empty text; line 1 must be `n C Γ`"}])
    errors: list[JSON] = []
    header = lines[0]
    if len(header) != 3:
        raise InvalidInstance([{"loc": ["text", "line 1"], "msg": f"line 1 must be `n C Γ`, got {len(header)} fields"}])
    n = _integral(header[0], ["text", "line 1", "n"], errors, "n")
    capacity = _number(header[1], ["text", "line 1", "C"], errors, "capacity C")
    budget = _number(header[2], ["text", "line 1", "Γ"], errors, "budget Γ")
    if n is not None and not 1 <= n <= MAX_ITEMS:
        errors.append({"loc": ["text", "line 1", "n"], "msg": f"n must be between 1 and MAX_ITEMS = {MAX_ITEMS}"})
        n = None
    if n is not None and len(lines) - 1 != n:
        errors.append({"loc": ["text"], "msg": f"line 1 announces {n} items but {len(lines) - 1} item lines follow"})
    items: list[JSON] = []
    for number, fields in enumerate(lines[1 : MAX_ITEMS + 2], start=2):
        loc: list[str | int] = ["text", f"line {number}"]
        if len(fields) != 5:
            errors.append({"loc": loc, "msg": f"an item line must be `p̄ p̂ t c f`, got {len(fields)} fields"})
            continue
        profit = _number(fields[0], [*loc, "p̄"], errors, "profit p̄")
        degradation = _number(fields[1], [*loc, "p̂"], errors, "degradation p̂")
        repair_weight = _number(fields[2], [*loc, "t"], errors, "repair weight t")
        weight = _number(fields[3], [*loc, "c"], errors, "weight c")
        penalty = _number(fields[4], [*loc, "f"], errors, "outsourcing penalty f")
        items.append(
            {
                "profit": profit,
                "degradation": degradation,
                "weight": weight,
                "repair_weight": repair_weight,
                "outsource_penalty": penalty,
            }
        )
    if errors:
        raise InvalidInstance(errors)
    return {"format": "json", "capacity": capacity, "budget": budget, "items": items}
