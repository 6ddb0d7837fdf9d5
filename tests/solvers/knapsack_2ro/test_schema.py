"""Parsing both formats, field-level errors, size caps, and garbage that must never crash the parser."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance
from solvers.knapsack_2ro import EXAMPLE, KIND
from solvers.knapsack_2ro.generate import Correlation, generate, to_ad_text
from solvers.knapsack_2ro.schema import MAX_DP_CELLS, MAX_ITEMS, parse, summary
from tests.solvers.knapsack_2ro.helpers import DATA_DIR


def errors_of(raw: Any) -> list[dict[str, Any]]:
    """The field errors parse() reports for raw."""
    with pytest.raises(InvalidInstance) as caught:
        parse(raw)
    return caught.value.errors


def test_example_parses() -> None:
    instance = parse(EXAMPLE)
    assert instance.n == 3 and instance.capacity == 10 and instance.budget == 1.0
    assert summary(instance)["items"] == 3


def test_ad_file_is_read_column_by_column() -> None:
    text = (DATA_DIR / "RKP_SC_n20_R1000_H100_h80_dev0.1_d0.5").read_text()
    instance = parse({"format": "ad", "text": text})
    header = text.split("\n")[0].split()
    first = text.split("\n")[1].split()
    assert instance.n == int(header[0]) == 20
    assert instance.capacity == int(header[1]) and instance.budget == float(header[2])
    # columns are p̄ p̂ t c f
    assert instance.profit[0] == float(first[0]) and instance.degradation[0] == float(first[1])
    assert instance.repair_weight[0] == int(first[2]) and instance.weight[0] == int(first[3])
    assert instance.outsource_penalty[0] == float(first[4])


@pytest.mark.parametrize("seed", range(3))
def test_json_and_ad_formats_describe_the_same_instance(seed: int, correlation: Correlation) -> None:
    raw = generate(seed, n=12, correlation=correlation)
    assert parse(raw) == parse({"format": "ad", "text": to_ad_text(raw)})
    assert parse(parse(raw).as_json()) == parse(raw)


def test_every_field_problem_is_listed_with_its_location() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["items"][0]["weight"] = -1
    raw["items"][1]["profit"] = "lots"
    raw["items"][2]["colour"] = "red"
    del raw["capacity"]
    locations = {tuple(error["loc"]) for error in errors_of(raw)}
    assert {("json", "items", 0, "weight"), ("json", "items", 1, "profit"), ("json", "capacity")} <= locations
    assert ("json", "items", 2, "colour") in locations


def test_real_weights_and_capacity_are_accepted_in_both_formats() -> None:
    raw = generate(4, n=10, correlation="WC", integral=False)
    instance = parse(raw)
    assert not instance.integral
    assert instance.capacity == raw["capacity"] and instance.weight[3] == raw["items"][3]["weight"]
    assert parse({"format": "ad", "text": to_ad_text(raw)}) == instance
    assert parse(EXAMPLE).integral  # integral data keep the dynamic program over the capacity


def test_a_negative_or_infinite_weight_is_refused_where_it_is() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["items"][0]["repair_weight"] = -2.5
    raw["capacity"] = float("inf")
    locations = {tuple(error["loc"])[-1] for error in errors_of(raw)}
    assert {"repair_weight", "capacity"} <= locations


def test_budget_above_the_number_of_items_is_refused() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["budget"] = 4
    assert errors_of(raw)[0]["loc"] == ["budget"]


def test_size_caps_name_the_limit() -> None:
    raw = generate(0, n=MAX_ITEMS + 1)
    messages = " ".join(error["msg"] for error in errors_of(raw))
    assert str(MAX_ITEMS) in messages
    big = generate(0, n=100)
    big["capacity"] = MAX_DP_CELLS // 100
    assert "MAX_DP_CELLS" in errors_of(big)[0]["msg"]


def test_ad_text_problems_point_at_lines() -> None:
    text = "3 10 1\n 8 4 2 5 10\n 6 x 1 4 7\n 5 2 1.5 3\n"
    errors = errors_of({"format": "ad", "text": text})
    locations = [error["loc"] for error in errors]
    assert ["text", "line 3", "p̂"] in locations
    assert ["text", "line 4"] in locations
    assert errors_of({"format": "ad", "text": "2 10 1\n 8 4 2 5 10\n"})[0]["loc"] == ["text"]
    assert errors_of({"format": "ad", "text": ""})[0]["loc"] == ["text"]


def test_unknown_format_is_refused() -> None:
    assert errors_of({"format": "csv", "text": "1"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789 .-e\nnaif", max_size=120))
def test_garbage_ad_text_raises_only_invalid_instance(text: str) -> None:
    try:
        instance = KIND.parse({"format": "ad", "text": text})
    except InvalidInstance:
        return
    assert instance.n >= 1


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["profit", "degradation", "weight", "repair_weight", "outsource_penalty", "x"]), json_values
    )
)
def test_garbage_items_raise_only_invalid_instance(item: dict[str, Any]) -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["items"][1] = item
    with contextlib.suppress(InvalidInstance):
        KIND.parse(raw)
