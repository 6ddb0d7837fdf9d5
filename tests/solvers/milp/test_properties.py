"""Property tests: parsers and the checker never raise anything but InvalidInstance, whatever they get."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance
from solvers.milp import KIND

VALID_MPS = """NAME          TINY
ROWS
 N  COST
 L  LIM1
 G  LIM2
 E  MYEQN
COLUMNS
    MARKER                 'MARKER'                 'INTORG'
    X         COST         1.0   LIM1         1.0
    X         LIM2         1.0
    MARKER                 'MARKER'                 'INTEND'
    Y         COST         2.0   LIM1         1.0
    Y         MYEQN       -1.0
    Z         COST        -1.0   MYEQN        1.0
RHS
    RHS       LIM1         4.0   LIM2         1.0
    RHS       MYEQN        7.0
RANGES
    RNG       LIM1         2.5
BOUNDS
 UP BND       X            4.0
 LO BND       Y           -1.0
 UP BND       Y            1.0
 SC BND       Z            9.0
ENDATA
"""

VALID_LP = """\\ tiny
Maximize
 obj: 3 x + 2 y - z + 4
Subject To
 c1: x + y <= 4
 c2: -2 <= x - z <= 8
 c3: 2 x + 3 y >= 1
Bounds
 x <= 10
 -1 <= z <= inf
 y free
General
 x
Binary
 b
End
"""

MPS_TOKENS = [
    *[
        "NAME",
        "ROWS",
        "COLUMNS",
        "RHS",
        "RANGES",
        "BOUNDS",
        "ENDATA",
        "OBJSENSE",
        "MAX",
        "COST",
        "LIM1",
        "X",
        "Y",
        "1",
        "-2.5",
        "1e30",
        "nan",
        "inf",
        "*",
    ],
    *[
        " N",
        " L",
        " E",
        " G",
        " UP",
        " LO",
        " FX",
        " FR",
        " MI",
        " PL",
        " BV",
        " LI",
        " UI",
        " SC",
        "'MARKER'",
        "'INTORG'",
        "'INTEND'",
        "  ",
        "\t",
        "\n",
    ],
]
LP_TOKENS = [
    *[
        "minimize",
        "maximize",
        "bounds",
        "general",
        "binary",
        "semi-continuous",
        "end",
        "x",
        "y",
        "c1:",
        "obj:",
        "+",
        "-",
        "<=",
        ">=",
        "=",
        "2",
        "3.5e2",
        "inf",
        "free",
        "[",
    ],
    *["subject to", "\\", "\n", " "],
]


def _parses_or_refuses(raw: Any) -> None:
    try:
        model = KIND.parse(raw)
    except InvalidInstance as exc:
        assert exc.errors and all("loc" in e and "msg" in e for e in exc.errors)
        return
    KIND.summary(model)


def _mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 20)) :]
        elif action == "insert":
            text = text[:position] + data.draw(st.text(max_size=8)) + text[position:]
        else:
            text = text[:position] + text[position : position + 40] + text[position:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_mps_and_lp_files_parse_or_are_refused(data: st.DataObject) -> None:
    fmt, text = data.draw(st.sampled_from([("mps", VALID_MPS), ("lp", VALID_LP)]))
    mps_format = data.draw(st.sampled_from(["auto", "free", "fixed"]))
    _parses_or_refuses({"format": fmt, "model": _mutate(text, data), "mps_format": mps_format})


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["mps", "lp"]),
    st.lists(st.sampled_from(MPS_TOKENS + LP_TOKENS), max_size=60),
)
def test_token_soup_parses_or_is_refused(fmt: str, tokens: list[str]) -> None:
    _parses_or_refuses({"format": fmt, "model": " ".join(tokens)})


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_is_refused(text: str) -> None:
    _parses_or_refuses({"format": "mps", "model": text})
    _parses_or_refuses({"format": "lp", "model": text})
    _parses_or_refuses({"format": "mps", "model": text, "encoding": "gzip+base64"})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {"format": st.just("json")},
        optional={
            "sense": st.sampled_from(["minimize", "maximize", "up", 3]),
            "variables": st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(["x", "y", "z", ""])},
                    optional={
                        "type": st.sampled_from(["integer", "binary", "semicontinuous", "real"]),
                        "lb": JSON_VALUES,
                        "ub": JSON_VALUES,
                        "obj": JSON_VALUES,
                    },
                ),
                max_size=4,
            ),
            "constraints": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.sampled_from(["c", "d"]),
                        "terms": st.dictionaries(st.sampled_from(["x", "y", "w"]), JSON_VALUES, max_size=3),
                    },
                    optional={"lb": JSON_VALUES, "ub": JSON_VALUES},
                ),
                max_size=3,
            ),
        },
    )
)
def test_json_shaped_instances_parse_or_are_refused(raw: dict[str, Any]) -> None:
    _parses_or_refuses(raw)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"values": st.dictionaries(st.sampled_from(["x", "y", "z", "q"]), JSON_VALUES)}))
def test_check_never_raises_on_malformed_solutions(solution: Any) -> None:
    model = KIND.parse(KIND.example)
    verification = KIND.check(model, solution)
    assert isinstance(verification.feasible, bool)
    if not verification.feasible:
        assert verification.message
