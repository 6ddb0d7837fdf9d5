"""Instance and solution models of the two-stage robust knapsack; the A&D text form is read by ``ad_format``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from solvers.base import JSON, InvalidInstance, errors_from_validation

#: Most items an instance may have.
MAX_ITEMS = 500
#: Largest capacity and weight; with integral data the second-stage dynamic program keeps n × (capacity + 1)
#: choices.
MAX_CAPACITY = 1_000_000
#: Largest n × (capacity + 1), the size of the dynamic program's table (bytes), for integral data.
MAX_DP_CELLS = 50_000_000
#: Largest absolute value of a profit, degradation or penalty.
MAX_MAGNITUDE = 1e9
#: Most characters of an ``ad`` text.
MAX_TEXT_CHARS = 2_000_000

NonNegativeFloat = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE, allow_inf_nan=False)]
Weight = Annotated[
    float,
    Field(ge=0, le=MAX_CAPACITY, allow_inf_nan=False, description="Weight (real; integral data are solved fastest)."),
]


class ItemModel(BaseModel):
    """One item: nominal profit p̄, maximum degradation p̂, weight c, repair weight t, outsourcing penalty f."""

    model_config = ConfigDict(extra="forbid")

    profit: NonNegativeFloat = Field(description="Nominal profit p̄ of producing the item.")
    degradation: NonNegativeFloat = Field(description="Maximum profit degradation p̂ (when ξ = 1, not repaired).")
    weight: Weight = Field(description="Capacity c used to produce the item.")
    repair_weight: Weight = Field(description="Extra capacity t used to repair the item.")
    outsource_penalty: NonNegativeFloat = Field(description="Penalty f of a selected item that is not produced.")


class JsonInstanceModel(BaseModel):
    """The ``json`` format of an instance."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["json"] = "json"
    capacity: Annotated[
        float, Field(ge=0, le=MAX_CAPACITY, allow_inf_nan=False, description="Knapsack capacity C (real).")
    ]
    budget: Annotated[float, Field(ge=0, le=MAX_ITEMS, allow_inf_nan=False, description="Uncertainty budget Γ.")]
    items: Annotated[list[ItemModel], Field(min_length=1, max_length=MAX_ITEMS)]


class AdInstanceModel(BaseModel):
    """The ``ad`` format: the text of an Arslan & Detienne instance file."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["ad"]
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS, description="Line 1 `n C Γ`, then `p̄ p̂ t c f` per item.")]


RawInstance = Annotated[JsonInstanceModel | AdInstanceModel, Field(discriminator="format")]
_raw_adapter: TypeAdapter[JsonInstanceModel | AdInstanceModel] = TypeAdapter(RawInstance)


class WorstCaseModel(BaseModel):
    """The worst-case scenario of the selected items and the best reaction to it."""

    model_config = ConfigDict(extra="forbid")

    xi: list[float] = Field(description="Degradation ξ ∈ [0, 1]^n with Σξ ≤ Γ.")
    produce: list[Literal[0, 1]] = Field(description="y: items produced in that scenario.")
    repair: list[Literal[0, 1]] = Field(description="r: produced items that are repaired.")


class SolutionModel(BaseModel):
    """A solution: the first-stage selection and its certified worst case."""

    model_config = ConfigDict(extra="forbid")

    selected: list[Literal[0, 1]] = Field(description="x: items selected in the first stage.")
    worst_case: WorstCaseModel | None = None


@dataclass(frozen=True)
class Instance:
    """A parsed, validated instance (plain tuples; evaluation turns them into arrays).

    Capacity and weights are ``int`` where the number is integral, ``float`` otherwise.
    """

    capacity: float
    budget: float
    profit: tuple[float, ...]
    degradation: tuple[float, ...]
    weight: tuple[float, ...]
    repair_weight: tuple[float, ...]
    outsource_penalty: tuple[float, ...]

    @property
    def n(self) -> int:
        """Number of items."""
        return len(self.profit)

    @property
    def integral(self) -> bool:
        """True when the capacity and every weight are integers (then the dynamic program runs over the capacity)."""
        return all(isinstance(v, int) for v in (self.capacity, *self.weight, *self.repair_weight))

    def as_json(self) -> JSON:
        """The instance in the ``json`` format."""
        return {
            "format": "json",
            "capacity": self.capacity,
            "budget": self.budget,
            "items": [
                {
                    "profit": self.profit[i],
                    "degradation": self.degradation[i],
                    "weight": self.weight[i],
                    "repair_weight": self.repair_weight[i],
                    "outsource_penalty": self.outsource_penalty[i],
                }
                for i in range(self.n)
            ],
        }


def _exact(value: float) -> float:
    """An integral number as ``int`` (weights and capacity: the dynamic program's fast path), others as ``float``."""
    return int(value) if float(value).is_integer() else float(value)


def parse(raw: Any) -> Instance:
    """Validate a raw instance (either format); raise InvalidInstance listing every problem."""
    try:
        model = _raw_adapter.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInstance(errors_from_validation(exc)) from None
    except (TypeError, ValueError, RecursionError) as exc:  # defensive: pydantic wraps nearly everything
        raise InvalidInstance([{"loc": [], "msg": f"not a valid instance: {exc}"}]) from None
    if isinstance(model, AdInstanceModel):
        from solvers.knapsack_2ro.ad_format import read_ad_text  # the reader builds on this module

        as_json = read_ad_text(model.text)
        try:
            model = JsonInstanceModel.model_validate(as_json)
        except ValidationError as exc:
            raise InvalidInstance(errors_from_validation(exc, prefix=["text"])) from None
    n = len(model.items)
    errors: list[JSON] = []
    if model.budget > n:
        errors.append({"loc": ["budget"], "msg": f"budget Γ = {model.budget} exceeds the number of items {n}"})
    integral = all(float(v).is_integer() for v in (model.capacity, *(i.weight for i in model.items)))
    integral = integral and all(float(item.repair_weight).is_integer() for item in model.items)
    if integral and n * (model.capacity + 1) > MAX_DP_CELLS:
        errors.append(
            {
                "loc": ["capacity"],
                "msg": f"n × (capacity + 1) = {n * (int(model.capacity) + 1)} exceeds "
                f"MAX_DP_CELLS = {MAX_DP_CELLS} (integral weights); scale the weights and capacity down",
            }
        )
    if errors:
        raise InvalidInstance(errors)
    return Instance(
        capacity=_exact(model.capacity),
        budget=model.budget,
        profit=tuple(item.profit for item in model.items),
        degradation=tuple(item.degradation for item in model.items),
        weight=tuple(_exact(item.weight) for item in model.items),
        repair_weight=tuple(_exact(item.repair_weight) for item in model.items),
        outsource_penalty=tuple(item.outsource_penalty for item in model.items),
    )


def instance_json_schema() -> JSON:
    """JSON schema of both formats, with every ``$ref`` resolvable from the root."""
    return {"title": "knapsack_2ro instance", **_raw_adapter.json_schema()}


def summary(instance: Instance) -> JSON:
    """Sizes of an instance."""
    return {
        "items": instance.n,
        "capacity": instance.capacity,
        "budget": instance.budget,
        "first_stage_variables": instance.n,
        "second_stage_variables": 2 * instance.n,
    }
