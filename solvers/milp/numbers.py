"""Strict number parsing shared by the MPS and LP readers."""

from __future__ import annotations

import math
import re

#: The infinity threshold: a bound or right-hand side of this magnitude or more is infinite (HiGHS'
#: convention), in every reader, back-end and the check alike. On the impossible side (a lower bound of
#: +inf, an upper bound of −inf) no finite value satisfies it, so such a model is infeasible.
INFINITE_BOUND = 1e20

_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?|inf|infinity)", re.IGNORECASE)


def parse_number(token: str) -> float | None:
    """The value of a numeric token (``1``, ``-2.5e3``, ``1D5``, ``inf``), or None if it is not one.

    Rejects NaN, hex, underscores and other forms Python's ``float`` would accept.
    """
    if not _NUMBER.fullmatch(token):
        return None
    value = float(token.replace("d", "e").replace("D", "e"))
    return value if not math.isnan(value) else None


def text_lines(text: str) -> list[str]:
    """The lines of a file, split only at CR, LF and CRLF (``str.splitlines`` also splits at form feeds and
    other separators, which would shift the line numbers quoted in errors)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":  # the final line break ends the last line; it starts no new one
        lines.pop()
    return lines


def as_bound(value: float) -> float:
    """Map magnitudes ≥ 1e20 to ±inf (the usual convention for infinite bounds)."""
    if abs(value) >= INFINITE_BOUND:
        return math.copysign(math.inf, value)
    return value
